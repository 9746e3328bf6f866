// apps/app-removal.ts: an app's host user goes with the app (docs/apps.md "Isolation"; the
// App-per-VM issue: "a reserved UID range, created and removed with the app"). An app is gone
// for good once no generation of its store holds it (after `cairn remove` and a `cairn gc` that
// drops the generations that did: before that a rollback brings it back, with its ID). Then its ID
// is given back to the scope's registry, and its state and shared folders, kept, are handed back
// to the store's owner (root, or the user), so that no later app given the same ID owns them; an
// app installed again gets an ID anew and is handed its directories at its first start. A running
// app keeps its ID until it has ended.
import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GcOptions, GcResult } from '../store/index.js';
import { appIdRegistryPath, asNamespaceRoot, recordedAppIds, releaseAppId, userSubordinateRanges } from './app-users.js';
import { appStateDir } from './run.js';
import { runningApps } from './running.js';

const run = promisify(execFile);

export interface ReleasedApp {
  app: string;
  remote: string;
  /** The host uid it had. */
  uid: number;
  /** Its directories (state, shared folders) that were kept and handed back to the store's owner. */
  keptDirectories: string[];
}

/** The store's garbage collection (store/gc.ts), then the release of the IDs of apps no generation holds any more. */
export async function collectStoreGarbage(storeRoot: string, options: GcOptions = {}): Promise<GcResult & { releasedApps: ReleasedApp[] }> {
  const result = await (await openedStore(storeRoot)).gc(options);
  return { ...result, releasedApps: await releaseRemovedApps(storeRoot) };
}

/** Gives back the ID of each app of `storeRoot` that no generation holds and that is not running; hands its directories back. */
export async function releaseRemovedApps(storeRoot: string): Promise<ReleasedApp[]> {
  const registry = appIdRegistryPath();
  const recorded = recordedAppIds(registry, storeRoot);
  if (recorded.length === 0) return [];
  const held = new Set<string>();
  for (const generation of await (await openedStore(storeRoot)).generations()) {
    for (const [name, p] of Object.entries(generation.packages)) held.add(`${p.remote}\0${name}`);
  }
  const running = new Set((await runningApps(storeRoot)).map((r) => r.app));
  const released: ReleasedApp[] = [];
  for (const { remote, app, uid } of recorded) {
    if (held.has(`${remote}\0${app}`) || running.has(app)) continue;
    const keptDirectories: string[] = [];
    for (const dir of [appStateDir(storeRoot, app, remote), join(storeRoot, 'folders', remote, app)]) {
      const status = await lstat(dir).catch(() => undefined);
      if (status === undefined || !status.isDirectory()) continue;
      await handBackToOwner(dir);
      keptDirectories.push(dir);
    }
    releaseAppId(registry, storeRoot, app, remote);
    released.push({ app, remote, uid, keptDirectories });
  }
  return released;
}

/** The store at `root`, its code loaded only here: cairn run, which loads this layer, needs none of it. */
async function openedStore(root: string): ReturnType<typeof import('../store/store.js').openStore> {
  const { openStore } = await import('../store/store.js');
  return openStore(root);
}

/** Makes `dir` and everything in it the invoking user's again (chown -R, which changes links themselves and follows none). */
async function handBackToOwner(dir: string): Promise<void> {
  const self = process.getuid?.() ?? 0;
  if (self === 0) {
    await run('chown', ['-R', '0:0', '--', dir]);
    return;
  }
  const ranges = userSubordinateRanges();
  if (ranges !== undefined) await asNamespaceRoot(ranges, ['chown', '-R', '0:0', '--', dir]);
}
