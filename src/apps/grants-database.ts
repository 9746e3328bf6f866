// apps/grants-database.ts: the grants of each app and their audit trail, in the client store's
// database ROOT/cairn.db (SQLite, WAL, synchronous=FULL: io/sqlite.ts; docs/apps.md "Grants").
// The trail is the only record: an event says who granted or revoked which permission of which
// app, when, and whether the app requested it; what is granted now is the last event of each
// (app, permission). It is append-only twice over: triggers refuse UPDATE and DELETE, so no code
// path of cairn can rewrite history, and each event carries the sha256 of the one before it
// (`previous`) and its own (`hash`), so a change made outside cairn (editing the file) breaks the
// chain, which every read checks (AUDIT_TAMPERED).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { canonicalBytes } from '../encoding/index.js';
import { openDurableDatabase } from '../io/sqlite.js';
import { AppError } from './errors.js';

export type GrantAction = 'grant' | 'revoke';

/** One event of the audit trail. */
export interface GrantEvent {
  /** 1, 2, ... in the order appended. */
  sequence: number;
  /** ISO time it was appended. */
  at: string;
  /** Who: the user name and uid of the process that appended it. */
  actor: string;
  app: string;
  /** The remote the app is installed from (a grant is for that app of that remote). */
  remote: string;
  permission: string;
  action: GrantAction;
  /** Whether the app requested the permission when it was granted or revoked. */
  requested: boolean;
  /** The sha256 of the event before (64 zeros for the first). */
  previous: string;
  /** The sha256 of this event's canonical JSON without `hash`. */
  hash: string;
}

const GENESIS = '0'.repeat(64);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS grant_events (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  app TEXT NOT NULL,
  remote TEXT NOT NULL,
  permission TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('grant', 'revoke')),
  requested INTEGER NOT NULL CHECK (requested IN (0, 1)),
  previous TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS grant_events_by_app ON grant_events (app, remote, permission, sequence);
CREATE TRIGGER IF NOT EXISTS grant_events_no_update BEFORE UPDATE ON grant_events
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS grant_events_no_delete BEFORE DELETE ON grant_events
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

/** The path of the client store's database under a store root. */
export function storeDatabasePath(storeRoot: string): string {
  return join(storeRoot, 'cairn.db');
}

/** A row as SQLite returns it: the action as text, `requested` as 0 or 1. */
type EventRow = Omit<GrantEvent, 'action' | 'requested'> & { action: string; requested: number };

/** The hash of an event: sha256 of the canonical JSON of every field but `hash`. */
function eventHash(e: Omit<GrantEvent, 'hash'>): string {
  return createHash('sha256').update(canonicalBytes({ ...e })).digest('hex');
}

function fromRow(row: EventRow): GrantEvent {
  return { ...row, action: row.action as GrantAction, requested: row.requested === 1 };
}

/** Runs `fn` on the grants database of a store, closed afterwards. */
export function withGrantsDatabase<T>(storeRoot: string, fn: (db: GrantsDatabase) => T): T {
  const db = GrantsDatabase.open(storeRoot);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export class GrantsDatabase {
  private constructor(private readonly db: Database.Database) {}

  static open(storeRoot: string): GrantsDatabase {
    return new GrantsDatabase(openDurableDatabase(storeDatabasePath(storeRoot), SCHEMA));
  }

  close(): void {
    this.db.close();
  }

  /**
   * Every event, in order, after checking the whole chain: each event's hash is its content's,
   * each names the one before, and the sequence has no gap. AUDIT_TAMPERED otherwise.
   */
  events(): GrantEvent[] {
    const rows = this.db.prepare('SELECT * FROM grant_events ORDER BY sequence').all() as EventRow[];
    let previous = GENESIS;
    let expected = 1;
    return rows.map((row) => {
      const event = fromRow(row);
      const { hash, ...content } = event;
      if (event.sequence !== expected) throw new AppError('AUDIT_TAMPERED', `the audit trail skips from event ${expected - 1} to ${event.sequence}: events were removed`);
      if (event.previous !== previous) throw new AppError('AUDIT_TAMPERED', `event ${event.sequence} of the audit trail does not follow event ${event.sequence - 1}`);
      if (eventHash(content) !== hash) throw new AppError('AUDIT_TAMPERED', `event ${event.sequence} of the audit trail (${event.action} ${event.permission} for ${event.app}) was changed after it was written`);
      previous = hash;
      expected += 1;
      return event;
    });
  }

  /** The permissions granted now to `app` of `remote` (its last event per permission is a grant), sorted. */
  granted(app: string, remote: string): string[] {
    return grantedIn(this.events(), app, remote);
  }

  /**
   * Appends one event per permission, in one transaction that first checks the chain and `decide`
   * (given what is granted now, it returns the events to append, or throws): two cairn processes
   * never append from the same tail. Returns the events appended and what is granted afterwards.
   */
  append(app: string, remote: string, actor: string, decide: (granted: readonly string[]) => Array<{ permission: string; action: GrantAction; requested: boolean }>): { events: GrantEvent[]; granted: string[] } {
    const run = this.db.transaction((): { events: GrantEvent[]; granted: string[] } => {
      const all = this.events();
      const granted = grantedIn(all, app, remote);
      let previous = all.at(-1)?.hash ?? GENESIS;
      let sequence = all.length;
      const appended: GrantEvent[] = [];
      const insert = this.db.prepare('INSERT INTO grant_events (sequence, at, actor, app, remote, permission, action, requested, previous, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const change of decide(granted)) {
        sequence += 1;
        const content = { sequence, at: new Date().toISOString(), actor, app, remote, permission: change.permission, action: change.action, requested: change.requested, previous };
        const event: GrantEvent = { ...content, hash: eventHash(content) };
        insert.run(event.sequence, event.at, event.actor, event.app, event.remote, event.permission, event.action, event.requested ? 1 : 0, event.previous, event.hash);
        previous = event.hash;
        appended.push(event);
      }
      return { events: appended, granted: grantedIn([...all, ...appended], app, remote) };
    });
    return run.immediate();
  }
}

function grantedIn(events: readonly GrantEvent[], app: string, remote: string): string[] {
  const last = new Map<string, GrantAction>();
  for (const e of events) if (e.app === app && e.remote === remote) last.set(e.permission, e.action);
  return [...last].filter(([, action]) => action === 'grant').map(([permission]) => permission).sort();
}
