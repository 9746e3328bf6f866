// test/tuf/conformance.test.ts: the scenarios of the TUF conformance suite
// (theupdateframework/tuf-conformance: test_basic, test_expiration, test_delegated_expiration,
// test_keys, test_rollback, test_updater_key_rotations, test_updater_delegation_graphs,
// test_quoting_issues, test_file_download), ported to cairn's simulator and checked the way the
// suite checks a client: success or failure, the metadata files in metadataDir and their versions
// (the suite's trusted_roles()), the artifacts in the target dir, and the exact HTTP requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../../src/encoding/index.js';
import { Updater } from '../../src/tuf/index.js';
import {
  ecdsaKey,
  ed25519Key,
  isoIn,
  keyJson,
  pythonQuote,
  rsaPssKey,
  signDocument,
  type SimKey,
  type SimulatorOptions,
} from '../fixtures/repository-simulator.js';
import { setup, T, type Fixture } from './helpers.js';

const DAY = 86_400_000;
const at = (days: number) => () => new Date(Date.now() + days * DAY);
/** The suite's repository: consistent snapshots, no hashes in timestamp or snapshot meta. */
const SUITE: SimulatorOptions = { consistentSnapshot: true, timestampHashes: false, snapshotHashes: false };

/** The suite's ClientRunner.trusted_roles(): every *.json in metadataDir with its version, sorted. */
async function trustedRoles(dir: string): Promise<Array<[string, number]>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  const out: Array<[string, number]> = [];
  for (const n of names) {
    const doc = JSON.parse(await readFile(join(dir, n), 'utf8')) as { signed: { version: number } };
    out.push([n.slice(0, -'.json'.length), doc.signed.version]);
  }
  return out;
}

async function version(dir: string, role: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(join(dir, `${role}.json`), 'utf8')) as { signed: { version: number } }).signed.version;
  } catch {
    return undefined;
  }
}

/** What `cairn tuf download` does for one target: refresh, search, use the cached copy or download. */
async function download(f: Fixture, path: string, now?: () => Date): Promise<boolean> {
  const u = f.updater(now ? { now } : {});
  try {
    const info = await u.getTargetInfo(path);
    if (!info) return false;
    if (!(await u.findCachedTarget(info))) await u.downloadTarget(info);
    return true;
  } catch {
    return false;
  }
}

async function refreshes(f: Fixture, now?: () => Date): Promise<boolean> {
  try {
    await f.updater(now ? { now } : {}).refresh();
    return true;
  } catch {
    return false;
  }
}

/** The suite's get_downloaded_target_bytes(), as a sorted list of strings. */
async function downloaded(f: Fixture): Promise<string[]> {
  let names: string[] = [];
  try {
    names = await readdir(f.targetDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (n.startsWith('.')) continue;
    if ((await stat(join(f.targetDir, n))).isFile()) out.push(await readFile(join(f.targetDir, n), 'utf8'));
  }
  return out.sort();
}

const lastRequest = (f: Fixture): string | undefined => f.server.metadataRequests().at(-1);

// --- test_basic ---

test('a download right after init refreshes first and makes only the top-level requests (implicit refresh)', T, async () => {
  const f = await setup(SUITE);
  try {
    assert.equal(await download(f, 'nonexistent artifact'), false);
    assert.deepEqual(f.server.metadataRequests(), ['2.root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json']);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 1], ['targets', 1], ['timestamp', 1]]);
  } finally {
    await f.close();
  }
});

test('an invalid or unsigned trusted root fails the refresh before any request', T, async () => {
  const f = await setup(SUITE);
  try {
    const root = JSON.parse(Buffer.from(f.sim.rootHistory.get(1)!).toString()) as { signed: JsonObject; signatures: Array<{ sig: string }> };
    const noVersion = structuredClone(root);
    delete noVersion.signed.version;
    const badSig = structuredClone(root);
    badSig.signatures[0]!.sig = '3045022100ee448afe2d25dd1f05afedac83a24e7df90f203615221434979153dc7cea6d4702207710015851e571885a77db8a6e42c4b2983a59b9e1ebec91178dfa2fb0d42ab8';
    for (const bad of [noVersion, badSig]) {
      const bytes = Buffer.from(JSON.stringify(bad));
      await assert.rejects(Updater.initTrustedRoot(join(f.dir, 'other'), bytes));
      // a client that copies the root without checks at init must still refuse it at refresh
      await writeFile(join(f.metadataDir, 'root.json'), bytes);
      assert.equal(await refreshes(f), false);
    }
    assert.deepEqual(f.server.requests, [], 'no request for an untrusted root');
  } finally {
    await f.close();
  }
});

for (const [role, expected] of [
  ['root', [['root', 1]]],
  ['timestamp', [['root', 2]]],
  ['snapshot', [['root', 2], ['timestamp', 2]]],
  ['targets', [['root', 2], ['snapshot', 2], ['timestamp', 2]]],
] as const) {
  test(`a refresh keeps every role verified before the unsigned ${role} and nothing after it`, T, async () => {
    const f = await setup(SUITE);
    try {
      f.sim.signers.set(role, []);
      f.sim.newRootVersion();
      f.sim.release('targets');
      assert.equal(await refreshes(f), false);
      assert.deepEqual(await trustedRoles(f.metadataDir), expected);
    } finally {
      await f.close();
    }
  });
}

for (const [role, expected] of [
  ['root', [['root', 1]]],
  ['snapshot', [['root', 2], ['timestamp', 2]]],
  ['targets', [['root', 2], ['snapshot', 2], ['timestamp', 2]]],
] as const) {
  test(`${role} metadata whose version differs from the version in its URL is refused`, T, async () => {
    const f = await setup(SUITE);
    try {
      f.sim.newRootVersion();
      f.sim.release('targets');
      // serve a correctly signed document one version ahead under the published version's name
      const signed = structuredClone(f.sim.role(role));
      signed.version = (signed.version as number) + 1;
      f.sim.files.set(`metadata/2.${role}.json`, signDocument(signed, f.sim.signers.get(role)!));
      assert.equal(await refreshes(f), false);
      assert.deepEqual(await trustedRoles(f.metadataDir), expected);
    } finally {
      await f.close();
    }
  });
}

test('a timestamp with the same version as the trusted one but different content is ignored', T, async () => {
  const f = await setup(SUITE);
  try {
    assert.equal(await refreshes(f), true);
    const trusted = await readFile(join(f.metadataDir, 'timestamp.json'));
    const ts = structuredClone(f.sim.role('timestamp'));
    (ts.meta as { 'snapshot.json': { version: number } })['snapshot.json'].version = 100;
    f.sim.files.set('metadata/timestamp.json', signDocument(ts, f.sim.signers.get('timestamp')!));
    f.server.clearRequests();
    assert.equal(await refreshes(f), true);
    assert.equal(lastRequest(f), 'timestamp.json', 'snapshot v100 is never requested');
    assert.ok((await readFile(join(f.metadataDir, 'timestamp.json'))).equals(trusted), 'timestamp.json not replaced');
  } finally {
    await f.close();
  }
});

test('snapshot and targets hashes in meta are checked (a targets that does not match is refused)', T, async () => {
  const f = await setup({ ...SUITE, timestampHashes: true, snapshotHashes: true });
  try {
    f.sim.release('targets'); // v2, v2, v2
    assert.equal(await refreshes(f), true);
    f.sim.release('targets'); // v3, v3, v3
    const snapshot = f.sim.role('snapshot');
    (snapshot.meta as Record<string, { hashes: { sha256: string } }>)['targets.json']!.hashes.sha256 = '46419349341cfb2d95f6ae3d4cd5c3d3dd7f4673985dad42a45130be5e0531a0';
    const snapBytes = signDocument(snapshot, f.sim.signers.get('snapshot')!);
    f.sim.files.set('metadata/3.snapshot.json', snapBytes);
    const ts = f.sim.role('timestamp');
    ts.meta = { 'snapshot.json': { version: 3 } };
    f.sim.files.set('metadata/timestamp.json', signDocument(ts, f.sim.signers.get('timestamp')!));
    assert.equal(await refreshes(f), false);
    assert.equal(await version(f.metadataDir, 'snapshot'), 3);
    assert.equal(await version(f.metadataDir, 'targets'), 2);
  } finally {
    await f.close();
  }
});

test('the received bytes are stored as they are (test_metadata_bytes_match)', T, async () => {
  const f = await setup(SUITE);
  try {
    const data = Buffer.concat([f.sim.files.get('metadata/timestamp.json')!, Buffer.from(' ')]);
    f.sim.files.set('metadata/timestamp.json', data);
    assert.equal(await refreshes(f), true);
    assert.ok((await readFile(join(f.metadataDir, 'timestamp.json'))).equals(data));
  } finally {
    await f.close();
  }
});

test('unknown fields in root, its keys and roles are signed content and accepted (custom fields, keyid_hash_algorithms)', T, async () => {
  const f = await setup(SUITE);
  try {
    assert.equal(await refreshes(f), true);
    const root = f.sim.root;
    root['custom-field'] = 'value';
    const roles = root.roles as Record<string, JsonObject>;
    roles.root!['another-field'] = 'value';
    // a misleading keyid_hash_algorithms on the snapshot key; its keyid is not recomputed
    const keys = root.keys as Record<string, JsonObject>;
    const snapKeyId = (roles.snapshot!.keyids as string[])[0]!;
    keys[snapKeyId]!.keyid_hash_algorithms = 'md5';
    // a new root key with an extra field (keyid computed over it)
    const extra = ed25519Key();
    const extraJson = { ...keyJson(extra), 'extra-field': { a: 1, b: 2 } };
    const { keyIdOf } = await import('../../src/crypto/index.js');
    const extraId = keyIdOf(extraJson as never);
    keys[extraId] = extraJson;
    (roles.root!.keyids as string[]).push(extraId);
    f.sim.newRootVersion([{ ...extra, keyid: extraId }]);
    f.sim.release();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'root'), 2);
    assert.equal(await version(f.metadataDir, 'snapshot'), 2);
  } finally {
    await f.close();
  }
});

test('a timestamp that is a snapshot document signed by the timestamp key is refused', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.newRootVersion();
    const fake = structuredClone(f.sim.role('snapshot'));
    fake.version = 2;
    fake.meta = { 'snapshot.json': { version: 1 } };
    f.sim.files.set('metadata/timestamp.json', signDocument(fake, f.sim.signers.get('timestamp')!));
    assert.equal(await refreshes(f), false);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 2]]);
  } finally {
    await f.close();
  }
});

test('a refresh after the final root expired fails (the faketime check)', T, async () => {
  const f = await setup(SUITE, (sim) => {
    for (const r of ['timestamp', 'snapshot', 'targets']) sim.role(r).expires = isoIn(60);
    sim.publish();
  });
  try {
    f.sim.root.expires = isoIn(7);
    f.sim.newRootVersion();
    assert.equal(await refreshes(f), true);
    assert.equal(await refreshes(f, at(6)), true);
    assert.equal(await refreshes(f, at(8)), false);
  } finally {
    await f.close();
  }
});

test('any 1.x spec_version is accepted, another major version is refused', T, async () => {
  const f = await setup(SUITE);
  try {
    for (const spec of ['1.0', '1.999.0']) {
      f.sim.role('timestamp').spec_version = spec;
      f.sim.release();
      assert.equal(await refreshes(f), true, spec);
    }
    const accepted = await version(f.metadataDir, 'timestamp');
    f.sim.role('timestamp').spec_version = '2.0.0';
    f.sim.release();
    assert.equal(await refreshes(f), false);
    assert.equal(await version(f.metadataDir, 'timestamp'), accepted);
  } finally {
    await f.close();
  }
});

// --- the persisted timestamp when a later step fails (spec 5.4.5 / 5.5.7) ---

test('a refresh persists the verified timestamp even when the snapshot is refused', T, async (t) => {
  await t.test('snapshot named by the timestamp is missing (404)', async () => {
    const f = await setup(SUITE);
    try {
      assert.equal(await refreshes(f), true);
      const ts = f.sim.role('timestamp');
      ts.version = 2;
      ts.meta = { 'snapshot.json': { version: 2 } };
      f.sim.files.set('metadata/timestamp.json', signDocument(ts, f.sim.signers.get('timestamp')!));
      assert.equal(await refreshes(f), false);
      assert.equal(lastRequest(f), '2.snapshot.json');
      assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 1], ['targets', 1], ['timestamp', 2]]);
    } finally {
      await f.close();
    }
  });
  await t.test('new snapshot is expired', async () => {
    const f = await setup(SUITE);
    try {
      assert.equal(await refreshes(f), true);
      f.sim.role('snapshot').expires = isoIn(-5);
      f.sim.release();
      assert.equal(await refreshes(f), false);
      assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 1], ['targets', 1], ['timestamp', 2]]);
    } finally {
      await f.close();
    }
  });
  await t.test('snapshot has another version than the timestamp names (first refresh)', async () => {
    const f = await setup(SUITE);
    try {
      const snap = structuredClone(f.sim.role('snapshot'));
      snap.version = 2;
      f.sim.files.set('metadata/1.snapshot.json', signDocument(snap, f.sim.signers.get('snapshot')!));
      assert.equal(await refreshes(f), false);
      assert.equal(lastRequest(f), '1.snapshot.json');
      assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['timestamp', 1]]);
    } finally {
      await f.close();
    }
  });
  await t.test('targets named by the snapshot is missing (404): timestamp and snapshot are kept', async () => {
    const f = await setup(SUITE);
    try {
      assert.equal(await refreshes(f), true);
      f.sim.bump('targets');
      f.sim.release();
      f.sim.files.delete('metadata/2.targets.json');
      assert.equal(await refreshes(f), false);
      assert.equal(lastRequest(f), '2.targets.json');
      assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 2], ['targets', 1], ['timestamp', 2]]);
    } finally {
      await f.close();
    }
  });
});

// --- test_expiration ---

test('an expired new root is stored, nothing after it is updated (5.3.10)', T, async () => {
  const f = await setup(SUITE);
  try {
    assert.equal(await refreshes(f), true);
    f.sim.newRootVersion();
    assert.equal(await refreshes(f), true);
    f.sim.root.expires = isoIn(-1);
    f.sim.newRootVersion();
    f.sim.release('targets');
    assert.equal(await refreshes(f), false);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 3], ['snapshot', 1], ['targets', 1], ['timestamp', 1]]);
  } finally {
    await f.close();
  }
});

test('an expired intermediate root does not stop the rotation chain', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.root.expires = isoIn(-1);
    f.sim.newRootVersion(); // v2, expired
    f.sim.root.expires = isoIn(30);
    f.sim.newRootVersion(); // v3
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'root'), 3);
  } finally {
    await f.close();
  }
});

test('an expired local root is updated from the repository', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.role('timestamp').expires = isoIn(60);
    f.sim.publish();
    f.sim.root.expires = isoIn(7);
    f.sim.newRootVersion();
    assert.equal(await refreshes(f), true);
    f.sim.root.expires = isoIn(21);
    f.sim.newRootVersion();
    assert.equal(await refreshes(f, at(18)), true);
    assert.equal(await version(f.metadataDir, 'root'), 3);
  } finally {
    await f.close();
  }
});

test('an expired local timestamp still guards the update and is replaced by a valid one', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.role('timestamp').expires = isoIn(7);
    f.sim.release(); // snapshot v2, timestamp v2
    assert.equal(await refreshes(f), true);
    f.sim.role('timestamp').expires = isoIn(21);
    f.sim.release('targets'); // targets v2, snapshot v3, timestamp v3
    assert.equal(await refreshes(f, at(18)), true);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 3], ['targets', 2], ['timestamp', 3]]);
  } finally {
    await f.close();
  }
});

test('an expired new timestamp is refused and the trusted one kept', T, async () => {
  const f = await setup(SUITE);
  try {
    assert.equal(await refreshes(f), true);
    f.sim.role('timestamp').expires = isoIn(-5);
    f.sim.release();
    assert.equal(await refreshes(f), false);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 1], ['targets', 1], ['timestamp', 1]]);
  } finally {
    await f.close();
  }
});

// --- test_delegated_expiration ---

test('a delegated role that is expired when first seen is not trusted and its artifact not downloaded', T, async () => {
  const f = await setup(SUITE, (sim) => {
    sim.delegate('targets', { name: 'delegated', paths: ['delegatedpath/*'] });
    sim.role('delegated').expires = isoIn(-1);
    sim.addTarget('delegatedpath/target', 'delegated content', 'delegated');
    sim.publish();
  });
  try {
    assert.equal(await refreshes(f), true);
    assert.equal(await download(f, 'delegatedpath/target'), false);
    assert.deepEqual(await downloaded(f), []);
    assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 1], ['targets', 1], ['timestamp', 1]]);
  } finally {
    await f.close();
  }
});

test('an expired local delegated role is not used; a newer one from the repository is', T, async () => {
  for (const republish of [false, true]) {
    const f = await setup(SUITE, (sim) => {
      for (const r of ['timestamp', 'snapshot']) sim.role(r).expires = isoIn(60);
      sim.delegate('targets', { name: 'delegated', paths: ['delegatedpath/*'] });
      sim.role('delegated').expires = isoIn(7);
      sim.addTarget('delegatedpath/first', 'first', 'delegated');
      sim.addTarget('delegatedpath/second', 'second', 'delegated');
      sim.publish();
    });
    try {
      assert.equal(await download(f, 'delegatedpath/first'), true);
      assert.deepEqual(await downloaded(f), ['first']);
      if (republish) {
        f.sim.role('delegated').expires = isoIn(21);
        f.sim.release('delegated');
      }
      assert.equal(await download(f, 'delegatedpath/second', at(18)), republish);
      assert.deepEqual(await downloaded(f), republish ? ['first', 'second'] : ['first']);
    } finally {
      await f.close();
    }
  }
});

// --- test_keys ---

test('snapshot signed by fewer keys than its threshold is refused; root still updates', T, async () => {
  const f = await setup(SUITE);
  try {
    const keys = [...f.sim.signers.get('snapshot')!, ed25519Key(), ed25519Key(), ed25519Key(), ed25519Key()];
    f.sim.rotateKeys('snapshot', keys, 6);
    f.sim.release();
    assert.equal(await refreshes(f), false);
    assert.equal(await version(f.metadataDir, 'root'), 2);
    assert.equal(await version(f.metadataDir, 'snapshot'), undefined);
  } finally {
    await f.close();
  }
});

test('one key listed many times, or one signature repeated, does not reach a threshold', T, async (t) => {
  await t.test('duplicate keyids in the role', async () => {
    const f = await setup(SUITE);
    try {
      const k = ed25519Key();
      const root = f.sim.root;
      (root.keys as JsonObject)[k.keyid] = keyJson(k);
      const role = (root.roles as Record<string, JsonObject>).snapshot!;
      for (let i = 0; i < 9; i++) (role.keyids as string[]).push(k.keyid);
      role.threshold = 6;
      f.sim.signers.set('snapshot', [...f.sim.signers.get('snapshot')!, k]);
      f.sim.newRootVersion();
      f.sim.release();
      assert.equal(await refreshes(f), false);
      assert.equal(await version(f.metadataDir, 'snapshot'), undefined);
    } finally {
      await f.close();
    }
  });
  await t.test('the same signature listed several times', async () => {
    const f = await setup(SUITE);
    try {
      const doc = JSON.parse(Buffer.from(f.sim.files.get('metadata/1.snapshot.json')!).toString()) as { signatures: unknown[] };
      doc.signatures.push(doc.signatures[0]);
      f.sim.files.set('metadata/1.snapshot.json', Buffer.from(JSON.stringify(doc)));
      assert.equal(await refreshes(f), false);
      assert.equal(await version(f.metadataDir, 'snapshot'), undefined);
    } finally {
      await f.close();
    }
  });
});

for (const [kind, make] of [['rsa/rsassa-pss-sha256', rsaPssKey], ['ecdsa/ecdsa-sha2-nistp256', ecdsaKey], ['ed25519/ed25519', ed25519Key]] as const) {
  test(`a ${kind} root key counts toward the threshold and a wrong signature by it is refused`, T, async () => {
    const f = await setup(SUITE);
    try {
      const key = make();
      const rootKeys = [...f.sim.signers.get('root')!, key];
      f.sim.rotateKeys('root', rootKeys, rootKeys.length);
      assert.equal(await refreshes(f), true);
      assert.equal(await version(f.metadataDir, 'root'), 2);
      f.sim.newRootVersion();
      const doc = JSON.parse(Buffer.from(f.sim.files.get('metadata/3.root.json')!).toString()) as { signatures: Array<{ keyid: string; sig: string }> };
      // a well-formed signature of the right kind, over other bytes
      doc.signatures.find((s) => s.keyid === key.keyid)!.sig = key.sign(Buffer.from('other bytes'));
      f.sim.files.set('metadata/3.root.json', Buffer.from(JSON.stringify(doc)));
      assert.equal(await refreshes(f), false);
      assert.equal(await version(f.metadataDir, 'root'), 2);
    } finally {
      await f.close();
    }
  });
}

test('metadata meeting its threshold is valid even with a wrong or empty signature by another listed key', T, async () => {
  const f = await setup(SUITE);
  try {
    const [first] = f.sim.signers.get('timestamp')!;
    const second = ed25519Key();
    f.sim.rotateKeys('timestamp', [first!, second], 1);
    f.sim.release();
    for (const sig of [first!.sign(Buffer.from('not the timestamp')), '']) {
      const doc = JSON.parse(Buffer.from(f.sim.files.get('metadata/timestamp.json')!).toString()) as { signatures: Array<{ keyid: string; sig: string }> };
      doc.signatures.find((s) => s.keyid === first!.keyid)!.sig = sig;
      f.sim.files.set('metadata/timestamp.json', Buffer.from(JSON.stringify(doc)));
      assert.equal(await refreshes(f), true, `signature ${JSON.stringify(sig.slice(0, 8))}`);
      f.sim.release();
    }
  } finally {
    await f.close();
  }
});

test('keys of an unknown type or scheme in a role do not stop the other keys from meeting the threshold', T, async () => {
  const f = await setup(SUITE);
  try {
    const root = f.sim.root;
    const keys = root.keys as JsonObject;
    keys['11'.repeat(32)] = { keytype: 'fancy-new-type', scheme: 'fancy-scheme', keyval: { public: 'abcd' } };
    keys['22'.repeat(32)] = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp384', keyval: { public: 'not a key' } };
    keys['33'.repeat(32)] = { keytype: 'rsa', scheme: 'rsa-unknown-scheme', keyval: { public: 'x' } };
    const role = (root.roles as Record<string, JsonObject>).timestamp!;
    role.keyids = ['11'.repeat(32), '22'.repeat(32), ...(role.keyids as string[]), '33'.repeat(32)];
    f.sim.newRootVersion();
    f.sim.release();
    const doc = JSON.parse(Buffer.from(f.sim.files.get('metadata/timestamp.json')!).toString()) as { signatures: Array<{ keyid: string; sig: string }> };
    doc.signatures.unshift({ keyid: '11'.repeat(32), sig: 'abcd' }, { keyid: '22'.repeat(32), sig: '00' });
    f.sim.files.set('metadata/timestamp.json', Buffer.from(JSON.stringify(doc)));
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'timestamp'), 2);
    // with threshold 2 the unknown keys cannot make up the difference
    role.threshold = 2;
    f.sim.newRootVersion();
    f.sim.release();
    assert.equal(await refreshes(f), false);
    assert.equal(await version(f.metadataDir, 'root'), 3);
    assert.equal(await version(f.metadataDir, 'timestamp'), 2);
  } finally {
    await f.close();
  }
});

// --- test_updater_key_rotations ---

interface MdVersion {
  keys: number[];
  threshold: number;
  sigs: number[];
  ok?: boolean;
}

const ROOT_ROTATIONS: Record<string, MdVersion[]> = {
  '1-of-1-key-rotation': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [2, 1] }, { keys: [2], threshold: 1, sigs: [2] }],
  '1-of-1-key-rotation-unused-signatures': [
    { keys: [1], threshold: 1, sigs: [3, 1, 4] },
    { keys: [2], threshold: 1, sigs: [3, 2, 1, 4] },
    { keys: [2], threshold: 1, sigs: [3, 2, 4] },
  ],
  '3-of-5-sign-with-different-keycombos': [
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] },
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 4, 1] },
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 1, 3] },
  ],
  '3-of-5-one-key-rotated': [{ keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] }, { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4, 1] }],
  '3-of-5-all-keys-rotated-with-intermediate-step': [
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] },
    { keys: [5, 6, 7, 8, 9], threshold: 3, sigs: [0, 2, 4, 5, 6, 7] },
    { keys: [5, 6, 7, 8, 9], threshold: 3, sigs: [5, 6, 7] },
  ],
  '1-of-3-threshold-increase-to-2-of-3': [{ keys: [1, 2, 3], threshold: 1, sigs: [1] }, { keys: [1, 2, 3], threshold: 2, sigs: [1, 2] }],
  '2-of-3-threshold-decrease-to-1-of-3': [
    { keys: [1, 2, 3], threshold: 2, sigs: [1, 2] },
    { keys: [1, 2, 3], threshold: 1, sigs: [1, 2] },
    { keys: [1, 2, 3], threshold: 1, sigs: [1] },
  ],
  'fail-not-signed-with-old-key': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [2, 3, 4], ok: false }],
  'fail-not-signed-with-new-key': [{ keys: [1], threshold: 1, sigs: [1] }, { keys: [2], threshold: 1, sigs: [1, 3, 4], ok: false }],
  '3-of-5-fail-not-signed-with-3-new-keys': [
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] },
    { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 2, 4], ok: false },
  ],
  '3-of-5-fail-not-signed-with-3-old-keys': [
    { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] },
    { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4, 5], ok: false },
  ],
  '2-of-3-fails-new-threshold-not-reached': [{ keys: [1, 2, 3], threshold: 1, sigs: [1] }, { keys: [1, 2, 3], threshold: 2, sigs: [2], ok: false }],
  '1-of-3-fails-old-threshold-not-reached': [{ keys: [1, 2, 3], threshold: 2, sigs: [1, 2] }, { keys: [1, 2, 3], threshold: 1, sigs: [1], ok: false }],
};

test('root rotations: the stored root.json is the last root that verified', T, async (t) => {
  const keys: SimKey[] = Array.from({ length: 10 }, () => ed25519Key());
  for (const [name, versions] of Object.entries(ROOT_ROTATIONS)) {
    await t.test(name, async () => {
      const f = await setup(SUITE);
      try {
        const published: Uint8Array[] = [];
        versions.forEach((v, i) => {
          const root = structuredClone(f.sim.root);
          root.version = i + 1;
          const roles = root.roles as Record<string, JsonObject>;
          const keyMap = root.keys as JsonObject;
          for (const id of roles.root!.keyids as string[]) delete keyMap[id];
          for (const k of v.keys) keyMap[keys[k]!.keyid] = keyJson(keys[k]!);
          roles.root = { keyids: v.keys.map((k) => keys[k]!.keyid), threshold: v.threshold };
          const bytes = signDocument(root, v.sigs.map((k) => keys[k]!));
          f.sim.files.set(`metadata/${i + 1}.root.json`, bytes);
          published.push(bytes);
        });
        await Updater.initTrustedRoot(f.metadataDir, published[0]!);
        const ok = versions.at(-1)!.ok ?? true;
        assert.equal(await refreshes(f), ok);
        const stored = await readFile(join(f.metadataDir, 'root.json'));
        assert.ok(stored.equals(published.at(ok ? -1 : -2)!), 'root.json is the last verified root');
      } finally {
        await f.close();
      }
    });
  }
});

const NON_ROOT_ROTATIONS: Record<string, MdVersion> = {
  '1-of-1-key-rotation': { keys: [2], threshold: 1, sigs: [2] },
  '1-of-1-key-rotation-unused-signatures': { keys: [1], threshold: 1, sigs: [3, 1, 4] },
  '1-of-1-key-rotation-fail-not-signed-with-new-key': { keys: [2], threshold: 1, sigs: [1, 3, 4], ok: false },
  '3-of-5-one-key-signature-wrong': { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 2, 4], ok: false },
  '3-of-5-threshold-not-reached': { keys: [0, 1, 3, 4, 5], threshold: 3, sigs: [0, 4], ok: false },
  '3-of-5-sign-first-combo': { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [0, 2, 4] },
  '3-of-5-sign-fifth-combo': { keys: [0, 1, 2, 3, 4], threshold: 3, sigs: [2, 3, 4] },
};

test('timestamp, snapshot and targets key rotations (same versions re-signed)', T, async (t) => {
  const keys: SimKey[] = Array.from({ length: 10 }, () => ed25519Key());
  for (const [name, v] of Object.entries(NON_ROOT_ROTATIONS)) {
    await t.test(name, async () => {
      const f = await setup(SUITE);
      try {
        for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
          f.sim.rotateKeys(role, v.keys.map((k) => keys[k]!), v.threshold);
          f.sim.signers.set(role, v.sigs.map((k) => keys[k]!));
          f.sim.publish(); // no version bump: the same versions, signed by the new keys
          const ok = v.ok ?? true;
          assert.equal(await refreshes(f), ok, role);
          if (ok) {
            const stored = await readFile(join(f.metadataDir, `${role}.json`));
            assert.ok(stored.equals(f.sim.files.get(`metadata/${role}.json`)!), `${role}.json is the one signed by the new keys`);
          }
        }
      } finally {
        await f.close();
      }
    });
  }
});

// --- test_rollback ---

test('a snapshot rolled back without a timestamp change is never fetched', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.release();
    assert.equal(await refreshes(f), true);
    f.sim.files.set('metadata/2.snapshot.json', f.sim.files.get('metadata/1.snapshot.json')!);
    f.server.clearRequests();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'snapshot'), 2);
    assert.equal(lastRequest(f), 'timestamp.json');
  } finally {
    await f.close();
  }
});

for (const timestampHashes of [false, true]) {
  test(`a timestamp naming an older snapshot is refused${timestampHashes ? ' (with hashes)' : ''}`, T, async () => {
    const f = await setup({ ...SUITE, timestampHashes });
    try {
      f.sim.release();
      assert.equal(await refreshes(f), true);
      f.sim.role('snapshot').version = 1;
      f.sim.bump('timestamp');
      f.sim.publish(); // timestamp v3 names snapshot v1
      f.server.clearRequests();
      assert.equal(await refreshes(f), false);
      assert.equal(await version(f.metadataDir, 'timestamp'), 2);
      assert.equal(await version(f.metadataDir, 'snapshot'), 2);
      assert.equal(lastRequest(f), 'timestamp.json');
    } finally {
      await f.close();
    }
  });

  test(`a snapshot that rolls back targets is refused, the timestamp is kept${timestampHashes ? ' (with hashes)' : ''}`, T, async () => {
    const f = await setup({ ...SUITE, timestampHashes, snapshotHashes: timestampHashes });
    try {
      f.sim.role('targets').version = 3;
      f.sim.release();
      assert.equal(await refreshes(f), true);
      f.sim.role('targets').version = 2;
      f.sim.release(); // snapshot v3 lists targets v2
      assert.equal(await refreshes(f), false);
      assert.deepEqual(await trustedRoles(f.metadataDir), [['root', 1], ['snapshot', 2], ['targets', 3], ['timestamp', 3]]);
    } finally {
      await f.close();
    }
  });
}

test('fast-forward recovery: targets after a snapshot key rotation', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.role('targets').version = 99999;
    f.sim.release();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'targets'), 99999);
    f.sim.rotateKeys('snapshot', [ed25519Key()]);
    f.sim.role('targets').version = 1;
    f.sim.release();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'targets'), 1);
  } finally {
    await f.close();
  }
});

test('fast-forward recovery: snapshot after a snapshot and timestamp key rotation', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.role('snapshot').version = 99999;
    f.sim.release();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'snapshot'), 100000);
    f.sim.rotateKeys('snapshot', [ed25519Key()]);
    f.sim.rotateKeys('timestamp', [ed25519Key()]);
    f.sim.role('snapshot').version = 0;
    f.sim.release();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'snapshot'), 1);
  } finally {
    await f.close();
  }
});

test('fast-forward recovery: timestamp after a timestamp key rotation, with only the timestamp rolled back', T, async () => {
  const f = await setup(SUITE);
  try {
    f.sim.role('timestamp').version = 99999;
    f.sim.publish();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'timestamp'), 99999);
    f.sim.rotateKeys('timestamp', [ed25519Key()]);
    f.sim.role('timestamp').version = 1;
    f.sim.publish();
    assert.equal(await refreshes(f), true);
    assert.equal(await version(f.metadataDir, 'timestamp'), 1);
  } finally {
    await f.close();
  }
});

// --- test_updater_delegation_graphs ---

interface Delegation {
  from: string;
  to: string;
  terminating?: boolean;
  paths?: string[];
}

function delegateAll(f: { sim: Fixture['sim'] }, delegations: Delegation[]): void {
  for (const d of delegations) {
    const keys = f.sim.signers.get(d.to);
    f.sim.delegate(d.from, { name: d.to, paths: d.paths ?? ['*'], terminating: d.terminating ?? false, ...(keys ? { keys } : {}) });
  }
}

const GRAPHS: Record<string, { delegations: Delegation[]; visited: string[] }> = {
  'basic-delegation': { delegations: [{ from: 'targets', to: 'A' }], visited: ['A'] },
  'single-level-delegations': { delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }], visited: ['A', 'B'] },
  'two-level-delegations': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'B', to: 'C' }],
    visited: ['A', 'B', 'C'],
  },
  'two-level-test-DFS-order-of-traversal': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C' }, { from: 'A', to: 'D' }],
    visited: ['A', 'C', 'D', 'B'],
  },
  'three-level-delegation-test-DFS-order-of-traversal': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C' }, { from: 'C', to: 'D' }],
    visited: ['A', 'C', 'D', 'B'],
  },
  'two-level-terminating-ignores-all-but-roles-descendants': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C', terminating: true }, { from: 'A', to: 'D' }],
    visited: ['A', 'C'],
  },
  'three-level-terminating-ignores-all-but-roles-descendants': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C', terminating: true }, { from: 'C', to: 'D' }],
    visited: ['A', 'C', 'D'],
  },
  'two-level-ignores-all-branches-not-matching-paths': {
    delegations: [{ from: 'targets', to: 'A', paths: ['*.py'] }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C' }],
    visited: ['B'],
  },
  'three-level-ignores-all-branches-not-matching-paths': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'A', to: 'C', paths: ['*.py'] }, { from: 'C', to: 'D' }],
    visited: ['A', 'B'],
  },
  'cyclic-graph': {
    delegations: [
      { from: 'targets', to: 'A' },
      { from: 'targets', to: 'B' },
      { from: 'B', to: 'C' },
      { from: 'C', to: 'D' },
      { from: 'D', to: 'B' },
    ],
    visited: ['A', 'B', 'C', 'D'],
  },
  'two-roles-delegating-to-a-third': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'B', to: 'C' }, { from: 'A', to: 'C' }],
    visited: ['A', 'C', 'B'],
  },
  'two-roles-delegating-to-a-third-different-paths': {
    delegations: [{ from: 'targets', to: 'A' }, { from: 'targets', to: 'B' }, { from: 'B', to: 'C' }, { from: 'A', to: 'C', paths: ['*.py'] }],
    visited: ['A', 'B', 'C'],
  },
};

test('delegation graphs are searched pre-order depth-first: the exact requests', T, async (t) => {
  for (const [name, graph] of Object.entries(GRAPHS)) {
    await t.test(name, async () => {
      const f = await setup(SUITE, (sim) => {
        delegateAll({ sim }, graph.delegations);
        sim.publish();
      });
      try {
        assert.equal(await download(f, 'missingpath'), false);
        assert.deepEqual(
          f.server.metadataRequests().slice(4),
          graph.visited.map((r) => `1.${r}.json`),
        );
      } finally {
        await f.close();
      }
    });
  }
});

test('target search through path-restricted delegations: found artifacts and the exact requests', T, async (t) => {
  const cases: Array<[path: string, content: string | undefined, visited: string[]]> = [
    ['targetfile', 'targetfile content', []],
    ['README.md', 'README by A', ['A']],
    ['releases/x/x_v1', 'x release by C', ['B', 'C']],
    ['releases/y/y_v1.zip', 'y release by D', ['B', 'D']],
    ['releases/z/z_v1.zip', undefined, ['B']],
  ];
  for (const [path, content, visited] of cases) {
    await t.test(path, async () => {
      const f = await setup(SUITE, (sim) => {
        delegateAll({ sim }, [
          { from: 'targets', to: 'A', paths: ['*.doc', '*.md'] },
          { from: 'targets', to: 'B', paths: ['releases/*/*'] },
          { from: 'B', to: 'C', paths: ['releases/x/*'] },
          { from: 'B', to: 'D', paths: ['releases/y/*.zip'] },
        ]);
        sim.addTarget('targetfile', 'targetfile content', 'targets');
        sim.addTarget('README.md', 'README by A', 'A');
        sim.addTarget('releases/x/x_v1', 'x release by C', 'C');
        sim.addTarget('releases/y/y_v1.zip', 'y release by D', 'D');
        sim.addTarget('releases/z/z_v1.zip', 'z release by D', 'D');
        sim.publish();
      });
      try {
        assert.equal(await download(f, path), content !== undefined);
        assert.deepEqual(await downloaded(f), content === undefined ? [] : [content]);
        assert.deepEqual(f.server.metadataRequests().slice(4), visited.map((r) => `1.${r}.json`));
      } finally {
        await f.close();
      }
    });
  }
});

// --- test_quoting_issues ---

test('unusual delegated role names are quoted like urllib.parse.quote(name, "") in URLs and file names', T, async (t) => {
  const expected: Record<string, string> = {
    '?': '%3F',
    '#': '%23',
    '/delegatedrole': '%2Fdelegatedrole',
    '../delegatedrole': '..%2Fdelegatedrole',
    "it's (x)*!": 'it%27s%20%28x%29%2A%21',
    'ünï~co_de-1.0': '%C3%BCn%C3%AF~co_de-1.0',
  };
  for (const [role, quoted] of Object.entries(expected)) {
    await t.test(JSON.stringify(role), async () => {
      assert.equal(pythonQuote(role), quoted);
      const f = await setup(SUITE, (sim) => {
        sim.delegate('targets', { name: role, paths: ['*'], keys: [ed25519Key(), ed25519Key()] });
        sim.publish();
      });
      try {
        assert.equal(await download(f, 'nonexistent target'), false);
        assert.ok(f.server.requests.includes(`metadata/1.${quoted}.json`), f.server.requests.join(', '));
        const roles = await trustedRoles(f.metadataDir);
        assert.equal(roles.length, 5);
        assert.ok(roles.some(([n]) => n === quoted));
      } finally {
        await f.close();
      }
    });
  }
});

// --- test_file_download ---

test('an artifact in a sub directory is downloaded', T, async () => {
  const f = await setup(SUITE, (sim) => {
    sim.addTarget('path/to/a/target_file.txt', 'target file contents');
    sim.publish();
  });
  try {
    assert.equal(await download(f, 'path/to/a/target_file.txt'), true);
    assert.deepEqual(await downloaded(f), ['target file contents']);
    assert.ok(f.server.requests.some((p) => /^targets\/path\/to\/a\/[0-9a-f]{64}\.target_file\.txt$/.test(p)));
  } finally {
    await f.close();
  }
});

test('substituted artifacts are never accepted; a verified copy is reused', T, async () => {
  const f = await setup(SUITE, (sim) => {
    sim.addTarget('target_file.txt', 'target file contents');
    sim.addTarget('another_target_file.txt', 'content');
    sim.publish();
  });
  try {
    assert.equal(await download(f, 'target_file.txt'), true);
    for (const path of [...f.sim.files.keys()]) if (path.startsWith('targets/')) f.sim.files.set(path, Buffer.from('malicious data - should not download'));
    await download(f, 'target_file.txt');
    assert.deepEqual(await downloaded(f), ['target file contents']);
    assert.equal(await download(f, 'another_target_file.txt'), false);
    assert.deepEqual(await downloaded(f), ['target file contents']);
  } finally {
    await f.close();
  }
});

test('an artifact changed by the repository is stored again under the same file name', T, async () => {
  const f = await setup(SUITE, (sim) => {
    sim.addTarget('target_file.txt', 'target file contents');
    sim.publish();
  });
  try {
    assert.equal(await download(f, 'target_file.txt'), true);
    const expected = ['target file contents'];
    for (let i = 0; i < 11; i++) {
      f.sim.addTarget('target_file.txt', `modified file contents ${i}`);
      f.sim.addTarget(`new-target-${i}`, `new file contents ${i}`);
      f.sim.release('targets');
      if (i % 5 !== 0) continue;
      assert.equal(await download(f, 'target_file.txt'), true);
      expected[0] = `modified file contents ${i}`;
      assert.equal(await download(f, `new-target-${i}`), true);
      expected.push(`new file contents ${i}`);
      assert.deepEqual(await downloaded(f), [...expected].sort());
      // a new targets version lists the same hashes while the repository serves other bytes
      f.sim.release('targets');
      for (const path of [...f.sim.files.keys()]) {
        if (path.endsWith('target_file.txt')) f.sim.files.set(path, Buffer.from(`malicious contents ${i}`));
      }
      await download(f, 'target_file.txt');
      assert.deepEqual(await downloaded(f), [...expected].sort());
    }
  } finally {
    await f.close();
  }
});

for (const algorithms of [['sha256'], ['sha512'], ['sha256', 'sha512']]) {
  test(`an artifact listed with ${algorithms.join('+')} is fetched once under one of its hashes`, T, async () => {
    const f = await setup(SUITE, (sim) => {
      sim.addTarget('target_file.txt', 'target file contents', 'targets', algorithms);
      sim.publish();
    });
    try {
      f.sim.newRootVersion();
      assert.equal(await download(f, 'target_file.txt'), true);
      const requests = f.server.requests.filter((p) => p.startsWith('targets/'));
      assert.equal(requests.length, 1);
      const hashes = Object.values((f.sim.role('targets').targets as Record<string, { hashes: Record<string, string> }>)['target_file.txt']!.hashes);
      assert.ok(hashes.some((h) => requests[0] === `targets/${h}.target_file.txt`), requests[0]);
      assert.deepEqual(await downloaded(f), ['target file contents']);
    } finally {
      await f.close();
    }
  });
}

test('an artifact listed only with an unknown hash algorithm is not accepted', T, async () => {
  const f = await setup(SUITE, (sim) => {
    sim.addTarget('target_file.txt', 'target file contents', 'targets', ['sha512']);
    const entry = (sim.role('targets').targets as Record<string, { hashes: Record<string, string> }>)['target_file.txt']!;
    entry.hashes = { 'unknown-hash': entry.hashes.sha512! };
    sim.publish();
    sim.files.set(`targets/${entry.hashes['unknown-hash']}.target_file.txt`, Buffer.from('target file contents'));
  });
  try {
    assert.equal(await download(f, 'target_file.txt'), false);
    assert.deepEqual(await downloaded(f), []);
  } finally {
    await f.close();
  }
});
