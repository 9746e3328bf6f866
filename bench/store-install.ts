// bench/store-install.ts: the package manager's install, rollback and generation switch (issue 9:
// "Installing a package of 100 MB (many files) and 1,000 small packages: time against the floor
// measured in the same run (sha256sum, GNU tar extraction and sync of the same archives). Target:
// within 1.3x of the floor. Rollback and generation switch: under 50 ms regardless of size.";
// docs/store.md "Order of writes", docs/packages.md "Installing").
//
// cairn's side, on the same archives (made by packDirectory):
//   store part  what `cairn install` does once the archive is downloaded: the archive's sha256,
//               then Store.commit of a plan whose IncomingPackage unpacks with extractPackage
//               (durable: false, as src/store/install.ts builds it): safe extraction, the scan
//               against what unpack reported, sealing read-only, rename into the store, one
//               flush (syncfs), the record, the generation, the switch.
//   full        a real installPackages from a witnessed package repository served on 127.0.0.1 in
//               this process (test/fixtures/package-repository.ts) into a new store with the
//               remote added (untimed): TUF refresh, log catch-up, verified download, the store part.
//               For the small packages, one request for `small-all`, which depends on groups of
//               250 of them (a manifest lists at most 256 dependencies, and a transaction named
//               after 1,000 requests would exceed the 4,096-character reason of a generation);
//               timed in --quick only (the full size fetches 1,000 archives one by one).
// The floor, on the same archives: `sha256sum ARCHIVE && mkdir D && tar -xf ARCHIVE -C D` then a
// flush. Two flushes are measured; the target is against the first:
//   sync -f D   syncfs(2) of the file system holding D: every dirty page, one call (the issue's
//               "sync", restricted to one file system; it also flushes what other processes of
//               the shared machine left dirty there, which makes it noisier, never cheaper).
//   per file    `find D -exec sync {} +`: fsync(2) of every file and directory extracted, the
//               same guarantee cairn gives entry by entry (for information).
// Every timed run starts with the file system flushed (`sync -f`, untimed) and a fresh
// destination; the runs of the sides alternate, so drift in the machine's load hits all alike.
//
// Rollback and generation switch: on a small store (one tiny package, two generations) and a
// large one (the 100 MB package, then it and the 1,000 small packages), the median of 10 of
// Store.rollback() (generation 2 to its parent, 1) and of Store.rollback(2) (the switch back to
// a kept generation, `cairn rollback --to 2`). For information, a commit whose plan names only
// the packages already active: no unpack, but a new generation, whose bin links (one per entry
// point) make it grow with the number of packages.
//
//   CAIRN_BENCH_VERBOSE=1             each run's time on stderr as it ends
//   CAIRN_BENCH_SMALL_PACKAGES=200    fewer small packages (the full 1,000 take about 10 minutes
//                                     a side on a loaded 2-core machine: 2,000 processes for the floor)
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashFile } from '../src/crypto/index.js';
import { extractPackage, packDirectory, type PackageManifest } from '../src/package/index.js';
import { installPackages, openStore, type GenerationPlan, type IncomingPackage, type Store } from '../src/store/index.js';
import type { JsonObject } from '../src/encoding/index.js';
import { PackageRepository } from '../test/fixtures/package-repository.js';
import { runShell } from './shell.js';
import { median, ms, mbps, type BenchResult } from './stats.js';

export interface StoreInstallSizes {
  /** Files of the large package, and their total bytes. */
  largeFiles: number;
  largeBytes: number;
  /** Number of small packages (1-3 files of a few KB each). */
  smallPackages: number;
  /** Timed runs of each install side. */
  runs: number;
  /** Timed rollbacks and switching commits. */
  switchRuns: number;
  /** Whether to time the full installPackages of the small packages too (a request per package over HTTP: minutes at 1,000). */
  fullSmall: boolean;
  /** Whether to run one unmeasured round of each side first (the full size skips it: each run is seconds of I/O, not code warming up). */
  warmup: boolean;
}

export const STORE_INSTALL_FULL: StoreInstallSizes = { largeFiles: 2_000, largeBytes: 100_000_000, smallPackages: 1_000, runs: 3, switchRuns: 10, fullSmall: false, warmup: false };
export const STORE_INSTALL_QUICK: StoreInstallSizes = { largeFiles: 200, largeBytes: 10_000_000, smallPackages: 100, runs: 3, switchRuns: 10, fullSmall: true, warmup: true };

/** With CAIRN_BENCH_VERBOSE=1, each phase and run on stderr as it ends (the full run takes minutes). */
const verbose = process.env.CAIRN_BENCH_VERBOSE === '1';
const started = performance.now();
function progress(what: string): void {
  if (verbose) process.stderr.write(`  [store-install ${((performance.now() - started) / 1000).toFixed(1)} s] ${what}\n`);
}

/** Targets of the issue. */
const INSTALL_RATIO_TARGET = 1.3;
const SWITCH_TARGET_MS = 50;

/** A deterministic pseudo-random sequence (xorshift32), so every run builds the same trees. */
function sequence(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** Removes a tree the store made read-only. */
async function removeReadOnlyTree(path: string): Promise<void> {
  await runShell('[ ! -e "$1" ] || chmod -R u+w "$1"', [path]);
  await rm(path, { recursive: true, force: true });
}

/** Flushes the file system holding `path` (untimed, before each timed run). */
const flush = (path: string): Promise<string> => runShell('sync -f "$1"', [path]);

async function timed(into: number[], fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  into.push(performance.now() - t0);
}

interface PackedPackage {
  name: string;
  version: string;
  archive: string;
  manifest: PackageManifest;
  bytes: number;
}

/** Writes the tree of one package with its manifest and packs it into `archive`. */
async function packTree(tree: string, archive: string, manifest: PackageManifest, files: ReadonlyArray<{ path: string; bytes: Buffer }>): Promise<PackedPackage> {
  await mkdir(tree, { recursive: true });
  for (const f of files) {
    await mkdir(join(tree, f.path, '..'), { recursive: true });
    await writeFile(join(tree, f.path), f.bytes, { mode: f.path.startsWith('bin/') ? 0o755 : 0o644 });
  }
  await writeFile(join(tree, 'cairn-package.json'), JSON.stringify(manifest));
  const packed = await packDirectory(tree, archive, { sourceDateEpoch: 0 });
  await rm(tree, { recursive: true, force: true });
  return { name: manifest.name, version: manifest.version, archive, manifest: packed.manifest, bytes: packed.length };
}

/** The large package: `count` files totalling about `total` bytes, sizes spread log-uniformly from 512 B, in 40 directories two deep. */
async function makeLargePackage(dir: string, count: number, total: number): Promise<PackedPackage> {
  const next = sequence(9);
  const weights = Array.from({ length: count }, () => Math.exp(next() * Math.log(4096)));
  const scale = total / weights.reduce((a, b) => a + b, 0);
  const pool = Buffer.alloc(8 << 20);
  for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), i);
  const files = weights.map((w, i) => {
    const size = Math.max(1, Math.round(w * scale));
    const offset = Math.floor(next() * (pool.length - Math.min(size, pool.length)));
    const bytes = size <= pool.length ? pool.subarray(offset, offset + size) : Buffer.concat(Array.from({ length: Math.ceil(size / pool.length) }, () => pool)).subarray(0, size);
    return { path: i === 0 ? 'bin/large' : `share/d${i % 8}/e${i % 5}/file-${i}.dat`, bytes };
  });
  const manifest: PackageManifest = { name: 'large', version: '1.0.0', entryPoints: { large: 'bin/large' }, dependencies: {}, permissions: [] };
  return packTree(join(dir, 'tree-large'), join(dir, 'large-1.0.0.tar'), manifest, files);
}

/** `count` small packages of 1-3 files of 1-8 KB. */
async function makeSmallPackages(dir: string, count: number): Promise<PackedPackage[]> {
  const next = sequence(17);
  const out: PackedPackage[] = [];
  for (let i = 0; i < count; i++) {
    const name = `small-${String(i).padStart(4, '0')}`;
    const fileCount = 1 + Math.floor(next() * 3);
    const files = Array.from({ length: fileCount }, (_, j) => {
      const size = 1024 + Math.floor(next() * 7 * 1024);
      const bytes = Buffer.alloc(size, `${name} file ${j}\n`);
      return { path: j === 0 ? `bin/${name}` : `lib/part-${j}.txt`, bytes };
    });
    const manifest: PackageManifest = { name, version: '1.0.0', entryPoints: { [name]: `bin/${name}` }, dependencies: {}, permissions: [] };
    out.push(await packTree(join(dir, `tree-${name}`), join(dir, `${name}-1.0.0.tar`), manifest, files));
  }
  return out;
}

/** The store part of an install: each archive's sha256 (as the download checks it), then one commit that extracts them all. */
async function storeInstall(store: Store, packages: readonly PackedPackage[]): Promise<void> {
  const plan: GenerationPlan = { reason: `install ${packages.length} packages`, packages: {} };
  for (const p of packages) {
    const { hashes } = await hashFile(p.archive, ['sha256']);
    const incoming: IncomingPackage = {
      name: p.name,
      version: p.version,
      remote: 'bench',
      targetPath: `packages/${p.name}/${p.name}-${p.version}.tar`,
      targetSha256: hashes.sha256!,
      manifest: p.manifest as unknown as IncomingPackage['manifest'],
      unpack: async (destDir, step) => (await extractPackage(p.archive, destDir, { step, durable: false })).files,
    };
    plan.packages[p.name] = { version: p.version, remote: 'bench', explicit: true, permissions: [], incoming };
  }
  await store.commit(plan);
}

/** The floor's shell script: hash every archive, extract each into OUT/NAME with GNU tar, then the flush. */
const FLOOR_EXTRACT = 'out="$1"; shift; sha256sum "$@" >/dev/null && mkdir "$out" && for a; do d="$out/${a##*/}"; mkdir "$d" && tar -xf "$a" -C "$d" || exit 1; done';
const FLOOR_SYNCFS = `${FLOOR_EXTRACT} && sync -f "$out"`;
const FLOOR_PER_FILE = `${FLOOR_EXTRACT} && find "$out" -exec sync -- {} +`;

interface InstallFigures {
  floor: number[];
  floorPerFile: number[];
  store: number[];
  full: number[];
}

/**
 * Times the floor (both flushes), cairn's store part and (with a repository) the full install of
 * `packages`, alternating, `runs` times each after one unmeasured round. Returns the store of the
 * last store-part run, kept for the switch measurements.
 */
async function timeInstalls(root: string, label: string, packages: readonly PackedPackage[], runs: number, warmup: boolean, full: { repository: PackageRepository; requests: string[] } | undefined): Promise<{ figures: InstallFigures; lastStore: string }> {
  const figures: InstallFigures = { floor: [], floorPerFile: [], store: [], full: [] };
  const archives = packages.map((p) => p.archive);
  let lastStore = '';
  for (let i = warmup ? -1 : 0; i < runs; i++) {
    const measure = async (into: number[], fn: () => Promise<unknown>): Promise<void> => {
      await flush(root);
      const t0 = performance.now();
      if (i < 0) await fn();
      else await timed(into, fn);
      progress(`${label} run ${i + 1}: ${ms(performance.now() - t0)}`);
    };
    const tarOut = join(root, `${label}-tar-${i + 1}`);
    await measure(figures.floor, () => runShell(FLOOR_SYNCFS, [tarOut, ...archives]));
    await rm(tarOut, { recursive: true, force: true });
    await measure(figures.floorPerFile, () => runShell(FLOOR_PER_FILE, [tarOut, ...archives]));
    await rm(tarOut, { recursive: true, force: true });

    const storeRoot = join(root, `${label}-store-${i + 1}`);
    const store = await openStore(storeRoot);
    await measure(figures.store, () => storeInstall(store, packages));
    if (lastStore !== '') await removeReadOnlyTree(lastStore);
    lastStore = storeRoot;

    if (full !== undefined) {
      const { repository, requests } = full;
      const fullRoot = join(root, `${label}-full-${i + 1}`);
      await openStore(fullRoot);
      await repository.addRemoteTo(fullRoot);
      await measure(figures.full, () => installPackages({ storeRoot: fullRoot }, requests));
      await removeReadOnlyTree(fullRoot);
    }
  }
  return { figures, lastStore };
}

/**
 * Packages with no files that depend on all of `small` (a manifest holds at most
 * MANIFEST_LIMITS.maxDependencies, so groups of 250 under one top package): one request
 * installs them all in one transaction, as a user's `cairn install small-all` would.
 */
async function makeGroupPackages(dir: string, small: readonly PackedPackage[]): Promise<PackedPackage[]> {
  const groups: PackedPackage[] = [];
  for (let start = 0; start < small.length; start += 250) {
    const name = `small-group-${groups.length}`;
    const dependencies = Object.fromEntries(small.slice(start, start + 250).map((p) => [p.name, p.version]));
    groups.push(await packTree(join(dir, `tree-${name}`), join(dir, `${name}-1.0.0.tar`), { name, version: '1.0.0', entryPoints: {}, dependencies, permissions: [] }, []));
  }
  const top: PackageManifest = { name: 'small-all', version: '1.0.0', entryPoints: {}, dependencies: Object.fromEntries(groups.map((g) => [g.name, g.version])), permissions: [] };
  return [...groups, await packTree(join(dir, 'tree-small-all'), join(dir, 'small-all-1.0.0.tar'), top, [])];
}

/** A repository on 127.0.0.1 publishing `packages`, released and witnessed once. */
async function publishAll(packages: readonly PackedPackage[]): Promise<PackageRepository> {
  const repository = await PackageRepository.create();
  for (const p of packages) repository.addArchive(p.name, p.version, await readFile(p.archive), p.manifest as unknown as JsonObject);
  await repository.release();
  return repository;
}

function installResult(title: string, bytes: number, figures: InstallFigures): BenchResult {
  const floor = median(figures.floor);
  const perFile = median(figures.floorPerFile);
  const storePart = median(figures.store);
  const all = (values: number[]): string => values.map((v) => ms(v)).join(', ');
  const ratio = storePart / floor;
  const lines = [
    `floor: sha256sum, tar -xf, sync -f D          median ${ms(floor)}  ${mbps(bytes, floor)}  (runs ${all(figures.floor)})`,
    `floor with fsync of every entry (find|sync)    median ${ms(perFile)}  ${mbps(bytes, perFile)}  (runs ${all(figures.floorPerFile)})`,
    `cairn store part (sha256, extract, commit)     median ${ms(storePart)}  ${mbps(bytes, storePart)}  ratio ${ratio.toFixed(2)}x to the floor, ${(storePart / perFile).toFixed(2)}x to the per-entry floor  (runs ${all(figures.store)})`,
  ];
  const targets = [{ target: `${title}: store part within ${INSTALL_RATIO_TARGET}x of sha256sum + tar -xf + sync`, met: ratio <= INSTALL_RATIO_TARGET, figure: `${ratio.toFixed(2)}x (${ms(storePart)} vs ${ms(floor)})` }];
  if (figures.full.length > 0) {
    const full = median(figures.full);
    lines.push(`cairn full installPackages over 127.0.0.1     median ${ms(full)}  ${mbps(bytes, full)}  ratio ${(full / floor).toFixed(2)}x to the floor  (runs ${all(figures.full)})`);
    targets.push({ target: `${title}: full install (refresh, download, store) within ${INSTALL_RATIO_TARGET}x of the floor`, met: full / floor <= INSTALL_RATIO_TARGET, figure: `${(full / floor).toFixed(2)}x (${ms(full)})` });
  }
  return { name: title, lines, targets };
}

interface SwitchFigures {
  /** `cairn rollback`: from generation 2 to its parent, 1. */
  rollback: number[];
  /** `cairn rollback --to 2`: activating a kept generation that is not the parent. */
  switch: number[];
  /** A new generation of the packages already active (no unpack; one bin link per entry point): for information. */
  newGeneration: number[];
}

/** Rollbacks to the parent and switches back, and new generations of the active packages, `runs` of each. */
async function timeSwitches(store: Store, runs: number): Promise<SwitchFigures> {
  const figures: SwitchFigures = { rollback: [], switch: [], newGeneration: [] };
  const current = await store.current();
  if (current === undefined || current.number !== 2) throw new Error('the switch benchmark needs a store whose generation 2, child of 1, is active');
  for (let i = -1; i < runs; i++) {
    let t0 = performance.now();
    await store.rollback();
    if (i >= 0) figures.rollback.push(performance.now() - t0);
    t0 = performance.now();
    await store.rollback(2);
    if (i >= 0) figures.switch.push(performance.now() - t0);
  }
  const active = (await store.current())!;
  const plan: GenerationPlan = {
    reason: 'the same packages',
    packages: Object.fromEntries(Object.entries(active.packages).map(([name, p]) => [name, { id: p.id, version: p.version, remote: p.remote, explicit: p.explicit, permissions: p.permissions }])),
  };
  for (let i = -1; i < runs; i++) {
    const t0 = performance.now();
    await store.commit(plan);
    if (i >= 0) figures.newGeneration.push(performance.now() - t0);
  }
  return figures;
}

/** The count of small packages overridden by CAIRN_BENCH_SMALL_PACKAGES (a shorter run on a loaded machine), else `fallback`. */
function smallPackagesFromEnvironment(fallback: number): number {
  const raw = process.env.CAIRN_BENCH_SMALL_PACKAGES;
  if (raw === undefined || raw === '') return fallback;
  const count = Number(raw);
  if (!Number.isSafeInteger(count) || count < 1 || count > 10_000) throw new Error(`CAIRN_BENCH_SMALL_PACKAGES must be a whole number from 1 to 10000, not "${raw}"`);
  return count;
}

export async function benchStoreInstall(work: string, sizes: StoreInstallSizes = STORE_INSTALL_FULL): Promise<BenchResult[]> {
  sizes = { ...sizes, smallPackages: smallPackagesFromEnvironment(sizes.smallPackages) };
  const root = join(work, 'store-install');
  await removeReadOnlyTree(root);
  await mkdir(join(root, 'archives'), { recursive: true });
  const results: BenchResult[] = [];
  let repository: PackageRepository | undefined;
  try {
    const large = await makeLargePackage(join(root, 'archives'), sizes.largeFiles, sizes.largeBytes);
    progress('large package packed');
    const small = await makeSmallPackages(join(root, 'archives'), sizes.smallPackages);
    progress('small packages packed');
    const smallBytes = small.reduce((a, p) => a + p.bytes, 0);

    const groups = sizes.fullSmall ? await makeGroupPackages(join(root, 'archives'), small) : [];
    repository = await publishAll([large, ...small, ...groups]);
    progress('repository published');
    const largeRun = await timeInstalls(root, 'large', [large], sizes.runs, sizes.warmup, { repository, requests: ['large'] });
    results.push(installResult(`install one package of ${(large.bytes / 1e6).toFixed(0)} MB in ${sizes.largeFiles} files`, large.bytes, largeRun.figures));
    const smallRun = await timeInstalls(root, 'small', small, sizes.runs, sizes.warmup, sizes.fullSmall ? { repository, requests: ['small-all'] } : undefined);
    results.push(installResult(`install ${sizes.smallPackages} small packages (1-3 files, ${(smallBytes / 1e6).toFixed(1)} MB of archives) in one transaction`, smallBytes, smallRun.figures));
    await removeReadOnlyTree(largeRun.lastStore);
    await repository.close();
    repository = undefined;

    // The small store: one tiny package, two generations. The large store: the small packages (generation 1, the last run's), then they and the 100 MB package (generation 2).
    const tiny = await openStore(join(root, 'switch-small'));
    await storeInstall(tiny, small.slice(0, 1));
    await storeInstall(tiny, small.slice(0, 1));
    const big = await openStore(smallRun.lastStore);
    await storeInstall(big, [large, ...small]);
    progress('switch stores made');
    const smallSwitch = await timeSwitches(tiny, sizes.switchRuns);
    const largeSwitch = await timeSwitches(big, sizes.switchRuns);
    const lines: string[] = [];
    const targets: BenchResult['targets'] = [];
    for (const [label, figures, what] of [
      ['small store', smallSwitch, '1 package of a few KB'],
      ['large store', largeSwitch, `${sizes.smallPackages + 1} packages, ${((large.bytes + smallBytes) / 1e6).toFixed(0)} MB`],
    ] as const) {
      const r = median(figures.rollback);
      const w = median(figures.switch);
      const g = median(figures.newGeneration);
      lines.push(`${label} (${what}): rollback to the parent median ${ms(r)} (max ${ms(Math.max(...figures.rollback))}), switch to generation 2 median ${ms(w)} (max ${ms(Math.max(...figures.switch))}); a new generation of the same packages median ${ms(g)} (max ${ms(Math.max(...figures.newGeneration))}: one bin link per entry point)`);
      targets.push({ target: `rollback under ${SWITCH_TARGET_MS} ms (${label})`, met: r < SWITCH_TARGET_MS, figure: ms(r) });
      targets.push({ target: `generation switch under ${SWITCH_TARGET_MS} ms (${label})`, met: w < SWITCH_TARGET_MS, figure: ms(w) });
    }
    results.push({ name: `rollback and generation switch, median of ${sizes.switchRuns}`, lines, targets });
  } finally {
    await repository?.close();
    await removeReadOnlyTree(root);
  }
  return results;
}
