// witness/lock.ts: one witness process per witness directory (docs/witness.md "Run it: `cairn
// witness serve`"). Two processes on one directory would each hand out nonces and record blocks
// with their own view of the head, so `serve` holds DIR/witness.lock, a file created exclusively
// and holding its pid, for the life of the process. A second process is refused with
// WitnessError LOCKED naming the directory and the holder's pid. A lock whose pid no longer runs
// (the holder crashed) is stale and taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { WITNESS_FILES } from './config.js';
import { WitnessError } from './errors.js';

export interface DirectoryLock {
  readonly path: string;
  /** Removes the lock file (only while it still names this process). */
  release(): Promise<void>;
}

/** Whether a process with `pid` runs (EPERM: it runs under another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holder(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = /^\d{1,10}\n?$/.test(text) ? Number(text.trim()) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Takes DIR/witness.lock for this process; throws WitnessError LOCKED while another process holds it. */
export async function lockWitnessDirectory(dir: string): Promise<DirectoryLock> {
  const path = join(dir, WITNESS_FILES.lock);
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600);
      try {
        await file.writeFile(`${process.pid}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      return {
        path,
        release: async () => {
          if ((await holder(path)) === process.pid) await unlink(path).catch(() => undefined);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = await holder(path);
    // A lock being written right now has no pid yet: look again before calling it stale.
    if (pid === undefined && attempt < 3) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    if ((pid !== undefined && (pid === process.pid || running(pid))) || attempt >= 4) {
      throw new WitnessError('LOCKED', `witness directory ${dir} is in use by another witness process (pid ${pid ?? 'unknown'}, ${path})`, {
        hint: `one process serves one witness: stop pid ${pid ?? '(see ' + path + ')'} first; if no witness runs there, remove ${path}`,
      });
    }
    await unlink(path).catch(() => undefined); // stale: its holder is gone
  }
}
