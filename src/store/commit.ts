// store/commit.ts: making a new generation and activating it (docs/store.md "Order of writes";
// docs/design.md "Client store": extract into a temporary directory on the same file system, fsync,
// rename into the store, write the generation manifest, switch the symlink). New packages are
// unpacked into ROOT/tmp, sealed read-only and fsynced, renamed to ROOT/store/ID, and only then
// recorded in ROOT/store/ID.json; the generation is built in ROOT/tmp/gen-N-RANDOM (manifest, bin
// links), fsynced, renamed to ROOT/generations/N, and ROOT/current is switched last. Until that
// rename of the link, the active generation is untouched; after it, the new one is complete.
import { join } from 'node:path';
import { lstat, readdir } from 'node:fs/promises';
import type { StepHook } from '../io/index.js';
import { randomSuffix, type DurableFs } from './durable-fs.js';
import { StoreError } from './errors.js';
import { generationNumbers, generationPath, loadGeneration, readCurrentNumber, switchCurrent, type Generation } from './generations.js';
import { STORE_ID_PATTERN, STORE_LIMITS, binLinkTarget, checkName, checkVersion, isPackagePath, storeId, type StoreLayout } from './layout.js';
import { documentBytes, readStoreRecord, type GenerationManifest, type GenerationPackage, type StoreRecord } from './records.js';
import { CONCURRENT_SEALS, STORE_PATH_DIR_MODE, escapingLinks, forEachConcurrently, scanTree, sealEntries, unpackDifferences, type StoreFile } from './tree.js';

/** A verified package build to add to the store. */
export interface IncomingPackage {
  name: string;
  version: string;
  remote: string;
  targetPath: string;
  /** sha256 of the verified archive. */
  targetSha256: string;
  manifest: { entryPoints: Record<string, string>; permissions: string[]; [field: string]: unknown };
  /**
   * Creates `destDir` (which must not exist) with the package's content, fsynced, calling `step`
   * before each write and fsync; returns what it wrote. The lead passes package/extractPackage.
   */
  unpack(destDir: string, step: StepHook): Promise<StoreFile[]>;
}

/** One package of a planned generation: a store path already present (`id`) or one to add (`incoming`). */
export interface PlannedPackage {
  id?: string;
  incoming?: IncomingPackage;
  version: string;
  remote: string;
  explicit: boolean;
  permissions: string[];
}

/** The complete package set of the next generation. */
export interface GenerationPlan {
  reason: string;
  packages: Record<string, PlannedPackage>;
}

export interface StoreContext {
  layout: StoreLayout;
  fs: DurableFs;
}

/** Makes the generation `plan` describes and activates it (the caller holds the lock). */
export async function commitGeneration(ctx: StoreContext, plan: GenerationPlan): Promise<Generation> {
  const entries = checkPlan(plan);
  const { layout } = ctx;
  const parent = await readCurrentNumber(ctx.layout);
  const number = await nextGenerationNumber(layout);
  // Packages the active generation already has are only looked up (their entry points are in its
  // manifest), all at once: a generation that only switches reads no record. New ones are added
  // one after the other.
  const active = parent === undefined ? undefined : await loadGeneration(layout, parent).catch(() => undefined);
  const present = entries.some(([, planned]) => planned.incoming === undefined) ? await presentStorePaths(layout) : new Set<string>();
  const kept = await Promise.all(entries.map(([name, planned]) => (planned.incoming === undefined ? keptPackage(layout, name, planned, active, present) : undefined)));
  const linked = new Map<string, LinkedPackage>();
  const added: StoreRecord[] = [];
  const reused: StoreRecord[] = [];
  for (const [index, [name, planned]] of entries.entries()) {
    let found = kept[index];
    if (found === undefined) {
      const { record, isNew } = await placeInStore(ctx, planned.incoming!);
      (isNew ? added : reused).push(record);
      found = linkedOf(record, name, planned);
    }
    linked.set(name, found);
  }
  await recordStorePaths(ctx, added, reused);
  const bin = binLinks(linked);
  const manifest: GenerationManifest = {
    number,
    parent: parent ?? null,
    createdAt: new Date().toISOString(),
    reason: plan.reason,
    packages: Object.fromEntries(entries.map(([name, p]): [string, GenerationPackage] => {
      const { id, entryPoints } = linked.get(name)!;
      return [name, { id, version: p.version, remote: p.remote, explicit: p.explicit, permissions: [...p.permissions], entryPoints: { ...entryPoints } }];
    })),
  };
  const staging = join(layout.tmp, `gen-${number}-${randomSuffix()}`);
  try {
    await ctx.fs.mkdir(staging);
    await ctx.fs.writeNewFile(join(staging, 'manifest.json'), documentBytes(manifest));
    await ctx.fs.mkdir(join(staging, 'bin'));
    await forEachConcurrently(bin, CONCURRENT_SEALS, ([command, target]) => ctx.fs.symlink(target, join(staging, 'bin', command)));
    await ctx.fs.fsync(join(staging, 'bin'));
    await ctx.fs.fsync(staging);
    await ctx.fs.rename(staging, generationPath(layout, number));
  } catch (e) {
    await ctx.fs.removeTree(staging).catch(() => undefined);
    throw e;
  }
  await ctx.fs.fsync(layout.generations);
  await switchCurrent(ctx.fs, layout, number);
  return { ...manifest, active: true, path: generationPath(layout, number) };
}

/** The plan's entries, sorted by name, checked: names, versions, one source per package. */
function checkPlan(plan: GenerationPlan): Array<[string, PlannedPackage]> {
  if (typeof plan.reason !== 'string' || plan.reason.length > STORE_LIMITS.maxTextChars) throw new StoreError('BAD_PLAN', `the reason of a generation is a string of at most ${STORE_LIMITS.maxTextChars} characters`);
  const entries = Object.entries(plan.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length > STORE_LIMITS.maxPackagesPerGeneration) throw new StoreError('BAD_PLAN', `a generation holds at most ${STORE_LIMITS.maxPackagesPerGeneration} packages, the plan has ${entries.length}`);
  for (const [name, p] of entries) {
    checkName(name, 'package name');
    checkVersion(p.version);
    if (p.remote.length > STORE_LIMITS.maxTextChars) throw new StoreError('BAD_PLAN', `the remote of ${name} is longer than ${STORE_LIMITS.maxTextChars} characters`);
    if (p.permissions.length > STORE_LIMITS.maxPermissionsPerPackage || p.permissions.some((x) => typeof x !== 'string' || x.length === 0 || x.length > STORE_LIMITS.maxTextChars)) {
      throw new StoreError('BAD_PLAN', `the permissions of ${name} must be at most ${STORE_LIMITS.maxPermissionsPerPackage} non-empty strings`);
    }
    if (p.incoming === undefined && p.id === undefined) throw new StoreError('BAD_PLAN', `the plan gives ${name} neither a store ID nor a package to add`);
    if (p.incoming !== undefined) {
      if (p.incoming.name !== name || p.incoming.version !== p.version) throw new StoreError('BAD_PLAN', `the plan lists ${name} ${p.version} with the package ${p.incoming.name} ${p.incoming.version}`);
      const id = storeId(p.incoming.targetSha256, p.incoming.name, p.incoming.version);
      if (p.id !== undefined && p.id !== id) throw new StoreError('BAD_PLAN', `the plan names store path ${p.id} for ${name}, its package is ${id}`);
    }
  }
  return entries;
}

/**
 * One more than the newest kept generation. A parent is always older than its child, so the new
 * number is above every number a kept manifest names as its parent: a parent link never comes to
 * name a generation made later.
 */
async function nextGenerationNumber(layout: StoreLayout): Promise<number> {
  const numbers = await generationNumbers(layout);
  return (numbers.at(-1) ?? 0) + 1;
}

/** The record of a store path the plan names by ID; NOT_IN_STORE when absent. */
/** What a generation needs of one of its packages: its store path and entry points. */
interface LinkedPackage {
  id: string;
  entryPoints: Record<string, string>;
}

/** The record's store path and entry points, once it is known to hold `name` at the planned version. */
function linkedOf(record: StoreRecord, name: string, planned: PlannedPackage): LinkedPackage {
  if (record.name !== name || record.version !== planned.version) {
    throw new StoreError('BAD_PLAN', `the plan lists ${name} ${planned.version}, but its store path ${record.id} holds ${record.name} ${record.version}`);
  }
  return { id: record.id, entryPoints: record.manifest.entryPoints };
}

/**
 * A package the plan names by store ID: when the active generation has that ID under the same
 * name and version, its entry points come from that manifest and its store path and record need
 * only be `present`; otherwise its record is read. A missing path or record is NOT_IN_STORE.
 */
async function keptPackage(layout: StoreLayout, name: string, planned: PlannedPackage, active: GenerationManifest | undefined, present: ReadonlySet<string>): Promise<LinkedPackage> {
  const id = planned.id!;
  const known = active?.packages[name];
  if (known?.entryPoints !== undefined && known.id === id && known.version === planned.version && present.has(id)) return { id, entryPoints: known.entryPoints };
  return linkedOf(await presentRecord(layout, id), name, planned);
}

/**
 * The IDs whose store path (a directory) and record (a file) are both in ROOT/store, from one
 * listing: cheap whatever the store's size (a lookup per package would cost a system call each).
 */
export async function presentStorePaths(layout: StoreLayout): Promise<Set<string>> {
  const directories = new Set<string>();
  const records = new Set<string>();
  for (const entry of await readdir(layout.store, { withFileTypes: true })) {
    if (entry.isDirectory()) directories.add(entry.name);
    else if (entry.isFile() && entry.name.endsWith('.json')) records.add(entry.name.slice(0, -'.json'.length));
  }
  return new Set([...directories].filter((id) => records.has(id)));
}

async function presentRecord(layout: StoreLayout, id: string): Promise<StoreRecord> {
  const record = typeof id === 'string' && id.length <= STORE_LIMITS.maxNameChars * 2 + 40 && STORE_ID_PATTERN.test(id) ? await readStoreRecord(join(layout.store, `${id}.json`), id) : undefined;
  if (record === undefined || !(await isDirectory(join(layout.store, id)))) {
    throw new StoreError('NOT_IN_STORE', `the store holds no package ${JSON.stringify(id.slice(0, 128))}`, { hint: 'install it from its remote instead of naming its store path' });
  }
  return record;
}

async function isDirectory(path: string): Promise<boolean> {
  return lstat(path).then((s) => s.isDirectory(), () => false);
}

/**
 * The store path of `incoming`: the existing one when its record is there (the record is written
 * last, so its presence means the directory is complete and durable), else unpacked into
 * ROOT/tmp, checked against what unpack reported, made read-only and renamed into ROOT/store,
 * with the record it needs (`isNew`: recordNewPaths flushes and writes it).
 */
async function placeInStore(ctx: StoreContext, incoming: IncomingPackage): Promise<{ record: StoreRecord; isNew: boolean }> {
  const { layout, fs } = ctx;
  const id = storeId(incoming.targetSha256, incoming.name, incoming.version);
  const dir = join(layout.store, id);
  const recordPath = join(layout.store, `${id}.json`);
  let existing: StoreRecord | undefined;
  let unreadable = false;
  try {
    existing = await readStoreRecord(recordPath, id);
  } catch (e) {
    // A power cut between a record's rename and the flush after it can leave it empty: redo it.
    if (!(e instanceof StoreError && e.code === 'CORRUPT')) throw e;
    unreadable = true;
  }
  if (existing !== undefined && existing.targetSha256 === incoming.targetSha256 && (await isDirectory(dir))) {
    // Reused only when it still is what its record says (a damaged path is unpacked again, so a reinstall repairs it).
    const { files: found, unsupported } = await scanTree(dir);
    if (unsupported.length === 0 && unpackDifferences(existing.files, found).length === 0) return { record: existing, isNew: false };
  }
  // A directory without its record was left by an interrupted commit, a record without its directory
  // or a tree that differs from its record by a damaged store: start afresh.
  if (existing !== undefined || unreadable) await fs.unlink(recordPath);
  if (await lstat(dir).then(() => true, () => false)) await fs.removeTree(dir);
  const staging = join(layout.tmp, `unpack-${id}-${randomSuffix()}`);
  let files: StoreFile[];
  try {
    const reported = await incoming.unpack(staging, fs.step);
    // The tree is checked against the report by structure and size; the digests are those the
    // unpack computed from the bytes it wrote (a second read would double the install's I/O),
    // and `cairn verify` re-hashes them.
    const { files: scanned, unsupported } = await scanTree(staging, { hash: false });
    const reportedDigests = new Map(reported.map((f) => [f.path, f.sha256]));
    const found = scanned.map((f) => (f.type === 'file' ? { ...f, sha256: reportedDigests.get(f.path) } : f));
    if (unsupported.length > 0) throw new StoreError('UNPACK_MISMATCH', `${incoming.name} ${incoming.version}: ${unsupported[0]!.path} is ${unsupported[0]!.kind}; a store path holds only files, directories and symlinks`);
    const differences = unpackDifferences(reported, found);
    if (differences.length > 0) throw new StoreError('UNPACK_MISMATCH', `${incoming.name} ${incoming.version}: the unpacked tree is not what unpack reported: ${differences.slice(0, 3).join('; ')}${differences.length > 3 ? ` (and ${differences.length - 3} more)` : ''}`);
    const escaping = escapingLinks(found);
    if (escaping.length > 0) throw new StoreError('UNPACK_MISMATCH', `${incoming.name} ${incoming.version}: the symlink ${escaping[0]} points outside the package`);
    checkEntryPoints(incoming, found);
    files = await sealEntries(fs, staging, found);
    await fs.rename(staging, dir);
  } catch (e) {
    await fs.removeTree(staging).catch(() => undefined);
    throw e;
  }
  await fs.chmod(dir, STORE_PATH_DIR_MODE);
  const record: StoreRecord = {
    id,
    name: incoming.name,
    version: incoming.version,
    remote: incoming.remote,
    targetPath: incoming.targetPath,
    targetSha256: incoming.targetSha256,
    manifest: { ...incoming.manifest, entryPoints: { ...incoming.manifest.entryPoints }, permissions: [...incoming.manifest.permissions] },
    files,
  };
  return { record, isNew: true };
}

/**
 * Makes the store paths this commit placed durable, then records them: one flush for every
 * path's content, modes and rename, the records written (temporary file, rename), one flush for
 * them. A record is durable only after the tree it describes, and both before any generation
 * names them. The paths it `reused` (present from an earlier commit that may have been killed
 * before its last flush) are flushed with the first: a generation never names what a power cut
 * could still take away.
 */
async function recordStorePaths(ctx: StoreContext, added: readonly StoreRecord[], reused: readonly StoreRecord[]): Promise<void> {
  if (added.length === 0 && reused.length === 0) return;
  const { layout, fs } = ctx;
  const recordPathOf = (r: StoreRecord): string => join(layout.store, `${r.id}.json`);
  await fs.flush({ trees: [...added, ...reused].map((r) => join(layout.store, r.id)), files: reused.map(recordPathOf), directories: [layout.store] });
  if (added.length === 0) return;
  for (const record of added) await fs.writeFileAtomic(recordPathOf(record), documentBytes(record), 0o444, { durable: false });
  await fs.flush({ files: added.map(recordPathOf), directories: [layout.store] });
}

/** Every entry point names a regular file of the package. */
function checkEntryPoints(incoming: IncomingPackage, files: readonly StoreFile[]): void {
  const entryPoints = Object.entries(incoming.manifest.entryPoints);
  if (entryPoints.length > STORE_LIMITS.maxEntryPointsPerPackage) throw new StoreError('BAD_PLAN', `${incoming.name} declares ${entryPoints.length} entry points, at most ${STORE_LIMITS.maxEntryPointsPerPackage} are allowed`);
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const [command, path] of entryPoints) {
    checkName(command, `command of ${incoming.name}`);
    if (!isPackagePath(path) || byPath.get(path)?.type !== 'file') {
      throw new StoreError('BAD_PLAN', `${incoming.name} ${incoming.version}: entry point ${command} -> ${JSON.stringify(path.slice(0, 128))} is not a file of the package`);
    }
  }
}

/** The bin links of a generation: command -> target; two packages providing one command is BAD_PLAN. */
function binLinks(packages: ReadonlyMap<string, LinkedPackage>): Array<[string, string]> {
  const owner = new Map<string, string>();
  const links: Array<[string, string]> = [];
  for (const [name, linked] of packages) {
    for (const [command, path] of Object.entries(linked.entryPoints)) {
      const other = owner.get(command);
      if (other !== undefined) throw new StoreError('BAD_PLAN', `both ${other} and ${name} provide the command ${command}`, { hint: 'install only one of them' });
      owner.set(command, name);
      links.push([command, binLinkTarget(linked.id, path)]);
    }
  }
  return links.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
