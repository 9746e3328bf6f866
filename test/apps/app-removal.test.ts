// test/apps/app-removal.test.ts: an app's host user goes with the app (docs/apps.md
// "Isolation"): once no generation of its store holds it (cairn gc --keep after cairn remove),
// its ID is given back to the scope's registry and its state and folders, kept, are handed back
// to the store's owner: chown -R follows no link an app left there. While a generation holds the
// app, or its VM runs, it keeps its ID. Needs root (the system scope's registry, chown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appFolderDir, appIdRegistryPath, appStateDir, appUser, collectStoreGarbage, recordRunning, recordedAppIds } from '../../src/apps/index.js';
import { openStore } from '../../src/store/index.js';
import { testPackage } from '../fixtures/store-driver.js';

const ROOT_ONLY = process.getuid?.() !== 0 ? 'the system scope needs root: run the tests as root' : undefined;

/** Commits a generation of `root` holding exactly the apps `names`. */
async function commitApps(root: string, names: string[]): Promise<void> {
  const packages = Object.fromEntries(names.map((name) => [name, { incoming: testPackage(name, '1.0.0'), version: '1.0.0', remote: 'main', explicit: true, permissions: [] }]));
  await (await openStore(root)).commit({ reason: 'install', packages });
}

test('an app gone from every generation gives its uid back and its state and folders to the store\'s owner; one still held or running keeps its uid', { skip: ROOT_ONLY }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-app-removal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'store');
  await commitApps(root, ['kept', 'gone', 'busy']);
  const uids = Object.fromEntries(['kept', 'gone', 'busy'].map((app) => [app, appUser(root, app, 'main').uid]));
  // The app's state as its VM left it, with a link to a file of someone else's.
  const state = appStateDir(root, 'gone', 'main');
  const folder = appFolderDir(root, 'gone', 'main', 'docs');
  await mkdir(state, { recursive: true });
  await mkdir(folder, { recursive: true });
  await writeFile(join(state, 'data'), 'kept');
  const foreign = join(dir, 'foreign');
  await writeFile(foreign, 'not the app\'s');
  await chown(foreign, 12345, 12345);
  await symlink(foreign, join(state, 'link'));
  for (const path of [state, join(state, 'data'), folder]) await chown(path, uids.gone!, uids.gone!);
  await chmod(state, 0o700);

  await commitApps(root, ['kept']);
  await recordRunning(root, { app: 'busy', pid: process.pid, uid: uids.busy!, startedAt: new Date().toISOString() });
  const ids = (): string[] => recordedAppIds(appIdRegistryPath(), root).map((r) => `${r.app}=${r.uid}`).sort();

  const kept = await collectStoreGarbage(root);
  assert.deepEqual(kept.releasedApps, [], 'a rollback can still bring it back');
  assert.deepEqual(ids(), [`busy=${uids.busy}`, `gone=${uids.gone}`, `kept=${uids.kept}`]);

  const collected = await collectStoreGarbage(root, { keepGenerations: 1 });
  assert.deepEqual(collected.removedGenerations, [1]);
  assert.deepEqual(collected.releasedApps, [{ app: 'gone', remote: 'main', uid: uids.gone, keptDirectories: [state, join(root, 'folders', 'main', 'gone')] }]);
  assert.deepEqual(ids(), [`busy=${uids.busy}`, `kept=${uids.kept}`], 'the running app keeps its uid');
  for (const path of [state, join(state, 'data'), folder]) assert.equal((await stat(path)).uid, 0, `${path} is the store owner's`);
  assert.equal((await lstat(join(state, 'link'))).uid, 0, 'the link itself changed');
  assert.equal((await stat(foreign)).uid, 12345, 'what it points to did not');

  // Installed again, it gets an ID anew (the lowest free one).
  await commitApps(root, ['kept', 'gone']);
  const again = appUser(root, 'gone', 'main').uid;
  assert.ok(again !== uids.kept && again !== uids.busy);
});
