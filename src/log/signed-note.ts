// log/signed-note.ts: C2SP signed notes, checkpoints and Ed25519 cosignatures (c2sp.org/signed-note,
// c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature; docs/transparency.md "Checkpoints"), the
// format the wider transparency-log ecosystem's tools and witnesses speak. A note is text ending
// in a newline, a blank line, and signature lines "— NAME base64(key ID || signature)"; a
// checkpoint's text is the origin, the tree size and the base64 root hash, one per line, then any
// extension lines. A log signs the text with Ed25519 (key ID type 0x01); a cosigner signs
// "cosignature/v1\ntime T\n" followed by the text (type 0x04; the signature is the big-endian
// u64 time followed by the Ed25519 signature). Strict reading: anything else is LogError('BAD_NOTE').
import { createHash } from 'node:crypto';
import { ed25519PublicKey, verifySignature } from '../crypto/public-key.js';
import type { Signer } from '../crypto/signer.js';
import { LogError } from './errors.js';

/** Caps on notes read from anywhere (Go's note package refuses more than 100 signatures). */
export const NOTE_LIMITS = { maxNoteBytes: 1 << 20, maxSignatures: 100, maxExtensionLines: 100 } as const;

/** Signature types of a key ID: a log's Ed25519 note signature, and an Ed25519 cosignature/v1. */
export const NOTE_SIGNATURE_TYPE = { ed25519: 0x01, cosignatureV1: 0x04 } as const;

const DASH = '\u2014 ';
/** ASCII control characters but the newline: a note holds none. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;

export interface NoteSignature {
  /** The key name (no spaces, no "+"). */
  readonly name: string;
  /** The 4-byte key ID. */
  readonly keyId: Buffer;
  /** What follows the key ID: an Ed25519 signature (64 bytes), or a cosignature's time and signature (72). */
  readonly signature: Buffer;
}

export interface Note {
  /** The signed text, ending with a newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

const fail = (message: string): never => {
  throw new LogError('BAD_NOTE', message);
};

/** What Go's unicode.IsSpace calls a space (Unicode White_Space; JavaScript's \s differs), and "+": no key name holds one. */
const NOT_IN_NAME = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/u;

/** A key name: non-empty, without Unicode spaces or "+". */
function checkName(name: string, what: string): string {
  if (name.length === 0 || NOT_IN_NAME.test(name)) fail(`${what}: a key name is non-empty, without spaces or "+", found ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

/** The key ID of `publicKey` (raw bytes) under `name` for signature `type`: SHA-256(name || "\n" || type || key)[:4]. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name).update(Buffer.from([0x0a, type])).update(publicKey).digest().subarray(0, 4);
}

/**
 * The text of a note: UTF-8 without control characters but newlines, ending in one newline, as the
 * specification says, and (stricter than it, as checkpoints are) without a blank line.
 */
function checkText(text: string, what: string): string {
  if (!text.endsWith('\n') || text.includes('\n\n') || text.length === 0) fail(`${what}: a note's text ends with one newline and has no blank line`);
  if (CONTROL.test(text)) fail(`${what}: a note holds no control characters but newlines`);
  return text;
}

/** The note `text` with its signature lines. */
export function formatNote(note: Note): string {
  checkText(note.text, 'note');
  if (note.signatures.length === 0) fail('a note has at least one signature');
  return `${note.text}\n${note.signatures.map((s) => `${DASH}${checkName(s.name, 'signature')} ${Buffer.concat([s.keyId, s.signature]).toString('base64')}\n`).join('')}`;
}

/** Reads a signed note strictly: valid UTF-8, its text, the blank line, then only well-formed signature lines. */
export function parseNote(bytes: Uint8Array | string, what = 'note'): Note {
  const raw = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  if (raw.length > NOTE_LIMITS.maxNoteBytes) fail(`${what} is ${raw.length} bytes, at most ${NOTE_LIMITS.maxNoteBytes}`);
  let all: string;
  try {
    // The BOM kept: dropping it would verify other text than the bytes given (Go's note.Open refuses such a note).
    all = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    return fail(`${what} is not UTF-8`);
  }
  const split = all.lastIndexOf('\n\n');
  if (split < 0) fail(`${what} has no blank line before its signatures`);
  const text = checkText(all.slice(0, split + 1), what);
  const lines = all.slice(split + 2);
  if (!lines.endsWith('\n')) fail(`${what}: its last signature line does not end with a newline`);
  if (CONTROL.test(lines)) fail(`${what} holds control characters`);
  const signatures = lines.slice(0, -1).split('\n').map((line, i) => {
    const m = /^\u2014 ([^ ]+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (m === null) return fail(`${what}: signature line ${i + 1} is not "— NAME BASE64"`);
    const decoded = Buffer.from(m[2]!, 'base64');
    if (decoded.toString('base64') !== m[2] || decoded.length < 5) fail(`${what}: signature line ${i + 1} is not a key ID and a signature in base64`);
    return { name: checkName(m[1]!, `${what}: signature line ${i + 1}`), keyId: decoded.subarray(0, 4), signature: decoded.subarray(4) };
  });
  if (signatures.length > NOTE_LIMITS.maxSignatures) fail(`${what} has ${signatures.length} signatures, at most ${NOTE_LIMITS.maxSignatures}`);
  return { text, signatures };
}

/** An Ed25519 verifier of notes: a name and a raw public key. */
export interface NoteVerifier {
  readonly name: string;
  readonly publicKey: Uint8Array;
}

/** The log's Ed25519 signature of `text` under `name`. */
export function signNoteText(text: string, name: string, signer: Signer): NoteSignature {
  checkText(text, 'note');
  const publicKey = Buffer.from(signer.publicKey.keyval.public, 'hex');
  return { name: checkName(name, 'signer'), keyId: noteKeyId(name, NOTE_SIGNATURE_TYPE.ed25519, publicKey), signature: Buffer.from(signer.sign(Buffer.from(text)), 'hex') };
}

/**
 * LogError('BAD_NOTE') unless `note` carries a valid Ed25519 signature by `verifier` (its name and
 * key ID select the line; as Go's note.Open, a line that matches and does not verify refuses).
 */
export function verifyNoteSignature(note: Note, verifier: NoteVerifier, what = 'note'): void {
  const keyId = noteKeyId(verifier.name, NOTE_SIGNATURE_TYPE.ed25519, verifier.publicKey);
  const line = note.signatures.find((s) => s.name === verifier.name && s.keyId.equals(keyId));
  if (line === undefined) fail(`${what} carries no signature by ${verifier.name}`);
  if (line!.signature.length !== 64 || !verifySignature(ed25519PublicKey(verifier.publicKey), Buffer.from(note.text), line!.signature.toString('hex'))) fail(`${what}: the signature by ${verifier.name} does not verify`);
}

/** What a cosigner signs: "cosignature/v1", "time T", then the checkpoint's text. */
function cosignedMessage(text: string, time: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${text}`);
}

/** A cosignature/v1 of checkpoint text `text` at `time` (POSIX seconds) by `name`. */
export function cosignCheckpoint(text: string, name: string, signer: Signer, time: number): NoteSignature {
  checkText(text, 'checkpoint');
  const t = BigInt(time);
  if (t < 0n || t > 2n ** 63n - 1n) fail(`a cosignature's time is from 0 to 2^63-1, found ${time}`);
  const publicKey = Buffer.from(signer.publicKey.keyval.public, 'hex');
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64BE(t);
  return {
    name: checkName(name, 'cosigner'),
    keyId: noteKeyId(name, NOTE_SIGNATURE_TYPE.cosignatureV1, publicKey),
    signature: Buffer.concat([stamp, Buffer.from(signer.sign(cosignedMessage(text, t)), 'hex')]),
  };
}

/** Whether `note` has a signature line of `verifier` for signature `type` (its name and key ID). */
export function hasNoteSignature(note: Note, verifier: NoteVerifier, type: number): boolean {
  const keyId = noteKeyId(verifier.name, type, verifier.publicKey);
  return note.signatures.some((s) => s.name === verifier.name && s.keyId.equals(keyId));
}

/** The time (POSIX seconds, at most 2^53) of `cosigner`'s valid cosignature/v1 on `note`; LogError('BAD_NOTE') when it has none or it does not verify. */
export function verifyCosignature(note: Note, cosigner: NoteVerifier, what = 'checkpoint'): number {
  const keyId = noteKeyId(cosigner.name, NOTE_SIGNATURE_TYPE.cosignatureV1, cosigner.publicKey);
  const line = note.signatures.find((s) => s.name === cosigner.name && s.keyId.equals(keyId));
  if (line === undefined) return fail(`${what} carries no cosignature by ${cosigner.name}`);
  if (line.signature.length !== 72) fail(`${what}: the cosignature by ${cosigner.name} is ${line.signature.length} bytes, not 8 + 64`);
  const time = line.signature.readBigUInt64BE(0);
  if (time > BigInt(Number.MAX_SAFE_INTEGER) || !verifySignature(ed25519PublicKey(cosigner.publicKey), cosignedMessage(note.text, time), line.signature.subarray(8).toString('hex'))) {
    fail(`${what}: the cosignature by ${cosigner.name} does not verify`);
  }
  return Number(time);
}

export interface Checkpoint {
  /** The log's origin line (a schema-less URL, say). */
  readonly origin: string;
  readonly size: number;
  /** The RFC 6962 root hash (32 bytes). */
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

/** A checkpoint's text: origin, size, base64 root hash, then the extension lines. */
export function checkpointText(c: Checkpoint): string {
  if (c.origin.length === 0 || c.origin.includes('\n')) fail('a checkpoint\'s origin is one non-empty line');
  if (!Number.isSafeInteger(c.size) || c.size < 0) fail(`a checkpoint's size is a non-negative integer, found ${c.size}`);
  if (c.rootHash.length !== 32) fail(`a checkpoint's root hash is 32 bytes, found ${c.rootHash.length}`);
  return checkText(`${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n${c.extensions.map((e) => `${e}\n`).join('')}`, 'checkpoint');
}

/** Reads a checkpoint's text strictly (a size in decimal without leading zeros, a 32-byte root hash in base64). */
export function parseCheckpoint(text: string, what = 'checkpoint'): Checkpoint {
  checkText(text, what);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail(`${what} has ${lines.length} lines; a checkpoint has origin, size and root hash`);
  if (lines.length - 3 > NOTE_LIMITS.maxExtensionLines) fail(`${what} has ${lines.length - 3} extension lines, at most ${NOTE_LIMITS.maxExtensionLines}`);
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) fail(`${what}: the size ${JSON.stringify(sizeText.slice(0, 40))} is not a decimal tree size`);
  const rootHash = Buffer.from(rootText, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) fail(`${what}: the root hash is not 32 bytes in base64`);
  return { origin: origin.length > 0 ? origin : fail(`${what}: an empty origin`), size: Number(sizeText), rootHash, extensions: lines.slice(3) };
}
