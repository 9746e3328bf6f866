// test/upstream/gnu-hello.test.ts: the upstream-pure path end to end with real data
// (docs/upstream.md "From import to release"): GNU hello 2.10 imported from the Debian archive
// apt names, every link verified; built from the upstream's own tarball, as it is, in the build
// sandbox (configure and make with SOURCE_DATE_EPOCH); published with its declaration, whose source
// is the upstream tarball at the archive's address and by its hash; rebuilt bit-identically by two
// verifier processes, each fetching the upstream tarball from the archive itself; and run.
// Not yet here: the witnessed release, the install with the package manager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { NEEDS_BUBBLEWRAP } from '../fixtures/system-tools.js';
import { runCli } from '../fixtures/cairn-process.js';
import { keyFile, publisherRepo, tempDir } from '../rebuild/fixtures.js';

const RECIPE = { command: 'cd hello-2.10 && ./configure --disable-nls && make', output: 'hello-2.10/hello' } as const;

test('GNU hello: imported from the Debian archive, built from the upstream tarball as it is, rebuilt bit-identically by two verifier processes from the archive, and run', { timeout: 600_000, ...NEEDS_BUBBLEWRAP }, async (t) => {
  const { dir, cleanup } = await tempDir('cairn-gnu-hello-');
  t.after(cleanup);
  const imported = await runCli(['--json', 'import', 'debian', 'hello=2.10-3', '--out', join(dir, 'hello'), '--state-dir', join(dir, 'state')], { timeoutMs: 180_000 });
  assert.equal(imported.code, 0, imported.stderr);
  const { provenance } = JSON.parse(imported.stdout) as { provenance: { upstream: { file: string; sha256: string; uri: string }; signature: { signer: string; signedAt: string } } };
  assert.equal(provenance.signature.signer, '8ed396e37e38d471a00530d3a9553245fde9b739', 'signed by its upstream');

  // The build: the upstream's tarball itself is the declared source, at the archive's address.
  const epoch = String(Math.floor(Date.parse(provenance.signature.signedAt) / 1000));
  const built = await runCli(['--json', 'build', join(dir, 'hello', provenance.upstream.file), '--out', join(dir, 'build'), '--command', RECIPE.command, '--output', RECIPE.output,
    '--target', 'gnu-hello/hello', '--source-date-epoch', epoch, '--source-archive', provenance.upstream.file, '--source-uri', provenance.upstream.uri], { timeoutMs: 240_000 });
  assert.equal(built.code, 0, built.stderr + built.stdout);
  const { declaration, artifactPath } = JSON.parse(built.stdout) as { declaration: { source: { uri: string; sha256: string }; artifact: { sha256: string } }; artifactPath: string };
  assert.deepEqual(declaration.source, { uri: provenance.upstream.uri, sha256: provenance.upstream.sha256 }, 'the source is the upstream\'s own tarball, unchanged');

  const [publisher, v1, v2] = await Promise.all([keyFile(dir, 'publisher'), keyFile(dir, 'verifier1'), keyFile(dir, 'verifier2')]);
  const repo = join(dir, 'repo');
  await publisherRepo(repo, publisher.signer);
  const add = await runCli(['repo', 'add', repo, artifactPath, '--path', 'gnu-hello/hello', '--declaration', join(dir, 'build', 'hello.declaration.json'), '--key', publisher.path]);
  assert.equal(add.code, 0, add.stderr);
  // Each verifier fetches the upstream tarball from the archive by the declared address and hash, and rebuilds.
  const runs = await Promise.all([v1, v2].map((v) => runCli(['--json', 'rebuild', 'run', '--repo', repo, '--target', 'gnu-hello/hello', '--key', v.path], { timeoutMs: 400_000 })));
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout) as { result: string; sha256: string };
    assert.equal(out.result, 'PASSED');
    assert.equal(out.sha256, declaration.artifact.sha256);
  }
  const check = await runCli(['rebuild', 'check', '--repo', repo, '--target', 'gnu-hello/hello', '--verifier-key', v1.pub, '--verifier-key', v2.pub, '--quorum', '2']);
  assert.equal(check.code, 0, check.stderr);

  const program = join(dir, 'hello-program');
  await copyFile(artifactPath, program);
  await chmod(program, 0o755);
  const ran = spawnSync(program, [], { encoding: 'utf8' });
  assert.equal(ran.stdout, 'Hello, world!\n');
  assert.equal((await readFile(artifactPath)).subarray(0, 4).toString('latin1'), '\x7fELF');
});
