// io/atomic-write.ts: the one way cairn writes a file that must survive a crash (docs/design.md
// "Crash safety"): write a temporary file in the same directory, fsync it, rename it over the
// target, fsync the directory. Readers see the old file or the new one, never a mix.
import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StorageError } from '../errors/index.js';
import { crashPoint } from './crash-points.js';

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644; private keys use 0o600). */
  mode?: number;
  /** Create missing parent directories (default true). */
  mkdirs?: boolean;
  /**
   * fsync the file and its directory (default true). Only a cache whose every use re-verifies
   * it may pass false: the write stays atomic (old or new content), but a crash may lose it.
   */
  durable?: boolean;
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirs !== false) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    crashPoint(`write ${tmp}`);
    handle = await open(tmp, 'wx', options.mode ?? 0o644);
    await handle.writeFile(data);
    if (options.durable !== false) {
      crashPoint(`fsync ${tmp}`);
      await handle.sync();
    }
    await handle.close();
    handle = undefined;
    crashPoint(`rename ${tmp} -> ${path}`);
    await rename(tmp, path);
    if (options.durable !== false) {
      crashPoint(`fsync ${dir}`);
      await fsyncDirectory(dir);
    }
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new StorageError('WRITE_FAILED', `could not write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** fsync a directory so that a rename inside it is durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
