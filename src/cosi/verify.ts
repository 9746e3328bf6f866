// cosi/verify.ts: collective-signature encoding and verification (docs/protocol.md section 3,
// "Encoding" and "Verification"; docs/design.md "Collective signatures (CoSi)"; CoSi verification).
// Check the bitmap (exact length, no stray bits), count participants against the roster's
// threshold, take X = Σ A_i from the roster's cache (decoded keys, X encoded once per bitmap),
// and run one node:crypto Ed25519 verification of (R || s) over M under X. node:crypto (OpenSSL)
// verifies cofactorless, [s]B = R + [c]X with s < L, as protocol.md 3 requires.
import { CosiError } from './errors.js';
import { ed25519Verify, hexToBytesExact, L, intLE, toHex } from './group.js';
import { countParticipants, decodeBitmap, participantIndices } from './bitmap.js';
import type { DecodedRoster } from './roster.js';

/** A collective signature: participation bitmap and the 64-byte Ed25519 signature R || s. */
export interface CollectiveSignature {
  bitmap: Uint8Array;
  signature: Uint8Array;
}

/** Its JSON form (protocol.md 3). */
export interface CollectiveSignatureJson {
  bitmap: string;
  signature: string;
}

export function encodeCollectiveSignature(cosig: CollectiveSignature): CollectiveSignatureJson {
  return { bitmap: toHex(cosig.bitmap), signature: toHex(cosig.signature) };
}

/**
 * Reads the JSON form (already bounded-parsed) against a roster size: exactly the fields
 * `bitmap` and `signature`, lowercase hex, exact lengths. Throws BAD_ENCODING or BAD_BITMAP.
 */
export function parseCollectiveSignature(value: unknown, rosterSize: number): CollectiveSignature {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CosiError('BAD_ENCODING', 'collective signature: expected an object with bitmap and signature');
  }
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (k !== 'bitmap' && k !== 'signature') throw new CosiError('BAD_ENCODING', `collective signature: unexpected field ${JSON.stringify(k)}`);
  }
  if (typeof obj.bitmap !== 'string') throw new CosiError('BAD_BITMAP', 'collective signature: bitmap must be a hex string');
  const bitmap = decodeBitmap(obj.bitmap, rosterSize);
  const signature = hexToBytesExact(obj.signature, 64, 'collective signature: signature');
  return { bitmap, signature };
}

/** What a successful verification established. */
export interface VerifiedCollectiveSignature {
  /** Hash of the roster the signature was verified under. */
  roster: string;
  /** Roster positions of the participants, ascending. */
  participants: number[];
  threshold: number;
  /** The aggregate key X the signature verifies under. */
  aggregateKey: Uint8Array;
}

/**
 * Verifies a collective signature over `message` (the full domain-separated message of
 * protocol.md 2) under an accepted (or vouched-for) roster. Throws CosiError BAD_ENCODING |
 * BAD_BITMAP | THRESHOLD_NOT_MET | BAD_SIGNATURE.
 */
export function verifyCollectiveSignature(
  roster: DecodedRoster,
  message: Uint8Array,
  cosig: CollectiveSignature | CollectiveSignatureJson,
): VerifiedCollectiveSignature {
  const { bitmap, signature } = typeof cosig.bitmap === 'string' || typeof cosig.signature === 'string'
    ? parseCollectiveSignature(cosig, roster.size)
    : { bitmap: decodeBitmap(cosig.bitmap, roster.size), signature: cosig.signature };
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new CosiError('BAD_ENCODING', `a collective signature is 64 bytes (R || s), found ${signature instanceof Uint8Array ? signature.length : typeof signature}`);
  }
  const count = countParticipants(bitmap);
  if (count < roster.threshold) {
    throw new CosiError('THRESHOLD_NOT_MET', `collective signature has ${count} of ${roster.size} co-signers, roster ${roster.hash.slice(0, 12)} needs ${roster.threshold}`);
  }
  if (intLE(signature.subarray(32)) >= L) throw new CosiError('BAD_SIGNATURE', 'signature scalar s is not below the group order (non-canonical)');
  let aggregate;
  try {
    aggregate = roster.aggregateKey(bitmap);
  } catch (e) {
    throw new CosiError('BAD_SIGNATURE', `no usable aggregate key for this bitmap: ${(e as Error).message}`, { cause: e });
  }
  if (!ed25519Verify(aggregate.keyObject, message, signature)) {
    throw new CosiError('BAD_SIGNATURE', `collective signature does not verify under the aggregate key of its ${count} co-signers (roster ${roster.hash.slice(0, 12)})`);
  }
  return { roster: roster.hash, participants: participantIndices(bitmap), threshold: roster.threshold, aggregateKey: aggregate.bytes };
}
