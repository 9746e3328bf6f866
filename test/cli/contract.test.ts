// test/cli/contract.test.ts: the command line's contract (docs/cli.md "Global options", "Exit
// codes"), as scripts and cron jobs rely on it: the same fault has the same code and exit code in
// every command, ordinary faults are typed errors with a hint (never an internal error), --json
// gives exactly one JSON document on every path (usage errors included), services print JSON
// lines, and status commands exit non-zero when something is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli, type CliResult } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };

/** The one JSON document a --json run printed on stdout (and nothing else there). */
function jsonOf(r: CliResult): { error?: string; code?: string; message?: string; hint?: string } & Record<string, unknown> {
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length >= 1 && r.stdout.trim().startsWith('{'), true, `expected one JSON document on stdout, got: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as ReturnType<typeof jsonOf>;
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-contract-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a missing file is StorageError NOT_FOUND with exit 8 and a hint, whichever command reads it', T, () => withDir(async (dir) => {
  const missing = join(dir, 'missing.json');
  const cases: string[][] = [
    ['key', 'show', missing],
    ['repo', 'init', join(dir, 'repo'), '--root-key', missing, '--targets-key', missing, '--snapshot-key', missing, '--timestamp-key', missing],
    ['log', 'init', join(dir, 'repo'), '--witness', 'http://127.0.0.1:9', '--key', missing],
    ['rebuild', 'check', '--target', 'a', '--sha256', 'ab'.repeat(32), '--attestation', missing, '--verifier-key', missing, '--quorum', '1'],
    ['repo', 'merge-signature', join(dir, 'repo'), missing],
    ['log', 'verify-proof', missing],
  ];
  for (const args of cases) {
    const r = await runCli(['--json', ...args]);
    const err = jsonOf(r);
    assert.equal(err.code, 'NOT_FOUND', `${args.slice(0, 2).join(' ')}: ${r.stdout}`);
    assert.equal(r.code, 8, `${args.slice(0, 2).join(' ')} exit code`);
    assert.ok(err.hint, `${args.slice(0, 2).join(' ')} gives a hint`);
    const human = await runCli(args);
    assert.equal(human.code, 8);
    assert.match(human.stderr, /^error \[NOT_FOUND\]: .*\nhint: /);
    assert.doesNotMatch(human.stderr, /internal error/);
  }
  // The conformance client keeps its own exit code (1) but names the same fault.
  const tuf = await runCli(['tuf', '--metadata-dir', join(dir, 'meta'), 'init', missing]);
  assert.equal(tuf.code, 1);
  assert.match(tuf.stderr, /^error \[NOT_FOUND\]/);
}));

test('usage errors are UsageErrors with exit 2, one JSON document with --json, and name the help to read', T, async () => {
  const cases: Array<[string[], string, RegExp]> = [
    [['bogus'], 'UNKNOWN_COMMAND', /see cairn --help/],
    [[], 'MISSING_ARGUMENT', /cairn needs a command see cairn --help/],
    [['repo'], 'MISSING_ARGUMENT', /cairn repo needs a command see cairn repo --help/],
    [['repo', 'init', '/tmp/x', '--bogus'], 'UNKNOWN_OPTION', /see cairn repo init --help/],
    [['repo', 'init'], 'MISSING_ARGUMENT', /see cairn repo init --help/],
    [['rebuild', 'check', '--target', 'a', '--verifier-key', 'k', '--quorum', 'abc'], 'BAD_ARGUMENT', /--quorum must be a positive integer, not "abc"/],
    [['repo', 'status', '/tmp/x', '--warn', 'soon'], 'BAD_ARGUMENT', /--warn must be a positive duration/],
    [['serve', '/tmp', '--port', '70000'], 'BAD_ARGUMENT', /--port must be an integer from 0 to 65535/],
  ];
  for (const [args, code, detail] of cases) {
    const r = await runCli(['--json', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    const err = jsonOf(r);
    assert.equal(err.error, 'UsageError');
    assert.equal(err.code, code, args.join(' '));
    assert.match(`${err.message} ${err.hint ?? ''}`, detail);
    assert.equal(r.stderr, '', 'nothing else is printed');
  }
  // `cairn tuf` keeps the conformance protocol: any failure is 1, a usage error too, with the same code.
  const tuf = await runCli(['--json', 'tuf', '--bogus', 'refresh']);
  assert.equal(tuf.code, 1, tuf.stdout + tuf.stderr);
  assert.equal(jsonOf(tuf).code, 'UNKNOWN_OPTION');
});

test('a port in use is NetworkError ADDRESS_IN_USE (exit 5) for the mirror and the witness alike', T, () => withDir(async (dir) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = String((holder.address() as { port: number }).port);
  try {
    const mirror = await runCli(['--json', 'serve', dir, '--port', port]);
    assert.equal(mirror.code, 5, mirror.stdout + mirror.stderr);
    assert.equal(jsonOf(mirror).code, 'ADDRESS_IN_USE');
    const init = await runCli(['witness', 'init', '--dir', join(dir, 'w'), '--name', 'w1', '--address', `http://127.0.0.1:${port}`, '--chain', 'ab'.repeat(32)]);
    assert.equal(init.code, 0, init.stderr);
    const witness = await runCli(['witness', 'serve', '--dir', join(dir, 'w')]);
    assert.equal(witness.code, 5);
    assert.match(witness.stderr, /^error \[ADDRESS_IN_USE\]: 127\.0\.0\.1:\d+ is in use\nhint: choose another --port/);
  } finally {
    holder.close();
  }
}));

test('--version prints the version; services print one JSON line per event with --json', T, () => withDir(async (dir) => {
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
  await writeFile(join(dir, 'a.txt'), 'a');
  const mirror = await startCli(['--json', 'serve', dir, '--port', '0', '--log'], /"type":"listening"/);
  try {
    const listening = JSON.parse(mirror.readyLine) as { time: string; type: string; url: string };
    assert.ok(!Number.isNaN(Date.parse(listening.time)));
    const res = await fetch(`${listening.url}/a.txt`);
    assert.equal(await res.text(), 'a');
  } finally {
    await mirror.stop();
  }
}));

test('repo status exits 1 while a role is expired, and says what to do', T, () => withDir(async (dir) => {
  const keys = join(dir, 'k.json');
  assert.equal((await runCli(['key', 'generate', '--out', keys])).code, 0);
  // Two repositories, so that the healthy one cannot expire under a loaded machine's delays.
  const publishRepo = async (name: string, timestampExpires: string): Promise<string> => {
    const repo = join(dir, name);
    const init = await runCli(['repo', 'init', repo, ...['root', 'targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, keys]), '--key', keys]);
    assert.equal(init.code, 0, init.stderr);
    const published = await runCli(['repo', 'publish', repo, '--key', keys, '--timestamp-expires', timestampExpires]);
    assert.equal(published.code, 0, published.stderr);
    return repo;
  };
  const healthy = await runCli(['--json', 'repo', 'status', await publishRepo('healthy', '1d')]);
  assert.equal(healthy.code, 0, healthy.stdout);
  assert.deepEqual(jsonOf(healthy).problems, []);
  const repo = await publishRepo('expiring', '1s');
  await new Promise((r) => setTimeout(r, 1_500));
  const expired = await runCli(['--json', 'repo', 'status', repo]);
  assert.equal(expired.code, 1, expired.stdout);
  const problems = jsonOf(expired).problems as string[];
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^timestamp v1 expired at .*: renew it/);
  const human = await runCli(['repo', 'status', repo]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /PROBLEM: timestamp v1 expired/);
}));

test('a witness that does not answer is a network fault (exit 5, UNREACHABLE) with a hint, not a refusal', T, () => withDir(async (dir) => {
  const key = join(dir, 'k.json');
  assert.equal((await runCli(['key', 'generate', '--out', key])).code, 0);
  const repo = join(dir, 'repo');
  assert.equal((await runCli(['repo', 'init', repo, ...['root', 'targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, key]), '--key', key])).code, 0);
  assert.equal((await runCli(['repo', 'publish', repo, '--key', key])).code, 0);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const r = await runCli(['--json', 'log', 'init', repo, '--witness', `http://127.0.0.1:${port}`, '--key', key, '--timeout', '3000']);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  const err = jsonOf(r);
  assert.equal(err.code, 'UNREACHABLE');
  assert.match(err.message ?? '', new RegExp(`witness http://127\\.0\\.0\\.1:${port} of the new roster did not answer`));
  assert.match(err.hint ?? '', /cairn witness serve/);
}));
