// Tests for cosi/keys.ts, cosi/group.ts, cosi/nonce.ts and cosi/message.ts: witness keys are
// RFC 8032 keys, bad keys (small order, outside the prime-order subgroup, non-canonical) are
// refused, proofs of possession bind a key, the nonce trick computes r·B exactly, and messages
// are domain separated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  CosiError, COSI_CONTEXTS, cosiMessage, createProofOfPossession, messageContext, NonceGenerator, proofOfPossessionMessage,
  validateWitnessPublicKey, verifyProofOfPossession, expandSeed, intLE, L, Point,
} from '../../src/cosi/index.js';
import { createHash, sign } from 'node:crypto';
import { seedFor, witnessKey } from './fixtures.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;

/** The 8 points of the torsion subgroup: multiples of a point of order 8. */
function torsionPoints(): InstanceType<typeof Point>[] {
  for (let y = 2n; ; y++) {
    let p;
    try {
      const bytes = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse();
      p = Point.fromBytes(bytes);
    } catch {
      continue;
    }
    const t = p.multiplyUnsafe(L - 1n).add(p);
    if (!t.multiplyUnsafe(4n).is0()) {
      return Array.from({ length: 8 }, (_, i) => (i === 0 ? Point.ZERO : t.multiplyUnsafe(BigInt(i))));
    }
  }
}

test('the secret scalar is RFC 8032 clamp(SHA-512(seed)[0:32]) and a·B is the node:crypto public key', () => {
  for (let i = 0; i < 4; i++) {
    const key = witnessKey(i, 'keys');
    assert.deepEqual(Point.BASE.multiply(key.scalar).toBytes(), key.publicKey);
    assert.equal(expandSeed(seedFor(i, 'keys')).scalar, key.scalar);
    // Agrees with noble's own RFC 8032 key derivation.
    assert.deepEqual(ed25519.getPublicKey(seedFor(i, 'keys')), key.publicKey);
  }
});

test('nonce trick: the R of node:crypto Ed25519 signing is exactly r·B for r = SHA-512(prefix || m) mod L', () => {
  const gen = new NonceGenerator();
  for (let i = 0; i < 8; i++) {
    const { r, R } = gen.nonce();
    assert.ok(r > 0n && r < L);
    assert.deepEqual(Point.BASE.multiply(r).toBytes(), R);
  }
  const pair = gen.pair();
  assert.deepEqual(Point.BASE.multiply(pair.r1).toBytes(), pair.R1);
  assert.deepEqual(Point.BASE.multiply(pair.r2).toBytes(), pair.R2);
  assert.notDeepEqual(pair.R1, pair.R2);
  // And the underlying fact, with a known seed: sign(m) starts with SHA-512(prefix || m)·B.
  const key = witnessKey(0, 'keys');
  const m = Buffer.alloc(32, 7);
  const { prefix } = expandSeed(seedFor(0, 'keys'));
  const digest = createHash('sha512').update(prefix).update(m).digest();
  const expected = Point.BASE.multiply(intLE(digest) % L).toBytes();
  assert.deepEqual(new Uint8Array(sign(null, m, key.privateKey).subarray(0, 32)), expected);
});

test('refuses small-order keys (all eight torsion points)', () => {
  const torsion = torsionPoints();
  assert.equal(torsion.length, 8);
  for (const t of torsion) {
    assert.throws(() => validateWitnessPublicKey(t.toBytes()), isCode('BAD_KEY'));
  }
});

test('refuses a key outside the prime-order subgroup (A + T, T of order 8)', () => {
  const A = Point.fromBytes(witnessKey(0, 'keys').publicKey);
  const mixed = A.add(torsionPoints()[1]!);
  assert.ok(!mixed.isSmallOrder());
  assert.throws(() => validateWitnessPublicKey(mixed.toBytes()), isCode('BAD_KEY'));
  validateWitnessPublicKey(A.toBytes());
});

test('refuses non-canonical key encodings (y >= p, x = 0 with the sign bit, not on the curve, wrong length)', () => {
  const yPlusP = Buffer.from('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex'); // y = p
  yPlusP[0] = 0xee; // y = p + 1, i.e. the identity's y = 1 non-canonically
  assert.throws(() => validateWitnessPublicKey(yPlusP), isCode('BAD_KEY'));
  const identityWithSign = Buffer.alloc(32);
  identityWithSign[0] = 1;
  identityWithSign[31] = 0x80; // x = 0 but sign bit set
  assert.throws(() => validateWitnessPublicKey(identityWithSign), isCode('BAD_KEY'));
  let offCurve: Buffer | undefined;
  for (let y = 2; !offCurve; y++) {
    const b = Buffer.alloc(32);
    b[0] = y;
    try {
      Point.fromBytes(b);
    } catch {
      offCurve = b;
    }
  }
  assert.throws(() => validateWitnessPublicKey(offCurve), isCode('BAD_KEY'));
  assert.throws(() => validateWitnessPublicKey(new Uint8Array(31)), isCode('BAD_KEY'));
});

test('a proof of possession verifies for its key only, and only over the proof-of-possession context', () => {
  const a = witnessKey(0, 'keys');
  const b = witnessKey(1, 'keys');
  const pop = createProofOfPossession(a);
  assert.ok(verifyProofOfPossession(a.publicKey, pop));
  assert.ok(!verifyProofOfPossession(b.publicKey, pop), 'a PoP of another key');
  // A signature by the key over its raw public key without the context is not a PoP.
  assert.ok(!verifyProofOfPossession(a.publicKey, new Uint8Array(sign(null, a.publicKey, a.privateKey))));
  // Nor is its signature over a co-signed statement that happens to contain the key.
  const other = cosiMessage(COSI_CONTEXTS.head, { key: a.publicKeyHex });
  assert.ok(!verifyProofOfPossession(a.publicKey, new Uint8Array(sign(null, other, a.privateKey))));
  assert.ok(!verifyProofOfPossession(a.publicKey, pop.subarray(0, 63)));
  assert.deepEqual(
    proofOfPossessionMessage(a.publicKey),
    Buffer.concat([Buffer.from('cairn/v1/proof-of-possession'), Buffer.of(0), a.publicKey]),
  );
});

test('cosiMessage is context || 0x00 || canonical(statement); malformed contexts are refused', () => {
  const m = cosiMessage('cairn/v1/head', { time: 't', index: 3 });
  assert.equal(Buffer.from(m).toString('latin1'), 'cairn/v1/head\u0000{"index":3,"time":"t"}');
  assert.equal(messageContext(m), 'cairn/v1/head');
  assert.throws(() => cosiMessage('', {}), isCode('BAD_CONTEXT'));
  assert.throws(() => cosiMessage('has space', {}), isCode('BAD_CONTEXT'));
  assert.throws(() => cosiMessage('nul\u0000inside', {}), isCode('BAD_CONTEXT'));
  assert.throws(() => messageContext(Buffer.from('no separator')), isCode('BAD_CONTEXT'));
});
