// test/cli/packages.test.ts: the package manager as a new user meets it (docs/cli.md "Installing
// software"), every step a real `cairn` process: a publisher packs and publishes with
// `cairn pack` and `cairn repo add-package`; the repository (witnessed log included) is served by
// `cairn serve`; the user adds the remote pinned to root.json and the genesis block, looks at a
// package, installs it and runs its entry point, gets an update refused for a permission increase
// until consent, rolls back to the parent, builds a bundle and installs it into another store with
// the mirror stopped, and verifies the store; --json gives one document per command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../src/encoding/index.js';
import { PackageRepository } from '../fixtures/package-repository.js';
import { CAIRN_BIN, runCli, startCli } from '../fixtures/cairn-process.js';
import { needsTool } from '../fixtures/system-tools.js';

const T = { timeout: 180_000 };

test('a new user: remote add, info, install, consent to an update, rollback, bundle to an offline machine, verify', T, async () => {
  const repo = await PackageRepository.create();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-packages-'));
  const store = join(dir, 'store');
  const served = join(dir, 'served');
  let mirror: Awaited<ReturnType<typeof startCli>> | undefined;
  const cairn = async (...args: string[]) => {
    const r = await runCli(args, { timeoutMs: 60_000 });
    return r;
  };
  try {
    // The publisher packs a package directory with `cairn pack`; the fixture publishes it.
    const src = join(dir, 'viewer');
    await mkdir(join(src, 'bin'), { recursive: true });
    await writeFile(join(src, 'bin', 'viewer'), '#!/bin/sh\necho viewer 1.0.0\n');
    await chmod(join(src, 'bin', 'viewer'), 0o755);
    await writeFile(join(src, 'cairn-package.json'), JSON.stringify({ name: 'viewer', version: '1.0.0', description: 'shows pictures', entryPoints: { viewer: 'bin/viewer' }, dependencies: {}, permissions: ['display'] }, null, 2));
    const packed = await cairn('--json', 'pack', src, '--out', join(dir, 'viewer-1.0.0.tar'));
    assert.equal(packed.code, 0, packed.stderr);
    const manifest = (JSON.parse(packed.stdout) as { manifest: JsonObject }).manifest;
    repo.addArchive('viewer', '1.0.0', await readFile(join(dir, 'viewer-1.0.0.tar')), manifest);
    await repo.release();
    await repo.repo.sim.writeTo(served);
    mirror = await startCli(['serve', served, '--port', '0'], /serving .* at http/);
    const url = /at (http:\/\/\S+)/.exec(mirror.readyLine)![1]!;

    const refusedRemote = await cairn('remote', 'add', 'main', url, '--store', store);
    assert.equal(refusedRemote.code, 2, 'trust is never taken on first use: --root is required');

    const added = await cairn('remote', 'add', 'main', url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash, '--store', store);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /witnessed/);

    const search = await cairn('search', 'PICTURES', '--store', store);
    assert.equal(search.code, 0, search.stderr);
    assert.match(search.stdout, /^viewer\t1\.0\.0\tmain\tshows pictures$/m);

    const info = await cairn('info', 'viewer', '--store', store);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /viewer 1\.0\.0 from main: shows pictures/);
    assert.match(info.stdout, /display: /);
    assert.match(info.stdout, /witnessed: yes, log block \d+:[0-9a-f]{64}/);

    const install = await cairn('install', 'viewer', '--store', store);
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, /installed viewer 1\.0\.0 \(requests, not granted: display\)/);
    assert.equal(spawnSync(join(store, 'current', 'bin', 'viewer'), { encoding: 'utf8' }).stdout, 'viewer 1.0.0\n');

    // Version 2 asks for the network too.
    const { archive, manifest: m2 } = await repo.pack({ name: 'viewer', version: '2.0.0', permissions: ['display', 'network:outbound:example.org:443'] });
    repo.addArchive('viewer', '2.0.0', await readFile(archive), m2 as unknown as JsonObject);
    await repo.release();
    await repo.repo.sim.writeTo(served);

    const refused = await cairn('--json', 'update', '--store', store);
    assert.notEqual(refused.code, 0);
    const error = JSON.parse(refused.stdout) as { code: string; message: string };
    assert.equal(error.code, 'PERMISSION_CONSENT_NEEDED');
    assert.match(error.message, /network:outbound:example\.org:443/);
    assert.equal(spawnSync(join(store, 'current', 'bin', 'viewer'), { encoding: 'utf8' }).stdout, 'viewer 1.0.0\n', 'still the old version');

    const held = await cairn('update', '--no-permission-changes', '--store', store);
    assert.equal(held.code, 0, held.stderr);
    assert.match(held.stdout, /held viewer at 1\.0\.0/);

    const consented = await cairn('update', '--accept-permissions', '--store', store);
    assert.equal(consented.code, 0, consented.stderr);
    assert.match(consented.stdout, /updated viewer 1\.0\.0 -> 2\.0\.0 \(now requests also: network:outbound:example\.org:443\)/);
    assert.equal(spawnSync(join(store, 'current', 'bin', 'viewer'), { encoding: 'utf8' }).stdout, 'viewer 2.0.0\n');

    const generations = await cairn('--json', 'generations', '--store', store);
    assert.deepEqual((JSON.parse(generations.stdout) as Array<{ number: number; parent: number | null; active: boolean }>).map((g) => [g.number, g.parent, g.active]), [[1, null, false], [2, 1, true]]);
    const rollback = await cairn('rollback', '--store', store);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.match(rollback.stdout, /generation 1 is active \(was 2\)/);
    assert.equal(spawnSync(join(store, 'current', 'bin', 'viewer'), { encoding: 'utf8' }).stdout, 'viewer 1.0.0\n');

    const bundleFile = join(dir, 'viewer.bundle');
    const bundled = await cairn('bundle', 'create', 'viewer@1.0.0', '-o', bundleFile, '--remote', 'main', '--store', store);
    assert.equal(bundled.code, 0, bundled.stderr);
    await mirror.stop();
    mirror = undefined;
    const offline = join(dir, 'offline-store');
    const fromBundle = await cairn('install', '--from', bundleFile, '--root', repo.rootFile, '--log-anchor', repo.genesisHash, '--store', offline);
    assert.equal(fromBundle.code, 0, fromBundle.stderr);
    assert.match(fromBundle.stdout, /bundle from main, made .* ago\)/);
    assert.match(fromBundle.stdout, /installed viewer 1\.0\.0/);

    for (const s of [store, offline]) {
      const verify = await cairn('verify', '--store', s);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /store verified/);
    }
    const list = await cairn('--json', 'list', '--store', offline);
    assert.deepEqual((JSON.parse(list.stdout) as { packages: Array<{ name: string; version: string }> }).packages.map((p) => `${p.name}@${p.version}`), ['viewer@1.0.0']);
  } finally {
    await mirror?.stop();
    await repo.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('verify names a file changed in the store, and exits non-zero', T, async () => {
  const repo = await PackageRepository.create();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-verify-'));
  try {
    await repo.publish({ name: 'hello', version: '1.0.0' });
    const store = join(dir, 'store');
    assert.equal((await runCli(['remote', 'add', 'main', repo.url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash, '--store', store])).code, 0);
    const installed = await runCli(['install', 'hello', '--store', store]);
    assert.equal(installed.code, 0, installed.stderr);
    const script = join(store, 'current', 'bin', 'hello');
    const real = spawnSync('readlink', ['-f', script], { encoding: 'utf8' }).stdout.trim();
    await chmod(real, 0o755);
    await writeFile(real, '#!/bin/sh\necho owned\n');
    const verify = await runCli(['verify', '--store', store]);
    assert.notEqual(verify.code, 0);
    assert.match(verify.stdout, /CORRUPT .*bin\/hello/);
  } finally {
    await repo.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('on a terminal, install draws a progress bar for the download and one for the extraction; without one, plain lines', { ...T, ...needsTool('script', 'sudo apt-get install bsdutils') }, async () => {
  const repo = await PackageRepository.create();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-progress-'));
  try {
    await repo.publish({ name: 'hello', version: '1.0.0', files: { 'bin/hello': '#!/bin/sh\necho hello\n', 'share/data.bin': 'x'.repeat(200_000) }, entryPoints: { hello: 'bin/hello' } });
    const store = join(dir, 'store');
    assert.equal((await runCli(['remote', 'add', 'main', repo.url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash, '--store', store])).code, 0);
    // util-linux `script` gives the command a pseudo-terminal, as a user's shell has.
    const command = [process.execPath, CAIRN_BIN, 'install', 'hello', '--store', store].map((a) => `'${a}'`).join(' ');
    // Asynchronously: the repository is served by this process.
    const onTerminal = await new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000 });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout }));
    });
    assert.equal(onTerminal.status, 0, onTerminal.stdout);
    assert.match(onTerminal.stdout, /\r {2}packages\/hello\/hello-1\.0\.0\.tar \[#{30}\] 100% /, 'the download bar, drawn in place');
    assert.match(onTerminal.stdout, /\r {2}unpacking hello 1\.0\.0 \[#{30}\] 100% 195\.\d KiB\/195\.\d KiB/, 'the extraction bar');

    const other = join(dir, 'other');
    assert.equal((await runCli(['remote', 'add', 'main', repo.url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash, '--store', other])).code, 0);
    const piped = await runCli(['install', 'hello', '--store', other]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stdout, /\r|\[#/, 'no bar when the output is not a terminal');
    assert.match(piped.stdout, /unpacking hello 1\.0\.0 into the store/);
  } finally {
    await repo.close();
    await rm(dir, { recursive: true, force: true });
  }
});
