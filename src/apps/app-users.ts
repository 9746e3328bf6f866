// apps/app-users.ts: each app's own host user (docs/apps.md "Isolation"; the App-per-VM issue:
// "Each app gets its own host user and group ... and the hypervisor process runs as that user").
// In the system scope (cairn run by root) every app of a remote gets a uid, and a gid of the same
// number, from a range reserved for cairn (APP_ID_RANGE), recorded in the store's database so an
// app keeps its IDs across starts and no two apps share one. IDs are numbers only: no passwd
// entry is needed to run a process as them. Run by another user (the user scope), each app gets
// one ID of that user's subordinate ranges (/etc/subuid, /etc/subgid, subuid(5); the user's
// own ID is inner 0, subordinate N is inner N + 1 of the user namespace newuidmap(1) sets up),
// recorded the same way; a user with no such range, or without newuidmap (package uidmap), runs
// every app as themselves, and is told so.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import { openDurableDatabase } from '../io/sqlite.js';
import { AppError } from './errors.js';
import { storeDatabasePath } from './grants-database.js';

const run = promisify(execFile);

/** The uids and gids cairn gives apps: above systemd's container range (524288-1879048191), below 2^31. */
export const APP_ID_RANGE = { first: 2_000_000_000, count: 65_536 } as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS app_users (
  app TEXT NOT NULL,
  remote TEXT NOT NULL,
  uid INTEGER NOT NULL UNIQUE,
  PRIMARY KEY (app, remote)
);
`;

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
    const uid = allocate(storeRoot, app, remote, APP_ID_RANGE.first, APP_ID_RANGE.count, `the ${APP_ID_RANGE.count} host IDs reserved for apps are all in use`);
    return { uid, gid: uid, dedicated: true };
  }
  const name = userInfo().username;
  const uids = subordinateRange('/etc/subuid', name, self);
  const gids = subordinateRange('/etc/subgid', name, self);
  const mapper = ['/usr/bin/newuidmap', '/bin/newuidmap'].some((p) => existsSync(p));
  if (!mapper || uids === undefined || gids === undefined || uids.count < 1 || gids.count < 1) return { uid: self, gid: process.getgid?.() ?? 0, dedicated: false };
  const count = Math.min(uids.count, gids.count);
  const uid = allocate(storeRoot, app, remote, uids.start, count, `the ${count} subordinate IDs of ${name} are all in use`);
  const offset = uid - uids.start;
  return { uid, gid: gids.start + offset, dedicated: true, subordinate: { innerId: offset + 1, uids, gids } };
}

/** The recorded uid of (app, remote), or the next one of [first, first + count), recorded. */
function allocate(storeRoot: string, app: string, remote: string, first: number, count: number, exhausted: string): number {
  const db = openDurableDatabase(storeDatabasePath(storeRoot), SCHEMA);
  try {
    return db.transaction((): number => {
      const known = db.prepare('SELECT uid FROM app_users WHERE app = ? AND remote = ?').get(app, remote) as { uid: number } | undefined;
      if (known !== undefined) return known.uid;
      const highest = (db.prepare('SELECT max(uid) AS uid FROM app_users').get() as { uid: number | null }).uid;
      const uid = highest === null || highest < first ? first : highest + 1;
      if (uid >= first + count) throw new AppError('UNSUPPORTED', exhausted);
      db.prepare('INSERT INTO app_users (app, remote, uid) VALUES (?, ?, ?)').run(app, remote, uid);
      return uid;
    }).immediate();
  } finally {
    db.close();
  }
}

/** unshare(1)'s arguments for a new user namespace where the invoking user is inner 0 and their subordinate ranges inner 1 and on (through newuidmap and newgidmap). */
export function subordinateNamespaceArgs(ids: SubordinateIds): string[] {
  return ['--user', '--map-user=0', '--map-group=0', `--map-users=${ids.uids.start},1,${ids.uids.count}`, `--map-groups=${ids.gids.start},1,${ids.gids.count}`];
}

/** Runs `command` as root of that namespace: the invoking user, with power over the app's files (chown to the app, remove them). */
export async function asNamespaceRoot(ids: SubordinateIds, command: string[]): Promise<void> {
  try {
    await run('unshare', [...subordinateNamespaceArgs(ids), '--', ...command]);
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: string };
    throw new AppError('UNSUPPORTED', `the user namespace of your subordinate IDs cannot be entered (${command[0]}): ${(error.stderr ?? error.message).trim().split('\n').slice(-1)[0]}`, {
      hint: error.code === 'ENOENT' ? 'sudo apt-get install uidmap util-linux' : 'newuidmap and newgidmap (package uidmap) map the ranges of /etc/subuid and /etc/subgid',
    });
  }
}
