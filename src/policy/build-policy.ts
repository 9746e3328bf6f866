// policy/build-policy.ts: the release policy's build rule in trusted state, and the check a
// witness applies to a release (docs/verified-builds.md sections 6 and 7: each new or changed
// artifact has the policy's quorum of matching rebuild attestations; the policy changes only
// with a root signed by the root-key thresholds).
//
// The policy lives in root metadata as an unrecognized field of `signed` (TUF spec 1.0.x
// section 4: implementations keep unrecognized fields and sign over them), so it changes only
// through a root version signed by the old and the new root thresholds:
//
//   "x-cairn-build-policy": { "verifiers": { KEYID: TUF public key, ... }, "quorum": k,
//                             "requireFullIsolation": true (optional; absent means false),
//                             "requireUpstreamFetch": true (optional; absent means false) }
//
// With requireFullIsolation, only attestations made under full isolation (bubblewrap) count
// (docs/verified-builds.md "Isolation levels"). With requireUpstreamFetch, a witness co-signs a
// block with an imported source only if it fetched the upstream file itself from its own
// configured mirrors, so every co-signer (at least the roster threshold) did (docs/upstream.md
// "Witnesses check the upstream").
//
// A root without the field has no build rule (blocks then record attestations: null). Pure:
// no disk, no network, no clock.
import { isDeepStrictEqual } from 'node:util';
import type { TufPublicKey } from '../crypto/public-key.js';
import { keyIdOf, readTufPublicKey } from '../crypto/public-key.js';
import type { JsonObject, JsonValue } from '../encoding/canonical-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { isCairnError, short } from '../errors/index.js';
import type { RootEnvelope, TargetsEnvelope } from '../tuf/index.js';
import { checkAttestationQuorum, verifierIdentity, type BuildPolicy, type QuorumReport } from './attestation-quorum.js';
import { attestationsDigest } from './attestation-manifest.js';
import type { DsseEnvelope } from './dsse.js';
import { parseAttestation } from './rebuild-statement.js';
import { AttestationError } from './build-errors.js';
import { PolicyError } from './errors.js';
import { declarationFromCustom, type ReleaseDeclaration } from './declaration.js';

/** The unrecognized root field holding the build policy. */
export const BUILD_POLICY_FIELD = 'x-cairn-build-policy';

/** Caps on the policy and on a release's attestations (docs/architecture.md "Untrusted input"). */
export const BUILD_POLICY_LIMITS = {
  /** Verifier keys in one policy: far more than any real quorum needs. */
  maxVerifiers: 64,
  /** Attestations considered per artifact (one per verifier, with room for strays). */
  maxAttestationsPerArtifact: 64,
  /** New or changed artifacts one block may carry attestations for. */
  maxArtifacts: 10_000,
} as const;

/** The build policy recorded in `root`, or undefined when the root has none. Throws BAD_POLICY when malformed. */
export function buildPolicyOf(root: RootEnvelope): BuildPolicy & { readonly verifiers: Readonly<Record<string, TufPublicKey>> } | undefined {
  const fields = root.signed.unrecognizedFields as Record<string, JsonValue | undefined> | undefined;
  const value = fields?.[BUILD_POLICY_FIELD];
  if (value === undefined) return undefined;
  return parseBuildPolicy(value, `root v${root.version} ${BUILD_POLICY_FIELD}`);
}

/** Parses the JSON form of a build policy (strict: verifiers, quorum and the optional requireFullIsolation). */
export function parseBuildPolicy(value: JsonValue, what: string): BuildPolicy & { readonly verifiers: Readonly<Record<string, TufPublicKey>> } {
  const r = new FieldReader((message) => new AttestationError('BAD_POLICY', message), what);
  const o = r.exact(value, '', ['verifiers', 'quorum'], ['requireFullIsolation', 'requireUpstreamFetch']);
  const verifiers = r.entries(o.verifiers, 'verifiers', BUILD_POLICY_LIMITS.maxVerifiers);
  if (verifiers.length === 0) throw r.fail('verifiers must name at least one verifier key');
  const keys: Record<string, TufPublicKey> = {};
  const byMaterial = new Map<string, string>();
  for (const [id, value] of verifiers) {
    const key = readTufPublicKey(r, value, `verifiers.${short(id)}`);
    const keyid = keyIdOf(key);
    if (keyid !== id) throw r.fail(`verifier key ID ${short(id)} is not the ID of its key (${short(keyid)})`);
    // One verifier written twice (docs/protocol.md "Distinct keys") would count twice toward the quorum.
    const material = verifierIdentity(id, key);
    const twin = byMaterial.get(material);
    if (twin !== undefined) throw r.fail(`verifiers ${short(twin)} and ${short(id)} are the same key written twice`);
    byMaterial.set(material, id);
    keys[id] = key;
  }
  const requireFullIsolation = o.requireFullIsolation === undefined ? false : r.boolean(o.requireFullIsolation, 'requireFullIsolation');
  const requireUpstreamFetch = o.requireUpstreamFetch === undefined ? false : r.boolean(o.requireUpstreamFetch, 'requireUpstreamFetch');
  return {
    verifiers: keys, quorum: r.integer(o.quorum, 'quorum', 1, verifiers.length),
    ...(requireFullIsolation ? { requireFullIsolation } : {}), ...(requireUpstreamFetch ? { requireUpstreamFetch } : {}),
  };
}

/** The rules of a build policy besides its verifiers and quorum (each absent means false). */
export interface BuildPolicyRules {
  readonly requireFullIsolation?: boolean;
  readonly requireUpstreamFetch?: boolean;
}

/** The JSON written into root `signed` for a policy of `verifiers`, `quorum` and `rules` (validated). */
export function buildPolicyJson(verifiers: readonly TufPublicKey[], quorum: number, rules: BuildPolicyRules = {}): JsonObject {
  const map: JsonObject = {};
  for (const k of verifiers) map[keyIdOf(k)] = k as unknown as JsonObject;
  const json: JsonObject = {
    verifiers: map, quorum,
    ...(rules.requireFullIsolation === true ? { requireFullIsolation: true } : {}), ...(rules.requireUpstreamFetch === true ? { requireUpstreamFetch: true } : {}),
  };
  parseBuildPolicy(json, `${BUILD_POLICY_FIELD}`);
  return json;
}

/** A target the new state adds or whose bytes it changes. */
export interface ReleaseArtifact {
  readonly name: string;
  readonly sha256: string;
  /** Targets role that lists it in the new state. */
  readonly role: string;
  /** Its declaration, or undefined when its custom metadata has none. */
  readonly declaration: ReleaseDeclaration | undefined;
}

/**
 * The paths of the package indexes (docs/packages.md "Target paths"): a package's versions index
 * (its published versions, each mapped to its archive's target path) and the repository's package
 * index that `cairn search` reads. They are data, not built software: nothing runs them, a client
 * follows a versions index only to target paths it checks to be that package's archives, each of
 * which needs its own attestations, and a search result is only shown. So they need no rebuild.
 */
export const PACKAGE_VERSIONS_INDEX_PATH = /^packages\/(?:[a-z0-9][a-z0-9._-]{0,63}\/versions|index)\.json$/;

/**
 * Targets the new state adds or changes: every entry of a targets role whose document differs
 * from the recorded one, whose sha256 or declaration (its custom `source`, `recipe` and
 * `upstream`) is not what the recorded versions of the changed roles list for the same path (so a
 * target moved between roles is not new, and a declaration changed under the same bytes is
 * checked again). Removed targets need no
 * attestation, nor do package versions indexes (PACKAGE_VERSIONS_INDEX_PATH). Throws DeclarationError for a malformed declaration,
 * AttestationError for a target without sha256; `lenient` (for a rule that concerns only some
 * declarations, such as the upstream rule) reads those as targets without a declaration instead.
 */
export function changedArtifacts(previous: ReadonlyMap<string, TargetsEnvelope> | undefined, next: ReadonlyMap<string, TargetsEnvelope>, options: { lenient?: boolean } = {}): ReleaseArtifact[] {
  const changedRoles = [...next].filter(([name, e]) => previous?.get(name) !== e && !sameRaw(previous?.get(name), e));
  const before = new Map<string, { sha256: string | undefined; custom: unknown }>();
  for (const [name] of changedRoles) {
    const old = previous?.get(name);
    if (!old) continue;
    for (const [path, t] of Object.entries(old.signed.targets)) before.set(path, { sha256: t.hashes.sha256, custom: t.custom });
  }
  const out: ReleaseArtifact[] = [];
  for (const [role, envelope] of changedRoles) {
    for (const [path, t] of Object.entries(envelope.signed.targets)) {
      const sha256 = t.hashes.sha256;
      const old = before.get(path);
      if (sha256 !== undefined && old?.sha256 === sha256 && sameDeclarationFields(old.custom, t.custom)) continue;
      if (PACKAGE_VERSIONS_INDEX_PATH.test(path)) continue;
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
        if (options.lenient === true) continue;
        throw new AttestationError('NO_DECLARATION', `${path} in ${role} has no sha256: a rebuild attestation names a sha256`);
      }
      out.push({ name: path, sha256, role, declaration: readDeclaration(t.custom as JsonObject | undefined, `${path} custom metadata`, options.lenient === true) });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What a release relied on: per artifact the quorum report, and the digest the block records. */
export interface ReleaseAttestations {
  readonly artifacts: ReadonlyArray<{ readonly artifact: ReleaseArtifact; readonly report: QuorumReport; readonly relied: readonly DsseEnvelope[] }>;
  /** attestationsDigest of every envelope relied on; null when no artifact changed. */
  readonly digest: string | null;
}

/**
 * The witness rule for a release: each artifact in `artifacts` has a declaration (an artifact
 * nobody can rebuild cannot meet a quorum: NO_DECLARATION) and meets checkAttestationQuorum with
 * the attestations given for its path (REBUILD_FAILED, QUORUM_NOT_MET name the artifact and the
 * verifiers). The envelopes relied on are, per artifact, those that counted (valid PASSED by a
 * policy verifier for exactly its name, sha256 and declaration); the digest covers them all.
 */
export function checkReleaseAttestations(
  artifacts: readonly ReleaseArtifact[],
  attestations: Readonly<Record<string, ReadonlyArray<DsseEnvelope | Uint8Array>>>,
  policy: BuildPolicy,
): ReleaseAttestations {
  if (artifacts.length > BUILD_POLICY_LIMITS.maxArtifacts) {
    throw new AttestationError('QUORUM_NOT_MET', `the release changes ${artifacts.length} artifacts; one block carries attestations for at most ${BUILD_POLICY_LIMITS.maxArtifacts}`);
  }
  const out: Array<ReleaseAttestations['artifacts'][number]> = [];
  const all: DsseEnvelope[] = [];
  for (const artifact of artifacts) {
    if (!artifact.declaration) {
      throw new AttestationError('NO_DECLARATION', `${artifact.name} (sha256 ${short(artifact.sha256)}) has no release declaration (source and recipe) in ${artifact.role}; the build policy needs ${policy.quorum} verifier(s) to rebuild every new artifact`, {
        hint: 'add it with cairn repo add ... --declaration FILE (from cairn build)',
      });
    }
    const given = (Object.hasOwn(attestations, artifact.name) ? attestations[artifact.name] : undefined) ?? [];
    if (given.length > BUILD_POLICY_LIMITS.maxAttestationsPerArtifact) {
      throw new AttestationError('QUORUM_NOT_MET', `${artifact.name}: ${given.length} attestations given, at most ${BUILD_POLICY_LIMITS.maxAttestationsPerArtifact} are considered`);
    }
    const envelopes = given.map((g, i) => (g instanceof Uint8Array ? parseOrUndefined(g, `${artifact.name} attestation #${i + 1}`) : g));
    const report = checkAttestationQuorum({ name: artifact.name, sha256: artifact.sha256, declaration: artifact.declaration }, given, policy);
    const ignored = new Set(report.ignored.map((x) => x.index));
    const relied = envelopes.flatMap((e, i) => (e !== undefined && !ignored.has(i) ? [e] : []));
    all.push(...relied);
    out.push({ artifact, report, relied });
  }
  return { artifacts: out, digest: artifacts.length === 0 ? null : attestationsDigest(all) };
}

function parseOrUndefined(bytes: Uint8Array, what: string): DsseEnvelope | undefined {
  try {
    return parseAttestation(bytes, what);
  } catch (e) {
    if (isCairnError(e)) return undefined;
    throw e;
  }
}

/** The declaration in `custom`; leniently, none where it does not read as one. */
function readDeclaration(custom: JsonObject | undefined, what: string, lenient: boolean): ReleaseDeclaration | undefined {
  try {
    return declarationFromCustom(custom, what);
  } catch (e) {
    if (lenient && isCairnError(e)) return undefined;
    throw e;
  }
}

/** Whether two targets' custom metadata have the same declaration fields (`source`, `recipe`, `upstream`), as values. */
function sameDeclarationFields(a: unknown, b: unknown): boolean {
  const fields = (custom: unknown): unknown[] => {
    const o = typeof custom === 'object' && custom !== null && !Array.isArray(custom) ? custom as Record<string, unknown> : {};
    return [o.source, o.recipe, o.upstream];
  };
  return isDeepStrictEqual(fields(a), fields(b));
}

function sameRaw(a: TargetsEnvelope | undefined, b: TargetsEnvelope): boolean {
  return a !== undefined && Buffer.from(a.raw).equals(Buffer.from(b.raw));
}

/** What a release must show its builds for: the build policy of the new state's root, and the artifacts it covers. */
export interface ReleaseBuildRule {
  /** The policy of root v`rootVersion`, or undefined when it has none (no artifact then needs attestations). */
  readonly policy: (BuildPolicy & { readonly verifiers: Readonly<Record<string, TufPublicKey>> }) | undefined;
  readonly rootVersion: number;
  /** The artifacts the new state adds or changes (changedArtifacts), none without a policy. */
  readonly artifacts: readonly ReleaseArtifact[];
}

/** The build rule of the release from `previous` to `next` targets under `root`. Throws as changedArtifacts. */
export function releaseBuildRule(root: RootEnvelope, previous: ReadonlyMap<string, TargetsEnvelope>, next: ReadonlyMap<string, TargetsEnvelope>): ReleaseBuildRule {
  const policy = buildPolicyOf(root);
  return { policy, rootVersion: root.version, artifacts: policy === undefined ? [] : changedArtifacts(previous, next) };
}

/**
 * The build rule of a block (docs/design.md "What a witness checks before it co-signs a block"),
 * as witnesses apply it before co-signing and monitors again after: without a build policy the
 * payload records no attestations; with one, every artifact meets checkReleaseAttestations with
 * the attestations given for its path, and the payload records the digest of the envelopes
 * relied on (null when no artifact changed). Throws PolicyError PAYLOAD_MISMATCH, or
 * checkReleaseAttestations' AttestationError (QUORUM_NOT_MET, REBUILD_FAILED, NO_DECLARATION).
 */
export function checkRecordedAttestations(
  recordedDigest: string | null,
  rule: ReleaseBuildRule,
  attestations: Readonly<Record<string, ReadonlyArray<DsseEnvelope | Uint8Array>>>,
  what: string,
): void {
  if (rule.policy === undefined) {
    if (recordedDigest !== null) throw new PolicyError('PAYLOAD_MISMATCH', `${what} records build attestations ${recordedDigest.slice(0, 12)}, but root v${rule.rootVersion} has no build policy; the payload must say null`);
    return;
  }
  const { digest } = checkReleaseAttestations(rule.artifacts, attestations, rule.policy);
  if (digest !== recordedDigest) {
    throw new PolicyError('PAYLOAD_MISMATCH', `${what} records attestations ${recordedDigest === null ? 'null' : recordedDigest.slice(0, 12)}, the attestations relied on for its ${rule.artifacts.length} new or changed artifact(s) have digest ${digest === null ? 'null' : digest.slice(0, 12)}`);
  }
}

