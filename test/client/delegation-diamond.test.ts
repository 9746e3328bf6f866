// test/client/delegation-diamond.test.ts: the witnessed client searches delegations with the TUF
// updater's own search (docs/protocol.md "Delegations reached through several delegators"): a
// witnessed release whose diamond role X is signed by branch A's key alone, listing a target in
// branch B's paths, still resolves A's target, refuses B's with THRESHOLD_NOT_MET, and leaves the
// trusted files and the target directory as they were. Served over HTTP on 127.0.0.1 with a
// real skipchain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TufError } from '../../src/tuf/index.js';
import { addDelegationDiamond } from '../fixtures/delegation-diamond.js';
import { assertRefused, setupWitnessed, T, treeContents } from './helpers.js';

test('a witnessed client refuses a diamond role signed by one branch\'s key for a target in the other branch\'s paths', T, async () => {
  const f = await setupWitnessed({
    prepare: (sim) => {
      sim.signers.set('X', [addDelegationDiamond(sim).keyA]);
      sim.addTarget('a/app', 'app', 'X');
      sim.addTarget('b/evil', 'not from B', 'X');
    },
  });
  try {
    await f.init();
    f.repo.sim.release('targets');
    await f.repo.witness();
    const client = f.client();
    const app = await client.getTargetInfo('a/app');
    assert.ok(app);
    await client.downloadTarget(app);
    assert.ok(await client.getTargetInfo('b/own'));
    const targetsBefore = await treeContents(f.targetDir);
    await assertRefused(f.metadataDir, () => client.getTargetInfo('b/evil'), TufError, 'THRESHOLD_NOT_MET');
    assert.deepEqual(await treeContents(f.targetDir), targetsBefore);
  } finally {
    await f.close();
  }
});
