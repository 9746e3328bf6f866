// test/cli/tuf.test.ts: `cairn tuf` speaks the TUF conformance suite's client-under-test protocol
// (init, refresh, download; exit 0 or 1; plain metadata names; no re-download of a verified
// artifact), driven as a separate process against a repository served on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepositorySimulator, SimulatorServer } from '../fixtures/repository-simulator.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 60_000 };

async function fixture(): Promise<{ sim: RepositorySimulator; server: SimulatorServer; dir: string; close: () => Promise<void> }> {
  const sim = new RepositorySimulator({ consistentSnapshot: true });
  sim.addTarget('docs/readme.txt', 'hello from cairn\n');
  sim.addTarget('bin/tool', Buffer.alloc(5000, 7));
  sim.publish();
  const server = await new SimulatorServer(sim).start();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-tuf-'));
  await writeFile(join(dir, 'root.json'), sim.rootHistory.get(1)!);
  return {
    sim,
    server,
    dir,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('init, refresh and download follow the conformance protocol', T, async () => {
  const f = await fixture();
  try {
    const meta = join(f.dir, 'metadata');
    const targets = join(f.dir, 'targets');
    const init = await runCli(['tuf', '--metadata-dir', meta, 'init', join(f.dir, 'root.json')]);
    assert.equal(init.code, 0, init.stderr);
    assert.equal(f.server.requests.length, 0, 'init makes no request');

    // Global options in another order than the protocol's examples.
    const refresh = await runCli(['tuf', '--metadata-url', f.server.metadataUrl, '--metadata-dir', meta, 'refresh']);
    assert.equal(refresh.code, 0, refresh.stderr);
    assert.deepEqual((await readdir(meta)).sort(), ['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);

    const args = ['tuf', '--metadata-dir', meta, '--metadata-url', f.server.metadataUrl, '--target-name', 'docs/readme.txt', '--target-name', 'bin/tool',
      '--target-base-url', f.server.targetsUrl, '--target-dir', targets, 'download'];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    const files = await readdir(targets);
    assert.equal(files.length, 2);
    const readme = files.find((n) => n.includes('readme'))!;
    assert.equal(await readFile(join(targets, readme), 'utf8'), 'hello from cairn\n');

    f.server.clearRequests();
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.ok(!f.server.requests.some((p) => p.startsWith('targets/')), `re-downloaded: ${f.server.requests.join(', ')}`);
    assert.deepEqual((await readdir(targets)).sort(), files.sort(), 'same target path, same file name');
  } finally {
    await f.close();
  }
});

test('exit code 1 and a typed error line on a refused artifact; nothing left in the target dir', T, async () => {
  const f = await fixture();
  try {
    const meta = join(f.dir, 'metadata');
    const targets = join(f.dir, 'targets');
    assert.equal((await runCli(['tuf', '--metadata-dir', meta, 'init', join(f.dir, 'root.json')])).code, 0);
    // The mirror serves other bytes for the artifact than the repository signed.
    for (const path of [...f.sim.files.keys()]) {
      if (path.startsWith('targets/') && path.endsWith('readme.txt')) f.sim.files.set(path, Buffer.from('hello from evil\n'));
    }
    const r = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', f.server.metadataUrl, '--target-name', 'docs/readme.txt',
      '--target-base-url', f.server.targetsUrl, '--target-dir', targets, 'download']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HASH_MISMATCH|LENGTH_MISMATCH/);
    assert.deepEqual(await readdir(targets).catch(() => []), []);

    const unknown = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', f.server.metadataUrl, '--target-name', 'not/listed',
      '--target-base-url', f.server.targetsUrl, '--target-dir', targets, 'download']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /UNKNOWN_TARGET/);
  } finally {
    await f.close();
  }
});

test('init refuses a file that is not a self-signed root with exit code 1', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-tuf-'));
  try {
    await writeFile(join(dir, 'bad.json'), '{"signed": {"_type": "root"}, "signatures": []}');
    const r = await runCli(['tuf', '--metadata-dir', join(dir, 'm'), 'init', join(dir, 'bad.json')]);
    assert.equal(r.code, 1);
    assert.deepEqual(await readdir(join(dir, 'm')).catch(() => []), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
