// store/records.ts: the two documents the store writes and reads back (docs/store.md "Layout"):
// the record of a store path (ROOT/store/ID.json) and the manifest of a generation
// (ROOT/generations/N/manifest.json). Both are read back capped (STORE_LIMITS) and parsed once
// into typed values with a FieldReader; anything else is StoreError CORRUPT naming the file.
import { parseJsonObject, FieldReader, type JsonRecord } from '../encoding/index.js';
import { readCappedFileIfExists } from '../io/capped-file.js';
import { StoreError } from './errors.js';
import { GENERATION_PATTERN, NAME_PATTERN, STORE_ID_PATTERN, STORE_LIMITS, VERSION_PATTERN, isPackagePath, storeId } from './layout.js';
import type { StoreFile } from './tree.js';

/** The package manifest as the store keeps it: entry points and permissions read, the rest kept as is. */
export interface StoredPackageManifest {
  /** Command name -> path inside the package. */
  entryPoints: Record<string, string>;
  permissions: string[];
  [field: string]: unknown;
}

/** ROOT/store/ID.json: what one store path holds and where it came from. */
export interface StoreRecord {
  id: string;
  name: string;
  version: string;
  /** The remote it was installed from. */
  remote: string;
  /** The TUF target path of its archive. */
  targetPath: string;
  /** The sha256 of its archive (its first 32 hex digits begin the ID). */
  targetSha256: string;
  manifest: StoredPackageManifest;
  files: StoreFile[];
}

/** One package of a generation. */
export interface GenerationPackage {
  id: string;
  version: string;
  remote: string;
  /** Installed by name (true) or as a dependency (false). */
  explicit: boolean;
  /** Permissions as requested by the package (requests; nothing is granted here). */
  permissions: string[];
  /**
   * Its record's entry points, so that a generation keeping it makes its bin links without
   * reading the record. Absent in manifests written before they were listed: then the record is read.
   */
  entryPoints?: Record<string, string>;
}

/** ROOT/generations/N/manifest.json. */
export interface GenerationManifest {
  number: number;
  /** The generation that was current when this one was made; null for the first. */
  parent: number | null;
  createdAt: string;
  reason: string;
  packages: Record<string, GenerationPackage>;
}

const corrupt = (message: string): StoreError => new StoreError('CORRUPT', message);

function jsonLimits(maxBytes: number): { maxBytes: number; maxDepth: number; maxEntries: number } {
  return { maxBytes, maxDepth: STORE_LIMITS.maxJsonDepth, maxEntries: 2_000_000 };
}

/** The bytes of a file the store reads back, capped; undefined when missing; CORRUPT when over the cap or not a file. */
async function readBack(path: string, maxBytes: number, what: string): Promise<Buffer | undefined> {
  return readCappedFileIfExists(path, maxBytes, { what, refuse: (r) => corrupt(r.message) });
}

function parseObject(bytes: Buffer, what: string, maxBytes: number): JsonRecord {
  try {
    return parseJsonObject(bytes, what, jsonLimits(maxBytes));
  } catch (e) {
    throw new StoreError('CORRUPT', `${what} is unreadable: ${(e as Error).message}`, { cause: e });
  }
}

function readManifest(reader: FieldReader<StoreError>, value: unknown): StoredPackageManifest {
  const o = reader.object(value, 'manifest');
  const entryPoints = readEntryPoints(reader, o.entryPoints ?? {}, 'manifest.entryPoints');
  const permissions = reader.array(o.permissions ?? [], 'manifest.permissions', STORE_LIMITS.maxPermissionsPerPackage)
    .map((p, i) => reader.string(p, `manifest.permissions[${i}]`, STORE_LIMITS.maxTextChars, { min: 1 }));
  return { ...o, entryPoints, permissions };
}

/** Command name -> path inside the package. */
function readEntryPoints(reader: FieldReader<StoreError>, value: unknown, at: string): Record<string, string> {
  const entryPoints: Record<string, string> = {};
  for (const [command, path] of reader.entries(value, at, STORE_LIMITS.maxEntryPointsPerPackage, STORE_LIMITS.maxNameChars)) {
    if (!NAME_PATTERN.test(command)) throw reader.fail(`${at}: command ${JSON.stringify(command.slice(0, 64))} is not a valid command name`);
    entryPoints[command] = reader.string(path, `${at}.${command}`, STORE_LIMITS.maxPathChars, { valid: isPackagePath, expected: 'a relative path inside the package' });
  }
  return entryPoints;
}

function readStoreFile(reader: FieldReader<StoreError>, value: unknown, i: number): StoreFile {
  const at = `files[${i}]`;
  const o = reader.exact(value, at, ['path', 'type', 'mode', 'size'], ['sha256', 'linkTarget']);
  const type = reader.oneOf(o.type, `${at}.type`, ['file', 'directory', 'symlink'] as const);
  const file: StoreFile = {
    path: reader.string(o.path, `${at}.path`, STORE_LIMITS.maxPathChars, { valid: isPackagePath, expected: 'a relative path inside the package' }),
    type,
    mode: reader.integer(o.mode, `${at}.mode`, 0, 0o7777),
    size: reader.integer(o.size, `${at}.size`),
  };
  if (type === 'file') file.sha256 = reader.hex(o.sha256, `${at}.sha256`);
  if (type === 'symlink') file.linkTarget = reader.string(o.linkTarget, `${at}.linkTarget`, STORE_LIMITS.maxPathChars, { min: 1 });
  return file;
}

/** Parses the record of store path `id`; CORRUPT when it is malformed or describes another ID. */
export function parseStoreRecord(bytes: Buffer, id: string, what: string): StoreRecord {
  const reader = new FieldReader((m) => corrupt(m), what);
  const o = reader.exact(parseObject(bytes, what, STORE_LIMITS.maxRecordBytes), '', ['id', 'name', 'version', 'remote', 'targetPath', 'targetSha256', 'manifest', 'files']);
  const record: StoreRecord = {
    id: reader.string(o.id, 'id', STORE_LIMITS.maxNameChars * 2 + 40, { pattern: STORE_ID_PATTERN, expected: 'a store ID' }),
    name: reader.string(o.name, 'name', STORE_LIMITS.maxNameChars, { pattern: NAME_PATTERN, expected: 'a package name' }),
    version: reader.string(o.version, 'version', STORE_LIMITS.maxNameChars, { pattern: VERSION_PATTERN, expected: 'a version' }),
    remote: reader.string(o.remote, 'remote', STORE_LIMITS.maxTextChars),
    targetPath: reader.string(o.targetPath, 'targetPath', STORE_LIMITS.maxTextChars),
    targetSha256: reader.hex(o.targetSha256, 'targetSha256'),
    manifest: readManifest(reader, o.manifest),
    files: reader.array(o.files, 'files', STORE_LIMITS.maxFilesPerPackage).map((f, i) => readStoreFile(reader, f, i)),
  };
  if (record.id !== id || storeId(record.targetSha256, record.name, record.version) !== id) {
    throw corrupt(`${what} describes ${record.id} (${record.name} ${record.version}), not ${id}`);
  }
  return record;
}

/** The record of `id` at `path`; undefined when the file does not exist; CORRUPT when unreadable. */
export async function readStoreRecord(path: string, id: string): Promise<StoreRecord | undefined> {
  const what = `the store record ${path}`;
  const bytes = await readBack(path, STORE_LIMITS.maxRecordBytes, what);
  return bytes === undefined ? undefined : parseStoreRecord(bytes, id, what);
}

export function parseGenerationManifest(bytes: Buffer, number: number, what: string): GenerationManifest {
  const reader = new FieldReader((m) => corrupt(m), what);
  const o = reader.exact(parseObject(bytes, what, STORE_LIMITS.maxGenerationManifestBytes), '', ['number', 'parent', 'createdAt', 'reason', 'packages']);
  const manifest: GenerationManifest = {
    number: reader.integer(o.number, 'number', 1),
    parent: o.parent === null ? null : reader.integer(o.parent, 'parent', 1),
    createdAt: reader.string(o.createdAt, 'createdAt', 64, { valid: (t) => !Number.isNaN(Date.parse(t)), expected: 'an ISO date' }),
    reason: reader.string(o.reason, 'reason', STORE_LIMITS.maxTextChars),
    packages: {},
  };
  for (const [name, value] of reader.entries(o.packages, 'packages', STORE_LIMITS.maxPackagesPerGeneration, STORE_LIMITS.maxNameChars)) {
    if (!NAME_PATTERN.test(name)) throw reader.fail(`packages: ${JSON.stringify(name.slice(0, 64))} is not a package name`);
    const at = `packages.${name}`;
    const p = reader.exact(value, at, ['id', 'version', 'remote', 'explicit', 'permissions'], ['entryPoints']);
    manifest.packages[name] = {
      id: reader.string(p.id, `${at}.id`, STORE_LIMITS.maxNameChars * 2 + 40, { pattern: STORE_ID_PATTERN, expected: 'a store ID' }),
      version: reader.string(p.version, `${at}.version`, STORE_LIMITS.maxNameChars, { pattern: VERSION_PATTERN, expected: 'a version' }),
      remote: reader.string(p.remote, `${at}.remote`, STORE_LIMITS.maxTextChars),
      explicit: reader.boolean(p.explicit, `${at}.explicit`),
      permissions: reader.array(p.permissions, `${at}.permissions`, STORE_LIMITS.maxPermissionsPerPackage).map((x, i) => reader.string(x, `${at}.permissions[${i}]`, STORE_LIMITS.maxTextChars, { min: 1 })),
    };
    if (p.entryPoints !== undefined) manifest.packages[name]!.entryPoints = readEntryPoints(reader, p.entryPoints, `${at}.entryPoints`);
  }
  if (manifest.number !== number) throw corrupt(`${what} says it is generation ${manifest.number}, its directory is ${number}`);
  if (manifest.parent !== null && manifest.parent >= number) throw corrupt(`${what}: parent ${manifest.parent} is not older than generation ${number}`);
  return manifest;
}

/** The manifest of generation `number` at `path`; undefined when missing; CORRUPT when unreadable. */
export async function readGenerationManifest(path: string, number: number): Promise<GenerationManifest | undefined> {
  const what = `the manifest of generation ${number} (${path})`;
  const bytes = await readBack(path, STORE_LIMITS.maxGenerationManifestBytes, what);
  return bytes === undefined ? undefined : parseGenerationManifest(bytes, number, what);
}

/** A generation directory name as its number, or undefined for any other name. */
export function generationNumberOf(name: string): number | undefined {
  return GENERATION_PATTERN.test(name) ? Number(name) : undefined;
}

/** Bytes of a document the store writes: JSON with a final newline. */
export function documentBytes(value: StoreRecord | GenerationManifest): string {
  return `${JSON.stringify(value, null, 1)}\n`;
}
