// witness/lock.ts: one witness process per witness directory (docs/witness.md "Run it: `cairn
// witness serve`"). Two processes on one directory would each hand out nonces and record blocks
// with their own view of the head. The lock is the operating system's: `serve` opens DIR/state.db
// and holds SQLite's exclusive lock on it (locking mode EXCLUSIVE, taken at once by a write
// transaction) for the life of the process. The kernel drops it when the process ends, however it
// ends, so there is no stale lock to take over, no race between two processes taking one over, and
// no pid that another process may have reused. A second process is refused with WitnessError
// LOCKED naming the directory and the holder's pid, which the holder writes to DIR/witness.lock
// for people to read: that file locks nothing, and removing it unlocks nothing.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists } from '../io/capped-file.js';
import { WITNESS_FILES } from './config.js';
import { WitnessError } from './errors.js';
import { WitnessStore } from './store.js';

/** A witness directory's state, held by this process alone until close(). */
export interface LockedWitnessState {
  store: WitnessStore;
  /** Closes the state (dropping the lock) and removes DIR/witness.lock while it names this process. */
  close(): Promise<void>;
}

async function holder(path: string): Promise<number | undefined> {
  // Capped and regular files only: whatever is at that path, reading it never hangs or fills memory.
  const text = (await readCappedFileIfExists(path, 64).catch(() => undefined))?.toString('utf8') ?? '';
  const pid = /^\d{1,10}\n?$/.test(text) ? Number(text.trim()) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Opens DIR's state for this process alone; WitnessError LOCKED while another process holds it. */
export async function openWitnessStateExclusively(dir: string): Promise<LockedWitnessState> {
  const path = join(dir, WITNESS_FILES.lock);
  let store: WitnessStore | undefined;
  try {
    store = new WitnessStore(join(dir, WITNESS_FILES.db));
    store.holdExclusively();
  } catch (e) {
    store?.close();
    const code = String((e as { code?: unknown }).code);
    if (!code.startsWith('SQLITE_BUSY') && !code.startsWith('SQLITE_LOCKED')) throw e;
    const pid = await holder(path);
    throw new WitnessError('LOCKED', `witness directory ${dir} is in use by another witness process (pid ${pid ?? 'unknown'}, ${path})`, {
      cause: e,
      hint: `one process serves one witness: stop pid ${pid ?? '(the process serving ' + dir + ')'} first`,
    });
  }
  const held = store;
  try {
    await writeFileAtomic(path, `${process.pid}\n`);
  } catch (e) {
    held.close();
    throw e;
  }
  return {
    store: held,
    close: async () => {
      held.close();
      if ((await holder(path)) === process.pid) await unlink(path).catch(() => undefined);
    },
  };
}
