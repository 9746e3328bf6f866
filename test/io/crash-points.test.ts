// test/io/crash-points.test.ts: the test hook of io/crash-points.ts (docs/store.md "Test hooks"):
// the trace numbers each step in order, and a crash point that is not a step number is a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stepHookFromEnvironment } from '../../src/io/index.js';

test('the test hooks: CAIRN_TEST_STEP_TRACE appends numbered labels, a bad CAIRN_TEST_CRASH_AT_STEP is a usage error', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-crash-points-'));
  try {
    assert.equal(stepHookFromEnvironment({}), undefined);
    assert.throws(() => stepHookFromEnvironment({ CAIRN_TEST_CRASH_AT_STEP: '0' }), (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT');
    assert.throws(() => stepHookFromEnvironment({ CAIRN_TEST_CRASH_AT_STEP: 'x' }), (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT');
    const trace = join(dir, 'trace');
    const hook = stepHookFromEnvironment({ CAIRN_TEST_STEP_TRACE: trace })!;
    hook('write a');
    hook('fsync a');
    assert.equal(await readFile(trace, 'utf8'), '1 write a\n2 fsync a\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
