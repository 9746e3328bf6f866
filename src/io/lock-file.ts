// io/lock-file.ts: an exclusive lock held by one process at a time over a directory of state
// (docs/cli.md "Concurrent commands"). The lock is a file holding { pid, command, since, nonce },
// written aside and then linked into place, so it exists complete or not at all. A process that
// finds it waits, polling, until it is gone or its holder is dead (a lock left by a crash is
// broken), or until the time-out, and then says which process and command hold it. Breakers of a
// dead holder's lock take turns (a mark file) and remove it only if it still names the dead
// holder, so no waiter ever removes a live lock. Within one process the lock is re-entrant
// along one chain of calls (AsyncLocalStorage): an operation holding it may call another that
// takes it, and a callback it left behind that runs after the release holds nothing.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { StorageError, UsageError } from '../errors/index.js';
import { readCappedFileIfExists } from './capped-file.js';

export interface LockOptions {
  /** What the holder is doing, recorded for whoever waits (e.g. `cairn repo add`). */
  command: string;
  /** How long to wait for another holder (default DEFAULT_LOCK_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Interval between attempts while waiting. */
  pollMs?: number;
  /** Create the lock file's directory if missing (else a missing directory runs `fn` unlocked: there is no state to protect). */
  createDirectory?: boolean;
}

/** Default wait for a lock held by another process. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;
/** Largest lock file read (a few fields). */
const LOCK_FILE_MAX_BYTES = 4096;

interface LockHolder {
  pid: number;
  command: string;
  since: string;
  nonce: string;
}

/**
 * The locks the current chain of calls holds, each with a flag cleared on release: a callback
 * the holder left behind (a timer, a server handler) keeps this async context after the lock
 * is released, and must then take the lock like any other caller.
 */
const held = new AsyncLocalStorage<ReadonlyMap<string, { held: boolean }>>();

/** Runs `fn` holding the exclusive lock `path`; waits for another holder up to the time-out (StorageError LOCKED). */
export async function withLockFile<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const key = resolve(path);
  const outer = held.getStore();
  if (outer?.get(key)?.held) return fn();
  if (options.createDirectory) await mkdir(dirname(key), { recursive: true });
  const me: LockHolder = { pid: process.pid, command: options.command, since: new Date().toISOString(), nonce: randomBytes(12).toString('hex') };
  if (!(await acquire(key, me, options))) return fn();
  const token = { held: true };
  try {
    return await held.run(new Map([...(outer ?? []), [key, token]]), fn);
  } finally {
    token.held = false;
    await release(key, me);
  }
}

/**
 * Takes the lock; false when its directory does not exist. The holder is written to a file of its
 * own first, then linked to `path` (which fails if `path` exists): the lock appears complete or
 * not at all, so a command that fails or dies while writing it (a full disk) leaves no empty lock
 * that names no holder and that nothing would break.
 */
async function acquire(path: string, me: LockHolder, options: LockOptions): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const mine = `${path}.${me.nonce}.new`;
  try {
    const handle = await open(mine, 'wx', 0o644);
    try {
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (e) {
    await unlink(mine).catch(() => undefined);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    for (;;) {
      try {
        await link(mine, path);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      await waitTurn(path, timeoutMs, deadline, options);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/** One wait for the holder of `path`: breaks its lock if it is dead; StorageError LOCKED past the deadline. */
async function waitTurn(path: string, timeoutMs: number, deadline: number, options: LockOptions): Promise<void> {
  const holder = await readHolder(path);
  if (holder !== undefined && !isAlive(holder.pid)) {
    await breakDeadLock(path, holder);
    return;
  }
  if (Date.now() >= deadline) {
    if (holder === undefined) {
      if (!(await lstat(path).then(() => true, () => false))) return; // released just now: try again
      throw new StorageError('LOCKED', `${path} exists but names no holder (it is not a lock cairn wrote); waited ${Math.round(timeoutMs / 1000)} s`, {
        hint: `remove ${path} if no cairn command runs on this directory`,
      });
    }
    throw new StorageError('LOCKED', `${path} is held by process ${holder.pid} (${holder.command}, since ${holder.since}); waited ${Math.round(timeoutMs / 1000)} s`, {
      hint: `wait for that command to finish and run this one again, or wait longer (CAIRN_LOCK_TIMEOUT=SECONDS); remove ${path} only if process ${holder.pid} is not a cairn command`,
    });
  }
  await new Promise((r) => setTimeout(r, Math.min(options.pollMs ?? 50, Math.max(1, deadline - Date.now()))));
}

/** The holder recorded in the lock file; undefined when it is not one cairn wrote or when it just went away. */
async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    // Capped and non-blocking: a lock that is a FIFO or a link to a device names no holder.
    const bytes = await readCappedFileIfExists(path, LOCK_FILE_MAX_BYTES);
    if (bytes === undefined) return undefined;
    const text = bytes.toString('utf8');
    const j = JSON.parse(text) as Partial<LockHolder>;
    if (typeof j.pid !== 'number' || !Number.isSafeInteger(j.pid) || j.pid < 1 || typeof j.nonce !== 'string') return undefined;
    return { pid: j.pid, command: String(j.command ?? ''), since: String(j.since ?? ''), nonce: j.nonce };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** How old a breaker's mark may be before it counts as left by a breaker that died: breaking takes milliseconds. */
const BREAK_MARK_STALE_MS = 10_000;

/**
 * Removes a lock whose holder is dead. Breakers take turns through a mark file (`PATH.breaking`,
 * created exclusively), and the one holding it removes the lock only if it still names the dead
 * holder: acquirers only ever link into an empty path, so while the mark is held nobody but the
 * breaker can replace the file between that check and the removal, and a live lock that another
 * breaker or acquirer put there is never removed.
 */
async function breakDeadLock(path: string, dead: LockHolder): Promise<void> {
  const mark = `${path}.breaking`;
  try {
    await (await open(mark, 'wx', 0o644)).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const age = await lstat(mark).then((st) => Date.now() - st.mtimeMs, () => 0);
    if (age > BREAK_MARK_STALE_MS) await unlink(mark).catch(() => undefined); // its breaker died mid-break
    return; // another breaker is at work: look again on the next turn
  }
  try {
    const found = await readHolder(path);
    if (found?.nonce === dead.nonce) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(mark).catch(() => undefined);
  }
}

async function release(path: string, me: LockHolder): Promise<void> {
  const holder = await readHolder(path);
  if (holder?.nonce === me.nonce) await unlink(path).catch(() => undefined);
}

/** The lock time-out of CAIRN_LOCK_TIMEOUT (seconds), else the default; a bad value is a usage error. */
export function lockTimeoutFromEnvironment(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.CAIRN_LOCK_TIMEOUT;
  if (value === undefined || value === '') return DEFAULT_LOCK_TIMEOUT_MS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError('BAD_ARGUMENT', `CAIRN_LOCK_TIMEOUT is ${JSON.stringify(value)}, expected a number of seconds`);
  return seconds * 1000;
}
