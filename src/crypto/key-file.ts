// crypto/key-file.ts: private key files. A file holds one Ed25519 key as PKCS#8, optionally
// encrypted with a passphrase (scrypt N=2^15, r=8, p=1, then AES-256-GCM). Files are created
// with mode 0600 and refused when group or others may read them. Key material is never printed.
import { createPrivateKey, randomBytes, scryptSync, createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile } from '../io/capped-file.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { KeyError } from './errors.js';
import { ed25519Signer, type Signer } from './signer.js';
import { readTufPublicKey, type TufPublicKey } from './public-key.js';

export const KEY_FILE_FORMAT = 'cairn/private-key/v1';
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const MAX_KEY_FILE_BYTES = 64 * 1024;

interface Encryption {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
}

export interface KeyFile {
  format: typeof KEY_FILE_FORMAT;
  keyid: string;
  public: TufPublicKey;
  encryption: Encryption | null;
  /** base64 of PKCS#8 DER, or of its ciphertext when encrypted. */
  private: string;
}

/** Writes `privateKey` to `path` (mode 0600), encrypted when a passphrase is given. */
export async function writeKeyFile(path: string, privateKey: KeyObject, passphrase?: string): Promise<Signer> {
  const signer = ed25519Signer(privateKey);
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  let encryption: Encryption | null = null;
  let payload = der;
  if (passphrase !== undefined && passphrase !== '') {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = scryptSync(passphrase, salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${KEY_FILE_FORMAT}:${signer.keyid}`));
    payload = Buffer.concat([cipher.update(der), cipher.final()]);
    encryption = {
      kdf: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64'),
      cipher: 'aes-256-gcm', iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'),
    };
  }
  const file: KeyFile = { format: KEY_FILE_FORMAT, keyid: signer.keyid, public: signer.publicKey, encryption, private: payload.toString('base64') };
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  return signer;
}

/** Reads the public part of a key file without needing its passphrase. */
export async function readKeyFileHeader(path: string): Promise<KeyFile> {
  const bytes = await readCappedFile(path, MAX_KEY_FILE_BYTES, {
    what: `key file ${path}`,
    refuse: (refusal) => new KeyError('BAD_KEY_FILE', `${refusal.message}; a key file is a small regular file`, { cause: refusal }),
    checkStatus: (info) => {
      if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
        throw new KeyError('INSECURE_PERMISSIONS', `${path} has mode ${(info.mode & 0o777).toString(8)}; private keys must not be readable by group or others`, {
          hint: `run: chmod 600 ${path}`,
        });
      }
    },
  });
  const json = parseJsonObject(bytes, `key file ${path}`, { maxBytes: MAX_KEY_FILE_BYTES, maxDepth: 4, maxEntries: 100 });
  if (json.format !== KEY_FILE_FORMAT) throw new KeyError('BAD_KEY_FILE', `${path} is not a cairn private key file (expected format ${KEY_FILE_FORMAT})`);
  const r = new FieldReader((message) => new KeyError('BAD_KEY_FILE', message), `key file ${path}`);
  const o = r.exact(json, '', ['format', 'keyid', 'public', 'encryption', 'private']);
  let encryption: Encryption | null = null;
  if (o.encryption !== null) {
    // Parameters past these bounds are refused before any work (scrypt memory grows with N * r).
    const e = r.exact(o.encryption, 'encryption', ['kdf', 'N', 'r', 'p', 'salt', 'cipher', 'iv', 'tag']);
    encryption = {
      kdf: r.literal(e.kdf, 'encryption.kdf', 'scrypt'),
      N: r.integer(e.N, 'encryption.N', 2, 1 << 20),
      r: r.integer(e.r, 'encryption.r', 1, 16),
      p: r.integer(e.p, 'encryption.p', 1, 4),
      salt: r.base64(e.salt, 'encryption.salt', 1024),
      cipher: r.literal(e.cipher, 'encryption.cipher', 'aes-256-gcm'),
      iv: r.base64(e.iv, 'encryption.iv', 1024),
      tag: r.base64(e.tag, 'encryption.tag', 1024),
    };
  }
  return {
    format: KEY_FILE_FORMAT,
    keyid: r.hex(o.keyid, 'keyid'),
    public: readTufPublicKey(r, o.public, 'public'),
    encryption,
    private: r.base64(o.private, 'private', MAX_KEY_FILE_BYTES),
  };
}

/** Loads a Signer from a key file. Encrypted files need `passphrase`. */
export async function loadSigner(path: string, passphrase?: string): Promise<Signer> {
  const file = await readKeyFileHeader(path);
  let der = Buffer.from(file.private, 'base64');
  if (file.encryption) {
    if (passphrase === undefined || passphrase === '') {
      throw new KeyError('PASSPHRASE_REQUIRED', `${path} is encrypted and no passphrase was given`, {
        hint: 'set CAIRN_PASSPHRASE or pass --passphrase-env NAME',
      });
    }
    const enc = file.encryption;
    try {
      const key = scryptSync(passphrase, Buffer.from(enc.salt, 'base64'), 32, { N: enc.N, r: enc.r, p: enc.p, maxmem: 256 * 1024 * 1024 });
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(enc.iv, 'base64'));
      decipher.setAAD(Buffer.from(`${KEY_FILE_FORMAT}:${file.keyid}`));
      decipher.setAuthTag(Buffer.from(enc.tag, 'base64'));
      der = Buffer.concat([decipher.update(der), decipher.final()]);
    } catch {
      throw new KeyError('BAD_PASSPHRASE', `wrong passphrase for ${path} (or the file was altered)`);
    }
  }
  let signer: Signer;
  try {
    signer = ed25519Signer(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError('BAD_KEY_FILE', `${path}: private key does not decode: ${(e as Error).message}`);
  }
  if (signer.keyid !== file.keyid) {
    throw new KeyError('BAD_KEY_FILE', `${path}: private key has ID ${signer.keyid}, file claims ${file.keyid}`);
  }
  return signer;
}
