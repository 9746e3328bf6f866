// upstream/debian-import.ts: `cairn import debian SOURCE[=VERSION]` (docs/upstream.md "Debian"):
// an upstream release exactly as its author published it, taken from the Debian archive apt names
// and proven link by link:
//   1. the archive's InRelease, verified against apt's keyring for it (release-file.ts);
//   2. the Sources index of each component, by the size and SHA-256 the release file lists (fetched
//      by hash where the archive serves it so; cached by that hash);
//   3. the source package's .dsc, by the SHA-256 the index lists, and its file list equal to the
//      index's;
//   4. the upstream tarball (`*.orig.tar.*`), by the SHA-256 both list; Debian's patches are never
//      applied (the Debian tarball is read only for the upstream's key);
//   5. the upstream's signature of it (`*.orig.tar.*.asc`), by its SHA-256, verified with the key in
//      `debian/upstream/signing-key.asc` of the Debian tarball of that same verified package: a
//      signature made while the key was valid counts, a key revoked since does not. An upstream
//      that signs nothing is imported only when the caller allows it, and that is recorded.
// What comes out is a directory holding the tarball and every byte the chain was verified from,
// and provenance.json naming each link, so that anyone (a witness) can verify it again later
// without the archive (provenance.ts).
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { sha256Hex } from '../crypto/index.js';
import { BoundedFetcher, fetchAll, writeFileAtomic, type Fetcher } from '../io/index.js';
import { sourceArchives, type SourceArchive } from './apt-sources.js';
import { readKeyring } from './clearsigned.js';
import { checksumLines, parseDeb822, type ChecksumLine, type Paragraph } from './deb822.js';
import { UpstreamError } from './errors.js';
import { verifyInRelease, type VerifiedRelease } from './release-file.js';

const run = promisify(execFile);

/** Caps on what is read from an archive (the signed lists give exact sizes; these bound the rest). */
export const DEBIAN_LIMITS = {
  maxReleaseBytes: 16 << 20,
  /** A decompressed Sources index (bookworm main: 50 MB). */
  maxIndexBytes: 512 << 20,
  maxSourceFileBytes: 2 << 30,
  maxKeyBytes: 1 << 20,
} as const;

export const PROVENANCE_FORMAT = 'cairn/upstream-provenance/v1';

export interface DebianImportRequest {
  /** The source package, and the version (Debian's, e.g. 2.10-3) or the newest the archives have. */
  source: string;
  version?: string | undefined;
  /** The directory to write (must not exist). */
  out: string;
  /** Import an upstream that signs nothing (recorded in the provenance). */
  allowUnsignedUpstream?: boolean;
  /** Where the Date of each archive release's newest release file seen is kept (rollbacks are refused, from any mirror of it). */
  seenReleasesFile: string;
  /** Where verified indexes are cached by their SHA-256. */
  cacheDir: string;
  etcApt?: string;
  fetcher?: Fetcher;
  now?: Date;
  onProgress?: (line: string) => void;
}

/** One file of the chain, as provenance.json names it: its name in the output directory, size and SHA-256. */
export interface ChainFile {
  file: string;
  size: number;
  sha256: string;
}

/** What provenance.json holds. */
export interface DebianProvenance {
  format: typeof PROVENANCE_FORMAT;
  kind: 'debian';
  source: string;
  version: string;
  /** The upstream tarball: the source an imported release declares (uri: where the archive serves it). */
  upstream: ChainFile & { uri: string };
  archive: { uri: string; suite: string; component: string; directory: string };
  release: ChainFile & { date: string; validUntil: string | null; signers: string[] };
  index: ChainFile & { path: string };
  dsc: ChainFile;
  debianTarball: ChainFile;
  signature: (ChainFile & { key: ChainFile; signer: string; signedAt: string }) | { unsigned: true };
  importedAt: string;
}

export interface DebianImportResult {
  out: string;
  provenance: DebianProvenance;
}

/** The Sources paragraph of the release chosen, with where it was found. */
interface Candidate {
  archive: SourceArchive;
  release: VerifiedRelease;
  releaseBytes: string;
  component: string;
  /** The compressed index's path under dists/SUITE, as the release file lists it. */
  indexPath: string;
  indexBytes: Buffer;
  paragraph: Paragraph;
  version: string;
}

/** Reads the whole body of `url` (at most `size` bytes) and checks it against the size and SHA-256 a signed list gives. */
async function fetchVerified(fetcher: Fetcher, url: string, expected: { size: number; sha256: string }, what: string): Promise<Buffer> {
  const bytes = await fetchAll(fetcher, url, expected.size);
  const digest = sha256Hex(bytes);
  if (bytes.length !== expected.size || digest !== expected.sha256) {
    throw new UpstreamError('HASH_MISMATCH', `${what} (${url}) is ${bytes.length} bytes with SHA-256 ${digest}; the signed chain lists ${expected.size} bytes with SHA-256 ${expected.sha256}`);
  }
  return bytes;
}

/** The Dates of the newest release files seen before, by VerifiedRelease.identity. */
async function readSeen(file: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, string>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UpstreamError('MALFORMED', `${file} (the release files seen before) cannot be read: ${(e as Error).message}; it is cairn's: remove it only if you accept forgetting them`);
  }
}

async function keyringOf(archive: SourceArchive): Promise<openpgp.PublicKey[]> {
  if ('inline' in archive.keyring) return readKeyring([{ bytes: Buffer.from(archive.keyring.inline), what: `the key written in ${archive.origin}` }]);
  const sources = [];
  for (const file of archive.keyring.files) sources.push({ bytes: await readFile(file), what: file });
  return readKeyring(sources);
}

/** Whether Debian version `a` is newer than `b` (dpkg's own comparison). */
async function newer(a: string, b: string): Promise<boolean> {
  return run('dpkg', ['--compare-versions', a, 'gt', b]).then(() => true, (e: NodeJS.ErrnoException & { code?: unknown }) => {
    if (e.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', 'dpkg is needed to compare Debian versions: name the version (SOURCE=VERSION)');
    return false;
  });
}

/** The Sources paragraphs of `source` in a decompressed index (only their paragraphs are parsed). */
function paragraphsOf(index: string, source: string, what: string): Paragraph[] {
  const found: Paragraph[] = [];
  const head = `Package: ${source}\n`;
  let at = index.startsWith(head) ? 0 : index.indexOf(`\n\n${head}`);
  while (at !== -1) {
    const start = at === 0 && index.startsWith(head) ? 0 : at + 2;
    const end = index.indexOf('\n\n', start);
    found.push(...parseDeb822(index.slice(start, end === -1 ? undefined : end), `${what} (${source})`, { maxParagraphs: 1 }));
    at = end === -1 ? -1 : index.indexOf(`\n\n${head}`, end);
  }
  return found;
}

/** Every release of `source` the archives list, each from its verified index. */
async function candidates(request: DebianImportRequest, fetcher: Fetcher, now: Date, progress: (line: string) => void): Promise<Candidate[]> {
  const seen = await readSeen(request.seenReleasesFile);
  const found: Candidate[] = [];
  for (const archive of await sourceArchives({ ...(request.etcApt === undefined ? {} : { etcApt: request.etcApt }) })) {
    const key = `${archive.uri} ${archive.suite}`;
    const url = `${archive.uri}/dists/${archive.suite}/InRelease`;
    progress(`verifying ${url}`);
    const releaseBytes = (await fetchAll(fetcher, url, DEBIAN_LIMITS.maxReleaseBytes)).toString('utf8');
    const lastSeen = (identity: string): Date | undefined => (seen[identity] === undefined ? undefined : new Date(seen[identity]));
    const release = await verifyInRelease(releaseBytes, { keys: await keyringOf(archive), now, suite: archive.suite, lastSeen }, url);
    if ((lastSeen(release.identity)?.getTime() ?? -Infinity) < release.date.getTime()) {
      seen[release.identity] = release.date.toISOString();
      await mkdir(dirname(request.seenReleasesFile), { recursive: true });
      await writeFileAtomic(request.seenReleasesFile, JSON.stringify(seen, null, 2) + '\n');
    }
    for (const component of archive.components) {
      // Debian lists Sources.gz for its main suites, only Sources.xz for -updates and -security.
      const format = (['gz', 'xz'] as const).find((f) => release.files.has(`${component}/source/Sources.${f}`));
      if (format === undefined) {
        progress(`${key} lists no source index for ${component} (Sources.gz or Sources.xz): skipped`);
        continue;
      }
      const compressed = release.files.get(`${component}/source/Sources.${format}`)!;
      const plain = release.files.get(`${component}/source/Sources`);
      const indexBytes = await cachedIndex(request.cacheDir, fetcher, archive, release, `${component}/source/Sources.${format}`, compressed, progress);
      const index = await decompress(indexBytes, format, plain?.size ?? DEBIAN_LIMITS.maxIndexBytes);
      if (plain !== undefined && (index.length !== plain.size || sha256Hex(index) !== plain.sha256)) throw new UpstreamError('HASH_MISMATCH', `${component}/source/Sources.${format} of ${key} decompresses to bytes other than the Sources the release file lists`);
      for (const paragraph of paragraphsOf(index.toString('utf8'), request.source, `${key} ${component}/source/Sources`)) {
        found.push({ archive, release, releaseBytes, component, indexPath: `${component}/source/Sources.${format}`, indexBytes, paragraph, version: paragraph.require('Version', `${request.source} in ${key}`) });
      }
    }
  }
  return found;
}

/** A compressed index decompressed, at most `maxBytes` (gzip by zlib; xz by xz-utils, which every Debian system has). */
async function decompress(bytes: Buffer, format: 'gz' | 'xz', maxBytes: number): Promise<Buffer> {
  try {
    if (format === 'gz') return gunzipSync(bytes, { maxOutputLength: maxBytes });
    return await new Promise<Buffer>((resolve, reject) => {
      const child = execFile('xz', ['--decompress', '--stdout'], { encoding: 'buffer', maxBuffer: maxBytes }, (e, stdout) => (e === null ? resolve(stdout) : reject(e)));
      child.stdin!.end(bytes);
    });
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', 'xz is needed to read this archive\'s Sources.xz: sudo apt-get install xz-utils');
    throw new UpstreamError('HASH_MISMATCH', `a source index does not decompress to at most ${maxBytes} bytes (the size the release file lists): ${error.message}`);
  }
}

/** A compressed index (`path` under dists/SUITE), from the cache (by its SHA-256) or the archive (by hash where it serves so). */
async function cachedIndex(cacheDir: string, fetcher: Fetcher, archive: SourceArchive, release: VerifiedRelease, path: string, entry: ChecksumLine, progress: (line: string) => void): Promise<Buffer> {
  const cached = join(cacheDir, 'by-hash', entry.sha256);
  const hit = await readFile(cached).catch(() => undefined);
  if (hit !== undefined && sha256Hex(hit) === entry.sha256) return hit;
  const where = release.byHash ? `${path.slice(0, path.lastIndexOf('/'))}/by-hash/SHA256/${entry.sha256}` : path;
  const url = `${archive.uri}/dists/${archive.suite}/${where}`;
  progress(`fetching ${url} (${(entry.size / 1e6).toFixed(1)} MB)`);
  const bytes = await fetchVerified(fetcher, url, entry, path);
  await mkdir(dirname(cached), { recursive: true });
  await writeFileAtomic(cached, bytes);
  return bytes;
}

/** The one release wanted: the version asked for, or the newest. */
async function choose(found: Candidate[], source: string, version: string | undefined): Promise<Candidate> {
  if (version !== undefined) {
    const exact = found.find((c) => c.version === version);
    if (exact === undefined) throw new UpstreamError('NOT_FOUND', `${source} ${version} is in none of the archives' verified indexes (${found.length === 0 ? 'no version of it is' : `they have ${[...new Set(found.map((c) => c.version))].join(', ')}`})`);
    return exact;
  }
  if (found.length === 0) throw new UpstreamError('NOT_FOUND', `no source package ${source} in the archives' verified indexes`);
  let best = found[0]!;
  for (const c of found.slice(1)) if (await newer(c.version, best.version)) best = c;
  return best;
}

/** The text of a .dsc (clearsigned by its uploader; its bytes are proven by the index's hash, so only its fields are read). */
async function dscFields(bytes: Buffer, what: string): Promise<Paragraph> {
  const text = bytes.toString('utf8');
  const body = text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----') ? (await openpgp.readCleartextMessage({ cleartextMessage: text })).getText() : text;
  const [fields] = parseDeb822(body, what, { maxParagraphs: 1 });
  if (fields === undefined) throw new UpstreamError('MALFORMED', `${what} has no fields`);
  return fields;
}

/** `debian/upstream/signing-key.asc` of a Debian tarball (tar with xz or gzip, through the system's tar), if present. */
async function upstreamKeyText(tarball: string): Promise<Buffer | undefined> {
  try {
    const { stdout } = await run('tar', ['-xf', tarball, '-O', 'debian/upstream/signing-key.asc'], { encoding: 'buffer', maxBuffer: DEBIAN_LIMITS.maxKeyBytes });
    return stdout;
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (error.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', 'tar (with xz-utils) is needed to read the Debian tarball: sudo apt-get install tar xz-utils');
    if (/Not found in archive/.test(error.stderr?.toString() ?? '')) return undefined;
    throw new UpstreamError('MALFORMED', `the Debian tarball ${tarball} cannot be read: ${(error.stderr?.toString() ?? error.message).trim().split('\n').slice(-1)[0]}`);
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
    const created = (await s.signature).packets[0]?.created;
    return { signer: key.getFingerprint(), signedAt: created ?? new Date(0) };
  }
  throw new UpstreamError('BAD_SIGNATURE', `${what} has no signature that verifies with the upstream's key (${keys.map((k) => k.getFingerprint()).join(', ')}): ${failures.join('; ') || 'no signature in it'}`);
}

/** Imports `source` (see the header) into `request.out`. */
export async function importDebianSource(request: DebianImportRequest): Promise<DebianImportResult> {
  const progress = request.onProgress ?? ((): void => undefined);
  const fetcher = request.fetcher ?? new BoundedFetcher();
  const now = request.now ?? new Date();
  const chosen = await choose(await candidates(request, fetcher, now, progress), request.source, request.version);
  const what = `${request.source} ${chosen.version}`;
  const listed = checksumLines(chosen.paragraph.require('Checksums-Sha256', what), `${what} Checksums-Sha256 in the index`);
  const directory = chosen.paragraph.require('Directory', what);
  if (!/^[A-Za-z0-9][A-Za-z0-9+._/-]*$/.test(directory) || directory.split('/').includes('..')) throw new UpstreamError('MALFORMED', `${what}: Directory ${JSON.stringify(directory.slice(0, 100))} is not a pool path`);
  for (const f of listed) if (!/^[A-Za-z0-9][A-Za-z0-9+._~-]*$/.test(f.name)) throw new UpstreamError('MALFORMED', `${what}: the file name ${JSON.stringify(f.name.slice(0, 100))} is not one a source package has`);
  const one = (pattern: RegExp, kind: string): ChecksumLine | undefined => {
    const matching = listed.filter((f) => pattern.test(f.name));
    if (matching.length > 1) throw new UpstreamError('MALFORMED', `${what} lists ${matching.length} ${kind} files (${matching.map((f) => f.name).join(', ')}); cairn imports packages with one`);
    return matching[0];
  };
  const dscEntry = one(/\.dsc$/, '.dsc');
  const orig = one(/\.orig\.tar\.(gz|xz|bz2)$/, 'upstream tarball');
  const asc = one(/\.orig\.tar\.(gz|xz|bz2)\.asc$/, 'upstream signature');
  const debianTar = one(/\.debian\.tar\.(gz|xz|bz2)$/, 'Debian tarball');
  if (dscEntry === undefined) throw new UpstreamError('MALFORMED', `${what} lists no .dsc`);
  if (orig === undefined || debianTar === undefined) throw new UpstreamError('NOT_FOUND', `${what} has no separate upstream tarball (a native package, or several upstream tarballs: ${listed.map((f) => f.name).join(', ')}): there is no upstream release of its own to import`);
  if (listed.some((f) => /\.orig-[^.]+\.tar\./.test(f.name))) throw new UpstreamError('MALFORMED', `${what} has several upstream tarballs (${listed.map((f) => f.name).join(', ')}); cairn imports packages with one`);
  const pool = `${chosen.archive.uri}/${directory}`;

  progress(`fetching ${dscEntry.name}`);
  const dsc = await fetchVerified(fetcher, `${pool}/${dscEntry.name}`, dscEntry, dscEntry.name);
  const dscParagraph = await dscFields(dsc, dscEntry.name);
  if (dscParagraph.get('Source') !== request.source || dscParagraph.get('Version') !== chosen.version) throw new UpstreamError('MALFORMED', `${dscEntry.name} is the .dsc of ${dscParagraph.get('Source')} ${dscParagraph.get('Version')}, not of ${what}`);
  const inDsc = checksumLines(dscParagraph.require('Checksums-Sha256', dscEntry.name), `${dscEntry.name} Checksums-Sha256`);
  const key = (l: ChecksumLine): string => `${l.sha256} ${l.size} ${l.name}`;
  if (inDsc.map(key).sort().join('\n') !== listed.filter((f) => f !== dscEntry).map(key).sort().join('\n')) {
    throw new UpstreamError('HASH_MISMATCH', `${dscEntry.name} lists files other than the index does for ${what}`);
  }

  progress(`fetching ${orig.name} (${(orig.size / 1e6).toFixed(1)} MB)`);
  const tarball = await fetchVerified(fetcher, `${pool}/${orig.name}`, orig, orig.name);
  const debianBytes = await fetchVerified(fetcher, `${pool}/${debianTar.name}`, debianTar, debianTar.name);
  const staging = `${request.out}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const write = async (name: string, bytes: Uint8Array): Promise<ChainFile> => {
      await writeFile(join(staging, name), bytes);
      return { file: name, size: bytes.length, sha256: sha256Hex(bytes) };
    };
    let signature: DebianProvenance['signature'];
    if (asc === undefined) {
      if (request.allowUnsignedUpstream !== true) throw new UpstreamError('UNSIGNED_UPSTREAM', `the upstream of ${what} did not sign ${orig.name} (Debian lists no ${orig.name}.asc)`);
      signature = { unsigned: true };
    } else {
      const ascBytes = await fetchVerified(fetcher, `${pool}/${asc.name}`, asc, asc.name);
      const debianFile = await write(debianTar.name, debianBytes);
      const keyBytes = await upstreamKeyText(join(staging, debianFile.file));
      if (keyBytes === undefined) throw new UpstreamError('BAD_SIGNATURE', `${what}: the upstream signed ${orig.name}, but ${debianTar.name} has no debian/upstream/signing-key.asc to check it with`);
      const verified = await verifyUpstreamSignature(tarball, ascBytes.toString('utf8'), keyBytes, asc.name);
      signature = { ...(await write(asc.name, ascBytes)), key: await write('upstream-signing-key.asc', keyBytes), signer: verified.signer, signedAt: verified.signedAt.toISOString() };
    }
    const provenance: DebianProvenance = {
      format: PROVENANCE_FORMAT,
      kind: 'debian',
      source: request.source,
      version: chosen.version,
      upstream: { ...(await write(orig.name, tarball)), uri: `${pool}/${orig.name}` },
      archive: { uri: chosen.archive.uri, suite: chosen.archive.suite, component: chosen.component, directory },
      release: { ...(await write('InRelease', Buffer.from(chosen.releaseBytes))), date: chosen.release.date.toISOString(), validUntil: chosen.release.validUntil?.toISOString() ?? null, signers: chosen.release.signers },
      index: { ...(await write(chosen.indexPath.slice(chosen.indexPath.lastIndexOf('/') + 1), chosen.indexBytes)), path: chosen.indexPath },
      dsc: await write(dscEntry.name, dsc),
      debianTarball: await write(debianTar.name, debianBytes),
      signature,
      importedAt: now.toISOString(),
    };
    await writeFile(join(staging, 'provenance.json'), JSON.stringify(provenance, null, 2) + '\n');
    await rename(staging, request.out).catch((e: NodeJS.ErrnoException) => {
      throw new UpstreamError('MALFORMED', `${request.out} could not be written (${e.code === 'ENOTEMPTY' || e.code === 'EEXIST' ? 'it exists' : e.message})`);
    });
    return { out: request.out, provenance };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
