// test/policy/delegation-diamond.test.ts: the release policy witnesses apply to a delegation
// diamond (docs/protocol.md "Delegations reached through several delegators"): a role that two
// roles delegate to must meet both delegations, so the holder of one branch's key cannot have the
// witnesses log a role that the other branch's keys never signed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGenesisState, checkSuccessorState, PolicyError, type ReleaseDocuments } from '../../src/policy/index.js';
import { addDelegationDiamond } from '../fixtures/delegation-diamond.js';
import { RepositorySimulator, type SimKey } from '../fixtures/repository-simulator.js';

function documents(sim: RepositorySimulator, roles: string[], fromRoot = 0): ReleaseDocuments {
  const roots = [...sim.rootHistory].sort((a, b) => a[0] - b[0]).filter(([v]) => v > fromRoot).map(([, bytes]) => bytes);
  const targets = Object.fromEntries(roles.map((r) => [r, sim.files.get(`metadata/${r}.json`)!]));
  return { roots, snapshot: sim.files.get('metadata/snapshot.json')!, targets };
}

function diamond(): { sim: RepositorySimulator; keyA: SimKey; keyB: SimKey } {
  const sim = new RepositorySimulator({ snapshotHashes: true }); // witnesses refuse unpinned roles
  return { sim, ...addDelegationDiamond(sim) };
}

function refusedThreshold(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.equal(e.code, 'SIGNATURE_THRESHOLD', e.message);
    assert.match(e.message, /B v1/);
    return true;
  });
}

test('refuses a diamond role signed by one branch\'s key only, at genesis and in a successor', () => {
  const { sim, keyA, keyB } = diamond();
  sim.signers.set('X', [keyA]);
  sim.addTarget('b/evil', 'not from B', 'X');
  sim.publish();
  refusedThreshold(() => checkGenesisState(documents(sim, ['targets', 'A', 'B', 'X']), new Date()));

  // A legitimate genesis, then a release in which only A's key holder re-signed X.
  sim.signers.set('X', [keyA, keyB]);
  sim.publish();
  const first = checkGenesisState(documents(sim, ['targets', 'A', 'B', 'X']), new Date());
  sim.signers.set('X', [keyA]);
  sim.release('X');
  refusedThreshold(() => checkSuccessorState(first, documents(sim, ['X'], 1), new Date()));
  // Signed by both branches' keys, the same release is accepted.
  sim.signers.set('X', [keyA, keyB]);
  sim.publish();
  assert.equal(checkSuccessorState(first, documents(sim, ['X'], 1), new Date()).targets.get('X')!.version, 2);
});
