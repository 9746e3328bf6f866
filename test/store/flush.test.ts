// test/store/flush.test.ts: how a commit makes new store paths durable (docs/store.md "Order of
// writes", steps 3 and 4): one syncfs through `sync -f` for the trees and one for their records,
// an fsync of every entry where that is unavailable (CAIRN_STORE_FLUSH=fsync chooses it), a retry
// that redoes a record a power cut left empty, and a path reused from a killed commit flushed
// again before a generation names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type IncomingPackage, type Store } from '../../src/store/index.js';
import { testPackage, testPackageTree } from '../fixtures/store-driver.js';

async function withStore(fn: (store: Store, root: string, steps: string[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-store-flush-'));
  const steps: string[] = [];
  try {
    const root = join(dir, 'root');
    await fn(await openStore(root, { lockTimeoutMs: 10_000, step: (label) => steps.push(label) }), root, steps);
  } finally {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

function planOf(...packages: IncomingPackage[]): Parameters<Store['commit']>[0] {
  return {
    reason: 'install',
    packages: Object.fromEntries(packages.map((p) => [p.name, { incoming: p, version: p.version, remote: p.remote, explicit: true, permissions: [] }])),
  };
}

/** The steps between the first 'syncfs' and the generation's staging. */
function flushSteps(steps: readonly string[]): string[] {
  const first = steps.findIndex((s) => s.startsWith('syncfs'));
  const generation = steps.findIndex((s) => s.startsWith('mkdir tmp/gen-'));
  assert.ok(first >= 0 && generation > first, `a flush before the generation: ${steps.join(', ')}`);
  return steps.slice(first, generation);
}

test('new store paths are flushed by two syncfs calls (trees, then records), not an fsync per file', { timeout: 30_000 }, async () => {
  await withStore(async (store, _root, steps) => {
    await store.commit(planOf(testPackage('a', '1.0.0'), testPackage('b', '1.0.0')));
    const flush = flushSteps(steps);
    assert.equal(flush.filter((s) => s.startsWith('syncfs')).length, 2, flush.join(', '));
    assert.deepEqual(flush.filter((s) => s.startsWith('fsync')), [], 'no fsync of each entry when sync -f works');
    // The records are written between the two flushes: a record is durable only after its tree.
    const records = flush.filter((s) => s.startsWith('rename store/.'));
    assert.equal(records.length, 2);
    assert.deepEqual((await store.verify()).problems, []);
    assert.equal((await store.current())!.number, 1);
  });
});

test('a record a power cut left empty is redone by the retry: the path is unpacked again and recorded', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    const a = testPackage('a', '1.0.0');
    await store.commit(planOf(a));
    const id = (await store.current())!.packages.a!.id;
    // What a power cut between the record's rename and the flush can leave: the record, empty.
    const record = join(root, 'store', `${id}.json`);
    await chmod(record, 0o644);
    await writeFile(record, '');
    const again = await store.commit(planOf(a));
    assert.equal(again.number, 2);
    assert.equal(JSON.parse(await readFile(record, 'utf8')).id, id, 'the record is written again');
    assert.deepEqual((await store.verify()).problems, []);
  });
});

test('with CAIRN_STORE_FLUSH=fsync (as where sync -f is missing or the kernel older than 5.8) every entry of every new store path is fsynced instead, then the store directory and each record', { timeout: 30_000 }, async () => {
  process.env.CAIRN_STORE_FLUSH = 'fsync';
  try {
    await withStore(async (store, _root, steps) => {
      await store.commit(planOf(testPackage('a', '1.0.0')));
      const flush = flushSteps(steps);
      const fsynced = flush.filter((s) => s.startsWith('fsync ')).map((s) => s.slice('fsync '.length));
      const id = (await store.current())!.packages.a!.id;
      const entries = testPackageTree('a', '1.0.0').filter((e) => e.type !== 'symlink').map((e) => `store/${id}/${e.path}`);
      for (const entry of [...entries, `store/${id}`]) {
        assert.ok(fsynced.includes(entry), `${entry} is fsynced: ${fsynced.join(', ')}`);
      }
      assert.ok(fsynced.includes(`store/${id}.json`), 'the record is fsynced');
      assert.ok(fsynced.includes('store'), 'the store directory is fsynced');
      assert.ok(fsynced.indexOf(`store/${id}`) < fsynced.indexOf(`store/${id}.json`), 'the tree before its record');
      assert.deepEqual((await store.verify()).problems, []);
    });
  } finally {
    delete process.env.CAIRN_STORE_FLUSH;
  }
});

test('a path reused from a commit killed before its last flush is flushed again before a generation names it', { timeout: 30_000 }, async () => {
  await withStore(async (store, root, steps) => {
    const a = testPackage('a', '1.0.0');
    // A commit killed after the records were renamed, before the flush after them: the path and its record are there, no generation names them.
    await store.commit(planOf(a));
    const id = (await store.current())!.packages.a!.id;
    spawnSync('chmod', ['-R', 'u+w', join(root, 'generations')]);
    await rm(join(root, 'generations', '1'), { recursive: true, force: true });
    await rm(join(root, 'current'), { force: true });
    steps.length = 0;
    const generation = await store.commit(planOf(a));
    assert.equal(generation.packages.a!.id, id, 'the path is reused, not unpacked again');
    assert.ok(!steps.some((s) => s.startsWith('extract:') || s.startsWith('write store/')), `nothing rewritten: ${steps.join(', ')}`);
    const flush = steps.findIndex((s) => s.startsWith('syncfs'));
    const firstGenerationStep = steps.findIndex((s) => s.startsWith('mkdir tmp/gen-'));
    assert.ok(flush >= 0 && flush < firstGenerationStep, `a flush before the generation is made: ${steps.join(', ')}`);
  });
});
