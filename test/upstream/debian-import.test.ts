// test/upstream/debian-import.test.ts: `cairn import debian` (docs/upstream.md "Debian"): the whole
// chain from an archive made and served here (test/fixtures/debian-archive.ts), each link attacked
// in turn and refused with its code and nothing written; and GNU hello from the real archive this
// machine's apt names.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { UsageError } from '../../src/errors/index.js';
import { importDebianSource, type DebianImportRequest } from '../../src/upstream/index.js';
import { assertImportRefused } from '../fixtures/import-refusal.js';
import { archiveKeys, FIXTURE_SOURCE, serveFixtureArchive, type FixtureArchive, type PackageOptions } from '../fixtures/debian-archive.js';

const keys = await archiveKeys();
const NOW = new Date('2026-07-12T00:00:00Z');
const { name, version, directory } = FIXTURE_SOURCE;

async function setUp(t: TestContext, options: PackageOptions = {}): Promise<{ archive: FixtureArchive; dir: string; request: (more?: Partial<DebianImportRequest>) => DebianImportRequest }> {
  const archive = await serveFixtureArchive(keys, options);
  const dir = await mkdtemp(join(tmpdir(), 'cairn-import-'));
  t.after(async () => {
    await archive.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    archive, dir,
    request: (more = {}) => ({ source: name, out: join(dir, 'out'), seenReleasesFile: join(dir, 'seen.json'), cacheDir: join(dir, 'cache'), etcApt: archive.etcApt, now: NOW, ...more }),
  };
}

/** The import is refused with `code`, its message matching `pattern`, and nothing is written where it would have been. */
function refused(request: DebianImportRequest, code: string, pattern: RegExp): Promise<void> {
  return assertImportRefused(importDebianSource(request), request.out, code, pattern);
}

test('an upstream release imported through the whole chain: its tarball byte for byte, the upstream signer, every link in provenance.json; the index is cached by its hash', async (t) => {
  const { archive, request } = await setUp(t);
  const result = await importDebianSource(request());
  const p = result.provenance;
  assert.equal(p.version, version);
  assert.deepEqual(await readFile(join(result.out, p.upstream.file)), archive.tarball);
  assert.equal(p.upstream.uri, `${archive.uri}/${directory}/${name}_1.0.orig.tar.gz`);
  assert.ok('signer' in p.signature);
  assert.equal(p.signature.signer, keys.upstream.getFingerprint());
  assert.equal(p.signature.signedAt, '2026-02-01T00:00:00.000Z');
  assert.deepEqual(p.release.signers, [keys.archive.getFingerprint()]);
  // Every file named is in the directory with the size and hash recorded.
  for (const f of [p.upstream, p.release, p.index, p.dsc, p.debianTarball, p.signature, p.signature.key]) {
    const bytes = await readFile(join(result.out, f.file));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.file);
  }
  assert.deepEqual(JSON.parse(await readFile(join(result.out, 'provenance.json'), 'utf8')), p);
  const fetchedIndex = archive.requests.filter((r) => r.includes('by-hash')).length;
  assert.equal(fetchedIndex, 1, 'the index fetched by hash');
  await importDebianSource(request({ out: join(request().out, '..', 'out-again') }));
  assert.equal(archive.requests.filter((r) => r.includes('by-hash')).length, 1, 'a second import reads the cached index');
});

test('each link attacked: a Sources index, .dsc or tarball other than the signed chain lists is HASH_MISMATCH, a .dsc of another package or listing other files is refused; nothing is written', async (t) => {
  const { archive, request } = await setUp(t);
  // The tarball with Debian's patches applied (or any other bytes) is not the upstream's.
  archive.tamper(`${directory}/${name}_1.0.orig.tar.gz`, gzipSync(Buffer.from('patched by someone\n')));
  await refused(request(), 'HASH_MISMATCH', /greeting_1\.0\.orig\.tar\.gz .* the signed chain lists/);
  archive.tamper(`${directory}/${name}_1.0.orig.tar.gz`, archive.tarball);
  archive.tamper(`${directory}/${name}_${version}.dsc`, Buffer.from('Source: greeting\n'));
  await refused(request(), 'HASH_MISMATCH', /greeting_1\.0-2\.dsc/);
  // A .dsc the signed index lists but that is another package's, or lists other files than the index.
  const { request: otherPackage } = await setUp(t, { dscText: (text) => text.replace('Source: greeting', 'Source: other') });
  await refused(otherPackage(), 'MALFORMED', /is the \.dsc of other 1\.0-2, not of greeting 1\.0-2/);
  const { request: otherFiles } = await setUp(t, { dscText: (text) => text.replace(/ [0-9a-f]{64} (\d+ greeting_1\.0\.orig\.tar\.gz\n)/, ` ${'2'.repeat(64)} $1`) });
  await refused(otherFiles(), 'HASH_MISMATCH', /lists files other than the index does/);
  const { archive: other, request: otherRequest } = await setUp(t);
  // A mirror serving another index under the signed hash's path.
  await importDebianSource(otherRequest({ out: join(otherRequest().out, '..', 'warm') }));
  const byHash = other.requests.find((r) => r.includes('by-hash'))!;
  other.tamper(byHash, gzipSync(Buffer.from(`Package: greeting\nVersion: 9.9-1\nDirectory: ${directory}\nChecksums-Sha256:\n ${'1'.repeat(64)} 5 greeting_9.9-1.dsc\n`)));
  await refused(otherRequest({ cacheDir: join(otherRequest().out, '..', 'cold-cache') }), 'HASH_MISMATCH', /Sources\.gz .* the signed chain lists/);
});

test('the upstream signature: by another key than debian/upstream/signing-key.asc, by a revoked key, or none (UNSIGNED_UPSTREAM unless allowed, then recorded)', async (t) => {
  const { request: wrongKey } = await setUp(t, { signWith: keys.stranger });
  await refused(wrongKey(), 'BAD_SIGNATURE', /not the upstream's/);
  const { publicKey: revoked } = await openpgp.revokeKey({ key: keys.upstream, date: new Date('2026-03-01T00:00:00Z'), format: 'object' });
  const { request: revokedKey } = await setUp(t, { upstreamKey: revoked });
  await refused(revokedKey(), 'BAD_SIGNATURE', /revoked/);
  const { request: unsigned } = await setUp(t, { signWith: null });
  await refused(unsigned(), 'UNSIGNED_UPSTREAM', /did not sign greeting_1\.0\.orig\.tar\.gz/);
  const allowed = await importDebianSource(unsigned({ allowUnsignedUpstream: true }));
  assert.deepEqual(allowed.provenance.signature, { unsigned: true });
});

test('the release file: a forged one is BAD_SIGNATURE, an older one than seen before is DATE_ROLLBACK; the version asked for must be listed (NOT_FOUND)', async (t) => {
  const { archive, request } = await setUp(t);
  const genuine = await readFile(join((await importDebianSource(request())).out, 'InRelease'), 'utf8');
  archive.tamper('dists/bookworm/InRelease', Buffer.from(genuine.replace('Codename: bookworm', 'Codename: bookworm\nValid-Until: Sat, 11 Jul 2099 10:16:37 UTC')));
  await refused(request({ out: join(request().out, '..', 'out-forged') }), 'BAD_SIGNATURE', /no signature that verifies/);
  const { request: older } = await setUp(t, { date: 'Fri, 10 Jul 2026 10:16:37 UTC' });
  // The same archive (its name and key) at another address, with the state that saw its 11 July release file: the 10 July one is a rollback.
  await refused(older({ seenReleasesFile: request().seenReleasesFile }), 'DATE_ROLLBACK', /older than the release file of Debian bookworm seen before/);
  archive.tamper('dists/bookworm/InRelease', Buffer.from(genuine));
  await refused(request({ out: join(request().out, '..', 'out-missing'), version: '7.0-1' }), 'NOT_FOUND', /greeting 7\.0-1 is in none of the archives' verified indexes \(they have 1\.0-2\)/);
});

test('GNU hello from the Debian archive this machine\'s apt names: every link verified, signed by its upstream (real data)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-import-hello-'));
  try {
    const result = await importDebianSource({ source: 'hello', version: '2.10-3', out: join(dir, 'hello'), seenReleasesFile: join(dir, 'seen.json'), cacheDir: join(dir, 'cache') });
    const p = result.provenance;
    assert.equal(p.upstream.file, 'hello_2.10.orig.tar.gz');
    assert.equal(p.upstream.sha256, '31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b');
    assert.ok('signer' in p.signature);
    assert.equal(p.signature.signer, '8ed396e37e38d471a00530d3a9553245fde9b739');
    assert.ok(p.release.signers.length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hostile or unusable archives: an xz index (read), one that is not xz (HASH_MISMATCH, no crash), one listed over the cap (TOO_LARGE), a text-mode upstream signature, a corrupt record of dates', async (t) => {
  const { request: xz } = await setUp(t, { xzIndex: true });
  assert.equal((await importDebianSource(xz())).provenance.index.path, 'main/source/Sources.xz');
  const { request: notXz } = await setUp(t, { xzIndex: randomBytes(1 << 20) });
  await refused(notXz(), 'HASH_MISMATCH', /does not decompress/);
  const { request: huge } = await setUp(t, { listedIndexSize: 1_500_000_000 });
  await refused(huge(), 'TOO_LARGE', /listed at 1500000000 bytes, over cairn's cap/);
  const { request: textMode } = await setUp(t, { textSignature: true });
  await refused(textMode(), 'BAD_SIGNATURE', /not of binary data/);
  const { request: corrupt } = await setUp(t);
  await writeFile(corrupt().seenReleasesFile, JSON.stringify({ 'Debian bookworm 0123': 'not a date' }));
  await refused(corrupt(), 'MALFORMED', /"not a date" for Debian bookworm 0123, not a date/);
});

test('only the archives of the origin asked for count: a third party\'s higher version is left out; an archive that cannot be reached is said and left out; the output must not exist, and its parent must', async (t) => {
  const { archive, dir, request } = await setUp(t);
  const { archive: thirdParty } = await setUp(t, { origin: 'Elsewhere', version: '9.0-1' });
  await writeFile(join(archive.etcApt, 'sources.list'), `${thirdParty.aptLine}\ndeb [signed-by=${join(archive.etcApt, 'archive-key.asc')}] http://127.0.0.1:9/debian bookworm main\n${archive.aptLine}\n`);
  const progress: string[] = [];
  const warnings: string[] = [];
  const result = await importDebianSource(request({ onProgress: (l) => progress.push(l), onWarning: (l) => warnings.push(l) }));
  assert.equal(result.provenance.version, '1.0-2', 'not the third party\'s 9.0-1');
  assert.equal(result.provenance.archive.origin, 'Debian');
  assert.ok(progress.some((l) => /is Elsewhere's, not Debian's: left out/.test(l)), progress.join('\n'));
  assert.ok(warnings.some((l) => /127\.0\.0\.1:9\/debian\/dists\/bookworm\/InRelease could not be fetched .* left out of this import/.test(l)), warnings.join('\n'));
  await assert.rejects(importDebianSource(request({ out: join(dir, 'no', 'such', 'parent') })), (e: unknown) => e instanceof UsageError && e.code === 'BAD_ARGUMENT');
  assert.deepEqual((await readdir(dir)).filter((n) => n === 'no'), [], 'no parent made');
  await mkdir(join(dir, 'empty'));
  await assert.rejects(importDebianSource(request({ out: join(dir, 'empty') })), (e: unknown) => e instanceof UsageError && e.code === 'CONFLICT');
  assert.deepEqual(await readdir(join(dir, 'empty')), []);
});
