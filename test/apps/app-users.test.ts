// test/apps/app-users.test.ts: the registry of app IDs (docs/apps.md "Isolation"): every store
// of a scope allocates from one registry, so apps of two stores never share a host uid (and so
// never a network slot); a store that is gone gives its IDs back; an ID a process runs as is not
// given; a recorded ID outside the range is refused; a full range or an unusable registry is UNSUPPORTED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, allocateAppId } from '../../src/apps/index.js';

const RANGE = { first: 5000, count: 4 };

async function scratch(): Promise<{ dir: string; registry: string; store: (name: string) => Promise<string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-app-ids-'));
  return {
    dir,
    registry: join(dir, 'scope', 'cairn.db'),
    store: async (name) => {
      const root = join(dir, name);
      await mkdir(root, { recursive: true });
      return root;
    },
  };
}

test('apps of two stores get different IDs; an app keeps its ID, whatever path names its store', async (t) => {
  const { dir, registry, store } = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = await store('a');
  const b = await store('b');
  assert.equal(allocateAppId(registry, a, 'browser', 'main', RANGE), 5000);
  assert.equal(allocateAppId(registry, b, 'browser', 'main', RANGE), 5001, 'the same app name in another store is another app');
  assert.equal(allocateAppId(registry, a, 'browser', 'mirror', RANGE), 5002, 'the same app of another remote is another app');
  await symlink(a, join(dir, 'a-link'));
  assert.equal(allocateAppId(registry, join(dir, 'a-link'), 'browser', 'main', RANGE), 5000);
  assert.equal(allocateAppId(registry, a, 'browser', 'main', RANGE), 5000);
});

test('a store that no longer exists gives its IDs back; a full range is UNSUPPORTED and records nothing', async (t) => {
  const { dir, registry, store } = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kept = await store('kept');
  const gone = await store('gone');
  assert.equal(allocateAppId(registry, gone, 'one', 'main', RANGE), 5000);
  assert.equal(allocateAppId(registry, kept, 'two', 'main', RANGE), 5001);
  assert.equal(allocateAppId(registry, gone, 'three', 'main', RANGE), 5002);
  assert.equal(allocateAppId(registry, kept, 'four', 'main', RANGE), 5003);
  await assert.rejects(async () => allocateAppId(registry, kept, 'five', 'main', RANGE), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED' && /4 IDs from 5000/.test(e.message));
  const rows = (): Array<{ app: string; uid: number }> => {
    const db = new Database(registry, { readonly: true });
    try {
      return db.prepare('SELECT app, uid FROM app_ids ORDER BY uid').all() as Array<{ app: string; uid: number }>;
    } finally {
      db.close();
    }
  };
  assert.equal(rows().length, 4, 'nothing recorded for the refused app');
  await rm(gone, { recursive: true });
  assert.equal(allocateAppId(registry, kept, 'five', 'main', RANGE), 5000, 'the lowest ID given back');
  assert.equal(allocateAppId(registry, kept, 'six', 'main', RANGE), 5002);
  assert.deepEqual(rows(), [{ app: 'five', uid: 5000 }, { app: 'two', uid: 5001 }, { app: 'six', uid: 5002 }, { app: 'four', uid: 5003 }]);
});

test('an ID a process runs as is not given out (an app still running whose store was removed)', async (t) => {
  const { dir, registry, store } = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const self = process.getuid!();
  const uid = allocateAppId(registry, await store('s'), 'app', 'main', { first: self, count: 100 });
  assert.ok(uid > self && uid < self + 100, `${uid}: not ${self}, which this test runs as`);
});

test('a recorded ID outside the range an app may have now (a user\'s subordinate range changed) is refused, not used', async (t) => {
  const { dir, registry, store } = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = await store('s');
  assert.equal(allocateAppId(registry, root, 'app', 'main', RANGE), 5000);
  await assert.rejects(async () => allocateAppId(registry, root, 'app', 'main', { first: 6000, count: 4 }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED' && /has the ID 5000, outside the 4 IDs from 6000/.test(e.message));
});

test('a registry that cannot be opened is UNSUPPORTED, naming it', async (t) => {
  const { dir, store } = await scratch();
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'not-a-directory'), '');
  const registry = join(dir, 'not-a-directory', 'cairn.db');
  await assert.rejects(async () => allocateAppId(registry, await store('s'), 'app', 'main', RANGE), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED' && e.message.includes(registry));
});
