// tuf/metadata.ts: untrusted metadata bytes to typed envelopes (TUF spec 1.0.x section 4,
// "Document formats"; checks of 5.3-5.6 that need no trusted state). Each document is parsed
// once, with bounds; the canonical bytes of its raw `signed` object are computed once, so
// signature verification covers exactly what the repository signed, unrecognized fields
// included, and the raw bytes are kept for hashing and for storing byte-exact.
import { MetaFile, Metadata, MetadataKind, TargetFile, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { parseJsonObject, type JsonLimits } from '../encoding/bounded-json.js';
import { canonicalBytes, type JsonObject } from '../encoding/canonical-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { FormatError, isCairnError } from '../errors/index.js';
import { TufError } from './errors.js';

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';

interface SignedByType {
  root: Root;
  timestamp: Timestamp;
  snapshot: Snapshot;
  targets: Targets;
}

/** A parsed, not yet verified, metadata document. */
export interface Envelope<T extends RoleType = RoleType> {
  readonly type: T;
  /** The typed `signed` object (@tufjs/models). */
  readonly signed: SignedByType[T];
  /** Signatures by keyid (the JSON list had no duplicate keyid). */
  readonly signatures: ReadonlyMap<string, string>;
  /** Canonical JSON of the raw `signed` object: the bytes the signatures cover. */
  readonly signedBytes: Buffer;
  /** The bytes as received; stored and hashed as they are, never re-serialized. */
  readonly raw: Uint8Array;
  /** `signed.version`. */
  readonly version: number;
  /** `signed.expires` in milliseconds since the epoch. */
  readonly expiresMs: number;
}

export type RootEnvelope = Envelope<'root'>;
export type TimestampEnvelope = Envelope<'timestamp'>;
export type SnapshotEnvelope = Envelope<'snapshot'>;
export type TargetsEnvelope = Envelope<'targets'>;

const KIND: Record<RoleType, MetadataKind> = {
  root: MetadataKind.Root,
  timestamp: MetadataKind.Timestamp,
  snapshot: MetadataKind.Snapshot,
  targets: MetadataKind.Targets,
};

/** Bounds on the JSON structure of one metadata document (sizes are capped by the fetch). */
const METADATA_JSON_LIMITS: JsonLimits = {
  maxBytes: 64 * 1024 * 1024,
  // signed -> targets -> entry -> custom -> ...: real metadata nests about 6 levels.
  maxDepth: 64,
  maxEntries: 5_000_000,
};

// The TUF "expires" format (python-tuf's "%Y-%m-%dT%H:%M:%SZ").
const EXPIRES_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const TOP_LEVEL = new Set(['root', 'timestamp', 'snapshot', 'targets']);
/** Signatures on one document, and the length of a key ID, a signature and a role name (far above real metadata). */
const MAX_SIGNATURES = 1024;
const MAX_KEYID_CHARS = 1024;
const MAX_SIG_CHARS = 16 * 1024;
const MAX_ROLE_NAME_CHARS = 4096;

/**
 * Parses `bytes` as metadata of `type`. `what` names the document in errors (e.g. "2.root.json").
 * Throws FormatError for bytes that are not well-formed metadata and TufError('BAD_METADATA') for
 * well-formed metadata of the wrong kind or an unsupported specification version.
 */
export function parseEnvelope<T extends RoleType>(type: T, bytes: Uint8Array, what: string): Envelope<T> {
  const doc = parseJsonObject(bytes, what, METADATA_JSON_LIMITS);
  const r = schemaReader(what);
  const signed = r.object(doc.signed, 'signed') as JsonObject;
  if (signed._type !== type) {
    throw new TufError('BAD_METADATA', `${what}: expected _type "${type}", found ${JSON.stringify(signed._type ?? null)}`);
  }
  const specVersion = r.string(signed.spec_version, 'spec_version', 32, { pattern: /^\d+\.\d+(\.\d+)?$/, expected: 'a version like "1.0.31"' });
  if (specVersion.split('.')[0] !== '1') {
    throw new TufError('BAD_METADATA', `${what}: spec_version ${specVersion} is not supported; cairn implements 1.x`);
  }
  const version = r.integer(signed.version, 'version', 1);
  const expires = r.string(signed.expires, 'expires', 32, { valid: (t) => EXPIRES_RE.test(t) && Number.isFinite(Date.parse(t)), expected: 'a UTC time like 2030-01-01T00:00:00Z' });
  const expiresMs = Date.parse(expires);
  const signatures = parseSignatures(doc.signatures, r);
  if (type === 'targets') checkDelegations(signed.delegations, r);
  if (type === 'snapshot' || type === 'timestamp') checkMetaHashes(signed.meta, r);
  if (type === 'targets') checkTargetHashes(signed.targets, r);

  let signedBytes: Buffer;
  try {
    signedBytes = canonicalBytes(signed);
  } catch (e) {
    throw new FormatError('SCHEMA', `${what}: "signed" has no canonical JSON form: ${(e as Error).message}`);
  }
  let metadata: Metadata<SignedByType[T]>;
  try {
    metadata = fromJsonLinear(type, doc, signed);
  } catch (e) {
    if (isCairnError(e)) throw e;
    throw new FormatError('SCHEMA', `${what}: not valid ${type} metadata: ${(e as Error).message}`, { cause: e });
  }
  return { type, signed: metadata.signed, signatures, signedBytes, raw: bytes, version, expiresMs };
}

/**
 * Metadata.fromJSON, linear in the number of targets (or snapshot entries): @tufjs/models 4.1
 * builds those maps with an object spread per entry, quadratic for a large hash bin (a bin of
 * 2,000 targets took 4 s). The document is built without its map, then each entry is parsed by
 * the same TargetFile/MetaFile.fromJSON and defined as an own property (never through a setter:
 * a path "__proto__" stays a key, as the spread made it).
 */
function fromJsonLinear<T extends RoleType>(type: T, doc: JsonObject, signed: JsonObject): Metadata<SignedByType[T]> {
  const field = type === 'targets' ? 'targets' : type === 'snapshot' ? 'meta' : undefined;
  const map = field === undefined ? undefined : signed[field];
  if (field === undefined || map === null || typeof map !== 'object' || Array.isArray(map)) {
    return Metadata.fromJSON(KIND[type] as MetadataKind.Root, doc) as unknown as Metadata<SignedByType[T]>;
  }
  const metadata = Metadata.fromJSON(KIND[type] as MetadataKind.Root, { ...doc, signed: { ...signed, [field]: {} } }) as unknown as Metadata<SignedByType[T]>;
  const into = (metadata.signed as unknown as Record<string, Record<string, unknown>>)[field]!;
  for (const [key, value] of Object.entries(map as JsonObject)) {
    const parsed = field === 'targets' ? TargetFile.fromJSON(key, value as Parameters<typeof TargetFile.fromJSON>[1]) : MetaFile.fromJSON(value as Parameters<typeof MetaFile.fromJSON>[0]);
    Object.defineProperty(into, key, { value: parsed, enumerable: true, writable: true, configurable: true });
  }
  return metadata;
}

export function isExpired(envelope: Envelope, referenceMs: number): boolean {
  return referenceMs >= envelope.expiresMs;
}

/** Reads metadata fields; a malformed one is FormatError SCHEMA naming the document. */
function schemaReader(what: string): FieldReader<FormatError> {
  return new FieldReader((message) => new FormatError('SCHEMA', message), what);
}

function parseSignatures(value: unknown, r: FieldReader<FormatError>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, entry] of r.array(value, 'signatures', MAX_SIGNATURES).entries()) {
    const s = r.object(entry, `signatures[${i}]`);
    const keyid = r.string(s.keyid, `signatures[${i}].keyid`, MAX_KEYID_CHARS);
    if (out.has(keyid)) throw r.fail(`more than one signature for keyid ${keyid.slice(0, 12)}`);
    out.set(keyid, r.string(s.sig, `signatures[${i}].sig`, MAX_SIG_CHARS));
  }
  return out;
}

function checkDelegations(value: unknown, r: FieldReader<FormatError>): void {
  if (value === undefined) return;
  const { roles, succinct_roles: succinct } = r.object(value, 'delegations');
  if (roles !== undefined && succinct !== undefined) throw r.fail('delegations has both "roles" and "succinct_roles"');
  if (roles === undefined && succinct === undefined) throw r.fail('delegations has neither "roles" nor "succinct_roles"');
  if (roles === undefined) return;
  const names = new Set<string>();
  // The number of roles is bounded by the document's entry cap.
  for (const [i, value] of r.array(roles, 'delegations.roles', Number.MAX_SAFE_INTEGER).entries()) {
    const role = r.object(value, `delegations.roles[${i}]`);
    const name = r.string(role.name, `delegations.roles[${i}].name`, MAX_ROLE_NAME_CHARS);
    if (TOP_LEVEL.has(name)) throw r.fail(`a delegated role may not be named "${name}"`);
    if (names.has(name)) throw r.fail(`delegated role "${name}" appears twice`);
    names.add(name);
    if (role.paths !== undefined && role.path_hash_prefixes !== undefined) throw r.fail(`delegated role "${name}" has both paths and path_hash_prefixes`);
  }
}

function checkMetaHashes(value: unknown, r: FieldReader<FormatError>): void {
  if (!isObject(value)) return; // the models report the missing field
  for (const [name, info] of Object.entries(value)) {
    if (!isObject(info)) continue;
    if (info.hashes !== undefined && Object.keys(r.object(info.hashes, `meta "${name}" hashes`)).length === 0) throw r.fail(`meta "${name}" has an empty hashes object`);
    if (info.length !== undefined) r.integer(info.length, `meta "${name}" length`);
    r.integer(info.version, `meta "${name}" version`, 1);
  }
}

function checkTargetHashes(value: unknown, r: FieldReader<FormatError>): void {
  if (!isObject(value)) return;
  for (const [path, info] of Object.entries(value)) {
    if (!isObject(info)) continue;
    if (!isObject(info.hashes) || Object.keys(info.hashes).length === 0) throw r.fail(`target "${path}" must list at least one hash`);
    r.integer(info.length, `target "${path}" length`);
  }
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
