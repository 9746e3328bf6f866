// store/durable-fs.ts: every write the store makes, and the step hook at each of its boundaries
// (docs/store.md "Order of writes" and "Test hooks"; the issue: "durable by default: file
// contents, directories and manifests are fsynced before the switch"). Each method calls
// `step(label)` before the write, fsync, rename, symlink, chmod or removal it performs, so the
// crash test can kill the process at every one of them (io/crash-points.ts); nothing else in
// src/store/ writes to the store's paths.
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

  /** Writes a new file that must not exist yet (inside a staging directory), then fsyncs it. */
  async writeNewFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
    this.step(this.label('write', path));
    const handle = await open(path, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.chmod(mode);
      this.step(this.label('fsync', path));
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /**
   * Replaces `path` atomically (docs/design.md "Crash safety"): a temporary file beside it, fsync,
   * rename over it, fsync of the directory. Readers see the old file or the new one.
   */
  async writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
    const temporary = join(dirname(path), `.${basename(path)}.${randomSuffix()}.tmp`);
    try {
      await this.writeNewFile(temporary, data, mode);
      await this.rename(temporary, path);
    } catch (e) {
      await unlink(temporary).catch(() => undefined);
      throw e;
    }
    await this.fsync(dirname(path));
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

  /** chmod and fsync of one entry (a symlink has no mode of its own: nothing to do). */
  async seal(path: string, mode: number): Promise<void> {
    this.step(this.label('seal', path));
    await chmod(path, mode);
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
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
