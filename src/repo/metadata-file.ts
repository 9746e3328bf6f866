// repo/metadata-file.ts: metadata files of the workspace and of the served tree (TUF spec 1.0.x
// 4.1-4.6). Documents are built and validated with @tufjs/models; they are written with stable
// formatting (sorted keys, two-space indent) and signed over their canonical JSON (spec 4.2).
import { Key, Metadata, MetadataKind, TargetFile, Targets, type Root, type Snapshot, type Timestamp } from '@tufjs/models';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { canonicalBytes, type JsonObject } from '../encoding/canonical-json.js';
import type { TufPublicKey } from '../crypto/public-key.js';
import { FormatError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists, tooLargeIsFormatError } from '../io/capped-file.js';
import { RepoError } from './errors.js';

export type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

/** Largest metadata file the workspace reads (a 100,000-target role is about 25 MB). */
const METADATA_LIMITS = { maxBytes: 128 * 1024 * 1024, maxDepth: 16, maxEntries: 20_000_000 };

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** Stable formatting for files cairn writes: sorted keys, two-space indent, final newline. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + '\n';
}

/**
 * Wire form of `signed`. Same as `md.signed.toJSON()`, but linear in the number of targets
 * (@tufjs/models 4.1 builds the targets map with a spread per entry, quadratic for large bins).
 */
export function signedJson(md: AnyMetadata): JsonObject {
  const signed = md.signed;
  if (!(signed instanceof Targets)) return signed.toJSON() as JsonObject;
  const targets: JsonObject = {};
  for (const [path, file] of Object.entries(signed.targets)) targets[path] = file.toJSON() as JsonObject;
  const json: JsonObject = {
    _type: signed.type, spec_version: signed.specVersion, version: signed.version, expires: signed.expires, targets,
    ...(signed.unrecognizedFields as JsonObject),
  };
  if (signed.delegations) json.delegations = signed.delegations.toJSON() as JsonObject;
  return json;
}

/** Wire form of a whole metadata document ({signatures, signed}). */
function metadataJson(md: AnyMetadata): JsonObject {
  return { ...(md.unrecognizedFields as JsonObject), signatures: Object.values(md.signatures).map((s) => s.toJSON() as JsonObject), signed: signedJson(md) };
}

export function metadataBytes(md: AnyMetadata): Buffer {
  return Buffer.from(stableJson(metadataJson(md)), 'utf8');
}

/** The bytes every signature of `md` covers: canonical JSON of `signed` (spec 4.2). */
export function signedBytes(md: AnyMetadata): Buffer {
  return canonicalBytes(signedJson(md));
}

function fromJson<T extends AnyMetadata>(kind: MetadataKind, json: JsonObject, what: string): T {
  try {
    const signed = json.signed;
    if (kind === MetadataKind.Targets && signed !== null && typeof signed === 'object' && !Array.isArray(signed) &&
      signed.targets !== null && typeof signed.targets === 'object' && !Array.isArray(signed.targets)) {
      // Linear-time path for large targets maps (see signedJson); same validation per entry.
      const md = Metadata.fromJSON(MetadataKind.Targets, { ...json, signed: { ...signed, targets: {} } });
      for (const [path, entry] of Object.entries(signed.targets)) {
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new TypeError(`target ${path} is not an object`);
        md.signed.addTarget(TargetFile.fromJSON(path, entry));
      }
      return md as unknown as T;
    }
    return Metadata.fromJSON(kind as MetadataKind.Root, json) as unknown as T;
  } catch (e) {
    throw new RepoError('BAD_METADATA', `${what} is not valid ${kind} metadata: ${(e as Error).message}`);
  }
}

export function parseRoot(bytes: Uint8Array | string, what: string): Metadata<Root> {
  return fromJson(MetadataKind.Root, parseJsonObject(bytes, what, METADATA_LIMITS), what);
}
export function parseTargets(bytes: Uint8Array | string, what: string): Metadata<Targets> {
  return fromJson(MetadataKind.Targets, parseJsonObject(bytes, what, METADATA_LIMITS), what);
}
export function parseSnapshot(bytes: Uint8Array | string, what: string): Metadata<Snapshot> {
  return fromJson(MetadataKind.Snapshot, parseJsonObject(bytes, what, METADATA_LIMITS), what);
}
export function parseTimestamp(bytes: Uint8Array | string, what: string): Metadata<Timestamp> {
  return fromJson(MetadataKind.Timestamp, parseJsonObject(bytes, what, METADATA_LIMITS), what);
}

/** Builds a Metadata object of `kind` from the wire form of its `signed` part, validating it. */
export function buildMetadata<T extends AnyMetadata>(kind: MetadataKind, signed: JsonObject, what: string, signatures: JsonObject[] = []): T {
  return fromJson<T>(kind, { signed, signatures }, what);
}

/** A metadata file of the workspace parsed with `parse`, or undefined when it does not exist. */
export async function readMetadataFile<T>(path: string, parse: (b: Buffer, what: string) => T): Promise<T | undefined> {
  let bytes: Buffer | undefined;
  try {
    bytes = await readCappedFileIfExists(path, METADATA_LIMITS.maxBytes, { refuse: tooLargeIsFormatError });
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new RepoError('BAD_METADATA', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return bytes === undefined ? undefined : parse(bytes, path);
}


export async function writeMetadataFile(path: string, md: AnyMetadata): Promise<Buffer> {
  const bytes = metadataBytes(md);
  await writeFileAtomic(path, bytes);
  return bytes;
}

/** TUF key object (wire form) of a @tufjs/models Key. */
export function tufKeyOf(key: Key): TufPublicKey {
  return { ...(key.unrecognizedFields ?? {}), keytype: key.keyType, scheme: key.scheme, keyval: { ...key.keyVal } as TufPublicKey['keyval'] };
}

