// upstream/debian-source.ts: what is checked of one Debian source package, the same when it is
// imported from an archive (debian-import.ts) and when its recorded chain is verified again from
// the files alone (provenance.ts): its paragraph found in a verified index, the files it lists
// (one .dsc, one upstream tarball, its signature if any, one Debian tarball), the .dsc agreeing
// with the index, and the upstream's signature checked with the key Debian carries for the
// upstream (docs/upstream.md "The chain, link by link").
import { execFile } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { sha256Hex } from '../crypto/index.js';
import { readKeyring } from './clearsigned.js';
import { checksumLines, parseDeb822, type ChecksumLine, type Paragraph } from './deb822.js';
import { UpstreamError } from './errors.js';
import { IMPORT_FILE_NAME, type ChainFile, type PROVENANCE_FORMAT } from './import-dir.js';

/**
 * What `command` prints when given `input` on its standard input (xz, tar): at most `maxBytes`,
 * within the tool time limit. A tool may stop reading early (bad data, output over the cap, the
 * member found): its exit says why, not the broken pipe. Failures keep the tool's stderr.
 */
function pipeThrough(command: string, args: string[], input: Uint8Array, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const child = execFile(command, args, { encoding: 'buffer', maxBuffer: maxBytes, timeout: DEBIAN_LIMITS.toolTimeoutMs }, (e, stdout, stderr) => (e === null ? resolve(stdout) : reject(Object.assign(e, { stderr }))));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}

/** Caps on what is read from an archive (the signed lists give exact sizes; these bound the rest). */
export const DEBIAN_LIMITS = {
  maxReleaseBytes: 16 << 20,
  /** A decompressed Sources index (bookworm main: 50 MB). */
  maxIndexBytes: 512 << 20,
  /** An upstream tarball: held in memory to be hashed and its signature checked. */
  maxSourceFileBytes: 1024 ** 3,
  maxKeyBytes: 1 << 20,
  /** A compressed source index (bookworm main's Sources.gz: 13 MB). */
  maxCompressedIndexBytes: 256 << 20,
  /** A .dsc or a signature. */
  maxSmallFileBytes: 1 << 20,
  /** A Debian tarball (patches and packaging). */
  maxDebianTarballBytes: 256 << 20,
  /** How long xz or tar may take. */
  toolTimeoutMs: 120_000,
} as const;

/** What provenance.json holds. */
export interface DebianProvenance {
  format: typeof PROVENANCE_FORMAT;
  kind: 'debian';
  source: string;
  version: string;
  /** The upstream tarball: the source an imported release declares (uri: where the archive serves it). */
  upstream: ChainFile & { uri: string };
  /** The archive: its URI, its signed Origin, and where the package is in it. */
  archive: { uri: string; origin: string; suite: string; component: string; directory: string };
  release: ChainFile & { date: string; validUntil: string | null; signers: string[] };
  index: ChainFile & { path: string };
  dsc: ChainFile;
  debianTarball: ChainFile;
  signature: (ChainFile & { key: ChainFile; signer: string; signedAt: string }) | { unsigned: true };
  importedAt: string;
}

/** The Sources paragraphs of `source` in a decompressed index (only their paragraphs are parsed). */
export function paragraphsOf(index: Buffer, source: string, what: string): Paragraph[] {
  // Searched as bytes, only the paragraphs found decoded: the whole index is tens of MB.
  const found: Paragraph[] = [];
  const head = Buffer.from(`Package: ${source}\n`);
  const separated = Buffer.concat([Buffer.from('\n\n'), head]);
  let start = index.subarray(0, head.length).equals(head) ? 0 : index.indexOf(separated);
  if (start > 0) start += 2;
  while (start !== -1) {
    const end = index.indexOf('\n\n', start);
    found.push(...parseDeb822(index.subarray(start, end === -1 ? undefined : end).toString('utf8'), `${what} (${source})`, { maxParagraphs: 1 }));
    const next = end === -1 ? -1 : index.indexOf(separated, end);
    start = next === -1 ? -1 : next + 2;
  }
  return found;
}

/** The files a source package's paragraph lists, each checked for a safe name. */
export interface SourcePackageFiles {
  /** The pool directory, relative to the archive's root. */
  directory: string;
  /** Every file the paragraph lists. */
  listed: ChecksumLine[];
  dsc: ChecksumLine;
  orig: ChecksumLine;
  asc: ChecksumLine | undefined;
  debianTar: ChecksumLine;
}

/** The files of the paragraph of `what` (SOURCE VERSION); refuses anything but one upstream tarball beside Debian's. */
export function sourcePackageFiles(paragraph: Paragraph, what: string): SourcePackageFiles {
  const listed = checksumLines(paragraph.require('Checksums-Sha256', what), `${what} Checksums-Sha256 in the index`);
  const directory = paragraph.require('Directory', what);
  if (!/^[A-Za-z0-9][A-Za-z0-9+._/-]*$/.test(directory) || directory.split('/').includes('..')) throw new UpstreamError('MALFORMED', `${what}: Directory ${JSON.stringify(directory.slice(0, 100))} is not a pool path`);
  for (const f of listed) if (!IMPORT_FILE_NAME.test(f.name)) throw new UpstreamError('MALFORMED', `${what}: the file name ${JSON.stringify(f.name.slice(0, 100))} is not one a source package has`);
  const one = (pattern: RegExp, kind: string): ChecksumLine | undefined => {
    const matching = listed.filter((f) => pattern.test(f.name));
    if (matching.length > 1) throw new UpstreamError('MALFORMED', `${what} lists ${matching.length} ${kind} files (${matching.map((f) => f.name).join(', ')}); cairn imports packages with one`);
    return matching[0];
  };
  const dsc = one(/\.dsc$/, '.dsc');
  const orig = one(/\.orig\.tar\.(gz|xz|bz2)$/, 'upstream tarball');
  const asc = one(/\.orig\.tar\.(gz|xz|bz2)\.asc$/, 'upstream signature');
  const debianTar = one(/\.debian\.tar\.(gz|xz|bz2)$/, 'Debian tarball');
  if (dsc === undefined) throw new UpstreamError('MALFORMED', `${what} lists no .dsc`);
  if (orig === undefined || debianTar === undefined) throw new UpstreamError('NOT_FOUND', `${what} has no separate upstream tarball (a native package: ${listed.map((f) => f.name).join(', ')}): there is no upstream release of its own to import`);
  if (listed.some((f) => /\.orig-[^.]+\.tar\./.test(f.name))) throw new UpstreamError('MALFORMED', `${what} has several upstream tarballs (${listed.map((f) => f.name).join(', ')}); cairn imports packages with one`);
  return { directory, listed, dsc, orig, asc, debianTar };
}

/** The text of a .dsc (clearsigned by its uploader; its bytes are proven by the index's hash, so only its fields are read). */
async function dscFields(bytes: Buffer, what: string): Promise<Paragraph> {
  const text = bytes.toString('utf8');
  const body = text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----') ? (await openpgp.readCleartextMessage({ cleartextMessage: text })).getText() : text;
  const [fields] = parseDeb822(body, what, { maxParagraphs: 1 });
  if (fields === undefined) throw new UpstreamError('MALFORMED', `${what} has no fields`);
  return fields;
}

/**
 * `debian/upstream/signing-key.asc` of the Debian tarball `name` (`bytes`, already checked against
 * the index: handed to the system's tar on its standard input, so no file can change between the
 * check and the read), if present. tar cannot tell a compression on a pipe: the name says it.
 */
export async function upstreamKeyText(bytes: Buffer, name: string): Promise<Buffer | undefined> {
  const compression = { gz: '-z', xz: '-J', bz2: '-j' }[/\.tar\.(gz|xz|bz2)$/.exec(name)?.[1] ?? ''];
  if (compression === undefined) throw new UpstreamError('MALFORMED', `${name} is not a .tar.gz, .tar.xz or .tar.bz2`);
  try {
    return await pipeThrough('tar', [compression, '-xf', '-', '-O', 'debian/upstream/signing-key.asc'], bytes, DEBIAN_LIMITS.maxKeyBytes);
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (error.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', 'tar (with xz-utils) is needed to read the Debian tarball: sudo apt-get install tar xz-utils');
    if (/Not found in archive/.test(error.stderr?.toString() ?? '')) return undefined;
    throw new UpstreamError('MALFORMED', `the Debian tarball ${name} cannot be read: ${(error.stderr?.toString() ?? error.message).trim().split('\n').slice(-1)[0]}`);
  }
}

/**
 * Verifies the upstream's detached signature `signature` of `data` with the keys of `keyText`: a
 * signature by one of them, made while it was valid (openpgp checks the key as of the signature's
 * time, and refuses a key with a revocation). Returns the signer's fingerprint and the time of signing.
 */
export async function verifyUpstreamSignature(data: Uint8Array, signature: string, keyText: Uint8Array, what: string): Promise<{ signer: string; signedAt: Date }> {
  const keys = await readKeyring([{ bytes: keyText, what: 'the upstream signing key' }]);
  let parsed: openpgp.Signature;
  try {
    parsed = await openpgp.readSignature({ armoredSignature: signature });
  } catch (e) {
    throw new UpstreamError('MALFORMED', `${what} is not an OpenPGP signature: ${(e as Error).message}`);
  }
  const result = await openpgp.verify({ message: await openpgp.createMessage({ binary: data }), signature: parsed, verificationKeys: keys, format: 'binary' });
  const failures: string[] = [];
  for (const s of result.signatures) {
    const key = keys.find((k) => k.getKeyIDs().some((id) => id.equals(s.keyID)));
    if (key === undefined) {
      failures.push(`key ${s.keyID.toHex()}: not the upstream's`);
      continue;
    }
    try {
      await s.verified;
    } catch (e) {
      failures.push(`key ${s.keyID.toHex()}: ${(e as Error).message}`);
      continue;
    }
    // A text-mode signature covers the bytes with their line endings normalized: other bytes would verify.
    const packet = (await s.signature).packets[0];
    if (packet?.signatureType !== openpgp.enums.signature.binary) {
      failures.push(`key ${s.keyID.toHex()}: a signature of type ${packet?.signatureType ?? 'unknown'}, not of binary data`);
      continue;
    }
    return { signer: key.getFingerprint(), signedAt: packet.created ?? new Date(0) };
  }
  throw new UpstreamError('BAD_SIGNATURE', `${what} has no signature that verifies with the upstream's key (${keys.map((k) => k.getFingerprint()).join(', ')}): ${failures.join('; ') || 'no signature in it'}`);
}

/** Checks that the .dsc `bytes` is the one of SOURCE VERSION and lists exactly the other files the index lists. */
export async function checkDsc(bytes: Buffer, source: string, version: string, files: SourcePackageFiles): Promise<void> {
  const name = files.dsc.name;
  const fields = await dscFields(bytes, name);
  if (fields.get('Source') !== source || fields.get('Version') !== version) throw new UpstreamError('MALFORMED', `${name} is the .dsc of ${fields.get('Source')} ${fields.get('Version')}, not of ${source} ${version}`);
  const inDsc = checksumLines(fields.require('Checksums-Sha256', name), `${name} Checksums-Sha256`);
  const key = (l: ChecksumLine): string => `${l.sha256} ${l.size} ${l.name}`;
  if (inDsc.map(key).sort().join('\n') !== files.listed.filter((f) => f !== files.dsc).map(key).sort().join('\n')) {
    throw new UpstreamError('HASH_MISMATCH', `${name} lists files other than the index does for ${source} ${version}`);
  }
}

/**
 * A source index: `bytes` (its compressed form, already checked against the release file)
 * decompressed (gzip by zlib; xz by xz-utils, which every Debian system has), at most the size the
 * release file lists for the uncompressed index, and equal to it where the release file lists its
 * SHA-256 (`plain`).
 */
export async function sourceIndex(bytes: Buffer, format: 'gz' | 'xz', plain: ChecksumLine | undefined, what: string): Promise<Buffer> {
  if (plain !== undefined && plain.size > DEBIAN_LIMITS.maxIndexBytes) throw new UpstreamError('TOO_LARGE', `${what}: the release file lists an uncompressed index of ${plain.size} bytes, over cairn's cap of ${DEBIAN_LIMITS.maxIndexBytes}`);
  const maxBytes = plain?.size ?? DEBIAN_LIMITS.maxIndexBytes;
  let index: Buffer;
  try {
    index = format === 'gz' ? gunzipSync(bytes, { maxOutputLength: maxBytes, chunkSize: 1 << 20 }) : await pipeThrough('xz', ['--decompress', '--stdout'], bytes, maxBytes);
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', `xz is needed to read ${what}: sudo apt-get install xz-utils`);
    throw new UpstreamError('HASH_MISMATCH', `${what} does not decompress to at most ${maxBytes} bytes (the size the release file lists): ${error.message}`);
  }
  if (plain !== undefined && (index.length !== plain.size || sha256Hex(index) !== plain.sha256)) throw new UpstreamError('HASH_MISMATCH', `${what} decompresses to bytes other than the uncompressed index the release file lists`);
  return index;
}
