// repo/key-files.ts: public key files (FILE.pub.json) and reading a TUF public key from either a
// public key file or a private key file's header (TUF spec 4.2 "KEYS"). Root operations only
// ever need these files: private keys stay with their holders, offline.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { readKeyFileHeader, KEY_FILE_FORMAT } from '../crypto/key-file.js';
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
