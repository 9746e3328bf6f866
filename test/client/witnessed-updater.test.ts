// test/client/witnessed-updater.test.ts: a client that accepts only witnessed releases
// (docs/design.md "What a client checks, in order", step 2; docs/protocol.md section 9 "Clients and the log"):
// the happy paths over real HTTP on 127.0.0.1: a witnessed release is accepted and the anchor
// advances, a client far behind catches up in O(log n) links with one root fetch, the publish
// window (head.json newer than timestamp) is accepted, and a repository without a log stays a
// plain TUF repository for a client without an anchor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClientError, WitnessedUpdater, createUpdater, initLogAnchor, readAnchor, readLastHead } from '../../src/client/index.js';
import { Updater } from '../../src/tuf/index.js';
import { blockHash } from '../../src/log/index.js';
import { ed25519Key } from '../fixtures/repository-simulator.js';
import { sha256, witnessKeys } from '../fixtures/witnessed-repository.js';
import { assertRefused, setupWitnessed, T, witnessWithTufFilesBehind } from './helpers.js';

test('accepts a witnessed release, downloads its target and advances the anchor to the head block', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.addTarget('app/tool.txt', 'witnessed bytes\n');
    f.repo.sim.release('targets');
    const head = await f.repo.witness();

    const client = f.client();
    const report = await client.refresh();
    assert.equal(report.log.blocksCaughtUp, 1);
    assert.equal(report.log.head.index, 1);
    assert.equal(report.log.head.signers, 4);
    assert.equal(report.log.head.threshold, 3);
    assert.equal(report.log.matched.which, 'head');
    assert.equal(report.log.matched.snapshot, 2);
    assert.equal(report.snapshot.version, 2);
    assert.equal(report.rootBootstrap, null);
    assert.ok(report.steps[0]!.text.startsWith('log: caught up 1 block'), report.steps[0]!.text);
    assert.equal(report.steps[0]!.check, 'log-catch-up');
    assert.ok(report.steps.some((s) => s.check === 'witnessed' && s.text.startsWith('witnessed:')));

    const info = await client.getTargetInfo('app/tool.txt');
    assert.ok(info);
    const path = await client.downloadTarget(info);
    assert.equal(await readFile(path, 'utf8'), 'witnessed bytes\n');
    assert.equal(await client.findCachedTarget(info), path);

    const anchor = await readAnchor(f.metadataDir);
    assert.deepEqual(anchor, { type: 'cairn/v1/client-anchor', chain: f.repo.genesisHash, index: 1, hash: blockHash(head) });
    const last = await readLastHead(f.metadataDir);
    assert.equal(last?.statement.index, 1);
    const stored = await readFile(join(f.metadataDir, 'log', 'blocks', `${blockHash(head)}.json`));
    assert.equal(sha256(stored), blockHash(head), 'the trusted block is stored under its hash');

    // Nothing new: a second client starts from the stored block and catches up zero blocks.
    const again = await f.client().refresh();
    assert.equal(again.log.blocksCaughtUp, 0);
    assert.equal(again.log.links, 0);
    assert.equal(again.log.blocksFetched, 0);
  } finally {
    await f.close();
  }
});

test('init with the block checks its hash offline; a block that does not match the pinned hash is refused', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init({ withBlock: true });
    assert.equal(f.server.requests.length, 0, 'init makes no request');
    f.repo.sim.release();
    await f.repo.witness();
    const report = await f.client().refresh();
    assert.equal(report.log.head.index, 1);
    assert.equal(report.log.blocksFetched, 1, 'only the head block: genesis was given at init');

    await assert.rejects(
      initLogAnchor(f.metadataDir, { hash: f.repo.genesisHash, block: f.repo.blockBytes(1) }),
      (e: unknown) => e instanceof ClientError && e.code === 'BAD_ANCHOR',
    );
  } finally {
    await f.close();
  }
});

test('accepts the publish window: head.json names a block whose TUF files are not published yet', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    await f.client().refresh();

    // The publisher writes log/head.json first, then the TUF files: the mirror still serves the
    // previous timestamp (and snapshot) under the new head.
    await witnessWithTufFilesBehind(f);
    const report = await f.client().refresh();
    assert.equal(report.log.head.index, 2);
    assert.equal(report.log.matched.which, 'predecessor');
    assert.equal(report.log.matched.index, 1);
    assert.equal(report.snapshot.version, 2);
    assert.equal((await readAnchor(f.metadataDir))?.index, 2, 'the anchor advances to the head block');

    // Once the TUF files are written the next refresh matches the head itself.
    f.repo.sim.publish();
    const after = await f.client().refresh();
    assert.equal(after.log.matched.which, 'head');
    assert.equal(after.snapshot.version, 3);
  } finally {
    await f.close();
  }
});

test('accepts the publish window of a root rotation: the head records root v2 before 2.root.json is published', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    await f.client().refresh();

    const oldTimestamp = f.repo.sim.files.get('metadata/timestamp.json')!;
    f.repo.sim.rotateKeys('root', [ed25519Key()], 1);
    f.repo.sim.release();
    await f.repo.witness();
    const newRoot = f.repo.sim.files.get('metadata/2.root.json')!;
    f.repo.sim.files.delete('metadata/2.root.json');
    f.repo.sim.files.set('metadata/timestamp.json', oldTimestamp);
    const during = await f.client().refresh();
    assert.equal(during.rootBootstrap, null);
    assert.equal(during.root.version, 1);
    assert.equal(during.log.matched.which, 'predecessor');

    f.repo.sim.files.set('metadata/2.root.json', newRoot);
    f.repo.sim.publish();
    const after = await f.client().refresh();
    assert.deepEqual(after.rootBootstrap, { from: 1, to: 2, rootsFetched: 1 });
    assert.equal(after.root.version, 2);
    assert.equal(after.log.matched.which, 'head');
  } finally {
    await f.close();
  }
});

test('a client 20 root rotations and 1,000+ blocks behind catches up in O(log n) links with a single root fetch', { timeout: 180_000 }, async (t) => {
  const blocks = 1030;
  const f = await setupWitnessed({ cosignLinks: false, roster: { keys: witnessKeys('big-0', 3), threshold: 2 } });
  try {
    await f.init();
    let rotations = 0;
    let rosterChanges = 0;
    for (let i = 1; i < blocks; i++) {
      if (i % 50 === 0 && rotations < 20) {
        f.repo.sim.rotateKeys('root', [ed25519Key()], 1);
        rotations++;
      }
      f.repo.sim.release();
      const roster = i % 5 === 0 ? { keys: witnessKeys(`big-${i}`, 3), threshold: 2 } : undefined;
      if (roster) rosterChanges++;
      await f.repo.witness({ ...(roster ? { roster } : {}), head: i === blocks - 1 });
    }
    assert.equal(rotations, 20);
    const planned = await f.repo.cosignCatchUpPath(0);
    f.server.clearRequests();

    const report = await f.client().refresh();
    const d = blocks - 1;
    assert.equal(report.log.blocksCaughtUp, d);
    assert.equal(report.log.links, planned);
    assert.ok(report.log.links <= 2 * Math.log2(d), `${report.log.links} links for ${d} blocks`);
    assert.ok(report.log.rosters <= report.log.links, 'at most one new roster per link');
    assert.ok(rosterChanges > 200);
    assert.equal(report.rootBootstrap?.from, 1);
    assert.equal(report.rootBootstrap?.to, 21);
    assert.equal(report.rootsFetched, 1, 'one root fetched, not 20');
    const rootRequests = f.server.metadataRequests().filter((p) => p.endsWith('.root.json'));
    assert.deepEqual(rootRequests, ['21.root.json', '22.root.json'], 'the bootstrap root, then the TUF check that no newer root exists');
    assert.equal(report.root.version, 21);
    const logRequests = f.server.requests.filter((p) => p.startsWith('log/'));
    assert.equal(logRequests.filter((p) => p.startsWith('log/blocks/')).length, 2, 'genesis (anchor given by hash) and the head block');
    assert.equal(logRequests.length, 1 + 2 + report.log.links + report.log.rosters);
    t.diagnostic(`${d} blocks, ${rotations} root rotations, ${rosterChanges} roster changes: ${report.log.links} links, ${report.log.rosters} rosters, ${report.log.bytes} log bytes, ${report.rootsFetched} root fetched`);

    // A client pinned at a checkpoint (block 3, by INDEX:HASH, fetched on the first refresh) walks
    // a longer path up and down the levels, crossing roster changes through the links alone.
    const checkpointDir = join(f.dir, 'checkpoint');
    await Updater.initTrustedRoot(checkpointDir, f.repo.sim.rootHistory.get(1)!);
    await initLogAnchor(checkpointDir, { hash: blockHash(f.repo.chain.blockAt(3)!), index: 3 });
    const plannedFrom3 = await f.repo.cosignCatchUpPath(3);
    const fromCheckpoint = await f.client({ metadataDir: checkpointDir }).refresh();
    assert.equal(fromCheckpoint.log.blocksCaughtUp, d - 3);
    assert.equal(fromCheckpoint.log.links, plannedFrom3);
    assert.ok(fromCheckpoint.log.links <= 2 * Math.log2(d - 3), `${fromCheckpoint.log.links} links`);
    assert.equal(fromCheckpoint.rootsFetched, 1);
    t.diagnostic(`from block 3: ${fromCheckpoint.log.links} links, ${fromCheckpoint.log.rosters} rosters, ${fromCheckpoint.log.bytes} log bytes`);
  } finally {
    await f.close();
  }
});

test('a metadata directory without an anchor stays a plain TUF client; the witnessed client refuses to run without one', T, async () => {
  const f = await setupWitnessed();
  try {
    await Updater.initTrustedRoot(f.metadataDir, f.repo.sim.rootHistory.get(1)!);
    const { updater, witnessed } = await createUpdater({ metadataDir: f.metadataDir, metadataBaseUrl: f.server.metadataUrl });
    assert.equal(witnessed, false);
    assert.ok(updater instanceof Updater);
    await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_ANCHORED');
    await initLogAnchor(f.metadataDir, { hash: f.repo.genesisHash });
    const second = await createUpdater({ metadataDir: f.metadataDir, metadataBaseUrl: f.server.metadataUrl });
    assert.equal(second.witnessed, true);
    assert.ok(second.updater instanceof WitnessedUpdater);
  } finally {
    await f.close();
  }
});
