// rebuild/archive.ts: deterministic source archives and bounded reading of tar archives
// (docs/design.md "Build verification"; reproducible-builds.org "Archive metadata": sorted entries,
// fixed mtime = SOURCE_DATE_EPOCH, uid/gid 0, no user or group names, normalized modes).
//
// writeSourceArchive writes plain POSIX ustar with the one deterministic writer of
// package/ustar-writer.ts (no dependency on a tar library's defaults, which change between
// versions): entries sorted by the bytes of their UTF-8 path, directories
// as "dir/" with mode 0755, files 0644 or 0755 (any execute bit), mtime SOURCE_DATE_EPOCH,
// uid/gid 0, empty uname/gname, then two zero blocks. Only regular files and directories are
// archived; a symlink, device or socket is refused. ".git" directories are left out.
//
// readTarEntries reads any tar or tar.gz (node-tar's parser) with caps on entries and bytes (it
// stops reading at the first cap crossed) and hashes each entry's content; it is how a source archive is checked before a build and how two
// archive artifacts are compared.
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { DeterministicUstarWriter, PackageError, compareArchivePaths } from '../package/index.js';
import { RebuildError } from './errors.js';

export const ARCHIVE_LIMITS = {
  /** Entries in one archive (a source tree or an artifact that is an archive). */
  maxEntries: 100_000,
  /** Content bytes read out of one archive (decompressed). */
  maxContentBytes: 4 * 1024 * 1024 * 1024,
  /** One file of a source tree (it is read into memory to be archived). */
  maxSourceFileBytes: 1024 * 1024 * 1024,
} as const;

/** Names left out of source archives wherever they appear. */
export const DEFAULT_EXCLUDES: readonly string[] = ['.git'];

export interface SourceArchiveResult {
  sha256: string;
  length: number;
  entries: number;
}

/** Writes the deterministic ustar archive of directory `dir` to `outFile`. */
export async function writeSourceArchive(dir: string, outFile: string, sourceDateEpoch: number, excludes: readonly string[] = DEFAULT_EXCLUDES): Promise<SourceArchiveResult> {
  const entries = await walk(dir, excludes);
  const handle = await open(outFile, 'w', 0o644);
  const writer = new DeterministicUstarWriter(async (chunk) => void (await handle.write(chunk)), sourceDateEpoch);
  try {
    for (const e of entries) {
      if (e.kind === 'dir') {
        await writer.directory(e.path);
        continue;
      }
      // The writer refuses a file whose size changed since the walk (UNSUPPORTED_FILE below).
      await writer.file(e.path, e.executable, e.size, [await readFile(join(dir, e.path))]);
    }
    const written = await writer.end();
    await handle.sync();
    return { sha256: written.sha256, length: written.length, entries: entries.length };
  } catch (e) {
    // The writer's refusals (a path ustar cannot hold) are this layer's UNSUPPORTED_FILE.
    if (e instanceof PackageError) throw new RebuildError('UNSUPPORTED_FILE', e.message, { cause: e, ...(e.hint === undefined ? {} : { hint: e.hint }) });
    throw e;
  } finally {
    await handle.close();
  }
}

interface TreeEntry {
  path: string;
  kind: 'dir' | 'file';
  size: number;
  executable: boolean;
}

async function walk(root: string, excludes: readonly string[]): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = await readdir(rel === '' ? root : join(root, rel));
    for (const name of names) {
      if (excludes.includes(name)) continue;
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(root, path));
      if (info.isDirectory()) {
        out.push({ path, kind: 'dir', size: 0, executable: true });
        stack.push(path);
      } else if (info.isFile()) {
        if (info.size > ARCHIVE_LIMITS.maxSourceFileBytes) throw new RebuildError('UNSUPPORTED_FILE', `${path} is ${info.size} bytes, over the ${ARCHIVE_LIMITS.maxSourceFileBytes}-byte cap for one source file`);
        out.push({ path, kind: 'file', size: info.size, executable: (info.mode & 0o111) !== 0 });
      } else {
        throw new RebuildError('UNSUPPORTED_FILE', `${path} in ${root} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a regular file or directory'}; source archives hold files and directories only`, {
          hint: 'replace links by copies, or create them in the recipe',
        });
      }
      if (out.length > ARCHIVE_LIMITS.maxEntries) throw new RebuildError('UNSUPPORTED_FILE', `${root} has more than ${ARCHIVE_LIMITS.maxEntries} entries`);
    }
  }
  // Byte order of the UTF-8 path (directories as "dir/"), so the order is locale-independent.
  return out.sort((a, b) => compareArchivePaths({ path: a.path, directory: a.kind === 'dir' }, { path: b.path, directory: b.kind === 'dir' }));
}

/** One entry of a tar archive as read back (content hashed, never kept). */
export interface TarEntryInfo {
  path: string;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  linkpath: string;
  sha256: string;
}

export interface TarListing {
  format: 'tar' | 'tar.gz';
  entries: TarEntryInfo[];
}

/** True when the first bytes of `file` look like a gzip stream or a ustar/GNU tar header. */
export async function sniffArchive(file: string): Promise<'tar' | 'tar.gz' | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 512 && head.toString('ascii', 257, 262) === 'ustar') return 'tar';
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Reads every entry of a tar or tar.gz archive with caps. Throws RebuildError
 * ('BAD_SOURCE_ARCHIVE') for a corrupt archive or one over the caps.
 */
export async function readTarEntries(file: string, what: string): Promise<TarListing> {
  const format = await sniffArchive(file);
  if (!format) throw new RebuildError('BAD_SOURCE_ARCHIVE', `${what} is not a tar or tar.gz archive`);
  const entries: TarEntryInfo[] = [];
  let content = 0;
  let problem: string | undefined;
  await new Promise<void>((resolve, reject) => {
    const input = createReadStream(file, { highWaterMark: 1 << 20 });
    // Past a cap, stop reading: a few MiB of gzip can stand for terabytes, which the parser
    // would otherwise inflate to the end (hours of a verifier's time per artifact).
    const stop = (why: string): void => {
      problem ??= why;
      input.unpipe();
      input.destroy();
      resolve();
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (entries.length >= ARCHIVE_LIMITS.maxEntries) {
          stop(`more than ${ARCHIVE_LIMITS.maxEntries} entries`);
          return;
        }
        const hash = createHash('sha256');
        entry.on('data', (chunk: Buffer) => {
          content += chunk.length;
          if (content > ARCHIVE_LIMITS.maxContentBytes) stop(`over ${ARCHIVE_LIMITS.maxContentBytes} bytes of content`);
          else hash.update(chunk);
        });
        entry.on('end', () => {
          entries.push({
            path: entry.path, type: entry.type, size: entry.size, mode: entry.mode ?? 0,
            mtime: entry.mtime ? Math.floor(entry.mtime.getTime() / 1000) : 0, uid: entry.uid ?? 0, gid: entry.gid ?? 0,
            linkpath: entry.linkpath ?? '', sha256: hash.digest('hex'),
          });
        });
      },
    });
    parser.on('error', (e: Error) => reject(new RebuildError('BAD_SOURCE_ARCHIVE', `${what} is not a valid ${format} archive: ${e.message}`)));
    parser.on('end', () => resolve());
    input.on('error', (e) => reject(new RebuildError('BAD_SOURCE_ARCHIVE', `cannot read ${what}: ${e.message}`)));
    input.pipe(parser);
  });
  if (problem) throw new RebuildError('BAD_SOURCE_ARCHIVE', `${what}: ${problem}`);
  return { format, entries };
}

/**
 * Checks that a source archive is safe to extract: regular files and directories only, relative
 * paths without "..", no duplicate paths. Returns the listing.
 */
export async function checkSourceArchive(file: string, what = 'source archive'): Promise<TarListing> {
  const listing = await readTarEntries(file, what);
  const seen = new Set<string>();
  for (const e of listing.entries) {
    if (e.type !== 'File' && e.type !== 'OldFile' && e.type !== 'Directory') {
      throw new RebuildError('BAD_SOURCE_ARCHIVE', `${what} holds ${e.path} of type ${e.type}; only files and directories are allowed`);
    }
    const path = e.path.replace(/\/+$/, '');
    const segments = path.split('/');
    if (path === '' || e.path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || segments.some((s) => s === '..' || s === '')) {
      throw new RebuildError('BAD_SOURCE_ARCHIVE', `${what} holds an unsafe path ${JSON.stringify(e.path)}`);
    }
    if (seen.has(path)) throw new RebuildError('BAD_SOURCE_ARCHIVE', `${what} holds ${path} twice`);
    seen.add(path);
  }
  return listing;
}
