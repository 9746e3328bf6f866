// test/repo/delegations.test.ts: delegations (TUF spec 1.0.x 4.5), classic hash bins and
// succinct hash bins (TAP 15): placement agrees with @tufjs/models, the published tree verifies
// through root -> timestamp -> snapshot -> targets -> bins, and one new target in a
// 100,000-target repository is published quickly, touching only its bin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { MetadataKind } from '@tufjs/models';
import {
  addTargets, delegateHashBins, delegatePaths, delegateSuccinct, hashBinPrefixes, publish, removeTargets, roleForTarget,
  signRole, RepoError, Workspace, repoStatus, buildMetadata, writeMetadataFile, addSignature,
} from '../../src/repo/index.js';
import type { Metadata, Targets } from '@tufjs/models';
import { makeRepo, signers, tempDir, testKeys, verifyPublished, writeSource } from './fixtures.js';

const T = { timeout: 60_000 };
const targetPath = fc.array(fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..'), { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));

test('classic hash-bin placement agrees with DelegatedRole.isDelegatedPath; published bins verify', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const binKeys = signers(1);
    await makeRepo(dir, keys);
    const { roles } = await delegateHashBins(dir, 'bins', 16, { keys: binKeys.map((s) => s.publicKey), threshold: 1, signers: [...keys.targets, ...binKeys] });
    assert.equal(roles.length, 16);
    const ws = await Workspace.open(dir);
    const delegations = (await ws.targetsRole('targets')).signed.delegations!;
    await fc.assert(fc.asyncProperty(targetPath, async (p) => {
      const role = await roleForTarget(ws, p);
      const matching = Object.values(delegations.roles!).filter((r) => r.isDelegatedPath(p)).map((r) => r.name);
      assert.deepEqual(matching, [role]);
    }), { numRuns: 200 });
    const files = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => writeSource(dir, `in/${n}.txt`, n)));
    const { added } = await addTargets(dir, files.map((f, i) => ({ file: f, path: `pkg/${i}.txt` })), { signers: binKeys });
    for (const a of added) assert.ok(delegations.roles![a.role]!.isDelegatedPath(a.path));
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const verified = await verifyPublished(dir);
    for (const a of added) assert.ok(verified.roles.get(a.role)!.signed.targets[a.path]);
    // --role naming a bin that does not cover the path is refused.
    const wrong = Object.keys(delegations.roles!).find((n) => n !== added[0]!.role)!;
    await assert.rejects(addTargets(dir, [{ file: files[0]!, path: added[0]!.path }], { role: wrong }),
      (e: unknown) => e instanceof RepoError && e.code === 'PATH_NOT_DELEGATED');
  } finally {
    await cleanup();
  }
});

test('hash bin prefixes partition the prefix space', () => {
  for (const n of [2, 16, 32, 256, 1024]) {
    const bins = hashBinPrefixes(n, 'b');
    assert.equal(bins.length, n);
    const all = bins.flatMap((b) => b.prefixes);
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, 16 ** (n - 1).toString(16).length);
  }
  assert.throws(() => hashBinPrefixes(12, 'b'), RepoError);
});

test('succinct hash-bin placement agrees with SuccinctRoles.getRoleForTarget', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const binKeys = signers(2);
    await makeRepo(dir, keys);
    await delegateSuccinct(dir, 'sbin', 5, { keys: binKeys.map((s) => s.publicKey), threshold: 2, signers: [...keys.targets, ...binKeys] });
    const ws = await Workspace.open(dir);
    const succinct = (await ws.targetsRole('targets')).signed.delegations!.succinctRoles!;
    await fc.assert(fc.asyncProperty(targetPath, async (p) => {
      assert.equal(await roleForTarget(ws, p), succinct.getRoleForTarget(p));
    }), { numRuns: 200 });
    const f = await writeSource(dir, 'in/x', 'x');
    const { added } = await addTargets(dir, [{ file: f, path: 'dir/x' }], { signers: [binKeys[0]!] });
    assert.equal(added[0]!.role, succinct.getRoleForTarget('dir/x'));
    await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] }), new RegExp(`${added[0]!.role} version 1 has 1 valid signature\\(s\\), needs 2`));
    await signRole(dir, added[0]!.role, [binKeys[1]!]);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const { roles } = await verifyPublished(dir);
    assert.equal(roles.size, 1 + 32);
    assert.ok(roles.get(added[0]!.role)!.signed.targets['dir/x']);
    await removeTargets(dir, ['dir/x'], { signers: binKeys });
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    assert.equal((await verifyPublished(dir)).roles.get(added[0]!.role)!.signed.targets['dir/x'], undefined);
  } finally {
    await cleanup();
  }
});

test('path delegation with nested role; targets route to the deepest matching role', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const [dev, nested] = signers(2);
    await makeRepo(dir, keys);
    await delegatePaths(dir, 'releases', ['releases/*'], { keys: [dev!.publicKey], threshold: 1, terminating: true, signers: [...keys.targets, dev!] });
    await delegatePaths(dir, 'nightly', ['releases/nightly-*'], { from: 'releases', keys: [nested!.publicKey], threshold: 1, signers: [dev!, nested!] });
    const a = await writeSource(dir, 'in/a', 'a');
    const { added } = await addTargets(dir, [
      { file: a, path: 'releases/1.0.tar' }, { file: a, path: 'releases/nightly-2.tar' }, { file: a, path: 'other.txt' },
    ], { signers: [dev!, nested!, ...keys.targets] });
    assert.deepEqual(added.map((x) => x.role), ['releases', 'nightly', 'targets']);
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const { roles } = await verifyPublished(dir);
    assert.deepEqual([...roles.keys()].sort(), ['nightly', 'releases', 'targets']);
    const st = await repoStatus(dir);
    assert.deepEqual(st.pendingRoles, []);
    assert.equal(st.roles.find((r) => r.role === 'nightly')!.delegator, 'releases');
  } finally {
    await cleanup();
  }
});

// How long this takes is measured by bench/publish-large.ts, not asserted here.
test('publishing one target into a 100,000-target repository with 256 bins publishes only the bin it lands in', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const [binKey] = signers(1);
    await makeRepo(dir, keys);
    const { roles: bins } = await delegateSuccinct(dir, 'bin', 8, { keys: [binKey!.publicKey], threshold: 1, signers: keys.targets });
    // Fill the bins directly (100,000 entries; the blobs themselves are not needed for this).
    const ws = await Workspace.open(dir);
    const succinct = (await ws.targetsRole('targets')).signed.delegations!.succinctRoles!;
    const perBin = new Map<string, Record<string, { length: number; hashes: { sha256: string } }>>(bins.map((b) => [b, {}]));
    for (let i = 0; i < 100_000; i++) {
      const p = `packages/pkg-${i}/pkg-${i}.tar`;
      perBin.get(succinct.getRoleForTarget(p))![p] = { length: i, hashes: { sha256: i.toString(16).padStart(64, '0') } };
    }
    for (const [bin, targets] of perBin) {
      const md = buildMetadata<Metadata<Targets>>(MetadataKind.Targets, { _type: 'targets', spec_version: '1.0.31', version: 1, expires: '2099-01-01T00:00:00Z', targets }, bin);
      addSignature(md, binKey!);
      await writeMetadataFile(ws.layout.staged(bin), md);
    }
    await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    const f = await writeSource(dir, 'in/new.tar', 'new release');
    const { added } = await addTargets(dir, [{ file: f, path: 'packages/new/new.tar' }], { signers: [binKey!] });
    const result = await publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] });
    assert.deepEqual(result.published, [{ role: added[0]!.role, version: 2 }]);
    // Independent check of the chain to the changed bin (all 257 roles would take @tufjs/models ~10 s).
    const { roles } = await verifyPublished(dir, [added[0]!.role]);
    assert.ok(roles.get(added[0]!.role)!.signed.targets['packages/new/new.tar']);
    const snapshot = JSON.parse(await readFile(join(dir, 'public', 'metadata', 'snapshot.json'), 'utf8')) as { signed: { meta: Record<string, unknown> } };
    assert.equal(Object.keys(snapshot.signed.meta).length, 257);
  } finally {
    await cleanup();
  }
});
