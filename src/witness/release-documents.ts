// witness/release-documents.ts: the repository state a witness checks and records (docs/design.md
// "What a witness checks before it co-signs a block"; docs/protocol.md section 8 "documents"):
// the TUF documents of a request decoded into exact bytes, the state kept per role, and the
// build rule over the artifacts a state adds or changes.
import { checkRecordedAttestations, releaseBuildRule, type ReleaseDocuments, type ReleaseState } from '../policy/index.js';
import { base64Bytes, type WireDocuments } from './wire.js';

/** Key of a targets role in the stored documents ('root' and 'snapshot' are the others). */
export const TARGETS_PREFIX = 'targets:';

/**
 * The build rule (docs/design.md "What a witness checks": each new or changed artifact has the
 * policy's quorum of matching rebuild attestations), with the policy of the root in the NEW
 * state: every artifact the new state adds or changes needs its declaration and the quorum
 * (src/policy checkReleaseAttestations: QUORUM_NOT_MET, REBUILD_FAILED, NO_DECLARATION name the
 * artifact and the verifiers), and the payload's `attestations` must be the digest of the
 * envelopes relied on (null when no artifact changed, or when the root has no build policy).
 */
export function checkBuildAttestations(recordedDigest: string | null, previous: ReleaseState, next: ReleaseState, wire: Readonly<Record<string, readonly string[]>>, what: string): void {
  const rule = releaseBuildRule(next.root, previous.targets, next.targets);
  const attestations: Record<string, Uint8Array[]> = {};
  for (const a of rule.artifacts) {
    const list = Object.hasOwn(wire, a.name) ? wire[a.name]! : [];
    attestations[a.name] = list.map((text, i) => base64Bytes(text, `attestations.${a.name}[${i}]`));
  }
  checkRecordedAttestations(recordedDigest, rule, attestations, what);
}

/** Decodes the documents of a request into exact bytes. */
export function decodeDocuments(wire: WireDocuments): ReleaseDocuments {
  const targets: Record<string, Uint8Array> = {};
  for (const [name, text] of Object.entries(wire.targets)) targets[name] = base64Bytes(text, `documents.targets.${name}`);
  return {
    roots: wire.roots.map((r, i) => base64Bytes(r, `documents.roots[${i}]`)),
    snapshot: base64Bytes(wire.snapshot, 'documents.snapshot'),
    targets,
  };
}

export function stateDocuments(state: ReleaseState): Map<string, { version: number; bytes: Uint8Array }> {
  const out = new Map<string, { version: number; bytes: Uint8Array }>();
  out.set('root', { version: state.root.version, bytes: state.root.raw });
  out.set('snapshot', { version: state.snapshot.version, bytes: state.snapshot.raw });
  for (const [name, envelope] of state.targets) out.set(TARGETS_PREFIX + name, { version: envelope.version, bytes: envelope.raw });
  return out;
}
