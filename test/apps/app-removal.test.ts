// test/apps/app-removal.test.ts: an app's host user goes with the app (docs/apps.md
// "Isolation"): once no generation of its store holds it (cairn gc --keep after cairn remove),
// its state and folders are moved, unchanged, into ROOT/kept (the owner's only) and its ID is
// given back; nothing is chowned, so a hard link the app's directory holds to another's file
// changes nothing of that file. An app still held by a generation, running, or being started
// keeps its ID; so does one whose directory is a mount point, saying why. Needs root (the system
// scope's registry, chown, mount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chown, link, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, appFolderDir, appIdRegistryPath, appStateDir, appUser, collectStoreGarbage, holdingStartLock, recordRunning, recordedAppIds, runApp } from '../../src/apps/index.js';
import { openStore } from '../../src/store/index.js';
import { testPackage } from '../fixtures/store-driver.js';

const ROOT_ONLY = process.getuid?.() !== 0 ? 'the system scope needs root: run the tests as root' : undefined;

/** Commits a generation of `root` holding exactly the apps `names`. */
async function commitApps(root: string, names: string[]): Promise<void> {
  const packages = Object.fromEntries(names.map((name) => [name, { incoming: testPackage(name, '1.0.0'), version: '1.0.0', remote: 'main', explicit: true, permissions: [] }]));
  await (await openStore(root)).commit({ reason: 'install', packages });
}

const idsOf = (root: string): string[] => recordedAppIds(appIdRegistryPath(), root).map((r) => `${r.app}=${r.uid}`).sort();

test('an app gone from every generation: its state and folders are kept aside unchanged, out of reach, and its uid given back; a hard link in them changes nothing', { skip: ROOT_ONLY }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-app-removal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'store');
  await commitApps(root, ['kept', 'gone']);
  const uids = Object.fromEntries(['kept', 'gone'].map((app) => [app, appUser(root, app, 'main').uid]));
  // The app's state as its VM left it, holding a hard link to another user's file.
  const state = appStateDir(root, 'gone', 'main');
  const folder = appFolderDir(root, 'gone', 'main', 'docs');
  await mkdir(state, { recursive: true });
  await mkdir(folder, { recursive: true });
  await writeFile(join(state, 'data'), 'the app\'s');
  const foreign = join(dir, 'foreign');
  await writeFile(foreign, 'someone else\'s');
  await chown(foreign, 12345, 12345);
  await link(foreign, join(state, 'linked'));
  for (const path of [state, join(state, 'data'), folder]) await chown(path, uids.gone!, uids.gone!);

  await commitApps(root, ['kept']);
  const whileHeld = await collectStoreGarbage(root);
  assert.deepEqual(whileHeld.apps, { released: [], notReleased: [] }, 'a rollback can still bring it back: nothing given back');
  assert.deepEqual(idsOf(root), [`gone=${uids.gone}`, `kept=${uids.kept}`]);

  const collected = await collectStoreGarbage(root, { keepGenerations: 1 });
  assert.deepEqual(collected.removedGenerations, [1]);
  assert.equal(collected.apps.released.length, 1);
  const released = collected.apps.released[0]!;
  assert.deepEqual({ ...released, keptIn: undefined }, { app: 'gone', remote: 'main', uid: uids.gone, keptIn: undefined });
  assert.match(released.keptIn!, new RegExp(`^${join(root, 'kept', 'main')}/gone-uid-${uids.gone}-`));
  assert.deepEqual(idsOf(root), [`kept=${uids.kept}`]);
  assert.deepEqual((await readdir(released.keptIn!)).sort(), ['folders', 'state']);
  assert.equal(await readFile(join(released.keptIn!, 'state', 'data'), 'utf8'), 'the app\'s', 'kept, unchanged');
  assert.equal((await stat(join(released.keptIn!, 'state', 'data'))).uid, uids.gone);
  assert.equal((await stat(foreign)).uid, 12345, 'the linked file is untouched');
  assert.equal((await lstat(join(root, 'kept'))).mode & 0o777, 0o700, 'only the store\'s owner enters the kept directory');
  await assert.rejects(lstat(state), { code: 'ENOENT' });
  const peek = spawnSync('cat', [join(released.keptIn!, 'state', 'data')], { uid: uids.gone!, gid: uids.gone!, encoding: 'utf8' });
  assert.notEqual(peek.status, 0, 'whoever gets the uid next cannot reach what the app left');
});

test('an app no generation holds keeps its uid while it runs or is being started, and when its directory is a mount point, saying why', { skip: ROOT_ONLY }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-app-removal-'));
  const mounted = join(dir, 'store', 'state', 'main', 'mounted');
  t.after(async () => {
    spawnSync('umount', [mounted]);
    await rm(dir, { recursive: true, force: true });
  });
  const root = join(dir, 'store');
  await commitApps(root, ['busy', 'starting', 'mounted']);
  const uids = Object.fromEntries(['busy', 'starting', 'mounted'].map((app) => [app, appUser(root, app, 'main').uid]));
  await commitApps(root, []);
  await recordRunning(root, { app: 'busy', pid: process.pid, uid: uids.busy!, startedAt: new Date().toISOString() });
  await mkdir(mounted, { recursive: true });
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mounted]).status, 0, 'mount a tmpfs');
  await writeFile(join(mounted, 'inside'), 'on its own file system');

  // A start of `starting` in progress holds its start lock (as runApp does from before its checks until its VM has ended).
  let release = (): void => undefined;
  let locked = (): void => undefined;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holding = holdingStartLock(root, 'starting', 'a test start', () => new Promise<void>((r) => {
    release = r;
    locked();
  }));
  await isLocked;
  const result = await collectStoreGarbage(root, { keepGenerations: 1 }).finally(() => release());
  await holding;
  assert.deepEqual(result.apps.released, []);
  assert.deepEqual(result.apps.notReleased.map((a) => a.app).sort(), ['busy', 'mounted', 'starting']);
  const reason = (app: string): string => result.apps.notReleased.find((a) => a.app === app)!.reason;
  assert.match(reason('busy'), /busy is running/);
  assert.match(reason('starting'), /being started or run by another/);
  assert.match(reason('mounted'), /cannot be moved to .*: it is a mount point; mounted keeps its ID/);
  assert.deepEqual(await readdir(join(root, 'kept', 'main')), [], 'nothing left of the attempt');
  assert.equal(await readFile(join(mounted, 'inside'), 'utf8'), 'on its own file system', 'the mount is where it was');
  assert.deepEqual(idsOf(root), [`busy=${uids.busy}`, `mounted=${uids.mounted}`, `starting=${uids.starting}`]);
  await assert.rejects(runApp(root, 'busy'), (e: unknown) => e instanceof AppError && e.code === 'NOT_INSTALLED');
});
