// apps/app-users.ts: each app's own host user (docs/apps.md "Isolation"; the App-per-VM issue:
// "Each app gets its own host user and group ... and the hypervisor process runs as that user").
// In the system scope (cairn run by root) every app of a remote gets a uid, and a gid of the same
// number, from a range reserved for cairn (APP_ID_RANGE), recorded in the store's database so an
// app keeps its IDs across starts and no two apps share one. IDs are numbers only: no passwd
// entry is needed to run a process as them. Run by another user (the user scope), apps run as
// that user: subordinate ID ranges are not built yet.
import { openDurableDatabase } from '../io/sqlite.js';
import { AppError } from './errors.js';
import { storeDatabasePath } from './grants-database.js';

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
  uid: number;
  gid: number;
  /** Whether the IDs are the app's own (system scope) or the invoking user's (user scope). */
  dedicated: boolean;
}

/** The host user an app's hypervisor runs as. */
export function appUser(storeRoot: string, app: string, remote: string): AppUser {
  const self = process.getuid?.();
  if (self !== 0) return { uid: self ?? 0, gid: process.getgid?.() ?? 0, dedicated: false };
  const db = openDurableDatabase(storeDatabasePath(storeRoot), SCHEMA);
  try {
    const allocate = db.transaction((): number => {
      const known = db.prepare('SELECT uid FROM app_users WHERE app = ? AND remote = ?').get(app, remote) as { uid: number } | undefined;
      if (known !== undefined) return known.uid;
      const highest = (db.prepare('SELECT max(uid) AS uid FROM app_users').get() as { uid: number | null }).uid;
      const uid = highest === null ? APP_ID_RANGE.first : highest + 1;
      if (uid >= APP_ID_RANGE.first + APP_ID_RANGE.count) throw new AppError('UNSUPPORTED', `the ${APP_ID_RANGE.count} host IDs reserved for apps are all in use`);
      db.prepare('INSERT INTO app_users (app, remote, uid) VALUES (?, ?, ?)').run(app, remote, uid);
      return uid;
    });
    const uid = allocate.immediate();
    return { uid, gid: uid, dedicated: true };
  } finally {
    db.close();
  }
}
