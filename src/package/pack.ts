// package/pack.ts: `cairn pack`, a directory to a reproducible package archive (docs/packages.md
// "Archive rules"; reproducible-builds.org "Archive metadata"). The manifest is read and checked
// (the file may be pretty-printed; the archive holds its canonical bytes), the tree is walked
// (".git" and the output archive itself left out; devices, FIFOs and sockets refused; relative links only, resolving inside
// the package), and the deterministic ustar writer writes entries sorted by the UTF-8 bytes of
// their paths, mtime SOURCE_DATE_EPOCH, uid/gid 0, modes 0755/0644. The result is checked with
// extraction's own scan before it is renamed into place, so pack never leaves an archive that
// extraction would refuse. Same tree -> same bytes, whatever the files' mtimes, owners or umask.
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { parseJsonBounded } from '../encoding/index.js';
import { UsageError, asCairnError } from '../errors/index.js';
import { readCappedFile } from '../io/index.js';
import { fsyncDirectory } from '../io/atomic-write.js';
import { LINK_RESOLUTION_BUDGET, collisionKey, compareArchivePaths, resolveLink, unsafeLinkTargetReason, unsafePathReason } from './archive-paths.js';
import { DEFAULT_EXTRACT_LIMITS, scanPackageArchive } from './archive-scan.js';
import { PackageError } from './errors.js';
import { MANIFEST_FILE, MANIFEST_LIMITS, manifestBytes, parseManifest, type PackageManifest } from './manifest.js';
import { UstarReader } from './ustar-reader.js';
import { DeterministicUstarWriter } from './ustar-writer.js';

/** Names left out of packages wherever they appear. */
export const PACK_EXCLUDES: readonly string[] = ['.git'];

/** Largest mtime a ustar header holds (11 octal digits). */
const MAX_USTAR_TIME = 0o77777777777;

export interface PackOptions {
  /** mtime of every entry (default: $SOURCE_DATE_EPOCH, else 0). */
  sourceDateEpoch?: number;
}

export interface PackResult {
  manifest: PackageManifest;
  sha256: string;
  length: number;
  /** Entries written (files, directories, links). */
  entries: number;
  outFile: string;
}

interface TreeEntry {
  path: string;
  kind: 'directory' | 'file' | 'symlink';
  size: number;
  executable: boolean;
  linkTarget?: string;
}

function epochFromEnvironment(): number {
  const text = process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,12}$/.test(text) || Number(text) > MAX_USTAR_TIME) throw new UsageError('BAD_ARGUMENT', `SOURCE_DATE_EPOCH must be whole seconds from 0 to ${MAX_USTAR_TIME}, found ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/** Reads and checks DIR/cairn-package.json (capped; it may be pretty-printed). */
export async function readManifestFile(dir: string): Promise<PackageManifest> {
  const file = join(dir, MANIFEST_FILE);
  const bytes = await readCappedFile(file, MANIFEST_LIMITS.maxBytes, {
    refuse: (r) => new PackageError(r.code === 'TOO_LARGE' ? 'TOO_LARGE' : 'BAD_MANIFEST', r.message),
  }).catch((e: unknown) => {
    if ((e as { code?: unknown }).code === 'NOT_FOUND') throw new PackageError('MISSING_MANIFEST', `${dir} has no ${MANIFEST_FILE}`, { hint: 'write the manifest: see docs/packages.md "Manifest"' });
    throw e;
  });
  let value: unknown;
  try {
    value = parseJsonBounded(bytes, file, { maxBytes: MANIFEST_LIMITS.maxBytes, maxDepth: 4, maxEntries: 4096 });
  } catch (e) {
    throw new PackageError('BAD_MANIFEST', (e as Error).message, { cause: e });
  }
  return parseManifest(value, file);
}

async function walk(root: string, skip: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const keys = new Map<string, string>();
  let total = 0;
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = await readdir(rel === '' ? root : join(root, rel));
    for (const name of names) {
      if (PACK_EXCLUDES.includes(name)) continue;
      const path = rel === '' ? name : `${rel}/${name}`;
      // The archive being written, when it is written inside the directory (a second `cairn pack .`).
      if (resolve(root, path) === skip) continue;
      const unsafe = unsafePathReason(path);
      if (unsafe) throw new PackageError('UNSUPPORTED_FILE', `${JSON.stringify(path)} in ${root} cannot be packed: ${unsafe}`);
      const key = collisionKey(path);
      const other = keys.get(key);
      if (other !== undefined) throw new PackageError('NAME_COLLISION', `${JSON.stringify(path)} and ${JSON.stringify(other)} in ${root} differ only by case or Unicode normalization`);
      keys.set(key, path);
      const info = await lstat(join(root, path));
      if (info.isDirectory()) {
        out.push({ path, kind: 'directory', size: 0, executable: true });
        stack.push(path);
      } else if (info.isFile()) {
        if (info.size > DEFAULT_EXTRACT_LIMITS.maxFileBytes) throw new PackageError('TOO_LARGE', `${path} is ${info.size} bytes, over the ${DEFAULT_EXTRACT_LIMITS.maxFileBytes}-byte cap for one file of a package`);
        total += info.size;
        if (total > DEFAULT_EXTRACT_LIMITS.maxTotalBytes) throw new PackageError('TOO_LARGE', `${root} holds more than ${DEFAULT_EXTRACT_LIMITS.maxTotalBytes} bytes of files`);
        out.push({ path, kind: 'file', size: info.size, executable: (info.mode & 0o111) !== 0 });
      } else if (info.isSymbolicLink()) {
        const target = await readlink(join(root, path));
        const why = unsafeLinkTargetReason(target);
        if (why) throw new PackageError('LINK_ESCAPES', `the link ${path} in ${root}: ${why}`);
        out.push({ path, kind: 'symlink', size: 0, executable: false, linkTarget: target });
      } else {
        const kind = info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device';
        throw new PackageError('UNSUPPORTED_FILE', `${path} in ${root} is ${kind}; packages hold files, directories and relative links`);
      }
      if (out.length > DEFAULT_EXTRACT_LIMITS.maxEntries) throw new PackageError('TOO_MANY_ENTRIES', `${root} has more than ${DEFAULT_EXTRACT_LIMITS.maxEntries} entries`);
    }
  }
  return out.sort((a, b) => compareArchivePaths({ path: a.path, directory: a.kind === 'directory' }, { path: b.path, directory: b.kind === 'directory' }));
}

/** The content of the regular file `file`, `size` bytes as walked, in chunks (never through a link). */
async function* fileChunks(file: string, size: number): AsyncGenerator<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const status = await handle.stat();
    if (!status.isFile() || status.size !== size) throw new PackageError('UNSUPPORTED_FILE', `${file} changed while it was being archived`);
    const buffer = Buffer.alloc(1024 * 1024);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - done), done);
      if (bytesRead === 0) break;
      done += bytesRead;
      yield Buffer.from(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** Packs directory `dir` into the package archive `outFile` (written atomically). */
export async function packDirectory(dir: string, outFile: string, options: PackOptions = {}): Promise<PackResult> {
  const mtime = options.sourceDateEpoch ?? epochFromEnvironment();
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_USTAR_TIME) throw new UsageError('BAD_ARGUMENT', `sourceDateEpoch must be whole seconds from 0 to ${MAX_USTAR_TIME}, found ${mtime}`);
  const manifest = await readManifestFile(dir);
  const tree = await walk(dir, resolve(outFile));
  const byPath = new Map(tree.map((e) => [e.path, e]));
  if (byPath.get(MANIFEST_FILE)?.kind !== 'file') throw new PackageError('MISSING_MANIFEST', `${dir}/${MANIFEST_FILE} must be a regular file`);
  for (const [command, path] of Object.entries(manifest.entryPoints)) {
    const entry = byPath.get(path);
    if (entry?.kind !== 'file') throw new PackageError('MISSING_ENTRY_POINT', `entry point ${command} names ${path}, which is ${entry === undefined ? `not in ${dir}` : `a ${entry.kind}, not a regular file`}`);
  }
  const links = new Map(tree.filter((e) => e.kind === 'symlink').map((e) => [e.path, e.linkTarget!]));
  const foldedLinks = new Map([...links].map(([path, target]) => [collisionKey(path), target]));
  const budget = { steps: LINK_RESOLUTION_BUDGET };
  for (const [path, target] of links) {
    const result = resolveLink(path, target, foldedLinks, budget);
    if ('overBudget' in result) throw new PackageError('TOO_LARGE', `resolving the links of ${dir} walks more than ${LINK_RESOLUTION_BUDGET} path components: refused as a resource exhaustion attempt`);
    if ('escapes' in result) throw new PackageError('LINK_ESCAPES', `the link ${path} -> ${target} in ${dir} is refused: ${result.escapes}`, { hint: 'packages may hold only relative links that stay inside the package' });
  }

  const canonicalManifest = manifestBytes(manifest);
  const outDir = dirname(outFile);
  const temporary = join(outDir, `.${basename(outFile)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx+', 0o644);
  let closed = false;
  try {
    const writer = new DeterministicUstarWriter(async (chunk) => void (await handle.write(chunk)), mtime);
    for (const e of tree) {
      if (e.kind === 'directory') await writer.directory(e.path);
      else if (e.kind === 'symlink') await writer.symlink(e.path, e.linkTarget!);
      else if (e.path === MANIFEST_FILE) await writer.file(e.path, false, canonicalManifest.length, [canonicalManifest]);
      else await writer.file(e.path, e.executable, e.size, fileChunks(join(dir, e.path), e.size));
    }
    const written = await writer.end();
    await handle.sync();
    // What extraction will check, checked now: pack never publishes an archive it would refuse.
    await scanPackageArchive(new UstarReader(handle, written.length), DEFAULT_EXTRACT_LIMITS, `the archive packed from ${dir}`);
    await handle.close();
    closed = true;
    await rename(temporary, outFile);
    await fsyncDirectory(outDir);
    return { manifest, sha256: written.sha256, length: written.length, entries: written.entries, outFile };
  } catch (e) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw asCairnError(e) ?? e;
  }
}
