// cosi/challenge.ts: round 2 of the two-nonce protocol (docs/protocol.md section 3, step 2;
// MuSig2 "Sign": binding coefficient, effective nonce, challenge). From the roster, the bitmap,
// the aggregate commitments R1, R2 and the message M:
//   X = Σ A_i over the bitmap,
//   b = int_le(SHA-512("cairn/v1/cosi-binding" || 0x00 || X || R1 || R2 || M)) mod L,
//   R = R1 + b·R2,
//   c = int_le(SHA-512(R || X || M)) mod L   (the Ed25519 challenge).
// The leader and every participant compute the same values from public inputs; an in-process
// memo (keyed by all the inputs) lets many in-process witnesses share one computation.
import { createHash } from 'node:crypto';
import { CosiError } from './errors.js';
import { decodePoint, hashToScalar, toHex, type Point } from './group.js';
import { COSI_CONTEXTS } from './message.js';
import type { AcceptedRoster, AggregateKey } from './roster.js';

/** Everything a participant and the leader derive in round 2. */
export interface RoundChallenge {
  readonly aggregateKey: AggregateKey;
  readonly R1: Point;
  readonly R2: Point;
  /** Binding coefficient b. */
  readonly b: bigint;
  /** Effective nonce R = R1 + b·R2, and its encoding (the first half of the signature). */
  readonly R: Point;
  readonly RBytes: Uint8Array;
  /** Ed25519 challenge c. */
  readonly c: bigint;
}

const BINDING_TAG = Buffer.concat([Buffer.from(COSI_CONTEXTS.cosiBinding, 'ascii'), Buffer.of(0)]);
const MEMO_SIZE = 256;
const memo = new Map<string, RoundChallenge>();

/**
 * Round-2 values for (roster, bitmap, R1, R2, M). Throws BAD_BITMAP for a malformed bitmap and
 * BAD_ENCODING when R1 or R2 is not a canonical point.
 */
export function computeChallenge(roster: AcceptedRoster, bitmap: Uint8Array, R1Bytes: Uint8Array, R2Bytes: Uint8Array, message: Uint8Array): RoundChallenge {
  if (R1Bytes.length !== 32 || R2Bytes.length !== 32) throw new CosiError('BAD_ENCODING', 'aggregate commitments R1 and R2 must be 32 bytes each');
  // Keyed by content, never by object identity: a caller may mutate its buffers between calls.
  const id = `${roster.hash}|${toHex(bitmap)}|${toHex(R1Bytes)}|${toHex(R2Bytes)}|${createHash('sha256').update(message).digest('hex')}:${message.length}`;
  const hit = memo.get(id);
  if (hit) return hit;
  const aggregateKey = roster.aggregateKey(bitmap);
  const R1 = decodePoint(R1Bytes, 'aggregate commitment R1');
  const R2 = decodePoint(R2Bytes, 'aggregate commitment R2');
  const b = hashToScalar(BINDING_TAG, aggregateKey.bytes, R1Bytes, R2Bytes, message);
  const R = R1.add(R2.multiplyUnsafe(b));
  const RBytes = R.toBytes();
  const c = hashToScalar(RBytes, aggregateKey.bytes, message);
  const challenge: RoundChallenge = { aggregateKey, R1, R2, b, R, RBytes, c };
  if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value!);
  memo.set(id, challenge);
  return challenge;
}
