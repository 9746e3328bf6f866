// test/apps/grants.test.ts: grants and their audit trail (docs/apps.md "Grants"): nothing is
// granted by installing; a grant names what the app requests (a family name every requested
// permission of it), anything else is refused unless asked for explicitly; revocations; grants
// belong to an app of one remote; and the trail is append-only (triggers) and tamper-evident (a
// hash chain every read checks), so an edit made outside cairn is AUDIT_TAMPERED and nothing is
// appended onto it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, appPermissions, auditTrail, grantPermission, revokePermission, storeDatabasePath } from '../../src/apps/index.js';
import { PackageError } from '../../src/package/index.js';
import { openStore } from '../../src/store/index.js';
import { testPackage } from '../fixtures/store-driver.js';

const T = { timeout: 30_000 };

/** A store with `apps` installed (name -> requested permissions), all from `remote`. */
async function withApps(apps: Record<string, string[]>, fn: (root: string) => Promise<void>, remote = 'main'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-grants-'));
  const root = join(dir, 'store');
  try {
    await install(root, apps, remote);
    await fn(root);
  } finally {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

async function install(root: string, apps: Record<string, string[]>, remote: string): Promise<void> {
  const store = await openStore(root);
  await store.commit({
    reason: 'install',
    packages: Object.fromEntries(Object.entries(apps).map(([name, permissions]) => [name, { incoming: testPackage(name, '1.0.0', { permissions, remote }), version: '1.0.0', remote, explicit: true, permissions }])),
  });
}

const refusedWith = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof AppError || e instanceof PackageError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

test('nothing is granted by installing; a requested permission is granted once, then shown granted', T, () =>
  withApps({ viewer: ['display', 'network:outbound:example.org:443'] }, async (root) => {
    const before = await appPermissions(root, 'viewer');
    assert.deepEqual(before.permissions.map((p) => [p.permission, p.requested, p.granted]), [['display', true, false], ['network:outbound:example.org:443', true, false]]);
    const first = await grantPermission(root, 'viewer', 'display');
    assert.equal(first.events.length, 1);
    assert.deepEqual(first.granted, ['display']);
    const again = await grantPermission(root, 'viewer', 'display');
    assert.equal(again.events.length, 0, 'granting what is granted appends nothing');
    assert.deepEqual((await appPermissions(root, 'viewer')).permissions.filter((p) => p.granted).map((p) => p.permission), ['display']);
  }));

test('a family name grants every requested permission of that family and nothing else; a family the app does not request is NOT_REQUESTED', T, () =>
  withApps({ browser: ['network:outbound:a.example:443', 'network:outbound:b.example:443', 'folder:downloads:rw', 'audio'] }, async (root) => {
    const change = await grantPermission(root, 'browser', 'network');
    assert.deepEqual(change.granted, ['network:outbound:a.example:443', 'network:outbound:b.example:443']);
    await assert.rejects(grantPermission(root, 'browser', 'device'), refusedWith('NOT_REQUESTED'));
    const revoked = await revokePermission(root, 'browser', 'network');
    assert.deepEqual(revoked.granted, []);
    assert.equal(revoked.events.length, 2);
  }));

test('a permission the app does not request is refused (NOT_REQUESTED, nothing appended) unless asked for explicitly, and then recorded as not requested', T, () =>
  withApps({ notes: ['folder:notes:rw'] }, async (root) => {
    await assert.rejects(grantPermission(root, 'notes', 'network:outbound'), refusedWith('NOT_REQUESTED'));
    assert.deepEqual(auditTrail(root), []);
    await assert.rejects(grantPermission(root, 'notes', 'network', { unrequested: true }), refusedWith('NOT_REQUESTED'), 'a family name never widens what is requested');
    const widened = await grantPermission(root, 'notes', 'network:outbound', { unrequested: true });
    assert.equal(widened.events[0]!.requested, false);
    const shown = await appPermissions(root, 'notes');
    assert.deepEqual(shown.permissions.map((p) => [p.permission, p.requested, p.granted]), [['folder:notes:rw', true, false], ['network:outbound', false, true]]);
  }));

test('unknown permissions, apps that are not installed and revocations of what is not granted are refused, nothing appended', T, () =>
  withApps({ viewer: ['display'] }, async (root) => {
    await assert.rejects(grantPermission(root, 'viewer', 'root-shell', { unrequested: true }), refusedWith('UNKNOWN_PERMISSION'));
    await assert.rejects(grantPermission(root, 'ghost', 'display'), refusedWith('NOT_INSTALLED'));
    await assert.rejects(grantPermission(root, '__proto__', 'display'), refusedWith('NOT_INSTALLED'));
    await assert.rejects(revokePermission(root, 'viewer', 'display'), refusedWith('NOT_GRANTED'));
    assert.deepEqual(auditTrail(root), []);
  }));

test('the audit trail says who granted and revoked what, when, in order', T, () =>
  withApps({ viewer: ['display'], player: ['audio'] }, async (root) => {
    await grantPermission(root, 'viewer', 'display');
    await grantPermission(root, 'player', 'audio');
    await revokePermission(root, 'viewer', 'display');
    const trail = auditTrail(root);
    assert.deepEqual(trail.map((e) => [e.sequence, e.action, e.app, e.permission]), [[1, 'grant', 'viewer', 'display'], [2, 'grant', 'player', 'audio'], [3, 'revoke', 'viewer', 'display']]);
    assert.ok(trail.every((e) => e.actor.length > 0 && !Number.isNaN(Date.parse(e.at))));
    assert.deepEqual(auditTrail(root, 'player').map((e) => e.sequence), [2]);
  }));

test('grants belong to an app of one remote: a same-named app of another remote inherits nothing', T, () =>
  withApps({ viewer: ['display'] }, async (root) => {
    await grantPermission(root, 'viewer', 'display');
    // The user removes viewer and installs a package of the same name from another remote.
    await install(root, { viewer: ['display'] }, 'elsewhere');
    const shown = await appPermissions(root, 'viewer');
    assert.equal(shown.remote, 'elsewhere');
    assert.deepEqual(shown.permissions.filter((p) => p.granted), []);
  }));

test('the trail is append-only: UPDATE and DELETE are refused by the database itself', T, () =>
  withApps({ viewer: ['display'] }, async (root) => {
    await grantPermission(root, 'viewer', 'display');
    const db = new Database(storeDatabasePath(root));
    try {
      assert.throws(() => db.prepare("UPDATE grant_events SET action = 'revoke'").run(), /append-only/);
      assert.throws(() => db.prepare('DELETE FROM grant_events').run(), /append-only/);
    } finally {
      db.close();
    }
    assert.equal(auditTrail(root).length, 1);
  }));

test('an edit made outside cairn (triggers dropped, a row changed or removed) is AUDIT_TAMPERED, and nothing is appended onto it', T, () =>
  withApps({ viewer: ['display', 'audio'], player: ['audio'] }, async (root) => {
    await grantPermission(root, 'viewer', 'display');
    await grantPermission(root, 'player', 'audio');
    await revokePermission(root, 'viewer', 'display');
    const tamper = (sql: string): void => {
      const db = new Database(storeDatabasePath(root));
      try {
        db.exec('DROP TRIGGER grant_events_no_update; DROP TRIGGER grant_events_no_delete;');
        db.exec(sql);
      } finally {
        db.close();
      }
    };
    // Someone hides the revocation by turning it into a grant.
    tamper("UPDATE grant_events SET action = 'grant' WHERE sequence = 3");
    assert.throws(() => auditTrail(root), refusedWith('AUDIT_TAMPERED'));
    await assert.rejects(appPermissions(root, 'viewer'), refusedWith('AUDIT_TAMPERED'));
    await assert.rejects(grantPermission(root, 'viewer', 'audio'), refusedWith('AUDIT_TAMPERED'));
    const count = (): number => {
      const db = new Database(storeDatabasePath(root), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM grant_events').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    assert.equal(count(), 3, 'nothing appended onto a tampered trail');
    // Removing an event is seen too.
    tamper("UPDATE grant_events SET action = 'revoke' WHERE sequence = 3; DELETE FROM grant_events WHERE sequence = 2");
    assert.throws(() => auditTrail(root), (e: unknown) => refusedWith('AUDIT_TAMPERED')(e) && /removed/.test((e as Error).message));
  }));
