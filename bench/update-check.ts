// bench/update-check.ts: what the package manager's update check costs on a large repository
// (docs/packages.md "Update checks at scale"; issue 9): a witnessed repository of 100,000
// packages (each a versions index and one archive target whose custom metadata holds a valid
// manifest, src/package/manifest.ts) in TAP 15 succinct hash bins, a client store with 50 of them
// installed (installPackages, src/store), then a witnessed release that gives 10 of the installed
// packages a new version. Measured at the server, which counts the body bytes of every response
// (JSON gzip-compressed, as `cairn serve` sends it to cairn's client; the uncompressed figure too):
// updatePackages split into (1) refresh: timestamp, snapshot, top-level targets, root, the log's
// head and catch-up path; (2) bins and versions indexes; (3) the 10 new archives, which are the
// update itself and not the check. Also measured: the check when nothing changed, and when a
// release changed 10 packages none of which is installed (what most checks on a busy repository
// see). Repeated for several bin counts, since the snapshot pins every bin by length and sha256
// (it grows with the number of bins) while each bin shrinks. Target: a check with 10 changed
// under 1 MB.
//
// The repository is the in-process RepositorySimulator with a WitnessedRepository over it (real
// Ed25519 signatures, real CoSi over the log), built once per bin count and kept in memory for
// the runs; it is served by a small counting HTTP server on 127.0.0.1 in this process. The archives
// of the 60 packages a client installs are real (packDirectory); every other archive target is a
// few stand-in bytes, since no check reads them (their metadata entries, manifest included, are
// real). Each measured run starts from a copy of the same pre-release store in bench/.work.
//
// `node --import tsx bench/update-check.ts [--quick] [--packages N] [--bits 8,10] [--runs N]` runs it alone.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { JsonObject } from '../src/encoding/index.js';
import {
  CUSTOM_FIELD, packDirectory, packageTargetPath, versionsIndexBytes, versionsTargetPath, type PackageManifest,
} from '../src/package/index.js';
import { addRemote, installPackages, updatePackages, type InstallEvent, type TransactionResult } from '../src/store/index.js';
import { RepositorySimulator } from '../test/fixtures/repository-simulator.js';
import { WitnessedRepository } from '../test/fixtures/witnessed-repository.js';
import { median, ms, type BenchResult } from './stats.js';

export interface UpdateCheckOptions {
  /** Packages in the repository. */
  packages: number;
  /** Packages the client store has installed (spread evenly over the repository). */
  installed: number;
  /** Installed packages the release gives a new version. */
  changed: number;
  /** Succinct bin bit lengths to compare (2^bits bins each). */
  binBits: readonly number[];
  /** Measured runs per bin count; figures are medians. */
  runs: number;
}

// 256 and 16,384 bins are left out of the default at 100,000 packages: their bins (256: 5 MB for
// 20 changed, uncompressed) or snapshot (16,384: 2.8 MB) put them far from the best
// (docs/packages.md "Update checks at scale"); --bits 8,14 runs them.
export const UPDATE_CHECK_FULL: UpdateCheckOptions = { packages: 100_000, installed: 50, changed: 10, binBits: [10, 12], runs: 3 };
export const UPDATE_CHECK_QUICK: UpdateCheckOptions = { packages: 10_000, installed: 50, changed: 10, binBits: [8, 10], runs: 1 };

/** The issue's target for a check with 10 changed packages (refresh, bins, versions indexes). */
const CHECK_TARGET_BYTES = 1_000_000;
/** No single operation of the benchmark may take longer (a hung client fails the benchmark instead of stalling it). */
const OPERATION_TIMEOUT_MS = 900_000;

/** What a request was for, by its path (docs/packages.md "Target paths"; protocol.md section 9). */
type TrafficKind = 'refresh' | 'bins' | 'versions' | 'archives' | 'other';

interface ServedRequest {
  path: string;
  kind: TrafficKind;
  status: number;
  /** Body bytes sent (gzip-compressed for JSON). */
  bytes: number;
  /** The file's own bytes, as a server without compression would send them. */
  identityBytes: number;
  /** performance.now() when the request arrived. */
  at: number;
}

function trafficKind(path: string): TrafficKind {
  if (path.startsWith('log/')) return 'refresh';
  if (/^metadata\/(\d+\.)?(root|timestamp|snapshot|targets)\.json$/.test(path)) return 'refresh';
  if (/^metadata\/\d+\.bin-[0-9a-f]+\.json$/.test(path)) return 'bins';
  if (/^targets\/packages\/[^/]+\/[0-9a-f]{64}\.versions\.json$/.test(path)) return 'versions';
  if (/^targets\/packages\/[^/]+\/[0-9a-f]{64}\.[^/]+\.tar$/.test(path)) return 'archives';
  return 'other';
}

/**
 * Serves a simulator's files on 127.0.0.1 and records every request with the body bytes it sent.
 * JSON goes gzip-compressed to a client that accepts it, as `cairn serve` sends it (compressed
 * once per version: src/mirror/mirror.ts).
 */
class CountingServer {
  readonly requests: ServedRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly compressed = new WeakMap<Uint8Array, Buffer>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly files: Map<string, Uint8Array>) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\//, '');
      const file = this.files.get(path);
      let body = file;
      const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
      if (file !== undefined && path.endsWith('.json') && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        let packed = this.compressed.get(file);
        if (packed === undefined) this.compressed.set(file, (packed = gzipSync(file)));
        body = packed;
        headers['content-encoding'] = 'gzip';
      }
      this.requests.push({ path, kind: trafficKind(path), status: body ? 200 : 404, bytes: body?.byteLength ?? 0, identityBytes: file?.byteLength ?? 0, at: performance.now() });
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { ...headers, 'content-length': body.byteLength });
      res.end(body);
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  reset(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${OPERATION_TIMEOUT_MS / 1000} s`)), OPERATION_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The i-th package's name. */
function packageName(i: number): string {
  return `pkg${i.toString().padStart(6, '0')}`;
}

function manifestOf(name: string, version: string): PackageManifest {
  return { name, version, description: `package ${name} of the update-check benchmark`, entryPoints: { [name]: `bin/${name}` }, dependencies: {}, permissions: [] };
}

/** A real archive of `name@version` (bin/NAME and its manifest), packed as `cairn pack` does. */
async function packArchive(dir: string, name: string, version: string): Promise<{ bytes: Buffer; manifest: PackageManifest }> {
  const tree = join(dir, `${name}-${version}`);
  await mkdir(join(tree, 'bin'), { recursive: true });
  await writeFile(join(tree, 'bin', name), `#!/bin/sh\necho ${name} ${version}\n`, { mode: 0o755 });
  await writeFile(join(tree, 'cairn-package.json'), JSON.stringify(manifestOf(name, version)));
  const out = join(dir, `${name}-${version}.tar`);
  const packed = await packDirectory(tree, out, { sourceDateEpoch: 0 });
  return { bytes: await readFile(out), manifest: packed.manifest };
}

/** The published state of the packages: versions by name, and which bins a release touched. */
class PackageCatalogWriter {
  private readonly versions = new Map<string, Record<string, string>>();
  readonly touchedBins = new Set<string>();

  constructor(private readonly sim: RepositorySimulator, private readonly bits: number) {}

  /** Adds an archive target (custom metadata: the manifest) and lists it in the package's versions index, each in its bin. */
  add(name: string, version: string, bytes: Uint8Array, manifest: PackageManifest): void {
    const archive = packageTargetPath(name, version);
    const archiveBin = RepositorySimulator.binFor(archive, this.bits);
    this.sim.addTarget(archive, bytes, archiveBin);
    ((this.sim.role(archiveBin).targets as JsonObject)[archive] as JsonObject).custom = { [CUSTOM_FIELD]: manifest as unknown as JsonObject };
    const versions = { ...(this.versions.get(name) ?? {}), [version]: archive };
    this.versions.set(name, versions);
    const index = versionsTargetPath(name);
    const indexBin = RepositorySimulator.binFor(index, this.bits);
    this.sim.addTarget(index, versionsIndexBytes({ name, versions }), indexBin);
    this.touchedBins.add(archiveBin).add(indexBin);
  }
}

interface BuiltRepository {
  repo: WitnessedRepository;
  catalog: PackageCatalogWriter;
  buildMs: number;
}

async function buildRepository(dir: string, bits: number, options: UpdateCheckOptions, real: Map<string, { bytes: Buffer; manifest: PackageManifest }>): Promise<BuiltRepository> {
  const t0 = performance.now();
  let catalog: PackageCatalogWriter | undefined;
  const repo = await WitnessedRepository.create({
    prepare: (sim) => {
      sim.succinctBins('targets', bits);
      catalog = new PackageCatalogWriter(sim, bits);
      for (let i = 0; i < options.packages; i++) {
        const name = packageName(i);
        const archive = real.get(`${name}@1.0.0`);
        if (archive) catalog.add(name, '1.0.0', archive.bytes, archive.manifest);
        else catalog.add(name, '1.0.0', Buffer.from(`stand-in archive of ${name} 1.0.0\n`), manifestOf(name, '1.0.0'));
      }
    },
  });
  await writeFile(join(dir, 'root.json'), repo.sim.rootHistory.get(1)!);
  return { repo, catalog: catalog!, buildMs: performance.now() - t0 };
}

/** Publishes new versions of `names` in one release (only the bins they touch get new versions) and witnesses it. */
async function releaseNewVersions(built: BuiltRepository, names: readonly string[], version: string, archives: Map<string, { bytes: Buffer; manifest: PackageManifest }>): Promise<void> {
  built.catalog.touchedBins.clear();
  for (const name of names) {
    const archive = archives.get(`${name}@${version}`);
    if (archive) built.catalog.add(name, version, archive.bytes, archive.manifest);
    else built.catalog.add(name, version, Buffer.from(`stand-in archive of ${name} ${version}\n`), manifestOf(name, version));
  }
  built.repo.sim.release(...built.catalog.touchedBins);
  await built.repo.witness();
}

interface CheckMeasure {
  bytes: Record<TrafficKind, number>;
  requests: number;
  /** Bytes of the check: refresh, bins, versions indexes (not the archives). */
  checkBytes: number;
  /** The same without compression. */
  checkIdentityBytes: number;
  refreshMs: number;
  /** From the end of the refresh to the first archive request (or the end, when none). */
  resolveMs: number;
  /** From the first archive request to the end: downloads, verification, unpack, commit. */
  updateMs: number;
  totalMs: number;
  updated: number;
  requestLog: ServedRequest[];
}

async function measureUpdate(server: CountingServer, storeRoot: string): Promise<CheckMeasure> {
  server.reset();
  let refreshedAt: number | undefined;
  const onEvent = (e: InstallEvent): void => {
    if (e.type === 'refreshed') refreshedAt = performance.now();
  };
  const t0 = performance.now();
  const result: TransactionResult = await withTimeout(updatePackages({ storeRoot, onEvent }), `updatePackages in ${storeRoot}`);
  const end = performance.now();
  const log = [...server.requests];
  const bytes: Record<TrafficKind, number> = { refresh: 0, bins: 0, versions: 0, archives: 0, other: 0 };
  for (const r of log) bytes[r.kind] += r.bytes;
  const firstArchive = log.find((r) => r.kind === 'archives')?.at ?? end;
  const refreshEnd = refreshedAt ?? t0;
  return {
    bytes,
    requests: log.length,
    checkBytes: bytes.refresh + bytes.bins + bytes.versions + bytes.other,
    checkIdentityBytes: checkIdentityBytes(log),
    refreshMs: refreshEnd - t0,
    resolveMs: firstArchive - refreshEnd,
    updateMs: end - firstArchive,
    totalMs: end - t0,
    updated: result.updated.length,
    requestLog: log,
  };
}

interface BinCountResult {
  bits: number;
  buildMs: number;
  snapshotBytes: number;
  meanBinBytes: number;
  install: CheckMeasure;
  changed: CheckMeasure[];
  unchanged: CheckMeasure[];
  othersChanged: CheckMeasure[];
}

async function benchBinCount(root: string, bits: number, options: UpdateCheckOptions, archives: Map<string, { bytes: Buffer; manifest: PackageManifest }>): Promise<BinCountResult> {
  const dir = join(root, `bins-${2 ** bits}`);
  await mkdir(dir, { recursive: true });
  const progress = (what: string): boolean => process.stderr.write(`  update-check, ${2 ** bits} bins: ${what}\n`);
  progress(`building ${options.packages.toLocaleString('en')} packages`);
  const built = await buildRepository(dir, bits, options, archives);
  progress(`built in ${(built.buildMs / 1000).toFixed(0)} s; installing ${options.installed}`);
  const server = await new CountingServer(built.repo.sim.files).start();
  try {
    const installedIdx = Array.from({ length: options.installed }, (_, k) => Math.floor((k * options.packages) / options.installed));
    const installed = installedIdx.map(packageName);
    // The pre-release store: remote pinned to root 1 and the genesis block, the packages installed (a cold client).
    const pristine = join(dir, 'pristine');
    await addRemote(pristine, { name: 'main', url: server.url, rootFile: join(dir, 'root.json'), logAnchor: built.repo.genesisHash });
    server.reset();
    const t0 = performance.now();
    await withTimeout(installPackages({ storeRoot: pristine }, installed), 'installPackages');
    const installMs = performance.now() - t0;
    const install = summarize(server.requests, installMs);

    const sim = built.repo.sim;
    const snapshotBytes = sim.files.get(`metadata/${sim.role('snapshot').version as number}.snapshot.json`)!.byteLength;
    let binTotal = 0;
    for (let i = 0; i < 2 ** bits; i++) {
      const name = `bin-${i.toString(16).padStart(((1 << bits) - 1).toString(16).length, '0')}`;
      binTotal += sim.files.get(`metadata/${name}.json`)!.byteLength;
    }

    progress('installed; releasing, then measuring');
    await releaseNewVersions(built, installed.slice(0, options.changed), '1.1.0', archives);
    const changed: CheckMeasure[] = [];
    const unchanged: CheckMeasure[] = [];
    const stores: string[] = [];
    for (let run = 0; run < options.runs; run++) {
      const store = join(dir, `store-${run}`);
      await cp(pristine, store, { recursive: true, verbatimSymlinks: true });
      stores.push(store);
      const m = await measureUpdate(server, store);
      if (m.updated !== options.changed) throw new Error(`${2 ** bits} bins: the update changed ${m.updated} packages, expected ${options.changed}`);
      changed.push(m);
      const again = await measureUpdate(server, store);
      if (again.updated !== 0) throw new Error(`${2 ** bits} bins: an update with nothing changed updated ${again.updated} packages`);
      unchanged.push(again);
    }
    // A release that changes packages the client does not have (spread between the installed ones).
    const others = Array.from({ length: options.changed }, (_, k) => packageName(installedIdx[k]! + 1));
    await releaseNewVersions(built, others, '1.1.0', archives);
    const othersChanged: CheckMeasure[] = [];
    for (const store of stores) othersChanged.push(await measureUpdate(server, store));
    return { bits, buildMs: built.buildMs, snapshotBytes, meanBinBytes: binTotal / 2 ** bits, install, changed, unchanged, othersChanged };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The check's bytes (all but the archives) had nothing been compressed. */
function checkIdentityBytes(log: readonly ServedRequest[]): number {
  return log.filter((r) => r.kind !== 'archives').reduce((n, r) => n + r.identityBytes, 0);
}

function summarize(log: readonly ServedRequest[], totalMs: number): CheckMeasure {
  const bytes: Record<TrafficKind, number> = { refresh: 0, bins: 0, versions: 0, archives: 0, other: 0 };
  for (const r of log) bytes[r.kind] += r.bytes;
  return {
    bytes, requests: log.length, checkBytes: bytes.refresh + bytes.bins + bytes.versions + bytes.other, checkIdentityBytes: checkIdentityBytes(log),
    refreshMs: 0, resolveMs: 0, updateMs: 0, totalMs, updated: 0, requestLog: [...log],
  };
}

const kb = (n: number): string => `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} kB`;
const med = (runs: readonly CheckMeasure[], pick: (m: CheckMeasure) => number): number => median(runs.map(pick));

/** Requests a check made by kind, as "kind: n requests" (from the median run's log). */
function requestCounts(m: CheckMeasure): string {
  const counts = new Map<string, number>();
  for (const r of m.requestLog) counts.set(`${r.kind}${r.status === 404 ? ' (404)' : ''}`, (counts.get(`${r.kind}${r.status === 404 ? ' (404)' : ''}`) ?? 0) + 1);
  const repeated = m.requestLog.length - new Set(m.requestLog.map((r) => r.path)).size;
  return `${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}${repeated > 0 ? ` (${repeated} repeated paths)` : ''}`;
}

export async function benchUpdateCheck(work: string, options: UpdateCheckOptions = UPDATE_CHECK_FULL): Promise<BenchResult> {
  const root = join(work, 'update-check');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  try {
    // The real archives: every installed package at 1.0.0, the changed ones at 1.1.0 (the same for every bin count).
    const archives = new Map<string, { bytes: Buffer; manifest: PackageManifest }>();
    const packDir = join(root, 'archives');
    await mkdir(packDir, { recursive: true });
    for (let k = 0; k < options.installed; k++) {
      const name = packageName(Math.floor((k * options.packages) / options.installed));
      archives.set(`${name}@1.0.0`, await packArchive(packDir, name, '1.0.0'));
      if (k < options.changed) archives.set(`${name}@1.1.0`, await packArchive(packDir, name, '1.1.0'));
    }
    const results: BinCountResult[] = [];
    for (const bits of options.binBits) {
      const result = await benchBinCount(root, bits, options, archives);
      results.push(result);
      // Each bin count's figures as soon as they are measured (a long run keeps what it finished).
      for (const line of report([result], options).lines.slice(3)) process.stderr.write(`  ${line}\n`);
    }
    return report(results, options);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function report(results: readonly BinCountResult[], options: UpdateCheckOptions): BenchResult {
  const n = options.packages.toLocaleString('en');
  const lines = [
    `repository: ${n} packages (a versions index and one archive target each, manifest in custom metadata) in succinct hash bins, ` +
      `witnessed (CoSi log, 4 witnesses); served in-process on 127.0.0.1, JSON gzip-compressed as cairn serve sends it, body bytes counted at the server; medians of ${options.runs} runs`,
    `client: ${options.installed} packages installed (cold install shown), then a witnessed release gives ${options.changed} of them a new version; ` +
      `check = refresh (timestamp, snapshot, targets, root, log) + bins + versions indexes; archives are the update itself`,
    '',
    `${'bins'.padStart(6)} ${'snapshot'.padStart(9)} ${'bin avg'.padStart(8)} | ${'10 changed: refresh'.padStart(19)} ${'bins'.padStart(8)} ${'indexes'.padStart(8)} ${'check'.padStart(9)} ${'archives'.padStart(9)} | ` +
      `${'nothing'.padStart(9)} | ${'10 others'.padStart(9)} | ${'check time'.padStart(10)} ${'update time'.padStart(11)} | ${'cold install'.padStart(12)} ${'build'.padStart(6)}`,
  ];
  for (const r of results) {
    const c = r.changed;
    lines.push(
      `${String(2 ** r.bits).padStart(6)} ${kb(r.snapshotBytes).padStart(9)} ${kb(r.meanBinBytes).padStart(8)} | ${kb(med(c, (m) => m.bytes.refresh)).padStart(19)} ` +
        `${kb(med(c, (m) => m.bytes.bins)).padStart(8)} ${kb(med(c, (m) => m.bytes.versions)).padStart(8)} ${kb(med(c, (m) => m.checkBytes)).padStart(9)} ` +
        `${kb(med(c, (m) => m.bytes.archives)).padStart(9)} | ${kb(med(r.unchanged, (m) => m.checkBytes)).padStart(9)} | ${kb(med(r.othersChanged, (m) => m.checkBytes)).padStart(9)} | ` +
        `${ms(med(c, (m) => m.refreshMs + m.resolveMs)).padStart(10)} ${ms(med(c, (m) => m.updateMs)).padStart(11)} | ${kb(r.install.checkBytes + r.install.bytes.archives).padStart(12)} ${`${(r.buildMs / 1000).toFixed(0)} s`.padStart(6)}`,
    );
  }
  lines.push('', 'requests per check (first run), by kind:');
  for (const r of results) {
    lines.push(`  ${2 ** r.bits} bins: without gzip the check with 10 changed would be ${kb(med(r.changed, (m) => m.checkIdentityBytes))} (nothing changed ${kb(med(r.unchanged, (m) => m.checkIdentityBytes))}, 10 others ${kb(med(r.othersChanged, (m) => m.checkIdentityBytes))})`);
    lines.push(`  ${2 ** r.bits} bins: 10 changed: ${requestCounts(r.changed[0]!)}; nothing changed: ${requestCounts(r.unchanged[0]!)}; 10 others changed: ${requestCounts(r.othersChanged[0]!)}`);
    lines.push(`  ${2 ** r.bits} bins: times (10 changed, medians): refresh ${ms(med(r.changed, (m) => m.refreshMs))}, bins + indexes ${ms(med(r.changed, (m) => m.resolveMs))}, ` +
      `archives + unpack + commit ${ms(med(r.changed, (m) => m.updateMs))}; nothing changed ${ms(med(r.unchanged, (m) => m.totalMs))}; 10 others changed ${ms(med(r.othersChanged, (m) => m.totalMs))}`);
  }
  const meeting = results.filter((r) => med(r.changed, (m) => m.checkBytes) < CHECK_TARGET_BYTES);
  const best = [...results].sort((a, b) => med(a.changed, (m) => m.checkBytes) - med(b.changed, (m) => m.checkBytes))[0];
  return {
    name: `update check: ${options.changed} of ${options.installed} installed packages changed, in a repository of ${n} packages`,
    lines,
    targets: [{
      target: `update check with ${options.changed} changed packages under 1 MB (refresh + bins + versions indexes)`,
      met: meeting.length > 0,
      figure: meeting.length > 0
        ? `met with ${meeting.map((r) => `${2 ** r.bits} bins (${kb(med(r.changed, (m) => m.checkBytes))})`).join(', ')}`
        : `smallest: ${best ? `${kb(med(best.changed, (m) => m.checkBytes))} with ${2 ** best.bits} bins` : 'no result'}`,
    }],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // --packages N, --bits B,B,..., --runs N override the chosen preset (for exploring one size); --work DIR
  // puts the scratch files elsewhere (two explorations at once).
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, packages: { type: 'string' }, bits: { type: 'string' }, runs: { type: 'string' }, work: { type: 'string' } } });
  const preset = values.quick ? UPDATE_CHECK_QUICK : UPDATE_CHECK_FULL;
  const chosen: UpdateCheckOptions = {
    ...preset,
    ...(values.packages === undefined ? {} : { packages: Number(values.packages) }),
    ...(values.bits === undefined ? {} : { binBits: values.bits.split(',').map(Number) }),
    ...(values.runs === undefined ? {} : { runs: Number(values.runs) }),
  };
  const work = values.work ?? fileURLToPath(new URL('./.work/', import.meta.url));
  await mkdir(work, { recursive: true });
  const result = await benchUpdateCheck(work, chosen);
  console.log(result.name);
  for (const line of result.lines) console.log(`  ${line}`);
  for (const t of result.targets) console.log(`  ${t.met ? 'met    ' : 'NOT MET'}  ${t.target}: ${t.figure}`);
}
