// cosi/keys.ts: witness keys and proofs of possession (docs/protocol.md section 1; docs/design.md
// "Collective signatures (CoSi)", rogue-key defence). A witness key is an Ed25519 key; its
// secret scalar is RFC 8032's a = clamp(SHA-512(seed)[0:32]), which the CoSi response
// s_i = r_i1 + b·r_i2 + c·a_i needs. A proof of possession is the key's plain Ed25519
// signature over `"cairn/v1/proof-of-possession" || 0x00 || A`; a roster is accepted only when
// every key carries one, so nobody can enrol a key chosen to cancel others in the sum X.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { CosiError } from './errors.js';
import { decodeWitnessKey, ed25519KeyObject, ed25519Verify, intLE, L, toHex } from './group.js';
import { proofOfPossessionMessage } from './message.js';

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A witness's secret key material. Keep it in the witness process; never log it. */
export interface WitnessKey {
  /** 32-byte RFC 8032 public key A = a·B. */
  readonly publicKey: Uint8Array;
  /** `hex(publicKey)`, as rosters spell it. */
  readonly publicKeyHex: string;
  /** The secret scalar a mod L. */
  readonly scalar: bigint;
  /** node:crypto private key for plain Ed25519 signatures (the proof of possession). */
  readonly privateKey: KeyObject;
}

/** RFC 8032 5.1.5: clamp(SHA-512(seed)[0:32]) and the nonce prefix SHA-512(seed)[32:64]. */
export function expandSeed(seed: Uint8Array): { scalar: bigint; prefix: Buffer } {
  if (seed.length !== 32) throw new CosiError('BAD_KEY', `an Ed25519 seed is 32 bytes, found ${seed.length}`);
  const h = createHash('sha512').update(seed).digest();
  const a = Buffer.from(h.subarray(0, 32));
  a[0]! &= 248;
  a[31]! &= 127;
  a[31]! |= 64;
  const scalar = intLE(a) % L;
  a.fill(0);
  const prefix = Buffer.from(h.subarray(32, 64));
  h.fill(0);
  return { scalar, prefix };
}

/** node:crypto Ed25519 private key from a 32-byte seed. */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** Raw 32-byte public key of a node:crypto Ed25519 key (private or public). */
function rawPublicKey(key: KeyObject): Uint8Array {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** The witness key of a 32-byte seed (deterministic: fixtures use fixed seeds). */
export function witnessKeyFromSeed(seed: Uint8Array): WitnessKey {
  const { scalar, prefix } = expandSeed(seed);
  prefix.fill(0);
  const privateKey = ed25519PrivateKeyFromSeed(seed);
  const publicKey = rawPublicKey(privateKey);
  return { publicKey, publicKeyHex: toHex(publicKey), scalar, privateKey };
}

/** Checks a witness public key (protocol.md 1); throws CosiError('BAD_KEY'). */
export function validateWitnessPublicKey(publicKey: Uint8Array): void {
  decodeWitnessKey(publicKey);
}

/** The 64-byte proof of possession of `key` (protocol.md 1). */
export function createProofOfPossession(key: WitnessKey): Uint8Array {
  return new Uint8Array(sign(null, proofOfPossessionMessage(key.publicKey), key.privateKey));
}

/** True when `pop` is `publicKey`'s valid proof of possession. Does not validate the key itself. */
export function verifyProofOfPossession(publicKey: Uint8Array, pop: Uint8Array): boolean {
  if (publicKey.length !== 32 || pop.length !== 64) return false;
  let object: KeyObject;
  try {
    object = ed25519KeyObject(publicKey);
  } catch {
    return false;
  }
  return ed25519Verify(object, proofOfPossessionMessage(publicKey), pop);
}
