// policy/attestation.ts: rebuild attestations and the quorum rule witnesses and clients apply
// (DESIGN.md "Build verification", "What a client checks" step 3, "What a witness checks").
//
// Format: an in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1)
// whose predicate is a SLSA Verification Summary v1 (https://slsa.dev/verification_summary/v1),
// inside a DSSE envelope (https://github.com/secure-systems-lab/dsse, envelope.md and
// protocol.md): payloadType `application/vnd.in-toto+json`, payload base64, one Ed25519
// signature over PAE(payloadType, payload) with the verifier's key ID.
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
// one verifier. Signatures are checked before the payload is parsed (DSSE protocol.md).
//
// Everything here is pure: no disk, no network, no clock (times are passed in).
import type { TufPublicKey } from '../crypto/public-key.js';
import { keyIdOf, verifySignature } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { sha256Hex } from '../crypto/hash.js';
import { canonicalBytes, type JsonObject, type JsonValue } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { isCairnError, short } from '../errors/index.js';
import { AttestationError } from './build-errors.js';
import { parseReleaseDeclaration, sameDeclaration, type BuildRecipe, type ReleaseDeclaration, type SourceDeclaration } from './declaration.js';

export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const REBUILD_POLICY_URI = 'urn:cairn:policy:bit-identical-rebuild:v1';
export const REBUILD_EXTENSION_FORMAT = 'cairn/rebuild/v1';
export const VERIFIER_ID_PREFIX = 'urn:cairn:verifier:';
export const PASSED_LEVEL = 'CAIRN_BIT_IDENTICAL_REBUILD';
/** Domain separation of attestationsDigest (DESIGN.md "Domain separation"). */
export const ATTESTATIONS_DIGEST_CONTEXT = 'cairn/v1/attestations';

/** Caps on attestations read from mirrors and verifiers (STYLE.md "Untrusted bytes are bounded"). */
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

export interface DsseSignature {
  /** Key ID (TUF key ID of the verifier key): a hint, authenticated only by the signature. */
  readonly keyid: string;
  /** Base64 of the signature over PAE(payloadType, payload). */
  readonly sig: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** Base64 of the serialized statement. */
  readonly payload: string;
  readonly signatures: readonly DsseSignature[];
}

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

/** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type,
    Buffer.from(` ${payload.length} `, 'utf8'), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
  ]);
}

/** Signs a rebuild statement with the verifier's key: the DSSE envelope, ready to publish. */
export function createAttestation(signer: Signer, fields: AttestationFields): DsseEnvelope {
  const statement = statementJson(signer.keyid, fields);
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const sigHex = signer.sign(preAuthEncoding(DSSE_PAYLOAD_TYPE, payload));
  return {
    payloadType: DSSE_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid: signer.keyid, sig: Buffer.from(sigHex, 'hex').toString('base64') }],
  };
}

/** The file form of an envelope (what is published; pretty-printed, trailing newline). */
export function serializeAttestation(envelope: DsseEnvelope): string {
  return JSON.stringify({ payloadType: envelope.payloadType, payload: envelope.payload, signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })) }, null, 2) + '\n';
}

/** Parses an envelope from untrusted bytes (bounded); does not verify it. */
export function parseAttestation(bytes: Uint8Array | string, what = 'attestation'): DsseEnvelope {
  const o = guard('BAD_ENVELOPE', () => parseJsonObject(bytes, what, { maxBytes: ATTESTATION_LIMITS.maxEnvelopeBytes, maxDepth: 4, maxEntries: 200 }));
  const { payloadType, payload, signatures } = o;
  if (typeof payloadType !== 'string' || payloadType.length > 256) throw new AttestationError('BAD_ENVELOPE', `${what}: payloadType must be a string`);
  if (typeof payload !== 'string' || !isBase64(payload)) throw new AttestationError('BAD_ENVELOPE', `${what}: payload must be standard base64`);
  if (!Array.isArray(signatures) || signatures.length === 0 || signatures.length > ATTESTATION_LIMITS.maxSignatures) {
    throw new AttestationError('BAD_ENVELOPE', `${what}: signatures must be a list of 1 to ${ATTESTATION_LIMITS.maxSignatures} entries`);
  }
  const sigs: DsseSignature[] = signatures.map((s, i) => {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new AttestationError('BAD_ENVELOPE', `${what}: signature #${i + 1} is not an object`);
    const keyid = s.keyid ?? '';
    if (typeof keyid !== 'string' || keyid.length > 128) throw new AttestationError('BAD_ENVELOPE', `${what}: signature #${i + 1} keyid must be a string`);
    if (typeof s.sig !== 'string' || !isBase64(s.sig) || s.sig.length > 1024) throw new AttestationError('BAD_ENVELOPE', `${what}: signature #${i + 1} sig must be base64`);
    return { keyid, sig: s.sig };
  });
  return { payloadType, payload, signatures: sigs };
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
  const payload = Buffer.from(envelope.payload, 'base64');
  const pae = preAuthEncoding(envelope.payloadType, payload);
  const valid = new Set<string>();
  for (const s of envelope.signatures) {
    const key = keys.get(s.keyid);
    if (!key || valid.has(s.keyid)) continue;
    if (verifySignature(key, pae, Buffer.from(s.sig, 'base64').toString('hex'))) valid.add(s.keyid);
  }
  if (valid.size === 0) {
    throw new AttestationError('BAD_SIGNATURE', `attestation signed by ${envelope.signatures.map((s) => short(s.keyid)).join(', ') || 'nobody'}: no valid signature by any of the ${keys.size} verifier key(s) given`);
  }
  const statement = parseStatement(payload);
  if (!valid.has(statement.verifier)) {
    throw new AttestationError('VERIFIER_MISMATCH', `attestation names verifier ${short(statement.verifier)} but is validly signed only by ${[...valid].map((k) => short(k)).join(', ')}`);
  }
  return { envelope, verifier: statement.verifier, statement };
}

/** The release policy's build rule: which verifier keys count, and how many must agree. */
export interface BuildPolicy {
  /** Verifier public keys (a list, or a map from key ID to key as TUF writes keys). */
  readonly verifiers: readonly TufPublicKey[] | Readonly<Record<string, TufPublicKey>>;
  /** k: PASSED attestations from distinct verifiers each artifact needs. */
  readonly quorum: number;
}

/** The artifact a quorum is checked for. */
export interface AttestedArtifact {
  /** TUF target path (the statement's subject name must be exactly this). */
  readonly name: string;
  readonly sha256: string;
  /** When given, an attestation counts only if it rebuilt this source digest with this recipe. */
  readonly declaration?: ReleaseDeclaration;
}

export interface QuorumReport {
  /** Key IDs of the distinct policy verifiers with a PASSED attestation, sorted. */
  readonly passed: readonly string[];
  /** Attestations that did not count, with why (by index in the input list). */
  readonly ignored: ReadonlyArray<{ readonly index: number; readonly reason: string }>;
}

/**
 * The witness rule (DESIGN.md "What a witness checks": each new or changed artifact has the
 * policy's quorum of matching rebuild attestations): at least `policy.quorum` PASSED attestations
 * from DISTINCT policy verifiers for exactly this name and sha256 (and declaration, when given),
 * and no FAILED one from a policy verifier for it. Attestations that do not parse, do not verify
 * under a policy key, or are about another artifact are ignored (an unauthenticated FAILED cannot
 * block a release; a PASSED for other bytes cannot help one). Throws AttestationError
 * REBUILD_FAILED or QUORUM_NOT_MET naming the artifact and the verifiers; BAD_POLICY when the
 * policy cannot be met by construction.
 */
export function checkAttestationQuorum(
  artifact: AttestedArtifact,
  attestations: ReadonlyArray<DsseEnvelope | Uint8Array>,
  policy: BuildPolicy,
): QuorumReport {
  const keys = policyKeys(policy);
  const ignored: Array<{ index: number; reason: string }> = [];
  const passed = new Set<string>();
  const failed = new Map<string, RebuildStatement>();
  for (const [index, item] of attestations.entries()) {
    let verified: VerifiedAttestation;
    try {
      const envelope = item instanceof Uint8Array ? parseAttestation(item, `attestation #${index + 1}`) : item;
      verified = verifyAttestation(envelope, keys);
    } catch (e) {
      if (!isCairnError(e)) throw e;
      ignored.push({ index, reason: e.code === 'BAD_SIGNATURE' ? 'not signed by a policy verifier' : `${e.code}: ${e.message}` });
      continue;
    }
    const s = verified.statement;
    if (!s.subjects.some((x) => x.name === artifact.name && x.sha256 === artifact.sha256)) {
      ignored.push({ index, reason: `about ${s.subjects.map((x) => `${x.name}@${short(x.sha256)}`).join(', ')}, not ${artifact.name}@${short(artifact.sha256)}` });
      continue;
    }
    if (artifact.declaration && !sameDeclaration(artifact.declaration, s.rebuild)) {
      ignored.push({ index, reason: `verifier ${short(s.verifier)} rebuilt source ${short(s.rebuild.source.sha256)} with another recipe than the one declared` });
      continue;
    }
    if (s.result === 'FAILED') failed.set(s.verifier, s);
    else passed.add(s.verifier);
  }
  const what = `${artifact.name} (sha256 ${short(artifact.sha256)})`;
  if (failed.size > 0) {
    const details = [...failed.values()].map((s) => `${short(s.verifier)} (${describeDifferences(s.rebuild.differences)})`);
    throw new AttestationError('REBUILD_FAILED', `${what}: policy verifier(s) ${details.join('; ')} could not reproduce it`, {
      hint: 'rebuild from the declared source and recipe and compare (cairn rebuild run); publish only bytes that rebuild bit-identically',
    });
  }
  if (passed.size < policy.quorum) {
    const missing = [...keys.keys()].filter((k) => !passed.has(k)).map((k) => short(k));
    const passedList = [...passed].map((k) => short(k));
    throw new AttestationError('QUORUM_NOT_MET',
      `${what} has ${passed.size} of ${policy.quorum} required PASSED attestations from distinct policy verifiers (passed: ${passedList.join(', ') || 'none'}; not attested: ${missing.join(', ')}` +
      (ignored.length > 0 ? `; ${ignored.length} attestation(s) ignored: ${ignored.slice(0, 5).map((i) => i.reason).join('; ')}` : '') + ')', {
        hint: 'wait for the verifiers (cairn rebuild serve) to publish their attestations under public/attestations/',
      });
  }
  return { passed: [...passed].sort(), ignored };
}

/** SHA-256 of one envelope: over the canonical JSON of {payloadType, payload, signatures}. */
export function envelopeDigest(envelope: DsseEnvelope): string {
  return sha256Hex(canonicalBytes({
    payloadType: envelope.payloadType,
    payload: envelope.payload,
    signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
  }));
}

/**
 * The digest a block's payload records for the attestations it relied on (DESIGN.md "Skipchain
 * release log": digest of the build attestations of new artifacts):
 *   sha256( "cairn/v1/attestations" || "\n" || join("\n", sorted unique envelopeDigest(e)) )
 * with digests as lowercase hex. Order-independent and duplicate-free, so any party holding the
 * same set of envelopes (from any mirror, in any order) computes the same value. The empty list
 * has a digest too; callers record null in a block that adds no artifact.
 */
export function attestationsDigest(envelopes: readonly DsseEnvelope[]): string {
  const digests = [...new Set(envelopes.map(envelopeDigest))].sort();
  return sha256Hex([ATTESTATIONS_DIGEST_CONTEXT, ...digests].join('\n'));
}

/**
 * Where a verifier's attestation for a target is published, relative to the repository's public
 * root (what mirrors serve): attestations/<target path>/<artifact sha256>.<verifier key ID>.dsse.json.
 * One file per (target path, artifact version, verifier): a new version never replaces the
 * attestations of the one clients have.
 */
export function attestationRelativePath(targetPath: string, artifactSha256: string, verifierKeyid: string): string {
  if (!/^[0-9a-f]{64}$/.test(verifierKeyid)) throw new AttestationError('BAD_ENVELOPE', `not a key ID: ${JSON.stringify(verifierKeyid)}`);
  return `${attestationDirectory(targetPath)}/${attestationFilePrefix(artifactSha256)}${verifierKeyid}.dsse.json`;
}

/**
 * File names of the attestations about one artifact version start with its SHA-256: a rebuild of
 * a new version of a target never replaces the attestations of the version clients have.
 */
export function attestationFilePrefix(artifactSha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(artifactSha256)) throw new AttestationError('BAD_STATEMENT', `not a SHA-256: ${JSON.stringify(artifactSha256)}`);
  return `${artifactSha256}.`;
}

/** The directory holding every verifier's attestation for a target: attestations/<target path>. */
export function attestationDirectory(targetPath: string): string {
  const segments = targetPath.split('/');
  if (targetPath.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..') || targetPath.includes('\\') || targetPath.includes('\0')) {
    throw new AttestationError('BAD_STATEMENT', `unsafe target path ${JSON.stringify(targetPath)}`);
  }
  return `attestations/${targetPath}`;
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

function parseStatement(payload: Buffer): RebuildStatement {
  const o = guard('BAD_STATEMENT', () => parseJsonObject(payload, 'attestation statement', { maxBytes: ATTESTATION_LIMITS.maxEnvelopeBytes, maxDepth: 8, maxEntries: 20_000 }));
  if (o._type !== STATEMENT_TYPE) bad(`_type is ${JSON.stringify(o._type)}, expected ${STATEMENT_TYPE}`);
  if (o.predicateType !== VSA_PREDICATE_TYPE) bad(`predicateType is ${JSON.stringify(o.predicateType)}, expected ${VSA_PREDICATE_TYPE}`);
  const subjectList = o.subject;
  if (!Array.isArray(subjectList) || subjectList.length === 0 || subjectList.length > ATTESTATION_LIMITS.maxSubjects) bad('subject must be a list of 1 to 64 entries');
  const subjects = (subjectList as JsonValue[]).map((s, i) => {
    const so = obj(s, `subject[${i}]`);
    const digest = obj(so.digest, `subject[${i}].digest`);
    return { name: str(so.name, `subject[${i}].name`), sha256: hex(digest.sha256, `subject[${i}].digest.sha256`) };
  });
  const p = obj(o.predicate, 'predicate');
  const verifierObj = obj(p.verifier, 'predicate.verifier');
  const id = str(verifierObj.id, 'predicate.verifier.id');
  if (!id.startsWith(VERIFIER_ID_PREFIX) || !/^[0-9a-f]{64}$/.test(id.slice(VERIFIER_ID_PREFIX.length))) {
    bad(`predicate.verifier.id must be ${VERIFIER_ID_PREFIX}<key ID>, found ${JSON.stringify(id.slice(0, 100))}`);
  }
  const version: Record<string, string> = {};
  if (verifierObj.version !== undefined) {
    for (const [k, v] of Object.entries(obj(verifierObj.version, 'predicate.verifier.version'))) version[k] = str(v, `predicate.verifier.version.${k}`);
  }
  const timeText = str(p.timeVerified, 'predicate.timeVerified');
  const time = new Date(timeText);
  if (!Number.isFinite(time.getTime())) bad(`predicate.timeVerified is not a time: ${JSON.stringify(timeText)}`);
  const policy = obj(p.policy, 'predicate.policy');
  if (policy.uri !== REBUILD_POLICY_URI) bad(`predicate.policy.uri is ${JSON.stringify(policy.uri)}, expected ${REBUILD_POLICY_URI}`);
  const result = p.verificationResult;
  if (result !== 'PASSED' && result !== 'FAILED') bad(`predicate.verificationResult must be PASSED or FAILED, found ${JSON.stringify(result)}`);
  const c = obj(p.cairn, 'predicate.cairn');
  if (c.format !== REBUILD_EXTENSION_FORMAT) bad(`predicate.cairn.format must be ${REBUILD_EXTENSION_FORMAT}`);
  const declaration = guard('BAD_STATEMENT', () => parseReleaseDeclaration(c, 'predicate.cairn'));
  const rebuilt = obj(c.rebuilt, 'predicate.cairn.rebuilt');
  const isolation = c.isolation;
  if (isolation !== 'bubblewrap' && isolation !== 'unshare' && isolation !== 'none') bad('predicate.cairn.isolation must be bubblewrap, unshare or none');
  const rebuild: RebuildDetails = {
    source: declaration.source,
    recipe: declaration.recipe,
    rebuilt: { sha256: hex(rebuilt.sha256, 'predicate.cairn.rebuilt.sha256'), length: int(rebuilt.length, 'predicate.cairn.rebuilt.length') },
    isolation: isolation as IsolationKind,
    environment: str(c.environment, 'predicate.cairn.environment'),
    ...(c.differences === undefined ? {} : { differences: parseDifferences(c.differences) }),
  };
  return {
    verifier: id.slice(VERIFIER_ID_PREFIX.length),
    subjects,
    subject: subjects[0]!,
    result: result as VerificationResult,
    timeVerified: time,
    resourceUri: str(p.resourceUri, 'predicate.resourceUri'),
    rebuild,
    verifierVersion: version,
  };
}

function parseDifferences(value: JsonValue): DifferenceSummary {
  const d = obj(value, 'predicate.cairn.differences');
  const publishedLength = int(d.publishedLength, 'differences.publishedLength');
  const rebuiltLength = int(d.rebuiltLength, 'differences.rebuiltLength');
  const firstDifferingOffset = int(d.firstDifferingOffset, 'differences.firstDifferingOffset');
  if (d.kind === 'bytes') return { kind: 'bytes', publishedLength, rebuiltLength, firstDifferingOffset };
  if (d.kind !== 'archive') bad('differences.kind must be bytes or archive');
  if (d.format !== 'tar' && d.format !== 'tar.gz') bad('differences.format must be tar or tar.gz');
  const files = d.files;
  if (!Array.isArray(files) || files.length > ATTESTATION_LIMITS.maxFileDifferences) bad(`differences.files must be a list of at most ${ATTESTATION_LIMITS.maxFileDifferences}`);
  const size = (v: JsonValue | undefined, what: string): number | null => (v === null ? null : int(v, what));
  return {
    kind: 'archive', format: d.format as 'tar' | 'tar.gz', publishedLength, rebuiltLength, firstDifferingOffset,
    moreFiles: int(d.moreFiles, 'differences.moreFiles'),
    ...(d.note === undefined ? {} : { note: str(d.note, 'differences.note') }),
    files: (files as JsonValue[]).map((f, i) => {
      const fo = obj(f, `differences.files[${i}]`);
      const change = fo.change;
      if (change !== 'content' && change !== 'metadata' && change !== 'only-published' && change !== 'only-rebuilt') bad(`differences.files[${i}].change is not a known kind`);
      return {
        path: str(fo.path, `differences.files[${i}].path`), change: change as FileDifference['change'],
        publishedSize: size(fo.publishedSize, `differences.files[${i}].publishedSize`), rebuiltSize: size(fo.rebuiltSize, `differences.files[${i}].rebuiltSize`),
        ...(fo.detail === undefined ? {} : { detail: str(fo.detail, `differences.files[${i}].detail`) }),
      };
    }),
  };
}

function policyKeys(policy: BuildPolicy): Map<string, TufPublicKey> {
  let keys: Map<string, TufPublicKey>;
  if (Array.isArray(policy.verifiers)) {
    keys = keyMap(policy.verifiers as readonly TufPublicKey[]);
  } else {
    keys = new Map();
    for (const [keyid, key] of Object.entries(policy.verifiers as Readonly<Record<string, TufPublicKey>>)) {
      if (keyIdOf(key) !== keyid) throw new AttestationError('BAD_POLICY', `policy lists verifier key ID ${short(keyid)} for a key whose ID is ${short(keyIdOf(key))}`);
      keys.set(keyid, key);
    }
  }
  if (!Number.isSafeInteger(policy.quorum) || policy.quorum < 1) throw new AttestationError('BAD_POLICY', `build quorum must be a positive integer, found ${policy.quorum}`);
  if (policy.quorum > keys.size) throw new AttestationError('BAD_POLICY', `build quorum ${policy.quorum} exceeds the ${keys.size} distinct verifier key(s) of the policy`);
  return keys;
}

function keyMap(keys: readonly TufPublicKey[]): Map<string, TufPublicKey> {
  return new Map(keys.map((k) => [keyIdOf(k), k]));
}

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function guard<T>(code: 'BAD_ENVELOPE' | 'BAD_STATEMENT', fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AttestationError) throw e;
    if (isCairnError(e)) throw new AttestationError(code, e.message, { cause: e });
    throw e;
  }
}

function bad(message: string): never {
  throw new AttestationError('BAD_STATEMENT', `attestation statement: ${message}`);
}

function obj(value: JsonValue | undefined, what: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(`${what} must be an object`);
  return value as JsonObject;
}

function str(value: JsonValue | undefined, what: string): string {
  if (typeof value !== 'string' || value.length > ATTESTATION_LIMITS.maxStringChars) bad(`${what} must be a string of at most ${ATTESTATION_LIMITS.maxStringChars} characters`);
  return value as string;
}

function hex(value: JsonValue | undefined, what: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) bad(`${what} must be a SHA-256 digest (64 lowercase hex)`);
  return value as string;
}

function int(value: JsonValue | undefined, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(`${what} must be a non-negative integer`);
  return value as number;
}
