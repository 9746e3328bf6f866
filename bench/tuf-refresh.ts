// bench/tuf-refresh.ts: a cold TUF client against a large binned repository (TUF spec 5): a fresh
// metadata directory holding only the trusted root and an empty target directory, then refresh
// (5.3-5.6), resolve 100 targets through the hash-bin delegations (5.6.7) and download and
// verify them (5.7). Baseline: tuf-js 5.0.1's Updater on the same repository, the same loopback
// server and the same target list, measured in the same run with runs alternating between the
// clients. Target: cairn at least 2x faster than tuf-js. The repository is made with cairn's own
// publisher library (bench/repo-fixture.ts) and served by cairn's static mirror. Also printed:
// the bytes that pinning every role in snapshot costs on this repository (pinCost).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Updater as TufJsUpdater } from 'tuf-js';
import { Updater, type TargetFile } from '../src/tuf/index.js';
import type { Signer } from '../src/crypto/index.js';
import { canonicalBytes } from '../src/encoding/index.js';
import { roleForTarget, stableJson, Workspace } from '../src/repo/index.js';
import { buildRepo, describeBins, targetContent, type BenchRepo, type BinScheme } from './repo-fixture.js';
import { startMirrorProcess } from './mirror-process.js';
import { median, ms, type BenchResult } from './stats.js';

export interface TufRefreshOptions {
  /** Targets in the repository. */
  targets: number;
  /** Targets the client resolves and downloads. */
  resolve: number;
  /** Measured runs per client (after `warmup` unmeasured ones). */
  runs: number;
  warmup: number;
}

export const TUF_REFRESH_FULL: TufRefreshOptions = { targets: 10_000, resolve: 100, runs: 7, warmup: 1 };
export const TUF_REFRESH_QUICK: TufRefreshOptions = { targets: 500, resolve: 50, runs: 3, warmup: 1 };

interface ClientRun {
  metadataDir: string;
  targetDir: string;
}

interface Variant {
  label: string;
  /** Prepares the trusted root (not timed). */
  prepare(run: ClientRun): Promise<void>;
  /** The timed part: refresh, resolve, download. */
  run(run: ClientRun): Promise<void>;
  times: number[];
  requests: number;
  bytes: number;
}

const BIN_SCHEME: BinScheme = { kind: 'hash-bins', bins: 256 };

export async function benchTufRefresh(work: string, options: TufRefreshOptions = TUF_REFRESH_FULL): Promise<BenchResult> {
  const root = join(work, 'tuf-refresh');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const repo = await buildRepo(join(root, 'repo'), options.targets, BIN_SCHEME);
  const result = await measureColdClients(root, repo, options);
  result.lines.push(...(await pinCost(repo, options)));
  await rm(root, { recursive: true, force: true });
  return result;
}

/**
 * What a snapshot that pins every role by length and sha256 costs (docs/protocol.md section 5
 * "What a block commits to"; the repository default, which a release log needs): the published
 * snapshot and timestamp against the same documents listing roles by version alone (what
 * `cairn repo init --no-meta-hashes` publishes), re-signed with the same keys and written in
 * the same format, and what a cold client downloads in metadata for a refresh alone and for a
 * refresh that resolves the benchmark's targets (the bins they fall into are the same bytes
 * either way).
 */
async function pinCost(repo: BenchRepo, options: TufRefreshOptions): Promise<string[]> {
  const metadata = join(repo.dir, 'public', 'metadata');
  const read = async (name: string): Promise<Buffer> => readFile(join(metadata, name));
  const snapshot = await read('snapshot.json');
  const timestamp = await read('timestamp.json');
  const unpinned = (bytes: Buffer, signer: Signer): Buffer => {
    const doc = JSON.parse(bytes.toString('utf8')) as { signed: { meta: Record<string, { version: number }> } & Record<string, unknown> };
    doc.signed.meta = Object.fromEntries(Object.entries(doc.signed.meta).map(([name, entry]) => [name, { version: entry.version }]));
    return Buffer.from(stableJson({ signatures: [{ keyid: signer.keyid, sig: signer.sign(canonicalBytes(doc.signed)) }], signed: doc.signed }));
  };
  const snapshotBare = unpinned(snapshot, repo.keys.snapshot);
  const timestampBare = unpinned(timestamp, repo.keys.timestamp);
  const signed = (JSON.parse(snapshot.toString('utf8')) as { signed: { version: number; meta: Record<string, { version: number }> } }).signed;
  const targets = await read(`${signed.meta['targets.json']!.version}.targets.json`);
  // The bins the resolved targets fall into (the paths the timed runs resolve).
  const ws = await Workspace.open(repo.dir);
  const bins = new Set<string>();
  for (let i = 0; i < options.resolve; i++) bins.add(await roleForTarget(ws, repo.paths[Math.floor((i * options.targets) / options.resolve)]!));
  let binBytes = 0;
  for (const bin of bins) binBytes += (await read(`${signed.meta[`${bin}.json`]!.version}.${bin}.json`)).length;
  const refreshPinned = timestamp.length + snapshot.length + targets.length;
  const refreshBare = timestampBare.length + snapshotBare.length + targets.length;
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
  const base64Length = (n: number): number => 4 * Math.ceil(n / 3);
  const roles = Object.keys(signed.meta).length;
  return [
    `pinning every role in snapshot (length + sha256, the default; a release log needs it), ${roles} roles:`,
    `  snapshot.json ${kib(snapshot.length)} pinned vs ${kib(snapshotBare.length)} by version alone: ${(snapshot.length / snapshotBare.length).toFixed(2)}x (+${snapshot.length - snapshotBare.length} bytes, ${((snapshot.length - snapshotBare.length) / roles).toFixed(0)} per role)`,
    `  cold client metadata, refresh only (timestamp, snapshot, targets): ${kib(refreshPinned)} vs ${kib(refreshBare)}: ${(refreshPinned / refreshBare).toFixed(2)}x`,
    `  per block, the snapshot each witness receives in the proposal's documents (base64): ${kib(base64Length(snapshot.length))} vs ${kib(base64Length(snapshotBare.length))}`,
    `  cold client metadata, refresh + resolve ${options.resolve} targets (${bins.size} bins): ${kib(refreshPinned + binBytes)} vs ${kib(refreshBare + binBytes)}: ${((refreshPinned + binBytes) / (refreshBare + binBytes)).toFixed(2)}x`,
  ];
}

/** The measurement alone, over an already published repository (`root` is a scratch directory). */
export async function measureColdClients(root: string, repo: Pick<BenchRepo, 'dir' | 'paths' | 'rootBytes' | 'buildMs'>, options: TufRefreshOptions): Promise<BenchResult> {

  // Targets spread evenly over the repository, so they fall into many different bins.
  const chosen = Array.from({ length: options.resolve }, (_, i) => Math.floor((i * options.targets) / options.resolve));
  const chosenPaths = chosen.map((i) => repo.paths[i]!);

  const server = await startMirrorProcess(join(repo.dir, 'public'));
  const metadataBaseUrl = `${server.url}/metadata/`;
  const targetBaseUrl = `${server.url}/targets/`;

  const cairnResolve = async (updater: Updater): Promise<TargetFile[]> => {
    await updater.refresh();
    const infos: TargetFile[] = [];
    for (const path of chosenPaths) {
      const info = await updater.getTargetInfo(path);
      if (!info) throw new Error(`cairn found no target info for ${path}`);
      infos.push(info);
    }
    return infos;
  };
  const cairnUpdater = (r: ClientRun): Updater => new Updater({ metadataDir: r.metadataDir, metadataBaseUrl, targetBaseUrl, targetDir: r.targetDir });
  const cairnPrepare = async (r: ClientRun): Promise<void> => {
    await Updater.initTrustedRoot(r.metadataDir, repo.rootBytes);
    await mkdir(r.targetDir, { recursive: true });
  };

  const variants: Variant[] = [
    {
      label: 'tuf-js 5.0.1 Updater (baseline): getTargetInfo, downloadTarget loops',
      prepare: async (r) => {
        // tuf-js's documented set-up: the trusted root.json in metadataDir, targetDir existing.
        await mkdir(r.metadataDir, { recursive: true });
        await writeFile(join(r.metadataDir, 'root.json'), repo.rootBytes);
        await mkdir(r.targetDir, { recursive: true });
      },
      run: async (r) => {
        const updater = new TufJsUpdater({ metadataDir: r.metadataDir, metadataBaseUrl, targetBaseUrl, targetDir: r.targetDir });
        await updater.refresh();
        const infos = [];
        for (const path of chosenPaths) {
          const info = await updater.getTargetInfo(path);
          if (!info) throw new Error(`tuf-js found no target info for ${path}`);
          infos.push(info);
        }
        for (const info of infos) await updater.downloadTarget(info);
      },
      times: [],
      requests: 0,
      bytes: 0,
    },
    {
      label: 'cairn Updater: getTargetInfo, downloadTarget loops',
      prepare: cairnPrepare,
      run: async (r) => {
        const updater = cairnUpdater(r);
        for (const info of await cairnResolve(updater)) await updater.downloadTarget(info);
      },
      times: [],
      requests: 0,
      bytes: 0,
    },
    {
      label: 'cairn Updater: getTargetInfos, downloadTargets (batch, 4 in flight)',
      prepare: cairnPrepare,
      run: async (r) => {
        const updater = cairnUpdater(r);
        await updater.refresh();
        const infos = await updater.getTargetInfos(chosenPaths, 4);
        await updater.downloadTargets(infos.map((info, i) => {
          if (!info) throw new Error(`cairn found no target info for ${chosenPaths[i]}`);
          return info;
        }), 4);
      },
      times: [],
      requests: 0,
      bytes: 0,
    },
  ];

  let serial = 0;
  const once = async (variant: Variant, measured: boolean): Promise<void> => {
    const dir = join(root, 'clients', String(serial++));
    const r: ClientRun = { metadataDir: join(dir, 'metadata'), targetDir: join(dir, 'targets') };
    await variant.prepare(r);
    await server.reset();
    const t0 = performance.now();
    await variant.run(r);
    const elapsed = performance.now() - t0;
    if (measured) variant.times.push(elapsed);
    const traffic = await server.traffic();
    variant.requests = traffic.requests;
    variant.bytes = traffic.bytes;
    await checkDownloads(r.targetDir, chosen, variant.label);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (let w = 0; w < options.warmup; w++) for (const v of variants) await once(v, false);
    // Alternate the clients, rotating who goes first, so drift on a shared machine hits all alike.
    for (let i = 0; i < options.runs; i++) {
      for (let j = 0; j < variants.length; j++) await once(variants[(i + j) % variants.length]!, true);
    }
  } finally {
    await server.close();
  }

  const [tufjs, sequential, batch] = variants.map((v) => median(v.times)) as [number, number, number];
  const line = (v: Variant, m: number, ratio?: number): string =>
    `${v.label.padEnd(72)} median ${ms(m).padStart(9)}${ratio === undefined ? '         ' : `  ${ratio.toFixed(2)}x`}  (${v.requests} requests, ${(v.bytes / 1024).toFixed(0)} KiB)`;
  return {
    name: `cold TUF client: refresh + resolve and download ${options.resolve} of ${options.targets.toLocaleString('en')} targets`,
    lines: [
      `repository: ${options.targets.toLocaleString('en')} targets of 1-4 KiB in ${describeBins(BIN_SCHEME)}, consistent snapshots, Ed25519; ` +
        `built and published with cairn's repo library in ${(repo.buildMs / 1000).toFixed(1)} s`,
      `served by cairn's static mirror (its own process) on 127.0.0.1; each run: fresh metadata dir with only root.json, empty target dir;`,
      `timed: new Updater, refresh, resolve ${options.resolve} targets, download and verify them; ` +
        `${options.runs} runs per client after ${options.warmup} warmup, alternating; ratio = tuf-js / cairn`,
      line(variants[0]!, tufjs),
      line(variants[1]!, sequential, tufjs / sequential),
      line(variants[2]!, batch, tufjs / batch),
    ],
    targets: [
      {
        target: `cold refresh + ${options.resolve} targets: cairn at least 2x faster than tuf-js`,
        met: tufjs / batch >= 2,
        figure: `${(tufjs / batch).toFixed(2)}x with the batch calls (getTargetInfos + downloadTargets), ${(tufjs / sequential).toFixed(2)}x with sequential loops`,
      },
    ],
  };
}

/** Every chosen target is in targetDir with the content the repository published. */
async function checkDownloads(targetDir: string, chosen: readonly number[], label: string): Promise<void> {
  const names = await readdir(targetDir);
  const files = names.filter((n) => !n.startsWith('.'));
  if (files.length !== chosen.length) throw new Error(`${label}: ${files.length} files in the target dir, expected ${chosen.length}`);
  const i = chosen[chosen.length - 1]!;
  const name = files.find((n) => n.endsWith(encodeURIComponent(`pkg-${i}-1.0.tar`)));
  if (!name || !(await readFile(join(targetDir, name))).equals(targetContent(i))) throw new Error(`${label}: target ${i} has the wrong content`);
}
