// rebuild/queue.ts: a verifier's durable work queue in SQLite (docs/design.md "Storage and scale":
// the verifier queue, WAL, synchronous=FULL). One row per (target path, artifact sha256) ever
// seen with a declaration. States: queued -> running -> done (result PASSED/FAILED, attestation
// written) or error (no verdict after the allowed attempts). A job is claimed (running) in a
// transaction before its build starts and finished in a transaction after its attestation file
// is durable, so:
//   - a job claimed but not finished (crash, kill) is put back to queued at the next start;
//   - a finished job is never claimed again: rescanning the repository inserts with OR IGNORE.
import type Database from 'better-sqlite3';
import { openDurableDatabase } from '../io/sqlite.js';
import type { ReleaseDeclaration, VerificationResult } from '../policy/index.js';

export type JobState = 'queued' | 'running' | 'done' | 'error';

export interface RebuildJob {
  readonly id: number;
  readonly target: string;
  readonly sha256: string;
  readonly length: number;
  readonly declaration: ReleaseDeclaration;
  readonly state: JobState;
  /** Times the job was claimed (a job interrupted and retried has 2). */
  readonly attempts: number;
  readonly result: VerificationResult | null;
  readonly attestation: string | null;
  readonly error: string | null;
  readonly enqueuedAt: number;
  readonly finishedAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  length INTEGER NOT NULL,
  declaration TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'error')),
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL DEFAULT 0,
  result TEXT CHECK (result IS NULL OR result IN ('PASSED', 'FAILED')),
  attestation TEXT,
  error TEXT,
  enqueued_at INTEGER NOT NULL,
  claimed_at INTEGER,
  finished_at INTEGER,
  UNIQUE (target, sha256)
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before, id);
`;

interface Row {
  id: number;
  target: string;
  sha256: string;
  length: number;
  declaration: string;
  state: JobState;
  attempts: number;
  result: VerificationResult | null;
  attestation: string | null;
  error: string | null;
  enqueued_at: number;
  finished_at: number | null;
}

export class RebuildQueue {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openDurableDatabase(path, SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Puts jobs claimed by a process that stopped before finishing back in the queue. */
  recoverInterrupted(): number {
    return this.db.prepare("UPDATE jobs SET state = 'queued', not_before = 0 WHERE state = 'running'").run().changes;
  }

  /** Adds jobs not seen before; returns how many were new. */
  enqueue(items: ReadonlyArray<{ target: string; sha256: string; length: number; declaration: ReleaseDeclaration }>, now: number): number {
    const insert = this.db.prepare(
      "INSERT OR IGNORE INTO jobs (target, sha256, length, declaration, state, enqueued_at) VALUES (?, ?, ?, ?, 'queued', ?)",
    );
    let added = 0;
    this.db.transaction(() => {
      for (const i of items) added += insert.run(i.target, i.sha256, i.length, JSON.stringify(i.declaration), now).changes;
    })();
    return added;
  }

  /** Claims the oldest ready job (queued, due), or undefined. */
  claim(now: number): RebuildJob | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT * FROM jobs WHERE state = 'queued' AND not_before <= ? ORDER BY id LIMIT 1").get(now) as Row | undefined;
      if (!row) return undefined;
      this.db.prepare("UPDATE jobs SET state = 'running', attempts = attempts + 1, claimed_at = ? WHERE id = ?").run(now, row.id);
      return toJob({ ...row, state: 'running', attempts: row.attempts + 1 });
    }).immediate();
  }

  /** Records the verdict of a claimed job (after its attestation is durable). */
  finish(id: number, result: VerificationResult, attestation: string, now: number): void {
    this.db.prepare("UPDATE jobs SET state = 'done', result = ?, attestation = ?, error = NULL, finished_at = ? WHERE id = ? AND state = 'running'")
      .run(result, attestation, now, id);
  }

  /** Records a failure to reach a verdict: queued again at `retryAt`, or final. */
  fail(id: number, error: string, now: number, retryAt?: number): void {
    if (retryAt === undefined) {
      this.db.prepare("UPDATE jobs SET state = 'error', error = ?, finished_at = ? WHERE id = ?").run(error.slice(0, 4000), now, id);
    } else {
      this.db.prepare("UPDATE jobs SET state = 'queued', error = ?, not_before = ? WHERE id = ?").run(error.slice(0, 4000), retryAt, id);
    }
  }

  /** Number of jobs still to do (queued, whether due now or later, or running). */
  pending(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')").get() as { n: number }).n;
  }

  /** The time the next queued job becomes due, if any. */
  nextDue(): number | undefined {
    const row = this.db.prepare("SELECT MIN(not_before) AS t FROM jobs WHERE state = 'queued'").get() as { t: number | null };
    return row.t ?? undefined;
  }

  jobs(): RebuildJob[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY id').all() as Row[]).map(toJob);
  }
}

function toJob(r: Row): RebuildJob {
  return {
    id: r.id, target: r.target, sha256: r.sha256, length: r.length, declaration: JSON.parse(r.declaration) as ReleaseDeclaration,
    state: r.state, attempts: r.attempts, result: r.result, attestation: r.attestation, error: r.error,
    enqueuedAt: r.enqueued_at, finishedAt: r.finished_at,
  };
}
