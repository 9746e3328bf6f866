// monitor/state.ts: what a monitor has seen, kept across runs (docs/transparency.md "Monitors"):
// every block it verified with the co-signed claim it verified it by (the level-0 forward link
// into it), the rosters and roots in force, each source's last head, and the alarms raised (each
// once). SQLite through io/sqlite.ts (WAL, synchronous=FULL), so a crash loses no verified block.
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { openDurableDatabase } from '../io/sqlite.js';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { parseBlock, parseLinkFile, parseRoster, type Block, type LinkFile, type Roster } from '../log/index.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL, block TEXT NOT NULL, claim BLOB);
CREATE TABLE IF NOT EXISTS rosters (hash TEXT PRIMARY KEY, roster TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (version INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sources (url TEXT PRIMARY KEY, head_index INTEGER NOT NULL, head_hash TEXT NOT NULL, head_time TEXT NOT NULL, checkpoint TEXT);
CREATE TABLE IF NOT EXISTS alarms (key TEXT PRIMARY KEY, raised TEXT NOT NULL, alarm TEXT NOT NULL);
`;

/** The file of a monitor's state in its directory. */
export const MONITOR_DATABASE = 'monitor.sqlite';

/** A source's last verified head, as the monitor saw it. */
export interface SeenHead {
  index: number;
  hash: string;
  time: string;
  /** The last checkpoint text checked from this source, to check each one once. */
  checkpoint: string | null;
}

/** A root version verified (TUF 5.3.4 from the one before), kept with the block that records it. */
export interface VerifiedRoot {
  version: number;
  sha256: string;
  bytes: Uint8Array;
}

export class MonitorState {
  private readonly db: Database.Database;

  constructor(dir: string) {
    this.db = openDurableDatabase(join(dir, MONITOR_DATABASE), SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Runs `fn` (which may await) in one transaction, committed at its end whether it returns or
   * throws: everything written is verified, so a batch of blocks costs one synchronous commit,
   * not one each. A crash loses at most the batch, which the next poll verifies again.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    if (this.db.inTransaction) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      return await fn();
    } finally {
      this.db.exec('COMMIT');
    }
  }

  get chain(): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get('chain') as { value: string } | undefined)?.value;
  }

  /** The highest verified index, or -1 before genesis. */
  get verifiedIndex(): number {
    return (this.db.prepare('SELECT MAX(idx) AS n FROM blocks').get() as { n: number | null }).n ?? -1;
  }

  /**
   * Records a verified block with the link file that vouched for it (none for genesis), the roster
   * in force and the root versions first recorded by it, in one transaction.
   */
  addBlock(block: Block, hash: string, claim: LinkFile | null, roster: Roster, roots: readonly VerifiedRoot[] = []): void {
    this.db.transaction(() => {
      if (block.index === 0) this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('chain', hash);
      for (const r of roots) this.db.prepare('INSERT OR IGNORE INTO roots (version, sha256, bytes) VALUES (?, ?, ?)').run(r.version, r.sha256, Buffer.from(r.bytes));
      this.db.prepare('INSERT OR IGNORE INTO rosters (hash, roster) VALUES (?, ?)').run(block.roster, canonicalBytes(roster).toString());
      this.db.prepare('INSERT INTO blocks (idx, hash, block, claim) VALUES (?, ?, ?, ?)').run(block.index, hash, canonicalBytes(block).toString(), claim === null ? null : canonicalBytes(claim));
    })();
  }

  hashAt(index: number): string | undefined {
    return (this.db.prepare('SELECT hash FROM blocks WHERE idx = ?').get(index) as { hash: string } | undefined)?.hash;
  }

  /** Hashes of blocks 0 to size - 1, in order (for the checkpoint's tree). */
  hashes(size: number): string[] {
    return (this.db.prepare('SELECT hash FROM blocks WHERE idx < ? ORDER BY idx').all(size) as Array<{ hash: string }>).map((r) => r.hash);
  }

  blockAt(index: number): Block | undefined {
    const row = this.db.prepare('SELECT block FROM blocks WHERE idx = ?').get(index) as { block: string } | undefined;
    return row === undefined ? undefined : parseBlock(JSON.parse(row.block), `stored block ${index}`);
  }

  /** The link file the monitor verified block `index` by (undefined for genesis or an unknown block). */
  claimAt(index: number): LinkFile | undefined {
    const row = this.db.prepare('SELECT claim FROM blocks WHERE idx = ?').get(index) as { claim: Buffer | null } | undefined;
    return row === undefined || row.claim === null ? undefined : parseLinkFile(row.claim, `stored link into block ${index}`);
  }

  roster(hash: string): Roster | undefined {
    const row = this.db.prepare('SELECT roster FROM rosters WHERE hash = ?').get(hash) as { roster: string } | undefined;
    return row === undefined ? undefined : parseRoster(JSON.parse(row.roster), `stored roster ${hash.slice(0, 12)}`);
  }

  root(version: number): { sha256: string; bytes: Buffer } | undefined {
    return this.db.prepare('SELECT sha256, bytes FROM roots WHERE version = ?').get(version) as { sha256: string; bytes: Buffer } | undefined;
  }

  /** The verified root documents up to `version`, in version order. */
  rootsUpTo(version: number): Array<{ version: number; bytes: Buffer }> {
    return this.db.prepare('SELECT version, bytes FROM roots WHERE version <= ? ORDER BY version').all(version) as Array<{ version: number; bytes: Buffer }>;
  }

  /** The newest verified root version, or 0. */
  get rootVersion(): number {
    return (this.db.prepare('SELECT MAX(version) AS v FROM roots').get() as { v: number | null }).v ?? 0;
  }

  seenHead(url: string): SeenHead | undefined {
    const row = this.db.prepare('SELECT head_index, head_hash, head_time, checkpoint FROM sources WHERE url = ?').get(url) as
      | { head_index: number; head_hash: string; head_time: string; checkpoint: string | null }
      | undefined;
    return row === undefined ? undefined : { index: row.head_index, hash: row.head_hash, time: row.head_time, checkpoint: row.checkpoint };
  }

  /** Records a source's verified head; the newest of all sources' is kept as the log's freshness. */
  setSeenHead(url: string, head: SeenHead): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO sources (url, head_index, head_hash, head_time, checkpoint) VALUES (?, ?, ?, ?, ?)').run(url, head.index, head.hash, head.time, head.checkpoint);
      const newest = this.newestHead;
      if (newest === undefined || Date.parse(head.time) > Date.parse(newest.time)) {
        this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('newest_head', JSON.stringify({ index: head.index, time: head.time }));
      }
    })();
  }

  /** The newest head statement verified from any source (index and time). */
  get newestHead(): { index: number; time: string } | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('newest_head') as { value: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.value) as { index: number; time: string });
  }

  /** Records an alarm under `key`; false when one with that key was raised before (each is raised once). */
  raise(key: string, alarm: object, time: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO alarms (key, raised, alarm) VALUES (?, ?, ?)').run(key, time, JSON.stringify(alarm)).changes === 1;
  }

  alarmCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM alarms').get() as { n: number }).n;
  }
}
