// cosi/group.ts: edwards25519 points and scalars as CoSi uses them (docs/protocol.md sections 1
// and 3): canonical point decoding, witness-key validation (canonical, not small order, in the
// prime-order subgroup), scalars mod L in 32-byte little-endian form, and the bridge to
// node:crypto Ed25519 verification. Point and scalar arithmetic is @noble/curves; Ed25519 sign
// and verify are node:crypto (about 11 times faster here).
import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CosiError } from './errors.js';

export const Point = ed25519.Point;
export type Point = InstanceType<typeof ed25519.Point>;

/** The prime order L of the edwards25519 base point (RFC 8032 5.1). */
export const L: bigint = ed25519.Point.Fn.ORDER;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Little-endian bytes as an integer (RFC 8032 int_le). */
export function intLE(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(bytes).reverse().toString('hex'));
}

/** A scalar in [0, L) as 32 little-endian bytes. */
export function scalarToBytes(s: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse());
}

/** Reads a 32-byte little-endian scalar; refuses values at or above L (non-canonical). */
export function scalarFromBytes(bytes: Uint8Array, what: string): bigint {
  if (bytes.length !== 32) throw new CosiError('BAD_ENCODING', `${what}: expected a 32-byte scalar, found ${bytes.length} bytes`);
  const s = intLE(bytes);
  if (s >= L) throw new CosiError('BAD_ENCODING', `${what}: scalar is not below the group order L (non-canonical)`);
  return s;
}

/** int_le(SHA-512(parts...)) mod L: the hash-to-scalar of RFC 8032 and protocol.md 3. */
export function hashToScalar(...parts: Uint8Array[]): bigint {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return intLE(h.digest()) % L;
}

/**
 * Decodes a 32-byte point encoding, refusing non-canonical encodings (y not below p, or x = 0
 * with the sign bit set: RFC 8032 5.1.3 strict decoding) and bytes that are not on the curve.
 * No subgroup check: nonce commitments need none (a torsion component only makes that
 * participant's partial response fail, which is attributed to it).
 */
export function decodePoint(bytes: Uint8Array, what: string): Point {
  if (bytes.length !== 32) throw new CosiError('BAD_ENCODING', `${what}: expected a 32-byte point, found ${bytes.length} bytes`);
  try {
    return Point.fromBytes(bytes, false);
  } catch (e) {
    throw new CosiError('BAD_ENCODING', `${what}: not a canonical edwards25519 point (${(e as Error).message})`);
  }
}

/** Keys that passed validation, by encoding: consecutive rosters share most of their keys. */
const validatedKeys = new Map<string, Point>();
const VALIDATED_KEYS_LIMIT = 100_000;
/**
 * Keys of vouched rosters that were only decoded (canonical, on the curve), by encoding. Kept
 * apart from validatedKeys: a key decoded here is never taken as validated by decodeWitnessKey.
 */
const decodedVouchedKeys = new Map<string, Point>();

/** Forgets every validated and every decoded key (benchmarks measure a cold process this way). */
export function clearValidatedKeys(): void {
  validatedKeys.clear();
  decodedVouchedKeys.clear();
}

/** decodePoint for a witness key: a bad encoding is BAD_KEY. */
function decodeKeyPoint(bytes: Uint8Array, what: string): Point {
  try {
    return decodePoint(bytes, what);
  } catch (e) {
    throw new CosiError('BAD_KEY', (e as Error).message, { cause: e });
  }
}

/**
 * Decodes and validates a witness public key (protocol.md 1): canonical encoding, not of small
 * order, in the prime-order subgroup (L·A = identity). Costs one decode and one scalar
 * multiplication the first time a key is seen; valid keys are remembered by their encoding.
 */
export function decodeWitnessKey(bytes: Uint8Array, what = 'witness key'): Point {
  const id = Buffer.from(bytes).toString('hex');
  const known = validatedKeys.get(id);
  if (known) return known;
  const point = decodeKeyPoint(bytes, what);
  if (point.isSmallOrder()) throw new CosiError('BAD_KEY', `${what} is a point of small order`);
  if (!point.isTorsionFree()) throw new CosiError('BAD_KEY', `${what} is not in the prime-order subgroup (L·A is not the identity)`);
  if (validatedKeys.size >= VALIDATED_KEYS_LIMIT) validatedKeys.clear();
  validatedKeys.set(id, point);
  return point;
}

/**
 * Decodes a key of a vouched roster (protocol.md section 5, "Vouched rosters"): canonical
 * encoding and on the curve, which the point arithmetic needs, and nothing more. The small-order
 * and subgroup checks of decodeWitnessKey are left to the roster that vouched for this one (its
 * honest members made them before co-signing the change). A key validated before is returned
 * from that cache; a key decoded here is remembered apart and never counts as validated.
 */
export function decodeVouchedWitnessKey(bytes: Uint8Array, what = 'witness key'): Point {
  const id = Buffer.from(bytes).toString('hex');
  const known = validatedKeys.get(id) ?? decodedVouchedKeys.get(id);
  if (known) return known;
  const point = decodeKeyPoint(bytes, what);
  if (decodedVouchedKeys.size >= VALIDATED_KEYS_LIMIT) decodedVouchedKeys.clear();
  decodedVouchedKeys.set(id, point);
  return point;
}

/** A node:crypto public KeyObject for 32 raw Ed25519 public-key bytes. */
export function ed25519KeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** node:crypto Ed25519 verification (RFC 8032, cofactorless [s]B = R + [k]A, s < L). Never throws. */
export function ed25519Verify(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Strict lowercase hex of an exact byte length (protocol.md notation `hex`). */
export function hexToBytesExact(hex: unknown, bytes: number, what: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !/^[0-9a-f]*$/.test(hex)) {
    const found = typeof hex === 'string' ? `${hex.length} characters` : typeof hex;
    throw new CosiError('BAD_ENCODING', `${what}: expected ${bytes} bytes of lowercase hex, found ${found}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
