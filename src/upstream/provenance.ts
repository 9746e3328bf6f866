// upstream/provenance.ts: an imported source's chain verified again from its directory alone
// (docs/upstream.md "Verifying an import again"): what a witness does before it co-signs a
// release built from an imported source, and what `cairn import verify` runs. The release file
// and the index travel in the directory, so the archive may have moved on; the release file is
// checked against the verifier's own keyring for the archive, its keys as of when they signed and
// not revoked since (a key that has expired since still vouched for it then; Valid-Until was
// checked at import, and an old release of the upstream is still the upstream's). Every link is checked as at import,
// from the same bytes: each file's size and SHA-256 as recorded and as the chain lists it, the
// index the release file lists, the source's paragraph in it, the .dsc, the upstream tarball, and
// the upstream's signature with the key inside Debian's tarball. A provenance that says the
// upstream signed nothing where the index lists its signature is refused.
import type { PublicKey } from 'openpgp';
import { FieldReader, parseJsonObject } from '../encoding/index.js';
import { checkDsc, DEBIAN_LIMITS, sourceIndex, paragraphsOf, sourcePackageFiles, upstreamKeyText, verifyUpstreamSignature, type DebianProvenance } from './debian-source.js';
import { IMPORT_FILE_NAME, importDirectory, PROVENANCE_FORMAT, type ChainFile, type ImportFiles } from './import-dir.js';
import { UpstreamError } from './errors.js';
import { verifyInRelease } from './release-file.js';
import type { ChecksumLine } from './deb822.js';

const reader = new FieldReader((message) => new UpstreamError('MALFORMED', message));

/** A recorded file, its size capped as the import caps that kind of file. */
function chainFile(value: unknown, field: string, maxBytes: number, extra: readonly string[] = []): ChainFile {
  const o = reader.exact(value, field, ['file', 'size', 'sha256', ...extra]);
  return {
    file: reader.string(o.file, `${field}.file`, 255, { pattern: IMPORT_FILE_NAME, expected: 'a file name' }),
    size: reader.integer(o.size, `${field}.size`, 0, maxBytes),
    sha256: reader.hex(o.sha256, `${field}.sha256`),
  };
}

/** `{ "unsigned": true }`, the record of an upstream that signed nothing. */
function unsigned(o: Record<string, unknown>, field: string): { unsigned: true } {
  if (o.unsigned !== true) throw reader.fail(`${field}: expected true, found ${JSON.stringify(o.unsigned)}`);
  return { unsigned: true };
}

/** provenance.json read strictly (every field, nothing else). */
export function parseDebianProvenance(bytes: Uint8Array, what: string): DebianProvenance {
  const o = reader.exact(parseJsonObject(bytes, what), what, ['format', 'kind', 'source', 'version', 'upstream', 'archive', 'release', 'index', 'dsc', 'debianTarball', 'signature', 'importedAt']);
  reader.literal(o.format, `${what}.format`, PROVENANCE_FORMAT);
  reader.literal(o.kind, `${what}.kind`, 'debian');
  const text = (v: unknown, field: string, max = 512): string => reader.string(v, `${what}.${field}`, max, { min: 1 });
  const archive = reader.exact(o.archive, `${what}.archive`, ['uri', 'origin', 'suite', 'component', 'directory']);
  const release = reader.exact(o.release, `${what}.release`, ['file', 'size', 'sha256', 'date', 'validUntil', 'signers']);
  const index = reader.exact(o.index, `${what}.index`, ['file', 'size', 'sha256', 'path']);
  const upstream = reader.exact(o.upstream, `${what}.upstream`, ['file', 'size', 'sha256', 'uri']);
  const signature = reader.object(o.signature, `${what}.signature`);
  return {
    format: PROVENANCE_FORMAT,
    kind: 'debian',
    source: text(o.source, 'source', 100),
    version: text(o.version, 'version', 100),
    upstream: { ...chainFile(upstream, `${what}.upstream`, DEBIAN_LIMITS.maxSourceFileBytes, ['uri']), uri: text(upstream.uri, 'upstream.uri', 2048) },
    archive: { uri: text(archive.uri, 'archive.uri', 2048), origin: text(archive.origin, 'archive.origin', 100), suite: text(archive.suite, 'archive.suite', 100), component: text(archive.component, 'archive.component', 100), directory: text(archive.directory, 'archive.directory', 512) },
    release: {
      ...chainFile(release, `${what}.release`, DEBIAN_LIMITS.maxReleaseBytes, ['date', 'validUntil', 'signers']),
      date: text(release.date, 'release.date', 40),
      validUntil: release.validUntil === null ? null : text(release.validUntil, 'release.validUntil', 40),
      signers: reader.array(release.signers, `${what}.release.signers`, 16, 1).map((s, i) => reader.hexUpTo(s, `${what}.release.signers[${i}]`, 32, 20)),
    },
    index: { ...chainFile(index, `${what}.index`, DEBIAN_LIMITS.maxCompressedIndexBytes, ['path']), path: text(index.path, 'index.path', 200) },
    dsc: chainFile(o.dsc, `${what}.dsc`, DEBIAN_LIMITS.maxSmallFileBytes),
    debianTarball: chainFile(o.debianTarball, `${what}.debianTarball`, DEBIAN_LIMITS.maxDebianTarballBytes),
    signature: 'unsigned' in signature
      ? unsigned(reader.exact(signature, `${what}.signature`, ['unsigned']), `${what}.signature.unsigned`)
      : {
        ...chainFile(reader.exact(signature, `${what}.signature`, ['file', 'size', 'sha256', 'key', 'signer', 'signedAt']), `${what}.signature`, DEBIAN_LIMITS.maxSmallFileBytes, ['key', 'signer', 'signedAt']),
        key: chainFile(signature.key, `${what}.signature.key`, DEBIAN_LIMITS.maxKeyBytes),
        signer: reader.hexUpTo(signature.signer, `${what}.signature.signer`, 32, 20),
        signedAt: text(signature.signedAt, 'signature.signedAt', 40),
      },
    importedAt: text(o.importedAt, 'importedAt', 40),
  };
}

/** Whether a recorded file is the one a signed list names. */
function sameAs(file: ChainFile, listed: ChecksumLine | undefined): boolean {
  return listed !== undefined && listed.name === file.file && listed.size === file.size && listed.sha256 === file.sha256;
}

export interface DebianCheck {
  /** The verifier's keyring for the archive the import names (chosen from the provenance read once). */
  keys: readonly PublicKey[] | ((p: DebianProvenance) => Promise<readonly PublicKey[]>);
  /** The signed Origin the archive must have (default "Debian"). */
  origin?: string;
  now?: Date;
}

/**
 * Verifies the import in `dir` (see the header) against the verifier's keyring for the archive.
 * Returns its provenance and the fingerprints of the keys that signed its release file; throws
 * UpstreamError naming the link that does not hold.
 */
export async function verifyDebianProvenance(source: string | ImportFiles, check: DebianCheck): Promise<{ provenance: DebianProvenance; signers: string[] }> {
  const files = typeof source === 'string' ? importDirectory(source) : source;
  const p = parseDebianProvenance(await files.provenance(), `${files.where}/provenance.json`);
  const what = `the import of ${p.source} ${p.version} in ${files.where}`;
  const keys = typeof check.keys === 'function' ? await check.keys(p) : check.keys;
  const now = check.now ?? new Date();
  const origin = check.origin ?? 'Debian';
  if (p.archive.origin !== origin) throw new UpstreamError('MALFORMED', `${what}: it comes from ${p.archive.origin}'s archive, not ${origin}'s`);
  const releaseBytes = await files.read(p.release);
  const releaseDate = new Date(p.release.date);
  if (Number.isNaN(releaseDate.getTime())) throw new UpstreamError('MALFORMED', `${what}: release.date ${JSON.stringify(p.release.date)} is not a date`);
  const release = await verifyInRelease(releaseBytes.toString('utf8'), { keys, now, suite: p.archive.suite, source: 'recorded' }, `${what}: ${p.release.file}`);
  if (release.origin !== p.archive.origin) throw new UpstreamError('MALFORMED', `${what}: the release file is ${release.origin ?? 'of no named origin'}'s, provenance.json says ${p.archive.origin}'s`);
  if (release.date.getTime() !== releaseDate.getTime()) throw new UpstreamError('MALFORMED', `${what}: the release file is dated ${release.date.toISOString()}, provenance.json says ${p.release.date}`);

  const listedIndex = release.files.get(p.index.path);
  const format = /\/source\/Sources\.(gz|xz)$/.exec(p.index.path)?.[1] as 'gz' | 'xz' | undefined;
  if (format === undefined || p.index.path !== `${p.archive.component}/source/Sources.${format}`) throw new UpstreamError('MALFORMED', `${what}: index.path ${JSON.stringify(p.index.path)} is not the source index of component ${p.archive.component}`);
  if (listedIndex === undefined || listedIndex.size !== p.index.size || listedIndex.sha256 !== p.index.sha256) throw new UpstreamError('HASH_MISMATCH', `${what}: ${p.index.path} is not the index the release file lists`);
  const index = await sourceIndex(await files.read(p.index), format, release.files.get(`${p.archive.component}/source/Sources`), `${what}: ${p.index.path}`);
  const paragraph = paragraphsOf(index, p.source, `${what}: ${p.index.path}`).find((candidate) => candidate.get('Version') === p.version);
  if (paragraph === undefined) throw new UpstreamError('NOT_FOUND', `${what}: the index lists no ${p.source} ${p.version}`);
  const listed = sourcePackageFiles(paragraph, `${p.source} ${p.version}`);
  if (listed.directory !== p.archive.directory) throw new UpstreamError('MALFORMED', `${what}: the index puts it in ${listed.directory}, provenance.json says ${p.archive.directory}`);
  for (const [recordedFile, entry, name] of [[p.dsc, listed.dsc, '.dsc'], [p.upstream, listed.orig, 'upstream tarball'], [p.debianTarball, listed.debianTar, 'Debian tarball']] as const) {
    if (!sameAs(recordedFile, entry)) throw new UpstreamError('HASH_MISMATCH', `${what}: the ${name} recorded (${recordedFile.file}, ${recordedFile.sha256}) is not the one the index lists (${entry.name}, ${entry.sha256})`);
  }
  if (p.upstream.uri !== `${p.archive.uri}/${listed.directory}/${listed.orig.name}`) throw new UpstreamError('MALFORMED', `${what}: upstream.uri ${p.upstream.uri} is not where the archive serves ${listed.orig.name}`);
  await checkDsc(await files.read(p.dsc), p.source, p.version, listed);
  const tarball = await files.read(p.upstream);
  const debianTarball = await files.read(p.debianTarball);

  if ('unsigned' in p.signature) {
    if (listed.asc !== undefined) throw new UpstreamError('BAD_SIGNATURE', `${what}: provenance.json says the upstream signed nothing, but the index lists its signature ${listed.asc.name}`);
    return { provenance: p, signers: release.signers };
  }
  if (!sameAs(p.signature, listed.asc)) throw new UpstreamError('HASH_MISMATCH', `${what}: the upstream signature recorded (${p.signature.file}) is not the one the index lists`);
  const keyBytes = await files.read(p.signature.key);
  const carried = await upstreamKeyText(debianTarball, p.debianTarball.file);
  if (carried === undefined || !carried.equals(keyBytes)) throw new UpstreamError('BAD_SIGNATURE', `${what}: ${p.signature.key.file} is not the debian/upstream/signing-key.asc of ${p.debianTarball.file}`);
  const verified = await verifyUpstreamSignature(tarball, (await files.read(p.signature)).toString('utf8'), keyBytes, p.signature.file);
  if (verified.signer !== p.signature.signer) throw new UpstreamError('BAD_SIGNATURE', `${what}: the upstream signature is by ${verified.signer}, provenance.json says ${p.signature.signer}`);
  return { provenance: p, signers: release.signers };
}
