// test/upstream/npm-import.test.ts: `cairn import npm` (docs/upstream.md "npm"): a registry made and
// served by the test with keys and signatures made in the test, each property attacked in turn and
// refused with its code and nothing written; and the live registry npm is configured with.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importNpmPackage, npmRegistry, UpstreamError, verifyNpmProvenance, type NpmImportRequest } from '../../src/upstream/index.js';
import { assertImportRefused } from '../fixtures/import-refusal.js';
import { FIXTURE_PACKAGE, registryKey, serveFixtureRegistry, type RegistryOptions } from '../fixtures/npm-registry.js';

const signing = registryKey();

async function setUp(t: TestContext, options: RegistryOptions = {}): Promise<{ request: (more?: Partial<NpmImportRequest>) => NpmImportRequest; tarball: Buffer }> {
  const registry = await serveFixtureRegistry(signing, options);
  const dir = await mkdtemp(join(tmpdir(), 'cairn-npm-import-'));
  t.after(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { tarball: registry.tarball, request: (more = {}) => ({ name: FIXTURE_PACKAGE.name, version: FIXTURE_PACKAGE.version, registry: registry.url, out: join(dir, 'out'), ...more }) };
}

function refused(request: NpmImportRequest, code: string, pattern: RegExp): Promise<void> {
  return assertImportRefused(importNpmPackage(request), request.out, code, pattern);
}

test('a package imported from the registry: its tarball by its integrity, the registry\'s signature by a listed key; provenance names each', async (t) => {
  const { request, tarball } = await setUp(t);
  const { out, provenance: p } = await importNpmPackage(request({ version: undefined }));
  assert.equal(p.version, FIXTURE_PACKAGE.version, 'the latest dist-tag');
  assert.deepEqual(await readFile(join(out, p.upstream.file)), tarball);
  assert.equal(p.signature?.keyid, signing.keyid);
  assert.equal(p.publishedAt, '2026-06-01T00:00:00.000Z');
  assert.deepEqual((await readdir(out)).sort(), ['fixture-left-pad-1.3.0.tgz', 'provenance.json', 'registry-keys.json', 'version.json']);
});

test('attacks: a tarball other than its integrity, a signature stripped where keys exist, by an unlisted key, over another integrity, by a key expired before publication; only a SHA-1; no such version; a dist-tag that is a path; an expiry that is not a date', async (t) => {
  const { request: swapped } = await setUp(t, { tarball: Buffer.from('not the package') });
  await refused(swapped(), 'HASH_MISMATCH', /the registry's signed integrity says/);
  const { request: stripped } = await setUp(t, { signWith: null });
  await refused(stripped(), 'BAD_SIGNATURE', /lists signing keys but did not sign this version/);
  const { request: unlisted } = await setUp(t, { signWith: registryKey() });
  await refused(unlisted(), 'BAD_SIGNATURE', /not in the registry's key list/);
  const { request: otherIntegrity } = await setUp(t, { signIntegrity: `sha512-${'A'.repeat(86)}==` });
  await refused(otherIntegrity(), 'BAD_SIGNATURE', /does not verify/);
  const { request: expired } = await setUp(t, { listed: [{ pair: signing, expires: '2026-05-01T00:00:00.000Z' }] });
  await refused(expired(), 'BAD_SIGNATURE', /expired 2026-05-01T00:00:00.000Z, before the version was published/);
  const { request: sha1 } = await setUp(t, { integrity: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
  await refused(sha1(), 'MALFORMED', /names no SHA-512 digest/);
  const { request: missing } = await setUp(t);
  await refused(missing({ version: '9.9.9' }), 'NOT_FOUND', /@9\.9\.9 is not in the registry's packument/);
  // The registry's latest dist-tag names a "version" that is a path: never a file name.
  const { request: traversal } = await setUp(t, { version: '../../../escaped', listed: null, signWith: null });
  await refused(traversal({ version: undefined }), 'MALFORMED', /the version "\.\.\/\.\.\/\.\.\/escaped" is not one a package has/);
  assert.deepEqual((await readdir(join(traversal().out, '..', '..'))).filter((n) => n.startsWith('escaped')), []);
  // A key list whose expiry is not a date is refused, not read as "never expires".
  const { request: badExpiry } = await setUp(t, { listed: [{ pair: signing, expires: 'soon' }] });
  await refused(badExpiry(), 'MALFORMED', /expires/);
});

test('a key that expired after the version was published still vouches for it; a registry with no key list signs nothing, and that is recorded, unless the key list is pinned', async (t) => {
  const { request: later } = await setUp(t, { listed: [{ pair: signing, expires: '2026-07-01T00:00:00.000Z' }] });
  assert.equal((await importNpmPackage(later())).provenance.signature?.keyid, signing.keyid);
  const { request: keyless } = await setUp(t, { listed: null, signWith: null });
  const { provenance } = await importNpmPackage(keyless());
  assert.equal(provenance.signature, null);
  assert.equal(provenance.keys, null);
  // Unless the user pinned the key list: then a registry that dropped its keys cannot have its unsigned versions accepted.
  const pinned = Buffer.from(JSON.stringify({ keys: [{ expires: null, keyid: signing.keyid, keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: signing.key }] }));
  await refused(keyless({ out: join(keyless().out, '..', 'out-pinned'), keysFile: pinned }), 'BAD_SIGNATURE', /lists signing keys but did not sign this version/);
});

test('the live registry npm is configured with: a package this project depends on, its integrity the one package-lock.json records, signed where the registry lists keys (real data)', async (t) => {
  const lock = JSON.parse(await readFile(new URL('../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, { version: string; integrity: string }> };
  const commander = lock.packages['node_modules/commander']!;
  const dir = await mkdtemp(join(tmpdir(), 'cairn-npm-live-'));
  try {
    const { provenance } = await importNpmPackage({ name: 'commander', version: commander.version, registry: await npmRegistry('commander'), out: join(dir, 'commander') });
    assert.equal(provenance.upstream.integrity, commander.integrity);
    // The public registry lists keys and signs every version; a mirror may serve neither (this machine's does not): either way both or neither.
    assert.equal(provenance.signature === null, provenance.keys === null, 'a signature exactly where the registry lists keys');
    t.diagnostic(provenance.keys === null ? `${provenance.registry} lists no signing keys: imported by integrity alone, recorded so` : `signed by ${provenance.signature!.keyid}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an npm import verified again: with the verifier\'s own key list; a tampered tarball, a record stripped of its signature, another key list are refused', async (t) => {
  const { request } = await setUp(t);
  const { out } = await importNpmPackage(request());
  const registry = request().registry;
  const pinned = (pair: { keyid: string; key: string }): Buffer => Buffer.from(JSON.stringify({ keys: [{ expires: null, keyid: pair.keyid, keytype: 'ecdsa-sha2-nistp256', scheme: 'ecdsa-sha2-nistp256', key: pair.key }] }));
  assert.equal((await verifyNpmProvenance(out, { registry, keysFile: pinned(signing) })).signedBy, signing.keyid);
  assert.equal((await verifyNpmProvenance(out, { registry })).signedBy, signing.keyid, 'with the key list the registry serves now');
  // The registry is the verifier's, never the one the directory names (which would answer with its own keys, or none).
  await assert.rejects(verifyNpmProvenance(out, { registry: 'http://127.0.0.1:9' }), (e: unknown) => e instanceof UpstreamError && e.code === 'MALFORMED' && /not from the registry this check trusts \(http:\/\/127\.0\.0\.1:9\)/.test(e.message));
  await assert.rejects(verifyNpmProvenance(out, { registry, keysFile: pinned(registryKey()) }), (e: unknown) => e instanceof UpstreamError && e.code === 'BAD_SIGNATURE');
  const provenancePath = join(out, 'provenance.json');
  const original = await readFile(provenancePath, 'utf8');
  await writeFile(provenancePath, original.replace(/"signature": \{[^}]*\}/, '"signature": null'));
  await assert.rejects(verifyNpmProvenance(out, { registry, keysFile: pinned(signing) }), (e: unknown) => e instanceof UpstreamError && e.code === 'BAD_SIGNATURE' && /did not sign this version/.test(e.message));
  await writeFile(provenancePath, original);
  const tarball = join(out, 'fixture-left-pad-1.3.0.tgz');
  await writeFile(tarball, 'patched');
  await assert.rejects(verifyNpmProvenance(out, { registry, keysFile: pinned(signing) }), (e: unknown) => e instanceof UpstreamError && e.code === 'HASH_MISMATCH');
});

test('a scoped package comes from the registry npm has for its scope (@SCOPE:registry), as npm itself resolves it, not the default one', async () => {
  const key = 'npm_config_@fixture:registry';
  process.env[key] = 'http://127.0.0.1:1234/';
  try {
    assert.equal(await npmRegistry('@fixture/left-pad'), 'http://127.0.0.1:1234/');
    assert.notEqual(await npmRegistry('left-pad'), 'http://127.0.0.1:1234/');
    assert.notEqual(await npmRegistry('@other/left-pad'), 'http://127.0.0.1:1234/');
  } finally {
    delete process.env[key];
  }
});
