// repo/key-files.ts: public key files (FILE.pub.json) and reading a TUF public key from either a
// public key file or a private key file's header (TUF spec 4.2 "KEYS"). Root operations only
// ever need these files: private keys stay with their holders, offline.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { stat } from 'node:fs/promises';
import { readKeyFileHeader, writeKeyFile, KEY_FILE_FORMAT } from '../crypto/key-file.js';
import { generateEd25519 } from '../crypto/signer.js';
import { StorageError } from '../errors/index.js';
import { keyIdOf, decodePublicKey, readTufPublicKey, type TufPublicKey } from '../crypto/public-key.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile } from '../io/capped-file.js';
import { KeyError } from '../crypto/errors.js';
import { stableJson } from './metadata-file.js';

export const PUBLIC_KEY_FORMAT = 'cairn/public-key/v1';
/** A key file holds one key (a PEM RSA key is the largest). */
const KEY_FILE_LIMITS = { maxBytes: 64 * 1024, maxDepth: 6, maxEntries: 1000 };

export interface PublicKeyFile {
  format: typeof PUBLIC_KEY_FORMAT;
  keyid: string;
  public: TufPublicKey;
}

export async function writePublicKeyFile(path: string, key: TufPublicKey): Promise<void> {
  const file: PublicKeyFile = { format: PUBLIC_KEY_FORMAT, keyid: keyIdOf(key), public: key };
  await writeFileAtomic(path, stableJson(file));
}

/**
 * The public key in `path`: a cairn public key file, a bare TUF key object
 * ({keytype, scheme, keyval}), or a cairn private key file (only its public header is read).
 */
export async function readPublicKey(path: string): Promise<{ keyid: string; key: TufPublicKey }> {
  const bytes = await readCappedFile(path, KEY_FILE_LIMITS.maxBytes, { what: `key file ${path}` });
  const json = parseJsonObject(bytes, `key file ${path}`, KEY_FILE_LIMITS);
  const r = new FieldReader((message) => new KeyError('BAD_KEY_FILE', `${path} holds no public key (expected a cairn key file or a TUF key object): ${message}`));
  let tufKey: TufPublicKey;
  if (json.format === KEY_FILE_FORMAT) tufKey = (await readKeyFileHeader(path)).public;
  else tufKey = readTufPublicKey(r, json.format === PUBLIC_KEY_FORMAT ? json.public : json, json.format === PUBLIC_KEY_FORMAT ? 'public' : 'key');
  decodePublicKey(tufKey); // refuse unusable keys now, not at first verification
  const keyid = keyIdOf(tufKey);
  if (json.format === PUBLIC_KEY_FORMAT && json.keyid !== keyid) {
    throw new KeyError('BAD_KEY_FILE', `${path} claims keyid ${String(json.keyid)} but its key has ID ${keyid}`);
  }
  return { keyid, key: tufKey };
}

/** The public keys in `paths`, in order (readPublicKey of each). */
export async function readPublicKeys(paths: readonly string[]): Promise<TufPublicKey[]> {
  const keys: TufPublicKey[] = [];
  for (const path of paths) keys.push((await readPublicKey(path)).key);
  return keys;
}

/**
 * `cairn key generate`: a new Ed25519 key pair, the private key in `out` (mode 0600, encrypted
 * with the passphrase `passphrase` gives, when given: it is asked only once the files are known
 * to be free) and the public key in `out.pub.json`. Existing files are refused (EXISTS) unless
 * `force`.
 */
export async function generateKeyFiles(out: string, options: { passphrase?: () => Promise<string>; force?: boolean } = {}): Promise<{ keyid: string; file: string; publicFile: string; encrypted: boolean }> {
  const publicFile = `${out}.pub.json`;
  if (!options.force) {
    for (const p of [out, publicFile]) {
      if (await stat(p).then(() => true, () => false)) throw new StorageError('EXISTS', `${p} already exists`, { hint: 'choose another --out or pass --force' });
    }
  }
  const passphrase = options.passphrase ? await options.passphrase() : undefined;
  const { privateKey, signer } = generateEd25519();
  await writeKeyFile(out, privateKey, passphrase);
  await writePublicKeyFile(publicFile, signer.publicKey);
  return { keyid: signer.keyid, file: out, publicFile, encrypted: passphrase !== undefined };
}

/** `cairn key show`: the key ID and public key of a key file, and whether it is a (possibly encrypted) private key file. */
export async function describeKeyFile(path: string): Promise<{ keyid: string; public: TufPublicKey; private?: true; encrypted?: boolean }> {
  const { keyid, key } = await readPublicKey(path);
  const header = await readKeyFileHeader(path).catch(() => undefined); // a public key file has no private header
  return { keyid, public: key, ...(header?.format === KEY_FILE_FORMAT ? { private: true as const, encrypted: header.encryption !== null } : {}) };
}
