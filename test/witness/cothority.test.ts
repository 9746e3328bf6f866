// test/witness/cothority.test.ts: the witness cothority end to end (docs/design.md "What a witness
// checks before it co-signs a block"; docs/protocol.md section 8): 7 witnesses as separate
// `cairn witness serve` processes on 127.0.0.1, threshold 5, one publisher repository driven by
// the CLI (`cairn log init`, `cairn repo publish`) and, for attacks, by a leader or requests a
// test controls. One cluster is reused across the subtests, which run in order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalBytes, type JsonObject } from '../../src/encoding/index.js';
import { sha256Hex, generateEd25519 } from '../../src/crypto/index.js';
import { BoundedFetcher } from '../../src/io/index.js';
import {
  blockHash, buildBlock, buildForwardLink, buildHeadStatement, catchUp, createRosterAuthorization, fetcherLogSource, formatUtcTime,
  headMessage, LogError, parseBlockBytes, rosterHash, type Block, type Roster,
} from '../../src/log/index.js';
import { pendingReleaseDir, publish, readPendingRelease, savePendingRelease } from '../../src/repo/index.js';
import type { WitnessKey } from '../../src/cosi/index.js';
import { initWitness, loadWitnessKey } from '../../src/witness/index.js';
import { startMirror } from '../../src/mirror/index.js';
import {
  leaderOptions, LeaderError, LogLeader, logStateFile, publishedDocuments, publishRelease, SILENT, WitnessCallError, WitnessConnection,
  type LeaderOptions, type ReleaseDocumentSource,
} from '../../src/release/index.js';
import { runCli } from '../fixtures/cairn-process.js';
import { treeSnapshot } from '../repo/fixtures.js';
import {
  publishedRepo, publisherKeys, rootPin, stageTarget, startCluster, tempRoot, witnessProcess, type Cluster, type PublisherKeys, type WitnessProcess,
} from './cluster.js';
import { freePorts } from '../fixtures/free-ports.js';

/** w1's key: the publisher leads as w1 (witnesses work only for a roster member). */
let leaderKey: WitnessKey;

/** A connection that signs its requests as the leader (a test playing a misbehaving leader). */
async function signed(url: string): Promise<WitnessConnection> {
  const { key } = await new WitnessConnection(url).info();
  return new WitnessConnection(url, { signer: { leaderKey, witnessKey: key } });
}


describe('witness cothority: 7 witness processes, threshold 5', { timeout: 420_000 }, () => {
  let root: { dir: string; cleanup: () => Promise<void> };
  let cluster: Cluster;
  let keys: PublisherKeys;
  let repo: string;
  let genesisHash: string;
  let counter = 0;
  /** Witness processes started by the roster change (killed in after()). */
  const extra: WitnessProcess[] = [];

  const publishCli = (): ReturnType<typeof runCli> =>
    runCli(['--json', 'repo', 'publish', repo, '--key', keys.files.snapshot, '--key', keys.files.timestamp, '--witness-timeout', '3000', '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
  const leader = (extra: Parameters<typeof leaderOptions>[2] = {}): Promise<LogLeader> => LogLeader.open(leaderOptions(repo, SILENT, { callTimeoutMs: 3_000, leaderKey, ...extra }));
  const publicTree = (): Promise<Map<string, string>> => treeSnapshot(join(repo, 'public'));
  const genesisBlock = async (): Promise<Block> => parseBlockBytes(await readFile(join(repo, 'public', 'log', 'blocks', '0.json')));
  const headBlock = async (): Promise<Block> => (await leader()).head.block;

  before(async () => {
    root = await tempRoot('cairn-cothority-');
    keys = await publisherKeys(root.dir);
    repo = join(root.dir, 'repo');
    await publishedRepo(repo, keys);
    cluster = await startCluster(root.dir, 7, rootPin(keys));
    leaderKey = await loadWitnessKey(cluster.leaderKeyFile);
    const init = await runCli(['--json', 'log', 'init', repo, ...cluster.urls.flatMap((u) => ['--witness', u]), '--threshold', '5', '--key', keys.files.root, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
    assert.equal(init.code, 0, init.stdout + init.stderr);
    genesisHash = (JSON.parse(init.stdout) as { genesis: string }).genesis;
  });

  after(async () => {
    await Promise.all(extra.map((w) => w.stop('SIGKILL')));
    await cluster?.stopAll();
    await root?.cleanup();
  });

  it('co-signs a release, and the published log verifies from the genesis block as a client reads it', async () => {
    await stageTarget(repo, keys, `a${counter++}`, 'release a');
    const r = await publishCli();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { log: { index: number; rounds: Array<{ kind: string; cosigners: string[] }> } };
    assert.equal(out.log.index, 1);
    assert.equal(out.log.rounds[0]!.cosigners.length, 7);
    const mirror = await startMirror({ root: join(repo, 'public') });
    try {
      const genesis = await genesisBlock();
      assert.equal(blockHash(genesis), genesisHash);
      const result = await catchUp(fetcherLogSource(new BoundedFetcher(), mirror.url), { block: genesis, roster: genesis.rosterChange!.roster }, {
        freshness: { now: new Date(), maxAgeSeconds: 3600 },
      });
      assert.equal(result.head.index, 1);
      const snapshot = await readFile(join(repo, 'public', 'metadata', 'snapshot.json'));
      assert.equal(result.head.payload.snapshot.sha256, sha256Hex(snapshot), 'the logged block records the published snapshot');
    } finally {
      await mirror.close();
    }
    assert.ok(cluster.witnesses[0]!.lines.some((l) => /commit block .*accepted/.test(l)), 'the witness logs its decision');
  });

  it('still co-signs with 2 witnesses down, and reports them absent', async () => {
    await cluster.witnesses[5]!.stop('SIGTERM');
    await cluster.witnesses[6]!.stop('SIGTERM');
    await stageTarget(repo, keys, `a${counter++}`, 'release b');
    const r = await publishCli();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { log: { rounds: Array<{ cosigners: string[]; missing: Array<{ name: string; status: string }> }> } };
    const round = out.log.rounds[0]!;
    assert.equal(round.cosigners.length, 5);
    assert.deepEqual(round.missing.map((m) => [m.name, m.status]).sort(), [['w6', 'absent'], ['w7', 'absent']]);
  });

  it('refuses cleanly with 3 witnesses down: typed error, exit code, public/ byte-identical', async () => {
    await cluster.witnesses[4]!.stop('SIGTERM');
    await stageTarget(repo, keys, `a${counter++}`, 'release c');
    const before = await publicTree();
    const r = await publishCli();
    assert.equal(r.code, 6, r.stdout + r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string; witnesses: Array<{ name: string; status: string }> };
    assert.equal(err.code, 'ROUND_FAILED');
    assert.deepEqual(err.witnesses.map((w) => w.name).sort(), ['w5', 'w6', 'w7']);
    assert.deepEqual(await publicTree(), before, 'no TUF metadata and no log file was written');
    // Monitoring sees it in the exit status of `log status`.
    const status = await runCli(['--json', 'log', 'status', repo, '--timeout', '3000'], { timeoutMs: 60_000 });
    assert.equal(status.code, 1, status.stdout + status.stderr);
    const report = JSON.parse(status.stdout) as { quorum: { available: number; threshold: number; met: boolean }; witnesses: Array<{ name: string; reachable: boolean }> };
    assert.deepEqual(report.quorum, { available: 4, threshold: 5, met: false });
    assert.deepEqual(report.witnesses.filter((w) => !w.reachable).map((w) => w.name).sort(), ['w5', 'w6', 'w7']);
  });

  it('brings restarted witnesses up to date with catch-up blocks', async () => {
    await Promise.all([4, 5, 6].map((i) => cluster.witnesses[i]!.start()));
    const status = await runCli(['log', 'status', repo], { timeoutMs: 60_000 });
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /quorum: 7 of 7 witnesses can co-sign, threshold 5/);
    const r = await publishCli(); // the release staged before the refusal
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { log: { index: number; rounds: Array<{ cosigners: string[] }> } };
    assert.equal(out.log.index, 3);
    assert.equal(out.log.rounds[0]!.cosigners.length, 7, 'w5..w7 caught up and co-signed');
    assert.ok(cluster.witnesses[6]!.lines.some((l) => /after catching up 1/.test(l)));
  });

  it('refuses a release the developers signed with a key root does not know (SIGNATURE_THRESHOLD); nothing published', async () => {
    const published = await publishedDocuments(repo);
    const targets = JSON.parse(Buffer.from(await published.targets('targets')).toString('utf8')) as { signed: JsonObject & { version: number }; signatures: unknown[] };
    const rogue = generateEd25519().signer;
    targets.signed.version += 1;
    targets.signatures = [{ keyid: rogue.keyid, sig: rogue.sign(canonicalBytes(targets.signed)) }];
    const targetsBytes = Buffer.from(JSON.stringify(targets));
    const snapshot = JSON.parse(Buffer.from(published.snapshot).toString('utf8')) as { signed: JsonObject & { version: number; meta: Record<string, JsonObject> }; signatures: unknown[] };
    snapshot.signed.version += 1;
    snapshot.signed.meta['targets.json'] = { version: targets.signed.version, length: targetsBytes.length, hashes: { sha256: sha256Hex(targetsBytes) } };
    snapshot.signatures = [{ keyid: keys.signers.snapshot.keyid, sig: keys.signers.snapshot.sign(canonicalBytes(snapshot.signed)) }];
    const source: ReleaseDocumentSource = { ...published, snapshot: Buffer.from(JSON.stringify(snapshot)), targets: async (role) => (role === 'targets' ? targetsBytes : published.targets(role)) };
    const before = await publicTree();
    const err = await (await leader()).appendBlock(source).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LeaderError && err.code === 'ROUND_FAILED', String(err));
    assert.ok(err.witnesses.length >= 3 && err.witnesses.every((w) => w.status === 'refused' && w.code === 'SIGNATURE_THRESHOLD'), JSON.stringify(err.witnesses));
    assert.deepEqual(await publicTree(), before);
  });

  it('refuses a proposal that rolls the TUF state back (ROLLBACK)', async () => {
    const published = await publishedDocuments(repo);
    const meta = join(repo, 'public', 'metadata');
    const old: ReleaseDocumentSource = { ...published, snapshot: await readFile(join(meta, '1.snapshot.json')), targets: async (role) => readFile(join(meta, `1.${role}.json`)) };
    const before = await publicTree();
    const err = await (await leader()).appendBlock(old).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LeaderError && err.code === 'ROUND_FAILED', String(err));
    assert.ok(err.witnesses.some((w) => w.code === 'ROLLBACK'), JSON.stringify(err.witnesses));
    assert.deepEqual(await publicTree(), before);
  });

  it('refuses a snapshot the publisher built to list roles by version alone (UNPINNED_ROLE): every witness refuses, nothing is appended to the log', async () => {
    const published = await publishedDocuments(repo);
    const snapshot = JSON.parse(Buffer.from(published.snapshot).toString('utf8')) as { signed: JsonObject & { version: number; meta: Record<string, { version: number }> }; signatures: unknown[] };
    // Not through an old default: this publisher strips the length and hashes and signs it itself.
    snapshot.signed.version += 1;
    snapshot.signed.meta = Object.fromEntries(Object.entries(snapshot.signed.meta).map(([name, meta]) => [name, { version: meta.version }]));
    snapshot.signatures = [{ keyid: keys.signers.snapshot.keyid, sig: keys.signers.snapshot.sign(canonicalBytes(snapshot.signed)) }];
    const source: ReleaseDocumentSource = { ...published, snapshot: Buffer.from(JSON.stringify(snapshot)) };
    const head = await headBlock();
    const before = await publicTree();
    const err = await (await leader()).appendBlock(source).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LeaderError && err.code === 'ROUND_FAILED', String(err));
    assert.equal(err.witnesses.length, 7, JSON.stringify(err.witnesses));
    assert.ok(err.witnesses.every((w) => w.status === 'refused' && w.code === 'UNPINNED_ROLE'), JSON.stringify(err.witnesses));
    assert.deepEqual(await publicTree(), before, 'no log file and no TUF file was written');
    for (const url of cluster.urls) assert.equal((await new WitnessConnection(url).info()).head?.hash, blockHash(head), `${url} recorded nothing`);
  });

  it('refuses to publish from a repository with meta hashes off (made before they were the default) before any round, and names the command that fixes it', async () => {
    const config = join(repo, 'cairn-repo.json');
    const original = JSON.parse(await readFile(config, 'utf8')) as JsonObject;
    await writeFile(config, JSON.stringify({ ...original, metaHashes: false }));
    await stageTarget(repo, keys, `a${counter++}`, 'release m');
    const head = await headBlock();
    const before = await publicTree();
    const decisions = cluster.witnesses.map((w) => w.lines.length);
    const r = await publishCli();
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
    assert.equal(err.code, 'META_HASHES_OFF');
    assert.match(err.message, /by version alone/);
    assert.equal(err.hint, `turn them on, then publish: cairn repo enable-meta-hashes ${repo} && cairn repo publish ${repo} --key FILE...`);
    assert.deepEqual(await publicTree(), before, 'nothing was written');
    assert.deepEqual(cluster.witnesses.map((w) => w.lines.length), decisions, 'no witness was asked anything');

    const fix = await runCli(['--json', 'repo', 'enable-meta-hashes', repo]);
    assert.equal(fix.code, 0, fix.stdout + fix.stderr);
    assert.equal((JSON.parse(fix.stdout) as { changed: boolean }).changed, true);
    const p = await publishCli();
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.equal((JSON.parse(p.stdout) as { log: { index: number } }).log.index, head.index + 1);
  });

  it('refuses a roster change the root keys did not authorize, at the leader and at every witness', async () => {
    const l = await leader();
    const current = await l.headRoster();
    const smaller: Roster = { threshold: 4, witnesses: current.witnesses.slice(0, 6) };
    const notRoot = generateEd25519().signer;
    const before = await publicTree();
    const head0 = await headBlock();
    const forged = createRosterAuthorization([notRoot], { chain: genesisHash, index: head0.index + 1, roster: rosterHash(smaller) });
    await assert.rejects(l.changeRoster({ roster: smaller, authorization: forged, source: await publishedDocuments(repo) }),
      (e: unknown) => e instanceof LogError && e.code === 'ROSTER_NOT_AUTHORIZED');
    assert.deepEqual(await publicTree(), before);
    // A leader that sends it anyway: each witness checks the authorization itself.
    const head = await headBlock();
    const block = await craftedBlock(l, head, { roster: smaller, authorization: createRosterAuthorization([notRoot], { chain: genesisHash, index: head.index + 1, roster: rosterHash(smaller) }) });
    const refusal = await commitBlock(cluster.urls[0]!, head, block, await publishedDocuments(repo)).catch((e: unknown) => e);
    assert.ok(refusal instanceof WitnessCallError && refusal.refusal?.code === 'ROSTER_NOT_AUTHORIZED', String(refusal));
  });

  it('refuses a roster change that enrols a rogue key without a valid proof of possession', async () => {
    const l = await leader();
    const current = await l.headRoster();
    const rogue = generateEd25519().signer;
    const rogueKey = rogue.publicKey.keyval.public;
    const roster: Roster = { threshold: 5, witnesses: [...current.witnesses, { name: 'rogue', key: rogueKey, pop: '00'.repeat(64), address: 'http://127.0.0.1:9' }] };
    const head = await headBlock();
    const block = await craftedBlock(l, head, { roster, authorization: createRosterAuthorization([keys.signers.root], { chain: genesisHash, index: head.index + 1, roster: rosterHash(roster) }) });
    const refusal = await commitBlock(cluster.urls[1]!, head, block, await publishedDocuments(repo)).catch((e: unknown) => e);
    assert.ok(refusal instanceof WitnessCallError && refusal.refusal?.code === 'UNKNOWN_ROSTER' && /proof of possession/i.test(refusal.refusal.message), String(refusal));
  });

  it('refuses to answer for a statement other than the one it committed to (STATEMENT_CHANGED), then for the consumed nonce', async () => {
    const head = await headBlock();
    const client = await signed(cluster.urls[2]!);
    const statement = buildHeadStatement(head, formatUtcTime(Date.now() / 1000));
    const c = await client.commit({ session: 'evil-1', kind: 'head', statement });
    const l = await leader();
    const rosterHex = rosterHash(await l.headRoster());
    const altered = headMessage({ ...statement, time: formatUtcTime(Date.now() / 1000 - 86_400) });
    const challenge = { session: 'evil-1', nonceId: c.nonceId, rosterHash: rosterHex, R1: c.R1, R2: c.R2, bitmap: 'ff', message: Buffer.from(altered).toString('hex') };
    const e1 = await client.respond(challenge).catch((e: unknown) => e);
    assert.ok(e1 instanceof WitnessCallError && e1.status === 409 && e1.refusal?.code === 'STATEMENT_CHANGED', String(e1));
    const e2 = await client.respond({ ...challenge, message: Buffer.from(headMessage(statement)).toString('hex') }).catch((e: unknown) => e);
    assert.ok(e2 instanceof WitnessCallError && e2.refusal?.code === 'NONCE_REUSED', String(e2));
  });

  it('a witness killed with SIGKILL after recording its response never signs another block there nor reuses the nonce', async () => {
    const victim = cluster.witnesses[6]!;
    let replay: Parameters<WitnessConnection['respond']>[0] | undefined;
    const l = await leader({
      wrapEndpoint: (endpoint, witness, kind) => (witness.name !== victim.name || kind !== 'block' ? endpoint : {
        index: endpoint.index,
        commit: (session) => endpoint.commit(session),
        respond: async (ch) => {
          await endpoint.respond(ch); // the witness recorded the block and the nonce's use
          const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
          replay = { session: ch.session, nonceId: ch.nonceId, rosterHash: ch.rosterHash, R1: hex(ch.R1), R2: hex(ch.R2), bitmap: hex(ch.bitmap), message: hex(ch.message) };
          await victim.stop('SIGKILL'); // the crash: its answer never reaches the leader
          throw new Error('connection reset');
        },
      }),
    });
    await stageTarget(repo, keys, `a${counter++}`, 'release d');
    let report: Awaited<ReturnType<LogLeader['appendBlock']>> | undefined;
    await publish(repo, { signers: [keys.signers.snapshot, keys.signers.timestamp], beforeWrite: async (release) => void (report = await l.appendBlock(await publishedDocuments(repo, release))) });
    assert.ok(report && replay);
    assert.equal(report.rounds[0]!.cosigners.length, 6, 'the round was retried without the crashed witness');
    assert.ok(report.rounds[0]!.missing.some((m) => m.name === victim.name && m.status === 'excluded'));
    await victim.start();
    const client = await signed(victim.url);
    const info = await client.info();
    assert.equal(info.head?.index, report.index, 'the block was recorded before the crash');
    const e1 = await client.respond(replay).catch((e: unknown) => e);
    assert.ok(e1 instanceof WitnessCallError && e1.refusal?.code === 'NONCE_REUSED', String(e1));
    const logged = await headBlock();
    const previous = parseBlockBytes(await readFile(join(repo, 'public', 'log', 'blocks', `${logged.index - 1}.json`)));
    const conflicting: Block = { ...logged, payload: { ...logged.payload, time: formatUtcTime(Date.parse(logged.payload.time) / 1000 + 1) } };
    const e2 = await commitBlock(victim.url, previous, conflicting, await publishedDocuments(repo)).catch((e: unknown) => e);
    assert.ok(e2 instanceof WitnessCallError && e2.refusal?.code === 'EQUIVOCATION', String(e2));
    assert.ok(victim.lines.some((l) => /refused EQUIVOCATION/.test(l)));
  });

  it('cairn log head and cairn log status report the log', async () => {
    const h = await runCli(['--json', 'log', 'head', repo, '--leader-key', cluster.leaderKeyFile], { timeoutMs: 30_000 });
    assert.equal(h.code, 0, h.stdout + h.stderr);
    const s = await runCli(['--json', 'log', 'status', repo], { timeoutMs: 30_000 });
    assert.equal(s.code, 0, s.stderr);
    const status = JSON.parse(s.stdout) as { chain: string; head: { index: number }; witnesses: Array<{ reachable: boolean; behind: number | null }> };
    assert.equal(status.chain, genesisHash);
    assert.equal(status.witnesses.length, 7);
    assert.ok(status.witnesses.every((w) => w.reachable));
    assert.ok((await readFile(logStateFile(repo), 'utf8')).includes(genesisHash));
  });

  // ---- failure handling and recovery (docs/witness.md "Failure handling and recovery") ------

  it('a round that fails after witnesses answered keeps its proposal; the next run proposes exactly that block again, never a conflicting one', async () => {
    const killed = cluster.witnesses.slice(4); // w5..w7 crash between commit and respond
    const wrapEndpoint: NonNullable<LeaderOptions['wrapEndpoint']> = (endpoint, witness, kind) => {
      const victim = killed.find((w) => w.name === witness.name);
      return !victim || kind !== 'block' ? endpoint : {
        index: endpoint.index,
        commit: (session) => endpoint.commit(session),
        respond: async () => {
          await victim.stop('SIGKILL');
          throw new Error('connection reset');
        },
      };
    };
    const l = { callTimeoutMs: 3_000, wrapEndpoint, leaderKey };
    await stageTarget(repo, keys, `a${counter++}`, 'release e');
    const headBefore = await headBlock();
    const before = await publicTree();
    const err = await publishRelease(repo, { signers: [keys.signers.snapshot, keys.signers.timestamp], leader: l }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LeaderError && err.code === 'ROUND_FAILED', String(err));
    assert.match(err.message, /proposal is kept/);
    assert.deepEqual(await publicTree(), before, 'nothing of the release and no log file was written');
    const saved = JSON.parse(await readFile(join(pendingReleaseDir(repo), 'proposal.json'), 'utf8')) as { hash: string; block: { index: number } };
    assert.equal(saved.block.index, headBefore.index + 1);
    assert.ok(await readPendingRelease(repo), 'the release is saved beside its block');
    const answered = await new WitnessConnection(cluster.urls[0]!).info();
    assert.equal(answered.head?.hash, saved.hash, 'w1 answered, so it recorded the block');

    await Promise.all(killed.map((w) => w.start()));
    const equivocations = (): number => cluster.witnesses.reduce((n, w) => n + w.lines.filter((line) => /refused EQUIVOCATION/.test(line)).length, 0);
    const seen = equivocations();
    const r = await runCli(['--json', 'log', 'retry', repo, '--key', keys.files.timestamp, '--timeout', '3000', '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { settled: { how: string; hash: string; index: number; report: { rounds: Array<{ cosigners: string[] }> } } };
    assert.equal(out.settled.how, 'reproposed');
    assert.equal(out.settled.hash, saved.hash, 'exactly the saved block');
    assert.equal(out.settled.report.rounds[0]!.cosigners.length, 7);
    const head = await headBlock();
    assert.equal(blockHash(head), saved.hash);
    assert.equal(sha256Hex(await readFile(join(repo, 'public', 'metadata', 'snapshot.json'))), head.payload.snapshot.sha256, 'its saved release is published');
    assert.equal(await readPendingRelease(repo), undefined, 'the saved release is cleared');
    assert.equal(equivocations(), seen, 'no witness was asked to co-sign a conflicting block');

    await stageTarget(repo, keys, `a${counter++}`, 'release f');
    const next = await publishCli();
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.equal((JSON.parse(next.stdout) as { log: { index: number } }).log.index, head.index + 1, 'the log goes on past it');
  });

  it('a crash after the log files and before the TUF files: the next publish finishes the saved release and proposes nothing else', async () => {
    await stageTarget(repo, keys, `a${counter++}`, 'release g');
    const l = await leader();
    const err = await publish(repo, {
      signers: [keys.signers.snapshot, keys.signers.timestamp],
      beforeWrite: async (release) => {
        await savePendingRelease(repo, release);
        await l.appendBlock(await publishedDocuments(repo, release));
        throw new Error('crash before the TUF files'); // the process dies here
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error && /crash/.test(err.message));
    const logged = await headBlock();
    assert.notEqual(sha256Hex(await readFile(join(repo, 'public', 'metadata', 'snapshot.json'))), logged.payload.snapshot.sha256, 'public/ still shows the previous state');
    const r = await publishCli();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { settled: { how: string; index: number }; log?: unknown };
    assert.equal(out.settled.how, 'logged');
    assert.equal(out.settled.index, logged.index);
    assert.equal(out.log, undefined, 'no new block: the staged state is the finished release');
    assert.equal(blockHash(await headBlock()), blockHash(logged));
    assert.equal(sha256Hex(await readFile(join(repo, 'public', 'metadata', 'snapshot.json'))), logged.payload.snapshot.sha256);
  });

  // ---- the real client against the served repository -------------------------------------

  let clientDir: string;
  const tufCli = (mirrorUrl: string, dir: string, ...args: string[]): ReturnType<typeof runCli> =>
    runCli(['--json', 'tuf', '--metadata-dir', dir, '--metadata-url', `${mirrorUrl}/metadata/`, ...args], { timeoutMs: 60_000 });

  it('cairn tuf --log-anchor GENESIS accepts the co-signed release served by a mirror and downloads it', async () => {
    clientDir = join(root.dir, 'client-1');
    const mirror = await startMirror({ root: join(repo, 'public') });
    try {
      const init = await tufCli(mirror.url, clientDir, 'init', join(repo, 'public', 'metadata', '1.root.json'), '--log-anchor', genesisHash);
      assert.equal(init.code, 0, init.stdout + init.stderr);
      const refresh = await tufCli(mirror.url, clientDir, 'refresh');
      assert.equal(refresh.code, 0, refresh.stdout + refresh.stderr);
      const head = await headBlock();
      assert.equal((JSON.parse(refresh.stdout) as { log: { head: { index: number } } }).log.head.index, head.index);
      const targetDir = join(root.dir, 'downloads-1');
      const d = await tufCli(mirror.url, clientDir, '--target-name', 'app/a0', '--target-base-url', `${mirror.url}/targets/`, '--target-dir', targetDir, 'download');
      assert.equal(d.code, 0, d.stdout + d.stderr);
      const path = (JSON.parse(d.stdout) as { downloaded: Array<{ path: string }> }).downloaded[0]!.path;
      assert.equal(await readFile(path, 'utf8'), 'release a');
    } finally {
      await mirror.close();
    }
  });

  it('refuses a release a thief with the developer and online keys published without the witnesses (NOT_WITNESSED, exit 1, metadata unchanged)', async () => {
    const thief = join(root.dir, 'thief');
    await cp(repo, thief, { recursive: true });
    await stageTarget(thief, keys, 'evil', 'malware');
    await publish(thief, { signers: [keys.signers.snapshot, keys.signers.timestamp] }); // no witnesses asked
    const mirror = await startMirror({ root: join(thief, 'public') });
    try {
      const before = await treeSnapshot(clientDir);
      const r = await tufCli(mirror.url, clientDir, 'refresh');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'NOT_WITNESSED', r.stdout);
      const d = await tufCli(mirror.url, clientDir, '--target-name', 'app/evil', '--target-base-url', `${mirror.url}/targets/`, '--target-dir', join(root.dir, 'downloads-evil'), 'download');
      assert.equal(d.code, 1, d.stdout + d.stderr);
      assert.deepEqual(await treeSnapshot(clientDir), before, 'the client metadata directory is unchanged');
    } finally {
      await mirror.close();
    }
  });

  // ---- a roster change that succeeds end to end --------------------------------------------

  it('replaces 2 of 7 witnesses: approved by the old roster, the new ones join, the new roster co-signs the next release, clients follow from genesis', async () => {
    const ports = await freePorts(2);
    for (const [i, name] of ['w8', 'w9'].entries()) {
      const dir = join(root.dir, name);
      await initWitness(dir, { name, address: `http://127.0.0.1:${ports[i]}`, chain: { genesis: genesisHash } }); // joiners name the running log by its genesis hash
      extra.push(witnessProcess(name, dir, ports[i]!));
    }
    await Promise.all(extra.map((w) => w.start()));
    const urls = [...cluster.urls.slice(0, 5), ...extra.map((w) => w.url)];
    const before = await headBlock();
    const r = await runCli(['--json', 'log', 'roster', repo, ...urls.flatMap((u) => ['--witness', u]), '--threshold', '5', '--key', keys.files.root, '--timeout', '3000', '--leader-key', cluster.leaderKeyFile], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const change = JSON.parse(r.stdout) as { index: number; rounds: Array<{ kind: string; cosigners: string[] }> };
    assert.equal(change.index, before.index + 1);
    assert.equal(change.rounds[0]!.cosigners.length, 7, 'the old roster approved the change');
    assert.deepEqual(change.rounds[change.rounds.length - 1]!.cosigners.sort(), ['w1', 'w2', 'w3', 'w4', 'w5', 'w8', 'w9'], 'the new roster signs the head');
    for (const w of extra) assert.equal((await new WitnessConnection(w.url).info()).head?.index, change.index, `${w.name} joined the chain`);

    await stageTarget(repo, keys, `a${counter++}`, 'release h');
    const p = await publishCli();
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const release = JSON.parse(p.stdout) as { log: { index: number; rounds: Array<{ cosigners: string[] }> } };
    assert.deepEqual(release.log.rounds[0]!.cosigners.sort(), ['w1', 'w2', 'w3', 'w4', 'w5', 'w8', 'w9']);

    const mirror = await startMirror({ root: join(repo, 'public') });
    try {
      for (const dir of [clientDir, join(root.dir, 'client-2')]) {
        if (dir !== clientDir) {
          const init = await tufCli(mirror.url, dir, 'init', join(repo, 'public', 'metadata', '1.root.json'), '--log-anchor', genesisHash);
          assert.equal(init.code, 0, init.stdout + init.stderr);
        }
        const d = await tufCli(mirror.url, dir, '--target-name', `app/a${counter - 1}`, '--target-base-url', `${mirror.url}/targets/`, '--target-dir', join(dir, '..', `${dir}-downloads`), 'download');
        assert.equal(d.code, 0, d.stdout + d.stderr);
        const out = JSON.parse(d.stdout) as { refresh: { log: { head: { index: number }; rosters: number } }; downloaded: Array<{ path: string }> };
        assert.equal(out.refresh.log.head.index, release.log.index);
        assert.ok(out.refresh.log.rosters >= 1, 'the client crossed the roster change through a verified forward link');
        assert.equal(await readFile(out.downloaded[0]!.path, 'utf8'), 'release h');
      }
    } finally {
      await mirror.close();
    }
  });
});

/** A block after `head` recording the same state as `head` (a proposal a test controls). */
async function craftedBlock(l: LogLeader, head: Block, rosterChange: Block['rosterChange']): Promise<Block> {
  const hashes = new Map<number, string>();
  for (let i = 0; i <= head.index; i++) hashes.set(i, blockHash(parseBlockBytes(await readFile(join(l.publicDir, 'log', 'blocks', `${i}.json`)))));
  const view = { chain: l.chain, base: head.base, maxHeight: head.maxHeight, head, hashAt: (i: number) => hashes.get(i) };
  return buildBlock(view, { ...head.payload, time: formatUtcTime(Date.now() / 1000) }, rosterChange);
}

/** POST /v1/commit of `block` as the level-0 successor of `previous`, with the full current documents. */
async function commitBlock(url: string, previous: Block, block: Block, source: ReleaseDocumentSource): Promise<unknown> {
  return (await signed(url)).commit({
    session: 'evil-block',
    kind: 'block',
    statement: buildForwardLink(previous, block),
    block,
    documents: { roots: [], snapshot: Buffer.from(source.snapshot).toString('base64'), targets: {} },
  });
}
