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
import type * as openpgp from 'openpgp';
import { sha256Hex } from '../crypto/index.js';
import { BoundedFetcher, fetchAll, writeFileAtomic, type Fetcher } from '../io/index.js';
import { archiveKeys, sourceArchives, type SourceArchive } from './apt-sources.js';
import type { ChecksumLine, Paragraph } from './deb822.js';
import {
  checkDsc, DEBIAN_LIMITS, indexText, paragraphsOf, PROVENANCE_FORMAT, sourcePackageFiles, upstreamKeyText, verifyUpstreamSignature,
  type ChainFile, type DebianProvenance,
} from './debian-source.js';
import { UpstreamError } from './errors.js';
import { verifyDebianProvenance } from './provenance.js';
import { verifyInRelease, type VerifiedRelease } from './release-file.js';

const run = promisify(execFile);

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

export interface DebianImportResult {
  out: string;
  provenance: DebianProvenance;
}

/** The Sources paragraph of the release chosen, with where it was found. */
interface Candidate {
  archive: SourceArchive;
  /** The archive's keyring (apt's for it). */
  keys: openpgp.PublicKey[];
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

/** Whether Debian version `a` is newer than `b` (dpkg's own comparison). */
async function newer(a: string, b: string): Promise<boolean> {
  return run('dpkg', ['--compare-versions', a, 'gt', b]).then(() => true, (e: NodeJS.ErrnoException & { code?: unknown }) => {
    if (e.code === 'ENOENT') throw new UpstreamError('NO_SOURCE', 'dpkg is needed to compare Debian versions: name the version (SOURCE=VERSION)');
    return false;
  });
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
    const keys = await archiveKeys(archive);
    const release = await verifyInRelease(releaseBytes, { keys, now, suite: archive.suite, lastSeen }, url);
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
      const index = await indexText(indexBytes, format, plain, `${component}/source/Sources.${format} of ${key}`);
      for (const paragraph of paragraphsOf(index, request.source, `${key} ${component}/source/Sources`)) {
        found.push({ archive, keys, release, releaseBytes, component, indexPath: `${component}/source/Sources.${format}`, indexBytes, paragraph, version: paragraph.require('Version', `${request.source} in ${key}`) });
      }
    }
  }
  return found;
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

/** Imports `source` (see the header) into `request.out`. */
export async function importDebianSource(request: DebianImportRequest): Promise<DebianImportResult> {
  const progress = request.onProgress ?? ((): void => undefined);
  const fetcher = request.fetcher ?? new BoundedFetcher();
  const now = request.now ?? new Date();
  const chosen = await choose(await candidates(request, fetcher, now, progress), request.source, request.version);
  const what = `${request.source} ${chosen.version}`;
  const files = sourcePackageFiles(chosen.paragraph, what);
  const { directory, dsc: dscEntry, orig, asc, debianTar } = files;
  const pool = `${chosen.archive.uri}/${directory}`;

  progress(`fetching ${dscEntry.name}`);
  const dsc = await fetchVerified(fetcher, `${pool}/${dscEntry.name}`, dscEntry, dscEntry.name);
  await checkDsc(dsc, request.source, chosen.version, files);

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
    // What a witness will do with it, done once before it is put in place: the chain verified again from the directory alone.
    await verifyDebianProvenance(staging, chosen.keys, now);
    await rename(staging, request.out).catch((e: NodeJS.ErrnoException) => {
      throw new UpstreamError('MALFORMED', `${request.out} could not be written (${e.code === 'ENOTEMPTY' || e.code === 'EEXIST' ? 'it exists' : e.message})`);
    });
    return { out: request.out, provenance };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
