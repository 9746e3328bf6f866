// test/policy/release-state.test.ts: the release policy witnesses apply before co-signing
// (docs/design.md "What a witness checks"). Each attack builds a release a thief of some keys could
// make and checks that the policy refuses it with the rule that failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkGenesisState, checkSuccessorState, checkPayloadMatches, checkClockSkew, digestOf, PolicyError,
  type ReleaseDocuments, type ReleaseState,
} from '../../src/policy/index.js';
import { RepositorySimulator, ed25519Key, signDocument, isoIn, type SimKey } from '../fixtures/repository-simulator.js';

const now = (): Date => new Date();

/** A repository whose snapshot pins every role by length and sha256, as witnesses require. */
const repository = (): RepositorySimulator => new RepositorySimulator({ snapshotHashes: true });

/** The documents of the simulator's current release: roots after `fromRoot`, snapshot, and the given roles. */
function documents(sim: RepositorySimulator, roles: string[], fromRoot = 0): ReleaseDocuments {
  const roots: Uint8Array[] = [];
  for (const [v, bytes] of [...sim.rootHistory].sort((a, b) => a[0] - b[0])) if (v > fromRoot) roots.push(bytes);
  const targets: Record<string, Uint8Array> = {};
  for (const r of roles) targets[r] = sim.files.get(`metadata/${r}.json`)!;
  return { roots, snapshot: sim.files.get('metadata/snapshot.json')!, targets };
}

function genesis(sim: RepositorySimulator): ReleaseState {
  const roles = [...sim.signed.keys()].filter((r) => !['root', 'snapshot', 'timestamp'].includes(r));
  return checkGenesisState(documents(sim, roles), now());
}

function refused(rule: PolicyError['code'], fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.equal(e.code, rule, e.message);
    return true;
  });
}

/** Signs a role with `keys` and publishes it with snapshot and timestamp (the online keys pin its bytes). */
function forge(sim: RepositorySimulator, role: string, keys: SimKey[]): void {
  sim.signers.set(role, keys);
  sim.publish();
}

test('accepts a genesis state and a valid successor, and the payload digest describes it', () => {
  const sim = repository();
  sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  sim.publish();
  const first = genesis(sim);
  sim.addTarget('apps/x', 'x', 'apps');
  sim.bump('apps');
  sim.bump('snapshot');
  sim.publish();
  const second = checkSuccessorState(first, documents(sim, ['apps'], 1), now());
  assert.equal(second.snapshot.version, 2);
  assert.equal(second.targets.get('apps')!.version, 2);
  assert.equal(second.targets.get('targets'), first.targets.get('targets'), 'unchanged roles are reused');
  checkPayloadMatches(digestOf(second), second);
});

test('refuses targets signed by someone other than the developers (stolen online keys only)', () => {
  const sim = repository();
  const first = genesis(sim);
  sim.addTarget('evil', 'malware');
  sim.bump('targets');
  sim.bump('snapshot');
  forge(sim, 'targets', [ed25519Key()]);
  refused('SIGNATURE_THRESHOLD', () => checkSuccessorState(first, documents(sim, ['targets'], 1), now()));
});

test('refuses a delegated role signed by a key its delegation does not list', () => {
  const sim = repository();
  sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  sim.publish();
  const first = genesis(sim);
  sim.addTarget('apps/evil', 'malware', 'apps');
  sim.bump('apps');
  sim.bump('snapshot');
  forge(sim, 'apps', [ed25519Key()]);
  refused('SIGNATURE_THRESHOLD', () => checkSuccessorState(first, documents(sim, ['apps'], 1), now()));
});

test('refuses a snapshot signed by a key root does not list', () => {
  const sim = repository();
  const first = genesis(sim);
  sim.bump('snapshot');
  sim.publish();
  sim.files.set('metadata/snapshot.json', signDocument(sim.role('snapshot'), [ed25519Key()]));
  refused('SIGNATURE_THRESHOLD', () => checkSuccessorState(first, documents(sim, [], 1), now()));
});

test('refuses a snapshot rollback and a role version rollback', () => {
  const sim = repository();
  sim.bump('snapshot');
  sim.bump('targets');
  sim.publish();
  const state = genesis(sim);
  const snap = sim.role('snapshot');
  snap.version = 1;
  sim.publish();
  refused('ROLLBACK', () => checkSuccessorState(state, documents(sim, [], 1), now()));
  snap.version = 3;
  sim.role('targets').version = 1;
  sim.publish();
  refused('ROLLBACK', () => checkSuccessorState(state, documents(sim, ['targets'], 1), now()));
});

test('refuses a snapshot that drops a role', () => {
  const sim = repository();
  sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  sim.publish();
  const state = genesis(sim);
  sim.signed.delete('apps');
  sim.role('targets').delegations = undefined as never;
  delete sim.role('targets').delegations;
  sim.bump('targets');
  sim.bump('snapshot');
  sim.publish();
  refused('REMOVED_ROLE', () => checkSuccessorState(state, documents(sim, ['targets'], 1), now()));
});

test('refuses one version with two contents (a role changed without a new version)', () => {
  const sim = repository();
  const state = genesis(sim);
  sim.addTarget('sneaky', 'same version, other content');
  sim.bump('snapshot');
  sim.publish();
  refused('VERSION_MISMATCH', () => checkSuccessorState(state, documents(sim, ['targets'], 1), now()));
});

test('refuses a snapshot that lists a role by version alone: the block would not commit to its bytes', () => {
  const unpinned = new RepositorySimulator({ snapshotHashes: false });
  unpinned.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  unpinned.publish();
  refused('UNPINNED_ROLE', () => genesis(unpinned));

  const sim = repository();
  sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  sim.publish();
  const state = genesis(sim);
  sim.snapshotHashes = false; // the publisher signs a snapshot without hashes on purpose
  sim.bump('snapshot');
  sim.publish();
  refused('UNPINNED_ROLE', () => checkSuccessorState(state, documents(sim, [], 1), now()));
});

test('refuses a snapshot that pins other bytes for a role at its recorded version (re-signed, not supplied)', () => {
  const sim = repository();
  sim.delegate('targets', { name: 'apps', paths: ['apps/*'] });
  sim.addTarget('apps/tool', 'tool v1', 'apps');
  sim.publish();
  const state = genesis(sim);
  // A delegated key holder re-signs apps at the same version with another target hash; the
  // snapshot pins the new bytes, and the leader leaves the role out so the witness keeps its copy.
  sim.addTarget('apps/tool', 'malware', 'apps');
  sim.bump('snapshot');
  sim.publish();
  refused('HASH_MISMATCH', () => checkSuccessorState(state, documents(sim, [], 1), now()));
});

test('refuses a changed role whose document was not supplied', () => {
  const sim = repository();
  const state = genesis(sim);
  sim.bump('targets');
  sim.bump('snapshot');
  sim.publish();
  refused('MISSING_DOCUMENT', () => checkSuccessorState(state, documents(sim, [], 1), now()));
});

test('refuses a role that no role delegates', () => {
  const sim = repository();
  sim.signed.set('orphan', { ...sim.role('targets') });
  sim.signers.set('orphan', sim.signers.get('targets')!);
  sim.publish();
  refused('UNDELEGATED_ROLE', () => genesis(sim));
});

test('refuses an expired role', () => {
  const sim = repository();
  const state = genesis(sim);
  sim.role('targets').expires = isoIn(-1);
  sim.bump('targets');
  sim.bump('snapshot');
  sim.publish();
  refused('EXPIRED', () => checkSuccessorState(state, documents(sim, ['targets'], 1), now()));
});

test('a root rotation needs the old and the new root threshold', () => {
  const sim = repository();
  const state = genesis(sim);
  // Signed only by the new root key: a thief cannot rotate the root without the old keys.
  sim.rotateKeys('root', [ed25519Key()], 1, false);
  sim.bump('snapshot');
  sim.publish();
  refused('ROOT_CHAIN', () => checkSuccessorState(state, documents(sim, [], 1), now()));

  const ok = repository();
  const okState = genesis(ok);
  ok.rotateKeys('root', [ed25519Key()], 1, true);
  ok.bump('snapshot');
  ok.publish();
  assert.equal(checkSuccessorState(okState, documents(ok, [], 1), now()).root.version, 2);
});

test('a root that skips a version is refused', () => {
  const sim = repository();
  const state = genesis(sim);
  sim.newRootVersion();
  sim.newRootVersion();
  sim.bump('snapshot');
  sim.publish();
  refused('ROOT_CHAIN', () => checkSuccessorState(state, { ...documents(sim, [], 1), roots: [sim.rootHistory.get(3)!] }, now()));
});

test('the block payload must describe the documents, and its time must be within the skew', () => {
  const sim = repository();
  const state = genesis(sim);
  const digest = digestOf(state);
  refused('PAYLOAD_MISMATCH', () => checkPayloadMatches({ ...digest, snapshot: { ...digest.snapshot, sha256: '00'.repeat(32) } }, state));
  checkClockSkew(new Date().toISOString(), now(), 60);
  refused('CLOCK_SKEW', () => checkClockSkew(new Date(Date.now() - 3600_000).toISOString(), now(), 60));
});
