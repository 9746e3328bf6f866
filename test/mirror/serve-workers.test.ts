// Tests for `cairn serve --workers N` (cli/commands/serve.ts over mirror/mirror.ts): N real
// serving processes share one port and each refuses what one mirror refuses; a stop ends every
// one of them, and a port in use fails the whole command with no process left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../fixtures/cairn-process.js';

const T = { timeout: 60_000 };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pids: number[]): Promise<void> {
  // Bounded by the test's timeout; a process that never exits fails it.
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
}

async function withTree(fn: (base: string, root: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'cairn-serve-workers-'));
  const root = join(base, 'public');
  await mkdir(join(root, 'metadata'), { recursive: true });
  await writeFile(join(root, 'metadata', 'timestamp.json'), '{"version":1}');
  await writeFile(join(base, 'secret.key'), 'PRIVATE');
  try {
    await fn(base, root);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

test('--workers 2 serves from two processes on one port, refuses traversal in each, and a stop ends them all', T, () => withTree(async (_base, root) => {
  const served = await startCli(['--json', 'serve', root, '--port', '0', '--workers', '2'], /"type":"listening"/);
  let pids: number[] = [];
  try {
    const listening = JSON.parse(served.readyLine) as { url: string; workers: number; pids: number[] };
    assert.equal(listening.workers, 2);
    pids = listening.pids;
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    // Fresh connections, so that both processes answer some.
    for (let i = 0; i < 8; i++) {
      const ok = await fetch(`${listening.url}/metadata/timestamp.json`, { headers: { connection: 'close' } });
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), '{"version":1}');
      const traversal = await fetch(`${listening.url}/metadata/%2e%2e/%2e%2e/secret.key`, { headers: { connection: 'close' } });
      assert.ok(traversal.status === 400 || traversal.status === 404, `answered ${traversal.status}`); // fetch may normalize the dots away
      assert.doesNotMatch(await traversal.text(), /PRIVATE/);
    }
  } finally {
    await served.stop();
  }
  await waitUntilGone(pids);
}));

test('--workers 2 on a port in use fails with the serving process\'s error and exit code (the command ends after its processes)', T, () => withTree(async (_base, root) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = String((holder.address() as { port: number }).port);
  try {
    const r = await runCli(['serve', root, '--port', port, '--workers', '2'], { timeoutMs: 30_000 });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, /ADDRESS_IN_USE/);
  } finally {
    holder.close();
  }
}));

test('--workers above the cap is a usage error', T, () => withTree(async (_base, root) => {
  const r = await runCli(['--json', 'serve', root, '--workers', '65']);
  assert.equal(r.code, 2);
  assert.equal((JSON.parse(r.stdout) as { code: string }).code, 'BAD_ARGUMENT');
}));
