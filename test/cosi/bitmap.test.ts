// Tests for cosi/bitmap.ts: one set of participants has exactly one bitmap; wrong lengths and
// stray bits beyond the roster are refused (protocol.md 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CosiError, countParticipants, decodeBitmap, encodeBitmap, hasParticipant, participantIndices } from '../../src/cosi/index.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;

test('bit i is byte i>>3, bit i&7, least significant first', () => {
  assert.deepEqual(encodeBitmap([0, 9, 10], 11), Uint8Array.of(0x01, 0x06));
  assert.deepEqual(participantIndices(Uint8Array.of(0x01, 0x06)), [0, 9, 10]);
  assert.equal(countParticipants(Uint8Array.of(0xff, 0x06)), 10);
  assert.ok(hasParticipant(Uint8Array.of(0x80), 7));
  assert.ok(!hasParticipant(Uint8Array.of(0x80), 6));
});

test('encode and decode round-trip for any set of participants', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.nat(n - 1)))), ([n, set]) => {
      const bitmap = encodeBitmap(set, n);
      assert.equal(bitmap.length, Math.ceil(n / 8));
      assert.deepEqual(decodeBitmap(bitmap, n), bitmap);
      assert.deepEqual(decodeBitmap(Buffer.from(bitmap).toString('hex'), n), bitmap);
      assert.deepEqual(participantIndices(bitmap), [...set].sort((a, b) => a - b));
      assert.equal(countParticipants(bitmap), set.length);
    }),
    { numRuns: 200 },
  );
});

test('refuses a bitmap of the wrong length (padding or truncation)', () => {
  assert.throws(() => decodeBitmap(Uint8Array.of(0xff, 0x00), 8), isCode('BAD_BITMAP'));
  assert.throws(() => decodeBitmap(Uint8Array.of(0xff), 9), isCode('BAD_BITMAP'));
  assert.throws(() => decodeBitmap('ff00', 8), isCode('BAD_BITMAP'));
  assert.throws(() => decodeBitmap(new Uint8Array(0), 1), isCode('BAD_BITMAP'));
});

test('refuses stray bits at or beyond n (a second encoding of the same participants)', () => {
  assert.throws(() => decodeBitmap(Uint8Array.of(0x1f), 4), isCode('BAD_BITMAP'));
  assert.throws(() => decodeBitmap(Uint8Array.of(0xff, 0x02), 9), isCode('BAD_BITMAP'));
  decodeBitmap(Uint8Array.of(0xff, 0x01), 9);
});

test('refuses non-hex and uppercase hex bitmaps, and out-of-range indices when encoding', () => {
  assert.throws(() => decodeBitmap('FF', 8), isCode('BAD_BITMAP'));
  assert.throws(() => decodeBitmap('zz', 8), isCode('BAD_BITMAP'));
  assert.throws(() => encodeBitmap([8], 8), isCode('BAD_BITMAP'));
  assert.throws(() => encodeBitmap([-1], 8), isCode('BAD_BITMAP'));
});
