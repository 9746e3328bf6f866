// test/monitor/monitor-attacks.test.ts: attacks on the monitor found by its attack review
// (src/monitor/monitor.ts; docs/transparency.md "Monitors"), each staged on a mirror read through
// file: URLs: a root rolled back to revoked keys that authorize a roster, a log frozen by
// withholding, a head dated in the future, a co-signed higher-level link (what clients follow)
// naming another block, a fork longer than any fixed window, and the cap of a poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  blockHash, buildBlock, buildEquivocationProof, buildForwardLink, createRosterAuthorization, encodeLogFile,
  forwardLinkMessage, formatUtcTime, LOG_PATHS, rosterHash, type BlockPayload, type RosterChange, type RootRole,
} from '../../src/log/index.js';
import { LogMonitor, type Alarm } from '../../src/monitor/index.js';
import { buildTestLog, cosign, forkTestLog, payloadFor, rootDocument, rootRole, rosterOf, witnessKey, type TestLog } from '../fixtures/log-chain.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const T = { timeout: 120_000 };
const DAY = 86_400;
const nowS = (): number => Math.floor(Date.now() / 1000);
const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`monitor/${i}`));
const attacker = Array.from({ length: 3 }, (_, i) => witnessKey(`monitor/attacker/${i}`));
const kinds = (alarms: readonly Alarm[]): string[] => alarms.map((a) => `${a.kind}@${a.index}`);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Writes `log`'s files up to `headIndex` into dir (a mirror's document root), head signed at `time`. */
async function publish(dir: string, log: TestLog, headIndex: number, time: number, roots = new Map<number, Buffer>()): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i <= headIndex; i++) files.set(LOG_PATHS.block(i), encodeLogFile(log.chain.blockAt(i)!));
  for (const [key, file] of log.links) {
    const [from, level] = key.split('.').map(Number) as [number, number];
    if (file.link.toIndex <= headIndex) files.set(LOG_PATHS.link(from, level), encodeLogFile(file));
  }
  files.set(LOG_PATHS.head, encodeLogFile(await log.head(headIndex, formatUtcTime(time))));
  files.set('metadata/1.root.json', log.rootFile!.bytes);
  for (const [v, bytes] of roots) files.set(`metadata/${v}.root.json`, bytes);
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}

/** Appends a block to `log` (checked with `root` when it changes the roster) with all its links co-signed. */
async function append(log: TestLog, payload: BlockPayload, change: RosterChange | null, root?: RootRole): Promise<void> {
  const block = buildBlock(log.chain, payload, change);
  const sources = Array.from({ length: block.height }, (_, level) => block.index - 2 ** level);
  const signers = sources.map((from) => log.rosterAt(from));
  log.chain.append(block, root === undefined ? {} : { root });
  for (const [level, from] of sources.entries()) {
    const link = buildForwardLink(log.chain.blockAt(from)!, block);
    log.links.set(`${from}.${level}`, { link, cosignature: await cosign(signers[level]!.roster, signers[level]!.keys, forwardLinkMessage(link)) });
  }
}

const monitorOf = (dir: string, log: TestLog, now = (): Date => new Date()): LogMonitor =>
  new LogMonitor({ chain: log.chain.chain, sources: [pathToFileURL(join(dir, 'm', 'log')).href + '/'], stateDir: join(dir, 'state'), maxHeadAgeSeconds: DAY, now, checkReleases: false });

test('monitor attack: a block rolling the root back to a revoked version, whose keys authorize a roster, is invalid-block and not kept', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 }, rootDocument: true });
    const v1 = log.chain.blockAt(0)!.payload.root;
    const next = rootRole(3, 2, 'next-root');
    // Block 6: an honest rotation to root v2 (signed by v1's and v2's thresholds): v1's keys are revoked.
    const v2 = rootDocument(2, next.signers, 2, [...log.root.signers.slice(0, 2), ...next.signers.slice(0, 2)]);
    await append(log, payloadFor(6, '', { version: 2, sha256: sha(v2) }), null);
    // Block 7 (a colluding roster + the revoked v1 keys): records root v1 again and changes the roster,
    // authorized by v1's keys only.
    const roster = rosterOf(attacker, 2);
    const change = { roster, authorization: createRosterAuthorization(log.root.signers.slice(0, 2), { chain: log.chain.chain, index: 7, roster: rosterHash(roster) }) };
    await append(log, payloadFor(7, '', v1), change, log.root.role);
    log.rosters.set(rosterHash(roster), { roster, keys: attacker });
    await publish(join(dir, 'm'), log, 7, nowS(), new Map([[2, v2]]));
    const monitor = monitorOf(dir, log);
    try {
      const report = await monitor.poll();
      assert.equal(report.verified.index, 6, 'block 7 rolls the root back from v2 to v1 and must not be kept');
      assert.deepEqual(kinds(report.alarms), ['invalid-block@7']);
    } finally {
      monitor.close();
    }
  });
});

test('monitor attack: a log frozen by withholding (a head whose link is withheld, then no head) raises stale-head', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    await publish(join(dir, 'm'), log, 5, nowS());
    let clock = Date.now();
    const monitor = monitorOf(dir, log, () => new Date(clock));
    try {
      assert.deepEqual(kinds((await monitor.poll()).alarms), []);
      // The mirror freezes the log for the monitor: a genuinely co-signed head for block 6, but link 5.0 withheld.
      await writeFile(join(dir, 'm', LOG_PATHS.head), encodeLogFile(await log.head(6, formatUtcTime(nowS()))));
      clock += 10 * DAY * 1000;
      const a = await monitor.poll();
      // Or it serves nothing at all.
      await rm(join(dir, 'm', LOG_PATHS.head));
      clock += 10 * DAY * 1000;
      const b = await monitor.poll();
      assert.ok([...a.alarms, ...b.alarms].some((x) => x.kind === 'stale-head'), 'the newest verified head is 20 days old: stale-head (docs: "a log nobody can read for long raises stale-head")');
    } finally {
      monitor.close();
    }
  });
});

test('monitor attack: a co-signed head dated in the future is bad data and does not hide later staleness', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    let clock = Date.now();
    const monitor = monitorOf(dir, log, () => new Date(clock));
    try {
      await publish(join(dir, 'm'), log, 5, nowS() + 50 * 365 * DAY); // 50 years ahead
      const first = await monitor.poll();
      assert.deepEqual(kinds(first.alarms), ['bad-data@5']);
      assert.equal(first.alarms[0]!.code, 'BAD_HEAD');
      await publish(join(dir, 'm'), log, 6, nowS());
      assert.deepEqual(kinds((await monitor.poll()).alarms), [], 'the future head was not remembered: no rollback');
      clock += 30 * DAY * 1000; // the log is frozen at block 6 for 30 days
      assert.deepEqual(kinds((await monitor.poll()).alarms), ['stale-head@6']);
    } finally {
      monitor.close();
    }
  });
});

test('monitor attack: a co-signed level-1 link (what clients follow) naming another block at a verified index is equivocation', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 }, rootDocument: true });
    await publish(join(dir, 'm'), log, 7, nowS());
    const monitor = monitorOf(dir, log);
    try {
      assert.deepEqual(kinds((await monitor.poll()).alarms), []);
      // The roster co-signs 4 -> 6' at level 1; the mirror publishes it where clients look (links/4.1.json).
      const fork = await forkTestLog(log, 5, 8, 'hidden');
      const rogue = fork.links.get('4.1')!;
      assert.notEqual(rogue.link.to, blockHash(log.chain.blockAt(6)!));
      await writeFile(join(dir, 'm', LOG_PATHS.link(4, 1)), encodeLogFile(rogue));
      await writeFile(join(dir, 'm', LOG_PATHS.head), encodeLogFile(await log.head(7, formatUtcTime(nowS() + 1))));
      // A valid proof exists: the verified link 5.0 and the served 4.1 both name block 6, differently.
      const roster = log.rosterAt(0).roster;
      buildEquivocationProof({ kind: 'forward-link', ...log.links.get('5.0')!, roster }, { kind: 'forward-link', ...rogue, roster });
      const report = await monitor.poll();
      assert.deepEqual(kinds(report.alarms), ['equivocation@6']);
    } finally {
      monitor.close();
    }
  });
});

test('monitor attack: a fork far behind the head is found by bisection and proven; a second fork at that index is raised again', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 100, genesis: { keys, threshold: 3 }, rootDocument: true });
    await publish(join(dir, 'm'), log, 99, nowS());
    const monitor = monitorOf(dir, log);
    try {
      assert.deepEqual(kinds((await monitor.poll()).alarms), []);
      // The same roster signed another chain from block 3 on, 96 blocks long; a mirror serves it.
      for (const salt of ['long fork', 'another fork']) {
        const fork = await forkTestLog(log, 3, 101, salt);
        await publish(join(dir, 'm'), fork, 100, nowS());
        const report = await monitor.poll();
        assert.deepEqual(kinds(report.alarms), ['equivocation@3'], salt);
        assert.equal(report.verified.hash, blockHash(log.chain.blockAt(99)!), 'the fork is not taken in');
      }
    } finally {
      monitor.close();
    }
  });
});

test('monitor: a poll verifies at most maxBlocksPerPoll blocks and says the source is behind until it caught up', T, async () => {
  await withTempDir('monitor-attack', async (dir) => {
    const log = await buildTestLog({ blocks: 12, genesis: { keys, threshold: 3 }, rootDocument: true });
    await publish(join(dir, 'm'), log, 11, nowS());
    const monitor = new LogMonitor({ chain: log.chain.chain, sources: [pathToFileURL(join(dir, 'm', 'log')).href + '/'], stateDir: join(dir, 'state'), maxHeadAgeSeconds: DAY, maxBlocksPerPoll: 5, checkReleases: false });
    try {
      const first = await monitor.poll();
      assert.equal(first.verified.index, 5);
      assert.equal(first.sources[0]!.head, null, 'a head not verified yet is not shown as the source\'s');
      assert.equal(first.sources[0]!.problem?.code, 'BEHIND');
      await monitor.poll();
      const third = await monitor.poll();
      assert.equal(third.verified.index, 11);
      assert.deepEqual([third.sources[0]!.head?.index, third.sources[0]!.problem], [11, null]);
      assert.deepEqual(kinds([...first.alarms, ...third.alarms]), []);
    } finally {
      monitor.close();
    }
  });
});
