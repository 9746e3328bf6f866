// test/witness/upstream-check.test.ts: the witness's upstream rule (docs/upstream.md "Witnesses
// check the upstream"), with a real archive and a real published import on loopback HTTP: the
// import the declaration names is fetched, its chain verified again with the witness's own apt
// keyring, the upstream file fetched again from the witness's own archive; and every way a
// publisher (or its web server, or the witness's mirror) could slip in other bytes is refused
// with its code: a source that is not the upstream file (Debian's patches applied), another
// provenance.json than declared, a recorded file changed, a chain the witness's keyring does not
// sign, a mirror serving other bytes, an import at a file: address. An upstream the witness
// cannot reach is said so, and refused when the build policy requires the fetch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type Server } from 'node:http';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReleaseArtifact, ReleaseDeclaration } from '../../src/policy/index.js';
import { importDebianSource, importNpmPackage, UpstreamError } from '../../src/upstream/index.js';
import { UPSTREAM_CHECK_LIMITS, UpstreamChecker, WitnessError } from '../../src/witness/index.js';
import { archiveKeys, serveFixtureArchive, type FixtureArchive } from '../fixtures/debian-archive.js';
import { FIXTURE_PACKAGE, registryKey, serveFixtureRegistry } from '../fixtures/npm-registry.js';

const T = { timeout: 60_000 };
const keys = await archiveKeys();
let work: string;
let imported: string;
let archive: FixtureArchive;
let importServer: Server;
let importUri: string;
/** Bytes the import's web server serves instead of the file of that name. */
const served = new Map<string, Buffer>();
/** Other import directories the server serves, by path prefix. */
const directories = new Map<string, string>();
/** PREFIX/FILE asked of the import's web server, in order. */
const importRequests: string[] = [];
let provenanceSha: string;
let upstreamSha: string;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-witness-upstream-'));
  imported = join(work, 'imported');
  archive = await serveFixtureArchive(keys);
  await importDebianSource({ source: 'greeting', out: imported, seenReleasesFile: join(work, 'seen.json'), cacheDir: join(work, 'cache'), etcApt: archive.etcApt, now: new Date('2026-07-12T00:00:00Z') });
  // Serves an import directory at /PREFIX/FILE (the Debian import under any prefix but npm-*).
  importServer = createServer((req, res) => {
    const [, prefix = '', name = ''] = /^\/([^/]+)\/([^/]*)$/.exec(decodeURIComponent(req.url ?? '/')) ?? [];
    importRequests.push(`${prefix}/${name}`);
    const send = (bytes: Buffer): void => void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    const swapped = served.get(name);
    if (swapped && !prefix.startsWith('npm-')) return send(swapped);
    readFile(join(directories.get(prefix) ?? imported, name)).then(send, () => void res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => importServer.listen(0, '127.0.0.1', resolve));
  const address = importServer.address();
  importUri = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/import/`;
  provenanceSha = sha256(await readFile(join(imported, 'provenance.json')));
  upstreamSha = sha256(archive.tarball);
});

after(async () => {
  await new Promise((resolve) => importServer.close(resolve));
  await archive.close();
  await rm(work, { recursive: true, force: true });
});

function artifact(change: { source?: string; upstream?: Partial<NonNullable<ReleaseDeclaration['upstream']>>; name?: string } = {}): ReleaseArtifact {
  const declaration: ReleaseDeclaration = {
    source: { uri: `${archive.uri}/pool/main/g/greeting/greeting_1.0.orig.tar.gz`, sha256: change.source ?? upstreamSha },
    recipe: { builder: 'debian-12', command: 'make', output: 'greeting', sourceDateEpoch: 1_700_000_000 },
    upstream: { uri: importUri, sha256: provenanceSha, ...change.upstream },
  };
  return { name: change.name ?? 'greeting/greeting', sha256: 'a'.repeat(64), role: 'targets', declaration };
}

async function decide(checker: UpstreamChecker, a: ReleaseArtifact, requireUpstreamFetch = false): Promise<string[]> {
  const verdicts = await checker.prepare([a]);
  return checker.check([a], verdicts, { verifiers: [], quorum: 1, requireUpstreamFetch });
}

async function refused(checker: UpstreamChecker, a: ReleaseArtifact, code: string, pattern: RegExp, requireUpstreamFetch = false): Promise<void> {
  await assert.rejects(decide(checker, a, requireUpstreamFetch), (e: unknown) => {
    assert.ok(e instanceof WitnessError || e instanceof UpstreamError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('the import a declaration names: fetched, its chain verified with the witness\'s own keyring, the upstream fetched from the witness\'s own archive', T, async () => {
  const checker = new UpstreamChecker({ aptDir: archive.etcApt });
  const [note] = await decide(checker, artifact(), true);
  assert.ok(note!.endsWith(`greeting_1.0.orig.tar.gz verified (signed by ${keys.upstream.getFingerprint().toUpperCase()}), fetched from ${archive.uri}/pool/main/g/greeting/greeting_1.0.orig.tar.gz`), note);
  // A source not imported is none of this rule's business.
  const plain = artifact();
  assert.deepEqual(checker.check([{ ...plain, declaration: { source: plain.declaration!.source, recipe: plain.declaration!.recipe } }], new Map(), undefined), []);
});

test('a source that is not the upstream file the import proves (Debian\'s patches applied, say) is refused: NOT_UPSTREAM', T, async () => {
  await refused(new UpstreamChecker({ aptDir: archive.etcApt }), artifact({ source: sha256(Buffer.from('the tarball with patches applied')) }), 'NOT_UPSTREAM', /is not the upstream's/);
});

test('another provenance.json than the declaration names, or a recorded file changed on the publisher\'s server, is refused: HASH_MISMATCH', T, async () => {
  const checker = new UpstreamChecker({ aptDir: archive.etcApt });
  await refused(checker, artifact({ upstream: { sha256: 'b'.repeat(64) } }), 'HASH_MISMATCH', /provenance\.json is not the one the release declares/);
  const recorded = JSON.parse(await readFile(join(imported, 'provenance.json'), 'utf8')) as { release: { file: string }; upstream: { file: string } };
  for (const file of [recorded.release.file, recorded.upstream.file]) {
    served.set(file, Buffer.concat([await readFile(join(imported, file)), Buffer.from('\n')]));
    try {
      await refused(new UpstreamChecker({ aptDir: archive.etcApt }), artifact(), 'HASH_MISMATCH', new RegExp(`${file.replace(/\./g, '\\.')} is `));
    } finally {
      served.delete(file);
    }
  }
});

/** A witness's apt configuration: its own mirror `uri` of the archive, and the archive keys it trusts (trusted.gpg.d, as Debian installs them). */
async function witnessApt(name: string, uri: string, key: openpgp.PrivateKey): Promise<string> {
  const dir = join(work, name);
  await mkdir(join(dir, 'trusted.gpg.d'), { recursive: true });
  await writeFile(join(dir, 'trusted.gpg.d', 'archive.asc'), key.toPublic().armor());
  await writeFile(join(dir, 'sources.list'), `deb ${uri} bookworm main\n`);
  return dir;
}

test('a chain the witness\'s own keyring does not sign is refused: BAD_SIGNATURE', T, async () => {
  // This witness's apt trusts another archive key only.
  await refused(new UpstreamChecker({ aptDir: await witnessApt('apt-stranger', archive.uri, keys.stranger) }), artifact(), 'BAD_SIGNATURE', /not in the keyring/);
});

test('the witness\'s own archive serving other bytes for the upstream file is refused: HASH_MISMATCH', T, async () => {
  const other = Buffer.from(archive.tarball);
  other[0] = other[0]! ^ 0xff;
  archive.tamper('pool/main/g/greeting/greeting_1.0.orig.tar.gz', other);
  try {
    await refused(new UpstreamChecker({ aptDir: archive.etcApt }), artifact(), 'HASH_MISMATCH', /serves \d+ bytes with SHA-256 .* the verified chain lists/);
  } finally {
    archive.tamper('pool/main/g/greeting/greeting_1.0.orig.tar.gz', archive.tarball);
  }
});

test('an upstream the witness cannot fetch from its own sources: said so; refused when the build policy requires the fetch (UPSTREAM_NOT_FETCHED)', T, async () => {
  // This witness's apt names its own mirror of the archive, which is down.
  const down = await witnessApt('apt-down', 'http://127.0.0.1:9/debian', keys.archive);
  const [note] = await decide(new UpstreamChecker({ aptDir: down }), artifact());
  assert.match(note!, /NOT fetched here: http:\/\/127\.0\.0\.1:9\/debian\/pool\/main\/g\/greeting\/greeting_1\.0\.orig\.tar\.gz: /);
  await refused(new UpstreamChecker({ aptDir: down }), artifact(), 'UPSTREAM_NOT_FETCHED', /could not fetch greeting_1\.0\.orig\.tar\.gz from its own sources/, true);
});

test('an import at a file: address is not read by a witness: UNCHECKED_PAYLOAD', T, async () => {
  await refused(new UpstreamChecker({ aptDir: archive.etcApt }), artifact({ upstream: { uri: `file://${imported}/` } }), 'UNCHECKED_PAYLOAD', /not at an http\(s\) address/);
});

test('a refusal is kept a few minutes (not fetched again); requests for one import at once fetch it once; a block naming too many imports is refused unfetched', T, async () => {
  const checker = new UpstreamChecker({ aptDir: archive.etcApt });
  const bad = artifact({ upstream: { uri: importUri.replace('/import/', '/refused/'), sha256: 'b'.repeat(64) } });
  await refused(checker, bad, 'HASH_MISMATCH', /is not the one the release declares/);
  const before = importRequests.length;
  await refused(checker, bad, 'HASH_MISMATCH', /is not the one the release declares/);
  assert.equal(importRequests.length, before, 'the refusal was kept');

  // The same import (by digest) named at three addresses by requests at once: checked once.
  const at = importRequests.length;
  await Promise.all(['once-a', 'once-b', 'once-c'].map((prefix) => decide(checker, artifact({ upstream: { uri: importUri.replace('/import/', `/${prefix}/`) } }))));
  assert.equal(importRequests.slice(at).filter((r) => r.endsWith('/provenance.json')).length, 1, `three requests at once: one fetch (${importRequests.slice(at).join(', ')})`);

  const many = Array.from({ length: UPSTREAM_CHECK_LIMITS.maxImportsPerBlock + 1 }, (_, i) => artifact({ name: `a/${i}`, upstream: { uri: importUri.replace('/import/', `/many-${i}/`) } }));
  const start = importRequests.length;
  const verdicts = await checker.prepare(many);
  assert.throws(() => checker.check(many, verdicts, undefined), (e: unknown) => e instanceof WitnessError && e.code === 'UNCHECKED_PAYLOAD' && /at most 16 in one block/.test(e.message));
  assert.equal(importRequests.length, start, 'nothing was fetched');
});

test('an upstream this witness could not fetch is tried again on the next block, not kept as unreachable', T, async () => {
  let up = false;
  const mirror = createServer((req, res) => void (up && req.url === '/debian/pool/main/g/greeting/greeting_1.0.orig.tar.gz' ? res.writeHead(200).end(archive.tarball) : res.writeHead(503).end()));
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  try {
    const port = (mirror.address() as { port: number }).port;
    const checker = new UpstreamChecker({ aptDir: await witnessApt('apt-flaky', `http://127.0.0.1:${port}/debian`, keys.archive) });
    await refused(checker, artifact(), 'UPSTREAM_NOT_FETCHED', /could not fetch/, true);
    up = true;
    const [note] = await decide(checker, artifact(), true);
    assert.match(note!, /fetched from http:\/\/127\.0\.0\.1:\d+\/debian\/pool/);
  } finally {
    await new Promise((resolve) => mirror.close(resolve));
  }
});

test('npm: an import from a registry that signs nothing is accepted only as the witness\'s own registry lists it; a forged one (other bytes, its own integrity) is refused, and so is one the witness cannot confirm', T, async () => {
  const fixture = await serveFixtureRegistry(registryKey(), { listed: null, signWith: null });
  // The registry, through a front that can go down (its key list is never there: it signs nothing).
  let up = true;
  const front = createServer((req, res) => {
    if (req.url === '/-/npm/v1/keys') return void res.writeHead(404).end();
    if (!up) return void res.writeHead(503).end();
    get(`${fixture.url}${req.url ?? '/'}`, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    }).on('error', () => void res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const registry = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
  try {
    const genuine = join(work, 'npm-genuine');
    await importNpmPackage({ name: FIXTURE_PACKAGE.name, version: FIXTURE_PACKAGE.version, registry, out: genuine });
    directories.set('npm-genuine', genuine);
    const provenanceSha = async (dir: string): Promise<string> => sha256(await readFile(join(dir, 'provenance.json')));
    const npmArtifact = (prefix: string, importSha: string, sourceSha: string): ReleaseArtifact => ({
      name: 'left-pad/left-pad', sha256: 'a'.repeat(64), role: 'targets',
      declaration: { source: { uri: `${registry}/x.tgz`, sha256: sourceSha }, recipe: artifact().declaration!.recipe, upstream: { uri: importUri.replace('/import/', `/${prefix}/`), sha256: importSha } },
    });
    const [note] = await decide(new UpstreamChecker({ npmRegistry: registry }), npmArtifact('npm-genuine', await provenanceSha(genuine), sha256(fixture.tarball)));

    // Nothing signed fixes the version document's size: one recorded as 200 MiB is refused before anything is fetched.
    const padded = join(work, 'npm-padded');
    await cp(genuine, padded, { recursive: true });
    const q = JSON.parse(await readFile(join(padded, 'provenance.json'), 'utf8')) as { document: { size: number } };
    q.document.size = 200 << 20;
    await writeFile(join(padded, 'provenance.json'), JSON.stringify(q));
    directories.set('npm-padded', padded);
    const before = importRequests.length;
    await refused(new UpstreamChecker({ npmRegistry: registry }), npmArtifact('npm-padded', await provenanceSha(padded), sha256(fixture.tarball)), 'MALFORMED', /document\.size must be an integer from 0 to 1048576/);
    assert.deepEqual(importRequests.slice(before), ['npm-padded/provenance.json']);
    // Fetched where the registry's own packument says the tarball is.
    assert.ok(note!.endsWith(`fixture-left-pad-1.3.0.tgz verified, fetched from ${fixture.url}/@fixture/left-pad/-/left-pad-1.3.0.tgz`), note);

    // The forger writes other bytes with their own integrity, which the registry never listed.
    const forged = join(work, 'npm-forged');
    await cp(genuine, forged, { recursive: true });
    const p = JSON.parse(await readFile(join(forged, 'provenance.json'), 'utf8')) as { upstream: { file: string; size: number; sha256: string; integrity: string }; document: { file: string; size: number; sha256: string } };
    const evil = Buffer.from('#!/bin/sh\necho pwned\n');
    const integrity = `sha512-${createHash('sha512').update(evil).digest('base64')}`;
    await writeFile(join(forged, p.upstream.file), evil);
    const doc = JSON.parse(await readFile(join(forged, p.document.file), 'utf8')) as { dist: { integrity: string } };
    doc.dist.integrity = integrity;
    const docBytes = Buffer.from(JSON.stringify(doc));
    await writeFile(join(forged, p.document.file), docBytes);
    p.upstream = { ...p.upstream, size: evil.length, sha256: sha256(evil), integrity };
    p.document = { ...p.document, size: docBytes.length, sha256: sha256(docBytes) };
    await writeFile(join(forged, 'provenance.json'), JSON.stringify(p));
    directories.set('npm-forged', forged);
    await refused(new UpstreamChecker({ npmRegistry: registry }), npmArtifact('npm-forged', await provenanceSha(forged), sha256(evil)), 'HASH_MISMATCH', /lists @fixture\/left-pad@1\.3\.0 with integrity .* the import records/);

    // The registry down: nothing signed vouches for the import, and nothing confirmed it.
    up = false;
    await refused(new UpstreamChecker({ npmRegistry: registry }), npmArtifact('npm-genuine', await provenanceSha(genuine), sha256(fixture.tarball)), 'UPSTREAM_NOT_FETCHED', /nothing signed vouches for @fixture\/left-pad@1\.3\.0/);
  } finally {
    await new Promise((resolve) => front.close(resolve));
    await fixture.close();
  }
});
