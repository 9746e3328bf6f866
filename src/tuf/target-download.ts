// tuf/target-download.ts: fetching a target file (TUF spec 1.0.x 5.7) and finding one already
// downloaded. A download streams at most the length the targets metadata lists (5.7.3), hashing
// every listed hash while it writes a temporary file beside the destination; the file is fsynced
// and renamed into place only when length and hashes match, so a refused download leaves nothing.
// With consistent snapshots the URL is DIR/HASH.NAME (the first hash listed).
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { short } from '../errors/index.js';
import type { Fetcher } from '../io/fetch.js';
import { TufError } from './errors.js';
import { SUPPORTED_HASHES } from './trusted-set.js';

/** The URL of a target under `base` (a directory URL); `hashPrefixed` for consistent snapshots (HASH.NAME). */
export function targetUrl(base: string, info: TargetFile, hashPrefixed: boolean): string {
  let remotePath = info.path;
  if (hashPrefixed) {
    const first = Object.values(info.hashes)[0]!;
    const slash = remotePath.lastIndexOf('/');
    remotePath = `${remotePath.slice(0, slash + 1)}${first}.${remotePath.slice(slash + 1)}`;
  }
  return base + remotePath.replace(/[?#%]/g, (c) => encodeURIComponent(c));
}

/** `path` if it is a regular file with the length and every hash `info` lists, else undefined (never throws). */
export async function findCachedTarget(info: TargetFile, path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size !== info.length) return undefined;
    const hashers = targetHashers(info);
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      for (const [, h] of hashers) h.update(chunk as Buffer);
    }
    return hashers.every(([algorithm, h]) => h.digest('hex') === info.hashes[algorithm]!.toLowerCase()) ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * 5.7.3 for one target: streams `url` (at most info.length bytes) through the hashes into a
 * temporary file beside `path`, checks length and hashes, fsyncs the file and renames it to
 * `path`. The directory is the caller's to fsync. Returns `path`.
 */
export async function downloadTargetFile(fetcher: Fetcher, info: TargetFile, url: string, path: string): Promise<string> {
  const hashers = targetHashers(info);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  let handle: FileHandle | undefined;
  let writer: BatchedWriter | undefined;
  try {
    handle = await openNew(tmp);
    writer = new BatchedWriter(handle);
    let length = 0;
    for await (const chunk of fetcher.stream(url, info.length)) {
      length += chunk.byteLength;
      if (length > info.length) {
        throw new TufError('LENGTH_MISMATCH', `${info.path}: more than the ${info.length} bytes its targets metadata lists`);
      }
      for (const [, h] of hashers) h.update(chunk);
      await writer.push(chunk);
    }
    await writer.finish();
    if (length !== info.length) {
      throw new TufError('LENGTH_MISMATCH', `${info.path}: received ${length} bytes, its targets metadata lists ${info.length}`);
    }
    for (const [algorithm, h] of hashers) {
      const actual = h.digest('hex');
      const expected = info.hashes[algorithm]!.toLowerCase();
      if (actual !== expected) {
        throw new TufError('HASH_MISMATCH', `${info.path}: ${algorithm} is ${short(actual)}, its targets metadata lists ${short(expected)}`, {
          hint: 'the mirror served different bytes than the repository signed; try another mirror',
        });
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
    return path;
  } catch (e) {
    await writer?.settle();
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** One hasher per hash the targets metadata lists; refuses a target with none, or with one it cannot compute. */
function targetHashers(info: TargetFile): Array<[string, Hash]> {
  const algorithms = Object.keys(info.hashes);
  if (algorithms.length === 0) throw new TufError('HASH_MISMATCH', `${info.path}: its targets metadata lists no hash`);
  for (const a of algorithms) {
    if (!SUPPORTED_HASHES.has(a)) {
      throw new TufError('HASH_MISMATCH', `${info.path}: hash algorithm "${a}" is not supported; cannot verify it`);
    }
  }
  return algorithms.map((a) => [a, createHash(a)]);
}

/**
 * Writes a download to its temporary file in batches of about 1 MiB while the next chunks are
 * received and hashed, so disk writes overlap hashing; at most a few batches wait at a time.
 */
class BatchedWriter {
  private static readonly BATCH_BYTES = 1 << 20;
  private static readonly MAX_QUEUED = 4;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private queued = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle) {}

  async push(chunk: Uint8Array): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes < BatchedWriter.BATCH_BYTES) return;
    this.flush();
    if (this.queued >= BatchedWriter.MAX_QUEUED) await this.queue;
  }

  /** Writes what is left and waits for every write; throws the first write error. */
  async finish(): Promise<void> {
    this.flush();
    await this.queue;
  }

  /** Waits for writes in flight, ignoring their errors (before closing after a failure). */
  async settle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const batch = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.queued++;
    this.queue = this.queue.then(async () => {
      await this.handle.write(batch);
      this.queued--;
    });
    this.queue.catch(() => undefined); // observed by finish(), push() or settle()
  }
}

/** Creates `path` exclusively, creating its directory first only if it is missing (one call per file otherwise). */
async function openNew(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx', 0o644);
  }
}
