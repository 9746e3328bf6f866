// apps/app-users.ts: each app's own host user (docs/apps.md "Isolation"; the App-per-VM issue:
// "Each app gets its own host user and group ... and the hypervisor process runs as that user").
// In the system scope (cairn run by root) every app of a remote of a store gets a uid, and a gid
// of the same number, from a range reserved for cairn (APP_ID_RANGE). Run by another user (the
// user scope), each app gets one ID of that user's subordinate ranges (/etc/subuid, /etc/subgid,
// subuid(5); the user's own ID is inner 0, subordinate N is inner N + 1 of the user namespace
// newuidmap(1) sets up); a user with no such range, or without newuidmap (package uidmap), runs
// every app as themselves, and is told so. IDs are numbers only: no passwd entry is needed.
// Every store of a scope allocates from one registry (/var/lib/cairn/cairn.db for root, the
// database of the system store; ~/.local/share/cairn/cairn.db for a user, under the home the
// password database names), so no two apps share an ID however many stores there are. A store
// that no longer exists gives its IDs back; `cairn gc` gives back those of removed apps
// (app-removal.ts).
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { openDurableDatabase } from '../io/sqlite.js';
import { defaultStoreRoot } from '../store/install-scope.js';
import { AppError } from './errors.js';
import { storeDatabasePath } from './grants-database.js';

const run = promisify(execFile);

/** The uids and gids cairn gives apps: above systemd's container range (524288-1879048191), below 2^31. */
export const APP_ID_RANGE = { first: 2_000_000_000, count: 65_536 } as const;

/** The registry's table: one row per app of a remote of a store (its root's real path). */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS app_ids (
  store TEXT NOT NULL,
  remote TEXT NOT NULL,
  app TEXT NOT NULL,
  uid INTEGER NOT NULL UNIQUE,
  PRIMARY KEY (store, remote, app)
);
`;

/**
 * Where the IDs of every store of this scope are recorded: the system store's database for root;
 * for a user, the user store's database under the home the password database names, whatever the
 * environment says (two registries would give two apps one ID), or, for a user without a home,
 * under XDG_DATA_HOME.
 */
export function appIdRegistryPath(): string {
  if (process.getuid?.() === 0) return storeDatabasePath(defaultStoreRoot('system'));
  const home = userInfo().homedir;
  const homeExists = statSync(home, { throwIfNoEntry: false })?.isDirectory() === true;
  return storeDatabasePath(homeExists ? join(home, '.local', 'share', 'cairn') : defaultStoreRoot('user'));
}

export interface AppUser {
  /** The host uid and gid the hypervisor runs as. */
  uid: number;
  gid: number;
  /** Whether the IDs are the app's own (system scope, or a subordinate ID of the user scope) or the invoking user's. */
  dedicated: boolean;
  /** In the user scope: the user namespace that maps the invoking user and their subordinate ranges, and the app's ID in it. */
  subordinate?: SubordinateIds;
}

/** A user's subordinate ranges as newuidmap maps them: inner 0 is the user, inner 1.. the range. */
export interface SubordinateIds {
  /** The app's uid and gid inside the namespace (1 ..< count). */
  innerId: number;
  uids: { start: number; count: number };
  gids: { start: number; count: number };
}

/** The first range of `file` (subuid(5): NAME:START:COUNT) for the user `name` or uid `uid`, if any. */
export function subordinateRange(file: string, name: string, uid: number): { start: number; count: number } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === name || owner === String(uid)) && /^[0-9]+$/.test(start ?? '') && /^[0-9]+$/.test(count ?? '')) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

/**
 * The host user an app's hypervisor runs as: in the system scope an ID of APP_ID_RANGE; in the
 * user scope one of the user's subordinate IDs, or, without subordinate ranges, the user.
 */
export function appUser(storeRoot: string, app: string, remote: string): AppUser {
  const self = process.getuid?.() ?? 0;
  if (self === 0) {
    const uid = allocateAppId(appIdRegistryPath(), storeRoot, app, remote, APP_ID_RANGE);
    return { uid, gid: uid, dedicated: true };
  }
  const ranges = userSubordinateRanges();
  if (ranges === undefined) return { uid: self, gid: process.getgid?.() ?? 0, dedicated: false };
  const { uids, gids } = ranges;
  const count = Math.min(uids.count, gids.count);
  const uid = allocateAppId(appIdRegistryPath(), storeRoot, app, remote, { first: uids.start, count });
  const offset = uid - uids.start;
  return { uid, gid: gids.start + offset, dedicated: true, subordinate: { innerId: offset + 1, uids, gids } };
}

/** The invoking user's first subordinate uid and gid ranges, when they have both and newuidmap is installed. */
export function userSubordinateRanges(): Pick<SubordinateIds, 'uids' | 'gids'> | undefined {
  const self = process.getuid?.() ?? 0;
  const name = userInfo().username;
  const uids = subordinateRange('/etc/subuid', name, self);
  const gids = subordinateRange('/etc/subgid', name, self);
  const mapper = ['/usr/bin/newuidmap', '/bin/newuidmap'].some((p) => existsSync(p));
  return mapper && uids !== undefined && gids !== undefined && uids.count > 0 && gids.count > 0 ? { uids, gids } : undefined;
}

/** Runs `fn` on the registry at `registry`, opened (UNSUPPORTED, naming it, when it cannot be) and closed after. */
function withRegistry<T>(registry: string, fn: (db: ReturnType<typeof openDurableDatabase>) => T): T {
  let db;
  try {
    db = openDurableDatabase(registry, SCHEMA);
  } catch (e) {
    throw new AppError('UNSUPPORTED', `the app ID registry ${registry} cannot be opened: ${(e as Error).message}`, { hint: 'it is the database of your scope\'s store: make its directory writable, or set XDG_DATA_HOME' });
  }
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The apps of the store `storeRoot` that hold an ID in `registry`. */
export function recordedAppIds(registry: string, storeRoot: string): Array<{ remote: string; app: string; uid: number }> {
  if (!pathExists(registry)) return [];
  return withRegistry(registry, (db) => db.prepare('SELECT remote, app, uid FROM app_ids WHERE store = ? ORDER BY uid').all(realpathSync(storeRoot)) as Array<{ remote: string; app: string; uid: number }>);
}

/** Gives back the ID `uid` of (store, remote, app) in `registry` (nothing if the app now has another). */
export function releaseAppId(registry: string, storeRoot: string, app: string, remote: string, uid: number): void {
  withRegistry(registry, (db) => db.prepare('DELETE FROM app_ids WHERE store = ? AND remote = ? AND app = ? AND uid = ?').run(realpathSync(storeRoot), remote, app, uid));
}

/**
 * The uid recorded in `registry` for (store, remote, app), or the lowest free one of `range`,
 * recorded. Before choosing a new one, the IDs of stores whose root no longer exists are given
 * back (a store that reappears finds its apps' directories owned by another ID, and cairn run
 * refuses them: docs/apps.md "Isolation"). A recorded ID outside `range` (the user's subordinate
 * range changed) is refused rather than used.
 */
export function allocateAppId(registry: string, storeRoot: string, app: string, remote: string, range: { first: number; count: number }): number {
  const store = realpathSync(storeRoot);
  const inRange = (uid: number): boolean => uid >= range.first && uid < range.first + range.count;
  return withRegistry(registry, (db) => db.transaction((): number => {
    const known = db.prepare('SELECT uid FROM app_ids WHERE store = ? AND remote = ? AND app = ?').get(store, remote, app) as { uid: number } | undefined;
    if (known !== undefined) {
      if (!inRange(known.uid)) throw new AppError('UNSUPPORTED', `${app} of ${remote} has the ID ${known.uid}, outside the ${range.count} IDs from ${range.first} it may have now`, { hint: 'your subordinate ranges (/etc/subuid, /etc/subgid) changed: restore them' });
      return known.uid;
    }
    const stores = (db.prepare('SELECT DISTINCT store FROM app_ids').all() as Array<{ store: string }>).map((r) => r.store);
    for (const gone of stores.filter((s) => !pathExists(s))) db.prepare('DELETE FROM app_ids WHERE store = ?').run(gone);
    const uid = lowestFree(db, range.first);
    if (!inRange(uid)) throw new AppError('UNSUPPORTED', `the ${range.count} IDs from ${range.first} that apps may have are all in use`, { hint: 'remove stores that are no longer used' });
    db.prepare('INSERT INTO app_ids (store, remote, app, uid) VALUES (?, ?, ?, ?)').run(store, remote, app, uid);
    return uid;
  }).immediate());
}

/** The lowest uid from `first` on that no row holds and no process runs as (one of a store removed under a running app). */
function lowestFree(db: ReturnType<typeof openDurableDatabase>, first: number): number {
  const taken = new Set((db.prepare('SELECT uid FROM app_ids WHERE uid >= ?').all(first) as Array<{ uid: number }>).map((r) => r.uid));
  for (const uid of processUids()) taken.add(uid);
  let uid = first;
  while (taken.has(uid)) uid++;
  return uid;
}

/** The real uids of the processes this one can see (/proc/PID/status). */
function processUids(): Set<number> {
  const uids = new Set<number>();
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    try {
      const uid = /^Uid:\s+([0-9]+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (uid !== undefined) uids.add(Number(uid));
    } catch {
      // the process ended meanwhile
    }
  }
  return uids;
}

/** Whether `path` exists; only its absence (not, say, a permission error) is false. */
function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

/** unshare(1)'s arguments for a new user namespace where the invoking user is inner 0 and their subordinate ranges inner 1 and on (through newuidmap and newgidmap). */
export function subordinateNamespaceArgs(ids: Pick<SubordinateIds, 'uids' | 'gids'>): string[] {
  return ['--user', '--map-user=0', '--map-group=0', `--map-users=${ids.uids.start},1,${ids.uids.count}`, `--map-groups=${ids.gids.start},1,${ids.gids.count}`];
}

/** Runs `command` as root of that namespace: the invoking user, with power over the app's files (chown to the app, remove them). */
export async function asNamespaceRoot(ids: Pick<SubordinateIds, 'uids' | 'gids'>, command: string[]): Promise<void> {
  try {
    await run('unshare', [...subordinateNamespaceArgs(ids), '--', ...command]);
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: string };
    throw new AppError('UNSUPPORTED', `the user namespace of your subordinate IDs cannot be entered (${command[0]}): ${(error.stderr ?? error.message).trim().split('\n').slice(-1)[0]}`, {
      hint: error.code === 'ENOENT' ? 'sudo apt-get install uidmap util-linux' : 'newuidmap and newgidmap (package uidmap) map the ranges of /etc/subuid and /etc/subgid',
    });
  }
}
