// io/sqlite.ts: the one way cairn opens a SQLite database for state that must survive a crash
// (docs/design.md "Storage and scale": WAL, synchronous=FULL): the witness's state and the rebuild
// queue. The parent directory is created; a busy database is waited for, not failed.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Opens (or creates) `path` and applies `schema` (idempotent DDL). ':memory:' is allowed. */
export function openDurableDatabase(path: string, schema: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
