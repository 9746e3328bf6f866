// test/store/crash.test.ts: crash safety of the store, tested (the issue: "a test kills cairn with
// SIGKILL at every write, fsync and rename boundary of install, update, rollback and gc ... after
// each, the store opens, cairn verify reports no corruption, and the active generation is exactly
// the old or the new one"; docs/store.md "Order of writes"). The points are found by
// instrumenting the steps, not picked by hand: each operation runs once with
// CAIRN_TEST_STEP_TRACE to count its steps, then once per step with CAIRN_TEST_CRASH_AT_STEP=N
// in a real process (test/fixtures/store-driver.ts) on a fresh copy of the state before it. After
// each kill: the process died by SIGKILL, the store opens, verify finds no problem, the active
// generation is the old or the new one, and a retry of the operation succeeds and leaves the new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/index.js';
import { runOperation, type DriverOperation } from '../fixtures/store-driver.js';

const DRIVER = fileURLToPath(new URL('../fixtures/store-driver.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
/** Processes run at once (the machine has 2 cores shared with others). */
const PARALLELISM = 2;
/** Longest a driver process may run before the test counts it as hung. */
const PROCESS_TIME_LIMIT_MS = 60_000;

interface ProcessResult { code: number | null; signal: NodeJS.Signals | null; stderr: string }

function runDriver(root: string, operation: DriverOperation, env: Record<string, string>): Promise<ProcessResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CAIRN_TEST_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', DRIVER, root, operation], { cwd: PROJECT, env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGTERM'), PROCESS_TIME_LIMIT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** A copy of the state `base` (modes, symlinks and all) at `to`; nothing when `base` is undefined (an empty store). */
function copyState(base: string | undefined, to: string): void {
  if (base === undefined) return;
  const r = spawnSync('cp', ['-a', base, to]);
  assert.equal(r.status, 0, `cp -a ${base} ${to}: ${r.stderr}`);
}

/** Removes a store directory: its store paths are read-only (0555), so make them writable first (needed when not root). */
async function removeStoreDirectory(path: string): Promise<void> {
  spawnSync('chmod', ['-R', 'u+w', path]);
  await rm(path, { recursive: true, force: true });
}

/** The active generation as the test compares it: its number and its packages' store IDs. */
interface Active { number: number; packages: string }

async function activeOf(root: string): Promise<Active | undefined> {
  const store = await openStore(root, { lockTimeoutMs: 10_000 });
  const current = await store.current();
  if (current === undefined) return undefined;
  return { number: current.number, packages: Object.entries(current.packages).map(([n, p]) => `${n}=${p.id}`).sort().join(' ') };
}

async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

interface Scenario {
  operation: DriverOperation;
  /** The state before (a store directory), or undefined for an empty store. */
  base: string | undefined;
  /** Whether `active` is the state after the operation completed. */
  isNew: (active: Active | undefined, old: Active | undefined) => boolean;
}

test('SIGKILL at every step of install, update, rollback and gc leaves the old or the new generation, never corruption', { timeout: 30 * 60_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'cairn-store-crash-'));
  try {
    // The states before each operation, made through the API.
    const installed = join(work, 'installed');
    await runOperation(installed, 'install');
    const updated = join(work, 'updated');
    copyState(installed, updated);
    await runOperation(updated, 'update');
    const installedActive = await activeOf(installed);
    const updatedActive = await activeOf(updated);
    assert.ok(installedActive !== undefined && updatedActive !== undefined);

    const scenarios: Scenario[] = [
      { operation: 'install', base: undefined, isNew: (a) => a !== undefined && a.packages === installedActive.packages },
      { operation: 'update', base: installed, isNew: (a, old) => a !== undefined && a.packages === updatedActive.packages && a.number > old!.number },
      { operation: 'rollback', base: updated, isNew: (a) => a !== undefined && a.number === 1 && a.packages === installedActive.packages },
      // gc keeps the current generation: old and new have the same one, and differ in the generations kept.
      { operation: 'gc', base: updated, isNew: (a) => a !== undefined && a.number === updatedActive.number && a.packages === updatedActive.packages },
    ];

    const counts: Record<string, number> = {};
    const outcomes: string[] = [];
    for (const scenario of scenarios) {
      // 1. Count and label the steps.
      const traced = join(work, `${scenario.operation}-trace`);
      copyState(scenario.base, traced);
      const traceFile = join(work, `${scenario.operation}.trace`);
      const run = await runDriver(traced, scenario.operation, { CAIRN_TEST_STEP_TRACE: traceFile });
      assert.equal(run.code, 0, `${scenario.operation} completes without a crash: ${run.stderr}`);
      const labels = (await readFile(traceFile, 'utf8')).trimEnd().split('\n');
      counts[scenario.operation] = labels.length;
      assert.ok(labels.length > 0, `${scenario.operation} has steps`);
      const old = scenario.base === undefined ? undefined : await activeOf(scenario.base);

      // 2. Kill it at each one.
      let leftOld = 0;
      let leftNew = 0;
      const indices = labels.map((_, i) => i + 1);
      await pool(indices, PARALLELISM, async (step) => {
        const label = labels[step - 1];
        const root = join(work, `${scenario.operation}-${step}`);
        copyState(scenario.base, root);
        const crashed = await runDriver(root, scenario.operation, { CAIRN_TEST_CRASH_AT_STEP: String(step) });
        assert.equal(crashed.signal, 'SIGKILL', `${scenario.operation} step ${label}: killed by SIGKILL (exit ${crashed.code}, ${crashed.stderr})`);

        const store = await openStore(root, { lockTimeoutMs: 10_000 });
        const report = await store.verify();
        assert.deepEqual(report.problems, [], `${scenario.operation} killed at step ${label}: no corruption`);
        const active = await activeOf(root);
        const isOld = old === undefined ? active === undefined : active !== undefined && active.number === old.number && active.packages === old.packages;
        assert.ok(isOld || scenario.isNew(active, old), `${scenario.operation} killed at step ${label}: the active generation ${JSON.stringify(active)} is the old ${JSON.stringify(old)} or the new one`);
        if (isOld) leftOld += 1;
        else leftNew += 1;

        // A retry completes the operation.
        await runOperation(root, scenario.operation);
        const after = await store.verify();
        assert.deepEqual(after.problems, [], `${scenario.operation} retried after step ${label}: no corruption`);
        assert.ok(scenario.isNew(await activeOf(root), old), `${scenario.operation} retried after step ${label}: the new generation is active`);
        await removeStoreDirectory(root);
      });
      outcomes.push(`${scenario.operation}: ${leftOld} left the old active generation, ${leftNew} the new`);
      // The switch is the last write but the fsync of ROOT: a kill before it leaves the old, at that fsync the new.
      if (scenario.operation !== 'gc') assert.ok(leftOld > 0 && leftNew > 0, `${scenario.operation}: kills land on both sides of the switch (${leftOld} old, ${leftNew} new)`);
    }
    t.diagnostic(outcomes.join('; '));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    t.diagnostic(`crash points: ${Object.entries(counts).map(([op, n]) => `${op} ${n}`).join(', ')}; ${total} in all`);
    assert.ok(total >= 50, `at least 50 distinct crash points, found ${total}`);
  } finally {
    await removeStoreDirectory(work);
  }
});
