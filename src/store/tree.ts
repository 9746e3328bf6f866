// store/tree.ts: the content of one store path as the store records and re-checks it (docs/store.md
// "Records"): every file, directory and symlink under it, with its mode, size, sha256 or link
// target; read-only modes (files 0444, or 0555 when executable; directories 0555); sealing a
// staged tree to them, deepest entries first (those of one depth several at once), each fsynced.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { hashFile } from '../crypto/index.js';
import { join } from 'node:path';
import type { DurableFs } from './durable-fs.js';
import { StoreError } from './errors.js';
import { STORE_LIMITS } from './layout.js';
import type { ExtractedFile } from '../package/index.js';

/**
 * One entry of a store path: the package layer's ExtractedFile, what extraction reports and a
 * record lists. Read back from disk (scanTree), a symlink's size is lstat's (its target's length).
 */
export type StoreFile = ExtractedFile;

/** What scanning found that a store path may not hold (a FIFO, a socket, a device). */
export interface UnsupportedEntry {
  path: string;
  kind: string;
}

/**
 * Every entry under `dir` (not `dir` itself), sorted by path, each file with its sha256 unless
 * `hash` is false. Entries that are neither file, directory nor symlink are returned in
 * `unsupported`, not followed. Over STORE_LIMITS.maxFilesPerPackage entries is StoreError TOO_LARGE.
 */
export async function scanTree(dir: string, options: { hash?: boolean } = {}): Promise<{ files: StoreFile[]; unsupported: UnsupportedEntry[] }> {
  const hash = options.hash !== false;
  const files: StoreFile[] = [];
  const unsupported: UnsupportedEntry[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const names = (await readdir(rel === '' ? dir : join(dir, rel))).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (files.length + unsupported.length >= STORE_LIMITS.maxFilesPerPackage) {
        throw new StoreError('TOO_LARGE', `${dir} holds more than ${STORE_LIMITS.maxFilesPerPackage} entries`);
      }
      if (path.length > STORE_LIMITS.maxPathChars) throw new StoreError('TOO_LARGE', `${dir}: a path of ${path.length} characters (at most ${STORE_LIMITS.maxPathChars})`);
      const full = join(dir, path);
      const status = await lstat(full);
      const mode = status.mode & 0o7777;
      if (status.isDirectory()) {
        files.push({ path, type: 'directory', mode, size: 0 });
        pending.push(path);
      } else if (status.isFile()) {
        files.push({ path, type: 'file', mode, size: status.size, ...(hash ? { sha256: (await hashFile(full)).hashes.sha256! } : {}) });
      } else if (status.isSymbolicLink()) {
        const linkTarget = await readlink(full);
        files.push({ path, type: 'symlink', mode, size: Buffer.byteLength(linkTarget), linkTarget });
      } else {
        unsupported.push({ path, kind: status.isFIFO() ? 'a FIFO' : status.isSocket() ? 'a socket' : 'a device' });
      }
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, unsupported };
}

/** The read-only mode of an entry: files 0444 (0555 when any execute bit was set), directories 0555. */
export function readOnlyMode(type: StoreFile['type'], mode: number): number {
  if (type === 'directory') return 0o555;
  if (type === 'file') return (mode & 0o111) !== 0 ? 0o555 : 0o444;
  return mode;
}

/** The read-only mode of a store path's own directory. */
export const STORE_PATH_DIR_MODE = 0o555;

/**
 * Seals the entries of the staged tree `dir` (not `dir` itself, which must stay writable to be
 * renamed into the store): each file and directory is chmodded read-only (the commit's flush
 * makes it durable). Returns the entries with their new modes.
 */
export async function sealEntries(fs: DurableFs, dir: string, files: readonly StoreFile[]): Promise<StoreFile[]> {
  const sealed = files.map((f) => ({ ...f, mode: readOnlyMode(f.type, f.mode) }));
  await forEachConcurrently(sealed.filter((f) => f.type !== 'symlink'), CONCURRENT_SEALS, (entry) => fs.chmod(join(dir, entry.path), entry.mode));
  return sealed;
}

/** Entries chmodded (and bin links made) at once: libuv runs at most UV_THREADPOOL_SIZE, default 4, at the same moment. */
export const CONCURRENT_SEALS = 16;

/**
 * Runs `task` over `items` with at most `limit` in flight, in order of `items`. On a failure no
 * new task starts, and it is thrown once every started task has settled (so the caller's
 * clean-up never races a write still in flight).
 */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * The differences between what unpack reported and what is on disk, ignoring modes (the store
 * sets its own): paths, types, sizes, link targets and (where `found` has them) digests must
 * agree; every reported file must carry its sha256.
 */
export function unpackDifferences(reported: readonly StoreFile[], found: readonly StoreFile[]): string[] {
  const byPath = new Map(found.map((f) => [f.path, f]));
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const r of reported) {
    seen.add(r.path);
    const f = byPath.get(r.path);
    if (f === undefined) differences.push(`${r.path} is reported but not on disk`);
    else if (f.type !== r.type) differences.push(`${r.path} is reported as ${r.type} but is a ${f.type}`);
    else if (r.type === 'file' && r.sha256 === undefined) differences.push(`${r.path} is reported without its sha256`);
    else if (r.type === 'file' && (f.size !== r.size || (f.sha256 !== undefined && f.sha256 !== r.sha256))) differences.push(`${r.path} differs from what was reported (size or sha256)`);
    else if (r.type === 'symlink' && f.linkTarget !== r.linkTarget) differences.push(`${r.path} links to ${JSON.stringify(f.linkTarget)}, reported ${JSON.stringify(r.linkTarget)}`);
  }
  for (const f of found) if (!seen.has(f.path)) differences.push(`${f.path} is on disk but not reported`);
  return differences;
}

/** Symlinks whose target is absolute or leaves the store path (package extraction refuses them too). */
export function escapingLinks(files: readonly StoreFile[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f.type !== 'symlink') continue;
    const target = f.linkTarget ?? '';
    if (target.startsWith('/') || target === '') {
      out.push(f.path);
      continue;
    }
    const parts = f.path.split('/').slice(0, -1);
    let escapes = false;
    for (const part of target.split('/')) {
      if (part === '..') {
        if (parts.length === 0) escapes = true;
        else parts.pop();
      } else if (part !== '.' && part !== '') parts.push(part);
    }
    if (escapes) out.push(f.path);
  }
  return out;
}
