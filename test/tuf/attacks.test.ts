// test/tuf/attacks.test.ts: each attack of TUF spec 1.0.x section 1.5.2 / section 5, served over
// real HTTP on 127.0.0.1 to a real Updater. Each test asserts the typed error and that the
// attacked document was not written (trusted metadata byte-identical but for documents an
// earlier, verified step of the same refresh persisted, as spec 5.4.5 and 5.5.7 require).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { FormatError } from '../../src/errors/index.js';
import { FetchError } from '../../src/io/index.js';
import { TufError } from '../../src/tuf/index.js';
import type { JsonObject } from '../../src/encoding/index.js';
import { ed25519Key, endlessBody, keyJson, signDocument, slowDrip, wrongLength, status, type SimKey } from '../fixtures/repository-simulator.js';
import { addDelegationDiamond } from '../fixtures/delegation-diamond.js';
import { rewrittenKeys, type KeyVariant } from '../fixtures/key-variants.js';
import { assertRefused, dirContents, setup, T, type Fixture } from './helpers.js';

/** A fixture whose client has completed one refresh (so rollback checks have a baseline). */
async function refreshed(options: Parameters<typeof setup>[0] = {}, prepare?: Parameters<typeof setup>[1]): Promise<Fixture> {
  const f = await setup(options, prepare);
  await f.updater().refresh();
  return f;
}

const inDays = (d: number) => () => new Date(Date.now() + d * 86_400_000);

test('refuses a timestamp whose version was rolled back', T, async () => {
  const f = await refreshed();
  try {
    const old = f.sim.files.get('metadata/timestamp.json')!;
    f.sim.release();
    await f.updater().refresh();
    f.sim.files.set('metadata/timestamp.json', old);
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'ROLLBACK');
  } finally {
    await f.close();
  }
});

test('refuses a snapshot whose version was rolled back', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    f.sim.release();
    f.sim.release();
    await f.updater().refresh();
    // a new timestamp (signed with the real key) that names an older snapshot
    const ts = f.sim.role('timestamp');
    ts.version = (ts.version as number) + 1;
    (ts.meta as { 'snapshot.json': { version: number } })['snapshot.json'].version = 1;
    f.sim.files.set('metadata/timestamp.json', signDocument(ts, f.sim.signers.get('timestamp')!));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'ROLLBACK');
  } finally {
    await f.close();
  }
});

test('refuses a snapshot that rolls back a targets version', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    f.sim.release('targets');
    await f.updater().refresh();
    const targets = f.sim.role('targets');
    targets.version = 1;
    f.sim.release(); // snapshot v3 lists targets v1
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'ROLLBACK', ['timestamp.json']);
  } finally {
    await f.close();
  }
});

test('refuses a snapshot that drops a role the trusted snapshot lists', T, async () => {
  const f = await refreshed({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'gone', paths: ['*'] });
    sim.publish();
  });
  try {
    f.sim.signed.delete('gone');
    f.sim.release();
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'MISSING_ROLE', ['timestamp.json']);
  } finally {
    await f.close();
  }
});

test('refuses a root that skips a version (mix-and-match of root versions)', T, async () => {
  const f = await setup();
  try {
    f.sim.newRootVersion();
    // serve version 2's slot with a root that says version 3
    const root = structuredClone(f.sim.root);
    root.version = 3;
    f.sim.files.set('metadata/2.root.json', signDocument(root, f.sim.signers.get('root')!));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'BAD_VERSION');
  } finally {
    await f.close();
  }
});

test('refuses a new root not signed by the trusted root (arbitrary key rotation)', T, async () => {
  const f = await setup();
  try {
    f.sim.rotateKeys('root', [ed25519Key()], 1, false);
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET');
  } finally {
    await f.close();
  }
});

test('refuses a new root not signed to its own threshold', T, async () => {
  const f = await setup();
  try {
    const oldKey = f.sim.signers.get('root')![0]!;
    const newKeys = [ed25519Key(), ed25519Key()];
    f.sim.rotateKeys('root', newKeys, 2);
    const root = f.sim.root;
    // signed by the old key and only one of the two new keys
    f.sim.files.set('metadata/2.root.json', signDocument(root, [oldKey, newKeys[0]!]));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET');
  } finally {
    await f.close();
  }
});

test('keeps a verified root when a later root in the chain is refused (key compromise recovery)', T, async () => {
  const f = await setup();
  try {
    f.sim.rotateKeys('root', [ed25519Key()]);
    f.sim.rotateKeys('root', [ed25519Key()], 1, false); // v3 not signed by v2's key
    await assert.rejects(f.updater().refresh(), (e: unknown) => e instanceof TufError && e.code === 'THRESHOLD_NOT_MET');
    const { readFile } = await import('node:fs/promises');
    const stored = await readFile(`${f.metadataDir}/root.json`);
    assert.ok(stored.equals(f.sim.rootHistory.get(2)!), 'root v2 was verified and kept');
    assert.deepEqual((await readdir(f.metadataDir)).sort(), ['root.json']);
  } finally {
    await f.close();
  }
});

test('refuses a timestamp signed by a key that is not the timestamp key (threshold)', T, async () => {
  const f = await refreshed();
  try {
    f.sim.signers.set('timestamp', [ed25519Key()]);
    f.sim.release();
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET');
  } finally {
    await f.close();
  }
});

test('counts one key listed under two keyids once (threshold)', T, async () => {
  const f = await setup();
  try {
    const key = f.sim.signers.get('timestamp')![0]!;
    const root = f.sim.root;
    // the same public key again under a second keyid (an extra field changes the keyid)
    const twin = { ...key.publicKey, x: 'twin' };
    const { keyIdOf } = await import('../../src/crypto/index.js');
    const twinId = keyIdOf(twin);
    (root.keys as Record<string, unknown>)[twinId] = twin;
    (root.roles as Record<string, unknown>).timestamp = { keyids: [key.keyid, twinId], threshold: 2 };
    f.sim.newRootVersion();
    f.sim.signers.set('timestamp', [key, { ...key, keyid: twinId }]);
    f.sim.release();
    // the first attempt verifies and keeps root v2, then refuses the timestamp
    await assert.rejects(f.updater().refresh(), (e: unknown) => e instanceof TufError && e.code === 'THRESHOLD_NOT_MET');
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET');
  } finally {
    await f.close();
  }
});

test('refuses an expired timestamp (indefinite freeze)', T, async () => {
  const f = await refreshed();
  try {
    await assertRefused(f.metadataDir, () => f.updater({ now: inDays(2) }).refresh(), TufError, 'EXPIRED');
  } finally {
    await f.close();
  }
});

test('refuses an expired snapshot (indefinite freeze)', T, async () => {
  const f = await refreshed();
  try {
    f.sim.role('timestamp').expires = new Date(Date.now() + 100 * 86_400_000).toISOString().replace(/\.\d+Z/, 'Z');
    f.sim.release();
    await assertRefused(f.metadataDir, () => f.updater({ now: inDays(40) }).refresh(), TufError, 'EXPIRED', ['timestamp.json']);
  } finally {
    await f.close();
  }
});

test('refuses an expired final root (indefinite freeze)', T, async () => {
  const f = await refreshed();
  try {
    await assertRefused(f.metadataDir, () => f.updater({ now: inDays(400) }).refresh(), TufError, 'EXPIRED');
  } finally {
    await f.close();
  }
});

test('refuses a snapshot that does not match the timestamp hashes (mix-and-match)', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    f.sim.release();
    const other = structuredClone(f.sim.role('snapshot'));
    other.expires = '2099-01-01T00:00:00Z'; // same length, other bytes
    f.sim.files.set('metadata/snapshot.json', signDocument(other, f.sim.signers.get('snapshot')!));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'HASH_MISMATCH', ['timestamp.json']);
  } finally {
    await f.close();
  }
});

test('refuses targets metadata whose version differs from the snapshot (mix-and-match)', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    const oldTargets = f.sim.files.get('metadata/targets.json')!;
    f.sim.release('targets');
    f.sim.files.set('metadata/targets.json', oldTargets);
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'BAD_VERSION', ['timestamp.json', 'snapshot.json']);
  } finally {
    await f.close();
  }
});

test('refuses a target whose bytes do not match its hashes (arbitrary installation)', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.addTarget('app.tar', 'genuine!');
    sim.publish();
  });
  try {
    const u = f.updater();
    const info = (await u.getTargetInfo('app.tar'))!;
    f.sim.files.set('targets/app.tar', Buffer.from('malware!'));
    await assertRefused(f.metadataDir, () => u.downloadTarget(info), TufError, 'HASH_MISMATCH');
    assert.deepEqual(await readdir(f.targetDir), [], 'nothing left in targetDir');
  } finally {
    await f.close();
  }
});

test('refuses a truncated target (wrong length)', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.addTarget('app.tar', 'genuine content');
    sim.publish();
  });
  try {
    const u = f.updater();
    const info = (await u.getTargetInfo('app.tar'))!;
    f.sim.files.set('targets/app.tar', Buffer.from('genuine'));
    await assertRefused(f.metadataDir, () => u.downloadTarget(info), TufError, 'LENGTH_MISMATCH');
  } finally {
    await f.close();
  }
});

test('stops an endless timestamp at the cap', T, async () => {
  const f = await refreshed();
  try {
    f.server.overrides.set('metadata/timestamp.json', endlessBody());
    await assertRefused(f.metadataDir, () => f.updater().refresh(), FetchError, 'TOO_LARGE');
  } finally {
    await f.close();
  }
});

test('stops an endless root at the cap', T, async () => {
  const f = await setup();
  try {
    f.server.overrides.set('metadata/2.root.json', endlessBody());
    await assertRefused(f.metadataDir, () => f.updater({ config: { rootMaxLength: 100_000 } }).refresh(), FetchError, 'TOO_LARGE');
  } finally {
    await f.close();
  }
});

test('stops an endless target at its listed length', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.addTarget('big.iso', 'x'.repeat(1000));
    sim.publish();
  });
  try {
    const u = f.updater();
    const info = (await u.getTargetInfo('big.iso'))!;
    f.server.overrides.set('targets/big.iso', endlessBody(512));
    await assertRefused(f.metadataDir, () => u.downloadTarget(info), FetchError, 'TOO_LARGE');
    assert.deepEqual(await readdir(f.targetDir), []);
  } finally {
    await f.close();
  }
});

test('refuses a snapshot whose declared Content-Length exceeds the timestamp length', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    f.sim.release();
    const body = f.sim.files.get('metadata/snapshot.json')!;
    f.server.overrides.set('metadata/snapshot.json', wrongLength(body, body.byteLength + 1_000_000));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), FetchError, 'TOO_LARGE', ['timestamp.json']);
  } finally {
    await f.close();
  }
});

test('stops a slow-drip timestamp (slow retrieval)', T, async () => {
  const f = await refreshed();
  try {
    f.sim.release();
    f.server.overrides.set('metadata/timestamp.json', slowDrip(f.sim.files.get('metadata/timestamp.json')!, 50));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), FetchError, 'SLOW_RETRIEVAL');
  } finally {
    await f.close();
  }
});

test('does not install a target from a role not trusted for its path (extraneous dependencies)', T, async () => {
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'docs', paths: ['docs/*'] });
    sim.addTarget('bin/evil', 'evil', 'docs');
    sim.publish();
  });
  try {
    assert.equal(await f.updater().getTargetInfo('bin/evil'), undefined);
  } finally {
    await f.close();
  }
});

test('refuses delegated metadata signed by a key the delegation does not list', T, async () => {
  const f = await refreshed({ consistentSnapshot: false }, (sim) => {
    sim.delegate('targets', { name: 'team', paths: ['*'] });
    sim.addTarget('t', 'x', 'team');
    sim.publish();
  });
  try {
    f.sim.signers.set('team', [ed25519Key()]);
    f.sim.release('team');
    const u = f.updater();
    await u.refresh();
    await assertRefused(f.metadataDir, () => u.getTargetInfo('t'), TufError, 'THRESHOLD_NOT_MET');
  } finally {
    await f.close();
  }
});

test('recovers from a fast-forward attack after the timestamp key rotates', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    // attacker with the timestamp key fast-forwards the timestamp to version 100
    f.sim.role('timestamp').version = 99;
    f.sim.release();
    await f.updater().refresh();
    // the repository rotates the timestamp key and goes on from a normal version
    f.sim.role('timestamp').version = 2;
    f.sim.rotateKeys('timestamp', [ed25519Key()]);
    f.sim.release();
    const report = await f.updater().refresh();
    assert.equal(report.timestamp.version, 3);
  } finally {
    await f.close();
  }
});

test('refuses a fast-forwarded timestamp rollback when no key rotated', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    f.sim.role('timestamp').version = 99;
    f.sim.release();
    await f.updater().refresh();
    f.sim.role('timestamp').version = 2;
    f.sim.release();
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'ROLLBACK');
  } finally {
    await f.close();
  }
});

test('refuses metadata of the wrong type', T, async () => {
  const f = await refreshed();
  try {
    f.sim.files.set('metadata/timestamp.json', f.sim.files.get('metadata/snapshot.json')!);
    await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'BAD_METADATA');
  } finally {
    await f.close();
  }
});

test('refuses malformed timestamp JSON', T, async () => {
  const f = await refreshed();
  try {
    f.sim.files.set('metadata/timestamp.json', Buffer.from('{"signed": '));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), FormatError, 'MALFORMED_JSON');
  } finally {
    await f.close();
  }
});

test('an HTTP error on the timestamp fails the refresh and changes nothing', T, async () => {
  const f = await refreshed();
  try {
    f.server.overrides.set('metadata/timestamp.json', status(500));
    await assertRefused(f.metadataDir, () => f.updater().refresh(), FetchError, 'HTTP_STATUS');
  } finally {
    await f.close();
  }
});

test('refuses a role of a diamond signed by one branch\'s key for a target in the other branch\'s paths', T, async () => {
  const f = await setup({}, (sim) => {
    const { keyA } = addDelegationDiamond(sim);
    // The holder of branch A's key signs X alone and lists a target in B's paths.
    sim.signers.set('X', [keyA]);
    sim.addTarget('b/evil', 'not from B', 'X');
    sim.addTarget('a/app', 'app from A', 'X');
    sim.publish();
  });
  try {
    const u = f.updater();
    // Through A, X is trusted: its key is the one A lists.
    const app = await u.getTargetInfo('a/app');
    assert.ok(app);
    await u.downloadTarget(app);
    assert.ok(await u.getTargetInfo('b/own'));
    // Through B (X already verified and cached through A): refused, nothing written.
    const targetsBefore = await dirContents(f.targetDir);
    await assertRefused(f.metadataDir, () => u.getTargetInfo('b/evil'), TufError, 'THRESHOLD_NOT_MET');
    // A new client whose X.json is the copy verified through A: refused too.
    const fresh = f.updater();
    assert.ok(await fresh.getTargetInfo('b/own'));
    await assertRefused(f.metadataDir, () => fresh.getTargetInfo('b/evil'), TufError, 'THRESHOLD_NOT_MET');
    // Both searches at once, as `cairn tuf download` runs them.
    await assertRefused(f.metadataDir, () => f.updater().getTargetInfos(['a/app', 'b/evil']), TufError, 'THRESHOLD_NOT_MET');
    assert.deepEqual(await dirContents(f.targetDir), targetsBefore);
    assert.ok(!(await readdir(f.targetDir)).some((name) => name.includes('evil')));
  } finally {
    await f.close();
  }
});

test('refuses a diamond role reached first through the branch whose keys did not sign it', T, async () => {
  const f = await setup({}, (sim) => {
    const { keyA } = addDelegationDiamond(sim);
    sim.signers.set('X', [keyA]);
    sim.addTarget('b/evil', 'not from B', 'X');
    sim.publish();
  });
  try {
    const u = f.updater();
    assert.ok(await u.getTargetInfo('b/own'));
    await assertRefused(f.metadataDir, () => u.getTargetInfo('b/evil'), TufError, 'THRESHOLD_NOT_MET');
    assert.ok(!(await readdir(f.metadataDir)).includes('X.json'), 'X.json was stored');
  } finally {
    await f.close();
  }
});

test('resolves targets through both branches of a diamond whose role both branches signed', T, async () => {
  const f = await setup({}, (sim) => {
    const { keyA, keyB } = addDelegationDiamond(sim);
    sim.signers.set('X', [keyA, keyB]);
    sim.addTarget('a/app', 'app', 'X');
    sim.addTarget('b/lib', 'lib', 'X');
    sim.publish();
  });
  try {
    const u = f.updater();
    const [app, lib] = await u.getTargetInfos(['a/app', 'b/lib']);
    assert.ok(app && lib);
    await u.downloadTargets([app, lib]);
    // Again from the stored copies, in the other order.
    const again = f.updater();
    assert.ok(await again.getTargetInfo('b/lib'));
    assert.ok(await again.getTargetInfo('a/app'));
  } finally {
    await f.close();
  }
});

/** `k`'s private key presented under `variant`'s key ID. */
function simKeyAs(k: SimKey, variant: KeyVariant): SimKey {
  return { keyid: variant.keyid, publicKey: variant.key, sign: (d) => k.sign(d) };
}

test('refuses metadata signed by one key listed twice, written another way, toward a threshold of 2', T, async () => {
  for (const { how } of rewrittenKeys(ed25519Key().publicKey)) {
    const f = await refreshed({ consistentSnapshot: false });
    try {
      // The targets key holder gets root to list their key a second time under another key ID.
      const key = f.sim.signers.get('targets')![0]!;
      const twin = simKeyAs(key, rewrittenKeys(key.publicKey).find((v) => v.how === how)!);
      const root = f.sim.root;
      (root.keys as JsonObject)[twin.keyid] = twin.publicKey as unknown as JsonObject;
      (root.roles as JsonObject).targets = { keyids: [key.keyid, twin.keyid], threshold: 2 };
      f.sim.signers.set('targets', [key, twin]);
      f.sim.newRootVersion();
      f.sim.release('targets');
      await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET', ['root.json', 'timestamp.json', 'snapshot.json']);
      // The root role itself: one root key twice is not a threshold of 2.
      const rootKey = f.sim.signers.get('root')![0]!;
      const rootTwin = simKeyAs(rootKey, rewrittenKeys(rootKey.publicKey).find((v) => v.how === how)!);
      (root.keys as JsonObject)[rootTwin.keyid] = rootTwin.publicKey as unknown as JsonObject;
      (root.roles as JsonObject).root = { keyids: [rootKey.keyid, rootTwin.keyid], threshold: 2 };
      f.sim.newRootVersion([rootTwin]);
      await assertRefused(f.metadataDir, () => f.updater().refresh(), TufError, 'THRESHOLD_NOT_MET');
    } finally {
      await f.close();
    }
  }
});

test('accepts a threshold of 2 met by two distinct keys (the control of the test above)', T, async () => {
  const f = await refreshed({ consistentSnapshot: false });
  try {
    const key = f.sim.signers.get('targets')![0]!;
    const second = ed25519Key();
    const root = f.sim.root;
    (root.keys as JsonObject)[second.keyid] = keyJson(second);
    (root.roles as JsonObject).targets = { keyids: [key.keyid, second.keyid], threshold: 2 };
    f.sim.signers.set('targets', [key, second]);
    f.sim.newRootVersion();
    f.sim.release('targets');
    await f.updater().refresh();
  } finally {
    await f.close();
  }
});
