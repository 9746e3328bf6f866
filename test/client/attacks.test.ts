// test/client/attacks.test.ts: each attack on a client with a log anchor is refused with a typed
// error, and the trusted state (TUF files and the log/ anchor files) is left byte-identical
// (docs/protocol.md sections 5, 6 and 9 "Clients and the log", "What a refresh checks, in
// order"). The repository and its skipchain are built in code with real CoSi
// signatures and served over HTTP on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ClientError, readAnchor } from '../../src/client/index.js';
import { FetchError } from '../../src/io/index.js';
import {
  LOG_PATHS,
  LogError,
  buildBlock,
  encodeLogFile,
  parseBlockBytes,
  buildForwardLink,
  forwardLinkMessage,
  headMessage,
  rosterHash,
  type Block,
} from '../../src/log/index.js';
import { cosign, rosterOf } from '../fixtures/log-chain.js';
import { RepositorySimulator, ed25519Key, endlessBody, signDocument } from '../fixtures/repository-simulator.js';
import { WitnessedRepository, nowUtc, witnessKeys } from '../fixtures/witnessed-repository.js';
import { assertRefused, setupWitnessed, T, treeContents, witnessWithTufFilesBehind, type WitnessedFixture } from './helpers.js';

/** A client that has accepted block 1 (one witnessed release after genesis). */
async function acceptedOnce(f: WitnessedFixture): Promise<void> {
  await f.init();
  f.repo.sim.addTarget('app/tool.txt', 'v1\n');
  f.repo.sim.release('targets');
  await f.repo.witness();
  await f.client().refresh();
}

/** The snapshot and timestamp keys sign another snapshot at the witnessed version (mix-and-match against the log). */
function resignSnapshotAtWitnessedVersion(sim: RepositorySimulator): void {
  sim.role('snapshot').expires = '2099-01-01T00:00:00Z';
  sim.bump('timestamp');
  sim.publish();
}

test('refuses a release the developers signed but the witnesses never saw (TUF newer than the log)', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    f.repo.sim.addTarget('app/tool.txt', 'unwitnessed v2\n');
    f.repo.sim.release('targets');
    await f.repo.signHead(); // fresh head statement, still for block 1
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED');
    assert.match(e.message, /timestamp\.json names snapshot v3, which no witnessed block records: block 1 \(head\) records snapshot v2/);
    assert.ok(!f.server.metadataRequests().some((p) => p.includes('3.snapshot')), 'the unwitnessed snapshot is never fetched');
  } finally {
    await f.close();
  }
});

test('refuses a root rotation the witnesses never saw', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    f.repo.sim.rotateKeys('timestamp', [ed25519Key()]);
    f.repo.sim.release();
    await f.repo.signHead();
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED');
    assert.match(e.message, /root v2.*records root v1/);
  } finally {
    await f.close();
  }
});

test('refuses a snapshot whose bytes differ from the witnessed hash at the same version (timestamp lists the hash)', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness(); // the log records snapshot v2
    resignSnapshotAtWitnessedVersion(f.repo.sim);
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED');
    assert.match(e.message, /names snapshot v2 with sha256 [0-9a-f]{12}; the witnessed snapshot v2 has [0-9a-f]{12}/);
  } finally {
    await f.close();
  }
});

test('refuses a snapshot whose bytes differ from the witnessed hash at the same version (timestamp without hashes)', T, async () => {
  const f = await setupWitnessed({ timestampHashes: false });
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    resignSnapshotAtWitnessedVersion(f.repo.sim);
    // The timestamp names the witnessed version, so TUF may keep it; the snapshot never lands.
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED', ['timestamp.json']);
    assert.match(e.message, /snapshot v2 has sha256 [0-9a-f]{12}; block 1 \(witnessed\) records [0-9a-f]{12}/);
  } finally {
    await f.close();
  }
});

test('refuses, before storing it, a snapshot re-signed at a witnessed 16-digit version (every version prefix is checked)', T, async () => {
  const f = await setupWitnessed({ timestampHashes: false });
  try {
    await f.init();
    // The log records snapshot v10^15 (a version jump is valid TUF): its file name has 16 digits.
    f.repo.sim.role('snapshot').version = 999_999_999_999_999;
    f.repo.sim.release('targets');
    await f.repo.witness();
    resignSnapshotAtWitnessedVersion(f.repo.sim);
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED', ['timestamp.json']);
    assert.match(e.message, /snapshot v1000000000000000 has sha256 [0-9a-f]{12}; block 1 \(witnessed\) records [0-9a-f]{12}/);
    assert.ok(f.server.metadataRequests().includes('1000000000000000.snapshot.json'), 'the forged snapshot was served and refused');
  } finally {
    await f.close();
  }
});

test('reads no more of a snapshot than snapshotMaxLength, whatever length the timestamp (not committed by the log) declares', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    // The timestamp key holder re-signs a timestamp for the witnessed snapshot (same version and
    // hash, which is all the log checks) declaring 20 MB; the mirror streams without end.
    const sim = f.repo.sim;
    const timestamp = sim.role('timestamp');
    timestamp.version = (timestamp.version as number) + 1;
    (timestamp.meta as { 'snapshot.json': { length: number } })['snapshot.json'].length = 20_000_000;
    sim.files.set('metadata/timestamp.json', signDocument(timestamp, sim.signers.get('timestamp')!));
    f.server.overrides.set(`metadata/${sim.role('snapshot').version as number}.snapshot.json`, endlessBody());
    const e = await assertRefused(f.metadataDir, () => f.client({ config: { snapshotMaxLength: 1_000_000 } }).refresh(), FetchError, 'TOO_LARGE', ['timestamp.json']);
    assert.match(e.message, /expected at most 1000000 bytes/);
  } finally {
    await f.close();
  }
});

test('re-checks a still-valid local snapshot against the log, not only downloaded ones', T, async () => {
  const f = await setupWitnessed({ timestampHashes: false });
  try {
    await f.init();
    // Before the witnesses record it, a plain TUF refresh accepted an unwitnessed snapshot v2.
    f.repo.sim.release('targets');
    const { Updater } = await import('../../src/tuf/index.js');
    await new Updater({ metadataDir: f.metadataDir, metadataBaseUrl: f.server.metadataUrl }).refresh();
    // The log then records a different snapshot v2; the mirror's timestamp (no hashes) names v2.
    f.repo.sim.role('snapshot').expires = '2099-01-01T00:00:00Z';
    f.repo.sim.publish();
    await f.repo.witness();
    f.server.clearRequests();
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED', ['timestamp.json']);
    assert.match(e.message, /snapshot v2 has sha256/);
    assert.ok(!f.server.metadataRequests().some((p) => p.endsWith('snapshot.json')), 'TUF used its local copy');
  } finally {
    await f.close();
  }
});

/**
 * A delegated key holder (of `role`, a delegated role or a hash bin) and a mirror re-sign `role`
 * at its witnessed version with another hash for `path`, and serve the new target file; the
 * snapshot and timestamp stay the witnessed ones. The witnessed client refreshes, then resolves
 * the path: the role file must be refused before the updater stores it, and nothing downloaded.
 * Then the genuine role is served again and the same client resolves and downloads the genuine
 * target (the refusal was the tampering, nothing else).
 */
async function resignedRoleRefused(f: WitnessedFixture, role: string, path: string): Promise<void> {
  const sim = f.repo.sim;
  const version = sim.role(role).version as number;
  const genuine = new Map([`metadata/${role}.json`, `metadata/${version}.${role}.json`].map((p) => [p, sim.files.get(p)!]));
  const client = f.client();
  await client.refresh();
  sim.addTarget(path, 'malware\n', role); // no new version: the snapshot still lists the witnessed one
  const forged = signDocument(sim.role(role), sim.signers.get(role)!);
  for (const p of genuine.keys()) sim.files.set(p, forged);
  const digest = createHash('sha256').update('malware\n').digest('hex');
  const slash = path.lastIndexOf('/');
  sim.files.set(`targets/${path.slice(0, slash + 1)}${digest}.${path.slice(slash + 1)}`, Buffer.from('malware\n'));
  f.server.clearRequests();
  const targetsBefore = await treeContents(f.targetDir);
  const e = await assertRefused(f.metadataDir, async () => client.downloadTarget((await client.getTargetInfo(path))!), ClientError, 'NOT_WITNESSED');
  assert.match(e.message, new RegExp(`${role} v${version} is \\d+ bytes with sha256 [0-9a-f]{12}; the witnessed snapshot v\\d+ \\(block \\d+\\) pins`));
  assert.ok(f.server.metadataRequests().includes(sim.consistentSnapshot ? `${version}.${role}.json` : `${role}.json`), 'the forged role was served and refused');
  assert.deepEqual(await treeContents(f.targetDir), targetsBefore, 'nothing was downloaded');
  for (const [p, bytes] of genuine) sim.files.set(p, bytes);
  const genuinePath = await client.downloadTarget((await client.getTargetInfo(path))!);
  assert.equal(await readFile(genuinePath, 'utf8'), 'v1\n');
}

for (const consistentSnapshot of [true, false]) {
  const names = consistentSnapshot ? 'VERSION.ROLE.json' : 'plain names, ROLE.json';
  test(`refuses a delegated role re-signed at its witnessed version with another target hash (delegated key + mirror; ${names})`, T, async () => {
    const f = await setupWitnessed({
      consistentSnapshot,
      prepare: (sim) => {
        sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
        sim.addTarget('apps/tool.txt', 'v1\n', 'apps');
      },
    });
    try {
      await f.init();
      await resignedRoleRefused(f, 'apps', 'apps/tool.txt');
    } finally {
      await f.close();
    }
  });
}

test('refuses a hash bin re-signed at its witnessed version with another target hash (bin key + mirror)', T, async () => {
  const path = 'pkgs/tool.txt';
  const bin = RepositorySimulator.binFor(path, 4);
  const f = await setupWitnessed({
    prepare: (sim) => {
      sim.succinctBins('targets', 4);
      sim.addTarget(path, 'v1\n', bin);
    },
  });
  try {
    await f.init();
    await resignedRoleRefused(f, bin, path);
  } finally {
    await f.close();
  }
});

test('refuses a witnessed snapshot that lists roles by version alone (a log that does not commit to them), before storing it', T, async () => {
  const f = await setupWitnessed({
    snapshotHashes: false,
    prepare: (sim) => sim.delegate('targets', { name: 'apps', paths: ['apps/*'] }),
  });
  try {
    await f.init();
    // The timestamp names the witnessed snapshot version, so TUF keeps it; the snapshot never lands.
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'UNPINNED_ROLE', ['timestamp.json']);
    assert.match(e.message, /snapshot v1 \(block 0\) lists 2 role\(s\) without length and sha256 \(apps\.json, targets\.json\)/);
    assert.equal((await readAnchor(f.metadataDir))?.index, 0, 'the anchor did not advance');
  } finally {
    await f.close();
  }
});

/** Block 2 forged by someone who does not hold the roster's keys: it records an unwitnessed release. */
async function forgeNextBlock(repo: WitnessedRepository): Promise<Block> {
  repo.sim.release('targets');
  const forged = buildBlock(repo.chain, repo.payload());
  repo.putLogFile(LOG_PATHS.block(forged.index), forged);
  return forged;
}

test('refuses a forged forward link', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    const forged = await forgeNextBlock(f.repo);
    const link = buildForwardLink(f.repo.chain.blockAt(1)!, forged);
    // Signed by four keys that are not the roster's, with a bitmap that claims the roster.
    const impostors = rosterOf(witnessKeys('impostor', 4), 3);
    const cosignature = await cosign(impostors, witnessKeys('impostor', 4), forwardLinkMessage(link));
    f.repo.putLogFile(LOG_PATHS.link(1, 0), { link, cosignature });
    f.repo.putLogFile(LOG_PATHS.head, { statement: { type: 'cairn/v1/head', chain: f.repo.genesisHash, index: 2, hash: link.to, time: nowUtc() }, cosignature });
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'BAD_FORWARD_LINK');
    assert.match(e.message, /forward link 1->2 \(level 0\): collective signature does not verify/);
  } finally {
    await f.close();
  }
});

test('refuses an under-threshold forward link', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    const forged = await forgeNextBlock(f.repo);
    const link = buildForwardLink(f.repo.chain.blockAt(1)!, forged);
    const r = f.repo.rosterAt(1);
    // Two of the four witnesses co-sign a valid signature; the roster's threshold is 3.
    const cosignature = await cosign(r.roster, r.keys.slice(0, 2), forwardLinkMessage(link));
    f.repo.putLogFile(LOG_PATHS.link(1, 0), { link, cosignature });
    f.repo.putLogFile(LOG_PATHS.head, { statement: { type: 'cairn/v1/head', chain: f.repo.genesisHash, index: 2, hash: link.to, time: nowUtc() }, cosignature });
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'THRESHOLD_NOT_MET');
    assert.match(e.message, /2 .*3/);
  } finally {
    await f.close();
  }
});

test('refuses a forward link signed by a rotated-out roster', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    const oldRoster = f.repo.rosterAt(1);
    const newKeys = witnessKeys('rotated-in', 4);
    f.repo.sim.release();
    await f.repo.witness({ roster: { keys: newKeys, threshold: 3 } }); // block 2 brings roster B
    await f.client().refresh();
    // The rotated-out witnesses (all of roster A) sign a link out of block 2 to a forged block 3.
    const forged = await forgeNextBlock(f.repo);
    const link = buildForwardLink(f.repo.chain.blockAt(2)!, forged);
    const cosignature = await cosign(oldRoster.roster, oldRoster.keys, forwardLinkMessage(link));
    f.repo.putLogFile(LOG_PATHS.link(2, 0), { link, cosignature });
    const head = { type: 'cairn/v1/head' as const, chain: f.repo.genesisHash, index: 3, hash: link.to, time: nowUtc() };
    f.repo.putLogFile(LOG_PATHS.head, { statement: head, cosignature: await cosign(oldRoster.roster, oldRoster.keys, headMessage(head)) });
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'BAD_FORWARD_LINK');
    assert.match(e.message, /forward link 2->3 \(level 0\): .*signature/i);
    assert.equal((await readAnchor(f.metadataDir))?.index, 2);
  } finally {
    await f.close();
  }
});

test('refuses a catch-up across a roster change whose roster is not published', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    f.repo.sim.release();
    const keys = witnessKeys('unpublished', 4);
    await f.repo.witness({ roster: { keys, threshold: 3 } });
    const hash = rosterHash(rosterOf(keys, 3));
    f.repo.sim.files.delete(LOG_PATHS.roster(hash));
    await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'UNKNOWN_ROSTER');
  } finally {
    await f.close();
  }
});

test('refuses a replayed old head statement', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    const oldHead = await f.repo.headFile(1, nowUtc(-60));
    f.repo.sim.release('targets');
    await f.repo.witness();
    await f.client().refresh(); // accepts block 2
    // A mirror replays the (genuine, co-signed, still fresh) head statement for block 1.
    f.repo.putLogFile(LOG_PATHS.head, oldHead);
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'REPLAYED_HEAD');
    assert.match(e.message, /block 1, behind the trusted block 2/);
    // The same block, with a statement older than the one accepted.
    f.repo.putLogFile(LOG_PATHS.head, await f.repo.headFile(2, nowUtc(-3600)));
    await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'REPLAYED_HEAD');
  } finally {
    await f.close();
  }
});

test('refuses a stale head (freeze: the newest head statement is older than the maximum age)', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness({ headTime: nowUtc(-2 * 86_400) });
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'STALE_HEAD');
    assert.match(e.message, /older than the allowed 86400 s/);
    assert.equal(f.server.metadataRequests().length, 0, 'no TUF metadata is fetched before the log check passes');
    // A client configured for a longer maximum age accepts it.
    const report = await f.client({ witness: { maxHeadAgeSeconds: 3 * 86_400 } }).refresh();
    assert.ok(report.log.head.ageSeconds >= 2 * 86_400);
  } finally {
    await f.close();
  }
});

test('refuses to fall back to plain TUF when log/head.json is missing', T, async () => {
  const f = await setupWitnessed();
  try {
    await acceptedOnce(f);
    f.repo.sim.files.delete(LOG_PATHS.head);
    f.server.clearRequests();
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NO_HEAD');
    assert.match(e.message, /head\.json does not exist/);
    assert.equal(f.server.metadataRequests().length, 0, 'no TUF metadata is fetched');
  } finally {
    await f.close();
  }
});

test('refuses a head block that is not reachable from the trusted block (another chain)', T, async () => {
  const f = await setupWitnessed();
  const other = await WitnessedRepository.create({ roster: { keys: witnessKeys('other-chain', 4), threshold: 3 } });
  try {
    await acceptedOnce(f);
    other.sim.release();
    await other.witness();
    // The mirror serves the other chain's log (its own blocks, links and co-signed head).
    for (const [path, bytes] of other.sim.files) if (path.startsWith('log/')) f.repo.sim.files.set(path, bytes);
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'NOT_REACHABLE');
    assert.match(e.message, /chain/);
  } finally {
    await f.close();
  }
});

test('refuses a trusted block served under the pinned index with another hash (anchor given by hash only)', T, async () => {
  const f = await setupWitnessed();
  const other = await WitnessedRepository.create({ roster: { keys: witnessKeys('other-genesis', 4), threshold: 3 } });
  try {
    await f.init();
    f.repo.sim.files.set(LOG_PATHS.block(0), other.blockBytes(0));
    await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'BAD_ANCHOR');
  } finally {
    await f.close();
  }
});

test('refuses a root whose bytes differ from the witnessed root (bootstrap)', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.rotateKeys('root', [ed25519Key()], 1);
    f.repo.sim.release();
    await f.repo.witness();
    // The mirror serves another root v2 (validly self-signed by other keys).
    const good = f.repo.sim.files.get('metadata/2.root.json')!;
    f.repo.sim.files.set('metadata/2.root.json', Buffer.concat([good, Buffer.from('\n')]));
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), ClientError, 'NOT_WITNESSED');
    assert.match(e.message, /2\.root\.json has sha256/);
  } finally {
    await f.close();
  }
});

test('refuses a predecessor block the mirror swapped in a publish window (not the head block\'s back link 0)', T, async () => {
  const f = await setupWitnessed();
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    // Publish window: head.json names block 2 while the mirror still serves the TUF files of
    // block 1, so the client must read block 1, which the mirror replaced with a forged one.
    await witnessWithTufFilesBehind(f);
    const block1 = parseBlockBytes(f.repo.blockBytes(1));
    f.repo.sim.files.set(LOG_PATHS.block(1), encodeLogFile({ ...block1, payload: { ...block1.payload, time: nowUtc(3600) } }));
    const e = await assertRefused(f.metadataDir, () => f.client().refresh(), LogError, 'BAD_BACK_LINK');
    assert.match(e.message, /the witnessed head block 2 names/);
  } finally {
    await f.close();
  }
});
