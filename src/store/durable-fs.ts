// store/durable-fs.ts: every write the store makes, and the step hook at each of its boundaries
// (docs/store.md "Order of writes" and "Test hooks"; the issue: "durable by default: file
// contents, directories and manifests are fsynced before the switch"). Each method calls
// `step(label)` before the write, fsync, rename, symlink, chmod or removal it performs, so the
// crash test can kill the process at every one of them (io/crash-points.ts); nothing else in
// src/store/ writes to the store's paths.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { release } from 'node:os';
import { chmod, lstat, mkdir, open, readdir, rename, rm, symlink, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, relative } from 'node:path';
import type { StepHook } from '../io/index.js';

/** Both hooks, in order; undefined ones are skipped. */
export function combineStepHooks(...hooks: Array<StepHook | undefined>): StepHook {
  const present = hooks.filter((h): h is StepHook => h !== undefined);
  return (label) => {
    for (const hook of present) hook(label);
  };
}

/** A random suffix for staging names (current.tmp-RANDOM, tmp/unpack-ID-RANDOM). */
export function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

/** The store's writes under one root, each announced to the step hook with a path relative to the root. */
export class DurableFs {
  constructor(
    readonly root: string,
    readonly step: StepHook,
  ) {}

  private label(operation: string, path: string): string {
    const rel = relative(this.root, path);
    return `${operation} ${rel === '' ? '.' : rel}`;
  }

  /** Creates a directory (its parent must exist) with `mode`; fsync the parent to make it durable. */
  async mkdir(path: string, mode = 0o755): Promise<void> {
    this.step(this.label('mkdir', path));
    await mkdir(path, { mode });
    await chmod(path, mode); // mkdir's mode is filtered by the umask
  }

  /** fsync of a file or directory (its content, or its entries after a rename or creation inside it). */
  async fsync(path: string): Promise<void> {
    this.step(this.label('fsync', path));
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Writes a new file that must not exist yet (inside a staging directory), then fsyncs it (unless `durable` is false: a later flush will). */
  async writeNewFile(path: string, data: string | Uint8Array, mode = 0o644, options: { durable?: boolean } = {}): Promise<void> {
    this.step(this.label('write', path));
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.chmod(mode);
      if (options.durable !== false) {
        this.step(this.label('fsync', path));
        await handle.sync();
      }
    } finally {
      await handle.close();
    }
  }

  /**
   * Makes durable everything written since the last flush: the content and metadata of every entry
   * of `trees` and of `files`, and the entries of `directories` (renames into them). One syncfs(2) of the file
   * system holding the store (`sync -f ROOT`, GNU coreutils), as OSTree ends a transaction: a
   * package of thousands of files costs one flush instead of one fsync each. Where `sync -f` is
   * missing or fails, each entry is fsynced instead, deepest first.
   */
  async flush(what: { trees?: readonly string[]; files?: readonly string[]; directories?: readonly string[] }): Promise<void> {
    this.step(this.label('syncfs', this.root));
    if (await syncFileSystem(this.root)) return;
    for (const tree of what.trees ?? []) {
      for (const path of await entriesDeepestFirst(tree)) await this.fsync(path);
    }
    for (const path of [...(what.files ?? []), ...(what.directories ?? [])]) await this.fsync(path);
  }

  /**
   * Replaces `path` atomically (docs/design.md "Crash safety"): a temporary file beside it, fsync,
   * rename over it, fsync of the directory. Readers see the old file or the new one.
   */
  async writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644, options: { durable?: boolean } = {}): Promise<void> {
    const durable = options.durable !== false;
    const temporary = join(dirname(path), `.${basename(path)}.${randomSuffix()}.tmp`);
    try {
      await this.writeNewFile(temporary, data, mode, { durable });
      await this.rename(temporary, path);
    } catch (e) {
      await unlink(temporary).catch(() => undefined);
      throw e;
    }
    if (durable) await this.fsync(dirname(path));
  }

  /** rename(2); fsync the directories involved afterwards to make it durable. */
  async rename(from: string, to: string): Promise<void> {
    this.step(`rename ${relative(this.root, from)} -> ${relative(this.root, to)}`);
    await rename(from, to);
  }

  /** Creates the symlink `path` -> `target`. */
  async symlink(target: string, path: string): Promise<void> {
    this.step(this.label('symlink', path));
    await symlink(target, path);
  }

  /** chmod of one entry. */
  async chmod(path: string, mode: number): Promise<void> {
    this.step(this.label('chmod', path));
    await chmod(path, mode);
  }

  /** Removes one file or symlink. */
  async unlink(path: string): Promise<void> {
    this.step(this.label('unlink', path));
    await unlink(path);
  }

  /** Removes a tree (read-only directories are made writable first); no error when it is gone. */
  async removeTree(path: string): Promise<void> {
    this.step(this.label('remove', path));
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

/** chmod u+w on every directory of a tree (read-only store paths), so that its entries can be removed. */
export async function makeWritable(path: string): Promise<void> {
  const pending = [path];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let status;
    try {
      status = await lstat(dir);
    } catch {
      continue;
    }
    if (!status.isDirectory()) continue;
    if ((status.mode & 0o700) !== 0o700) await chmod(dir, (status.mode & 0o7777) | 0o700).catch(() => undefined);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) pending.push(join(dir, entry.name));
  }
}

/**
 * GNU coreutils' sync, by absolute path (never looked up on PATH: the system scope runs as root),
 * where syncfs(2) keeps its promise: Linux from 5.8 on, where it also reports a writeback error
 * (before, it could lose one that an fsync would report; other systems' sync ignores `-f`).
 * Undefined elsewhere: the store fsyncs each entry instead.
 */
const SYNC_PROGRAM: string | undefined = (() => {
  if (process.platform !== 'linux' || !kernelAtLeast(release(), 5, 8)) return undefined;
  return ['/usr/bin/sync', '/bin/sync'].find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
})();

/** Whether a Linux release string such as "6.1.0-18-amd64" is at least major.minor. */
function kernelAtLeast(text: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(text);
  if (m === null) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

let syncUnavailable = SYNC_PROGRAM === undefined;

/** syncfs(2) of the file system holding `path`, through `sync -f`; false when that is unavailable or fails (the caller fsyncs instead). */
function syncFileSystem(path: string): Promise<boolean> {
  if (syncUnavailable || process.env.CAIRN_STORE_FLUSH === 'fsync') return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile(SYNC_PROGRAM!, ['-f', '--', path], { timeout: SYNC_TIMEOUT_MS }, (error) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT') syncUnavailable = true;
      resolve(error === null);
    });
  });
}

/** Longest a `sync -f` may take before the store falls back to fsyncs (a flush of a busy disk can take long, not forever). */
const SYNC_TIMEOUT_MS = 10 * 60_000;

/** Every entry of the tree `root` (files, directories, symlinks excluded), children before their directory, `root` last. */
async function entriesDeepestFirst(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile()) out.push(path);
    }
    out.push(dir);
  };
  await visit(root);
  return out;
}
