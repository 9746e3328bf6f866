// test/repo/publish.test.ts: the publisher workflow end to end through the library (TUF spec
// 1.0.x sections 4 and 6): publishing, threshold refusal, wrong keys, root rotation, layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addTargets, collectTargetSources, publish, rotateRoot, signRole, signDetached, mergeSignature, removeTargets, repoStatus,
  RepoError, Workspace, parseDetachedSignature, refreshRole, addSignature, delegatePaths, enableMetaHashes,
} from '../../src/repo/index.js';
import { sha256Hex } from '../../src/crypto/index.js';
import { makeRepo, signers, tempDir, testKeys, treeSnapshot, verifyPublished, writeSource } from './fixtures.js';

const T = { timeout: 30_000 };

test('publishes a repository that verifies root -> timestamp -> snapshot -> targets, consistent layout', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const repo = join(dir, 'repo');
    await makeRepo(repo, keys);
    await writeSource(dir, 'src/app/a.txt', 'alpha');
    await writeSource(dir, 'src/app/sub/b.txt', 'beta');
    const { sources } = await collectTargetSources([join(dir, 'src')]);
    const { added } = await addTargets(repo, sources, { custom: { channel: 'stable' }, signers: keys.targets });
    assert.deepEqual(added.map((a) => a.path).sort(), ['app/a.txt', 'app/sub/b.txt']);
    const result = await publish(repo, { signers: [...keys.snapshot, ...keys.timestamp] });
    assert.equal(result.rootVersion, 1);
    assert.equal(result.snapshotVersion, 1);
    const { roles } = await verifyPublished(repo);
    const targets = roles.get('targets')!;
    assert.deepEqual(targets.signed.targets['app/a.txt']!.custom, { channel: 'stable' });
    const meta = await readdir(join(repo, 'public', 'metadata'));
    for (const f of ['1.root.json', 'root.json', 'timestamp.json', '1.snapshot.json', 'snapshot.json', '1.targets.json', 'targets.json']) {
      assert.ok(meta.includes(f), `public/metadata/${f}`);
    }
    const sha = targets.signed.targets['app/sub/b.txt']!.hashes.sha256!;
    assert.equal(await readFile(join(repo, 'public', 'targets', 'app', 'sub', `${sha}.b.txt`), 'utf8'), 'beta');
    // Second cycle: several changes bump targets once.
    await writeSource(dir, 'c.txt', 'gamma');
    await addTargets(repo, (await collectTargetSources([join(dir, 'c.txt')], { path: 'app/c.txt' })).sources, { signers: keys.targets });
    await removeTargets(repo, ['app/a.txt'], { signers: keys.targets });
    const ws = await Workspace.open(repo);
    assert.equal((await ws.targetsRole('targets')).signed.version, 2);
    const second = await publish(repo, { signers: [...keys.snapshot, ...keys.timestamp] });
    assert.deepEqual(second.published, [{ role: 'targets', version: 2 }]);
    const again = await verifyPublished(repo);
    assert.deepEqual(Object.keys(again.roles.get('targets')!.signed.targets).sort(), ['app/c.txt', 'app/sub/b.txt']);
  } finally {
    await cleanup();
  }
});

test('refuses to publish a role below its threshold and writes nothing', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys({ targets: 3 });
    await makeRepo(dir, keys, { thresholds: { targets: 2 }, sign: false });
    await signRole(dir, 'root', keys.root);
    await signRole(dir, 'targets', [keys.targets[0]!, keys.targets[1]!]);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    await writeSource(dir, 'in/x.bin', 'payload');
    await addTargets(dir, [{ file: join(dir, 'in/x.bin'), path: 'x.bin' }], { signers: [keys.targets[2]!] });
    const before = await treeSnapshot(join(dir, 'public'));
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] }), (e: unknown) => {
      assert.ok(e instanceof RepoError);
      assert.equal(e.code, 'THRESHOLD_NOT_MET');
      assert.match(e.message, /targets version 2 has 1 valid signature\(s\), needs 2/);
      assert.ok(e.message.includes(keys.targets[0]!.keyid.slice(0, 12)) && e.message.includes(keys.targets[1]!.keyid.slice(0, 12)));
      return true;
    });
    assert.deepEqual(await treeSnapshot(join(dir, 'public')), before);
    // Missing timestamp key: also refused, also nothing written.
    await signRole(dir, 'targets', [keys.targets[0]!]);
    await assert.rejects(publish(dir, { signers: keys.snapshot }), /timestamp version \d+ has 0 valid/);
    assert.deepEqual(await treeSnapshot(join(dir, 'public')), before);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    await verifyPublished(dir);
  } finally {
    await cleanup();
  }
});

test('a signature by a key outside the role does not count', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(dir, keys, { sign: false });
    await signRole(dir, 'root', keys.root);
    const [outsider] = signers(1);
    await assert.rejects(signRole(dir, 'targets', [outsider!]), (e: unknown) => e instanceof RepoError && e.code === 'KEY_NOT_AUTHORIZED');
    // Forge the staged file directly: the signature is valid, but its key is not a targets key.
    const ws = await Workspace.open(dir);
    const md = await ws.targetsRole('targets');
    addSignature(md, outsider!);
    addSignature(md, keys.snapshot[0]!); // a real repository key, but of another role
    await ws.saveSignatures('targets', md);
    const before = await treeSnapshot(dir);
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] }), /targets version 1 has 0 valid signature/);
    assert.deepEqual(await treeSnapshot(dir), before);
    const status = await repoStatus(dir);
    const t = status.roles.find((r) => r.role === 'targets')!;
    assert.equal(t.ready, false);
    assert.deepEqual(t.signatures[0]!.missing, [keys.targets[0]!.keyid]);
    assert.equal(t.signatures[0]!.ignored.length, 2);
  } finally {
    await cleanup();
  }
});

test('root rotation needs the thresholds of both the old and the new root', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys({ root: 2 });
    await makeRepo(dir, keys, { thresholds: { root: 2 } });
    const ts = [...keys.snapshot, ...keys.timestamp];
    await publish(dir, { signers: ts });
    const newRoot = signers(2);
    const newTimestamp = signers(1);
    await rotateRoot(dir, { roles: { root: { keys: newRoot.map((s) => s.publicKey), threshold: 2 }, timestamp: { keys: newTimestamp.map((s) => s.publicKey) } } });
    const before = await treeSnapshot(join(dir, 'public'));
    // Only the new root's keys.
    await signRole(dir, 'root', newRoot);
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...newTimestamp] }), (e: unknown) =>
      e instanceof RepoError && e.code === 'THRESHOLD_NOT_MET' && /by root version 1/.test(e.message));
    assert.deepEqual(await treeSnapshot(join(dir, 'public')), before);
    // Only the old root's keys (new signatures dropped by changing the root again, then re-signed by old keys).
    await rotateRoot(dir, { roles: { root: { keys: newRoot.map((s) => s.publicKey), threshold: 2 } } });
    const st = await repoStatus(dir);
    assert.equal(st.roles.find((r) => r.role === 'root')!.version, 2, 'bumped once per publish cycle');
    await signRole(dir, 'root', keys.root);
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...newTimestamp] }), /root version 2 has 0 valid signature\(s\), needs 2/);
    assert.deepEqual(await treeSnapshot(join(dir, 'public')), before);
    // Old timestamp key no longer accepted once root rotates it away.
    await signRole(dir, 'root', newRoot);
    await assert.rejects(publish(dir, { signers: ts }), /timestamp version 2 has 0 valid/);
    const result = await publish(dir, { signers: [...keys.snapshot, ...newTimestamp] });
    assert.equal(result.rootVersion, 2);
    const { root } = await verifyPublished(dir);
    assert.equal(root.signed.version, 2);
    assert.ok((await stat(join(dir, 'public', 'metadata', '2.root.json'))).isFile());
  } finally {
    await cleanup();
  }
});

test('rotating targets keys requires targets to be signed again by the new keys', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(dir, keys);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const newTargets = signers(1);
    await rotateRoot(dir, { roles: { targets: { keys: newTargets.map((s) => s.publicKey) } }, signers: keys.root });
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] }), /targets version 2 has 0 valid/);
    await signRole(dir, 'targets', newTargets);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    await verifyPublished(dir);
  } finally {
    await cleanup();
  }
});

test('detached signatures merge; a signature over an older staged version is refused', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys({ targets: 2 });
    await makeRepo(dir, keys, { thresholds: { targets: 2 }, sign: false });
    await signRole(dir, 'root', keys.root);
    const a = await signDetached(dir, 'targets', keys.targets[0]!);
    const b = parseDetachedSignature(JSON.stringify(await signDetached(dir, 'targets', keys.targets[1]!)), 'sig.json');
    await mergeSignature(dir, a);
    const reports = await mergeSignature(dir, b);
    assert.equal(reports[0]!.met, true);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    await writeSource(dir, 'f', 'x');
    await addTargets(dir, [{ file: join(dir, 'f'), path: 'f' }]);
    const stale = await signDetached(dir, 'targets', keys.targets[0]!);
    await writeSource(dir, 'g', 'y');
    await addTargets(dir, [{ file: join(dir, 'g'), path: 'g' }]);
    await assert.rejects(mergeSignature(dir, stale), (e: unknown) => e instanceof RepoError && e.code === 'STALE_SIGNATURE');
    await assert.rejects(mergeSignature(dir, { ...(await signDetached(dir, 'targets', keys.targets[0]!)), sig: '00'.repeat(64) }),
      (e: unknown) => e instanceof RepoError && e.code === 'BAD_SIGNATURE');
  } finally {
    await cleanup();
  }
});

/** The published snapshot's entries by role file, and the sha256 of each published role file. */
async function publishedPins(repo: string): Promise<{ meta: Record<string, { version: number; length?: number; hashes?: { sha256: string } }>; sha256: (role: string, version: number) => Promise<string> }> {
  const snapshot = JSON.parse(await readFile(join(repo, 'public', 'metadata', 'snapshot.json'), 'utf8')) as { signed: { meta: Record<string, { version: number; length?: number; hashes?: { sha256: string } }> } };
  return { meta: snapshot.signed.meta, sha256: async (role, version) => sha256Hex(await readFile(join(repo, 'public', 'metadata', `${version}.${role}.json`))) };
}

test('snapshot pins every role by length and sha256 by default; a repository made without comes to pin them all after enable-meta-hashes', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const [dev] = signers(1);
    const stage = async (repo: string): Promise<void> => {
      await delegatePaths(repo, 'apps', ['apps/*'], { keys: [dev!.publicKey], threshold: 1, signers: [...keys.targets, dev!] });
      const a = await writeSource(dir, 'in/a', 'a');
      await addTargets(repo, [{ file: a, path: 'apps/a.tar' }, { file: a, path: 'top.txt' }], { signers: [dev!, ...keys.targets] });
      await publish(repo, { signers: [...keys.snapshot, ...keys.timestamp] });
    };
    const fresh = join(dir, 'fresh');
    await makeRepo(fresh, keys);
    await stage(fresh);
    const pins = await publishedPins(fresh);
    assert.deepEqual(Object.keys(pins.meta).sort(), ['apps.json', 'targets.json']);
    for (const [file, entry] of Object.entries(pins.meta)) assert.equal(entry.hashes?.sha256, await pins.sha256(file.slice(0, -5), entry.version), file);

    const old = join(dir, 'old');
    await makeRepo(old, keys, { metaHashes: false });
    await stage(old);
    assert.ok(Object.values((await publishedPins(old)).meta).every((e) => e.hashes === undefined && e.length === undefined), 'roles listed by version alone');
    assert.equal(await enableMetaHashes(old), true);
    assert.equal(await enableMetaHashes(old), false, 'already on');
    const republished = await publish(old, { signers: [...keys.snapshot, ...keys.timestamp] }); // nothing staged: only the pins change
    assert.deepEqual(republished.published, []);
    assert.equal(republished.snapshotVersion, 2);
    const after = await publishedPins(old);
    for (const [file, entry] of Object.entries(after.meta)) {
      assert.equal(entry.version, 1, file);
      assert.equal(entry.hashes?.sha256, await after.sha256(file.slice(0, -5), 1), file);
      assert.equal(typeof entry.length, 'number', file);
    }
    await verifyPublished(old);
  } finally {
    await cleanup();
  }
});

test('without consistent snapshots, plain names are served', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(dir, keys, { consistentSnapshot: false });
    await writeSource(dir, 'in/pkg.tar', 'tarball');
    await addTargets(dir, [{ file: join(dir, 'in/pkg.tar'), path: 'pkgs/pkg.tar' }], { signers: keys.targets });
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    await verifyPublished(dir);
    assert.equal(await readFile(join(dir, 'public', 'targets', 'pkgs', 'pkg.tar'), 'utf8'), 'tarball');
    const meta = await readdir(join(dir, 'public', 'metadata'));
    assert.ok(!meta.includes('1.targets.json') && meta.includes('targets.json') && meta.includes('1.root.json'));
  } finally {
    await cleanup();
  }
});

test('refuses target paths that escape the targets directory', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(dir, keys);
    await writeSource(dir, 'in/x', 'x');
    for (const bad of ['../x', '/etc/passwd', 'a//b', 'a/./b', 'a\\b']) {
      await assert.rejects(addTargets(dir, [{ file: join(dir, 'in/x'), path: bad }]), (e: unknown) => e instanceof RepoError && e.code === 'BAD_TARGET_PATH');
    }
  } finally {
    await cleanup();
  }
});

test('refresh re-issues a role with a new version and the expiry asked for', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(dir, keys);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const expires = new Date('2031-01-01T00:00:00Z');
    const [change] = await refreshRole(dir, 'targets', { expires, signers: keys.targets });
    assert.equal(change!.version, 2);
    assert.equal(change!.expires, '2031-01-01T00:00:00Z');
    await refreshRole(dir, 'targets', { expires, signers: keys.targets });
    const result = await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    assert.deepEqual(result.published, [{ role: 'targets', version: 2 }]);
    assert.equal((await verifyPublished(dir)).roles.get('targets')!.signed.expires, '2031-01-01T00:00:00Z');
  } finally {
    await cleanup();
  }
});
