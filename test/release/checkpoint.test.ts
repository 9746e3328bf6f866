// test/release/checkpoint.test.ts: a cairn log's head as a C2SP checkpoint (docs/transparency.md
// "Checkpoints of a cairn log"), with three real witness processes: `cairn log checkpoint` writes
// public/log/checkpoint and the tiles of its tree, whose root is the RFC 6962 root over the
// published blocks' hashes, signed by the leader and cosigned by the roster's witnesses; a witness
// refuses to cosign another root (a fork), another size or another chain's origin; and a
// checkpoint below the roster's threshold of valid cosignatures, or of another chain, is refused
// by the verifier. `cairn monitor` and
// `cairn log verify-checkpoint` then check this real log, served by a mirror, and raise nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadWitnessKey } from '../../src/witness/index.js';
import { WitnessCallError, WitnessConnection } from '../../src/release/index.js';
import {
  blockHash, blockTreeRoot, checkpointText, encodeLogFile, formatNote, LogError, logOrigin, parseBlockBytes, parseNote, treeHashFromTiles, verifyLogCheckpoint, type Roster,
} from '../../src/log/index.js';
import { publisherKeys, rootPin, startCluster, tempRoot, type Cluster, type PublisherKeys } from '../witness/cluster.js';
import { runCli, type CliResult } from '../fixtures/cairn-process.js';
import { startMirror } from '../../src/mirror/index.js';

const T = { timeout: 240_000 };
let root: { dir: string; cleanup: () => Promise<void> };
let cluster: Cluster | undefined;
let keys: PublisherKeys;
let repo: string;
let genesis: string;

const ok = (r: CliResult, what: string): void => assert.equal(r.code, 0, `${what}: ${r.stdout}\n${r.stderr}`);

before(async () => {
  root = await tempRoot('cairn-checkpoint-');
  keys = await publisherKeys(root.dir);
  repo = join(root.dir, 'repo');
  ok(await runCli(['repo', 'init', repo, '--root-key', keys.files.root, '--targets-key', keys.files.targets, '--snapshot-key', keys.files.snapshot, '--timestamp-key', keys.files.timestamp, '--key', keys.files.root, '--key', keys.files.targets]), 'repo init');
  ok(await runCli(['repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp]), 'first publish');
  cluster = await startCluster(root.dir, 3, rootPin(keys));
  const init = await runCli(['--json', 'log', 'init', repo, ...cluster.urls.flatMap((u) => ['--witness', u]), '--threshold', '2', '--key', keys.files.root, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
  ok(init, 'log init');
  genesis = (JSON.parse(init.stdout) as { genesis: string }).genesis;
  // A second block: a release.
  const file = join(root.dir, 'hello.txt');
  await writeFile(file, 'hello\n');
  ok(await runCli(['repo', 'add', repo, file, '--path', 'hello.txt', '--key', keys.files.targets]), 'repo add');
  ok(await runCli(['repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 }), 'witnessed publish');
});

after(async () => {
  await cluster?.stopAll();
  await root?.cleanup();
});

async function published(): Promise<{ hashes: string[]; roster: Roster }> {
  const blocks = await Promise.all([0, 1].map(async (i) => parseBlockBytes(await readFile(join(repo, 'public', 'log', 'blocks', `${i}.json`)))));
  return { hashes: blocks.map(blockHash), roster: blocks[0]!.rosterChange!.roster };
}

test('cairn log checkpoint: the RFC 6962 root over the published blocks, cosigned by the roster, verified', T, async () => {
  const r = await runCli(['--json', 'log', 'checkpoint', repo, '--leader-key', cluster!.leaderKeyFile], { timeoutMs: 60_000 });
  ok(r, 'log checkpoint');
  const { hashes, roster } = await published();
  const out = JSON.parse(r.stdout) as { size: number; rootHash: string; cosigners: string[] };
  assert.deepEqual(out, { size: 2, rootHash: blockTreeRoot(hashes).toString('base64'), cosigners: ['w1', 'w2', 'w3'], missing: [] });
  const bytes = await readFile(join(repo, 'public', 'log', 'checkpoint'));
  const verified = verifyLogCheckpoint(bytes, genesis, roster);
  assert.deepEqual(verified.cosigners.map((c) => c.name), ['w1', 'w2', 'w3']);
  assert.equal(verified.origin, logOrigin(genesis));
  assert.ok(verified.rootHash.equals(blockTreeRoot(hashes)));
  // The tiles of its tree are published beside it, and prove its root.
  const tiles = (path: string): Promise<Buffer> => readFile(join(repo, 'public', 'log', path));
  assert.ok((await treeHashFromTiles(tiles, 2)).equals(verified.rootHash));
  assert.deepEqual(await tiles('tile/entries/000.p/2'), Buffer.concat(hashes.flatMap((h) => [Buffer.from([0, 32]), Buffer.from(h, 'hex')])));

  // Below the threshold, or of another chain: refused.
  const note = parseNote(bytes);
  const one = formatNote({ text: note.text, signatures: [note.signatures[0]!, note.signatures[1]!] });
  assert.throws(() => verifyLogCheckpoint(one, genesis, roster), (e: unknown) => e instanceof LogError && e.code === 'BAD_NOTE' && /1 valid cosignatures .* threshold is 2/.test(e.message));
  assert.throws(() => verifyLogCheckpoint(bytes, 'f'.repeat(64), roster), (e: unknown) => e instanceof LogError && e.code === 'BAD_NOTE' && /not of cairn-log\/f{64}/.test(e.message));
  // A roster's witness whose cosignature does not verify refuses the note; a roster that names a key twice is no roster.
  const broken = { ...note.signatures[2]!, signature: Buffer.from(note.signatures[2]!.signature) };
  broken.signature[20] = broken.signature[20]! ^ 1;
  assert.throws(() => verifyLogCheckpoint(formatNote({ text: note.text, signatures: [note.signatures[0]!, note.signatures[1]!, broken, note.signatures[3]!] }), genesis, roster), (e: unknown) => e instanceof LogError && e.code === 'BAD_NOTE' && /by w2 does not verify/.test(e.message));
  assert.throws(() => verifyLogCheckpoint(bytes, genesis, { ...roster, witnesses: [roster.witnesses[0]!, { ...roster.witnesses[0]!, name: 'w1-again' }] }));
});

test('a witness cosigns only its own head: another root (a fork), another size or another chain is refused', T, async () => {
  const { hashes, roster } = await published();
  const leaderKey = await loadWitnessKey(cluster!.leaderKeyFile);
  const w2 = roster.witnesses[1]!;
  const connection = new WitnessConnection(w2.address, { signer: { leaderKey, witnessKey: w2.key } });
  const refused = async (text: string, code: string): Promise<void> => {
    await assert.rejects(connection.checkpoint({ checkpoint: text }), (e: unknown) => e instanceof WitnessCallError && e.code === 'REFUSED' && e.refusal?.code === code, code);
  };
  const fork = blockTreeRoot([hashes[0]!, 'ab'.repeat(32)]);
  await refused(checkpointText({ origin: logOrigin(genesis), size: 2, rootHash: fork, extensions: [] }), 'NOT_OWN_HEAD');
  await refused(checkpointText({ origin: logOrigin(genesis), size: 1, rootHash: blockTreeRoot([hashes[0]!]), extensions: [] }), 'NOT_OWN_HEAD');
  await refused(checkpointText({ origin: logOrigin('e'.repeat(64)), size: 2, rootHash: blockTreeRoot(hashes), extensions: [] }), 'CHAIN_MISMATCH');
});

test('cairn monitor and cairn log verify-checkpoint on this real log, served by a mirror: every block, release and checkpoint verified, no alarm', T, async () => {
  const mirror = await startMirror({ root: join(repo, 'public') });
  try {
    const log = `${mirror.url}/log/`;
    const run = await runCli(['--json', 'monitor', '--once', '--chain', genesis, '--source', log, '--state', join(root.dir, 'monitor')], { timeoutMs: 60_000 });
    ok(run, 'monitor');
    const report = JSON.parse(run.stdout) as { verified: { index: number }; sources: Array<{ problem: unknown; head: { index: number } }>; alarms: unknown[] };
    assert.deepEqual([report.verified.index, report.sources[0]!.problem, report.sources[0]!.head.index, report.alarms], [1, null, 1, []]);
    const { roster } = await published();
    const rosterFile = join(root.dir, 'roster.json');
    await writeFile(rosterFile, encodeLogFile(roster));
    ok(await runCli(['log', 'verify-checkpoint', `${log}checkpoint`, '--chain', genesis, '--roster', rosterFile]), 'verify-checkpoint');
  } finally {
    await mirror.close();
  }
});
