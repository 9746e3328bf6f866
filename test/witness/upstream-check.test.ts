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
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type * as openpgp from 'openpgp';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReleaseArtifact, ReleaseDeclaration } from '../../src/policy/index.js';
import { importDebianSource, UpstreamError } from '../../src/upstream/index.js';
import { UpstreamChecker, WitnessError } from '../../src/witness/index.js';
import { archiveKeys, serveFixtureArchive, type FixtureArchive } from '../fixtures/debian-archive.js';

const T = { timeout: 60_000 };
const keys = await archiveKeys();
let work: string;
let imported: string;
let archive: FixtureArchive;
let importServer: Server;
let importUri: string;
/** Bytes the import's web server serves instead of the file of that name. */
const served = new Map<string, Buffer>();
let provenanceSha: string;
let upstreamSha: string;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-witness-upstream-'));
  imported = join(work, 'imported');
  archive = await serveFixtureArchive(keys);
  await importDebianSource({ source: 'greeting', out: imported, seenReleasesFile: join(work, 'seen.json'), cacheDir: join(work, 'cache'), etcApt: archive.etcApt, now: new Date('2026-07-12T00:00:00Z') });
  importServer = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').replace(/^\/import\//, ''));
    const send = (bytes: Buffer): void => void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    const swapped = served.get(name);
    if (swapped) return send(swapped);
    readFile(join(imported, name)).then(send, () => void res.writeHead(404).end());
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

function artifact(change: { source?: string; upstream?: Partial<NonNullable<ReleaseDeclaration['upstream']>> } = {}): ReleaseArtifact {
  const declaration: ReleaseDeclaration = {
    source: { uri: `${archive.uri}/pool/main/g/greeting/greeting_1.0.orig.tar.gz`, sha256: change.source ?? upstreamSha },
    recipe: { builder: 'debian-12', command: 'make', output: 'greeting', sourceDateEpoch: 1_700_000_000 },
    upstream: { uri: importUri, sha256: provenanceSha, ...change.upstream },
  };
  return { name: 'greeting/greeting', sha256: 'a'.repeat(64), role: 'targets', declaration };
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
  await refused(checker, artifact({ upstream: { sha256: 'b'.repeat(64) } }), 'HASH_MISMATCH', /provenance\.json has SHA-256 .* the release declares/);
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
