// test/cli/tuf-witnessed.test.ts: `cairn tuf` with a log anchor, driven as a separate process
// against a repository and its witnessed log served on 127.0.0.1 (docs/cli.md "Witnessed
// clients"; docs/protocol.md section 9 "Clients and the log"): init pins the anchor, refresh and download
// accept a witnessed release and print the log steps, and an unwitnessed release is refused
// with exit code 1 and its code on stderr, as the conformance protocol reports every failure;
// and a client talking to `cairn serve` exits as soon as its work is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatorServer } from '../fixtures/repository-simulator.js';
import { WitnessedRepository, nowUtc } from '../fixtures/witnessed-repository.js';
import { CAIRN_BIN, runCli, startCli } from '../fixtures/cairn-process.js';

const T = { timeout: 90_000 };

test('init with --log-anchor, refresh and download accept a witnessed release; an unwitnessed one exits 1 with NOT_WITNESSED', T, async () => {
  const repo = await WitnessedRepository.create({ prepare: (sim) => sim.addTarget('docs/readme.txt', 'hello from a witnessed release\n') });
  const server = await new SimulatorServer(repo.sim).start();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-witnessed-'));
  try {
    const meta = join(dir, 'metadata');
    const targets = join(dir, 'targets');
    await writeFile(join(dir, 'root.json'), repo.sim.rootHistory.get(1)!);
    repo.sim.release('targets');
    await repo.witness();

    const init = await runCli(['tuf', '--metadata-dir', meta, 'init', join(dir, 'root.json'), '--log-anchor', repo.genesisHash]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /log anchor: block 0/);
    assert.equal(server.requests.length, 0, 'init makes no request');

    const refresh = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, 'refresh']);
    assert.equal(refresh.code, 0, refresh.stderr);
    assert.match(refresh.stdout, /release witnessed by the log \(head block 1\)/);
    assert.match(refresh.stdout, /ok {2}log: caught up 1 block \(0 -> 1\) via 1 forward link/);
    assert.match(refresh.stdout, /ok {2}log: head block 1 signed by 4 of 4 witnesses \(threshold 3\)/);
    assert.deepEqual((await readdir(meta)).sort(), ['log', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);

    const download = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, '--target-name', 'docs/readme.txt',
      '--target-base-url', server.targetsUrl, '--target-dir', targets, 'download']);
    assert.equal(download.code, 0, download.stderr);
    const [file] = await readdir(targets);
    assert.equal(await readFile(join(targets, file!), 'utf8'), 'hello from a witnessed release\n');

    const json = await runCli(['--json', 'tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, '--log-url', `${server.metadataUrl}../log/`, 'refresh']);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { log: { head: { index: number; signers: number }; blocksCaughtUp: number }; snapshot: { version: number } };
    assert.equal(report.log.head.index, 1);
    assert.equal(report.log.blocksCaughtUp, 0);
    assert.equal(report.snapshot.version, 2);

    // The developers publish a release the witnesses never saw.
    const before = await readFile(join(meta, 'timestamp.json'));
    repo.sim.addTarget('docs/readme.txt', 'not witnessed\n');
    repo.sim.release('targets');
    await repo.signHead();
    const refused = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, 'refresh']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /^error \[NOT_WITNESSED\]: timestamp\.json names snapshot v3/m);
    assert.ok(before.equals(await readFile(join(meta, 'timestamp.json'))), 'the trusted timestamp is unchanged');
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('init with --log-block checks the block offline; --max-head-age and a missing log are refused with exit 1', T, async () => {
  const repo = await WitnessedRepository.create();
  const server = await new SimulatorServer(repo.sim).start();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-witnessed-'));
  try {
    const meta = join(dir, 'metadata');
    await writeFile(join(dir, 'root.json'), repo.sim.rootHistory.get(1)!);
    await writeFile(join(dir, 'genesis.json'), repo.blockBytes(0));
    repo.sim.release();
    await repo.witness({ headTime: nowUtc(-600) });
    const headMade = Date.now();

    const wrong = await runCli(['tuf', '--metadata-dir', meta, 'init', join(dir, 'root.json'), '--log-anchor', 'ab'.repeat(32), '--log-block', join(dir, 'genesis.json')]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /error \[BAD_ANCHOR\]/);
    assert.deepEqual(await readdir(meta).catch(() => []), [], 'a refused anchor writes nothing, not even the root');

    const init = await runCli(['tuf', '--metadata-dir', meta, 'init', join(dir, 'root.json'), '--log-anchor', repo.genesisHash, '--log-block', join(dir, 'genesis.json')]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /block checked against the hash/);

    const stale = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, '--max-head-age', '300', 'refresh']);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /error \[STALE_HEAD\]/);

    const elsewhere = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, '--log-url', `${server.metadataUrl}../no-log/`, 'refresh']);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /error \[NO_HEAD\]/);

    const ok = await runCli(['tuf', '--metadata-dir', meta, '--metadata-url', server.metadataUrl, 'refresh']);
    assert.equal(ok.code, 0, ok.stderr);
    // The head was 10 min old when made; the processes since took some of this machine's time.
    const age = /(\d+) min old \(max 24\.0 h\)/.exec(ok.stdout);
    assert.ok(age, ok.stdout);
    assert.ok(Number(age[1]) >= 10 && Number(age[1]) <= 10 + Math.ceil((Date.now() - headMade) / 60_000), `head age ${age[1]} min`);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a refresh against `cairn serve` exits as soon as its report is printed: kept-alive connections do not hold the process', T, async () => {
  const repo = await WitnessedRepository.create({ prepare: (sim) => sim.addTarget('docs/readme.txt', 'hello\n') });
  repo.sim.release('targets');
  await repo.witness();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-witnessed-'));
  const meta = join(dir, 'metadata');
  await repo.sim.writeTo(join(dir, 'public'));
  await writeFile(join(dir, 'root.json'), repo.sim.rootHistory.get(1)!);
  const mirror = await startCli(['serve', join(dir, 'public'), '--port', '0'], /read-only at http:/);
  try {
    const url = /at (http:\S+)/.exec(mirror.readyLine)![1]!;
    const init = await runCli(['tuf', '--metadata-dir', meta, 'init', join(dir, 'root.json'), '--log-anchor', repo.genesisHash]);
    assert.equal(init.code, 0, init.stderr);

    // The refresh asks for root v2, a 404 whose body it never reads; a socket left busy with it
    // stays open until the server's keep-alive timeout (5 s) and keeps the client running.
    const child = spawn(process.execPath, [CAIRN_BIN, 'tuf', '--metadata-dir', meta, '--metadata-url', `${url}/metadata/`, 'refresh'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const printed = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('every check passed')) resolve();
    }));
    const deadline = (ms: number, what: string): Promise<never> => new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms).unref());
    try {
      await Promise.race([printed, exit, deadline(60_000, `no report within 60 s: ${stderr}`)]);
      const code = await Promise.race([exit, deadline(3_000, 'the client was still running 3 s after printing its report')]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /release witnessed by the log \(head block 1\)/);
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    await mirror.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
