// package/archive-scan.ts: the first pass of safe extraction (docs/packages.md "Archive rules"):
// every header of a package archive is read and checked, and the manifest read and checked,
// before anything is written. It refuses unsafe paths, hard links, devices, FIFOs and unknown
// types, duplicate paths and names that collide once case-folded and NFC-normalized, entries
// under a file or a symbolic link of the archive, links that are absolute or resolve outside the
// package, and claimed sizes or counts over the caps. pack.ts runs it on what it wrote, so pack
// never produces an archive that extraction refuses.
import { parseJsonBounded } from '../encoding/index.js';
import { LINK_RESOLUTION_BUDGET, ancestorsOf, collisionKey, resolveLink, unsafeLinkTargetReason, unsafePathReason } from './archive-paths.js';
import { PackageError } from './errors.js';
import { MANIFEST_FILE, MANIFEST_LIMITS, manifestBytes, parseManifest, type PackageManifest } from './manifest.js';
import type { UstarReader } from './ustar-reader.js';

export interface ExtractLimits {
  /** Entries (files, directories, links) in one package. */
  maxEntries: number;
  /** Content bytes of all files together, as claimed by the headers. */
  maxTotalBytes: number;
  /** Content bytes of one file. */
  maxFileBytes: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxEntries: 100_000,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  maxFileBytes: 1024 * 1024 * 1024,
};

export interface ScannedEntry {
  /** Relative path, without a trailing "/". */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** For files: any execute bit in the header (the only mode bit kept). */
  executable: boolean;
  size: number;
  dataOffset: number;
  linkTarget?: string;
}

export interface ScannedPackage {
  /** The archive's files, directories and links, in archive order. */
  entries: ScannedEntry[];
  /** Every directory, those only implied by a deeper path included, parents before children. */
  directories: string[];
  manifest: PackageManifest;
  manifestBytes: Buffer;
}

interface Node {
  type: 'file' | 'directory' | 'symlink';
  explicit: boolean;
}

function quoted(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}...` : path);
}

/** Checks the whole archive behind `reader`; throws the PackageError of the first refusal. */
export async function scanPackageArchive(reader: UstarReader, limits: ExtractLimits, what: string): Promise<ScannedPackage> {
  const entries: ScannedEntry[] = [];
  const directories: string[] = [];
  const nodes = new Map<string, Node>();
  const keys = new Map<string, string>();
  const links = new Map<string, string>();
  const foldedLinks = new Map<string, string>();
  let total = 0;
  let manifestEntry: ScannedEntry | undefined;

  const register = (path: string, node: Node): void => {
    // Directories implied by deep paths count too: 100,000 entries must not become millions of mkdirs.
    if (nodes.size >= limits.maxEntries) throw new PackageError('TOO_MANY_ENTRIES', `${what} has more than ${limits.maxEntries} files, directories and links (implied directories included)`);
    const key = collisionKey(path);
    const other = keys.get(key);
    if (other !== undefined && other !== path) {
      throw new PackageError('NAME_COLLISION', `${what}: ${quoted(path)} and ${quoted(other)} differ only by case or Unicode normalization; they would be one file on some file systems`);
    }
    keys.set(key, path);
    nodes.set(path, node);
    if (node.type === 'directory') directories.push(path);
  };

  for await (const header of reader.entries()) {
    if (entries.length >= limits.maxEntries) throw new PackageError('TOO_MANY_ENTRIES', `${what} has more than ${limits.maxEntries} entries`);
    const at = `${what}: ${quoted(header.path)}`;
    let type: ScannedEntry['type'];
    switch (header.typeFlag) {
      case '0':
      case '\u0000':
        type = 'file';
        break;
      case '5':
        type = 'directory';
        break;
      case '2':
        type = 'symlink';
        break;
      case '1':
        throw new PackageError('HARD_LINK', `${at} is a hard link (to ${quoted(header.linkTarget)}); package archives hold no hard links`);
      case '3':
      case '4':
        throw new PackageError('SPECIAL_FILE', `${at} is a ${header.typeFlag === '3' ? 'character' : 'block'} device`);
      case '6':
        throw new PackageError('SPECIAL_FILE', `${at} is a FIFO`);
      default:
        throw new PackageError('SPECIAL_FILE', `${at} has the unknown entry type ${JSON.stringify(header.typeFlag)}; package archives hold files, directories and symbolic links`);
    }
    const path = type === 'directory' && header.path.endsWith('/') ? header.path.slice(0, -1) : header.path;
    const unsafe = unsafePathReason(path);
    if (unsafe) throw new PackageError('UNSAFE_PATH', `${at}: ${unsafe}`);
    if (type === 'file') {
      if (header.size > limits.maxFileBytes) throw new PackageError('TOO_LARGE', `${at} claims ${header.size} bytes, over the ${limits.maxFileBytes}-byte cap for one file`);
      total += header.size;
      if (total > limits.maxTotalBytes) throw new PackageError('TOO_LARGE', `${what}: its files claim more than ${limits.maxTotalBytes} bytes in all (at ${quoted(path)})`);
      if (header.dataOffset + header.size > reader.size) throw new PackageError('BAD_ARCHIVE', `${at} claims ${header.size} bytes, but the archive ends first (truncated)`);
    } else if (header.size !== 0) {
      throw new PackageError('BAD_ARCHIVE', `${at} is a ${type} with ${header.size} bytes of content`);
    }
    if (type === 'symlink') {
      const why = unsafeLinkTargetReason(header.linkTarget);
      if (why) throw new PackageError('LINK_ESCAPES', `${at}: ${why}`);
      if (header.linkTarget.startsWith('/')) throw new PackageError('LINK_ESCAPES', `${at} is a link to the absolute path ${quoted(header.linkTarget)}`);
    }
    for (const ancestor of ancestorsOf(path)) {
      const node = nodes.get(ancestor);
      if (node?.type === 'symlink') throw new PackageError('THROUGH_LINK', `${at} lies under ${quoted(ancestor)}, a symbolic link of the archive: writing it would follow the link`);
      if (node?.type === 'file') throw new PackageError('DUPLICATE_ENTRY', `${at} lies under ${quoted(ancestor)}, which is a file`);
      if (node === undefined) register(ancestor, { type: 'directory', explicit: false });
    }
    const existing = nodes.get(path);
    if (existing !== undefined) {
      if (!(existing.type === 'directory' && !existing.explicit && type === 'directory')) {
        throw new PackageError('DUPLICATE_ENTRY', `${at} appears twice in the archive (as a ${existing.type} and as a ${type})`);
      }
      existing.explicit = true;
    } else {
      register(path, { type, explicit: true });
    }
    const entry: ScannedEntry = { path, type, executable: type === 'file' && (header.mode & 0o111) !== 0, size: type === 'file' ? header.size : 0, dataOffset: header.dataOffset };
    if (type === 'symlink') {
      entry.linkTarget = header.linkTarget;
      links.set(path, header.linkTarget);
      foldedLinks.set(collisionKey(path), header.linkTarget);
    }
    if (path === MANIFEST_FILE) manifestEntry = entry;
    entries.push(entry);
  }

  // Links are checked against the whole archive: a link may go through links written after it.
  const budget = { steps: LINK_RESOLUTION_BUDGET };
  for (const [path, target] of links) {
    const result = resolveLink(path, target, foldedLinks, budget);
    if ('overBudget' in result) throw new PackageError('TOO_LARGE', `resolving the links of ${what} walks more than ${LINK_RESOLUTION_BUDGET} path components: refused as a resource exhaustion attempt`);
    if ('escapes' in result) throw new PackageError('LINK_ESCAPES', `${what}: the link ${quoted(path)} -> ${quoted(target)} is refused: ${result.escapes}`);
  }

  if (manifestEntry === undefined || manifestEntry.type !== 'file') {
    throw new PackageError('MISSING_MANIFEST', `${what} has no ${MANIFEST_FILE} file at its root${manifestEntry ? ` (it is a ${manifestEntry.type})` : ''}`, { hint: 'create packages with cairn pack' });
  }
  if (manifestEntry.size > MANIFEST_LIMITS.maxBytes) throw new PackageError('TOO_LARGE', `${what}: ${MANIFEST_FILE} is ${manifestEntry.size} bytes, at most ${MANIFEST_LIMITS.maxBytes} are allowed`);
  const bytes = Buffer.from(await reader.bytes(manifestEntry.dataOffset, manifestEntry.size));
  const where = `${MANIFEST_FILE} of ${what}`;
  let value: unknown;
  try {
    value = parseJsonBounded(bytes, where, { maxBytes: MANIFEST_LIMITS.maxBytes, maxDepth: 4, maxEntries: 4096 });
  } catch (e) {
    throw new PackageError('BAD_MANIFEST', (e as Error).message, { cause: e });
  }
  const manifest = parseManifest(value, where);
  if (!manifestBytes(manifest).equals(bytes)) throw new PackageError('BAD_MANIFEST', `${where} is not canonical: its bytes differ from the canonical JSON of what it says`, { hint: 'create packages with cairn pack' });
  for (const [command, file] of Object.entries(manifest.entryPoints)) {
    const node = nodes.get(file);
    if (node?.type !== 'file') {
      throw new PackageError('MISSING_ENTRY_POINT', `${where}: entry point ${command} names ${quoted(file)}, which is ${node === undefined ? 'not in the archive' : `a ${node.type}, not a regular file`}`);
    }
  }
  return { entries, directories, manifest, manifestBytes: bytes };
}
