// test/rebuild/verified-release.test.ts: verified builds end to end (docs/verified-builds.md
// section 7; docs/design.md "What a witness checks": each new or changed artifact has the policy's
// quorum of matching rebuild attestations). Real processes on 127.0.0.1: a root whose build policy
// names two verifiers (quorum 2, set by `cairn repo init --build-verifier-key`), three witness
// processes (threshold 2), the C program built with `cairn build`, rebuilt by two `cairn rebuild
// run` processes, published and co-signed; a witnessed client downloads it and re-checks its
// attestations (`cairn tuf verify-attestations`, WitnessedUpdater verifyAttestations). Then the
// attack: the same target replaced by a binary with one byte changed, signed with the publisher's
// keys; both verifiers sign FAILED, the witnesses refuse (REBUILD_FAILED naming the artifact and
// the verifiers), nothing is published and the client still gets the genuine release.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '../../src/crypto/index.js';
import { addTargets } from '../../src/repo/index.js';
import { declarationToCustom, parseDeclarationFile } from '../../src/policy/index.js';
import { parseBlockBytes } from '../../src/log/index.js';
import { WitnessedUpdater } from '../../src/client/index.js';
import { startMirror, type RunningMirror } from '../../src/mirror/index.js';
import { treeSnapshot } from '../repo/fixtures.js';
import { publisherKeys, rootPin, startCluster, tempRoot, type Cluster, type PublisherKeys } from '../witness/cluster.js';
import { EPOCH, EXAMPLES, keyFile, runCli, type CliResult, type KeyFile } from './fixtures.js';
import { NEEDS_BUBBLEWRAP } from '../fixtures/system-tools.js';

const T = { timeout: 240_000, ...NEEDS_BUBBLEWRAP };
const TARGET = 'hello-c/hello';
let root: { dir: string; cleanup: () => Promise<void> };
let cluster: Cluster | undefined;
let mirror: RunningMirror | undefined;
let keys: PublisherKeys;
let v1: KeyFile;
let v2: KeyFile;
let repo: string;
let clientDir: string;
let genuineSha: string;

const ok = (r: CliResult, what: string): void => assert.equal(r.code, 0, `${what}: ${r.stdout}\n${r.stderr}`);
const publish = (): Promise<CliResult> => runCli(['--json', 'repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp, '--witness-timeout', '5000', ...(cluster ? ['--leader-key', cluster.leaderKeyFile] : [])], { timeoutMs: 90_000 });
const rebuildBoth = (): Promise<CliResult[]> => Promise.all([v1, v2].map((v) => runCli(['--json', 'rebuild', 'run', '--repo', repo, '--target', TARGET, '--key', v.path, '--allow-file-sources'], { timeoutMs: 120_000 })));
const tuf = (args: string[]): Promise<CliResult> => runCli(['--json', 'tuf', '--metadata-dir', clientDir, '--metadata-url', `${mirror!.url}/metadata/`,
  '--target-base-url', `${mirror!.url}/targets/`, '--target-dir', join(root.dir, 'downloads'), ...args], { timeoutMs: 60_000 });

before(async () => {
  root = await tempRoot('cairn-verified-release-');
  keys = await publisherKeys(root.dir);
  [v1, v2] = await Promise.all([keyFile(root.dir, 'verifier1'), keyFile(root.dir, 'verifier2')]);
  repo = join(root.dir, 'repo');
  ok(await runCli(['repo', 'init', repo, '--root-key', keys.files.root, '--targets-key', keys.files.targets, '--snapshot-key', keys.files.snapshot,
    '--timestamp-key', keys.files.timestamp, '--key', keys.files.root, '--key', keys.files.targets,
    '--build-verifier-key', v1.pub, '--build-verifier-key', v2.pub, '--build-quorum', '2']), 'repo init');
  ok(await publish(), 'first publish');
  cluster = await startCluster(root.dir, 3, rootPin(keys));
  const init = await runCli(['--json', 'log', 'init', repo, ...cluster.urls.flatMap((u) => ['--witness', u]), '--threshold', '2', '--key', keys.files.root, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
  ok(init, 'log init');
  const genesis = (JSON.parse(init.stdout) as { genesis: string }).genesis;
  mirror = await startMirror({ root: join(repo, 'public') });
  clientDir = join(root.dir, 'client');
  await mkdir(join(root.dir, 'downloads'), { recursive: true });
  ok(await runCli(['tuf', '--metadata-dir', clientDir, 'init', join(repo, 'public', 'metadata', '1.root.json'), '--log-anchor', genesis]), 'tuf init');
});

after(async () => {
  await mirror?.close();
  await cluster?.stopAll();
  await root?.cleanup();
});

test('the C program, rebuilt PASSED by two verifier processes, is co-signed with its attestations digest and re-checked by the client', T, async () => {
  const out = join(root.dir, 'dist');
  const uri = pathToFileURL(join(out, 'hello.src.tar')).href;
  ok(await runCli(['build', join(EXAMPLES, 'hello-c'), '--out', out, '--source-date-epoch', String(EPOCH), '--command', 'make', '--output', 'hello',
    '--target', TARGET, '--builder', 'debian-12/gcc-12', '--source-uri', uri], { timeoutMs: 90_000 }), 'cairn build');
  ok(await runCli(['repo', 'add', repo, join(out, 'hello'), '--path', TARGET, '--declaration', join(out, 'hello.declaration.json'), '--key', keys.files.targets]), 'repo add');
  genuineSha = sha256Hex(await readFile(join(out, 'hello')));
  for (const r of await rebuildBoth()) {
    ok(r, 'rebuild run');
    assert.equal((JSON.parse(r.stdout) as { result: string }).result, 'PASSED');
  }
  const r = await publish();
  ok(r, 'publish');
  const logged = (JSON.parse(r.stdout) as { log: { index: number; rounds: Array<{ cosigners: string[] }> } }).log;
  assert.ok(logged.rounds[0]!.cosigners.length >= 2);
  const block = parseBlockBytes(await readFile(join(repo, 'public', 'log', 'blocks', `${logged.index}.json`)));
  assert.match(block.payload.attestations ?? '', /^[0-9a-f]{64}$/, 'the block records the digest of the attestations relied on');

  const verified = await tuf(['verify-attestations', '--target-name', TARGET]);
  ok(verified, 'tuf verify-attestations');
  const report = JSON.parse(verified.stdout) as { attestations: Array<{ target: string; sha256: string; passed: string[]; block: { index: number; attestations: string } }> };
  assert.deepEqual(report.attestations[0]!.passed, [v1.signer.keyid, v2.signer.keyid].sort());
  assert.deepEqual(report.attestations[0]!.block, { index: logged.index, attestations: block.payload.attestations });

  const updater = new WitnessedUpdater({ metadataDir: clientDir, metadataBaseUrl: `${mirror!.url}/metadata/`, targetBaseUrl: `${mirror!.url}/targets/`,
    targetDir: join(root.dir, 'downloads'), verifyAttestations: true });
  const info = await updater.getTargetInfo(TARGET);
  assert.ok(info);
  const path = await updater.downloadTarget(info, join(root.dir, 'downloads', 'hello-lib'));
  assert.equal(sha256Hex(await readFile(path)), genuineSha);
});

test('a tampered binary (one byte changed) under the genuine declaration: FAILED by both verifiers, refused by the witnesses, never seen by the client', T, async () => {
  const decl = parseDeclarationFile(await readFile(join(root.dir, 'dist', 'hello.declaration.json')));
  const bytes = await readFile(join(root.dir, 'dist', 'hello'));
  bytes[5000] = bytes[5000]! ^ 0x01;
  const tampered = join(root.dir, 'hello-tampered');
  await writeFile(tampered, bytes);
  // A thief with the targets key replaces the released binary.
  await addTargets(repo, [{ file: tampered, path: TARGET }], { custom: declarationToCustom(decl), signers: [keys.signers.targets] });
  for (const r of await rebuildBoth()) {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { result: string }).result, 'FAILED');
  }
  const before = await treeSnapshot(join(repo, 'public'));
  const r = await publish();
  assert.equal(r.code, 6, r.stdout + r.stderr);
  const err = JSON.parse(r.stdout) as { code: string; message: string; witnesses: Array<{ name: string; status: string; code?: string; detail: string }> };
  assert.equal(err.code, 'ROUND_FAILED');
  const refusals = err.witnesses.filter((w) => w.status === 'refused');
  assert.ok(refusals.length >= 2, `at least two witnesses refuse: ${r.stdout}`);
  for (const w of refusals) {
    assert.equal(w.code, 'REBUILD_FAILED');
    for (const mention of [TARGET, v1.signer.keyid.slice(0, 12), v2.signer.keyid.slice(0, 12), 'first difference at byte 5000']) assert.ok(w.detail.includes(mention), `${w.detail} names ${mention}`);
  }
  assert.deepEqual(await treeSnapshot(join(repo, 'public')), before, 'no TUF metadata, target or log file was written');
  // The client refreshes and still gets the genuine, witnessed binary.
  const d = await tuf(['download', '--target-name', TARGET]);
  ok(d, 'tuf download');
  const downloaded = JSON.parse(d.stdout) as { downloaded: Array<{ path: string }> };
  assert.equal(sha256Hex(await readFile(downloaded.downloaded[0]!.path)), genuineSha);
});
