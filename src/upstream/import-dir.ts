// upstream/import-dir.ts: the directory an import writes (docs/upstream.md): it must not exist (an
// empty one neither: a rename would take its place) and its parent must, so that a failure creates
// nothing; it is assembled beside its place and renamed into it whole, provenance.json last.
import { lstat, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Hex } from '../crypto/index.js';
import { parseJsonObject } from '../encoding/index.js';
import { UsageError } from '../errors/index.js';
import { readCappedFile } from '../io/index.js';
import { UpstreamError } from './errors.js';

/** One file of an import, as provenance.json names it: its name in the directory, size and SHA-256. */
export interface ChainFile {
  file: string;
  size: number;
  sha256: string;
}

/** The format of provenance.json, whichever importer wrote it (its `kind` says which). */
export const PROVENANCE_FORMAT = 'cairn/upstream-provenance/v1';

/** A file name inside an import directory: no path, nothing hidden (provenance.json names files so). */
export const IMPORT_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._~-]*$/;

/** The most provenance.json may hold. */
export const PROVENANCE_MAX_BYTES = 64 * 1024;

/**
 * A file of an import directory, read to be verified: a regular file (not a link, FIFO or device)
 * of at most `maxBytes` (what provenance.json records for it, itself capped by its kind), checked
 * before it is read.
 */
export async function readRecorded(dir: string, file: string, maxBytes: number, what: string): Promise<Buffer> {
  return readCappedFile(join(dir, file), maxBytes, {
    what: `${what}: ${file}`,
    refuse: (e) => new UpstreamError(e.code === 'TOO_LARGE' ? 'HASH_MISMATCH' : 'NOT_FOUND', `${what}: ${file} ${e.code === 'TOO_LARGE' ? `is over the ${maxBytes} bytes recorded for it` : `cannot be read as a regular file (${e.message})`}`),
  });
}

/**
 * Where an import's recorded files are read from: its directory (importDirectory), or the address
 * it is published at (published-import.ts). Verifying reads them through this, in the chain's
 * order, so a file is read only once the links before it held.
 */
export interface ImportFiles {
  /** The directory or URL, for messages. */
  readonly where: string;
  /** provenance.json's bytes (at most PROVENANCE_MAX_BYTES). */
  provenance(): Promise<Buffer>;
  /** A recorded file, read no further than its recorded size; HASH_MISMATCH unless it has the recorded size and SHA-256. */
  read(file: ChainFile): Promise<Buffer>;
}

/**
 * HASH_MISMATCH unless `bytes` are the recorded file. `showFound`: the message also says what was
 * found (not for bytes fetched from an address a release names: a witness's refusal goes back to
 * whoever asked, and would tell them the hash of what that address answered).
 */
export function checkRecorded(bytes: Uint8Array, file: ChainFile, where: string, showFound = true): Buffer {
  if (bytes.length !== file.size || sha256Hex(bytes) !== file.sha256) throw notRecorded(file, where, showFound ? bytes : undefined);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The HASH_MISMATCH of a file that is not the recorded one (`found`: what was, when the message may say). */
export function notRecorded(file: ChainFile, where: string, found?: Uint8Array): UpstreamError {
  const was = found === undefined ? 'not the file' : `${found.length} bytes with SHA-256 ${sha256Hex(found)}`;
  return new UpstreamError('HASH_MISMATCH', `${where}: ${file.file} is ${was}; provenance.json records ${file.size} bytes with SHA-256 ${file.sha256}`);
}

/** The import in directory `dir`. */
export function importDirectory(dir: string): ImportFiles {
  return {
    where: dir,
    provenance: () => readRecorded(dir, 'provenance.json', PROVENANCE_MAX_BYTES, dir),
    read: async (file) => checkRecorded(await readRecorded(dir, file.file, file.size, dir), file, dir),
  };
}

/** Refuses an `out` that exists, or whose parent is not a directory (UsageError). */
export async function checkNewDirectory(out: string): Promise<void> {
  if ((await lstat(out).catch(() => undefined)) !== undefined) throw new UsageError('CONFLICT', `${out} exists: cairn import writes a directory of its own (name another with --out)`);
  if ((await stat(dirname(out)).catch(() => undefined))?.isDirectory() !== true) throw new UsageError('BAD_ARGUMENT', `${dirname(out)}, where ${out} would be written, is not a directory`);
}

/**
 * Writes the import at `out`: `fill` writes its files through `write` and returns the provenance,
 * which is written last; then the directory is put in place. Nothing is left on a failure.
 */
export async function writeImportDirectory<P>(out: string, fill: (write: (file: string, bytes: Uint8Array) => Promise<ChainFile>) => Promise<P>): Promise<P> {
  const staging = `${out}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  try {
    const provenance = await fill(async (file, bytes) => {
      // Names come from what a registry or an archive says (a version, a file name): never a path.
      if (!IMPORT_FILE_NAME.test(file) || file === 'provenance.json') throw new UpstreamError('MALFORMED', `${JSON.stringify(file.slice(0, 100))} is not a file name an import writes`);
      await writeFile(join(staging, file), bytes);
      return { file, size: bytes.length, sha256: sha256Hex(bytes) };
    });
    await writeFile(join(staging, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n');
    await checkNewDirectory(out);
    await rename(staging, out);
    return provenance;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Which importer wrote provenance.json (`bytes`): its kind, and for npm the package's name (whose registry the check uses). */
export function importKind(bytes: Uint8Array, what: string): { kind: 'debian' } | { kind: 'npm'; name: string } {
  const o = parseJsonObject(bytes, what);
  if (o.kind === 'debian') return { kind: 'debian' };
  if (o.kind === 'npm' && typeof o.name === 'string') return { kind: 'npm', name: o.name };
  throw new UpstreamError('MALFORMED', `${what}: kind ${JSON.stringify(o.kind)} is not one cairn imports (debian, npm)`);
}
