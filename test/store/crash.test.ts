// test/store/crash.test.ts: crash safety of the package manager, tested on the real `cairn`
// executable (the issue: "a test kills cairn with SIGKILL at every write, fsync and rename
// boundary of install, update, rollback and gc ... after each, the store opens, cairn verify
// reports no corruption, and the active generation is exactly the old or the new one";
// docs/store.md "Order of writes" and "Test hooks"). A witnessed repository of real package
// archives is served on 127.0.0.1; `cairn install a b`, `cairn update`, `cairn rollback --to 1`
// and `cairn gc --keep 1` each run once with CAIRN_TEST_STEP_TRACE to find their steps (the
// store's writes, the extraction of each archive, the remote's metadata and downloads), then
// once per step with CAIRN_TEST_CRASH_AT_STEP=N on a fresh copy of the state before it. After
// each kill: the process died by SIGKILL, `cairn verify` finds no problem, the active generation
// is the old or the new one, and running the command again succeeds and leaves the new one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { runCli, type CliResult } from '../fixtures/cairn-process.js';
import { PackageRepository, type PackageSpec } from '../fixtures/package-repository.js';

/** Processes run at once (the machine has 2 cores shared with others). */
const PARALLELISM = 2;
/** Longest one `cairn` process may run. */
const PROCESS_TIME_LIMIT_MS = 60_000;

/** A package of several files and directories, a symlink and an entry point. */
function packageSpec(name: string, version: string): PackageSpec {
  return {
    name,
    version,
    files: {
      [`bin/${name}`]: `#!/bin/sh\necho ${name} ${version}\n`,
      [`lib/${name}.js`]: `export const version = '${version}';\n`,
      'share/doc/README': `${name} ${version}: a package of the crash test\n`,
    },
    symlinks: { 'lib/current.js': `${name}.js` },
    entryPoints: { [name]: `bin/${name}` },
  };
}

function cairn(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env, timeoutMs: PROCESS_TIME_LIMIT_MS });
}

/** A copy of the state `base` (modes, symlinks and all) at `to`. */
function copyState(base: string, to: string): void {
  const r = spawnSync('cp', ['-a', base, to]);
  assert.equal(r.status, 0, `cp -a ${base} ${to}: ${r.stderr}`);
}

/** Removes a store directory: its store paths are read-only (0555), so make them writable first (needed when not root). */
async function removeStoreDirectory(path: string): Promise<void> {
  spawnSync('chmod', ['-R', 'u+w', path]);
  await rm(path, { recursive: true, force: true });
}

/** The active generation as the test compares it: its number, its packages' store IDs, and the generations kept. */
interface Active { number: number; packages: string; kept: string }

async function activeOf(root: string): Promise<Active | undefined> {
  const store = await openStore(root, { lockTimeoutMs: 10_000 });
  const current = await store.current();
  if (current === undefined) return undefined;
  const kept = (await store.generations()).map((g) => g.number).join(' ');
  return { number: current.number, packages: Object.entries(current.packages).map(([n, p]) => `${n}=${p.id}`).sort().join(' '), kept };
}

async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** Runs `args` against the store at `root` and requires success. */
async function succeed(root: string, args: string[]): Promise<void> {
  const r = await cairn([...args, '--store', root]);
  assert.equal(r.code, 0, `cairn ${args.join(' ')}: ${r.stderr}`);
}

interface Scenario {
  args: string[];
  /** The state before (a store directory). */
  base: string;
  /** Whether `active` is the state after the command completed. */
  isNew: (active: Active | undefined, old: Active | undefined) => boolean;
}

/**
 * Finds the steps of `scenario` and kills it at each; returns the number of steps and how many
 * kills left the old and the new active generation.
 */
async function crashAtEveryStep(work: string, name: string, scenario: Scenario): Promise<{ steps: number; leftOld: number; leftNew: number }> {
  const traced = join(work, `${name}-trace`);
  copyState(scenario.base, traced);
  const traceFile = join(work, `${name}.trace`);
  const run = await cairn([...scenario.args, '--store', traced], { CAIRN_TEST_STEP_TRACE: traceFile });
  assert.equal(run.code, 0, `cairn ${scenario.args.join(' ')} completes without a crash: ${run.stderr}`);
  const labels = (await readFile(traceFile, 'utf8')).trimEnd().split('\n');
  assert.ok(labels.length > 0, `${name} has steps`);
  await removeStoreDirectory(traced);
  const old = await activeOf(scenario.base);

  let leftOld = 0;
  let leftNew = 0;
  await pool(labels.map((_, i) => i + 1), PARALLELISM, async (step) => {
    const label = labels[step - 1];
    const root = join(work, `${name}-${step}`);
    copyState(scenario.base, root);
    const crashed = await cairn([...scenario.args, '--store', root], { CAIRN_TEST_CRASH_AT_STEP: String(step) });
    assert.equal(crashed.signal, 'SIGKILL', `${name} step ${label}: killed by SIGKILL (exit ${crashed.code}, ${crashed.stderr})`);

    const verified = await cairn(['--json', 'verify', '--store', root]);
    assert.equal(verified.code, 0, `${name} killed at step ${label}: cairn verify finds no corruption: ${verified.stdout}${verified.stderr}`);
    assert.deepEqual((JSON.parse(verified.stdout) as { problems: unknown[] }).problems, []);
    const active = await activeOf(root);
    const isOld = old === undefined ? active === undefined : active !== undefined && active.number === old.number && active.packages === old.packages;
    assert.ok(isOld || scenario.isNew(active, old), `${name} killed at step ${label}: the active generation ${JSON.stringify(active)} is the old ${JSON.stringify(old)} or the new one`);
    if (isOld) leftOld += 1;
    else leftNew += 1;

    // Running the command again completes it.
    await succeed(root, scenario.args);
    assert.ok(scenario.isNew(await activeOf(root), old), `${name} retried after step ${label}: the new generation is active`);
    await removeStoreDirectory(root);
  });
  return { steps: labels.length, leftOld, leftNew };
}

test('SIGKILL at every step of cairn install, update, rollback and gc leaves the old or the new generation, never corruption', { timeout: 30 * 60_000 }, async (t) => {
  const repo = await PackageRepository.create();
  const work = await mkdtemp(join(tmpdir(), 'cairn-store-crash-'));
  try {
    await repo.publish(packageSpec('a', '1.0.0'), packageSpec('b', '1.0.0'));
    // The states before each command, made by cairn itself.
    const withRemote = join(work, 'with-remote');
    await succeed(withRemote, ['remote', 'add', 'main', repo.url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash]);
    const installed = join(work, 'installed');
    copyState(withRemote, installed);
    await succeed(installed, ['install', 'a', 'b']);
    const installedActive = (await activeOf(installed))!;

    const outcomes: string[] = [];
    const counts: Record<string, number> = {};
    const record = (name: string, r: { steps: number; leftOld: number; leftNew: number }): void => {
      counts[name] = r.steps;
      outcomes.push(`${name}: ${r.leftOld} left the old active generation, ${r.leftNew} the new`);
      // The switch is the last write but an fsync: kills land before it (old) and after it (new).
      if (name !== 'gc') assert.ok(r.leftOld > 0 && r.leftNew > 0, `${name}: kills land on both sides of the switch (${r.leftOld} old, ${r.leftNew} new)`);
    };

    record('install', await crashAtEveryStep(work, 'install', {
      args: ['install', 'a', 'b'], base: withRemote,
      isNew: (a) => a !== undefined && a.packages === installedActive.packages,
    }));

    // b 2.0.0 is released; `cairn update` fetches the new metadata, log block and archive.
    await repo.publish(packageSpec('b', '2.0.0'));
    const updated = join(work, 'updated');
    copyState(installed, updated);
    await succeed(updated, ['update']);
    const updatedActive = (await activeOf(updated))!;
    assert.notEqual(updatedActive.packages, installedActive.packages);

    record('update', await crashAtEveryStep(work, 'update', {
      args: ['update'], base: installed,
      isNew: (a, old) => a !== undefined && a.packages === updatedActive.packages && a.number > old!.number,
    }));
    record('rollback', await crashAtEveryStep(work, 'rollback', {
      args: ['rollback', '--to', '1'], base: updated,
      isNew: (a) => a !== undefined && a.number === 1 && a.packages === installedActive.packages,
    }));
    // gc keeps the active generation: old and new have the same one, and differ in what is kept.
    record('gc', await crashAtEveryStep(work, 'gc', {
      args: ['gc', '--keep', '1'], base: updated,
      isNew: (a) => a !== undefined && a.number === updatedActive.number && a.packages === updatedActive.packages && a.kept === String(updatedActive.number),
    }));

    t.diagnostic(outcomes.join('; '));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    t.diagnostic(`crash points: ${Object.entries(counts).map(([op, n]) => `${op} ${n}`).join(', ')}; ${total} in all`);
    assert.ok(total >= 50, `at least 50 distinct crash points, found ${total}`);
  } finally {
    await repo.close();
    await removeStoreDirectory(work);
  }
});
