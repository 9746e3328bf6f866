// crypto/public-key.ts: TUF public keys (TUF spec 4.2 "KEYS") and signature verification.
// cairn produces Ed25519 keys only; for consuming third-party repositories, verification also
// accepts ECDSA P-256 and P-384 (ecdsa-sha2-nistp256/384), RSA-PSS (rsassa-pss-sha256) and
// RSA PKCS#1 v1.5 (rsa-pkcs1v15-sha256, as securesystemslib signs). Keys are decoded once into
// node:crypto KeyObjects and cached.
import { createPublicKey, verify, constants, type KeyObject } from 'node:crypto';
import { canonicalBytes } from '../encoding/canonical-json.js';
import type { FieldReader } from '../encoding/field-reader.js';
import { sha256Hex } from './hash.js';
import { KeyError } from './errors.js';

/** A public key as TUF metadata spells it. */
export interface TufPublicKey {
  keytype: string;
  scheme: string;
  keyval: { public: string } & Record<string, string>;
  [extra: string]: unknown;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

interface DecodedKey {
  object: KeyObject;
  algorithm: 'ed25519' | 'ecdsa-sha256' | 'ecdsa-sha384' | 'rsa-pss-sha256' | 'rsa-pkcs1-sha256';
  /** keyMaterialId's answer, computed on first use. */
  material?: string;
}

const cache = new Map<string, DecodedKey>();
const CACHE_LIMIT = 10_000;

/** Longest keytype or scheme name, and longest keyval.public (a PEM RSA-4096 key is about 800 characters). */
const MAX_KEY_NAME_CHARS = 64;
const MAX_PUBLIC_KEY_CHARS = 4096;

/**
 * Reads a TUF public key `{keytype, scheme, keyval: {public}}` from untrusted JSON through the
 * caller's reader (so the caller's error code). Other fields are kept, as TUF keeps them (they
 * are part of the key ID). Whether the key decodes is decodePublicKey's question.
 */
export function readTufPublicKey(r: FieldReader, value: unknown, field: string): TufPublicKey {
  const key = r.object(value, field);
  r.string(key.keytype, `${field}.keytype`, MAX_KEY_NAME_CHARS, { min: 1 });
  r.string(key.scheme, `${field}.scheme`, MAX_KEY_NAME_CHARS, { min: 1 });
  r.string(r.object(key.keyval, `${field}.keyval`).public, `${field}.keyval.public`, MAX_PUBLIC_KEY_CHARS, { min: 1 });
  return key as TufPublicKey;
}

/** TUF key ID: SHA-256 of the canonical JSON of the key (as python-tuf and tuf-js compute it). */
export function keyIdOf(key: TufPublicKey): string {
  return sha256Hex(canonicalBytes(key));
}

/** Ed25519 public key in TUF form from 32 raw bytes. */
export function ed25519PublicKey(raw: Uint8Array): TufPublicKey {
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: Buffer.from(raw).toString('hex') } };
}

function decode(key: TufPublicKey): DecodedKey {
  const pub = key.keyval.public;
  if (typeof pub !== 'string') throw new KeyError('BAD_KEY', 'key has no keyval.public string');
  const isPem = pub.startsWith('-----BEGIN PUBLIC KEY-----');
  try {
    if (key.keytype === 'ed25519' && key.scheme === 'ed25519') {
      const object = isPem
        ? createPublicKey(pub)
        : createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, hexExact(pub, 32)]), format: 'der', type: 'spki' });
      if (object.asymmetricKeyType !== 'ed25519') throw new Error(`PEM holds a ${object.asymmetricKeyType} key`);
      return { object, algorithm: 'ed25519' };
    }
    if ((key.keytype === 'ecdsa' || key.keytype === 'ecdsa-sha2-nistp256') && key.scheme === 'ecdsa-sha2-nistp256') {
      const object = isPem
        ? createPublicKey(pub)
        : createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, hexExact(pub, 65)]), format: 'der', type: 'spki' });
      if (object.asymmetricKeyType !== 'ec' || object.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('not a P-256 key');
      }
      return { object, algorithm: 'ecdsa-sha256' };
    }
    if ((key.keytype === 'ecdsa' || key.keytype === 'ecdsa-sha2-nistp384') && key.scheme === 'ecdsa-sha2-nistp384') {
      if (!isPem) throw new Error('P-384 keys must be PEM');
      const object = createPublicKey(pub);
      if (object.asymmetricKeyType !== 'ec' || object.asymmetricKeyDetails?.namedCurve !== 'secp384r1') throw new Error('not a P-384 key');
      return { object, algorithm: 'ecdsa-sha384' };
    }
    if (key.keytype === 'rsa' && (key.scheme === 'rsassa-pss-sha256' || key.scheme === 'rsa-pkcs1v15-sha256')) {
      if (!isPem) throw new Error('RSA keys must be PEM');
      const object = createPublicKey(pub);
      if (object.asymmetricKeyType !== 'rsa') throw new Error(`PEM holds a ${object.asymmetricKeyType} key`);
      if ((object.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('RSA modulus below 2048 bits');
      return { object, algorithm: key.scheme === 'rsassa-pss-sha256' ? 'rsa-pss-sha256' : 'rsa-pkcs1-sha256' };
    }
  } catch (e) {
    throw new KeyError('BAD_KEY', `cannot decode ${key.keytype}/${key.scheme} public key: ${(e as Error).message}`);
  }
  throw new KeyError(
    'UNSUPPORTED_KEY',
    `unsupported key type/scheme ${key.keytype}/${key.scheme}; expected ed25519/ed25519, ecdsa/ecdsa-sha2-nistp256 or -nistp384, rsa/rsassa-pss-sha256 or rsa/rsa-pkcs1v15-sha256`,
  );
}

function hexExact(hex: string, bytes: number): Buffer {
  if (hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error(`expected ${bytes} bytes of hex, found ${hex.length} characters`);
  }
  return Buffer.from(hex, 'hex');
}

/** Decodes (and caches) a TUF key. Throws KeyError if unsupported or malformed. */
export function decodePublicKey(key: TufPublicKey): DecodedKey {
  const id = `${key.keytype}\u0000${key.scheme}\u0000${key.keyval.public}`;
  let decoded = cache.get(id);
  if (!decoded) {
    decoded = decode(key);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, decoded);
  }
  return decoded;
}

/**
 * The identity of a key's public material, the same however TUF metadata spells the key: hex of
 * either case or PEM, `keytype` / `scheme` variants of one algorithm, extra fields (all of which
 * change the key ID). It is the SHA-256 of the key's SubjectPublicKeyInfo DER (for Ed25519: a
 * fixed prefix and the 32 raw bytes). Thresholds and quorums count keys by it, so one key written
 * twice counts once (docs/protocol.md "Distinct keys"). Throws KeyError if the key cannot be used.
 */
export function keyMaterialId(key: TufPublicKey): string {
  const decoded = decodePublicKey(key);
  decoded.material ??= sha256Hex(decoded.object.export({ format: 'der', type: 'spki' }));
  return decoded.material;
}

/**
 * The key IDs of `signatures` that verify over `message`, one per distinct key material: what a
 * threshold counts (docs/protocol.md "Distinct keys"). A key that cannot be used counts as no
 * signature.
 */
export function distinctValidSigners(signatures: Iterable<{ keyid: string; key: TufPublicKey; sig: string }>, message: Uint8Array): string[] {
  const counted = new Map<string, string>();
  for (const { keyid, key, sig } of signatures) {
    try {
      const material = keyMaterialId(key);
      if (!counted.has(material) && verifySignature(key, message, sig)) counted.set(material, keyid);
    } catch {
      // unsupported or malformed key: it does not count
    }
  }
  return [...counted.values()];
}

/**
 * True when `signatureHex` is a valid signature by `key` over `data`. Never throws for a bad
 * signature; throws KeyError only if the key itself cannot be used.
 */
export function verifySignature(key: TufPublicKey, data: Uint8Array, signatureHex: string): boolean {
  const { object, algorithm } = decodePublicKey(key);
  if (typeof signatureHex !== 'string' || signatureHex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(signatureHex)) {
    return false;
  }
  const sig = Buffer.from(signatureHex, 'hex');
  try {
    switch (algorithm) {
      case 'ed25519':
        return sig.length === 64 && verify(null, data, object, sig);
      case 'ecdsa-sha256':
        return verify('sha256', data, object, sig);
      case 'ecdsa-sha384':
        return verify('sha384', data, object, sig);
      case 'rsa-pkcs1-sha256':
        return verify('sha256', data, { key: object, padding: constants.RSA_PKCS1_PADDING }, sig);
      case 'rsa-pss-sha256':
        return verify(
          'sha256',
          data,
          { key: object, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          sig,
        );
    }
  } catch {
    return false;
  }
}
