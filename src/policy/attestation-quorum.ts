// policy/attestation-quorum.ts: the quorum rule for rebuild attestations that witnesses apply
// before they co-sign a release and clients apply again (docs/verified-builds.md "The quorum rule
// (witnesses and clients)"): k PASSED attestations from distinct policy verifiers (distinct by
// key material, docs/protocol.md "Distinct keys") for exactly the artifact's name and sha256,
// and no FAILED one. Pure: no disk, no network, no clock.
import type { TufPublicKey } from '../crypto/public-key.js';
import { keyIdOf, keyMaterialId } from '../crypto/public-key.js';
import { isCairnError, short } from '../errors/index.js';
import { AttestationError } from './build-errors.js';
import { sameDeclaration, type ReleaseDeclaration } from './declaration.js';
import type { DsseEnvelope } from './dsse.js';
import { describeDifferences, FULL_ISOLATION, keyMap, parseAttestation, verifyAttestation, type RebuildStatement, type VerifiedAttestation } from './rebuild-statement.js';

/** The release policy's build rule: which verifier keys count, and how many must agree. */
export interface BuildPolicy {
  /** Verifier public keys (a list, or a map from key ID to key as TUF writes keys). */
  readonly verifiers: readonly TufPublicKey[] | Readonly<Record<string, TufPublicKey>>;
  /** k: PASSED attestations from distinct verifiers each artifact needs. */
  readonly quorum: number;
  /**
   * Count only attestations made under full isolation (bubblewrap; docs/verified-builds.md
   * "Isolation levels"): a verdict from a weaker sandbox, PASSED or FAILED, is ignored.
   */
  readonly requireFullIsolation?: boolean;
  /**
   * A witness co-signs an artifact built from an imported source only after fetching the upstream
   * file itself from its own mirrors (docs/upstream.md "Witnesses check the upstream").
   */
  readonly requireUpstreamFetch?: boolean;
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
 * The witness rule (docs/verified-builds.md section 7: each new or changed artifact has the
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
  // PASSED verifiers by key material (one key listed under two key IDs votes once) -> key ID.
  const passed = new Map<string, string>();
  const failed = new Map<string, RebuildStatement>();
  const weak = new Set<string>();
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
    if (policy.requireFullIsolation && s.rebuild.isolation !== FULL_ISOLATION) {
      weak.add(s.verifier);
      ignored.push({ index, reason: `verifier ${short(s.verifier)} rebuilt under ${s.rebuild.isolation} isolation; the build policy requires full isolation (${FULL_ISOLATION})` });
      continue;
    }
    if (artifact.declaration && !sameDeclaration(artifact.declaration, s.rebuild)) {
      ignored.push({ index, reason: `verifier ${short(s.verifier)} rebuilt source ${short(s.rebuild.source.sha256)} with another recipe than the one declared` });
      continue;
    }
    if (s.result === 'FAILED') failed.set(s.verifier, s);
    else passed.set(verifierIdentity(s.verifier, keys.get(s.verifier)!), s.verifier);
  }
  const what = `${artifact.name} (sha256 ${short(artifact.sha256)})`;
  if (failed.size > 0) {
    const details = [...failed.values()].map((s) => `${short(s.verifier)} (${describeDifferences(s.rebuild.differences)})`);
    throw new AttestationError('REBUILD_FAILED', `${what}: policy verifier(s) ${details.join('; ')} could not reproduce it`, {
      hint: 'rebuild from the declared source and recipe and compare (cairn rebuild run); publish only bytes that rebuild bit-identically',
    });
  }
  if (passed.size < policy.quorum && weak.size > 0) {
    throw new AttestationError('ISOLATION_TOO_WEAK',
      `${what} has ${passed.size} of ${policy.quorum} required PASSED attestations made under full isolation; verifier(s) ${[...weak].map((k) => short(k)).join(', ')} rebuilt it in a weaker sandbox, which the build policy in root does not count`, {
        hint: 'the verifiers must rebuild under full isolation: cairn rebuild run|serve --isolation bubblewrap',
      });
  }
  if (passed.size < policy.quorum) {
    const missing = [...keys].filter(([k, key]) => !passed.has(verifierIdentity(k, key))).map(([k]) => short(k));
    const passedList = [...passed.values()].map((k) => short(k));
    throw new AttestationError('QUORUM_NOT_MET',
      `${what} has ${passed.size} of ${policy.quorum} required PASSED attestations from distinct policy verifiers (passed: ${passedList.join(', ') || 'none'}; not attested: ${missing.join(', ')}` +
      (ignored.length > 0 ? `; ${ignored.length} attestation(s) ignored: ${ignored.slice(0, 5).map((i) => i.reason).join('; ')}` : '') + ')', {
        hint: 'wait for the verifiers (cairn rebuild serve) to publish their attestations under public/attestations/',
      });
  }
  return { passed: [...passed.values()].sort(), ignored };
}

/** What makes two policy verifiers one: their key material (docs/protocol.md "Distinct keys"); a key that cannot be decoded is itself (it never verifies an attestation). */
export function verifierIdentity(keyid: string, key: TufPublicKey): string {
  try {
    return keyMaterialId(key);
  } catch {
    return keyid;
  }
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
  const distinct = new Set([...keys].map(([k, key]) => verifierIdentity(k, key))).size;
  if (policy.quorum > distinct) throw new AttestationError('BAD_POLICY', `build quorum ${policy.quorum} exceeds the ${distinct} distinct verifier key(s) of the policy`);
  return keys;
}

