// io/crash-points.ts: the test hook at every write, fsync and rename boundary of a cairn process
// (docs/store.md "Test hooks"; the package-manager issue: "a test kills cairn with SIGKILL at every
// write, fsync and rename boundary"). The store's writes (store/durable-fs.ts), the crash-safe file
// write (io/atomic-write.ts) and a target's download (tuf/target-download.ts) call `crashPoint`
// before each write, fsync and rename, so the crash test can count them (CAIRN_TEST_STEP_TRACE)
// and kill the process at each one (CAIRN_TEST_CRASH_AT_STEP). Without either variable it does nothing.
import { appendFileSync } from 'node:fs';
import { UsageError } from '../errors/index.js';

/** Called with a label before each write, fsync, rename, symlink, chmod and removal. */
export type StepHook = (label: string) => void;

/**
 * The step hook of the test environment: CAIRN_TEST_STEP_TRACE=FILE appends "N LABEL" for each
 * step (synchronously, so a kill loses none); CAIRN_TEST_CRASH_AT_STEP=N kills this process with
 * SIGKILL when step N (1-based) is reached, before the write it announces. Undefined when neither is set.
 */
export function stepHookFromEnvironment(env: NodeJS.ProcessEnv = process.env): StepHook | undefined {
  const trace = env.CAIRN_TEST_STEP_TRACE;
  const crashText = env.CAIRN_TEST_CRASH_AT_STEP;
  if ((trace === undefined || trace === '') && (crashText === undefined || crashText === '')) return undefined;
  let crashAt: number | undefined;
  if (crashText !== undefined && crashText !== '') {
    crashAt = Number(crashText);
    if (!Number.isSafeInteger(crashAt) || crashAt < 1) throw new UsageError('BAD_ARGUMENT', `CAIRN_TEST_CRASH_AT_STEP is ${JSON.stringify(crashText)}, expected a step number from 1`);
  }
  let count = 0;
  return (label) => {
    count += 1;
    if (trace !== undefined && trace !== '') appendFileSync(trace, `${count} ${label}\n`);
    if (count === crashAt) {
      process.kill(process.pid, 'SIGKILL');
      // The signal is delivered before kill(2) returns to this thread; never go on regardless.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
  };
}

let processHook: StepHook | undefined | null = null;

/** Announces one write, fsync or rename of this process to the environment's step hook (one count per process). */
export function crashPoint(label: string): void {
  if (processHook === null) processHook = stepHookFromEnvironment();
  processHook?.(label);
}
