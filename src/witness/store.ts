// witness/store.ts: a witness's durable state in SQLite (docs/design.md "Storage and scale": WAL,
// synchronous=FULL). It holds what the witness must never forget across a crash: the chain it
// recorded (one block per index: it never co-signs two different blocks at one index), the
// rosters those blocks brought, the TUF state its last checked block describes, and every nonce
// ID it has used. A response leaves
// the witness only after the transaction that records its effects has committed.
import type Database from 'better-sqlite3';
import { openDurableDatabase } from '../io/sqlite.js';
import { CairnError, EXIT } from '../errors/index.js';

export class WitnessStoreError extends CairnError<'NONCE_REUSED' | 'EQUIVOCATION' | 'NOT_INITIALIZED' | 'CHAIN_MISMATCH' | 'OUT_OF_ORDER'> {
  get exitCode(): number {
    return EXIT.verification;
  }
}

export interface RecordedBlock {
  index: number;
  hash: string;
  /** The block's canonical JSON. */
  body: string;
}

/** What a response commits, atomically with the nonce's use. */
export interface ResponseEffects {
  /** A block this witness now records as its head (level-0 approval or catch-up). */
  blocks?: RecordedBlock[];
  /** The TUF documents of the state the newest block describes (role -> version, bytes); replaces the recorded state. */
  documents?: Map<string, { version: number; bytes: Uint8Array }>;
  /** Index of the block whose TUF state `documents` is. */
  stateIndex?: number;
  /** Rosters brought by the blocks (hash -> canonical JSON). */
  rosters?: Map<string, string>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (idx INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tuf_documents (role TEXT PRIMARY KEY, version INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS used_nonces (id TEXT PRIMARY KEY, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rosters (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
`;

export class WitnessStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openDurableDatabase(path, SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Holds SQLite's exclusive lock on the database until close(), so no other process opens it
   * (lock.ts); throws SQLITE_BUSY while another process holds it.
   */
  holdExclusively(): void {
    this.db.pragma('locking_mode = EXCLUSIVE');
    this.db.exec('BEGIN EXCLUSIVE; COMMIT');
  }

  /** The chain this witness follows (its genesis hash), once it has one. */
  get chain(): string | undefined {
    return this.meta('chain');
  }

  /** The newest block this witness recorded. */
  head(): RecordedBlock | undefined {
    const row = this.db.prepare('SELECT idx, hash, body FROM blocks ORDER BY idx DESC LIMIT 1').get() as { idx: number; hash: string; body: string } | undefined;
    return row && { index: row.idx, hash: row.hash, body: row.body };
  }

  block(index: number): RecordedBlock | undefined {
    const row = this.db.prepare('SELECT idx, hash, body FROM blocks WHERE idx = ?').get(index) as { idx: number; hash: string; body: string } | undefined;
    return row && { index: row.idx, hash: row.hash, body: row.body };
  }

  /** Index of the block whose TUF state is recorded in tuf_documents. */
  get stateIndex(): number | undefined {
    const v = this.meta('state_index');
    return v === undefined ? undefined : Number(v);
  }

  documents(): Map<string, { version: number; bytes: Buffer }> {
    const rows = this.db.prepare('SELECT role, version, bytes FROM tuf_documents').all() as Array<{ role: string; version: number; bytes: Buffer }>;
    return new Map(rows.map((r) => [r.role, { version: r.version, bytes: r.bytes }]));
  }

  /** A roster a recorded block brought, by hash (canonical JSON). */
  roster(hash: string): string | undefined {
    return (this.db.prepare('SELECT body FROM rosters WHERE hash = ?').get(hash) as { body: string } | undefined)?.body;
  }

  /** Number of blocks recorded. */
  get blockCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM blocks').get() as { n: number }).n;
  }

  isNonceUsed(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM used_nonces WHERE id = ?').get(id) !== undefined;
  }

  /** Records the genesis block (and its state) of the chain this witness will follow. */
  initChain(chain: string, genesis: RecordedBlock, documents: Map<string, { version: number; bytes: Uint8Array }>, rosters: Map<string, string> = new Map(), catchUp: readonly RecordedBlock[] = []): void {
    this.db.transaction(() => {
      const existing = this.meta('chain');
      if (existing !== undefined && existing !== chain) {
        throw new WitnessStoreError('CHAIN_MISMATCH', `this witness follows chain ${existing.slice(0, 12)}, not ${chain.slice(0, 12)}`);
      }
      if (existing === undefined) {
        this.setMeta('chain', chain);
        this.insertRosters(rosters);
        this.insertBlocks([genesis, ...catchUp]);
        this.replaceDocuments(documents, catchUp.length > 0 ? catchUp[catchUp.length - 1]!.index : genesis.index);
      }
    })();
  }

  /**
   * Marks nonce `id` used and applies `effects`, in one durable transaction. Throws
   * NONCE_REUSED for a used nonce and EQUIVOCATION for a different block at a recorded index;
   * then nothing is written.
   */
  commitResponse(id: string, effects: ResponseEffects = {}): void {
    this.db.transaction(() => {
      const inserted = this.db.prepare('INSERT OR IGNORE INTO used_nonces (id, used_at) VALUES (?, ?)').run(id, Date.now());
      if (inserted.changes !== 1) throw new WitnessStoreError('NONCE_REUSED', `nonce ${id} was already used`);
      if (effects.rosters) this.insertRosters(effects.rosters);
      if (effects.blocks) this.insertBlocks(effects.blocks);
      // A state never moves back (a late answer for a block recorded meanwhile changes nothing).
      const stateIndex = effects.stateIndex ?? this.head()?.index ?? 0;
      if (effects.documents && stateIndex >= (this.stateIndex ?? -1)) this.replaceDocuments(effects.documents, stateIndex);
    })();
  }

  private insertBlocks(blocks: readonly RecordedBlock[]): void {
    const get = this.db.prepare('SELECT hash FROM blocks WHERE idx = ?');
    const put = this.db.prepare('INSERT INTO blocks (idx, hash, body) VALUES (?, ?, ?)');
    for (const b of blocks) {
      const have = get.get(b.index) as { hash: string } | undefined;
      if (have) {
        if (have.hash !== b.hash) {
          throw new WitnessStoreError('EQUIVOCATION', `this witness recorded block ${have.hash.slice(0, 12)} at index ${b.index}; it never co-signs another (${b.hash.slice(0, 12)})`);
        }
        continue;
      }
      const head = this.head();
      if (head && b.index !== head.index + 1) {
        throw new WitnessStoreError('OUT_OF_ORDER', `block ${b.index} does not extend the recorded head ${head.index}`);
      }
      put.run(b.index, b.hash, b.body);
    }
  }

  private insertRosters(rosters: Map<string, string>): void {
    const put = this.db.prepare('INSERT OR IGNORE INTO rosters (hash, body) VALUES (?, ?)');
    for (const [hash, body] of rosters) put.run(hash, body);
  }

  private replaceDocuments(documents: Map<string, { version: number; bytes: Uint8Array }>, stateIndex: number): void {
    this.db.prepare('DELETE FROM tuf_documents').run();
    const put = this.db.prepare('INSERT INTO tuf_documents (role, version, bytes) VALUES (?, ?, ?)');
    for (const [role, d] of documents) put.run(role, d.version, Buffer.from(d.bytes));
    this.setMeta('state_index', String(stateIndex));
  }

  private meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
