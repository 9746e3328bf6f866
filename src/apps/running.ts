// apps/running.ts: which apps' VMs are running (docs/apps.md "Running"): `cairn run` records
// ROOT/run/APP.json ({ app, pid, startTime, uid, startedAt }) once the confined hypervisor has
// started and removes it when it ends. An entry whose process is gone, or whose pid now belongs to
// another process (its start time in /proc differs), is stale: ignored and removed. `cairn stop`
// ends a VM with SIGTERM to its jail (bubblewrap), which takes the hypervisor with it.
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { AppError } from './errors.js';

export interface RunningApp {
  app: string;
  /** The jail's (bubblewrap's) process ID. */
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  startTime: number;
  /** The host user the hypervisor runs as. */
  uid: number;
  startedAt: string;
}

function runDir(storeRoot: string): string {
  return join(storeRoot, 'run');
}

/** The start time of process `pid` (/proc/PID/stat field 22), or undefined when there is no such process. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const value = Number(fields[19]);
  return Number.isSafeInteger(value) ? value : undefined;
}

export async function recordRunning(storeRoot: string, entry: Omit<RunningApp, 'startTime'>): Promise<void> {
  const startTime = await processStartTime(entry.pid);
  if (startTime === undefined) return; // it has ended already
  await writeFileAtomic(join(runDir(storeRoot), `${entry.app}.json`), `${JSON.stringify({ ...entry, startTime })}\n`);
}

/** Removes the entry of `app` if it is the one of process `pid`. */
export async function clearRunning(storeRoot: string, app: string, pid: number): Promise<void> {
  const path = join(runDir(storeRoot), `${app}.json`);
  const entry = await readEntry(path);
  if (entry === undefined || entry.pid === pid) await rm(path, { force: true });
}

async function readEntry(path: string): Promise<RunningApp | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || text.length > 4096) return undefined;
  try {
    const e = JSON.parse(text) as RunningApp;
    return Number.isSafeInteger(e.pid) && e.pid > 0 && Number.isSafeInteger(e.startTime) && typeof e.app === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/** The running app VMs; stale entries are removed. */
export async function runningApps(storeRoot: string): Promise<RunningApp[]> {
  const names = await readdir(runDir(storeRoot)).catch(() => [] as string[]);
  const running: RunningApp[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    const path = join(runDir(storeRoot), name);
    const entry = await readEntry(path);
    if (entry !== undefined && entry.app === name.slice(0, -'.json'.length) && (await processStartTime(entry.pid)) === entry.startTime) running.push(entry);
    else await rm(path, { force: true });
  }
  return running;
}

export async function runningApp(storeRoot: string, app: string): Promise<RunningApp | undefined> {
  return (await runningApps(storeRoot)).find((r) => r.app === app);
}

/** Stops the VM of `app` (SIGTERM to its jail); NOT_RUNNING when it is not running. */
export async function stopApp(storeRoot: string, app: string): Promise<RunningApp> {
  const entry = await runningApp(storeRoot, app);
  if (entry === undefined) throw new AppError('NOT_RUNNING', `${app} is not running`);
  try {
    process.kill(entry.pid, 'SIGTERM');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  return entry;
}
