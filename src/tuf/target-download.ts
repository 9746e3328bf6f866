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
import { short, StorageError } from '../errors/index.js';
import { crashPoint } from '../io/crash-points.js';
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
 * 5.7.3 for one target: streams `url` (at most info.length bytes) into a temporary file beside
 * `path`, every listed hash computed while the bytes arrive (one pass, no second read), the file
 * written once in batches and fsynced once; then checks length and hashes and renames it to
 * `path`. A refusal (too long, too short, a wrong hash, a fetch or write error) deletes the
 * temporary file. The directory is the caller's to fsync. Returns `path`.
 */
export async function downloadTargetFile(fetcher: Fetcher, info: TargetFile, url: string, path: string): Promise<string> {
  const hashers = targetHashers(info);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  let handle: FileHandle | undefined;
  let writer: BatchedWriter | undefined;
  try {
    crashPoint(`write ${tmp}`);
    handle = await openNew(tmp);
    writer = new BatchedWriter(handle);
    let length = 0;
    for await (const chunk of fetcher.stream(url, info.length)) {
      length += chunk.byteLength;
      if (length > info.length) {
        throw new TufError('LENGTH_MISMATCH', `${info.path}: more than the ${info.length} bytes its targets metadata lists`);
      }
      for (const [, h] of hashers) h.update(chunk);
      const full = writer.push(chunk);
      if (full !== undefined) await full;
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
    // Verified before the one fsync: a refused download costs no flush to disk.
    crashPoint(`fsync ${tmp}`);
    await handle.sync();
    await handle.close();
    handle = undefined;
    crashPoint(`rename ${tmp} -> ${path}`);
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
 * Writes a download to its temporary file while the next chunks are received and hashed: the
 * chunks are gathered into batches of about 1 MiB, each written with one writev (no copy into a
 * batch buffer), one batch after another so the file is written once, in order. The received
 * chunks are kept only until their batch is written, and at most MAX_QUEUED_BYTES wait at a time
 * (push() then returns a promise to await), so memory stays bounded whatever the file's size.
 */
class BatchedWriter {
  /** About the size at which a write no longer gets faster per byte; 16 socket reads of 64 KiB. */
  private static readonly BATCH_BYTES = 1 << 20;
  /** writev takes at most IOV_MAX (1024 on Linux) buffers at once; a slow mirror's chunks are small. */
  private static readonly BATCH_CHUNKS = 1024;
  /** Bytes received but not yet written, at most: the memory a download holds. */
  private static readonly MAX_QUEUED_BYTES = 4 << 20;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes handed to writes that have not completed. */
  private writingBytes = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Set when a write failed: the download stops at the next push instead of receiving the rest. */
  private failed = false;

  constructor(private readonly handle: FileHandle) {}

  /** Queues `chunk`; returns a promise to await before the next push when too much is waiting. */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.byteLength === 0) return undefined; // would pile up in a batch that never fills
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes < BatchedWriter.BATCH_BYTES && this.pending.length < BatchedWriter.BATCH_CHUNKS) return undefined;
    this.flush();
    return this.failed || this.writingBytes > BatchedWriter.MAX_QUEUED_BYTES ? this.queue : undefined;
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
    const batch = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.writingBytes += bytes;
    this.queue = this.queue.then(async () => {
      const { bytesWritten } = await this.handle.writev(batch);
      // libuv repeats a short write until everything is written or it fails; guard anyway.
      if (bytesWritten !== bytes) throw new StorageError('WRITE_FAILED', `short write to a download's temporary file: ${bytesWritten} of ${bytes} bytes`);
      this.writingBytes -= bytes;
    });
    // Observed by finish(), push() or settle().
    this.queue.catch(() => {
      this.failed = true;
    });
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
