// policy/rebuild-statement.ts: what a build verifier signs (docs/verified-builds.md section 5):
// an in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1) whose
// predicate is a SLSA Verification Summary v1 (https://slsa.dev/verification_summary/v1), with
// cairn's extension of the predicate, inside a DSSE envelope (dsse.ts) of payloadType
// `application/vnd.in-toto+json` signed by the verifier's Ed25519 key.
//
//   statement = {
//     "_type": "https://in-toto.io/Statement/v1",
//     "subject": [{ "name": TARGET PATH, "digest": { "sha256": PUBLISHED ARTIFACT SHA-256 } }],
//     "predicateType": "https://slsa.dev/verification_summary/v1",
//     "predicate": {
//       "verifier": { "id": "urn:cairn:verifier:KEYID", "version": { "cairn": "0.1.0" } },
//       "timeVerified": RFC 3339, "resourceUri": where the artifact was read (target path or URL),
//       "policy": { "uri": "urn:cairn:policy:bit-identical-rebuild:v1" },
//       "verificationResult": "PASSED" | "FAILED",
//       "verifiedLevels": ["CAIRN_BIT_IDENTICAL_REBUILD"] when PASSED, [] when FAILED,
//       "cairn": {                          <- cairn's documented extension, format cairn/rebuild/v1
//         "format": "cairn/rebuild/v1",
//         "source": { "uri", "sha256" }, "recipe": { "builder", "command", "output", "sourceDateEpoch" },
//         "rebuilt": { "sha256", "length" } (what the verifier's build produced),
//         "isolation": "bubblewrap" | "unshare" | "none", "environment": the verifier's builder identity,
//         "differences": summary, on FAILED only (see DifferenceSummary)
//       }
//     }
//   }
//
// The verifier is the key named by predicate.verifier.id, and only when that key's signature
// verifies (signatures by other keys on the same envelope are ignored): one envelope speaks for
// one verifier. Unknown fields of the statement are ignored, as in-toto specifies. Pure: no
// disk, no network, no clock (times are passed in).
import type { TufPublicKey } from '../crypto/public-key.js';
import { keyIdOf } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader, type StringRule } from '../encoding/field-reader.js';
import { isCairnError, short } from '../errors/index.js';
import { AttestationError } from './build-errors.js';
import { parseReleaseDeclaration, type BuildRecipe, type SourceDeclaration } from './declaration.js';
import { dssePayload, parseDsseEnvelope, serializeDsseEnvelope, signDsseEnvelope, validSigners, type DsseEnvelope } from './dsse.js';

export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const REBUILD_POLICY_URI = 'urn:cairn:policy:bit-identical-rebuild:v1';
export const REBUILD_EXTENSION_FORMAT = 'cairn/rebuild/v1';
export const VERIFIER_ID_PREFIX = 'urn:cairn:verifier:';
const PASSED_LEVEL = 'CAIRN_BIT_IDENTICAL_REBUILD';

/** Caps on attestations read from mirrors and verifiers (docs/architecture.md "Untrusted input"). */
export const ATTESTATION_LIMITS = {
  /** One envelope; a FAILED summary with a thousand file names fits in well under this. */
  maxEnvelopeBytes: 512 * 1024,
  maxSignatures: 16,
  maxSubjects: 64,
  /** File differences kept in a FAILED summary (the rest are counted in `moreFiles`). */
  maxFileDifferences: 1000,
  maxStringChars: 4096,
} as const;

export type VerificationResult = 'PASSED' | 'FAILED';
export type IsolationKind = 'bubblewrap' | 'unshare' | 'none';
/** The only level a build policy that requires full isolation counts (docs/verified-builds.md "Isolation levels"). */
export const FULL_ISOLATION: IsolationKind = 'bubblewrap';

/** One file of an archive whose rebuilt and published forms differ. */
export interface FileDifference {
  readonly path: string;
  /** content: bytes differ; metadata: mode, mtime, owner or type differ; only-*: present in one archive. */
  readonly change: 'content' | 'metadata' | 'only-published' | 'only-rebuilt';
  readonly publishedSize: number | null;
  readonly rebuiltSize: number | null;
  /** For metadata changes: which fields differ. */
  readonly detail?: string;
}

/** What differed between the published artifact and the rebuild (FAILED attestations). */
export type DifferenceSummary =
  | {
    readonly kind: 'bytes';
    readonly publishedLength: number;
    readonly rebuiltLength: number;
    /** First byte offset where they differ (the shorter length when one is a prefix of the other). */
    readonly firstDifferingOffset: number;
  }
  | {
    readonly kind: 'archive';
    readonly format: 'tar' | 'tar.gz';
    readonly publishedLength: number;
    readonly rebuiltLength: number;
    readonly files: readonly FileDifference[];
    /** Differences beyond the listed ones. */
    readonly moreFiles: number;
    /** When every entry matches but the container bytes differ (compression, padding). */
    readonly note?: string;
    readonly firstDifferingOffset: number;
  };

/** The cairn extension of the predicate. */
export interface RebuildDetails {
  readonly source: SourceDeclaration;
  readonly recipe: BuildRecipe;
  readonly rebuilt: { readonly sha256: string; readonly length: number };
  readonly isolation: IsolationKind;
  /** The verifier's own builder identity (what it ran on), for comparison with recipe.builder. */
  readonly environment: string;
  readonly differences?: DifferenceSummary;
}

/** Everything a verifier says in one attestation. */
export interface AttestationFields {
  readonly subject: { readonly name: string; readonly sha256: string };
  readonly result: VerificationResult;
  readonly timeVerified: Date;
  readonly resourceUri: string;
  readonly rebuild: RebuildDetails;
  /** Version map of the verifier software (default { cairn: "0.1.0" }). */
  readonly verifierVersion?: Readonly<Record<string, string>>;
}

/** A parsed statement (only after its signature verified). */
export interface RebuildStatement extends AttestationFields {
  /** Key ID of the verifier named in predicate.verifier.id. */
  readonly verifier: string;
  /** Every subject of the statement (cairn writes one). */
  readonly subjects: ReadonlyArray<{ readonly name: string; readonly sha256: string }>;
}

export interface VerifiedAttestation {
  readonly envelope: DsseEnvelope;
  /** Key ID of the verifier whose signature verified and who the predicate names. */
  readonly verifier: string;
  readonly statement: RebuildStatement;
}

/** Signs a rebuild statement with the verifier's key: the DSSE envelope, ready to publish. */
export function createAttestation(signer: Signer, fields: AttestationFields): DsseEnvelope {
  return signDsseEnvelope(signer, DSSE_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statementJson(signer.keyid, fields)), 'utf8'));
}

/** The file form of an attestation (what is published; pretty-printed, trailing newline). */
export function serializeAttestation(envelope: DsseEnvelope): string {
  return serializeDsseEnvelope(envelope);
}

/** Parses an attestation's envelope from untrusted bytes (bounded); does not verify it. */
export function parseAttestation(bytes: Uint8Array | string, what = 'attestation'): DsseEnvelope {
  return parseDsseEnvelope(bytes, what, { maxBytes: ATTESTATION_LIMITS.maxEnvelopeBytes, maxSignatures: ATTESTATION_LIMITS.maxSignatures });
}

/**
 * Verifies `envelope` against `verifierKeys` and parses its statement. Throws AttestationError:
 * WRONG_PAYLOAD_TYPE, BAD_SIGNATURE (no signature by any given key verifies), BAD_STATEMENT,
 * VERIFIER_MISMATCH (the predicate names a verifier whose signature is not among the valid ones).
 */
export function verifyAttestation(envelope: DsseEnvelope, verifierKeys: readonly TufPublicKey[] | ReadonlyMap<string, TufPublicKey>): VerifiedAttestation {
  if (envelope.payloadType !== DSSE_PAYLOAD_TYPE) {
    throw new AttestationError('WRONG_PAYLOAD_TYPE', `attestation has payloadType ${JSON.stringify(envelope.payloadType.slice(0, 80))}, expected ${DSSE_PAYLOAD_TYPE}`);
  }
  const keys = verifierKeys instanceof Map ? verifierKeys as ReadonlyMap<string, TufPublicKey> : keyMap(verifierKeys as readonly TufPublicKey[]);
  const valid = validSigners(envelope, keys);
  if (valid.size === 0) {
    throw new AttestationError('BAD_SIGNATURE', `attestation signed by ${envelope.signatures.map((s) => short(s.keyid)).join(', ') || 'nobody'}: no valid signature by any of the ${keys.size} verifier key(s) given`);
  }
  const statement = parseStatement(dssePayload(envelope));
  if (!valid.has(statement.verifier)) {
    throw new AttestationError('VERIFIER_MISMATCH', `attestation names verifier ${short(statement.verifier)} but is validly signed only by ${[...valid].map((k) => short(k)).join(', ')}`);
  }
  return { envelope, verifier: statement.verifier, statement };
}

/** Verifier keys by key ID. */
export function keyMap(keys: readonly TufPublicKey[]): Map<string, TufPublicKey> {
  return new Map(keys.map((k) => [keyIdOf(k), k]));
}

/** One line describing a difference summary, for messages. */
export function describeDifferences(d: DifferenceSummary | undefined): string {
  if (!d) return 'no difference summary';
  if (d.kind === 'bytes') {
    return `${d.publishedLength} bytes published, ${d.rebuiltLength} rebuilt, first difference at byte ${d.firstDifferingOffset}`;
  }
  if (d.files.length === 0) return `${d.format} archives with identical entries; ${d.note ?? `container bytes differ at ${d.firstDifferingOffset}`}`;
  const files = d.files.slice(0, 5).map((f) => `${f.path} ${f.change}${f.publishedSize !== null || f.rebuiltSize !== null ? ` (${f.publishedSize ?? '-'} -> ${f.rebuiltSize ?? '-'} bytes)` : ''}`);
  const more = d.files.length - files.length + d.moreFiles;
  return `${d.format}: ${files.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

// ---------------------------------------------------------------------------------------------

function statementJson(keyid: string, f: AttestationFields): JsonObject {
  const r = f.rebuild;
  const cairn: JsonObject = {
    format: REBUILD_EXTENSION_FORMAT,
    source: { uri: r.source.uri, sha256: r.source.sha256 },
    recipe: { builder: r.recipe.builder, command: r.recipe.command, output: r.recipe.output, sourceDateEpoch: r.recipe.sourceDateEpoch },
    rebuilt: { sha256: r.rebuilt.sha256, length: r.rebuilt.length },
    isolation: r.isolation,
    environment: r.environment,
  };
  if (r.differences) cairn.differences = differencesJson(r.differences);
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: f.subject.name, digest: { sha256: f.subject.sha256 } }],
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: `${VERIFIER_ID_PREFIX}${keyid}`, version: { ...(f.verifierVersion ?? { cairn: '0.1.0' }) } },
      timeVerified: f.timeVerified.toISOString(),
      resourceUri: f.resourceUri,
      policy: { uri: REBUILD_POLICY_URI },
      verificationResult: f.result,
      verifiedLevels: f.result === 'PASSED' ? [PASSED_LEVEL] : [],
      cairn,
    },
  };
}

function differencesJson(d: DifferenceSummary): JsonObject {
  if (d.kind === 'bytes') return { kind: 'bytes', publishedLength: d.publishedLength, rebuiltLength: d.rebuiltLength, firstDifferingOffset: d.firstDifferingOffset };
  const o: JsonObject = {
    kind: 'archive', format: d.format, publishedLength: d.publishedLength, rebuiltLength: d.rebuiltLength,
    files: d.files.slice(0, ATTESTATION_LIMITS.maxFileDifferences).map((f) => {
      const e: JsonObject = { path: f.path, change: f.change, publishedSize: f.publishedSize, rebuiltSize: f.rebuiltSize };
      if (f.detail !== undefined) e.detail = f.detail;
      return e;
    }),
    moreFiles: d.moreFiles + Math.max(0, d.files.length - ATTESTATION_LIMITS.maxFileDifferences),
    firstDifferingOffset: d.firstDifferingOffset,
  };
  if (d.note !== undefined) o.note = d.note;
  return o;
}

/** Reads statements; every malformed field is BAD_STATEMENT. */
const statementReader = new FieldReader((message) => new AttestationError('BAD_STATEMENT', message), 'attestation statement');

function parseStatement(payload: Buffer): RebuildStatement {
  const r = statementReader;
  const o = asBadStatement(() => parseJsonObject(payload, 'attestation statement', { maxBytes: ATTESTATION_LIMITS.maxEnvelopeBytes, maxDepth: 8, maxEntries: 20_000 }));
  r.literal(o._type, '_type', STATEMENT_TYPE);
  r.literal(o.predicateType, 'predicateType', VSA_PREDICATE_TYPE);
  const subjects = r.array(o.subject, 'subject', ATTESTATION_LIMITS.maxSubjects, 1).map((s, i) => {
    const so = r.object(s, `subject[${i}]`);
    const digest = r.object(so.digest, `subject[${i}].digest`);
    return { name: text(so.name, `subject[${i}].name`), sha256: r.hex(digest.sha256, `subject[${i}].digest.sha256`) };
  });
  const p = r.object(o.predicate, 'predicate');
  const verifierObj = r.object(p.verifier, 'predicate.verifier');
  const id = text(verifierObj.id, 'predicate.verifier.id');
  if (!id.startsWith(VERIFIER_ID_PREFIX) || !/^[0-9a-f]{64}$/.test(id.slice(VERIFIER_ID_PREFIX.length))) {
    throw r.fail(`predicate.verifier.id must be ${VERIFIER_ID_PREFIX}<key ID>, found ${JSON.stringify(id.slice(0, 100))}`);
  }
  const version: Record<string, string> = {};
  if (verifierObj.version !== undefined) {
    for (const [k, v] of Object.entries(r.object(verifierObj.version, 'predicate.verifier.version'))) version[k] = text(v, `predicate.verifier.version.${k}`);
  }
  const timeVerified = text(p.timeVerified, 'predicate.timeVerified', { valid: (t) => Number.isFinite(new Date(t).getTime()), expected: 'an RFC 3339 time' });
  r.literal(r.object(p.policy, 'predicate.policy').uri, 'predicate.policy.uri', REBUILD_POLICY_URI);
  const result = r.oneOf(p.verificationResult, 'predicate.verificationResult', ['PASSED', 'FAILED'] as const);
  const c = r.object(p.cairn, 'predicate.cairn');
  r.literal(c.format, 'predicate.cairn.format', REBUILD_EXTENSION_FORMAT);
  const declaration = asBadStatement(() => parseReleaseDeclaration(c as JsonObject, 'predicate.cairn'));
  const rebuilt = r.object(c.rebuilt, 'predicate.cairn.rebuilt');
  const rebuild: RebuildDetails = {
    source: declaration.source,
    recipe: declaration.recipe,
    rebuilt: { sha256: r.hex(rebuilt.sha256, 'predicate.cairn.rebuilt.sha256'), length: r.integer(rebuilt.length, 'predicate.cairn.rebuilt.length') },
    isolation: r.oneOf(c.isolation, 'predicate.cairn.isolation', ['bubblewrap', 'unshare', 'none'] as const),
    environment: text(c.environment, 'predicate.cairn.environment'),
    ...(c.differences === undefined ? {} : { differences: parseDifferences(c.differences) }),
  };
  return {
    verifier: id.slice(VERIFIER_ID_PREFIX.length),
    subjects,
    subject: subjects[0]!,
    result,
    timeVerified: new Date(timeVerified),
    resourceUri: text(p.resourceUri, 'predicate.resourceUri'),
    rebuild,
    verifierVersion: version,
  };
}

function parseDifferences(value: unknown): DifferenceSummary {
  const r = statementReader;
  const d = r.object(value, 'predicate.cairn.differences');
  const publishedLength = r.integer(d.publishedLength, 'differences.publishedLength');
  const rebuiltLength = r.integer(d.rebuiltLength, 'differences.rebuiltLength');
  const firstDifferingOffset = r.integer(d.firstDifferingOffset, 'differences.firstDifferingOffset');
  const kind = r.oneOf(d.kind, 'differences.kind', ['bytes', 'archive'] as const);
  if (kind === 'bytes') return { kind, publishedLength, rebuiltLength, firstDifferingOffset };
  const size = (v: unknown, field: string): number | null => (v === null ? null : r.integer(v, field));
  return {
    kind, format: r.oneOf(d.format, 'differences.format', ['tar', 'tar.gz'] as const), publishedLength, rebuiltLength, firstDifferingOffset,
    moreFiles: r.integer(d.moreFiles, 'differences.moreFiles'),
    ...(d.note === undefined ? {} : { note: text(d.note, 'differences.note') }),
    files: r.array(d.files, 'differences.files', ATTESTATION_LIMITS.maxFileDifferences).map((f, i) => {
      const fo = r.object(f, `differences.files[${i}]`);
      return {
        path: text(fo.path, `differences.files[${i}].path`),
        change: r.oneOf(fo.change, `differences.files[${i}].change`, ['content', 'metadata', 'only-published', 'only-rebuilt'] as const),
        publishedSize: size(fo.publishedSize, `differences.files[${i}].publishedSize`),
        rebuiltSize: size(fo.rebuiltSize, `differences.files[${i}].rebuiltSize`),
        ...(fo.detail === undefined ? {} : { detail: text(fo.detail, `differences.files[${i}].detail`) }),
      };
    }),
  };
}

/** A string field of a statement (capped at ATTESTATION_LIMITS.maxStringChars). */
function text(value: unknown, field: string, rule?: StringRule): string {
  return statementReader.string(value, field, ATTESTATION_LIMITS.maxStringChars, rule);
}

/** Runs `fn`, reporting any other typed refusal (JSON caps, the declaration) as BAD_STATEMENT. */
function asBadStatement<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AttestationError) throw e;
    if (isCairnError(e)) throw new AttestationError('BAD_STATEMENT', e.message, { cause: e });
    throw e;
  }
}
