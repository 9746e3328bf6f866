// tuf/metadata.ts: untrusted metadata bytes to typed envelopes (TUF spec 1.0.x section 4,
// "Document formats"; checks of 5.3-5.6 that need no trusted state). Each document is parsed
// once, with bounds; the canonical bytes of its raw `signed` object are computed once, so
// signature verification covers exactly what the repository signed, unrecognized fields
// included, and the raw bytes are kept for hashing and for storing byte-exact.
import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { parseJsonObject, describe, type JsonLimits } from '../encoding/bounded-json.js';
import { canonicalBytes, type JsonObject, type JsonValue } from '../encoding/canonical-json.js';
import { FormatError, isCairnError } from '../errors/index.js';
import { TufError } from './errors.js';

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';

interface SignedByType {
  root: Root;
  timestamp: Timestamp;
  snapshot: Snapshot;
  targets: Targets;
}

/** One signature of an envelope; keyids are distinct within an envelope. */
export interface SignatureEntry {
  readonly keyid: string;
  readonly sig: string;
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

/**
 * Parses `bytes` as metadata of `type`. `what` names the document in errors (e.g. "2.root.json").
 * Throws FormatError for bytes that are not well-formed metadata and TufError('BAD_METADATA') for
 * well-formed metadata of the wrong kind or an unsupported specification version.
 */
export function parseEnvelope<T extends RoleType>(type: T, bytes: Uint8Array, what: string): Envelope<T> {
  const doc = parseJsonObject(bytes, what, METADATA_JSON_LIMITS);
  const signed = doc.signed;
  if (!isObject(signed)) throw new FormatError('SCHEMA', `${what}: "signed" must be an object, found ${describe(signed)}`);
  if (signed._type !== type) {
    throw new TufError('BAD_METADATA', `${what}: expected _type "${type}", found ${JSON.stringify(signed._type ?? null)}`);
  }
  const specVersion = signed.spec_version;
  if (typeof specVersion !== 'string' || !/^\d+\.\d+(\.\d+)?$/.test(specVersion)) {
    throw new FormatError('SCHEMA', `${what}: spec_version must look like "1.0.31", found ${JSON.stringify(specVersion ?? null)}`);
  }
  if (specVersion.split('.')[0] !== '1') {
    throw new TufError('BAD_METADATA', `${what}: spec_version ${specVersion} is not supported; this client implements 1.x`);
  }
  const version = signed.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new FormatError('SCHEMA', `${what}: version must be a positive integer, found ${JSON.stringify(version ?? null)}`);
  }
  const expires = signed.expires;
  const expiresMs = typeof expires === 'string' && EXPIRES_RE.test(expires) ? Date.parse(expires) : NaN;
  if (!Number.isFinite(expiresMs)) {
    throw new FormatError('SCHEMA', `${what}: expires must be a UTC time like 2030-01-01T00:00:00Z, found ${JSON.stringify(expires ?? null)}`);
  }
  const signatures = parseSignatures(doc.signatures, what);
  if (type === 'targets') checkDelegations(signed.delegations, what);
  if (type === 'snapshot' || type === 'timestamp') checkMetaHashes(signed.meta, what);
  if (type === 'targets') checkTargetHashes(signed.targets, what);

  let signedBytes: Buffer;
  try {
    signedBytes = canonicalBytes(signed);
  } catch (e) {
    throw new FormatError('SCHEMA', `${what}: "signed" has no canonical JSON form: ${(e as Error).message}`);
  }
  let metadata: Metadata<SignedByType[T]>;
  try {
    metadata = Metadata.fromJSON(KIND[type] as MetadataKind.Root, doc) as unknown as Metadata<SignedByType[T]>;
  } catch (e) {
    if (isCairnError(e)) throw e;
    throw new FormatError('SCHEMA', `${what}: not valid ${type} metadata: ${(e as Error).message}`, { cause: e });
  }
  return { type, signed: metadata.signed, signatures, signedBytes, raw: bytes, version, expiresMs };
}

export function isExpired(envelope: Envelope, referenceMs: number): boolean {
  return referenceMs >= envelope.expiresMs;
}

function parseSignatures(value: JsonValue | undefined, what: string): Map<string, string> {
  if (!Array.isArray(value)) throw new FormatError('SCHEMA', `${what}: "signatures" must be a list, found ${describe(value)}`);
  const out = new Map<string, string>();
  for (const entry of value) {
    if (!isObject(entry) || typeof entry.keyid !== 'string' || typeof entry.sig !== 'string') {
      throw new FormatError('SCHEMA', `${what}: each signature must be {"keyid": string, "sig": string}`);
    }
    if (out.has(entry.keyid)) {
      throw new FormatError('SCHEMA', `${what}: more than one signature for keyid ${entry.keyid.slice(0, 12)}`);
    }
    out.set(entry.keyid, entry.sig);
  }
  return out;
}

function checkDelegations(value: JsonValue | undefined, what: string): void {
  if (value === undefined) return;
  if (!isObject(value)) throw new FormatError('SCHEMA', `${what}: delegations must be an object`);
  const { roles, succinct_roles: succinct } = value;
  if (roles !== undefined && succinct !== undefined) {
    throw new FormatError('SCHEMA', `${what}: delegations has both "roles" and "succinct_roles"`);
  }
  if (roles === undefined && succinct === undefined) {
    throw new FormatError('SCHEMA', `${what}: delegations has neither "roles" nor "succinct_roles"`);
  }
  if (roles === undefined) return;
  if (!Array.isArray(roles)) throw new FormatError('SCHEMA', `${what}: delegations.roles must be a list`);
  const names = new Set<string>();
  for (const role of roles) {
    if (!isObject(role) || typeof role.name !== 'string') {
      throw new FormatError('SCHEMA', `${what}: each delegated role needs a string "name"`);
    }
    if (TOP_LEVEL.has(role.name)) throw new FormatError('SCHEMA', `${what}: a delegated role may not be named "${role.name}"`);
    if (names.has(role.name)) throw new FormatError('SCHEMA', `${what}: delegated role "${role.name}" appears twice`);
    names.add(role.name);
    if (role.paths !== undefined && role.path_hash_prefixes !== undefined) {
      throw new FormatError('SCHEMA', `${what}: delegated role "${role.name}" has both paths and path_hash_prefixes`);
    }
  }
}

function checkMetaHashes(value: JsonValue | undefined, what: string): void {
  if (!isObject(value)) return; // the models report the missing field
  for (const [name, info] of Object.entries(value)) {
    if (!isObject(info)) continue;
    if (info.hashes !== undefined && (!isObject(info.hashes) || Object.keys(info.hashes).length === 0)) {
      throw new FormatError('SCHEMA', `${what}: meta "${name}" has an empty hashes object`);
    }
    if (info.length !== undefined && !(typeof info.length === 'number' && Number.isSafeInteger(info.length) && info.length >= 0)) {
      throw new FormatError('SCHEMA', `${what}: meta "${name}" length must be a non-negative integer`);
    }
    if (!(typeof info.version === 'number' && Number.isSafeInteger(info.version) && info.version >= 1)) {
      throw new FormatError('SCHEMA', `${what}: meta "${name}" version must be a positive integer`);
    }
  }
}

function checkTargetHashes(value: JsonValue | undefined, what: string): void {
  if (!isObject(value)) return;
  for (const [path, info] of Object.entries(value)) {
    if (!isObject(info)) continue;
    if (!isObject(info.hashes) || Object.keys(info.hashes).length === 0) {
      throw new FormatError('SCHEMA', `${what}: target "${path}" must list at least one hash`);
    }
    if (!(typeof info.length === 'number' && Number.isSafeInteger(info.length) && info.length >= 0)) {
      throw new FormatError('SCHEMA', `${what}: target "${path}" length must be a non-negative integer`);
    }
  }
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
