// mirror/small-file-cache.ts: the mirror's hot path (docs/cli.md "Mirrors: `cairn serve DIR`").
// Every client polls timestamp.json, so small files are kept in memory with their response
// headers, keyed by the resolved request path, and served without touching the disk for at most
// FILE_CACHE_LIMITS.revalidateAfterMs after the check that found them. The first request after
// that checks again (realpath under the root, open, fstat on the handle: served-file.ts) and
// keeps the bytes when the file's identity (device, inode, size, change and modification times)
// is unchanged, or reads the new version whole. So:
// - a served copy is always one version of the file: bytes, length and entity tag come from one
//   read of one open handle, checked unchanged afterwards (a publisher renames files into place);
// - a new version, a removed file, or a symlink that now leaves the root is seen within
//   revalidateAfterMs plus one check;
// - concurrent requests for a path being checked share that one check.
// Larger files are not kept: the lookup hands the open file to the caller to stream. The cache is
// bounded in entries and bytes; the least recently checked entries go first.
import { MirrorError } from './errors.js';
import { openServedFile, readWholeFile, sameIdentity, type FileIdentity, type OpenedFile } from './served-file.js';
import { cacheControlFor, contentEntityTag, contentTypeFor, isCompressible, isImmutableName, type Validators } from './response-headers.js';

export const FILE_CACHE_LIMITS = {
  /** Files up to this size are kept in memory (TUF metadata, log files); larger ones are streamed. */
  maxFileBytes: 1 << 20,
  /** All kept bytes together; a mirror's hot set (timestamp, snapshot, log head) is far smaller. */
  maxTotalBytes: 64 << 20,
  /** Kept files; each is a real file under the root, so a client cannot grow this with made-up paths. */
  maxEntries: 4096,
  /** How long a kept file is served without looking at the disk: the bound on serving an old version. */
  revalidateAfterMs: 500,
  /** Reads of a file that changes while it is read (written in place) before it is refused. */
  maxReadAttempts: 3,
} as const;

export type FileCacheLimits = { readonly [K in keyof typeof FILE_CACHE_LIMITS]: number };

/** One version of one small file, ready to send. */
export interface CachedFile {
  readonly bytes: Buffer;
  readonly identity: FileIdentity;
  readonly validators: Validators;
  /** Headers of a 200 answer, as a flat [name, value, ...] list for writeHead. */
  readonly okHeaders: readonly string[];
  /** Headers of a 304 answer. */
  readonly notModifiedHeaders: readonly string[];
  /** When the check that found this version started (the cache's clock). */
  checkedAt: number;
  /**
   * Its gzip-compressed representation, made on the first request that accepts it (compressible
   * files only; null when compressing would not make it smaller). Not counted in the cache's
   * bytes: it is never larger than the file.
   */
  gzipped?: CachedRepresentation | null;
}

/** One representation of a cached file: what a 200 and a 304 answer send. */
export interface CachedRepresentation {
  readonly bytes: Buffer;
  readonly validators: Validators;
  readonly okHeaders: readonly string[];
  readonly notModifiedHeaders: readonly string[];
}

export type FileLookup = { kind: 'cached'; file: CachedFile } | { kind: 'stream'; file: OpenedFile };

export interface SmallFileCacheOptions {
  /** The cache's clock in ms (tests drive it); default Date.now. */
  now?: () => number;
  limits?: Partial<FileCacheLimits>;
}

export class SmallFileCache {
  private readonly entries = new Map<string, CachedFile>();
  /** Checks under way, by path: what a concurrent request for the same path waits for (undefined: a large file). */
  private readonly checks = new Map<string, Promise<CachedFile | undefined>>();
  private totalBytes = 0;
  private readonly now: () => number;
  private readonly limits: FileCacheLimits;

  constructor(
    /** The served root, a realpath. */
    private readonly realRoot: string,
    options: SmallFileCacheOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.limits = { ...FILE_CACHE_LIMITS, ...options.limits };
  }

  /** The kept version of `path` if it was checked less than revalidateAfterMs ago: no disk access. */
  fresh(path: string): CachedFile | undefined {
    const entry = this.entries.get(path);
    return entry !== undefined && this.now() - entry.checkedAt < this.limits.revalidateAfterMs ? entry : undefined;
  }

  /** Number of kept files and their bytes (for tests and logs). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.totalBytes };
  }

  /**
   * Checks `path` on disk: a small file comes back kept (read again only if it changed), a large
   * one open for the caller to stream and close. Throws MirrorError (NOT_FOUND, OUTSIDE_ROOT,
   * NOT_REGULAR_FILE, CHANGED_WHILE_READ, READ_FAILED), and then forgets any kept version.
   */
  async lookup(path: string): Promise<FileLookup> {
    const pending = this.checks.get(path);
    if (pending !== undefined) {
      const shared = await pending;
      if (shared !== undefined) return { kind: 'cached', file: shared };
      return this.check(path); // a large file: each request streams from its own handle
    }
    const result = this.check(path);
    const forWaiters = result.then((r) => (r.kind === 'cached' ? r.file : undefined));
    forWaiters.catch(() => undefined); // waiters see the refusal; none waiting is not an unhandled rejection
    this.checks.set(path, forWaiters);
    try {
      return await result;
    } finally {
      this.checks.delete(path);
    }
  }

  private async check(path: string): Promise<FileLookup> {
    for (let attempt = 1; ; attempt++) {
      const startedAt = this.now();
      let opened: OpenedFile;
      try {
        opened = await openServedFile(this.realRoot, path);
      } catch (e) {
        this.forget(path);
        throw e;
      }
      if (opened.size > this.limits.maxFileBytes) {
        this.forget(path);
        return { kind: 'stream', file: opened };
      }
      try {
        const kept = this.entries.get(path);
        if (kept !== undefined && sameIdentity(kept.identity, opened.identity)) {
          kept.checkedAt = startedAt;
          this.touch(path, kept);
          return { kind: 'cached', file: kept };
        }
        const bytes = await readWholeFile(opened, path);
        const file = cachedFile(path, bytes, opened, startedAt);
        this.keep(path, file);
        return { kind: 'cached', file };
      } catch (e) {
        this.forget(path);
        if (!(e instanceof MirrorError && e.code === 'CHANGED_WHILE_READ' && attempt < this.limits.maxReadAttempts)) throw e;
      } finally {
        await opened.handle.close().catch(() => undefined);
      }
    }
  }

  /** Moves a checked entry to the young end of the eviction order. */
  private touch(path: string, file: CachedFile): void {
    this.entries.delete(path);
    this.entries.set(path, file);
  }

  private keep(path: string, file: CachedFile): void {
    this.forget(path);
    if (file.bytes.length > this.limits.maxTotalBytes) return;
    for (const [oldest, old] of this.entries) {
      if (this.entries.size < this.limits.maxEntries && this.totalBytes + file.bytes.length <= this.limits.maxTotalBytes) break;
      this.entries.delete(oldest);
      this.totalBytes -= old.bytes.length;
    }
    this.entries.set(path, file);
    this.totalBytes += file.bytes.length;
  }

  private forget(path: string): void {
    const old = this.entries.get(path);
    if (old === undefined) return;
    this.entries.delete(path);
    this.totalBytes -= old.bytes.length;
  }
}

function cachedFile(path: string, bytes: Buffer, opened: OpenedFile, checkedAt: number): CachedFile {
  const validators: Validators = { etag: contentEntityTag(bytes), mtimeMs: opened.mtimeMs, mutable: !isImmutableName(path) };
  const common = [
    'cache-control', cacheControlFor(path),
    'etag', validators.etag,
    'last-modified', new Date(opened.mtimeMs).toUTCString(),
    'x-content-type-options', 'nosniff',
    ...(isCompressible(path) ? ['vary', 'accept-encoding'] : []),
  ];
  return {
    bytes,
    identity: opened.identity,
    validators,
    okHeaders: ['content-type', contentTypeFor(path), 'content-length', String(bytes.length), ...common],
    notModifiedHeaders: common,
    checkedAt,
  };
}
