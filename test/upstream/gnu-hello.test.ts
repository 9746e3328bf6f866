// test/upstream/gnu-hello.test.ts: the upstream-pure path end to end with real data
// (docs/upstream.md "From import to release"): GNU hello 2.10 imported from the Debian archive
// apt names, every link verified; the import directory published (a cairn mirror on loopback);
// built with `cairn build --import` from the upstream's own tarball, as it is, in the build
// sandbox (configure and make with SOURCE_DATE_EPOCH, then packed as a cairn package); rebuilt
// bit-identically by two verifier processes, each fetching the upstream tarball from the archive
// itself; released through three witness processes that each fetch the import, verify its chain
// with this machine's Debian keyring and fetch the upstream tarball from their own apt mirror
// (the build policy requires it); installed with the package manager, shown by `cairn info` with
// its upstream provenance, and run. Then the attack: a release whose declaration names the same
// import but whose source is other bytes (Debian's tarball, as patches would be) is refused by
// the witnesses with NOT_UPSTREAM, and nothing is published.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { sha256Hex } from '../../src/crypto/index.js';
import { startMirror, type RunningMirror } from '../../src/mirror/index.js';
import { packageTargetPath } from '../../src/package/index.js';
import { declarationToCustom, parseDeclarationFile } from '../../src/policy/index.js';
import { addPackage } from '../../src/repo/index.js';
import { NEEDS_BUBBLEWRAP } from '../fixtures/system-tools.js';
import { treeSnapshot } from '../repo/fixtures.js';
import { publisherKeys, rootPin, startCluster, type Cluster, type PublisherKeys } from '../witness/cluster.js';
import { keyFile, runCli, tempDir, type CliResult, type KeyFile } from '../rebuild/fixtures.js';

const T = { timeout: 900_000, ...NEEDS_BUBBLEWRAP };
const UPSTREAM_SIGNER = '8ed396e37e38d471a00530d3a9553245fde9b739';
const MANIFEST = '{"dependencies":{},"description":"GNU hello, as its upstream released it","entryPoints":{"hello":"bin/hello"},"name":"gnu-hello","permissions":[],"version":"2.10.0"}';
// The upstream's build as it is, then the package: the binary and the manifest in a deterministic ustar.
const RECIPE = `cd hello-2.10 && ./configure --disable-nls && make && mkdir -p ../pkg/bin && cp hello ../pkg/bin/hello && printf '%s' '${MANIFEST}' > ../pkg/cairn-package.json`
  + ' && cd .. && tar --format=ustar --sort=name --mtime=@$SOURCE_DATE_EPOCH --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX -cf package.tar -C pkg bin cairn-package.json';
const TARGET = packageTargetPath('gnu-hello', '2.10.0');

let work: { dir: string; cleanup: () => Promise<void> };
let keys: PublisherKeys;
let verifiers: KeyFile[];
let cluster: Cluster | undefined;
const mirrors: RunningMirror[] = [];
let repo: string;
let genesis: string;

const ok = (r: CliResult, what: string): void => assert.equal(r.code, 0, `${what}: ${r.stdout}\n${r.stderr}`);
const publish = (): Promise<CliResult> => runCli(['--json', 'repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp, '--witness-timeout', '120000', '--leader-key', cluster!.leaderKeyFile], { timeoutMs: 400_000 });

before(async () => {
  work = await tempDir('cairn-gnu-hello-');
  keys = await publisherKeys(work.dir);
  verifiers = await Promise.all([keyFile(work.dir, 'verifier1'), keyFile(work.dir, 'verifier2')]);
  repo = join(work.dir, 'repo');
  ok(await runCli(['repo', 'init', repo, '--root-key', keys.files.root, '--targets-key', keys.files.targets, '--snapshot-key', keys.files.snapshot,
    '--timestamp-key', keys.files.timestamp, '--key', keys.files.root, '--key', keys.files.targets,
    ...verifiers.flatMap((v) => ['--build-verifier-key', v.pub]), '--build-quorum', '2', '--build-require-upstream-fetch']), 'repo init');
  ok(await runCli(['repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp]), 'first publish');
  // Three witnesses with this machine's apt: its Debian keyring, its mirror.
  cluster = await startCluster(work.dir, 3, rootPin(keys));
  const init = await runCli(['--json', 'log', 'init', repo, ...cluster.urls.flatMap((u) => ['--witness', u]), '--threshold', '2', '--key', keys.files.root, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
  ok(init, 'log init');
  genesis = (JSON.parse(init.stdout) as { genesis: string }).genesis;
});

after(async () => {
  await Promise.all(mirrors.map((m) => m.close()));
  await cluster?.stopAll();
  await work?.cleanup();
});

test('GNU hello: imported from the Debian archive, built from the upstream tarball as it is, rebuilt by two verifiers, co-signed by witnesses that checked the upstream, installed, shown with its provenance and run', T, async () => {
  const imported = join(work.dir, 'hello');
  ok(await runCli(['--json', 'import', 'debian', 'hello=2.10-3', '--out', imported, '--state-dir', join(work.dir, 'state')], { timeoutMs: 180_000 }), 'import');
  // The publisher publishes the import directory where witnesses can fetch it.
  const importServer = await startMirror({ root: imported });
  mirrors.push(importServer);
  const importUri = `${importServer.url}/`;

  const built = await runCli(['--json', 'build', '--import', imported, '--import-uri', importUri, '--out', join(work.dir, 'build'), '--command', RECIPE, '--output', 'package.tar', '--target', TARGET], { timeoutMs: 300_000 });
  ok(built, 'build --import');
  const { declaration, artifactPath, declarationPath } = JSON.parse(built.stdout) as { declaration: { source: { uri: string; sha256: string }; upstream: { uri: string; sha256: string }; recipe: { sourceDateEpoch: number } }; artifactPath: string; declarationPath: string };
  const provenance = JSON.parse(await readFile(join(imported, 'provenance.json'), 'utf8')) as { upstream: { uri: string; sha256: string }; signature: { signedAt: string } };
  assert.deepEqual(declaration.source, { uri: provenance.upstream.uri, sha256: provenance.upstream.sha256 }, 'the source is the upstream\'s own tarball, unchanged');
  assert.deepEqual(declaration.upstream, { uri: importUri, sha256: sha256Hex(await readFile(join(imported, 'provenance.json'))) });
  assert.equal(declaration.recipe.sourceDateEpoch, Math.floor(Date.parse(provenance.signature.signedAt) / 1000), 'SOURCE_DATE_EPOCH: when the upstream signed it');

  ok(await runCli(['repo', 'add-package', repo, artifactPath, '--declaration', declarationPath, '--key', keys.files.targets]), 'repo add-package');
  const runs = await Promise.all(verifiers.map((v) => runCli(['--json', 'rebuild', 'run', '--repo', repo, '--target', TARGET, '--key', v.path], { timeoutMs: 400_000 })));
  for (const r of runs) {
    ok(r, 'rebuild run');
    assert.equal((JSON.parse(r.stdout) as { result: string }).result, 'PASSED');
  }
  const released = await publish();
  ok(released, 'witnessed release');
  // Each co-signer says, to the publisher and in its own log, that it verified the chain and fetched the tarball itself.
  const said = `${TARGET}: upstream hello_2.10.orig.tar.gz verified (signed by ${UPSTREAM_SIGNER.toUpperCase()}), fetched from `;
  const round = (JSON.parse(released.stdout) as { log: { rounds: Array<{ cosigners: string[]; notes?: Record<string, string[]> }> } }).log.rounds[0]!;
  assert.ok(round.cosigners.length >= 2);
  for (const name of round.cosigners) assert.ok(round.notes?.[name]?.some((n) => n.startsWith(said)), `${name} said: ${JSON.stringify(round.notes)}`);
  const logged = cluster!.witnesses.flatMap((w) => w.lines.filter((l) => l.includes(said)));
  assert.ok(logged.length >= 2, cluster!.witnesses.flatMap((w) => w.lines).join('\n'));

  // A user installs it with the package manager, from a mirror of the repository, and runs it.
  const served = await startMirror({ root: join(repo, 'public') });
  mirrors.push(served);
  const store = join(work.dir, 'store');
  ok(await runCli(['remote', 'add', 'main', served.url, '--root', join(repo, 'public', 'metadata', '1.root.json'), '--log-anchor', genesis, '--store', store]), 'remote add');
  const info = await runCli(['info', 'gnu-hello', '--store', store], { timeoutMs: 120_000 });
  ok(info, 'info');
  assert.match(info.stdout, /verified builds: rebuilt by the quorum/);
  assert.match(info.stdout, /upstream: hello 2\.10-3 from Debian http:\/\/\S+ bookworm: hello_2\.10\.orig\.tar\.gz \(sha256 [0-9a-f]{64}\) is the source, unchanged/);
  assert.match(info.stdout, /archive key: [0-9A-F]{40}/);
  assert.ok(info.stdout.includes(`upstream's signature: key ${UPSTREAM_SIGNER.toUpperCase()}`), info.stdout);
  ok(await runCli(['install', 'gnu-hello', '--store', store], { timeoutMs: 120_000 }), 'install');
  const ran = spawnSync(join(store, 'current', 'bin', 'hello'), [], { encoding: 'utf8' });
  assert.equal(ran.stdout, 'Hello, world!\n', ran.stderr);
});

test('a release naming the import with a source that is not the upstream tarball (Debian\'s tarball, as a patched one would be) is refused by the witnesses: NOT_UPSTREAM, nothing published', T, async () => {
  const imported = join(work.dir, 'hello');
  const recorded = JSON.parse(await readFile(join(imported, 'provenance.json'), 'utf8')) as { debianTarball: { file: string } };
  const genuine = parseDeclarationFile(await readFile(join(work.dir, 'build', 'gnu-hello-2.10.0.tar.declaration.json')));
  const other = await readFile(join(imported, recorded.debianTarball.file));
  // A thief with the targets key releases 2.10.1 under the genuine import, from other source bytes.
  const src = join(work.dir, 'patched');
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'bin', 'hello'), '#!/bin/sh\necho patched\n');
  await chmod(join(src, 'bin', 'hello'), 0o755);
  await writeFile(join(src, 'cairn-package.json'), MANIFEST.replace('"2.10.0"', '"2.10.1"'));
  const archive = join(work.dir, 'gnu-hello-2.10.1.tar');
  ok(await runCli(['pack', src, '--out', archive]), 'pack');
  await addPackage(repo, archive, { custom: declarationToCustom({ ...genuine, source: { uri: genuine.source.uri, sha256: sha256Hex(other) } }), signers: [keys.signers.targets] });

  const before = await treeSnapshot(join(repo, 'public'));
  const r = await publish();
  assert.equal(r.code, 6, r.stdout + r.stderr);
  const err = JSON.parse(r.stdout) as { code: string; witnesses: Array<{ status: string; code?: string; detail: string }> };
  assert.equal(err.code, 'ROUND_FAILED');
  const refusals = err.witnesses.filter((w) => w.status === 'refused');
  assert.ok(refusals.length >= 2, r.stdout);
  for (const w of refusals) {
    assert.equal(w.code, 'NOT_UPSTREAM', w.detail);
    assert.ok(w.detail.includes('hello_2.10.orig.tar.gz'), w.detail);
  }
  assert.deepEqual(await treeSnapshot(join(repo, 'public')), before, 'no TUF metadata, target or log file was written');
});
