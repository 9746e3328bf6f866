// test/rebuild/verified-builds.test.ts: real software, rebuilt by real verifier processes
// (docs/verified-builds.md: real software, not toy bytes). A C program (gcc + make) and a Node.js package
// (npm pack) are built with `cairn build`, added to a repository with their declarations, and
// rebuilt bit-identically by two `cairn rebuild run` processes with their own keys: PASSED
// attestations that meet a quorum of 2. Then the attacks: a binary with one byte changed, a
// binary built from other source than declared, a declaration whose source digest is not the
// archive's, and a recipe that embeds the build time, each caught with the typed verdict.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { addTargets } from '../../src/repo/index.js';
import {
  AttestationError, checkAttestationQuorum, declarationToCustom, parseAttestation, parseDeclarationFile, verifyAttestation, type DeclarationFile,
} from '../../src/policy/index.js';
import { findDeclaredArtifact } from '../../src/rebuild/index.js';
import { EPOCH, EXAMPLES, keyFile, runCli, type CliResult, publisherRepo, tempDir, type KeyFile } from './fixtures.js';
import { NEEDS_BUBBLEWRAP } from '../fixtures/system-tools.js';

const T = { timeout: 120_000, ...NEEDS_BUBBLEWRAP };
let dir: string;
let cleanup: () => Promise<void>;
let repo: string;
let publisher: KeyFile;
let v1: KeyFile;
let v2: KeyFile;

function json<T>(r: CliResult): T {
  assert.ok(r.stdout.trim().startsWith('{'), `expected JSON on stdout, got: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface RunResult {
  result: 'PASSED' | 'FAILED';
  sha256: string;
  isolation: string;
  attestation: string;
  differences: null | { kind: string; firstDifferingOffset?: number; files?: Array<{ path: string; change: string; publishedSize: number | null; rebuiltSize: number | null }> };
}

async function cairnBuild(source: string, out: string, args: string[]): Promise<{ declaration: DeclarationFile; artifactPath: string; sourceArchivePath: string }> {
  const r = await runCli(['--json', 'build', source, '--out', out, '--source-date-epoch', String(EPOCH), ...args], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return json(r);
}

before(async () => {
  ({ dir, cleanup } = await tempDir('cairn-verified-builds-'));
  [publisher, v1, v2] = await Promise.all([keyFile(dir, 'publisher'), keyFile(dir, 'verifier1'), keyFile(dir, 'verifier2')]);
  repo = join(dir, 'repo');
  await publisherRepo(repo, publisher.signer);
});

after(() => cleanup());

const C_ARGS = ['--command', 'make', '--output', 'hello', '--target', 'hello-c/hello', '--builder', 'debian-12/gcc-12'];

test('cairn build: the C program, its source archive and its declaration are byte-identical across two runs', T, async () => {
  const uri = pathToFileURL(join(dir, 'c1', 'hello.src.tar')).href;
  const a = await cairnBuild(join(EXAMPLES, 'hello-c'), join(dir, 'c1'), [...C_ARGS, '--source-uri', uri]);
  const b = await cairnBuild(join(EXAMPLES, 'hello-c'), join(dir, 'c2'), [...C_ARGS, '--source-uri', uri]);
  for (const name of ['hello', 'hello.src.tar', 'hello.declaration.json']) {
    assert.deepEqual(await readFile(join(dir, 'c1', name)), await readFile(join(dir, 'c2', name)), `${name} differs between two builds`);
  }
  assert.equal(a.declaration.artifact.sha256, b.declaration.artifact.sha256);
  assert.deepEqual(a.declaration.recipe, { builder: 'debian-12/gcc-12', command: 'make', output: 'hello', sourceDateEpoch: EPOCH });
  assert.equal((await readFile(a.artifactPath)).subarray(0, 4).toString('latin1'), '\x7fELF');
});

test('the C program: repo add --declaration, then two verifier processes rebuild it bit-identically; PASSED meets a quorum of 2', { ...T, ...NEEDS_BUBBLEWRAP }, async () => {
  const add = await runCli(['repo', 'add', repo, join(dir, 'c1', 'hello'), '--path', 'hello-c/hello', '--declaration', join(dir, 'c1', 'hello.declaration.json'), '--key', publisher.path]);
  assert.equal(add.code, 0, add.stderr);
  const declared = await findDeclaredArtifact(repo, 'hello-c/hello');
  assert.ok(declared, 'the declaration is in the targets metadata');
  const runs = await Promise.all([v1, v2].map((v) => runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--repo', repo, '--target', 'hello-c/hello', '--key', v.path], { timeoutMs: 90_000 })));
  const files: Buffer[] = [];
  for (const [i, r] of runs.entries()) {
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = json<RunResult>(r);
    assert.equal(out.result, 'PASSED');
    assert.equal(out.sha256, declared.sha256);
    assert.equal(out.isolation, 'bubblewrap');
    const v = [v1, v2][i]!;
    assert.equal(out.attestation, join(repo, 'public', 'attestations', 'hello-c', 'hello', `${declared.sha256}.${v.signer.keyid}.dsse.json`));
    files.push(await readFile(out.attestation));
  }
  const statement = verifyAttestation(parseAttestation(files[0]!), [v1.signer.publicKey]).statement;
  assert.equal(statement.rebuild.rebuilt.sha256, declared.sha256);
  assert.equal(statement.rebuild.source.sha256, declared.declaration.source.sha256);
  const report = checkAttestationQuorum({ name: 'hello-c/hello', sha256: declared.sha256, declaration: declared.declaration }, files,
    { verifiers: [v1.signer.publicKey, v2.signer.publicKey], quorum: 2 });
  assert.deepEqual(report.passed, [v1.signer.keyid, v2.signer.keyid].sort());
  // The same rule from the command line, reading the published layout.
  const check = await runCli(['rebuild', 'check', '--repo', repo, '--target', 'hello-c/hello', '--verifier-key', v1.pub, '--verifier-key', v2.pub, '--quorum', '2']);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /quorum met/);
});

test('the npm package: npm pack rebuilt bit-identically by two verifier processes from its declaration file', T, async () => {
  const out = join(dir, 'npm');
  const built = await cairnBuild(join(EXAMPLES, 'hello-npm'), out, ['--command', 'npm pack --silent', '--output', 'cairn-hello-1.0.0.tgz', '--target', 'npm/cairn-hello-1.0.0.tgz', '--source-archive', 'cairn-hello-1.0.0.src.tar']);
  const runs = await Promise.all([v1, v2].map((v) => runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--declaration', join(out, 'cairn-hello-1.0.0.tgz.declaration.json'),
    '--artifact', pathToFileURL(built.artifactPath).href, '--out', join(out, `${v.signer.keyid}.dsse.json`), '--key', v.path], { timeoutMs: 90_000 })));
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(json<RunResult>(r).result, 'PASSED');
  }
  const envelopes = await Promise.all([v1, v2].map((v) => readFile(join(out, `${v.signer.keyid}.dsse.json`))));
  const report = checkAttestationQuorum({ name: 'npm/cairn-hello-1.0.0.tgz', sha256: built.declaration.artifact.sha256 }, envelopes,
    { verifiers: [v1.signer.publicKey, v2.signer.publicKey], quorum: 2 });
  assert.equal(report.passed.length, 2);
});

test('a tampered binary (one byte changed) is caught: FAILED with the offset, and the quorum check names the artifact and verifier', T, async () => {
  const decl = parseDeclarationFile(await readFile(join(dir, 'c1', 'hello.declaration.json')));
  const tampered = join(dir, 'hello-tampered');
  const bytes = await readFile(join(dir, 'c1', 'hello'));
  bytes[5000] = bytes[5000]! ^ 0x01;
  await writeFile(tampered, bytes);
  // The publisher's tool refuses to attach the declaration to other bytes...
  const refused = await runCli(['--json', 'repo', 'add', repo, tampered, '--path', 'hello-c/hello-evil', '--declaration', join(dir, 'c1', 'hello.declaration.json'), '--key', publisher.path]);
  assert.equal(refused.code, 6, 'a digest that is not the declared one exits 6 wherever it is found (docs/cli.md)');
  assert.equal(json<{ code: string }>(refused).code, 'ARTIFACT_MISMATCH');
  // ...so a thief with the publisher's keys writes the metadata directly.
  await addTargets(repo, [{ file: tampered, path: 'hello-c/hello-evil' }], { custom: declarationToCustom(decl), signers: [publisher.signer] });
  const r = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--repo', repo, '--target', 'hello-c/hello-evil', '--key', v1.path], { timeoutMs: 90_000 });
  assert.equal(r.code, 1, r.stderr);
  const out = json<RunResult>(r);
  assert.equal(out.result, 'FAILED');
  assert.deepEqual(out.differences, { kind: 'bytes', publishedLength: bytes.length, rebuiltLength: bytes.length, firstDifferingOffset: 5000 });
  const envelope = await readFile(out.attestation);
  assert.throws(() => checkAttestationQuorum({ name: 'hello-c/hello-evil', sha256: out.sha256 }, [envelope], { verifiers: [v1.signer.publicKey, v2.signer.publicKey], quorum: 1 }),
    (e: unknown) => e instanceof AttestationError && e.code === 'REBUILD_FAILED' && e.message.includes('hello-c/hello-evil') && e.message.includes(v1.signer.keyid.slice(0, 12)) && e.message.includes('first difference at byte 5000'));
});

test('a binary built from other source than declared is FAILED; a declared source digest that is not the archive\'s is refused unsigned', T, async () => {
  const decl = parseDeclarationFile(await readFile(join(dir, 'c1', 'hello.declaration.json')));
  // A backdoored copy of the source, built reproducibly, shipped under the genuine declaration.
  const evilSource = join(dir, 'evil-src');
  await cp(join(EXAMPLES, 'hello-c'), evilSource, { recursive: true });
  const c = await readFile(join(evilSource, 'hello.c'), 'utf8');
  await writeFile(join(evilSource, 'hello.c'), c.replace('printf("hello, %s\\n", who);', 'printf("hello, %s\\n", who); /* backdoor */ if (argc > 2) return 42;'));
  const evil = await cairnBuild(evilSource, join(dir, 'evil-out'), C_ARGS);
  assert.notEqual(evil.declaration.artifact.sha256, decl.artifact.sha256);
  await addTargets(repo, [{ file: evil.artifactPath, path: 'hello-c/hello-backdoored' }], { custom: declarationToCustom(decl), signers: [publisher.signer] });
  const failed = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--repo', repo, '--target', 'hello-c/hello-backdoored', '--key', v2.path], { timeoutMs: 90_000 });
  assert.equal(failed.code, 1, failed.stderr);
  assert.equal(json<RunResult>(failed).result, 'FAILED');

  // Declaring the backdoored archive's digest at the genuine archive's location: no verdict at all.
  const mismatched = { ...decl, source: { uri: decl.source.uri, sha256: evil.declaration.source.sha256 } };
  await addTargets(repo, [{ file: evil.artifactPath, path: 'hello-c/hello-mismatch' }], { custom: declarationToCustom(mismatched), signers: [publisher.signer] });
  const refused = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--repo', repo, '--target', 'hello-c/hello-mismatch', '--key', v2.path], { timeoutMs: 90_000 });
  assert.equal(refused.code, 6, refused.stderr + refused.stdout);
  assert.equal(json<{ code: string }>(refused).code, 'SOURCE_MISMATCH');
  const attestations = await readdir(join(repo, 'public', 'attestations', 'hello-c'));
  assert.ok(!attestations.includes('hello-mismatch'), 'nothing is written for a refused rebuild');
});

test('a recipe that embeds the build time is reported as not reproducible, naming the differing file', T, async () => {
  const out = join(dir, 'nonrepro');
  const checked = await runCli(['build', join(EXAMPLES, 'nonreproducible'), '--out', out, '--source-date-epoch', String(EPOCH), '--command', 'make', '--output', 'bundle.tar', '--check'], { timeoutMs: 90_000 });
  assert.equal(checked.code, 1, checked.stderr);
  assert.match(checked.stdout, /NOT REPRODUCIBLE: a second build differs: tar: BUILDINFO content \(\d+ -> \d+ bytes\)/);
  const r = await runCli(['--json', 'rebuild', 'run', '--allow-file-sources', '--declaration', join(out, 'bundle.tar.declaration.json'), '--artifact', join(out, 'bundle.tar'),
    '--out', join(out, 'v1.dsse.json'), '--key', v1.path], { timeoutMs: 90_000 });
  assert.equal(r.code, 1, r.stderr);
  const result = json<RunResult>(r);
  assert.equal(result.result, 'FAILED');
  assert.equal(result.differences?.kind, 'archive');
  assert.deepEqual(result.differences?.files?.map((f) => [f.path, f.change]), [['BUILDINFO', 'content']]);
  // The FAILED verdict is signed and carries the same summary.
  const statement = verifyAttestation(parseAttestation(await readFile(join(out, 'v1.dsse.json'))), [v1.signer.publicKey]).statement;
  assert.equal(statement.result, 'FAILED');
  assert.ok(statement.rebuild.differences?.kind === 'archive' && statement.rebuild.differences.files[0]!.path === 'BUILDINFO');
  assert.ok((await stat(join(out, 'v1.dsse.json'))).size < 8192);
});
