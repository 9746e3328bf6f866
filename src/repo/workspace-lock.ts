// repo/workspace-lock.ts: one command at a time changes a publisher workspace (docs/cli.md
// "Concurrent commands"). Every operation of the public API that writes the workspace (repo's
// index.ts: init, add, remove, delegate, rotate-root, refresh, sign, merge-signature,
// enable-meta-hashes, publish; release's: publish and the log operations) runs holding
// DIR/state/lock (io/lock-file.ts):
// a second command waits its turn, up to CAIRN_LOCK_TIMEOUT seconds (default 60), and then fails
// with StorageError LOCKED naming the holder's pid and command. It reads the workspace only
// once it holds the lock, so no change is lost or interleaved.
import { lockTimeoutFromEnvironment, withLockFile } from '../io/lock-file.js';
import { repoLayout } from './layout.js';

/** Runs `fn` holding the lock of workspace `dir` (re-entrant along one chain of calls). */
export function withWorkspaceLock<T>(dir: string, command: string, fn: () => Promise<T>, options: { createDirectory?: boolean } = {}): Promise<T> {
  return withLockFile(repoLayout(dir).lock, { command, timeoutMs: lockTimeoutFromEnvironment(), ...options }, fn);
}

/** `operation(dir, ...)` made to hold the lock of `dir` for its whole run. */
export function lockedOperation<A extends unknown[], R>(command: string, operation: (dir: string, ...args: A) => Promise<R>, options: { createDirectory?: boolean } = {}): (dir: string, ...args: A) => Promise<R> {
  return (dir, ...args) => withWorkspaceLock(dir, command, () => operation(dir, ...args), options);
}
