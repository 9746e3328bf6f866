// test/io/lock-file.test.ts: the lock's re-entrance is along one chain of calls only
// (docs/cli.md "Concurrent commands"). A callback that an operation holding the lock left behind
// (a timer, a server handler: it inherits the async context) and that runs after the lock was
// released must not count as holding it: when another process (a real one, whose live pid is in
// the lock file) holds the lock by then, the callback waits and times out with LOCKED instead of
// running unlocked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLockFile } from '../../src/io/index.js';

test('a callback left behind by a released holder does not inherit the lock', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lockfile-'));
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    const lock = join(dir, 'lock');
    let nested = '';
    let leftBehind!: Promise<string>;
    let fired!: () => void;
    const firing = new Promise<void>((resolve) => { fired = resolve; });
    await withLockFile(lock, { command: 'first' }, async () => {
      // Re-entrant along the chain while the lock is held.
      nested = await withLockFile(lock, { command: 'nested', timeoutMs: 0 }, async () => 'ran nested');
      // A timer set here runs in this async context, after the lock is released.
      setTimeout(() => {
        leftBehind = withLockFile(lock, { command: 'left behind', timeoutMs: 300, pollMs: 20 }, async () => 'ran unlocked');
        fired();
      }, 500);
    });
    assert.equal(nested, 'ran nested');
    await assert.rejects(readFile(lock), { code: 'ENOENT' }, 'released');
    // Another live process takes the lock before the timer fires.
    await writeFile(lock, JSON.stringify({ pid: other.pid, command: 'cairn repo publish', since: new Date().toISOString(), nonce: 'other' }));
    await firing;
    await assert.rejects(leftBehind, (e: Error & { code?: string }) => e.code === 'LOCKED' && e.message.includes(`process ${other.pid}`));
    assert.equal(JSON.parse(await readFile(lock, 'utf8')).nonce, 'other', 'the other holder\'s lock is untouched');
  } finally {
    other.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('waiters that all find a dead holder\'s lock break it once: never two holders at a time', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lockfile-'));
  try {
    const lock = join(dir, 'lock');
    // A process that has exited: its pid names a dead holder.
    const dead = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const deadPid = await new Promise<number>((resolve) => dead.on('exit', () => resolve(dead.pid!)));
    for (let round = 0; round < 5; round++) {
      await writeFile(lock, JSON.stringify({ pid: deadPid, command: 'crashed', since: new Date().toISOString(), nonce: `dead-${round}` }));
      let inside = 0;
      let most = 0;
      // Separate chains of calls are separate holders (each its own nonce), all waiting at once.
      await Promise.all(Array.from({ length: 8 }, (_, i) => withLockFile(lock, { command: `waiter ${i}`, timeoutMs: 30_000, pollMs: 1 }, async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
      })));
      assert.equal(most, 1, `round ${round}: ${most} holders at once`);
      await assert.rejects(readFile(lock), { code: 'ENOENT' }, 'released at the end');
      await assert.rejects(readFile(`${lock}.breaking`), { code: 'ENOENT' }, 'no breaker\'s mark left behind');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
