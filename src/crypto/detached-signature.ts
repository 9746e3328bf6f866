// crypto/detached-signature.ts: the one signature file a key holder hands over from an offline
// machine (docs/cli.md "Threshold signing by separate key holders"; TUF spec 1.0.x 4.2, 6.1): it names
// what was signed (a TUF role and version, or a roster authorization and its block index,
// docs/protocol.md section 4), the SHA-256 of the exact bytes signed, the key ID and the
// signature. Whoever merges it checks that the digest is that of the bytes it holds, that the key
// is one it trusts for that purpose and that the signature verifies: the file itself is trusted
// for nothing.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { sha256Hex } from './hash.js';
import type { Signer } from './signer.js';

export const SIGNATURE_FORMAT = 'cairn/signature/v1';

/** A signature exported by one key holder, for merging elsewhere. */
export interface DetachedSignature {
  format: typeof SIGNATURE_FORMAT;
  /** What is signed: a TUF role name, or `roster-authorization`. */
  role: string;
  /** The role's metadata version, or the block index of a roster authorization. */
  version: number;
  /** SHA-256 of the exact bytes the signature covers. */
  signed_sha256: string;
  keyid: string;
  sig: string;
}

/** Largest detached signature file read (one signature of a few hundred bytes). */
const SIGNATURE_FILE_MAX_BYTES = 64 * 1024;

/** Signs `bytes`, the bytes of `role` version `version`, with `signer`. */
export function signDetached(signer: Signer, bytes: Uint8Array, subject: { role: string; version: number }): DetachedSignature {
  return { format: SIGNATURE_FORMAT, role: subject.role, version: subject.version, signed_sha256: sha256Hex(bytes), keyid: signer.keyid, sig: signer.sign(bytes) };
}

/** Parses an untrusted signature file; `refuse` makes the caller's typed error from a message. */
export function parseDetachedSignature(bytes: Uint8Array | string, what: string, refuse: (message: string) => Error): DetachedSignature {
  const j = parseJsonObject(bytes, what, { maxBytes: SIGNATURE_FILE_MAX_BYTES, maxDepth: 4, maxEntries: 100 });
  const r = new FieldReader((message) => refuse(`${what} is not a ${SIGNATURE_FORMAT} signature file: ${message}`));
  return {
    format: r.literal(j.format, 'format', SIGNATURE_FORMAT),
    role: r.string(j.role, 'role', 255, { min: 1 }),
    version: r.integer(j.version, 'version', 0),
    signed_sha256: r.hex(j.signed_sha256, 'signed_sha256'),
    keyid: r.hex(j.keyid, 'keyid'),
    sig: r.hexUpTo(j.sig, 'sig', 1024, 1),
  };
}

/** Reads and parses the signature files `files`, each under SIGNATURE_FILE_MAX_BYTES. */
export async function readDetachedSignatureFiles(files: readonly string[], refuse: (message: string) => Error): Promise<DetachedSignature[]> {
  const out: DetachedSignature[] = [];
  for (const file of files) {
    const bytes = await readCappedFile(file, SIGNATURE_FILE_MAX_BYTES, { what: `signature file ${file}`, refuse: tooLargeIsFormatError });
    out.push(parseDetachedSignature(bytes, file, refuse));
  }
  return out;
}

/** Writes `signature` to `file` (keys sorted, as every cairn JSON file a person may read). */
export async function writeDetachedSignatureFile(file: string, signature: DetachedSignature): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(signature).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFileAtomic(file, JSON.stringify(sorted, null, 2) + '\n');
}
