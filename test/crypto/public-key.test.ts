// Tests for crypto/public-key.ts: the key types a third-party repository may use verify, and
// malformed or unsupported keys are refused rather than silently accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, constants } from 'node:crypto';
import { verifySignature, keyIdOf, ed25519PublicKey, type TufPublicKey, generateEd25519, KeyError } from '../../src/crypto/index.js';

const data = Buffer.from('{"signed":"canonical bytes"}');

test('verifies Ed25519, ECDSA P-256 and RSA-PSS signatures and rejects altered data', () => {
  const ed = generateEd25519().signer;
  assert.ok(verifySignature(ed.publicKey, data, ed.sign(data)));

  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecKey: TufPublicKey = {
    keytype: 'ecdsa',
    scheme: 'ecdsa-sha2-nistp256',
    keyval: { public: ec.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
  };
  const ecSig = sign('sha256', data, ec.privateKey).toString('hex');
  assert.ok(verifySignature(ecKey, data, ecSig));
  assert.ok(!verifySignature(ecKey, Buffer.from('other'), ecSig));

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaKey: TufPublicKey = {
    keytype: 'rsa',
    scheme: 'rsassa-pss-sha256',
    keyval: { public: rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
  };
  const rsaSig = sign('sha256', data, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('hex');
  assert.ok(verifySignature(rsaKey, data, rsaSig));
  assert.ok(!verifySignature(rsaKey, Buffer.from('other'), rsaSig));
});

test('verifies ECDSA P-384 and RSA PKCS#1 v1.5 signatures of third-party repositories', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ecKey: TufPublicKey = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp384', keyval: { public: ec.publicKey.export({ format: 'pem', type: 'spki' }).toString() } };
  const ecSig = sign('sha384', data, ec.privateKey).toString('hex');
  assert.ok(verifySignature(ecKey, data, ecSig));
  assert.ok(!verifySignature(ecKey, Buffer.from('other'), ecSig));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaKey: TufPublicKey = { keytype: 'rsa', scheme: 'rsa-pkcs1v15-sha256', keyval: { public: rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString() } };
  const rsaSig = sign('sha256', data, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING }).toString('hex');
  assert.ok(verifySignature(rsaKey, data, rsaSig));
  // The same key under the PSS scheme does not accept a PKCS#1 v1.5 signature.
  assert.ok(!verifySignature({ ...rsaKey, scheme: 'rsassa-pss-sha256' }, data, rsaSig));
});

test('a signature by another key, a truncated or non-hex signature does not verify', () => {
  const a = generateEd25519().signer;
  const b = generateEd25519().signer;
  assert.ok(!verifySignature(a.publicKey, data, b.sign(data)));
  assert.ok(!verifySignature(a.publicKey, data, a.sign(data).slice(0, 126)));
  assert.ok(!verifySignature(a.publicKey, data, 'zz'.repeat(64)));
});

test('refuses unsupported schemes and malformed keys with typed errors', () => {
  assert.throws(
    () => verifySignature({ keytype: 'rsa', scheme: 'rsa-pkcs1v15-sha1', keyval: { public: 'x' } }, data, '00'),
    (e) => e instanceof KeyError && e.code === 'UNSUPPORTED_KEY',
  );
  assert.throws(() => verifySignature(ed25519PublicKey(Buffer.alloc(31)), data, '00'), (e) => e instanceof KeyError && e.code === 'BAD_KEY');
});

test('key IDs are the SHA-256 of the canonical key and differ between keys', () => {
  const k = ed25519PublicKey(Buffer.alloc(32, 1));
  assert.match(keyIdOf(k), /^[0-9a-f]{64}$/);
  assert.notEqual(keyIdOf(k), keyIdOf(ed25519PublicKey(Buffer.alloc(32, 2))));
  // Field order does not matter: canonical JSON sorts keys.
  assert.equal(keyIdOf({ scheme: 'ed25519', keyval: k.keyval, keytype: 'ed25519' }), keyIdOf(k));
});
