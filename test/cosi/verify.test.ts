// Tests for cosi/verify.ts: a collective signature verifies only with enough participants, a
// well-formed bitmap, the right context and the right aggregate (protocol.md 3, Verification).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CosiError, cosiMessage, encodeBitmap, encodeCollectiveSignature, parseCollectiveSignature, runCosiRound,
  verifyCollectiveSignature, type CollectiveSignature, L, intLE, scalarToBytes, toHex,
} from '../../src/cosi/index.js';
import { cothority, headMessage, signDirect } from './fixtures.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;
const fleet = cothority(8, 5, 'verify');
const message = headMessage();
const signed = runCosiRound(fleet.roster, message, fleet.endpoints);

test('refuses a genuine signature by fewer co-signers than the threshold', async () => {
  const cosig = await signDirect(fleet.roster, fleet.signers.slice(0, 4), message);
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, cosig), isCode('THRESHOLD_NOT_MET'));
  const enough = await signDirect(fleet.roster, fleet.signers.slice(2, 7), message);
  assert.deepEqual(verifyCollectiveSignature(fleet.roster, message, enough).participants, [2, 3, 4, 5, 6]);
});

test('refuses a bitmap with stray bits or the wrong length', async () => {
  const small = cothority(5, 3, 'verify5');
  const { cosignature } = await runCosiRound(small.roster, message, small.endpoints);
  const stray = Uint8Array.from(cosignature.bitmap);
  stray[0] = stray[0]! | 0x20; // bit 5 of a 5-witness roster
  assert.throws(() => verifyCollectiveSignature(small.roster, message, { ...cosignature, bitmap: stray }), isCode('BAD_BITMAP'));
  const padded = Uint8Array.of(...cosignature.bitmap, 0);
  assert.throws(() => verifyCollectiveSignature(small.roster, message, { ...cosignature, bitmap: padded }), isCode('BAD_BITMAP'));
  const json = encodeCollectiveSignature(cosignature);
  assert.throws(() => verifyCollectiveSignature(small.roster, message, { ...json, bitmap: json.bitmap + '00' }), isCode('BAD_BITMAP'));
});

test('refuses a signature over another context (domain separation)', async () => {
  const statement = { chain: 'c', index: 4 };
  const head = cosiMessage('cairn/v1/head', statement);
  const { cosignature } = await runCosiRound(fleet.roster, head, fleet.endpoints);
  verifyCollectiveSignature(fleet.roster, head, cosignature);
  assert.throws(() => verifyCollectiveSignature(fleet.roster, cosiMessage('cairn/v1/forward-link', statement), cosignature), isCode('BAD_SIGNATURE'));
});

test('refuses a forged aggregate: random bytes, a claimed extra co-signer, a dropped co-signer, a replaced R', async () => {
  const { cosignature } = await signed;
  const forged: CollectiveSignature = { bitmap: cosignature.bitmap, signature: new Uint8Array(64).fill(3) };
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, forged), isCode('BAD_SIGNATURE'));
  const five = await signDirect(fleet.roster, fleet.signers.slice(0, 5), message);
  const claimsSix = { ...five, bitmap: encodeBitmap([0, 1, 2, 3, 4, 5], 8) };
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, claimsSix), isCode('BAD_SIGNATURE'));
  const six = await signDirect(fleet.roster, fleet.signers.slice(0, 6), message);
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, { ...six, bitmap: encodeBitmap([0, 1, 2, 3, 4], 8) }), isCode('BAD_SIGNATURE'));
  const mixed = { ...five, signature: Uint8Array.of(...six.signature.subarray(0, 32), ...five.signature.subarray(32)) };
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, mixed), isCode('BAD_SIGNATURE'));
});

test('refuses a non-canonical s (s + L, the malleated twin of a valid signature)', async () => {
  const { cosignature } = await signed;
  const s = intLE(cosignature.signature.subarray(32));
  if (s + L < 2n ** 256n) {
    const twin = Uint8Array.of(...cosignature.signature.subarray(0, 32), ...Buffer.from((s + L).toString(16).padStart(64, '0'), 'hex').reverse());
    assert.throws(() => verifyCollectiveSignature(fleet.roster, message, { ...cosignature, signature: twin }), isCode('BAD_SIGNATURE'));
  }
  assert.deepEqual(scalarToBytes(s), cosignature.signature.subarray(32));
});

test('refuses bad encodings: truncated signature, non-hex, unknown fields', async () => {
  const { cosignature } = await signed;
  const json = encodeCollectiveSignature(cosignature);
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, { ...cosignature, signature: cosignature.signature.subarray(0, 63) }), isCode('BAD_ENCODING'));
  assert.throws(() => verifyCollectiveSignature(fleet.roster, message, { ...json, signature: json.signature.toUpperCase() }), isCode('BAD_ENCODING'));
  assert.throws(() => parseCollectiveSignature({ ...json, roster: 'x' }, 8), isCode('BAD_ENCODING'));
  assert.throws(() => parseCollectiveSignature('nope', 8), isCode('BAD_ENCODING'));
  const parsed = parseCollectiveSignature(JSON.parse(JSON.stringify(json)), 8);
  assert.deepEqual(verifyCollectiveSignature(fleet.roster, message, parsed).participants.length, 8);
  assert.equal(json.bitmap, 'ff');
  assert.equal(json.signature, toHex(cosignature.signature));
});

test('property: any subset meeting the threshold verifies; any tampering fails with a CosiError', async () => {
  const small = cothority(7, 4, 'prop');
  const msg = headMessage(42);
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.nat(6), { minLength: 4, maxLength: 7 }),
      fc.nat(63 * 8 + 7),
      fc.integer({ min: 0, max: 2 }),
      async (subset, bit, what) => {
        const eps = subset.map((i) => small.endpoints[i]!);
        const { cosignature, participants } = await runCosiRound(small.roster, msg, eps, { branchingFactor: 2 + (subset.length % 3) });
        assert.deepEqual(participants, [...subset].sort((a, b) => a - b));
        verifyCollectiveSignature(small.roster, msg, cosignature);
        let tampered: CollectiveSignature;
        let tamperedMsg = msg;
        if (what === 0) {
          const sig = Uint8Array.from(cosignature.signature);
          sig[bit >> 3]! ^= 1 << (bit & 7);
          tampered = { ...cosignature, signature: sig };
        } else if (what === 1) {
          const b = Uint8Array.from(cosignature.bitmap);
          b[0]! ^= 1 << (bit % 7);
          tampered = { ...cosignature, bitmap: b };
        } else {
          tampered = cosignature;
          tamperedMsg = Uint8Array.from(msg);
          tamperedMsg[(bit % (msg.length - 14)) + 14]! ^= 1;
        }
        assert.throws(() => verifyCollectiveSignature(small.roster, tamperedMsg, tampered), (e: unknown) => e instanceof CosiError);
      },
    ),
    { numRuns: 40 },
  );
});
