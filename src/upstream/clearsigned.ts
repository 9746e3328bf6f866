// upstream/clearsigned.ts: a clearsigned OpenPGP message (RFC 9580 section 7, "Cleartext Signature
// Framework"), as Debian's InRelease files are, read strictly: the file must be exactly one such
// message, `-----BEGIN PGP SIGNED MESSAGE-----`, its Hash headers, a blank line, the text, the
// signature block, and nothing before or after (apt refuses the same; text outside the signed
// part is the classic way to make a parser read unsigned fields). The cryptography is openpgp's
// (the maintained OpenPGP library of the JavaScript field); the text returned is the one it
// verified, and nothing else of the file is ever read.
import * as openpgp from 'openpgp';
import { UpstreamError } from './errors.js';

/** A verified clearsigned message: the signed text and which keys of the keyring signed it. */
export interface VerifiedText {
  text: string;
  /** Fingerprints (lowercase hex) of the keyring's keys whose signatures verified. */
  signers: string[];
}

const BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_BEGIN = '-----BEGIN PGP SIGNATURE-----';
const SIGNATURE_END = '-----END PGP SIGNATURE-----';

/**
 * The file's structure, checked line by line; UNSIGNED_TEXT for anything outside the message. Any
 * undashed armor line (`-----...-----`) other than the three expected ends a text for openpgp,
 * so none may appear; the signature block holds only armor headers, base64 and its checksum.
 */
function checkStructure(file: string, what: string): void {
  const refuse = (why: string): never => {
    throw new UpstreamError('UNSIGNED_TEXT', `${what} is not exactly one clearsigned message: ${why}`);
  };
  // Line breaks other than LF (CR-LF accepted) are read differently by different parsers.
  if (/\r(?!\n)|[\u2028\u2029\u0000]/.test(file)) refuse('a bare carriage return, a NUL or a Unicode line separator');
  const lines = file.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  if (lines[0] !== BEGIN) refuse(`expected ${BEGIN} on its first line, found ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  let i = 1;
  while (i < lines.length && lines[i] !== '') {
    if (!/^Hash: [A-Za-z0-9, -]+$/.test(lines[i]!)) refuse(`line ${i + 1}: expected a Hash header or a blank line, found ${JSON.stringify(lines[i]!.slice(0, 80))}`);
    i++;
  }
  const armor = lines.flatMap((l, n) => (/^-----[^-].*-----$/.test(l) || l.startsWith('-----BEGIN ') || l.startsWith('-----END ') ? [n] : []));
  const begin = lines.indexOf(SIGNATURE_BEGIN);
  const end = lines.length - 1;
  if (armor.length !== 3 || armor[0] !== 0 || armor[1] !== begin || armor[2] !== end || lines[end] !== SIGNATURE_END) {
    refuse(`expected only ${BEGIN}, then ${SIGNATURE_BEGIN}, then ${SIGNATURE_END} on the last line; found armor lines at ${armor.map((n) => n + 1).join(', ')} of ${lines.length}`);
  }
  // The signature block: armor headers, a blank line, base64, its checksum.
  let n = begin + 1;
  while (n < end && /^[A-Za-z][A-Za-z-]*: .*$/.test(lines[n]!)) n++;
  if (lines[n] !== '') refuse(`line ${n + 1}: expected a blank line after the signature's headers`);
  for (n++; n < end; n++) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(lines[n]!) && !(n === end - 1 && /^=[A-Za-z0-9+/]{4}$/.test(lines[n]!))) refuse(`line ${n + 1}: ${JSON.stringify(lines[n]!.slice(0, 80))} is not base64 of the signature`);
  }
}

/**
 * The text of the clearsigned `file`, verified against `keys` at `date`: at least one signature by
 * a key of `keys` must verify, that key valid at `date` (not expired, not revoked). With
 * `keysValidAt: 'signing'` (a recorded file verified again later) the key must have been valid
 * when it signed: having expired since does not undo a signature; a revocation does (openpgp
 * refuses a key revoked as compromised, or for no reason, whenever the revocation was made). Other
 * signatures, by keys not in `keys` or by keys no longer valid (an archive signs with several),
 * are left aside as apt leaves them: they cover the same text, so they add nothing and take
 * nothing away. BAD_SIGNATURE, saying why for each signature, when none verifies.
 */
export async function verifyClearsigned(file: string, keys: readonly openpgp.PublicKey[], date: Date, what: string, options: { keysValidAt?: 'date' | 'signing' } = {}): Promise<VerifiedText> {
  checkStructure(file, what);
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: file });
  } catch (e) {
    throw new UpstreamError('UNSIGNED_TEXT', `${what} is not a clearsigned message openpgp can read: ${(e as Error).message}`);
  }
  const signing = options.keysValidAt === 'signing';
  // As of signing: openpgp is asked as of the latest signature's time (none may be after `date`).
  const block = file.slice(file.indexOf(SIGNATURE_BEGIN));
  const created = !signing ? [] : (await openpgp.readSignature({ armoredSignature: block })).packets.map((p) => p.created?.getTime() ?? Infinity);
  const asOf = signing ? new Date(Math.min(date.getTime(), Math.max(...created))) : date;
  const result = await openpgp.verify({ message, verificationKeys: [...keys], date: asOf, format: 'utf8' });
  const signers: string[] = [];
  const failures: string[] = [];
  for (const signature of result.signatures) {
    const key = keys.find((k) => k.getKeyIDs().some((id) => id.equals(signature.keyID)));
    if (key === undefined) {
      failures.push(`key ${signature.keyID.toHex()}: not in the keyring`);
      continue;
    }
    try {
      await signature.verified;
      // openpgp checks the key as of the signature's time (and a hard revocation, whenever made); an archive's key must be valid at `date` too (gpgv's EXPKEYSIG and REVKEYSIG, which apt refuses).
      if (!signing) await key.getSigningKey(signature.keyID, date);
      signers.push(key.getFingerprint());
    } catch (e) {
      failures.push(`key ${signature.keyID.toHex()}: ${(e as Error).message}`);
    }
  }
  if (signers.length === 0) {
    throw new UpstreamError('BAD_SIGNATURE', `${what} has no signature that verifies against the keyring it must be checked against (${keys.length} keys): ${failures.length === 0 ? 'it has no signature' : failures.join('; ')}`);
  }
  return { text: result.data as string, signers };
}

/** The public keys of key files (binary, as apt's .gpg keyrings are, or armored) or armored text. */
export async function readKeyring(sources: ReadonlyArray<{ bytes: Uint8Array; what: string }>): Promise<openpgp.PublicKey[]> {
  const keys: openpgp.PublicKey[] = [];
  for (const { bytes, what } of sources) {
    const text = Buffer.from(bytes).toString('latin1');
    try {
      const read = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? await openpgp.readKeys({ armoredKeys: text }) : await openpgp.readKeys({ binaryKeys: bytes });
      keys.push(...read.map((k) => k.toPublic()));
    } catch (e) {
      throw new UpstreamError('MALFORMED', `${what} is not an OpenPGP keyring: ${(e as Error).message}`);
    }
  }
  return keys;
}
