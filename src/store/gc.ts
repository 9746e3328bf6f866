// store/gc.ts: removing what no kept generation needs (docs/store.md "Garbage collection";
// docs/design.md "Client store"). Generations beyond the newest
// `keepGenerations` go, except the current one (always kept: it is the last one activated); then
// every store path and record no remaining generation references, stray files of interrupted
// writes, and everything in ROOT/tmp. Each removal is atomic from the store's point of view: a
// generation or store path is first renamed into ROOT/tmp (a record unlinked before its
// directory), so a crash leaves only leftovers in tmp, never a half-removed generation.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreContext } from './commit.js';
import { randomSuffix } from './durable-fs.js';
import { StoreError } from './errors.js';
import { generationNumbers, generationPath, loadGeneration, readCurrentNumber } from './generations.js';
import { STORE_ID_PATTERN } from './layout.js';

export interface GcOptions {
  /** Keep the newest N generations (the current one always); default: every generation. */
  keepGenerations?: number;
}

export interface GcResult {
  /** Numbers of the generations removed. */
  removedGenerations: number[];
  /** Store paths, records and leftovers removed (absolute paths). */
  removedPaths: string[];
  /** Bytes of regular files removed. */
  freedBytes: number;
}

export async function collectGarbage(ctx: StoreContext, options: GcOptions = {}): Promise<GcResult> {
  const { layout, fs } = ctx;
  const keep = options.keepGenerations ?? Number.POSITIVE_INFINITY;
  if (keep !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(keep) || keep < 0)) {
    throw new StoreError('BAD_PLAN', `keepGenerations must be a non-negative integer, found ${String(keep)}`);
  }
  const current = await readCurrentNumber(layout);
  const newestFirst = (await generationNumbers(layout)).reverse();
  const kept = newestFirst.filter((n, i) => i < keep || n === current);
  const removedGenerations = newestFirst.filter((n) => !kept.includes(n)).sort((a, b) => a - b);
  // Every kept manifest is read before anything is removed: what an unreadable one references is unknown.
  const referenced = new Set<string>();
  for (const number of kept) {
    const manifest = await loadGeneration(layout, number);
    for (const p of Object.values(manifest.packages)) referenced.add(p.id);
  }
  const result: GcResult = { removedGenerations, removedPaths: [], freedBytes: 0 };

  // Names this run moves into ROOT/tmp whose bytes are already counted.
  const counted = new Set<string>();
  for (const number of removedGenerations) {
    const trash = `trash-gen-${number}-${randomSuffix()}`;
    result.freedBytes += await treeBytes(generationPath(layout, number));
    counted.add(trash);
    await fs.rename(generationPath(layout, number), join(layout.tmp, trash));
  }
  if (removedGenerations.length > 0) await fs.fsync(layout.generations);

  // Records first: a store path without its record is never used again (commit re-unpacks it).
  const storeNames = (await readdir(layout.store)).sort();
  const doomedDirectories: string[] = [];
  let storeChanged = false;
  for (const name of storeNames) {
    const path = join(layout.store, name);
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : name;
    if (STORE_ID_PATTERN.test(id) && referenced.has(id)) continue;
    const status = await lstat(path);
    if (status.isDirectory()) {
      doomedDirectories.push(path);
      continue;
    }
    result.freedBytes += status.isFile() ? status.size : 0;
    result.removedPaths.push(path);
    await fs.unlink(path);
    storeChanged = true;
  }
  if (storeChanged) await fs.fsync(layout.store);
  for (const path of doomedDirectories) {
    result.freedBytes += await treeBytes(path);
    result.removedPaths.push(path);
    const trash = `trash-${randomSuffix()}`;
    counted.add(trash);
    await fs.chmod(path, 0o755); // renaming a directory to another parent updates its '..'
    await fs.rename(path, join(layout.tmp, trash));
  }
  if (doomedDirectories.length > 0) await fs.fsync(layout.store);

  // ROOT/tmp: staging of interrupted commits and what was just moved there.
  const leftovers = (await readdir(layout.tmp)).sort();
  for (const name of leftovers) {
    const path = join(layout.tmp, name);
    if (!counted.has(name)) {
      result.freedBytes += await treeBytes(path);
      result.removedPaths.push(path);
    }
    await fs.removeTree(path);
  }
  if (leftovers.length > 0) await fs.fsync(layout.tmp);

  // Links of switches interrupted before their rename.
  for (const name of (await readdir(layout.root)).sort()) {
    if (!name.startsWith('current.tmp-')) continue;
    const path = join(layout.root, name);
    result.removedPaths.push(path);
    await fs.unlink(path);
  }
  return result;
}

/** Bytes of the regular files under `path` (or of `path` itself). */
async function treeBytes(path: string): Promise<number> {
  let total = 0;
  const pending = [path];
  while (pending.length > 0) {
    const p = pending.pop()!;
    const status = await lstat(p).catch(() => undefined);
    if (status === undefined) continue;
    if (status.isFile()) total += status.size;
    else if (status.isDirectory()) for (const name of await readdir(p)) pending.push(join(p, name));
  }
  return total;
}
