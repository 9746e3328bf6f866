// cosi/bitmap.ts: the participation bitmap of a collective signature (docs/protocol.md
// section 3, "Encoding" and "Verification"): bit i (byte i>>3, bit i&7, least significant first)
// says that roster witness i took part. A bitmap has exactly ceil(n/8) bytes and no bit set at
// or beyond n, so that one set of participants has exactly one encoding.
import { CosiError } from './errors.js';
import { hexToBytesExact } from './group.js';

/** Length in bytes of the bitmap of a roster of `size` witnesses. */
export function bitmapLength(size: number): number {
  return (size + 7) >> 3;
}

/** The bitmap with exactly `participants` set. Throws BAD_BITMAP for an index outside 0..size-1. */
export function encodeBitmap(participants: Iterable<number>, size: number): Uint8Array {
  const bitmap = new Uint8Array(bitmapLength(size));
  for (const i of participants) {
    if (!Number.isInteger(i) || i < 0 || i >= size) throw new CosiError('BAD_BITMAP', `participant index ${i} is outside 0..${size - 1}`);
    bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return bitmap;
}

/**
 * Validates a bitmap (bytes, or its lowercase hex) for a roster of `size` witnesses: exact
 * length, no stray bit at or beyond `size`. Returns the bytes.
 */
export function decodeBitmap(bitmap: Uint8Array | string, size: number): Uint8Array {
  const expected = bitmapLength(size);
  let bytes: Uint8Array;
  if (typeof bitmap === 'string') {
    try {
      bytes = hexToBytesExact(bitmap, expected, 'bitmap');
    } catch (e) {
      throw new CosiError('BAD_BITMAP', `bitmap for ${size} witnesses must be ${expected} bytes of lowercase hex, found ${bitmap.length} characters`, { cause: e });
    }
  } else {
    bytes = bitmap;
  }
  if (bytes.length !== expected) {
    throw new CosiError('BAD_BITMAP', `bitmap for ${size} witnesses must be ${expected} bytes, found ${bytes.length}`);
  }
  const spare = size & 7;
  if (spare !== 0 && (bytes[expected - 1]! >> spare) !== 0) {
    throw new CosiError('BAD_BITMAP', `bitmap has a bit set at or beyond position ${size} (the roster has ${size} witnesses)`);
  }
  return bytes;
}

/** Whether witness `i` is set in `bitmap`. */
export function hasParticipant(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3] ?? 0) >> (i & 7) & 1) === 1;
}

const POPCOUNT = new Uint8Array(256).map((_, v) => {
  let n = 0;
  for (let x = v; x !== 0; x >>= 1) n += x & 1;
  return n;
});

/** Number of bits set (the caller validates the bitmap first). */
export function countParticipants(bitmap: Uint8Array): number {
  let n = 0;
  for (const byte of bitmap) n += POPCOUNT[byte]!;
  return n;
}

/** Indices of the set bits, ascending. */
export function participantIndices(bitmap: Uint8Array): number[] {
  const out: number[] = [];
  for (let j = 0; j < bitmap.length; j++) {
    const byte = bitmap[j]!;
    if (byte === 0) continue;
    for (let k = 0; k < 8; k++) if ((byte >> k) & 1) out.push((j << 3) + k);
  }
  return out;
}
