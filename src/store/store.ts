// store/store.ts: one store root opened for use (docs/store.md; docs/design.md "Client
// store"). Every operation that changes the store runs holding ROOT/lock
// (io/lock-file.ts: a second cairn process waits its turn, then fails with StoreError LOCKED),
// and reads the state it changes only once it holds it; every write goes through DurableFs with
// the step hook (the options' and the test environment's, read once here).
import { lstat, mkdir } from 'node:fs/promises';
import { StorageError } from '../errors/index.js';
import { lockTimeoutFromEnvironment, withLockFile } from '../io/index.js';
import { commitGeneration, type GenerationPlan, type StoreContext } from './commit.js';
import { crashPoint, type StepHook } from '../io/index.js';
import { DurableFs, combineStepHooks } from './durable-fs.js';
import { StoreError } from './errors.js';
import { collectGarbage, type GcOptions, type GcResult } from './gc.js';
import { currentGeneration, listGenerations, type Generation } from './generations.js';
import { rollbackGeneration } from './rollback.js';
import { storeLayout, type StoreLayout } from './layout.js';
import { verifyStore, type VerifyReport } from './verify.js';

export interface OpenStoreOptions {
  /** How long to wait for another process holding ROOT/lock (default: CAIRN_LOCK_TIMEOUT seconds, else 60 s). */
  lockTimeoutMs?: number;
  /** Called before each write, fsync, rename, symlink and removal (with the environment's hook, docs/store.md "Test hooks"). */
  step?: StepHook;
  /** What this process is doing, recorded in the lock for whoever waits (default "cairn store"). */
  command?: string;
}

export interface Store {
  readonly root: string;
  readonly layout: StoreLayout;
  /** Runs `fn` holding ROOT/lock (re-entrant along one chain of calls). */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /** The active generation, or undefined before the first commit. */
  current(): Promise<Generation | undefined>;
  /** Every kept generation, oldest first, the active one flagged. */
  generations(): Promise<Generation[]>;
  /** Adds the plan's new packages, makes generation N = newest + 1 and activates it. */
  commit(plan: GenerationPlan): Promise<Generation>;
  /** Activates the current generation's parent, or generation `to`. */
  rollback(to?: number): Promise<{ from: number; to: number }>;
  /** Removes old generations and what no kept generation references. */
  gc(options?: GcOptions): Promise<GcResult>;
  /** Re-checks every referenced store path against its record. */
  verify(): Promise<VerifyReport>;
}

const SUBDIRECTORIES = ['store', 'generations', 'tmp'] as const;

/** Opens the store at `root`, creating its layout (0755 directories) when missing. */
export async function openStore(root: string, options: OpenStoreOptions = {}): Promise<Store> {
  const layout = storeLayout(root);
  const fs = new DurableFs(root, combineStepHooks(options.step, crashPoint));
  const ctx: StoreContext = { layout, fs };
  const timeoutMs = options.lockTimeoutMs ?? lockTimeoutFromEnvironment();
  const command = options.command ?? 'cairn store';

  const withLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await withLockFile(layout.lock, { command, timeoutMs, createDirectory: true }, fn);
    } catch (e) {
      if (e instanceof StorageError && e.code === 'LOCKED') throw new StoreError('LOCKED', `the store ${root} is in use: ${e.message}`, { cause: e, hint: e.hint });
      throw e;
    }
  };

  const missing = async (): Promise<Array<(typeof SUBDIRECTORIES)[number]>> => {
    const out: Array<(typeof SUBDIRECTORIES)[number]> = [];
    for (const name of SUBDIRECTORIES) if (!(await lstat(layout[name]).then((s) => s.isDirectory(), () => false))) out.push(name);
    return out;
  };
  if ((await missing()).length > 0) {
    await mkdir(root, { recursive: true, mode: 0o755 });
    await withLock(async () => {
      const absent = await missing();
      for (const name of absent) await fs.mkdir(layout[name], 0o755);
      if (absent.length > 0) await fs.fsync(root);
    });
  }

  return {
    root,
    layout,
    withLock,
    current: () => currentGeneration(layout),
    generations: () => listGenerations(layout),
    commit: (plan) => withLock(() => commitGeneration(ctx, plan)),
    rollback: (to) => withLock(() => rollbackGeneration(ctx, to)),
    gc: (gcOptions) => withLock(() => collectGarbage(ctx, gcOptions)),
    verify: () => withLock(() => verifyStore(ctx)),
  };
}
