// apps/app-removal.ts: an app's host user goes with the app (docs/apps.md "Isolation"; the
// App-per-VM issue: "a reserved UID range, created and removed with the app"). An app is gone
// for good once no generation of its store holds it (after `cairn remove` and a `cairn gc` that
// drops the generations that did: before that a rollback brings it back, with its ID). Then, under
// the app's start lock (so no start of it runs meanwhile), its state and shared folders are moved,
// unchanged, into ROOT/kept/REMOTE/APP-uid-UID-TIME, which only the store's owner can enter, and
// its ID is given back: an app given that ID later cannot reach the files it still owns. Nothing is
// chowned, so no hard link or mount placed in those directories can carry a change of owner
// elsewhere. A directory that cannot be moved (a mount point) keeps the app its ID, and says why.
// An app installed again gets a new ID and new directories; the user may move the kept ones back.
import { lstat, mkdir, rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { GcOptions, GcResult } from '../store/index.js';
import { appIdRegistryPath, recordedAppIds, releaseAppId } from './app-users.js';
import { AppError } from './errors.js';
import { appFoldersDir, appStateDir, holdingStartLock } from './run.js';
import { runningApp } from './running.js';

export interface ReleasedApp {
  app: string;
  remote: string;
  /** The host uid it had. */
  uid: number;
  /** Where its state and folders were moved (unchanged), if it had any. */
  keptIn?: string;
}

export interface AppsRelease {
  released: ReleasedApp[];
  /** Apps no generation holds that keep their ID for now, and why (running, a directory that cannot be moved). */
  notReleased: Array<{ app: string; remote: string; uid: number; reason: string }>;
}

/**
 * The store's garbage collection (store/gc.ts), then the release of the IDs of apps no generation
 * holds any more, both under the store's lock: no generation is made meanwhile (an install of the
 * app again waits).
 */
export async function collectStoreGarbage(storeRoot: string, options: GcOptions = {}): Promise<GcResult & { apps: AppsRelease }> {
  const store = await openedStore(storeRoot);
  return store.withLock(async () => ({ ...(await store.gc(options)), apps: await releaseRemovedApps(store, storeRoot) }));
}

/** Gives back the ID of each app of `storeRoot` that no generation holds and that is not running; its directories are kept aside. */
async function releaseRemovedApps(store: Awaited<ReturnType<typeof openedStore>>, storeRoot: string): Promise<AppsRelease> {
  const registry = appIdRegistryPath();
  const out: AppsRelease = { released: [], notReleased: [] };
  const recorded = recordedAppIds(registry, storeRoot);
  if (recorded.length === 0) return out;
  const held = new Set<string>();
  for (const generation of await store.generations()) {
    for (const [name, p] of Object.entries(generation.packages)) held.add(`${p.remote}\0${name}`);
  }
  for (const { remote, app, uid } of recorded) {
    if (held.has(`${remote}\0${app}`)) continue;
    try {
      const keptIn = await holdingStartLock(storeRoot, app, `cairn gc (giving back the ID of ${app})`, async () => {
        if ((await runningApp(storeRoot, app)) !== undefined) throw new AppError('RUNNING', `${app} is running`);
        const kept = await keepAside(storeRoot, app, remote, uid);
        releaseAppId(registry, storeRoot, app, remote, uid);
        return kept;
      });
      out.released.push({ app, remote, uid, ...(keptIn === undefined ? {} : { keptIn }) });
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      out.notReleased.push({ app, remote, uid, reason: e.message });
    }
  }
  return out;
}

/** Moves the app's state and folders, if any, into ROOT/kept/REMOTE/APP-uid-UID-TIME (the kept directory: the owner's only, 0700); undone if one cannot be moved. */
async function keepAside(storeRoot: string, app: string, remote: string, uid: number): Promise<string | undefined> {
  const sources = [
    { from: appStateDir(storeRoot, app, remote), name: 'state' },
    { from: appFoldersDir(storeRoot, app, remote), name: 'folders' },
  ];
  const present = [];
  for (const s of sources) if (await lstat(s.from).then(() => true, () => false)) present.push(s);
  if (present.length === 0) return undefined;
  const kept = join(storeRoot, 'kept');
  await mkdir(kept, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const status = await lstat(kept);
  if (!status.isDirectory() || status.uid !== process.getuid?.() || (status.mode & 0o077) !== 0) {
    throw new AppError('UNSUPPORTED', `${kept} must be a directory of yours that only you can enter (mode 0700)`);
  }
  const target = join(kept, remote, `${app}-uid-${uid}-${new Date().toISOString().replace(/[-:.]/g, '')}`);
  await mkdir(target, { recursive: true, mode: 0o700 });
  const moved: Array<{ from: string; to: string }> = [];
  for (const s of present) {
    const to = join(target, s.name);
    try {
      await rename(s.from, to);
      moved.push({ from: s.from, to });
    } catch (e) {
      for (const m of moved.reverse()) await rename(m.to, m.from);
      await rmdir(target).catch(() => undefined);
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EBUSY' || code === 'EXDEV' ? 'it is a mount point' : code === 'EACCES' || code === 'EPERM' ? 'it is not writable to you (the app may have changed its mode: give it u+w)' : (e as Error).message;
      throw new AppError('UNSUPPORTED', `${s.from} cannot be moved to ${kept}: ${why}; ${app} keeps its ID`);
    }
  }
  return target;
}

/** The store at `root`, its code loaded only here: cairn run, which loads this layer, needs none of it. */
async function openedStore(root: string): ReturnType<typeof import('../store/store.js').openStore> {
  const { openStore } = await import('../store/store.js');
  return openStore(root);
}
