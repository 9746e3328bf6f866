// test/repo/distinct-keys.test.ts: the publisher counts keys as clients do (docs/protocol.md
// "Distinct keys"): a targets role whose root lists one key twice, written another way, is below
// a threshold of 2 however many key IDs signed it, and publish refuses it and writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { publish, RepoError } from '../../src/repo/index.js';
import { rewrittenKeys, signerAs } from '../fixtures/key-variants.js';
import { makeRepo, tempDir, testKeys, treeSnapshot } from './fixtures.js';

test('refuses to publish a role signed by one key listed twice toward a threshold of 2, and writes nothing', { timeout: 30_000 }, async () => {
  for (const variant of rewrittenKeys(testKeys().targets[0]!.publicKey)) {
    const { dir, cleanup } = await tempDir();
    try {
      const keys = testKeys();
      const key = keys.targets[0]!;
      const twin = signerAs(key, rewrittenKeys(key.publicKey).find((v) => v.how === variant.how)!);
      await makeRepo(dir, { ...keys, targets: [key, twin] }, { thresholds: { targets: 2 } });
      const before = await treeSnapshot(join(dir, 'public'));
      await assert.rejects(publish(dir, { signers: [...keys.snapshot, ...keys.timestamp] }), (e: unknown) => {
        assert.ok(e instanceof RepoError, `${variant.how}: ${String(e)}`);
        assert.equal(e.code, 'THRESHOLD_NOT_MET', `${variant.how}: ${e.message}`);
        return true;
      });
      assert.deepEqual(await treeSnapshot(join(dir, 'public')), before, variant.how);
    } finally {
      await cleanup();
    }
  }
});
