// test/tuf/updater.test.ts: the TUF client workflow on good repositories (TUF spec 1.0.x
// section 5): request order like python-tuf, consistent snapshots on and off, root rotation,
// delegations, succinct hash bins, foreign key types, the local cache and target downloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TufError } from '../../src/tuf/index.js';
import { RepositorySimulator, ed25519Key } from '../fixtures/repository-simulator.js';
import { setup, T } from './helpers.js';

test('refresh with consistent snapshots fetches versioned snapshot and targets', T, async () => {
  const f = await setup({ consistentSnapshot: true });
  try {
    const report = await f.updater().refresh();
    assert.deepEqual(f.server.metadataRequests(), ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']);
    assert.equal(report.consistentSnapshot, true);
    assert.equal(report.timestamp.version, 1);
    assert.ok(report.steps.length >= 5);
    assert.deepEqual(report.steps.map((s) => [s.check, s.spec]), [['root-update', '5.3'], ['root', '5.3.10'], ['timestamp', '5.4'], ['snapshot', '5.5'], ['targets', '5.6']]);
    assert.equal(report.steps[2]!.role?.version, report.timestamp.version);
    for (const name of ['timestamp', 'snapshot', 'targets']) {
      const stored = await readFile(join(f.metadataDir, `${name}.json`));
      assert.ok(stored.equals(f.sim.files.get(`metadata/${name}.json`)!), `${name}.json stored byte-exact`);
    }
  } finally {
    await f.close();
  }
});

test('refresh without consistent snapshots fetches plain names', T, async () => {
  const f = await setup({ consistentSnapshot: false });
  try {
    await f.updater({ baseUrl: f.server.metadataUrl.replace(/\/$/, '') }).refresh();
    assert.deepEqual(f.server.metadataRequests(), ['2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json']);
  } finally {
    await f.close();
  }
});

test('a second refresh uses the still-valid local snapshot and targets', T, async () => {
  const f = await setup();
  try {
    await f.updater().refresh();
    f.server.clearRequests();
    const report = await f.updater().refresh();
    assert.deepEqual(f.server.metadataRequests(), ['2.root.json', 'timestamp.json']);
    assert.equal(report.snapshot.source, 'cache');
    assert.equal(report.targets.source, 'cache');
    // refresh is once per instance
    const u = f.updater();
    const r1 = await u.refresh();
    f.server.clearRequests();
    assert.equal(await u.refresh(), r1);
    assert.deepEqual(f.server.metadataRequests(), []);
  } finally {
    await f.close();
  }
});

test('a new release is picked up and persisted', T, async () => {
  const f = await setup();
  try {
    await f.updater().refresh();
    f.sim.addTarget('a.txt', 'hello');
    f.sim.release('targets');
    f.server.clearRequests();
    const u = f.updater();
    await u.refresh();
    assert.deepEqual(f.server.metadataRequests(), ['2.root.json', 'timestamp.json', '2.snapshot.json', '2.targets.json']);
    const info = await u.getTargetInfo('a.txt');
    assert.equal(info?.length, 5);
    assert.ok((await readFile(join(f.metadataDir, 'targets.json'))).equals(f.sim.files.get('metadata/targets.json')!));
  } finally {
    await f.close();
  }
});

test('follows a root rotation chain and stores each verified root', T, async () => {
  const f = await setup();
  try {
    f.sim.rotateKeys('root', [ed25519Key()]);
    f.sim.rotateKeys('root', [ed25519Key(), ed25519Key()], 2);
    f.sim.rotateKeys('timestamp', [ed25519Key()]);
    f.sim.release();
    const report = await f.updater().refresh();
    assert.deepEqual(report.rootVersions, [1, 2, 3, 4]);
    assert.deepEqual(f.server.metadataRequests().slice(0, 4), ['2.root.json', '3.root.json', '4.root.json', '5.root.json']);
    assert.ok((await readFile(join(f.metadataDir, 'root.json'))).equals(f.sim.rootHistory.get(4)!));
  } finally {
    await f.close();
  }
});

test('stops fetching roots at maxRootRotations', T, async () => {
  const f = await setup();
  try {
    for (let i = 0; i < 4; i++) f.sim.newRootVersion();
    const report = await f.updater({ config: { maxRootRotations: 2 } }).refresh();
    assert.deepEqual(report.rootVersions, [1, 2, 3]);
    assert.equal(report.rootRotationsCapped, true);
  } finally {
    await f.close();
  }
});

test('accepts an RSA-PSS root and ECDSA P-256 role keys', T, async () => {
  const f = await setup({ rootKeyKind: 'rsa', roleKeyKind: 'ecdsa' }, (sim) => {
    sim.addTarget('pkg.tar', 'rsa and ecdsa');
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    const info = await u.getTargetInfo('pkg.tar');
    assert.ok(info);
    const path = await u.downloadTarget(info);
    assert.equal(await readFile(path, 'utf8'), 'rsa and ecdsa');
  } finally {
    await f.close();
  }
});

test('downloads a target as HASH.NAME with consistent snapshots and hits the cache next time', T, async () => {
  const f = await setup({ consistentSnapshot: true }, (sim) => {
    sim.addTarget('dir/file.txt', 'content of file');
    sim.publish();
  });
  try {
    const u = f.updater();
    const info = await u.getTargetInfo('dir/file.txt');
    assert.ok(info);
    assert.equal(await u.findCachedTarget(info), undefined);
    f.server.clearRequests();
    const path = await u.downloadTarget(info);
    assert.deepEqual(f.server.requests, [`targets/dir/${info.hashes.sha256}.file.txt`]);
    assert.equal(path, join(f.targetDir, 'dir%2Ffile.txt'));
    assert.equal(await readFile(path, 'utf8'), 'content of file');
    f.server.clearRequests();
    assert.equal(await u.findCachedTarget(info), path);
    assert.deepEqual(f.server.requests, []);
  } finally {
    await f.close();
  }
});

test('downloads plain target names without consistent snapshots, several at a time', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    for (let i = 0; i < 6; i++) sim.addTarget(`t${i}.bin`, `payload ${i}`);
    sim.publish();
  });
  try {
    const u = f.updater();
    const infos = [];
    for (let i = 0; i < 6; i++) infos.push((await u.getTargetInfo(`t${i}.bin`))!);
    f.server.clearRequests();
    const paths = await u.downloadTargets(infos, 3);
    assert.deepEqual(f.server.requests.sort(), infos.map((i) => `targets/${i.path}`).sort());
    for (let i = 0; i < 6; i++) assert.equal(await readFile(paths[i]!, 'utf8'), `payload ${i}`);
  } finally {
    await f.close();
  }
});

test('getTargetInfo returns undefined for a path no role lists', T, async () => {
  const f = await setup();
  try {
    assert.equal(await f.updater().getTargetInfo('missing.txt'), undefined);
  } finally {
    await f.close();
  }
});

test('delegation search is pre-order depth-first and loads only what it needs', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'a', paths: ['*'] });
    sim.delegate('targets', { name: 'b', paths: ['*'] });
    sim.delegate('a', { name: 'a1', paths: ['*.txt'] });
    sim.delegate('a', { name: 'a2', paths: ['other/*'] });
    sim.addTarget('x.txt', 'from b', 'b');
    sim.addTarget('y.txt', 'from a1', 'a1');
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    const x = await u.getTargetInfo('x.txt');
    assert.equal(x?.length, 6);
    // a, then a's child a1 (a2's paths do not match), then b
    assert.deepEqual(f.server.metadataRequests(), ['a.json', 'a1.json', 'b.json']);
    f.server.clearRequests();
    const y = await u.getTargetInfo('y.txt');
    assert.equal(y?.length, 7);
    assert.deepEqual(f.server.metadataRequests(), [], 'roles already loaded are not fetched again');
  } finally {
    await f.close();
  }
});

test('a terminating delegation stops the search from backtracking', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'term', paths: ['*'], terminating: true });
    sim.delegate('targets', { name: 'later', paths: ['*'] });
    sim.addTarget('x.txt', 'from later', 'later');
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    assert.equal(await u.getTargetInfo('x.txt'), undefined);
    assert.deepEqual(f.server.metadataRequests(), ['term.json']);
  } finally {
    await f.close();
  }
});

test('a delegation cycle terminates and maxDelegations bounds the search', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'a', paths: ['*'] });
    sim.delegate('a', { name: 'b', paths: ['*'] });
    sim.delegate('b', { name: 'a', paths: ['*'], keys: sim.signers.get('a')! });
    for (let i = 0; i < 5; i++) sim.delegate('targets', { name: `r${i}`, paths: ['*'] });
    sim.publish();
  });
  try {
    const v = f.updater({ config: { maxDelegations: 2 } });
    await v.refresh();
    f.server.clearRequests();
    assert.equal(await v.getTargetInfo('nowhere.txt'), undefined);
    // targets, a, b: three roles visited, then the cap stops the search
    assert.deepEqual(f.server.metadataRequests(), ['a.json', 'b.json']);
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    assert.equal(await u.getTargetInfo('nowhere.txt'), undefined);
    // a and b come from the local cache; b -> a is skipped as visited; then r0..r4
    assert.deepEqual(f.server.metadataRequests(), ['r0.json', 'r1.json', 'r2.json', 'r3.json', 'r4.json']);
  } finally {
    await f.close();
  }
});

test('succinct hash bins: the target is found in its bin and only that bin is fetched', T, async () => {
  const f = await setup({ consistentSnapshot: true }, (sim) => {
    sim.succinctBins('targets', 4);
    for (const p of ['alpha', 'beta', 'gamma']) sim.addTarget(p, `data ${p}`, RepositorySimulator.binFor(p, 4));
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    const info = await u.getTargetInfo('beta');
    assert.equal(info?.length, 'data beta'.length);
    assert.deepEqual(f.server.metadataRequests(), [`1.${RepositorySimulator.binFor('beta', 4)}.json`]);
    assert.equal(await u.getTargetInfo('not-there'), undefined);
  } finally {
    await f.close();
  }
});

test('getTargetInfos resolves many paths concurrently, fetching each needed bin once', T, async () => {
  const paths = Array.from({ length: 40 }, (_, i) => `pkg-${i}`);
  const f = await setup({ consistentSnapshot: true }, (sim) => {
    sim.succinctBins('targets', 3);
    for (const p of paths) sim.addTarget(p, `data ${p}`, RepositorySimulator.binFor(p, 3));
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    const infos = await u.getTargetInfos([...paths, 'not-there'], 8);
    assert.deepEqual(infos.map((i) => i?.path), [...paths, undefined]);
    const requests = f.server.metadataRequests();
    assert.equal(new Set(requests).size, requests.length, `a bin was fetched twice: ${requests.join(', ')}`);
    const bins = new Set(paths.map((p) => RepositorySimulator.binFor(p, 3)));
    bins.add(RepositorySimulator.binFor('not-there', 3));
    assert.deepEqual(new Set(requests), new Set([...bins].map((b) => `1.${b}.json`)));
    const paths2 = await u.downloadTargets(infos.slice(0, 5).map((i) => i!), 3);
    for (const [k, p] of paths2.entries()) assert.equal(await readFile(p, 'utf8'), `data ${paths[k]}`);
  } finally {
    await f.close();
  }
});

test('path_hash_prefixes delegations route by the SHA-256 of the path', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'low', pathHashPrefixes: ['0', '1', '2', '3', '4', '5', '6', '7'] });
    sim.delegate('targets', { name: 'high', pathHashPrefixes: ['8', '9', 'a', 'b', 'c', 'd', 'e', 'f'] });
    // sha256('p1') starts with a hex digit; put the target in both roles, the right one answers
    sim.addTarget('p1', 'low copy', 'low');
    sim.addTarget('p1', 'high copy', 'high');
    sim.publish();
  });
  try {
    const info = await f.updater().getTargetInfo('p1');
    const first = (await import('node:crypto')).createHash('sha256').update('p1').digest('hex')[0]!;
    assert.equal(info?.length, parseInt(first, 16) < 8 ? 'low copy'.length : 'high copy'.length);
  } finally {
    await f.close();
  }
});

test('delegated role names are URL-encoded in URLs and file names', T, async () => {
  const f = await setup({ consistentSnapshot: true }, (sim) => {
    sim.delegate('targets', { name: 'team a/b', paths: ['*'] });
    sim.addTarget('f.txt', 'x', 'team a/b');
    sim.publish();
  });
  try {
    const u = f.updater();
    await u.refresh();
    f.server.clearRequests();
    assert.ok(await u.getTargetInfo('f.txt'));
    assert.deepEqual(f.server.requests, ['metadata/1.team%20a%2Fb.json']);
    const stored = await readFile(join(f.metadataDir, 'team%20a%2Fb.json'));
    assert.ok(stored.equals(f.sim.files.get('metadata/team%20a%2Fb.json')!));
  } finally {
    await f.close();
  }
});

test('refresh without a trusted root is refused', T, async () => {
  const f = await setup();
  try {
    const { Updater } = await import('../../src/tuf/index.js');
    const u = new Updater({ metadataDir: join(f.dir, 'empty'), metadataBaseUrl: f.server.metadataUrl });
    await assert.rejects(u.refresh(), (e: unknown) => e instanceof TufError && e.code === 'NOT_TRUSTED');
  } finally {
    await f.close();
  }
});
