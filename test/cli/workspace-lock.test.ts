// test/cli/workspace-lock.test.ts: commands that change a repository workspace take its lock
// (docs/cli.md "Concurrent commands"), tested with real `cairn` processes: two publishers adding
// to one workspace at once both land (nothing lost, nothing interleaved); a command waits while
// another live process holds the lock and gives up after CAIRN_LOCK_TIMEOUT naming the holder,
// having written nothing; a lock left by a dead process is broken, and so is none left by a
// command that failed while it was creating the lock (no empty lock file that nothing breaks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyFile } from '../rebuild/fixtures.js';
import { treeSnapshot, writeSource } from '../repo/fixtures.js';
import { CAIRN_BIN, runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };

async function workspace(): Promise<{ dir: string; repo: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-lock-'));
  const key = await keyFile(dir, 'all');
  const repo = join(dir, 'repo');
  const init = await runCli(['repo', 'init', repo, ...['root', 'targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, key.pub]), '--key', key.path]);
  assert.equal(init.code, 0, init.stderr);
  return { dir, repo, key: key.path };
}

/** A live process that is not cairn, standing for another command holding the lock. */
function holder(): { pid: number; stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

async function stagedTargets(repo: string): Promise<string[]> {
  const targets = JSON.parse(await readFile(join(repo, 'staged', 'metadata', 'targets.json'), 'utf8')) as { signed: { targets: Record<string, unknown> } };
  return Object.keys(targets.signed.targets).sort();
}

test('two publishers adding to one workspace at once: both changes land', T, async () => {
  const { dir, repo, key } = await workspace();
  try {
    const n = 4;
    for (let i = 0; i < n; i++) await writeSource(dir, `src${i}/file${i}.txt`, `content ${i}`);
    // Hold the lock so that all of them start and wait, then let them race for it.
    const other = holder();
    const lock = join(repo, 'state', 'lock');
    await writeFile(lock, JSON.stringify({ pid: other.pid, command: 'test holder', since: new Date().toISOString(), nonce: 'held-by-test' }));
    const runs = Array.from({ length: n }, (_, i) => runCli(['repo', 'add', repo, join(dir, `src${i}`, `file${i}.txt`), '--path', `p${i}/file${i}.txt`, '--key', key], { timeoutMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await stagedTargets(repo), [], 'nothing is written while another process holds the lock');
    await rm(lock);
    other.stop();
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await stagedTargets(repo), Array.from({ length: n }, (_, i) => `p${i}/file${i}.txt`));
    const pending = JSON.parse(await readFile(join(repo, 'state', 'pending.json'), 'utf8')) as { targets: unknown[] };
    assert.equal(pending.targets.length, n, 'every add is in the journal');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a command waiting for a live holder times out with LOCKED naming it, and writes nothing', T, async () => {
  const { dir, repo, key } = await workspace();
  const other = holder();
  try {
    await writeSource(dir, 'a.txt', 'a');
    await writeFile(join(repo, 'state', 'lock'), JSON.stringify({ pid: other.pid, command: 'cairn repo publish', since: '2026-01-01T00:00:00Z', nonce: 'n' }));
    const before = await treeSnapshot(repo);
    const started = Date.now();
    const r = await runCli(['--json', 'repo', 'add', repo, join(dir, 'a.txt'), '--key', key], { env: { CAIRN_LOCK_TIMEOUT: '1' } });
    assert.equal(r.code, 8, r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
    assert.equal(err.code, 'LOCKED');
    assert.match(err.message, new RegExp(`held by process ${other.pid} \\(cairn repo publish`));
    assert.match(err.hint, /CAIRN_LOCK_TIMEOUT/);
    assert.ok(Date.now() - started >= 1000, 'it waited the time-out');
    assert.deepEqual(await treeSnapshot(repo), before);
  } finally {
    other.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lock left by a dead process is broken', T, async () => {
  const { dir, repo, key } = await workspace();
  try {
    await writeSource(dir, 'a.txt', 'a');
    const dead = holder();
    dead.stop();
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(join(repo, 'state', 'lock'), JSON.stringify({ pid: dead.pid, command: 'cairn repo add', since: '2026-01-01T00:00:00Z', nonce: 'crashed' }));
    const r = await runCli(['repo', 'add', repo, join(dir, 'a.txt'), '--key', key], { env: { CAIRN_LOCK_TIMEOUT: '5' } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await stagedTargets(repo), ['a.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a command that fails while it creates the lock (disk full) leaves no lock that blocks the next ones', T, async () => {
  const { dir, repo, key } = await workspace();
  try {
    await writeSource(dir, 'a.txt', 'a');
    // With a file size limit of 0, creating a file works and writing its first byte fails (EFBIG,
    // as on a full disk): the command fails between creating the lock and writing its holder.
    const failed = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', 'ulimit -f 0; exec "$0" "$@"', process.execPath, CAIRN_BIN, '--json', 'repo', 'add', repo, join(dir, 'a.txt'), '--key', key], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.notEqual(failed.code, 0, failed.stderr);
    assert.deepEqual(await stagedTargets(repo), [], 'the failed command wrote nothing');
    const r = await runCli(['--json', 'repo', 'add', repo, join(dir, 'a.txt'), '--key', key], { env: { CAIRN_LOCK_TIMEOUT: '2' } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await stagedTargets(repo), ['a.txt']);
    assert.deepEqual((await readdir(join(repo, 'state'))).filter((f) => f.startsWith('lock')), [], 'no lock left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lock that is a FIFO or a link to a device is not read without bound: LOCKED after the time-out, nothing written', T, async () => {
  const { dir, repo, key } = await workspace();
  try {
    await writeSource(dir, 'a.txt', 'a');
    const lock = join(repo, 'state', 'lock');
    for (const make of [(): unknown => execFileSync('mkfifo', [lock]), (): unknown => execFileSync('ln', ['-s', '/dev/zero', lock])]) {
      const before = await treeSnapshot(repo);
      make();
      const r = await runCli(['--json', 'repo', 'add', repo, join(dir, 'a.txt'), '--key', key], { env: { CAIRN_LOCK_TIMEOUT: '1' }, timeoutMs: 20_000 });
      await rm(lock);
      assert.equal(r.code, 8, r.stdout + r.stderr);
      const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
      assert.equal(err.code, 'LOCKED');
      assert.match(err.message, /names no holder/);
      assert.match(err.hint, /remove .*state\/lock if no cairn command runs/);
      assert.deepEqual(await treeSnapshot(repo), before);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
