// crypto/signer.ts: Ed25519 key generation and signing. cairn only ever creates Ed25519 keys
// (docs/design.md "only current cryptography"); a Signer never exposes its private key.
import { generateKeyPairSync, sign as nodeSign, createPublicKey, type KeyObject } from 'node:crypto';
import { ed25519PublicKey, keyIdOf, type TufPublicKey } from './public-key.js';
import { KeyError } from './errors.js';

export interface Signer {
  readonly keyid: string;
  readonly publicKey: TufPublicKey;
  /** Signature over `data`, as lowercase hex (the TUF "sig" field). */
  sign(data: Uint8Array): string;
}

/** Raw 32-byte Ed25519 public key of a KeyObject. */
function rawEd25519Public(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new KeyError('UNSUPPORTED_KEY', `expected an Ed25519 key, found ${key.asymmetricKeyType}`);
  }
  return Buffer.from(jwk.x, 'base64url');
}

export function ed25519Signer(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyError('UNSUPPORTED_KEY', `expected an Ed25519 private key, found ${privateKey.type} ${privateKey.asymmetricKeyType}`);
  }
  const publicKey = ed25519PublicKey(rawEd25519Public(createPublicKey(privateKey)));
  const keyid = keyIdOf(publicKey);
  return {
    keyid,
    publicKey,
    sign: (data) => nodeSign(null, data, privateKey).toString('hex'),
  };
}

export function generateEd25519(): { privateKey: KeyObject; signer: Signer } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, signer: ed25519Signer(privateKey) };
}
