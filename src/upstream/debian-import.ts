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
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { sha256Hex } from '../crypto/index.js';
import { BoundedFetcher, fetchAll, FetchError, writeFileAtomic, type Fetcher } from '../io/index.js';
import { archiveKeys, sourceArchives, type SourceArchive } from './apt-sources.js';
import type { ChecksumLine, Paragraph } from './deb822.js';
import {
  checkDsc, DEBIAN_LIMITS, sourceIndex, paragraphsOf, sourcePackageFiles, upstreamKeyText, verifyUpstreamSignature,
  type DebianProvenance,
} from './debian-source.js';
import { checkNewDirectory, PROVENANCE_FORMAT, writeImportDirectory } from './import-dir.js';
import { UpstreamError } from './errors.js';
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
  /** The signed Origin of the archives to take it from (default "Debian"); others apt names are left out. */
  origin?: string;
  fetcher?: Fetcher;
  now?: Date;
  onProgress?: (line: string) => void;
  /** An archive left out because it could not be fetched. */
  onWarning?: (line: string) => void;
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
  /** The compressed index, read (from the cache) only for the release chosen. */
  indexBytes: () => Promise<Buffer>;
  paragraph: Paragraph;
  version: string;
}

/** Reads the whole body of `url` (at most the size listed, which must be within `cap`) and checks it against the size and SHA-256 a signed list gives. */
async function fetchVerified(fetcher: Fetcher, url: string, expected: { size: number; sha256: string }, what: string, cap: number): Promise<Buffer> {
  if (expected.size > cap) throw new UpstreamError('TOO_LARGE', `${what} is listed at ${expected.size} bytes, over cairn's cap of ${cap} for it`);
  const bytes = await fetchAll(fetcher, url, expected.size);
  const digest = sha256Hex(bytes);
  if (bytes.length !== expected.size || digest !== expected.sha256) {
    throw new UpstreamError('HASH_MISMATCH', `${what} (${url}) is ${bytes.length} bytes with SHA-256 ${digest}; the signed chain lists ${expected.size} bytes with SHA-256 ${expected.sha256}`);
  }
  return bytes;
}

/** The Dates of the newest release files seen before, by VerifiedRelease.seenAs; anything but dates is refused (a value that is not one would turn the check off). */
async function readSeen(file: string): Promise<Record<string, string>> {
  const refuse = (why: string): never => {
    throw new UpstreamError('MALFORMED', `${file} (the release files seen before) ${why}; it is cairn's: remove it only if you accept forgetting them`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return refuse(`cannot be read: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse('is not a JSON object');
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) refuse(`has ${JSON.stringify(value)} for ${name}, not a date`);
  }
  return parsed as Record<string, string>;
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
  const lastSeen = (name: string): Date | undefined => (seen[name] === undefined ? undefined : new Date(seen[name]));
  const origin = request.origin ?? 'Debian';
  const archives = await sourceArchives({ ...(request.etcApt === undefined ? {} : { etcApt: request.etcApt }) });
  // The archives are read side by side (each is a few requests to a server far away); the dates seen are written once, after.
  const read = await Promise.all(archives.map(async (archive) => {
    const key = `${archive.uri} ${archive.suite}`;
    const url = `${archive.uri}/dists/${archive.suite}/InRelease`;
    progress(`verifying ${url}`);
    // An archive that cannot be reached is left out, said loudly; one that answers with bytes that do not verify stops the import.
    const releaseBytes = await fetchAll(fetcher, url, DEBIAN_LIMITS.maxReleaseBytes).then((b) => b.toString('utf8'), (e: unknown) => {
      if (!(e instanceof FetchError)) throw e;
      request.onWarning?.(`${url} could not be fetched (${e.code}: ${e.message}): ${key} is left out of this import`);
      return undefined;
    });
    if (releaseBytes === undefined) return undefined;
    const release = await verifyInRelease(releaseBytes, { keys: await archiveKeys(archive), now, suite: archive.suite, lastSeen }, url);
    // Only the archive of the origin asked for (its signed Origin): another repository apt names (a third party's) supplies nothing here.
    if (release.origin !== origin) {
      progress(`${key} is ${release.origin === undefined ? 'of no named origin' : `${release.origin}'s`}, not ${origin}'s: left out`);
      return undefined;
    }
    const found: Candidate[] = [];
    for (const component of archive.components) {
      // Debian lists Sources.gz for its main suites, only Sources.xz for -updates and -security.
      const format = (['gz', 'xz'] as const).find((f) => release.files.has(`${component}/source/Sources.${f}`));
      if (format === undefined) {
        progress(`${key} lists no source index for ${component} (Sources.gz or Sources.xz): skipped`);
        continue;
      }
      const indexPath = `${component}/source/Sources.${format}`;
      const plain = release.files.get(`${component}/source/Sources`);
      const indexBytes = (): Promise<Buffer> => cachedIndex(request.cacheDir, fetcher, archive, release, indexPath, release.files.get(indexPath)!, progress);
      // Decompressed once: the uncompressed index is cached by the hash the release file lists for it (most of a warm import's time was gunzip).
      let index = plain === undefined ? undefined : await readCached(request.cacheDir, plain.sha256);
      if (index === undefined) {
        index = await sourceIndex(await indexBytes(), format, plain, `${indexPath} of ${key}`);
        if (plain !== undefined) await writeCached(request.cacheDir, plain.sha256, index);
      }
      for (const paragraph of paragraphsOf(index, request.source, `${key} ${component}/source/Sources`)) {
        found.push({ archive, release, releaseBytes, component, indexPath, indexBytes, paragraph, version: paragraph.require('Version', `${request.source} in ${key}`) });
      }
    }
    return { release, found };
  }));
  const searched = read.flatMap((r) => (r === undefined ? [] : [r]));
  if (searched.length === 0) throw new UpstreamError('NOT_FOUND', `none of the ${archives.length} archives apt names could be read as ${origin}'s (see the warnings above): nothing to import ${request.source} from`);
  let changed = false;
  for (const { release } of searched) {
    for (const name of release.seenAs) {
      if ((lastSeen(name)?.getTime() ?? -Infinity) >= release.date.getTime()) continue;
      seen[name] = release.date.toISOString();
      changed = true;
    }
  }
  if (changed) {
    await mkdir(dirname(request.seenReleasesFile), { recursive: true });
    await writeFileAtomic(request.seenReleasesFile, JSON.stringify(seen, null, 2) + '\n');
  }
  // In apt's order: with an explicit version, the first archive listing it.
  return searched.flatMap((r) => r.found);
}

/** A compressed index (`path` under dists/SUITE), from the cache (by its SHA-256) or the archive (by hash where it serves so). */
async function cachedIndex(cacheDir: string, fetcher: Fetcher, archive: SourceArchive, release: VerifiedRelease, path: string, entry: ChecksumLine, progress: (line: string) => void): Promise<Buffer> {
  const hit = await readCached(cacheDir, entry.sha256);
  if (hit !== undefined) return hit;
  const where = release.byHash ? `${path.slice(0, path.lastIndexOf('/'))}/by-hash/SHA256/${entry.sha256}` : path;
  const url = `${archive.uri}/dists/${archive.suite}/${where}`;
  progress(`fetching ${url} (${(entry.size / 1e6).toFixed(1)} MB)`);
  const bytes = await fetchVerified(fetcher, url, entry, path, DEBIAN_LIMITS.maxCompressedIndexBytes);
  await writeCached(cacheDir, entry.sha256, bytes);
  return bytes;
}

/** The cached file of SHA-256 `sha256`, if it is there and has that hash (the cache is trusted for nothing). */
async function readCached(cacheDir: string, sha256: string): Promise<Buffer | undefined> {
  const hit = await readFile(join(cacheDir, 'by-hash', sha256)).catch(() => undefined);
  return hit !== undefined && sha256Hex(hit) === sha256 ? hit : undefined;
}

/** Caches verified bytes by their SHA-256 (renamed into place whole; not synced: a lost or torn file is only a miss). */
async function writeCached(cacheDir: string, sha256: string, bytes: Uint8Array): Promise<void> {
  const path = join(cacheDir, 'by-hash', sha256);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp-${process.pid}`, bytes);
  await rename(`${path}.tmp-${process.pid}`, path);
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
  await checkNewDirectory(request.out);
  const chosen = await choose(await candidates(request, fetcher, now, progress), request.source, request.version);
  const what = `${request.source} ${chosen.version}`;
  const files = sourcePackageFiles(chosen.paragraph, what);
  const { directory, dsc: dscEntry, orig, asc, debianTar } = files;
  const pool = `${chosen.archive.uri}/${directory}`;

  // The package's files side by side, each checked against the index as it arrives.
  progress(`fetching ${[dscEntry, orig, debianTar, ...(asc === undefined ? [] : [asc])].map((f) => f.name).join(', ')} (${(orig.size / 1e6).toFixed(1)} MB of upstream tarball)`);
  const [dsc, tarball, debianBytes, ascBytes] = await Promise.all([
    fetchVerified(fetcher, `${pool}/${dscEntry.name}`, dscEntry, dscEntry.name, DEBIAN_LIMITS.maxSmallFileBytes),
    fetchVerified(fetcher, `${pool}/${orig.name}`, orig, orig.name, DEBIAN_LIMITS.maxSourceFileBytes),
    fetchVerified(fetcher, `${pool}/${debianTar.name}`, debianTar, debianTar.name, DEBIAN_LIMITS.maxDebianTarballBytes),
    asc === undefined ? undefined : fetchVerified(fetcher, `${pool}/${asc.name}`, asc, asc.name, DEBIAN_LIMITS.maxSmallFileBytes),
  ]);
  await checkDsc(dsc, request.source, chosen.version, files);
  const provenance = await writeImportDirectory(request.out, async (write): Promise<DebianProvenance> => {
    let signature: DebianProvenance['signature'];
    if (asc === undefined || ascBytes === undefined) {
      if (request.allowUnsignedUpstream !== true) throw new UpstreamError('UNSIGNED_UPSTREAM', `the upstream of ${what} did not sign ${orig.name} (Debian lists no ${orig.name}.asc)`);
      signature = { unsigned: true };
    } else {
      const keyBytes = await upstreamKeyText(debianBytes, debianTar.name);
      if (keyBytes === undefined) throw new UpstreamError('BAD_SIGNATURE', `${what}: the upstream signed ${orig.name}, but ${debianTar.name} has no debian/upstream/signing-key.asc to check it with`);
      const verified = await verifyUpstreamSignature(tarball, ascBytes.toString('utf8'), keyBytes, asc.name);
      signature = { ...(await write(asc.name, ascBytes)), key: await write('upstream-signing-key.asc', keyBytes), signer: verified.signer, signedAt: verified.signedAt.toISOString() };
    }
    return {
      format: PROVENANCE_FORMAT,
      kind: 'debian',
      source: request.source,
      version: chosen.version,
      upstream: { ...(await write(orig.name, tarball)), uri: `${pool}/${orig.name}` },
      archive: { uri: chosen.archive.uri, origin: chosen.release.origin!, suite: chosen.archive.suite, component: chosen.component, directory },
      release: { ...(await write('InRelease', Buffer.from(chosen.releaseBytes))), date: chosen.release.date.toISOString(), validUntil: chosen.release.validUntil?.toISOString() ?? null, signers: chosen.release.signers },
      index: { ...(await write(chosen.indexPath.slice(chosen.indexPath.lastIndexOf('/') + 1), await chosen.indexBytes())), path: chosen.indexPath },
      dsc: await write(dscEntry.name, dsc),
      debianTarball: await write(debianTar.name, debianBytes),
      signature,
      importedAt: now.toISOString(),
    };
  });
  return { out: request.out, provenance };
}
