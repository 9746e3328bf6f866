// policy/release-state.ts: the release policy a witness applies before it co-signs a block
// (docs/design.md "What a witness checks before it co-signs a block"; CHAINIAC section 4: witnesses
// validate each release against the policy before signing). Pure functions over metadata bytes:
// given the TUF state this witness recorded for the chain's head and the documents of a proposed
// release, decide whether the new state is a valid successor and return it.
//
// Checked: the root chain (each new root signed by the old and its own threshold, versions
// +1), the snapshot signed by the root's snapshot keys, every changed targets role signed to its
// delegator's threshold (the developers' signatures), versions monotonic, no role removed, one
// version never with two contents, lengths and hashes snapshot lists, nothing expired at the
// witness's clock, every listed role delegated by the state itself. The snapshot must give the
// length and sha256 of every role it lists, and an unchanged role the recorded bytes: a block
// records the snapshot's bytes, so it then commits to every role's bytes (docs/protocol.md
// section 5 "What a block commits to").
import type { Key } from '@tufjs/models';
import { sha256Hex } from '../crypto/hash.js';
import { isCairnError } from '../errors/index.js';
import {
  checkLengthAndHashes, describeUnpinnedRoles, isExpired, parseEnvelope, rolesOf, verifyThreshold,
  type RoleKeys, type RootEnvelope, type SnapshotEnvelope, type TargetsEnvelope,
} from '../tuf/index.js';
import { PolicyError } from './errors.js';

/** A complete, verified repository state (what a block's payload describes). */
export interface ReleaseState {
  readonly root: RootEnvelope;
  readonly snapshot: SnapshotEnvelope;
  /** Every targets role the snapshot lists, top-level "targets" included, by role name. */
  readonly targets: ReadonlyMap<string, TargetsEnvelope>;
}

/** Documents proposed for a release. Only what changed since the previous state is needed. */
export interface ReleaseDocuments {
  /** New root versions in order (previous + 1, + 2, ...); for a genesis state, the initial root. */
  readonly roots: readonly Uint8Array[];
  readonly snapshot: Uint8Array;
  /** Targets documents by role name, for every role whose version changed (all roles at genesis). */
  readonly targets: Readonly<Record<string, Uint8Array>>;
}

/** What a block payload records of a state: versions and SHA-256 of the exact bytes. */
export interface StateDigest {
  root: { version: number; sha256: string };
  targets: { version: number; sha256: string };
  snapshot: { version: number; sha256: string };
}

/** A version and the exact bytes of one document of a state. */
export interface VersionedBytes {
  version: number;
  bytes: Uint8Array;
}

/** The digest of a state from the exact bytes of its root, top-level targets and snapshot (the one definition). */
export function stateDigest(root: VersionedBytes, targets: VersionedBytes, snapshot: VersionedBytes): StateDigest {
  const entry = (d: VersionedBytes): { version: number; sha256: string } => ({ version: d.version, sha256: sha256Hex(d.bytes) });
  return { root: entry(root), targets: entry(targets), snapshot: entry(snapshot) };
}

export function digestOf(state: ReleaseState): StateDigest {
  const targets = state.targets.get('targets')!;
  return stateDigest({ version: state.root.version, bytes: state.root.raw }, { version: targets.version, bytes: targets.raw }, { version: state.snapshot.version, bytes: state.snapshot.raw });
}

/** Checks the first state of a chain: the initial root verifies by itself. */
export function checkGenesisState(documents: ReleaseDocuments, now: Date): ReleaseState {
  if (documents.roots.length !== 1) {
    throw new PolicyError('ROOT_CHAIN', `a genesis release carries exactly one root, found ${documents.roots.length}`);
  }
  const root = parse(() => parseEnvelope('root', documents.roots[0]!, 'genesis root.json'));
  guard('ROOT_CHAIN', () => verifyRootBy(root, root, 'itself'));
  return checkState(root, undefined, documents, now);
}

/**
 * Checks the state a witness starts from when it joins an existing chain: `roots[0]` is the
 * chain's genesis root (it verifies by itself; the caller checks its hash against the genesis
 * block), each later root is signed by the one before and by itself, and the snapshot and
 * targets roles are checked as at genesis, against the last root.
 */
export function checkJoinState(documents: ReleaseDocuments, now: Date): ReleaseState {
  if (documents.roots.length === 0) throw new PolicyError('ROOT_CHAIN', 'joining a chain needs every root from the genesis root on, found none');
  let root = parse(() => parseEnvelope('root', documents.roots[0]!, 'genesis root.json'));
  guard('ROOT_CHAIN', () => verifyRootBy(root, root, 'itself'));
  for (const [i, bytes] of documents.roots.slice(1).entries()) {
    const next = parse(() => parseEnvelope('root', bytes, `root #${i + 2}`));
    if (next.version !== root.version + 1) throw new PolicyError('ROOT_CHAIN', `root v${next.version} does not follow root v${root.version}`);
    guard('ROOT_CHAIN', () => verifyRootBy(next, root, `root v${root.version}`));
    guard('ROOT_CHAIN', () => verifyRootBy(next, next, 'itself'));
    root = next;
  }
  return checkState(root, undefined, documents, now);
}

/** Checks that `documents` describe a valid successor of `previous`; returns the new state. */
export function checkSuccessorState(previous: ReleaseState, documents: ReleaseDocuments, now: Date): ReleaseState {
  let root = previous.root;
  for (const [i, bytes] of documents.roots.entries()) {
    const next = parse(() => parseEnvelope('root', bytes, `new root #${i + 1}`));
    if (next.version !== root.version + 1) {
      throw new PolicyError(next.version <= root.version ? 'ROLLBACK' : 'ROOT_CHAIN', `root v${next.version} does not follow root v${root.version}`);
    }
    guard('ROOT_CHAIN', () => verifyRootBy(next, root, `root v${root.version}`));
    guard('ROOT_CHAIN', () => verifyRootBy(next, next, 'itself'));
    root = next;
  }
  return checkState(root, previous, documents, now);
}

function checkState(root: RootEnvelope, previous: ReleaseState | undefined, documents: ReleaseDocuments, now: Date): ReleaseState {
  const nowMs = now.getTime();
  if (isExpired(root, nowMs)) throw new PolicyError('EXPIRED', `root v${root.version} expired at ${root.signed.expires}`);

  // Snapshot: signed by the (new) root's snapshot keys, no rollback, no removed role.
  const snapshot = parse(() => parseEnvelope('snapshot', documents.snapshot, 'snapshot.json'));
  const snapshotRole = root.signed.roles.snapshot;
  if (!snapshotRole) throw new PolicyError('BAD_DOCUMENT', `root v${root.version} has no snapshot role`);
  guard('SIGNATURE_THRESHOLD', () => verifyThreshold(snapshot, 'snapshot', snapshotRole, root.signed.keys, `root v${root.version}`));
  if (isExpired(snapshot, nowMs)) throw new PolicyError('EXPIRED', `snapshot v${snapshot.version} expired at ${snapshot.signed.expires}`);
  const unpinned = describeUnpinnedRoles(snapshot);
  if (unpinned !== undefined) {
    throw new PolicyError('UNPINNED_ROLE', `snapshot v${snapshot.version} lists ${unpinned}: the block would not commit to their bytes`, {
      hint: 'the publisher turns meta hashes on (cairn repo enable-meta-hashes DIR) and publishes again',
    });
  }
  if (previous) {
    const before = previous.snapshot;
    if (snapshot.version < before.version) {
      throw new PolicyError('ROLLBACK', `snapshot v${snapshot.version} is older than the recorded v${before.version}`);
    }
    if (snapshot.version === before.version && !sameBytes(snapshot.raw, before.raw)) {
      throw new PolicyError('VERSION_MISMATCH', `snapshot v${snapshot.version} differs from the recorded snapshot of the same version`);
    }
    for (const [name, meta] of Object.entries(before.signed.meta)) {
      const now = snapshot.signed.meta[name];
      if (!now) throw new PolicyError('REMOVED_ROLE', `snapshot v${snapshot.version} no longer lists ${name}`);
      if (now.version < meta.version) {
        throw new PolicyError('ROLLBACK', `snapshot v${snapshot.version} gives ${name} version ${now.version}, the recorded state has ${meta.version}`);
      }
    }
  }

  // Targets roles: the new document where the version changed, else the recorded one.
  const targets = new Map<string, TargetsEnvelope>();
  const changed = new Set<string>();
  for (const [file, meta] of Object.entries(snapshot.signed.meta)) {
    if (!file.endsWith('.json')) throw new PolicyError('BAD_DOCUMENT', `snapshot lists "${file}", not a .json role file`);
    const name = file.slice(0, -'.json'.length);
    const old = previous?.targets.get(name);
    const supplied = documents.targets[name];
    if (old && old.version === meta.version) {
      if (supplied && !sameBytes(supplied, old.raw)) {
        throw new PolicyError('VERSION_MISMATCH', `${name} v${meta.version} differs from the recorded ${name} of the same version`);
      }
      // The snapshot pins the bytes this witness recorded, not other bytes of the same version.
      guard('HASH_MISMATCH', () => checkLengthAndHashes(old.raw, meta, `recorded ${name}.json v${meta.version}`));
      targets.set(name, old);
      continue;
    }
    if (!supplied) throw new PolicyError('MISSING_DOCUMENT', `${name} v${meta.version} changed but its document was not supplied`);
    guard('HASH_MISMATCH', () => checkLengthAndHashes(supplied, meta, `${name}.json`));
    const envelope = parse(() => parseEnvelope('targets', supplied, `${name}.json`));
    if (envelope.version !== meta.version) {
      throw new PolicyError('VERSION_MISMATCH', `${name}.json has version ${envelope.version}, snapshot says ${meta.version}`);
    }
    targets.set(name, envelope);
    changed.add(name);
  }
  for (const name of Object.keys(documents.targets)) {
    if (!targets.has(name)) throw new PolicyError('UNDELEGATED_ROLE', `${name} was supplied but snapshot v${snapshot.version} does not list it`);
  }
  const top = targets.get('targets');
  if (!top) throw new PolicyError('MISSING_DOCUMENT', `snapshot v${snapshot.version} does not list targets.json`);

  // Signatures: walk the delegation graph from the top; re-verify a role when it or its
  // delegator changed, or (for top-level targets) when root changed.
  const rootChanged = previous === undefined || root !== previous.root;
  const visited = new Set<string>(['targets']);
  const targetsRole = root.signed.roles.targets;
  if (!targetsRole) throw new PolicyError('BAD_DOCUMENT', `root v${root.version} has no targets role`);
  if (rootChanged || changed.has('targets')) {
    guard('SIGNATURE_THRESHOLD', () => verifyThreshold(top, 'targets', targetsRole, root.signed.keys, `root v${root.version}`));
  }
  const queue: string[] = ['targets'];
  while (queue.length > 0) {
    const delegatorName = queue.shift()!;
    const delegator = targets.get(delegatorName)!;
    const delegations = delegator.signed.delegations;
    if (!delegations) continue;
    for (const { name, role } of rolesOf(delegations)) {
      const child = targets.get(name);
      if (!child) throw new PolicyError('REMOVED_ROLE', `${delegatorName} delegates to ${name}, which snapshot v${snapshot.version} does not list`);
      // A role delegated by several roles (a diamond) must meet every delegation to it: clients
      // trust it for each delegator's paths only with that delegator's keys (docs/protocol.md
      // "Delegations reached through several delegators").
      if (changed.has(name) || changed.has(delegatorName)) {
        guard('SIGNATURE_THRESHOLD', () => verifyThreshold(child, name, role, delegations.keys, `${delegatorName} v${delegator.version}`));
      }
      if (visited.has(name)) continue;
      visited.add(name);
      queue.push(name);
    }
  }
  for (const name of targets.keys()) {
    if (!visited.has(name)) throw new PolicyError('UNDELEGATED_ROLE', `snapshot v${snapshot.version} lists ${name}, which no role delegates`);
  }
  for (const [name, envelope] of targets) {
    if (isExpired(envelope, nowMs)) throw new PolicyError('EXPIRED', `${name} v${envelope.version} expired at ${envelope.signed.expires}`);
  }
  return { root, snapshot, targets };
}

/** Checks that a block's payload describes exactly `state`. */
export function checkPayloadMatches(payload: StateDigest, state: ReleaseState): void {
  const actual = digestOf(state);
  for (const role of ['root', 'targets', 'snapshot'] as const) {
    const p = payload[role];
    const a = actual[role];
    if (p.version !== a.version || p.sha256 !== a.sha256) {
      throw new PolicyError('PAYLOAD_MISMATCH', `the block records ${role} v${p.version} ${p.sha256.slice(0, 12)}, the documents are v${a.version} ${a.sha256.slice(0, 12)}`);
    }
  }
}

/** Checks that `time` is within `skewSeconds` of `now` (the block time rule). */
export function checkClockSkew(time: string, now: Date, skewSeconds: number): void {
  const t = Date.parse(time);
  if (!Number.isFinite(t) || Math.abs(t - now.getTime()) > skewSeconds * 1000) {
    throw new PolicyError('CLOCK_SKEW', `block time ${time} is more than ${skewSeconds} s from this witness's clock (${now.toISOString()})`);
  }
}

function verifyRootBy(candidate: RootEnvelope, by: RootEnvelope, description: string): void {
  const role: RoleKeys | undefined = by.signed.roles.root;
  if (!role) throw new PolicyError('BAD_DOCUMENT', `root v${by.version} has no root role`);
  verifyThreshold(candidate, 'root', role, by.signed.keys as Readonly<Record<string, Key>>, description === 'itself' ? `root v${candidate.version} itself` : description);
}

function parse<T>(fn: () => T): T {
  return guard('BAD_DOCUMENT', fn);
}

/** Runs `fn`, turning any lower-level CairnError into a PolicyError naming `rule`. */
function guard<T>(rule: PolicyError['code'], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PolicyError) throw e;
    if (isCairnError(e)) throw new PolicyError(rule, e.message, { cause: e });
    throw e;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
