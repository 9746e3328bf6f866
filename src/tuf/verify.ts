// tuf/verify.ts: threshold signature verification of metadata (TUF spec 1.0.x 5.3.4, 5.3.5,
// 5.4.2, 5.5.3, 5.6.3). The signed bytes are canonicalized once at parse time; each key is
// decoded once (crypto/public-key caches the KeyObject); only keys that the delegating role
// lists count, each key at most once, however many keyids name it: keys are compared by their
// public key material, not by how they are written (docs/protocol.md "Distinct keys"). A key of
// a type cairn cannot use simply does not count.
import type { Key } from '@tufjs/models';
import { distinctValidSigners, type TufPublicKey } from '../crypto/public-key.js';
import { short } from '../errors/index.js';
import { TufError } from './errors.js';
import type { Envelope } from './metadata.js';

/** What a delegating role says about a delegated one: its keys and how many must sign. */
export interface RoleKeys {
  readonly keyIDs: readonly string[];
  readonly threshold: number;
}

const publicKeys = new WeakMap<Key, TufPublicKey>();

/** The TUF JSON form of a @tufjs/models Key, built once per Key object. */
function tufPublicKey(key: Key): TufPublicKey {
  let pub = publicKeys.get(key);
  if (!pub) {
    pub = {
      ...(key.unrecognizedFields ?? {}),
      keytype: key.keyType,
      scheme: key.scheme,
      keyval: key.keyVal as TufPublicKey['keyval'],
    };
    publicKeys.set(key, pub);
  }
  return pub;
}

/** Number of distinct role keys with a valid signature over the envelope's signed bytes. */
function countValidSignatures(envelope: Envelope, role: RoleKeys, keys: Readonly<Record<string, Key>>): number {
  const signatures = [...new Set(role.keyIDs)].flatMap((keyid) => {
    const sig = envelope.signatures.get(keyid);
    const key = keys[keyid];
    return sig === undefined || key === undefined ? [] : [{ keyid, key: tufPublicKey(key), sig }];
  });
  return distinctValidSigners(signatures, envelope.signedBytes).length;
}

/** Throws TufError('THRESHOLD_NOT_MET') unless `role.threshold` distinct role keys signed. */
export function verifyThreshold(
  envelope: Envelope,
  roleName: string,
  role: RoleKeys,
  keys: Readonly<Record<string, Key>>,
  signerDescription: string,
): void {
  const valid = countValidSignatures(envelope, role, keys);
  if (valid < role.threshold) {
    throw new TufError(
      'THRESHOLD_NOT_MET',
      `${roleName} v${envelope.version} has ${valid} valid signature(s) from the ${role.keyIDs.length} key(s) ${signerDescription} lists, the threshold is ${role.threshold}`,
      { hint: `keys: ${role.keyIDs.map((k) => short(k, 8)).join(', ') || 'none'}` },
    );
  }
}

/**
 * The root role of a root document as a set of decoded keys and a threshold: what signatures by
 * "the root keys in force" are counted against outside TUF metadata (roster authorizations,
 * docs/protocol.md section 4).
 */
export function rootRoleOf(root: Envelope<'root'>): { keys: Record<string, TufPublicKey>; threshold: number } {
  const role = root.signed.roles.root;
  if (!role) throw new TufError('BAD_METADATA', `root v${root.version} has no root role`);
  const keys: Record<string, TufPublicKey> = {};
  for (const id of role.keyIDs) {
    const key = root.signed.keys[id];
    if (key) keys[id] = tufPublicKey(key);
  }
  return { keys, threshold: role.threshold };
}
