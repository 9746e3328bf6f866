// test/cli/import.test.ts: `cairn import debian` and `cairn import verify` (docs/cli.md "Upstream
// imports"), as a publisher and a witness run them, against an archive made and served by the
// test (test/fixtures/debian-archive.ts) and named by an apt configuration of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveKeys, serveFixtureArchive } from '../fixtures/debian-archive.js';
import { FIXTURE_PACKAGE, registryKey, serveFixtureRegistry } from '../fixtures/npm-registry.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };

test('cairn import debian writes the upstream tarball and its chain; cairn import verify checks it again offline, refusing another keyring and a tampered tarball (exit 6); --json gives one document', T, async (t) => {
  const keys = await archiveKeys();
  const archive = await serveFixtureArchive(keys);
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-import-'));
  t.after(async () => {
    await archive.close();
    await rm(dir, { recursive: true, force: true });
  });
  const state = ['--state-dir', join(dir, 'state'), '--apt-dir', archive.etcApt];
  const human = await runCli(['import', 'debian', 'greeting', ...state], { cwd: dir });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^verifying http:\/\/127\.0\.0\.1:\d+\/debian\/dists\/bookworm\/InRelease$/m, 'progress');
  assert.match(human.stdout, /^imported greeting 1\.0-2: .*greeting\.upstream\/greeting_1\.0\.orig\.tar\.gz/m);
  assert.match(human.stdout, new RegExp(`signed by the upstream: key ${keys.upstream.getFingerprint().toUpperCase()}`));
  assert.deepEqual((await readdir(join(dir, 'greeting.upstream'))).sort(), ['InRelease', 'Sources.gz', 'greeting_1.0-2.debian.tar.gz', 'greeting_1.0-2.dsc', 'greeting_1.0.orig.tar.gz', 'greeting_1.0.orig.tar.gz.asc', 'provenance.json', 'upstream-signing-key.asc']);

  const json = await runCli(['--json', 'import', 'debian', 'greeting=1.0-2', '--out', join(dir, 'again'), ...state]);
  assert.equal(json.code, 0, json.stderr);
  const document = JSON.parse(json.stdout) as { out: string; provenance: { version: string } };
  assert.equal(document.provenance.version, '1.0-2');
  const exists = await runCli(['--json', 'import', 'debian', 'greeting', '--out', join(dir, 'again'), ...state]);
  assert.equal(exists.code, 2);
  assert.match((JSON.parse(exists.stdout) as { message: string }).message, /again exists: cairn import writes a directory of its own/);

  // The witness: the archive gone, its own keyring.
  await archive.close();
  const keyring = join(dir, 'archive-key.asc');
  await writeFile(keyring, keys.archive.toPublic().armor());
  const verified = await runCli(['import', 'verify', join(dir, 'greeting.upstream'), '--keyring', keyring]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /^verified greeting 1\.0-2: greeting_1\.0\.orig\.tar\.gz/m);
  const stranger = join(dir, 'stranger.asc');
  await writeFile(stranger, keys.stranger.toPublic().armor());
  const otherKeys = await runCli(['import', 'verify', join(dir, 'greeting.upstream'), '--keyring', stranger]);
  assert.equal(otherKeys.code, 6);
  assert.match(otherKeys.stderr, /BAD_SIGNATURE/);
  await writeFile(join(dir, 'greeting.upstream', 'greeting_1.0.orig.tar.gz'), 'patched');
  const tampered = await runCli(['import', 'verify', join(dir, 'greeting.upstream'), '--keyring', keyring]);
  assert.equal(tampered.code, 6);
  assert.match(tampered.stderr, /HASH_MISMATCH/);
  const bad = await runCli(['import', 'debian', 'Not A Name']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /BAD_ARGUMENT/);
});

test('cairn import npm from a registry named with --registry, and cairn import verify of it; a tarball other than its integrity is HASH_MISMATCH (exit 6)', T, async (t) => {
  const signing = registryKey();
  const registry = await serveFixtureRegistry(signing);
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-import-npm-'));
  t.after(async () => {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });
  const imported = await runCli(['import', 'npm', `${FIXTURE_PACKAGE.name}@${FIXTURE_PACKAGE.version}`, '--registry', registry.url], { cwd: dir });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, new RegExp(`signed by the registry: key ${signing.keyid.replace(/[+/]/g, '.')}`));
  // The witness names the registry it trusts; the one the directory names does not count.
  const elsewhere = await runCli(['import', 'verify', join(dir, 'fixture-left-pad-1.3.0.upstream'), '--registry', 'http://127.0.0.1:9']);
  assert.equal(elsewhere.code, 6);
  assert.match(elsewhere.stderr, /the registry this check trusts/);
  const verified = await runCli(['import', 'verify', join(dir, 'fixture-left-pad-1.3.0.upstream'), '--registry', registry.url]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /^verified @fixture\/left-pad@1\.3\.0/m);
  const { url: swapped, close } = await serveFixtureRegistry(signing, { tarball: Buffer.from('other bytes') });
  t.after(close);
  const refused = await runCli(['import', 'npm', FIXTURE_PACKAGE.name, '--registry', swapped, '--out', join(dir, 'swapped')]);
  assert.equal(refused.code, 6);
  assert.match(refused.stderr, /HASH_MISMATCH/);
});
