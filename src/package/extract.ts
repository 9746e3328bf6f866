// package/extract.ts: safe extraction of a package archive into a new directory (docs/packages.md
// "Archive rules"). Two passes over one open handle: archive-scan.ts checks every header and the
// manifest first, so a refused archive writes nothing at all; then the entries are written
// under a destination this function creates (0700 while writing). Files are created with
// O_CREAT|O_EXCL|O_NOFOLLOW, hashed while written and fsynced (a few fsyncs in flight while the
// next files are written, all done before links and directories); directories with mkdir, which
// never follows an existing link; symbolic links last, so no write ever goes through one; then
// modes are set (0755/0644 only: no setuid, setgid or sticky bit, owner never applied) and every
// directory is fsynced, because the store renames the destination into place next. Any failure
// removes the destination. `step` is called before each write, fsync and link, for crash tests.
import { closeSync, constants, fchmodSync, fsync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { chmod, mkdir, open, rm, symlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { asCairnError } from '../errors/index.js';
import { fsyncDirectory } from '../io/atomic-write.js';
import { ancestorsOf, compareArchivePaths } from './archive-paths.js';
import { DEFAULT_EXTRACT_LIMITS, scanPackageArchive, type ExtractLimits, type ScannedPackage } from './archive-scan.js';
import { PackageError } from './errors.js';
import { MANIFEST_FILE, type PackageManifest } from './manifest.js';
import { UstarReader } from './ustar-reader.js';

export interface ExtractedFile {
  /** Relative path, "/"-separated, no trailing "/". */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** 0o755 or 0o644 for files, 0o755 for directories, 0o777 for links. */
  mode: number;
  /** Content bytes (0 for directories and links). */
  size: number;
  /** Of the content as written, for files. */
  sha256?: string;
  linkTarget?: string;
}

export interface ExtractedPackage {
  /** Every file, directory (those only implied included) and link, sorted by path. */
  files: ExtractedFile[];
  manifestBytes: Buffer;
  manifest: PackageManifest;
}

export interface ExtractOptions {
  limits?: Partial<ExtractLimits>;
  /** Called before each write, fsync and link with a label such as `extract:write:PATH`. */
  step?: (name: string) => void;
  /** Called after each file is written, with the content bytes written so far and in all (for a progress bar). */
  onProgress?: (written: number, total: number) => void;
  /**
   * fsync every file and directory (default true). Only a caller that makes the tree durable
   * itself before relying on it may pass false: the store flushes every new store path once it
   * is read-only (one syncfs, or an fsync of each entry), so fsyncs here would only add to the
   * cost of an install.
   */
  durable?: boolean;
}

/** Bytes copied at once from the archive to a file. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * fsyncs of written files in flight at once: several together let the file system write one
 * journal commit for them (ext4's group commit) instead of one each; the next files are written
 * meanwhile. libuv runs at most UV_THREADPOOL_SIZE (default 4) file operations at a moment.
 */
const CONCURRENT_FSYNCS = 4;

const fsyncDescriptor = promisify(fsync);

/** Writes all of `data` to `fd` at its current offset. */
function writeAllSync(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done);
}

/**
 * Extracts the package archive `archiveFile` into `destDir`, which must not exist. Throws
 * PackageError (the refusal's code; DESTINATION_EXISTS) or StorageError (a failed write); on any failure
 * `destDir` is removed and nothing else was written.
 */
export async function extractPackage(archiveFile: string, destDir: string, options: ExtractOptions = {}): Promise<ExtractedPackage> {
  const limits: ExtractLimits = { ...DEFAULT_EXTRACT_LIMITS, ...options.limits };
  const step = options.step ?? ((): void => undefined);
  const what = `package archive ${archiveFile}`;
  let handle;
  try {
    handle = await open(archiveFile, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw asCairnError(e) ?? e;
  }
  try {
    const status = await handle.stat();
    if (!status.isFile()) throw new PackageError('BAD_ARCHIVE', `${what} is not a regular file`);
    const reader = new UstarReader(handle, status.size);
    const scanned = await scanPackageArchive(reader, limits, what);

    step('extract:mkdir:./');
    try {
      await mkdir(destDir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PackageError('DESTINATION_EXISTS', `${destDir} already exists; extraction writes only into a new directory`);
      throw asCairnError(e) ?? e;
    }
    try {
      return await writeEntries(reader, scanned, destDir, step, options.durable !== false, options.onProgress);
    } catch (e) {
      await rm(destDir, { recursive: true, force: true }).catch(() => undefined);
      throw asCairnError(e) ?? e;
    }
  } finally {
    await handle.close();
  }
}

/** The second pass: writes the checked entries of `scanned` under the new directory `destDir`. */
async function writeEntries(reader: UstarReader, scanned: ScannedPackage, destDir: string, step: (name: string) => void, durable: boolean, onProgress?: (written: number, total: number) => void): Promise<ExtractedPackage> {
  const { entries, directories } = scanned;
  const totalBytes = entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
  let writtenBytes = 0;
  const files: ExtractedFile[] = [];
  const created = new Set<string>();
  const makeDirectory = async (path: string): Promise<void> => {
    if (created.has(path)) return;
    step(`extract:mkdir:${path}`);
    // mkdir fails on anything already there (a link included) instead of following it.
    await mkdir(join(destDir, path), { mode: 0o700 });
    created.add(path);
  };
  const buffer = Buffer.alloc(COPY_CHUNK_BYTES);
  // Each file's fsync runs while the next files are written (at most CONCURRENT_FSYNCS at once);
  // all of them are done before the links are made and the directories fsynced.
  const syncing = new Set<Promise<void>>();
  let syncFailure: { error: unknown } | undefined;
  const awaitSyncs = async (atMost: number): Promise<void> => {
    while (syncing.size > atMost) await Promise.race(syncing);
    if (syncFailure !== undefined) throw syncFailure.error;
  };
  const writeFiles = async (): Promise<void> => {
    for (const entry of entries) {
      for (const parent of ancestorsOf(entry.path)) await makeDirectory(parent);
      if (entry.type === 'directory') await makeDirectory(entry.path);
      if (entry.type !== 'file') continue;
      step(`extract:write:${entry.path}`);
      // The content is copied with synchronous calls: a package is thousands of small files, and
      // an asynchronous open, read, write, chmod and close each cost a round trip through libuv's
      // thread pool that is longer than the write itself. The event loop gets a turn per file.
      const fd = openSync(join(destDir, entry.path), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      let handedOver = false;
      try {
        const hash = createHash('sha256');
        if (entry.path === MANIFEST_FILE) {
          // The bytes that were checked, not a second read of the archive.
          hash.update(scanned.manifestBytes);
          writeAllSync(fd, scanned.manifestBytes);
        } else {
          let done = 0;
          while (done < entry.size) {
            const want = Math.min(COPY_CHUNK_BYTES, entry.size - done);
            const got = reader.readSync(buffer, want, entry.dataOffset + done);
            if (got <= 0) throw new PackageError('BAD_ARCHIVE', `the archive ended while ${entry.path} was extracted (it changed after it was checked)`);
            const chunk = buffer.subarray(0, got);
            hash.update(chunk);
            writeAllSync(fd, chunk);
            done += got;
          }
        }
        const mode = entry.executable ? 0o755 : 0o644;
        fchmodSync(fd, mode);
        const written: ExtractedFile = { path: entry.path, type: 'file', mode, size: entry.size, sha256: hash.digest('hex') };
        if (durable) step(`extract:fsync:${entry.path}`);
        const synced = (async (): Promise<void> => {
          try {
            if (durable) await fsyncDescriptor(fd);
            files.push(written);
          } catch (error) {
            syncFailure ??= { error };
          } finally {
            try {
              closeSync(fd);
            } catch (error) {
              syncFailure ??= { error };
            }
          }
        })();
        handedOver = true;
        syncing.add(synced);
        void synced.then(() => syncing.delete(synced));
        writtenBytes += entry.size;
        onProgress?.(writtenBytes, totalBytes);
        await new Promise<void>((resolve) => setImmediate(resolve));
        await awaitSyncs(CONCURRENT_FSYNCS - 1);
      } finally {
        if (!handedOver) closeSync(fd);
      }
    }
  };
  try {
    await writeFiles();
    await awaitSyncs(0);
  } finally {
    // On a failure too: the caller removes destDir only once no fsync is in flight.
    await Promise.all(syncing);
  }
  for (const entry of entries) {
    if (entry.type !== 'symlink') continue;
    step(`extract:symlink:${entry.path}`);
    await symlink(entry.linkTarget!, join(destDir, entry.path));
    files.push({ path: entry.path, type: 'symlink', mode: 0o777, size: 0, linkTarget: entry.linkTarget! });
  }
  // Children before parents, the destination last: each fsync makes its entries durable.
  for (const path of [...directories].reverse()) {
    await chmod(join(destDir, path), 0o755);
    if (durable) {
      step(`extract:fsync:${path}/`);
      await fsyncDirectory(join(destDir, path));
    }
    files.push({ path, type: 'directory', mode: 0o755, size: 0 });
  }
  await chmod(destDir, 0o755);
  if (durable) {
    step('extract:fsync:./');
    await fsyncDirectory(destDir);
  }
  files.sort((a, b) => compareArchivePaths({ path: a.path, directory: a.type === 'directory' }, { path: b.path, directory: b.type === 'directory' }));
  return { files, manifestBytes: scanned.manifestBytes, manifest: scanned.manifest };
}

