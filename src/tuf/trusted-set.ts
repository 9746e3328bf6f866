// tuf/trusted-set.ts: the updater's set of trusted metadata and every check of the TUF client
// workflow that needs no I/O (TUF spec 1.0.x 5.3 root, 5.4 timestamp, 5.5 snapshot, 5.6 targets;
// semantics of python-tuf's ngclient TrustedMetadataSet). A pure state machine: metadata is
// loaded in the order root -> timestamp -> snapshot -> targets -> delegated targets, each
// verified against what is already trusted. Expiry is judged against one reference time fixed
// when the set is created (the start of a refresh).
//
// "Intermediate" metadata (python-tuf): an expired timestamp or an expired / version-mismatched
// snapshot is still kept after the error is raised, so that it protects the next update of the
// same role against rollback, but nothing can be loaded on top of it.
import type { Key } from '@tufjs/models';
import { UsageError, short } from '../errors/index.js';
import { digestHex } from '../crypto/hash.js';
import { TufError } from './errors.js';
import {
  isExpired,
  parseEnvelope,
  type RootEnvelope,
  type SnapshotEnvelope,
  type TargetsEnvelope,
  type TimestampEnvelope,
} from './metadata.js';
import { verifyThreshold, type RoleKeys } from './verify.js';

/** Length and hashes that a referring document promises for a file (MetaFile, TargetFile). */
export interface FileExpectation {
  readonly length?: number | undefined;
  readonly hashes?: Readonly<Record<string, string>> | undefined;
}

/** The hash algorithms a referring document may list for a file (metadata or target). */
export const SUPPORTED_HASHES: ReadonlySet<string> = new Set(['sha224', 'sha256', 'sha384', 'sha512']);

/** Checks `bytes` against an expected length and every listed hash (5.5.2, 5.6.2). */
export function checkLengthAndHashes(bytes: Uint8Array, expected: FileExpectation, what: string): void {
  if (expected.length !== undefined && bytes.byteLength !== expected.length) {
    throw new TufError('LENGTH_MISMATCH', `${what} is ${bytes.byteLength} bytes, the referring metadata says ${expected.length}`);
  }
  for (const [algorithm, hex] of Object.entries(expected.hashes ?? {})) {
    if (!SUPPORTED_HASHES.has(algorithm)) {
      throw new TufError('HASH_MISMATCH', `${what}: hash algorithm "${algorithm}" is not supported; cannot check it`);
    }
    const actual = digestHex(algorithm as 'sha256', bytes);
    if (actual !== hex.toLowerCase()) {
      throw new TufError('HASH_MISMATCH', `${what}: ${algorithm} is ${short(actual)}, the referring metadata says ${short(hex)}`);
    }
  }
}

/**
 * The roles a snapshot lists without both a length and a sha256, described for an error message
 * ("2 role(s) without length and sha256 (apps.json, targets.json)"), or undefined when it pins
 * every role (docs/protocol.md section 5 "What a block commits to"): a block records the
 * snapshot's bytes, and it commits to a targets role's bytes only through the sha256 the snapshot
 * gives for it; a role listed by version alone could be re-signed at the same version with other
 * content.
 */
export function describeUnpinnedRoles(snapshot: SnapshotEnvelope): string | undefined {
  const names = Object.entries(snapshot.signed.meta)
    .filter(([, meta]) => meta.length === undefined || typeof meta.hashes?.sha256 !== 'string')
    .map(([name]) => name)
    .sort();
  if (names.length === 0) return undefined;
  return `${names.length} role(s) without length and sha256 (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})`;
}

export type TimestampUpdate = 'updated' | 'unchanged';

export class TrustedSet {
  /** Reference time of every expiry check, in ms since the epoch. */
  readonly referenceMs: number;
  /** The root this set started from (before any rotation). */
  readonly initialRoot: RootEnvelope;
  private currentRoot: RootEnvelope;
  private currentTimestamp: TimestampEnvelope | undefined;
  private currentSnapshot: SnapshotEnvelope | undefined;
  private readonly targetsRoles = new Map<string, TargetsEnvelope>();
  /**
   * For each loaded targets role, the delegating documents (root or a targets envelope) whose
   * delegation it met. A role reached through several delegators (a diamond) is accepted through
   * each only once that delegator's keys and threshold have been checked (docs/protocol.md
   * "Delegations reached through several delegators").
   */
  private readonly verifiedBy = new Map<string, Set<RootEnvelope | TargetsEnvelope>>();

  /**
   * Loads the locally trusted root. It is verified only by itself (it is the trust anchor) and
   * may be expired: expiry is checked on the final root, before timestamp (5.3.10).
   */
  constructor(rootBytes: Uint8Array, referenceTime: Date) {
    this.referenceMs = referenceTime.getTime();
    const root = parseEnvelope('root', rootBytes, 'trusted root.json');
    verifyRoot(root, root, 'itself');
    this.initialRoot = root;
    this.currentRoot = root;
  }

  get root(): RootEnvelope {
    return this.currentRoot;
  }
  get timestamp(): TimestampEnvelope | undefined {
    return this.currentTimestamp;
  }
  get snapshot(): SnapshotEnvelope | undefined {
    return this.currentSnapshot;
  }
  get targets(): TargetsEnvelope | undefined {
    return this.targetsRoles.get('targets');
  }
  /**
   * Trusted targets metadata of `role` as delegated by `delegatorName`, if loaded: a role loaded
   * through another delegator is checked now against this delegator's keys and threshold, and
   * refused (THRESHOLD_NOT_MET) if it does not meet them, so holding the keys of one branch of a
   * diamond gives no say over the other branch's paths (5.6.7).
   */
  delegatedTargets(roleName: string, delegatorName: string): TargetsEnvelope | undefined {
    const envelope = this.targetsRoles.get(roleName);
    if (!envelope) return undefined;
    const verified = this.verifiedBy.get(roleName)!;
    // The common case, checked first: the role was loaded through this very delegator.
    if (verified.has((delegatorName === 'root' ? this.currentRoot : this.targetsRoles.get(delegatorName))!)) return envelope;
    const delegation = this.delegationOf(roleName, delegatorName);
    verifyThreshold(envelope, roleName, delegation.role, delegation.keys, delegation.description);
    verified.add(delegation.delegator);
    return envelope;
  }

  /**
   * True when a key that signed `role` for the initial root no longer does for the current one
   * (5.3.11: after such a rotation the old timestamp / snapshot must not be used).
   */
  keysRotated(role: 'timestamp' | 'snapshot'): boolean {
    const before = this.initialRoot.signed.roles[role];
    const after = this.currentRoot.signed.roles[role];
    if (!before || !after) return true;
    const now = new Set(after.keyIDs);
    return before.keyIDs.some((k) => !now.has(k));
  }

  /** 5.3.4-5.3.8: a newer root, signed by the trusted root's and by its own threshold. */
  updateRoot(bytes: Uint8Array, what = 'root.json'): RootEnvelope {
    if (this.currentTimestamp) throw new UsageError('CONFLICT', 'cannot update root after timestamp');
    const next = parseEnvelope('root', bytes, what);
    verifyRoot(next, this.currentRoot, `trusted root v${this.currentRoot.version}`);
    const expected = this.currentRoot.version + 1;
    if (next.version !== expected) {
      throw new TufError(
        next.version < expected ? 'ROLLBACK' : 'BAD_VERSION',
        `${what} has version ${next.version}, expected ${expected} (trusted root is v${this.currentRoot.version})`,
      );
    }
    verifyRoot(next, next, 'itself');
    this.currentRoot = next;
    return next;
  }

  /**
   * 5.4: a timestamp signed by the root's timestamp keys, with no rollback of its own version or
   * of the snapshot version it names. A timestamp with the same version as the trusted one
   * leaves the trusted one in place ('unchanged', like python-tuf). Throws EXPIRED if the final
   * root or the new timestamp is expired (the latter is kept as intermediate metadata).
   */
  updateTimestamp(bytes: Uint8Array, what = 'timestamp.json'): TimestampUpdate {
    if (this.currentSnapshot) throw new UsageError('CONFLICT', 'cannot update timestamp after snapshot');
    if (isExpired(this.currentRoot, this.referenceMs)) {
      throw new TufError('EXPIRED', `the final root (v${this.currentRoot.version}) expired at ${this.currentRoot.signed.expires}`, {
        hint: 'the repository must publish a new root; nothing can be trusted until then',
      });
    }
    const next = parseEnvelope('timestamp', bytes, what);
    verifyTopLevel(next, 'timestamp', this.currentRoot);
    const old = this.currentTimestamp;
    if (old) {
      if (next.version < old.version) {
        throw new TufError('ROLLBACK', `${what} has version ${next.version}, the trusted timestamp has ${old.version}`);
      }
      if (next.version === old.version) return 'unchanged';
      const oldSnap = old.signed.snapshotMeta.version;
      const newSnap = next.signed.snapshotMeta.version;
      if (newSnap < oldSnap) {
        throw new TufError('ROLLBACK', `${what} names snapshot version ${newSnap}, the trusted timestamp names ${oldSnap}`);
      }
    }
    this.currentTimestamp = next;
    this.checkFinalTimestamp();
    return 'updated';
  }

  /**
   * 5.5: a snapshot matching the timestamp's length and hashes (skipped for `trusted` bytes
   * that were verified in an earlier refresh), signed by the root's snapshot keys, that drops
   * no role and rolls back no role's version. Kept as intermediate metadata even when expired
   * or not the version the timestamp names; those raise EXPIRED / BAD_VERSION.
   */
  updateSnapshot(bytes: Uint8Array, trusted = false, what = 'snapshot.json'): SnapshotEnvelope {
    const timestamp = this.currentTimestamp;
    if (!timestamp) throw new TufError('NOT_TRUSTED', 'cannot update snapshot before timestamp');
    if (this.targetsRoles.size > 0) throw new UsageError('CONFLICT', 'cannot update snapshot after targets');
    this.checkFinalTimestamp();
    if (!trusted) checkLengthAndHashes(bytes, timestamp.signed.snapshotMeta, what);
    const next = parseEnvelope('snapshot', bytes, what);
    verifyTopLevel(next, 'snapshot', this.currentRoot);
    const old = this.currentSnapshot;
    if (old) {
      for (const [name, info] of Object.entries(old.signed.meta)) {
        const now = next.signed.meta[name];
        if (!now) throw new TufError('MISSING_ROLE', `${what} no longer lists ${name}, which the trusted snapshot lists`);
        if (now.version < info.version) {
          throw new TufError('ROLLBACK', `${what} gives ${name} version ${now.version}, the trusted snapshot gives ${info.version}`);
        }
      }
    }
    this.currentSnapshot = next;
    this.checkFinalSnapshot();
    return next;
  }

  /** 5.6 for the top-level targets role (delegated by root). */
  updateTargets(bytes: Uint8Array, what = 'targets.json'): TargetsEnvelope {
    return this.updateDelegatedTargets(bytes, 'targets', 'root', what);
  }

  /**
   * 5.6 / 5.6.7: targets metadata of `roleName`, delegated by `delegatorName` (already trusted),
   * matching the snapshot's length, hashes and version, signed to the delegation's threshold,
   * not expired.
   */
  updateDelegatedTargets(bytes: Uint8Array, roleName: string, delegatorName: string, what = `${roleName}.json`): TargetsEnvelope {
    const snapshot = this.currentSnapshot;
    if (!snapshot) throw new TufError('NOT_TRUSTED', 'cannot load targets before snapshot');
    this.checkFinalSnapshot();
    const meta = snapshot.signed.meta[`${roleName}.json`];
    if (!meta) throw new TufError('MISSING_ROLE', `the trusted snapshot v${snapshot.version} does not list ${roleName}.json`);
    const delegation = this.delegationOf(roleName, delegatorName);
    checkLengthAndHashes(bytes, meta, what);
    const next = parseEnvelope('targets', bytes, what);
    verifyThreshold(next, roleName, delegation.role, delegation.keys, delegation.description);
    if (next.version !== meta.version) {
      throw new TufError('BAD_VERSION', `${what} has version ${next.version}, the snapshot says ${meta.version}`);
    }
    if (isExpired(next, this.referenceMs)) {
      throw new TufError('EXPIRED', `${roleName} v${next.version} expired at ${next.signed.expires}`);
    }
    const loaded = this.targetsRoles.get(roleName);
    if (loaded && Buffer.compare(loaded.raw, next.raw) === 0) {
      this.verifiedBy.get(roleName)!.add(delegation.delegator);
      return loaded;
    }
    // New bytes: only the delegator just checked vouches for them.
    this.targetsRoles.set(roleName, next);
    this.verifiedBy.set(roleName, new Set([delegation.delegator]));
    return next;
  }

  /** The delegation of `roleName` by `delegatorName` (root for "targets", else a loaded targets role): its keys and threshold. */
  private delegationOf(roleName: string, delegatorName: string): {
    delegator: RootEnvelope | TargetsEnvelope;
    role: RoleKeys;
    keys: Readonly<Record<string, Key>>;
    description: string;
  } {
    if (delegatorName === 'root') {
      if (roleName !== 'targets') throw new TufError('MISSING_ROLE', `root delegates only "targets", not "${roleName}"`);
      const role = this.currentRoot.signed.roles.targets;
      if (!role) throw new TufError('MISSING_ROLE', `root v${this.currentRoot.version} does not delegate to targets`);
      return { delegator: this.currentRoot, role, keys: this.currentRoot.signed.keys, description: `root v${this.currentRoot.version}` };
    }
    const delegator = this.targetsRoles.get(delegatorName);
    if (!delegator) throw new TufError('NOT_TRUSTED', `cannot load ${roleName} before its delegator ${delegatorName}`);
    const delegations = delegator.signed.delegations;
    let role: RoleKeys | undefined = delegations?.roles?.[roleName];
    if (!role && delegations?.succinctRoles?.isDelegatedRole(roleName)) role = delegations.succinctRoles;
    if (!role) throw new TufError('MISSING_ROLE', `${delegatorName} does not delegate to ${roleName}`);
    return { delegator, role, keys: delegations?.keys ?? {}, description: `${delegatorName} v${delegator.version}` };
  }

  private checkFinalTimestamp(): void {
    const ts = this.currentTimestamp!;
    if (isExpired(ts, this.referenceMs)) {
      throw new TufError('EXPIRED', `timestamp v${ts.version} expired at ${ts.signed.expires}`, {
        hint: 'the repository has not published a fresh timestamp (or a mirror serves a frozen one)',
      });
    }
  }

  private checkFinalSnapshot(): void {
    const snapshot = this.currentSnapshot!;
    const ts = this.currentTimestamp!;
    if (isExpired(snapshot, this.referenceMs)) {
      throw new TufError('EXPIRED', `snapshot v${snapshot.version} expired at ${snapshot.signed.expires}`);
    }
    const expected = ts.signed.snapshotMeta.version;
    if (snapshot.version !== expected) {
      throw new TufError('BAD_VERSION', `snapshot has version ${snapshot.version}, timestamp v${ts.version} says ${expected}`);
    }
  }
}

/**
 * Checks that `root` is signed by its own root role's threshold: what makes a root usable as a
 * trust anchor (5.2) and the second half of 5.3.4. `what` names it in errors.
 */
export function verifySelfSignedRoot(root: RootEnvelope, what = `root v${root.version}`): void {
  verifyRoot(root, root, 'itself', what);
}

function verifyRoot(candidate: RootEnvelope, by: RootEnvelope, description: string, what = `root v${by.version}`): void {
  const role = by.signed.roles.root;
  if (!role) throw new TufError('BAD_METADATA', `${what} has no root role`);
  verifyThreshold(candidate, 'root', role, by.signed.keys, `${description === 'itself' ? `root v${by.version} itself` : description}`);
}

function verifyTopLevel(envelope: TimestampEnvelope | SnapshotEnvelope, name: 'timestamp' | 'snapshot', root: RootEnvelope): void {
  const role = root.signed.roles[name];
  if (!role) throw new TufError('BAD_METADATA', `root v${root.version} has no ${name} role`);
  verifyThreshold(envelope, name, role, root.signed.keys, `root v${root.version}`);
}
