// test/store/resolve.test.ts: dependency resolution (src/store/resolve.ts): newest satisfying
// versions, installed versions kept, backtracking, and conflicts explained by who wants what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstallError, resolveDependencies, type PackageCatalog } from '../../src/store/index.js';

/** A catalog from a table: 'name@version' -> dependencies. */
function catalog(table: Record<string, Record<string, string>>): PackageCatalog {
  return {
    versions: async (name) => {
      const vs = Object.keys(table).filter((k) => k.startsWith(`${name}@`)).map((k) => k.slice(name.length + 1));
      if (vs.length === 0) throw new InstallError('UNKNOWN_PACKAGE', `no package ${name}`);
      return vs;
    },
    dependencies: async (name, version) => table[`${name}@${version}`] ?? {},
  };
}

const you = (name: string, range = '*') => ({ name, range, wantedBy: 'you' });

test('picks the newest version that satisfies every range', async () => {
  const c = catalog({ 'app@1.0.0': { lib: '^1.0.0' }, 'app@1.1.0': { lib: '^1.2.0' }, 'lib@1.0.0': {}, 'lib@1.3.0': {}, 'lib@2.0.0': {} });
  const chosen = await resolveDependencies([you('app')], c);
  assert.deepEqual(Object.fromEntries(chosen), { app: '1.1.0', lib: '1.3.0' });
});

test('keeps an installed version unless the package is being updated', async () => {
  const c = catalog({ 'app@1.0.0': {}, 'app@1.1.0': {} });
  assert.equal((await resolveDependencies([you('app')], c, { prefer: { app: '1.0.0' } })).get('app'), '1.0.0');
  assert.equal((await resolveDependencies([you('app')], c, { prefer: { app: '1.0.0' }, updating: new Set(['app']) })).get('app'), '1.1.0');
});

test('backtracks to an older version when the newest conflicts', async () => {
  const c = catalog({ 'a@1.0.0': { c: '^1.0.0' }, 'b@2.0.0': { c: '^2.0.0' }, 'b@1.0.0': { c: '^1.0.0' }, 'c@1.0.0': {}, 'c@2.0.0': {} });
  const chosen = await resolveDependencies([you('a'), you('b')], c);
  assert.deepEqual(Object.fromEntries(chosen), { a: '1.0.0', b: '1.0.0', c: '1.0.0' });
});

test('a conflict names every package that wants the contested one and what exists', async () => {
  const c = catalog({ 'a@1.0.0': { c: '^1.0.0' }, 'b@1.0.0': { c: '^2.0.0' }, 'c@1.0.0': {}, 'c@2.0.0': {} });
  await assert.rejects(resolveDependencies([you('a'), you('b')], c), (e: unknown) => {
    assert.ok(e instanceof InstallError);
    assert.equal(e.code, 'DEPENDENCY_CONFLICT');
    assert.match(e.message, /a@1\.0\.0 wants c@\^1\.0\.0/);
    assert.match(e.message, /b@1\.0\.0 wants c@\^2\.0\.0/);
    assert.match(e.message, /available: 1\.0\.0, 2\.0\.0/);
    return true;
  });
});

test('a request no version matches says so, with the versions that exist', async () => {
  const c = catalog({ 'app@1.0.0': {} });
  await assert.rejects(resolveDependencies([you('app', '^2')], c), (e: unknown) => e instanceof InstallError && e.code === 'NO_MATCHING_VERSION' && /available: 1\.0\.0/.test(e.message));
  await assert.rejects(resolveDependencies([you('app', 'not a range!')], c), (e: unknown) => e instanceof InstallError && e.code === 'BAD_REQUEST');
  await assert.rejects(resolveDependencies([you('nope')], c), (e: unknown) => e instanceof InstallError && e.code === 'UNKNOWN_PACKAGE');
});

test('dependency cycles resolve (each package once)', async () => {
  const c = catalog({ 'a@1.0.0': { b: '1.x' }, 'b@1.0.0': { a: '1.x' } });
  assert.deepEqual(Object.fromEntries(await resolveDependencies([you('a')], c)), { a: '1.0.0', b: '1.0.0' });
});

test('gives up with a typed error after the step cap', async () => {
  const table: Record<string, Record<string, string>> = { 'c@1.0.0': {} };
  for (let i = 0; i < 50; i++) table[`a@1.0.${i}`] = { c: '^2.0.0' };
  await assert.rejects(resolveDependencies([you('a')], catalog(table), { maxSteps: 10 }), (e: unknown) => e instanceof InstallError && e.code === 'DEPENDENCY_CONFLICT' && /gave up/.test(e.message));
});
