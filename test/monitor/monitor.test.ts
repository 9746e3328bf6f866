// test/monitor/monitor.test.ts: the log monitor (src/monitor/monitor.ts; docs/transparency.md
// "Monitors") against mirrors on 127.0.0.1 (`cairn serve`'s server) serving logs built with real
// CoSi and real TUF roots. An honest log raises nothing and the monitor resumes from its state;
// each attack is staged as a mirror or a colluding roster would stage it, and raises exactly its
// alarm, with nothing of the attacker's stored: two forks signed by one roster (equivocation,
// with a proof that `cairn log verify-proof` accepts), a replayed head (rollback), a roster change
// not authorized by root, a root rotation not signed by the old root, a forged block file, a
// checkpoint whose root is not the log's tree, a stale head, a witness reporting another block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import {
  blockHash, blockTreeRoot, buildBlock, buildForwardLink, buildHeadStatement, checkpointText, cosignCheckpoint, createRosterAuthorization, encodeLogFile,
  formatNote, formatUtcTime, forwardLinkMessage, headMessage, logOrigin, LOG_PATHS, rosterHash, type Block, type BlockPayload, type RosterChange,
} from '../../src/log/index.js';
import { ed25519Signer } from '../../src/crypto/index.js';
import { FILE_CACHE_LIMITS, startMirror, type RunningMirror } from '../../src/mirror/index.js';
import { LogMonitor, type Alarm, type MonitorOptions } from '../../src/monitor/index.js';
import { buildTestLog, cosign, forkTestLog, payloadFor, rootDocument, rootRole, rosterOf, witnessKey, type TestLog } from '../fixtures/log-chain.js';
import { withTempDir } from '../fixtures/temp-dir.js';
import { CAIRN_BIN, runCli } from '../fixtures/cairn-process.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const T = { timeout: 120_000 };
const nowText = (): string => formatUtcTime(Math.floor(Date.now() / 1000));
const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`monitor/${i}`));
const DAY = 86_400;

/** Extra blocks (beyond the TestLog's), their links and roots, as an attacker adds them. */
interface Extra {
  blocks: Block[];
  links: Map<string, Uint8Array>;
  roots: Map<number, Buffer>;
}

/** Writes the files of `log` up to `headIndex` (and `extra`) into `dir`, with a head statement at `time`. */
async function publish(dir: string, log: TestLog, headIndex: number, time = nowText(), extra?: Extra): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const files = new Map<string, Uint8Array>();
  const all = [...Array.from({ length: log.chain.length }, (_, i) => log.chain.blockAt(i)!), ...(extra?.blocks ?? [])];
  for (const b of all.slice(0, headIndex + 1)) files.set(LOG_PATHS.block(b.index), encodeLogFile(b));
  for (const [key, file] of log.links) {
    const [from, level] = key.split('.').map(Number) as [number, number];
    if (file.link.toIndex <= headIndex) files.set(LOG_PATHS.link(from, level), encodeLogFile(file));
  }
  for (const [path, bytes] of extra?.links ?? []) files.set(path, bytes);
  for (const [hash, { roster }] of log.rosters) files.set(LOG_PATHS.roster(hash), encodeLogFile(roster));
  const head = all[headIndex]!;
  const statement = buildHeadStatement(head, time);
  const signers = log.rosters.get(head.roster) ?? { roster: head.rosterChange!.roster, keys: attackerRoster };
  files.set(LOG_PATHS.head, encodeLogFile({ statement, cosignature: await cosign(signers.roster, signers.keys, headMessage(statement)) }));
  files.set('metadata/1.root.json', log.rootFile!.bytes);
  for (const [version, bytes] of extra?.roots ?? []) files.set(`metadata/${version}.root.json`, bytes);
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}

/** Waits until a mirror serves files changed after it last served them (its small-file cache revalidates). */
const mirrorSeesChanges = (): Promise<void> => new Promise((r) => setTimeout(r, FILE_CACHE_LIMITS.revalidateAfterMs + 100));

const attackerRoster = Array.from({ length: 3 }, (_, i) => witnessKey(`monitor/attacker/${i}`));

/**
 * Block `log.chain.length` with `payload` and `change`, not validated (what a colluding roster
 * signs), its forward links co-signed by the roster in force at each source block.
 */
async function rogueBlock(log: TestLog, payload: BlockPayload, change: RosterChange | null): Promise<Extra> {
  const block = buildBlock(log.chain, payload, change);
  const links = new Map<string, Uint8Array>();
  for (let level = 0; level < block.height; level++) {
    const from = block.index - 2 ** level;
    const link = buildForwardLink(log.chain.blockAt(from)!, block);
    const signer = log.rosterAt(from);
    links.set(LOG_PATHS.link(from, level), encodeLogFile({ link, cosignature: await cosign(signer.roster, signer.keys, forwardLinkMessage(link)) }));
  }
  return { blocks: [block], links, roots: new Map() };
}

interface Lab {
  dir: string;
  serve(name: string): Promise<string>;
  monitor(sources: string[], options: Partial<MonitorOptions> & { chain: string }): LogMonitor;
}

async function withLab(fn: (lab: Lab) => Promise<void>): Promise<void> {
  await withTempDir('monitor', async (dir) => {
    const mirrors: RunningMirror[] = [];
    const monitors: LogMonitor[] = [];
    try {
      await fn({
        dir,
        serve: async (name) => {
          await mkdir(join(dir, name), { recursive: true });
          const mirror = await startMirror({ root: join(dir, name) });
          mirrors.push(mirror);
          return `${mirror.url}/log/`;
        },
        monitor: (sources, options) => {
          const m = new LogMonitor({ sources, stateDir: join(dir, 'state'), maxHeadAgeSeconds: DAY, checkReleases: false, ...options });
          monitors.push(m);
          return m;
        },
      });
    } finally {
      for (const m of monitors) m.close();
      await Promise.all(mirrors.map((m) => m.close()));
    }
  });
}

const kinds = (alarms: readonly Alarm[]): string[] => alarms.map((a) => `${a.kind}@${a.index}`);

test('monitor: an honest log raises nothing; a second monitor resumes from the state and verifies only what is new', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 12, genesis: { keys, threshold: 3 }, rootDocument: true, changes: { 6: { keys: keys.slice(1), threshold: 2 } } });
    const a = await lab.serve('a');
    const b = await lab.serve('b');
    await publish(join(lab.dir, 'a'), log, 5);
    await publish(join(lab.dir, 'b'), log, 8);
    const first = lab.monitor([a, b], { chain: log.chain.chain });
    const report = await first.poll();
    assert.deepEqual(kinds(report.alarms), []);
    assert.equal(report.verified.index, 8);
    assert.equal(report.verified.hash, blockHash(log.chain.blockAt(8)!));
    assert.deepEqual(report.sources.map((s) => [s.head?.index, s.problem]), [[5, null], [8, null]]);
    first.close();

    await publish(join(lab.dir, 'a'), log, 11);
    await mirrorSeesChanges();
    const again = lab.monitor([a, b], { chain: log.chain.chain });
    const next = await again.poll();
    assert.deepEqual(kinds(next.alarms), []);
    assert.equal(next.verified.index, 11);
    assert.equal(again.alarmCount, 0);

    // Another chain's state directory is refused.
    assert.throws(() => lab.monitor([a], { chain: 'ab'.repeat(32) }), /holds the state of chain/);
  });
});

test('monitor: two forks signed by one roster are an equivocation with a proof verify-proof accepts; raised once (CLI)', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    const fork = await forkTestLog(log, 4, 8, 'fork');
    const honest = await lab.serve('honest');
    const forked = await lab.serve('forked');
    await publish(join(lab.dir, 'honest'), log, 6);
    await publish(join(lab.dir, 'forked'), fork, 7);
    const state = join(lab.dir, 'cli-state');
    const args = ['monitor', '--once', '--no-check-releases', '--chain', log.chain.chain, '--source', honest, '--source', forked, '--state', state];
    const run = await runCli(args);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /ALARM equivocation at block 4: .*signed both: w0, w1, w2, w3/);
    const proofFile = /proof written to (\S+);/.exec(run.stdout)![1]!;
    const rosterFile = join(lab.dir, 'roster.json');
    await writeFile(rosterFile, encodeLogFile(log.rosterAt(0).roster));
    const verified = await runCli(['log', 'verify-proof', proofFile, '--chain', log.chain.chain, '--roster', rosterFile]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /proven: block 4 of chain/);

    // The fork's blocks were not taken in: the verified chain is the honest one.
    const json = await runCli(['--json', ...args]);
    assert.equal(json.code, 0, json.stdout + json.stderr); // raised before: not again
    const report = JSON.parse(json.stdout) as { verified: { index: number; hash: string }; alarms: Alarm[] };
    assert.deepEqual(report.alarms, []);
    assert.equal(report.verified.hash, blockHash(log.chain.blockAt(6)!));

    // A fork behind the verified head: its co-signed head statement against the verified link.
    await publish(join(lab.dir, 'forked'), fork, 5);
    await mirrorSeesChanges();
    const behind = lab.monitor([forked], { chain: log.chain.chain, stateDir: state });
    const alarms = (await behind.poll()).alarms;
    assert.deepEqual(kinds(alarms), ['equivocation@5']);
    assert.equal(JSON.parse(await readFile(alarms[0]!.proofFile!, 'utf8')).second.kind, 'head');
  });
});

test('monitor: a replayed older head is a rollback; an old head is stale', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    const m = await lab.serve('m');
    await publish(join(lab.dir, 'm'), log, 6);
    const monitor = lab.monitor([m], { chain: log.chain.chain });
    assert.deepEqual(kinds((await monitor.poll()).alarms), []);
    await publish(join(lab.dir, 'm'), log, 4);
    await mirrorSeesChanges();
    const rollback = (await monitor.poll()).alarms;
    assert.deepEqual(kinds(rollback), ['rollback@4']);
    assert.equal(rollback[0]!.code, 'REPLAYED_HEAD');
    assert.deepEqual(kinds((await monitor.poll()).alarms), [], 'an alarm is raised once');

    // A later block under a statement older than the one seen is a rollback too (and that old statement is stale).
    await publish(join(lab.dir, 'm'), log, 7, formatUtcTime(Math.floor(Date.now() / 1000) - 2 * DAY));
    await mirrorSeesChanges();
    assert.deepEqual(kinds((await monitor.poll()).alarms), ['rollback@7', 'stale-head@7']);

    const s = await lab.serve('s');
    await publish(join(lab.dir, 's'), log, 7, formatUtcTime(Math.floor(Date.now() / 1000) - 2 * DAY));
    const stale = (await lab.monitor([s], { chain: log.chain.chain, stateDir: join(lab.dir, 'stale-state') }).poll()).alarms;
    assert.deepEqual(kinds(stale), ['stale-head@7']);
    assert.equal(stale[0]!.code, 'STALE_HEAD');
  });
});

test('monitor: a co-signed roster change not authorized by the root keys is refused and nothing of it is kept', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 }, rootDocument: true });
    const impostor = rootRole(3, 2, 'impostor');
    const roster = rosterOf(attackerRoster, 2);
    const change = { roster, authorization: createRosterAuthorization(impostor.signers.slice(0, 2), { chain: log.chain.chain, index: 6, roster: rosterHash(roster) }) };
    const extra = await rogueBlock(log, payloadFor(6, '', log.chain.blockAt(0)!.payload.root), change);
    const m = await lab.serve('m');
    await publish(join(lab.dir, 'm'), log, 6, nowText(), extra);
    const monitor = lab.monitor([m], { chain: log.chain.chain });
    const report = await monitor.poll();
    assert.deepEqual(kinds(report.alarms), ['unauthorized-roster@6']);
    assert.equal(report.alarms[0]!.code, 'ROSTER_NOT_AUTHORIZED');
    assert.equal(report.verified.index, 5, 'the unauthorized block is not kept');
  });
});

test('monitor: a root rotation signed by the old root passes; one not signed by it is unauthorized-root', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 }, rootDocument: true });
    const next = rootRole(3, 2, 'next-root');
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const stage = async (name: string, v2: Buffer): Promise<{ url: string; extra: Extra }> => {
      const extra = await rogueBlock(log, payloadFor(6, '', { version: 2, sha256: sha(v2) }), null);
      extra.roots.set(2, v2);
      const url = await lab.serve(name);
      await publish(join(lab.dir, name), log, 6, nowText(), extra);
      return { url, extra };
    };
    const rotated = await stage('rotated', rootDocument(2, next.signers, 2, [...log.root.signers.slice(0, 2), ...next.signers.slice(0, 2)]));
    const good = await lab.monitor([rotated.url], { chain: log.chain.chain, stateDir: join(lab.dir, 'good-state') }).poll();
    assert.deepEqual(kinds(good.alarms), []);
    assert.equal(good.verified.index, 6);

    const seized = await stage('seized', rootDocument(2, next.signers, 2, next.signers.slice(0, 2)));
    const bad = await lab.monitor([seized.url], { chain: log.chain.chain, stateDir: join(lab.dir, 'bad-state') }).poll();
    assert.deepEqual(kinds(bad.alarms), ['unauthorized-root@6']);
    assert.equal(bad.alarms[0]!.code, 'THRESHOLD_NOT_MET');
    assert.equal(bad.verified.index, 5);
  });
});

test('monitor: a mirror serving a forged block is bad data; the honest mirror is still followed', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 }, rootDocument: true });
    const forged = await lab.serve('forged');
    const honest = await lab.serve('honest');
    await publish(join(lab.dir, 'forged'), log, 5);
    await publish(join(lab.dir, 'honest'), log, 5);
    const block3 = log.chain.blockAt(3)!;
    await writeFile(join(lab.dir, 'forged', LOG_PATHS.block(3)), encodeLogFile({ ...block3, payload: { ...block3.payload, time: formatUtcTime(Math.floor(Date.now() / 1000)) } }));
    const report = await lab.monitor([forged, honest], { chain: log.chain.chain }).poll();
    assert.deepEqual(kinds(report.alarms), ['bad-data@3']);
    assert.match(report.alarms[0]!.message, /the co-signed link into it names/);
    assert.equal(report.verified.index, 5);
    assert.equal(report.verified.hash, blockHash(log.chain.blockAt(5)!));
  });
});

test('monitor: a checkpoint cosigned at threshold over another tree is bad-checkpoint; the log\'s own passes', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 }, rootDocument: true });
    const m = await lab.serve('m');
    await publish(join(lab.dir, 'm'), log, 5);
    const hashes = Array.from({ length: 6 }, (_, i) => blockHash(log.chain.blockAt(i)!));
    const writeCheckpoint = async (root: Buffer): Promise<void> => {
      const text = checkpointText({ origin: logOrigin(log.chain.chain), size: 6, rootHash: root, extensions: [] });
      const signatures = keys.slice(0, 3).map((k, i) => cosignCheckpoint(text, `w${i}`, ed25519Signer(k.privateKey), Math.floor(Date.now() / 1000)));
      await writeFile(join(lab.dir, 'm', 'log', 'checkpoint'), formatNote({ text, signatures }));
    };
    await writeCheckpoint(blockTreeRoot(hashes));
    const monitor = lab.monitor([m], { chain: log.chain.chain });
    assert.deepEqual(kinds((await monitor.poll()).alarms), []);
    await writeCheckpoint(blockTreeRoot([...hashes.slice(0, 5), createHash('sha256').update('fork').digest('hex')]));
    await mirrorSeesChanges();
    const alarms = (await monitor.poll()).alarms;
    assert.deepEqual(kinds(alarms), ['bad-checkpoint@5']);
    assert.match(alarms[0]!.message, /cosigned by w0, w1, w2/);
  });
});

test('monitor: a witness reporting another block at a verified index is witness-fork', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 4, genesis: { keys, threshold: 3 }, rootDocument: true });
    const m = await lab.serve('m');
    await publish(join(lab.dir, 'm'), log, 3);
    let head = { index: 3, hash: blockHash(log.chain.blockAt(3)!) };
    // A witness's /v1/info as the witness service answers it (src/witness/service.ts info()).
    const witness = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'w9', key: keys[0]!.publicKeyHex, address: '', chain: log.chain.chain, head, state: null }));
    });
    await new Promise<void>((r) => witness.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(witness.address() as { port: number }).port}`;
      const monitor = lab.monitor([m], { chain: log.chain.chain, witnesses: [url] });
      const honest = await monitor.poll();
      assert.deepEqual(kinds(honest.alarms), []);
      assert.deepEqual(honest.witnesses.map((w) => [w.name, w.head?.index]), [['w9', 3]]);
      head = { index: 2, hash: 'ab'.repeat(32) };
      assert.deepEqual(kinds((await monitor.poll()).alarms), ['witness-fork@2']);
    } finally {
      await new Promise<void>((r) => witness.close(() => r()));
    }
  });
});

test('monitor as a service: polls until SIGTERM, prints each alarm once as a JSON line, exits 1 after an alarm', T, async () => {
  await withLab(async (lab) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    const honest = await lab.serve('honest');
    const forked = await lab.serve('forked');
    await publish(join(lab.dir, 'honest'), log, 6);
    await publish(join(lab.dir, 'forked'), log, 6);
    const child = spawn(process.execPath, [CAIRN_BIN, '--json', 'monitor', '--no-check-releases', '--chain', log.chain.chain, '--source', honest, '--source', forked, '--state', join(lab.dir, 'svc'), '--interval', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const events: Array<{ type: string; kind?: string; verified?: { index: number } }> = [];
    const seen = (predicate: (e: (typeof events)[number]) => boolean): Promise<void> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such event within 60 s: ${JSON.stringify(events)}`)), 60_000);
      const check = (): void => {
        if (events.some(predicate)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 50);
      };
      check();
    });
    createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line) as (typeof events)[number]));
    try {
      await seen((e) => e.type === 'poll' && e.verified?.index === 6);
      // The forked mirror now serves a fork signed by the same roster: the running monitor catches it.
      await publish(join(lab.dir, 'forked'), await forkTestLog(log, 4, 8, 'fork'), 7);
      await seen((e) => e.type === 'alarm');
      await new Promise((r) => setTimeout(r, 1_000)); // more polls: the alarm is not printed again
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 1);
    assert.deepEqual(events.filter((e) => e.type === 'alarm').map((e) => e.kind), ['equivocation']);
    assert.equal(events.at(-1)!.type, 'stopped');
  });
});
