// test/store/store.test.ts: the store core (docs/store.md): read-only store paths, generations,
// rollback to the parent, gc's rules, verify naming every difference, the one lock across real
// processes, and the attacks on commit (an unpack that smuggles content, a FIFO, a link out of the
// package, names that are paths, entry points outside the package, oversized records), each
// refused with its code before anything is activated or recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFile, chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, StoreError, type IncomingPackage, type Store } from '../../src/store/index.js';
import { testPackage, testPackageTree, unpackTree } from '../fixtures/store-driver.js';

const DRIVER = fileURLToPath(new URL('../fixtures/store-driver.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

/** A fresh store root for one test, removed afterwards (store paths are read-only: made writable first). */
async function withStore(fn: (store: Store, root: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-store-'));
  try {
    const root = join(dir, 'root');
    await fn(await openStore(root, { lockTimeoutMs: 10_000 }), root);
  } finally {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

function planOf(...packages: IncomingPackage[]): Parameters<Store['commit']>[0] {
  return {
    reason: `install ${packages.map((p) => `${p.name}@${p.version}`).join(' ')}`,
    packages: Object.fromEntries(packages.map((p) => [p.name, { incoming: p, version: p.version, remote: p.remote, explicit: true, permissions: p.manifest.permissions }])),
  };
}

const rejectsWith = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof StoreError, `a StoreError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

/** What commit writes, to show a refused one wrote nothing: store entries, generations, tmp, current. */
async function snapshot(root: string): Promise<string> {
  const list = async (d: string): Promise<string[]> => (await readdir(join(root, d)).catch(() => [])).sort();
  return JSON.stringify({ store: await list('store'), generations: await list('generations'), tmp: await list('tmp'), current: await readlink(join(root, 'current')).catch(() => null) });
}

test('openStore lays out the root: store, generations and tmp directories (0755), no current yet', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    for (const d of ['store', 'generations', 'tmp']) assert.equal((await lstat(join(root, d))).mode & 0o777, 0o755, d);
    assert.equal(await store.current(), undefined);
    assert.deepEqual(await store.generations(), []);
    await assert.rejects(lstat(join(root, 'lock')), { code: 'ENOENT' }, 'the lock is released');
  });
});

test('after commit every store path is read-only (files 0444 or 0555, directories 0555), its record too, and bin links reach the entry points', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    const a = testPackage('a', '1.0.0');
    const generation = await store.commit(planOf(a));
    assert.equal(generation.number, 1);
    assert.equal(generation.parent, null);
    const id = generation.packages.a!.id;
    assert.equal(id, `${a.targetSha256.slice(0, 32)}-a-1.0.0`);
    const dir = join(root, 'store', id);
    assert.equal((await lstat(dir)).mode & 0o7777, 0o555);
    assert.equal((await lstat(join(root, 'store', `${id}.json`))).mode & 0o7777, 0o444);
    for (const entry of testPackageTree('a', '1.0.0')) {
      const mode = (await lstat(join(dir, entry.path))).mode & 0o7777;
      if (entry.type === 'directory') assert.equal(mode, 0o555, entry.path);
      if (entry.type === 'file') assert.equal(mode, entry.mode === 0o755 ? 0o555 : 0o444, entry.path);
    }
    if (process.getuid?.() !== 0) {
      // For anyone but root the modes are the protection: no write into a store path succeeds.
      await assert.rejects(writeFile(join(dir, 'lib', 'a.js'), 'changed'), { code: 'EACCES' });
      await assert.rejects(writeFile(join(dir, 'lib', 'new.js'), 'added'), { code: 'EACCES' });
    }
    assert.equal(await readlink(join(root, 'current')), 'generations/1');
    assert.equal(await readFile(join(root, 'current', 'bin', 'a'), 'utf8'), '#!/bin/sh\necho a 1.0.0\n');
    assert.deepEqual(await readdir(join(root, 'tmp')), [], 'staging is gone');
    const report = await store.verify();
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.garbage, []);
  });
});

test('a store path already present is reused, not unpacked again', { timeout: 30_000 }, async () => {
  await withStore(async (store) => {
    const a = testPackage('a', '1.0.0');
    await store.commit(planOf(a));
    let unpacked = false;
    const again: IncomingPackage = { ...a, unpack: async (d, s) => { unpacked = true; return a.unpack(d, s); } };
    const g2 = await store.commit(planOf(again, testPackage('b', '1.0.0')));
    assert.equal(unpacked, false);
    assert.equal(g2.parent, 1);
  });
});

test('rollback goes to the parent, not the number below: install 1, 2, rollback to 1, install 3 (parent 1), rollback to 1 not 2', { timeout: 60_000 }, async () => {
  await withStore(async (store) => {
    const a = testPackage('a', '1.0.0');
    const b = testPackage('b', '1.0.0');
    const c = testPackage('c', '1.0.0');
    await assert.rejects(store.rollback(), rejectsWith('NO_GENERATION'));
    assert.equal((await store.commit(planOf(a))).number, 1);
    assert.equal((await store.commit(planOf(a, b))).number, 2);
    assert.deepEqual(await store.rollback(), { from: 2, to: 1 });
    const g3 = await store.commit(planOf(a, c));
    assert.equal(g3.number, 3);
    assert.equal(g3.parent, 1);
    assert.deepEqual(await store.rollback(), { from: 3, to: 1 });
    assert.equal((await store.current())!.number, 1);
    await assert.rejects(store.rollback(), rejectsWith('NO_PARENT'));
    // --to N: any kept generation.
    assert.deepEqual(await store.rollback(2), { from: 1, to: 2 });
    assert.deepEqual(Object.keys((await store.current())!.packages), ['a', 'b']);
    await assert.rejects(store.rollback(99), rejectsWith('UNKNOWN_GENERATION'));
    assert.equal((await store.current())!.number, 2, 'a refused rollback leaves the current generation');
    const listed = await store.generations();
    assert.deepEqual(listed.map((g) => [g.number, g.active]), [[1, false], [2, true], [3, false]]);
  });
});

test('gc keeps the newest generations and the current one, and never removes what a kept generation references', { timeout: 60_000 }, async () => {
  await withStore(async (store, root) => {
    const a1 = testPackage('a', '1.0.0');
    const a2 = testPackage('a', '2.0.0');
    const b1 = testPackage('b', '1.0.0');
    const c1 = testPackage('c', '1.0.0');
    await store.commit(planOf(a1)); // 1: a1
    await store.commit(planOf(a1, b1)); // 2: a1 b1
    await store.commit(planOf(a2, b1)); // 3: a2 b1
    await store.commit(planOf(a2, c1)); // 4: a2 c1
    await store.rollback(2); // current: 2
    // A leftover of an interrupted commit.
    await mkdir(join(root, 'tmp', 'unpack-leftover'));
    await writeFile(join(root, 'tmp', 'unpack-leftover', 'x'), 'twelve bytes');
    const before = await store.verify();
    assert.deepEqual(before.garbage, [{ kind: 'tmp-leftover', path: 'tmp/unpack-leftover' }]);

    const result = await store.gc({ keepGenerations: 1 });
    assert.deepEqual(result.removedGenerations, [1, 3], 'keeps the newest (4) and the current (2)');
    const g = await store.generations();
    assert.deepEqual(g.map((x) => x.number), [2, 4]);
    // a1 (in 2), b1 (in 2), a2 and c1 (in 4) are all referenced: only the leftover goes.
    assert.deepEqual(result.removedPaths, [join(root, 'tmp', 'unpack-leftover')]);
    assert.ok(result.freedBytes >= 12);
    const ids = (await readdir(join(root, 'store'))).filter((n) => !n.endsWith('.json')).sort();
    assert.equal(ids.length, 4);

    // Keep none but the current: 4 goes, and with it a2 and c1.
    const second = await store.gc({ keepGenerations: 0 });
    assert.deepEqual(second.removedGenerations, [4]);
    const a2Id = `${a2.targetSha256.slice(0, 32)}-a-2.0.0`;
    const c1Id = `${c1.targetSha256.slice(0, 32)}-c-1.0.0`;
    assert.deepEqual(second.removedPaths.sort(), [a2Id, `${a2Id}.json`, c1Id, `${c1Id}.json`].map((n) => join(root, 'store', n)).sort());
    assert.ok(second.freedBytes > 0);
    assert.deepEqual((await store.generations()).map((x) => [x.number, x.active]), [[2, true]]);
    const after = await store.verify();
    assert.deepEqual(after.problems, []);
    assert.deepEqual(after.garbage, []);
    assert.equal(await readFile(join(root, 'current', 'bin', 'b'), 'utf8'), '#!/bin/sh\necho b 1.0.0\n');
    // The parent of 2 (generation 1) was removed: rollback says so instead of guessing.
    await assert.rejects(store.rollback(), (e) => rejectsWith('UNKNOWN_GENERATION')(e) && /removed by gc/.test((e as Error).message));
    // The next number is above every kept one (and so above every parent a kept manifest names).
    assert.equal((await store.commit(planOf(a1))).number, 3);
  });
});

test('verify names each difference: changed content, a removed file, an extra file, a chmod, a link target, a bin link, records and manifests', { timeout: 60_000 }, async () => {
  await withStore(async (store, root) => {
    const g = await store.commit(planOf(testPackage('a', '1.0.0'), testPackage('b', '1.0.0')));
    const a = join(root, 'store', g.packages.a!.id);
    // Only what is changed is made writable, and its mode put back: a chmod is a difference of its own.
    for (const d of ['lib', 'share/doc']) await chmod(join(a, d), 0o755);
    await chmod(join(a, 'lib', 'a.js'), 0o644);
    await appendFile(join(a, 'lib', 'a.js'), '// changed\n');
    await unlink(join(a, 'share', 'doc', 'README'));
    await writeFile(join(a, 'lib', 'extra.js'), 'extra');
    await chmod(join(a, 'bin', 'a'), 0o777);
    await unlink(join(a, 'lib', 'current.js'));
    await symlink('data/table.txt', join(a, 'lib', 'current.js'));
    await unlink(join(root, 'generations', '1', 'bin', 'b'));
    await symlink('/bin/sh', join(root, 'generations', '1', 'bin', 'b'));
    for (const d of ['lib', 'share/doc']) await chmod(join(a, d), 0o555);
    await chmod(join(a, 'lib', 'a.js'), 0o444);
    const report = await store.verify();
    const named = report.problems.map((p) => `${p.kind} ${p.path}`).sort();
    const at = `store/${g.packages.a!.id}`;
    assert.deepEqual(named, [
      `bin-link generations/1/bin/b`,
      `changed-content ${at}/lib/a.js`,
      `changed-link-target ${at}/lib/current.js`,
      `changed-mode ${at}/bin/a`,
      `missing ${at}/share/doc/README`,
      `unexpected-file ${at}/lib/extra.js`,
    ]);
    assert.equal(report.ok, false);

    // Records and manifests: missing, unparsable, oversized (a sparse file: refused by its size, not read).
    const bRecord = join(root, 'store', `${g.packages.b!.id}.json`);
    await chmod(bRecord, 0o644);
    await truncate(bRecord, 200 * 1024 * 1024);
    await writeFile(join(root, 'generations', '1', 'manifest.json'), '{"number": 1');
    const second = await store.verify();
    assert.deepEqual(second.problems.map((p) => p.kind), ['generation-unparsable']);
    assert.match(second.problems[0]!.detail, /not valid JSON/);
    // With the manifest back, the oversized record is named.
    await writeFile(join(root, 'generations', '1', 'manifest.json'), `${JSON.stringify({ number: 1, parent: null, createdAt: g.createdAt, reason: g.reason, packages: g.packages })}\n`);
    const third = await store.verify();
    assert.ok(third.problems.some((p) => p.kind === 'record-unparsable' && /limit/.test(p.detail)), JSON.stringify(third.problems));
    await unlink(bRecord);
    const fourth = await store.verify();
    assert.ok(fourth.problems.some((p) => p.kind === 'record-missing' && p.path === `store/${g.packages.b!.id}.json`));
  });
});

test('verify reports unreferenced store paths and leftovers as garbage, not corruption; a current link pointing elsewhere is corruption', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    await store.commit(planOf(testPackage('a', '1.0.0')));
    await store.commit(planOf(testPackage('b', '1.0.0')));
    // The link of a switch interrupted before its rename.
    await symlink('generations/1', join(root, 'current.tmp-abc'));
    await rm(join(root, 'generations', '1'), { recursive: true });
    const report = await store.verify();
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.garbage.map((x) => x.kind).sort(), ['stray', 'unreferenced-record', 'unreferenced-store-path']);
    await unlink(join(root, 'current'));
    await symlink('/etc', join(root, 'current'));
    await assert.rejects(store.current(), rejectsWith('CORRUPT'));
    assert.deepEqual((await store.verify()).problems.map((p) => p.kind), ['current-invalid']);
    await assert.rejects(store.rollback(), rejectsWith('CORRUPT'));
  });
});

test('one lock: a second process waits for the first, or fails with LOCKED after its time-out; they never interleave', { timeout: 60_000 }, async () => {
  await withStore(async (_store, root) => {
    const marker = join(root, '..', 'released');
    const holder = spawn(process.execPath, ['--import', 'tsx', DRIVER, root, 'hold', '3000', marker], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) resolve(); });
        holder.on('exit', (code) => reject(new Error(`the holder exited (${code}) before taking the lock`)));
      });
      const before = await snapshot(root);
      const impatient = await openStore(root, { lockTimeoutMs: 200 });
      await assert.rejects(impatient.commit(planOf(testPackage('a', '1.0.0'))), rejectsWith('LOCKED'));
      assert.equal(await snapshot(root), before, 'nothing written');
      // A patient one waits: its first write comes after the holder let go.
      let firstWriteAfterRelease: boolean | undefined;
      const patient = await openStore(root, { lockTimeoutMs: 30_000, step: () => {
        firstWriteAfterRelease ??= spawnSync('test', ['-e', marker]).status === 0;
      } });
      const g = await patient.commit(planOf(testPackage('a', '1.0.0')));
      assert.equal(g.number, 1);
      assert.equal(firstWriteAfterRelease, true);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

test('refuses an unpack that smuggles a file it does not report: UNPACK_MISMATCH, nothing recorded or activated', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    await store.commit(planOf(testPackage('a', '1.0.0')));
    const before = await snapshot(root);
    const honest = testPackage('b', '1.0.0');
    const smuggler: IncomingPackage = { ...honest, unpack: async (dest, step) => {
      const files = await honest.unpack(dest, step);
      await chmod(join(dest, 'lib'), 0o755);
      await writeFile(join(dest, 'lib', 'backdoor.js'), 'evil()');
      return files;
    } };
    await assert.rejects(store.commit(planOf(testPackage('a', '1.0.0'), smuggler)), (e) => rejectsWith('UNPACK_MISMATCH')(e) && /backdoor/.test((e as Error).message));
    assert.equal(await snapshot(root), before);
  });
});

test('refuses a FIFO and a symlink that leaves the package: UNPACK_MISMATCH, nothing written', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    const before = await snapshot(root);
    const base = testPackage('f', '1.0.0');
    const fifo: IncomingPackage = { ...base, unpack: async (dest, step) => {
      const files = await base.unpack(dest, step);
      assert.equal(spawnSync('mkfifo', [join(dest, 'pipe')]).status, 0);
      return files;
    } };
    await assert.rejects(store.commit(planOf(fifo)), (e) => rejectsWith('UNPACK_MISMATCH')(e) && /FIFO/.test((e as Error).message));
    assert.equal(await snapshot(root), before);
    const tree = [...testPackageTree('l', '1.0.0'), { path: 'lib/passwd', type: 'symlink' as const, linkTarget: '../../../../etc/passwd' }];
    await assert.rejects(store.commit(planOf(testPackage('l', '1.0.0', { tree }))), (e) => rejectsWith('UNPACK_MISMATCH')(e) && /outside/.test((e as Error).message));
    const absolute = [...testPackageTree('m', '1.0.0'), { path: 'lib/abs', type: 'symlink' as const, linkTarget: '/etc/passwd' }];
    await assert.rejects(store.commit(planOf(testPackage('m', '1.0.0', { tree: absolute }))), rejectsWith('UNPACK_MISMATCH'));
    assert.equal(await snapshot(root), before);
  });
});

test('refuses names that are paths, entry points outside the package, and two packages with one command: BAD_PLAN before anything is written', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    await store.commit(planOf(testPackage('a', '1.0.0')));
    const before = await snapshot(root);
    const traversal: IncomingPackage = { ...testPackage('x', '1.0.0'), name: '../../escape' };
    await assert.rejects(store.commit({ reason: 'attack', packages: { '../../escape': { incoming: traversal, version: '1.0.0', remote: 'test', explicit: true, permissions: [] } } }), rejectsWith('BAD_PLAN'));
    const badVersion: IncomingPackage = { ...testPackage('x', '1.0.0'), version: '1.0/../../..' };
    await assert.rejects(store.commit({ reason: 'attack', packages: { x: { incoming: badVersion, version: '1.0/../../..', remote: 'test', explicit: true, permissions: [] } } }), rejectsWith('BAD_PLAN'));
    await assert.rejects(store.commit(planOf(testPackage('y', '1.0.0', { entryPoints: { y: '../../../../bin/sh' } }))), rejectsWith('BAD_PLAN'));
    await assert.rejects(store.commit(planOf(testPackage('y', '1.0.0', { entryPoints: { y: 'lib' } }))), rejectsWith('BAD_PLAN'), 'a directory is not an entry point');
    await assert.rejects(store.commit(planOf(testPackage('y', '1.0.0', { entryPoints: { '../y': 'bin/y' } }))), rejectsWith('BAD_PLAN'));
    assert.equal(await snapshot(root), before);
    // Two providers of one command: the new store path may stay (garbage for gc), the active generation does not change.
    await assert.rejects(store.commit(planOf(testPackage('a', '1.0.0'), testPackage('z', '1.0.0', { entryPoints: { a: 'bin/z' } }))), rejectsWith('BAD_PLAN'));
    assert.equal((await store.current())!.number, 1);
    assert.deepEqual((await store.generations()).map((g) => g.number), [1]);
    assert.deepEqual((await store.verify()).problems, []);
    await assert.rejects(store.commit({ reason: 'by id', packages: { q: { id: `${'0'.repeat(32)}-q-1.0.0`, version: '1.0.0', remote: 'test', explicit: true, permissions: [] } } }), rejectsWith('NOT_IN_STORE'));
  });
});

test('a store path left without its record by an interrupted commit is unpacked afresh', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    const a = testPackage('a', '1.0.0');
    const id = `${a.targetSha256.slice(0, 32)}-a-1.0.0`;
    // Half a store path: what a crash between the rename and the record leaves (content tampered with).
    await unpackTree(join(root, 'store', id), [{ path: 'bin', type: 'directory' }, { path: 'bin/a', type: 'file', content: 'tampered', mode: 0o755 }], () => undefined);
    assert.deepEqual((await store.verify()).garbage.map((x) => x.kind), ['unreferenced-store-path']);
    await store.commit(planOf(a));
    const report = await store.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(await readFile(join(root, 'current', 'bin', 'a'), 'utf8'), '#!/bin/sh\necho a 1.0.0\n');
    assert.equal(await readFile(join(root, 'store', id, 'lib', 'data', 'table.txt'), 'utf8'), 'a 1.0.0\n'.repeat(100));
  });
});

test('a failure before the switch leaves the active generation untouched and cleans its staging', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    await store.commit(planOf(testPackage('a', '1.0.0')));
    const failing: IncomingPackage = { ...testPackage('b', '1.0.0'), unpack: async (dest) => {
      await mkdir(dest);
      await writeFile(join(dest, 'partial'), 'x');
      throw new Error('the archive ended early');
    } };
    await assert.rejects(store.commit(planOf(testPackage('a', '1.0.0'), failing)), /ended early/);
    assert.equal((await store.current())!.number, 1);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.deepEqual((await store.verify()).problems, []);
  });
});

test('a generation manifest written before entry points were listed is read, and the next generation takes them from the records', { timeout: 30_000 }, async () => {
  await withStore(async (store, root) => {
    const first = await store.commit(planOf(testPackage('a', '1.0.0')));
    // What a store made before then holds: no entryPoints in the manifest's package entries.
    const manifestPath = join(root, 'generations', String(first.number), 'manifest.json');
    const old = JSON.parse(await readFile(manifestPath, 'utf8')) as { packages: Record<string, Record<string, unknown>> };
    delete old.packages.a!.entryPoints;
    spawnSync('chmod', ['-R', 'u+w', join(root, 'generations')]);
    await writeFile(manifestPath, JSON.stringify(old));
    const current = (await store.current())!;
    assert.equal(current.packages.a!.entryPoints, undefined);
    const a = current.packages.a!;
    const next = await store.commit({ reason: 'keep a', packages: { a: { id: a.id, version: a.version, remote: a.remote, explicit: a.explicit, permissions: a.permissions } } });
    assert.deepEqual(next.packages.a!.entryPoints, { a: 'bin/a' });
    assert.equal(spawnSync(join(root, 'current', 'bin', 'a'), { encoding: 'utf8' }).stdout, 'a 1.0.0\n');
  });
});
