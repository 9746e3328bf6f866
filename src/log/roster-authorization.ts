// log/roster-authorization.ts: the root role's consent to a roster (docs/protocol.md section 4;
// docs/design.md "Roles": root key holders rotate the witness roster). A roster comes into force at
// a block only with TUF-style signatures by at least the root threshold of the root keys in
// force at that block, over
//   "cairn/v1/roster-authorization" || 0x00 || canonical({ chain, index, roster: roster hash }).
// Counting follows TUF (spec 5.3/5.4): each root key counts once, unknown key IDs are ignored.
import { keyMaterialId, verifySignature, type TufPublicKey } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { cosiMessage } from './cosi-adapter.js';
import { LogError } from './errors.js';
import type { FieldReader } from '../encoding/field-reader.js';

export const ROSTER_AUTHORIZATION_CONTEXT = 'cairn/v1/roster-authorization';

/** A TUF signature (`{ keyid, sig }`, TUF spec 4.2). */
export interface TufSignature {
  keyid: string;
  sig: string;
}

/** The root role in force at a block: its keys by key ID and its threshold. */
export interface RootRole {
  keys: Record<string, TufPublicKey>;
  threshold: number;
}

/** What an authorization is about: a roster hash at one index of one chain. */
export interface RosterAuthorizationStatement {
  /** The chain ID (genesis block hash); the empty string for the genesis block itself. */
  chain: string;
  index: number;
  /** Hash of the authorized roster. */
  roster: string;
}

/** Most signatures accepted in one authorization (a root role of more keys is not plausible). */
const MAX_AUTHORIZATION_SIGNATURES = 256;

/** The exact bytes the root keys sign. */
function rosterAuthorizationMessage(statement: RosterAuthorizationStatement): Uint8Array {
  return cosiMessage(ROSTER_AUTHORIZATION_CONTEXT, { chain: statement.chain, index: statement.index, roster: statement.roster });
}

/** Signs a roster authorization with each of `signers` (root key holders). */
export function createRosterAuthorization(signers: readonly Signer[], statement: RosterAuthorizationStatement): TufSignature[] {
  const message = rosterAuthorizationMessage(statement);
  return signers.map((s) => ({ keyid: s.keyid, sig: s.sign(message) }));
}

/**
 * Verifies that `authorization` carries valid signatures by at least `root.threshold` distinct
 * root keys over `statement`. Returns the key IDs that counted; throws
 * LogError('ROSTER_NOT_AUTHORIZED') otherwise.
 */
export function verifyRosterAuthorization(
  authorization: readonly TufSignature[],
  statement: RosterAuthorizationStatement,
  root: RootRole,
): string[] {
  if (!Number.isSafeInteger(root.threshold) || root.threshold < 1) {
    throw new LogError('ROSTER_NOT_AUTHORIZED', `root threshold ${root.threshold} is not a positive integer`);
  }
  const message = rosterAuthorizationMessage(statement);
  // Root keys by key material: one key listed under two key IDs counts once (docs/protocol.md "Distinct keys").
  const counted = new Map<string, string>();
  for (const { keyid, sig } of authorization) {
    if (!Object.hasOwn(root.keys, keyid)) continue;
    const key = root.keys[keyid]!;
    try {
      const material = keyMaterialId(key);
      if (!counted.has(material) && verifySignature(key, message, sig)) counted.set(material, keyid);
    } catch {
      // an unusable root key counts as no signature
    }
  }
  if (counted.size < root.threshold) {
    throw new LogError(
      'ROSTER_NOT_AUTHORIZED',
      `roster ${statement.roster.slice(0, 12)} at index ${statement.index} is authorized by ${counted.size} root keys, the root role needs ${root.threshold}`,
      { hint: 'have the root key holders sign the roster change (cairn/v1/roster-authorization)' },
    );
  }
  return [...counted.values()];
}

/** Parses an untrusted authorization (`[{ keyid, sig }]`); `reader` throws the error of the format that carries it. */
export function parseAuthorization(value: unknown, reader: FieldReader): TufSignature[] {
  const list = reader.array(value, 'authorization', MAX_AUTHORIZATION_SIGNATURES);
  return list.map((entry, i) => {
    const o = reader.exact(entry, `authorization[${i}]`, ['keyid', 'sig']);
    return { keyid: reader.hex(o.keyid, `authorization[${i}].keyid`, 32), sig: reader.hexUpTo(o.sig, `authorization[${i}].sig`, 1024, 1) };
  });
}
