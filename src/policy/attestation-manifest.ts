// policy/attestation-manifest.ts: which rebuild attestations a block relied on
// (docs/verified-builds.md sections 7 and 8; docs/protocol.md section 7 "Static files").
// A block's payload records `attestations` = attestationsDigest of the envelopes the witnesses
// counted; beside the log, the leader publishes the manifest log/attestations/<digest>.json:
//
//   { "type": "cairn/v1/attestation-manifest", "digest": DIGEST,
//     "artifacts": [{ "target": PATH, "sha256": ARTIFACT SHA-256, "envelopes": [envelope digests] }] }
//
// Its name is the digest the co-signed block records and the union of its envelope digests must
// hash to that digest, so the block authenticates the manifest: a mirror cannot swap it. Pure.
import { sha256Hex } from '../crypto/hash.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { short } from '../errors/index.js';
import { AttestationError } from './build-errors.js';
import { envelopeDigest, type DsseEnvelope } from './dsse.js';

export const ATTESTATION_MANIFEST_TYPE = 'cairn/v1/attestation-manifest';
/** Domain separation of attestationsDigest (docs/protocol.md section 2). */
export const ATTESTATIONS_DIGEST_CONTEXT = 'cairn/v1/attestations';

/** Caps on a manifest read from a mirror (docs/architecture.md "Untrusted input"). */
export const ATTESTATION_MANIFEST_LIMITS = {
  /** One manifest: 10,000 artifacts with a few digests each fit. */
  maxBytes: 8 * 1024 * 1024,
  /** Artifacts of one block (as BUILD_POLICY_LIMITS.maxArtifacts). */
  maxArtifacts: 10_000,
  /** Envelopes relied on per artifact (as BUILD_POLICY_LIMITS.maxAttestationsPerArtifact). */
  maxEnvelopesPerArtifact: 64,
  /** A target path (as the witness API caps it). */
  maxTargetChars: 4096,
} as const;

/** One artifact of a release and the digests of the envelopes relied on for it. */
export interface AttestationManifestEntry {
  readonly target: string;
  readonly sha256: string;
  /** envelopeDigest of each envelope relied on, unique and sorted. */
  readonly envelopes: readonly string[];
}

export interface AttestationManifest {
  readonly type: typeof ATTESTATION_MANIFEST_TYPE;
  /** attestationsDigest of every envelope listed: what the block payload records. */
  readonly digest: string;
  readonly artifacts: readonly AttestationManifestEntry[];
}

/**
 * The digest a block's payload records for the attestations it relied on (docs/verified-builds.md
 * "The quorum rule"):
 *   sha256( "cairn/v1/attestations" || "\n" || join("\n", sorted unique envelopeDigest(e)) )
 * with digests as lowercase hex. Order-independent and duplicate-free, so any party holding the
 * same set of envelopes (from any mirror, in any order) computes the same value. The empty list
 * has a digest too; callers record null in a block that adds no artifact.
 */
export function attestationsDigest(envelopes: readonly DsseEnvelope[]): string {
  return digestOfEnvelopeDigests(envelopes.map(envelopeDigest));
}

/** attestationsDigest of envelopes known by their envelopeDigest. */
function digestOfEnvelopeDigests(digests: readonly string[]): string {
  return sha256Hex([ATTESTATIONS_DIGEST_CONTEXT, ...[...new Set(digests)].sort()].join('\n'));
}

/** Where the manifest of `digest` is published, relative to the log directory: attestations/<digest>.json. */
export function attestationManifestLogPath(digest: string): string {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new AttestationError('BAD_MANIFEST', `not an attestations digest: ${JSON.stringify(digest.slice(0, 80))}`);
  return `attestations/${digest}.json`;
}

/** Where the manifest of `digest` is published, relative to the repository's public root: log/attestations/<digest>.json. */
export function attestationManifestPath(digest: string): string {
  return `log/${attestationManifestLogPath(digest)}`;
}

/**
 * The manifest of a release: for each artifact (in the order given), the digests of the
 * envelopes relied on for it; its digest is attestationsDigest of them all.
 */
export function buildAttestationManifest(
  entries: ReadonlyArray<{ readonly target: string; readonly sha256: string; readonly envelopes: readonly DsseEnvelope[] }>,
): AttestationManifest {
  const artifacts = entries.map((e) => ({ target: e.target, sha256: e.sha256, envelopes: [...new Set(e.envelopes.map(envelopeDigest))].sort() }));
  return { type: ATTESTATION_MANIFEST_TYPE, digest: digestOfEnvelopeDigests(artifacts.flatMap((a) => a.envelopes)), artifacts };
}

/** The file form of a manifest (pretty-printed, fixed key order, trailing newline). */
export function serializeAttestationManifest(manifest: AttestationManifest): string {
  const doc = {
    type: ATTESTATION_MANIFEST_TYPE,
    digest: manifest.digest,
    artifacts: manifest.artifacts.map((a) => ({ target: a.target, sha256: a.sha256, envelopes: [...a.envelopes] })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * Parses the manifest a block with payload `attestations` = `digest` names, from untrusted bytes:
 * exact fields, capped lists, digests as lowercase hex, each target once, and its envelope
 * digests hash to `digest`. Throws FormatError when the bytes are not JSON within the caps,
 * AttestationError BAD_MANIFEST when the document is not such a manifest.
 */
export function parseAttestationManifest(bytes: Uint8Array | string, what: string, digest: string): AttestationManifest {
  const r = new FieldReader((message) => new AttestationError('BAD_MANIFEST', message), what);
  const limits = ATTESTATION_MANIFEST_LIMITS;
  const m = r.exact(parseJsonObject(bytes, what, { maxBytes: limits.maxBytes, maxDepth: 6, maxEntries: 1_000_000 }), '', ['type', 'digest', 'artifacts']);
  r.literal(m.type, 'type', ATTESTATION_MANIFEST_TYPE);
  const named = r.hex(m.digest, 'digest');
  const seen = new Set<string>();
  const artifacts = r.array(m.artifacts, 'artifacts', limits.maxArtifacts).map((a, i) => {
    const e = r.exact(a, `artifacts[${i}]`, ['target', 'sha256', 'envelopes']);
    const target = r.string(e.target, `artifacts[${i}].target`, limits.maxTargetChars, { min: 1 });
    if (seen.has(target)) throw r.fail(`artifacts[${i}] repeats target ${JSON.stringify(target.slice(0, 200))}`);
    seen.add(target);
    return {
      target,
      sha256: r.hex(e.sha256, `artifacts[${i}].sha256`),
      envelopes: r.array(e.envelopes, `artifacts[${i}].envelopes`, limits.maxEnvelopesPerArtifact).map((d, j) => r.hex(d, `artifacts[${i}].envelopes[${j}]`)),
    };
  });
  const actual = digestOfEnvelopeDigests(artifacts.flatMap((a) => a.envelopes));
  if (actual !== digest) throw r.fail(`its envelopes hash to ${short(actual)}, the witnessed block records ${short(digest)}`);
  if (named !== digest) throw r.fail(`names digest ${short(named)}, the witnessed block records ${short(digest)}`);
  return { type: ATTESTATION_MANIFEST_TYPE, digest, artifacts };
}
