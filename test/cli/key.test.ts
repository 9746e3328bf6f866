// test/cli/key.test.ts: `cairn key` as a real process: key files are private (0600), only the
// key ID is printed, and an encrypted key is refused with the wrong passphrase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initRepository, readPublicKey } from '../../src/repo/index.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 60_000 };

test('key generate writes a 0600 private key and a public key file, and prints only the key ID', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-key-'));
  try {
    const keyFile = join(dir, 'targets.key');
    const gen = await runCli(['--json', 'key', 'generate', '--out', keyFile]);
    assert.equal(gen.code, 0, gen.stderr);
    const out = JSON.parse(gen.stdout) as { keyid: string; encrypted: boolean };
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(keyFile, 'utf8')) as { private: string };
    assert.ok(!gen.stdout.includes(file.private) && !gen.stderr.includes(file.private), 'no key material in the output');
    assert.equal((await readPublicKey(`${keyFile}.pub.json`)).keyid, out.keyid);
    assert.equal(out.encrypted, false);
    const show = await runCli(['key', 'show', keyFile]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`keyid ${out.keyid}`));
    assert.ok(!show.stdout.includes(file.private));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an encrypted key is refused with the wrong passphrase', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-key-'));
  try {
    const keyFile = join(dir, 'root.key');
    const gen = await runCli(['key', 'generate', '--out', keyFile, '--encrypt', '--passphrase-env', 'MY_PASS'], { env: { MY_PASS: 'correct horse' } });
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const { key } = await readPublicKey(`${keyFile}.pub.json`);
    const repo = join(dir, 'repo');
    await initRepository(repo, { roles: { root: { keys: [key], threshold: 1 }, targets: { keys: [key], threshold: 1 }, snapshot: { keys: [key], threshold: 1 }, timestamp: { keys: [key], threshold: 1 } } });
    const wrong = await runCli(['--json', 'repo', 'sign', repo, '--role', 'root', '--key', keyFile], { env: { CAIRN_PASSPHRASE: 'wrong' } });
    assert.equal(wrong.code, 4);
    assert.equal((JSON.parse(wrong.stdout) as { code: string }).code, 'BAD_PASSPHRASE');
    const right = await runCli(['repo', 'sign', repo, '--role', 'root', '--key', keyFile], { env: { CAIRN_PASSPHRASE: 'correct horse' } });
    assert.equal(right.code, 0, right.stderr);
    assert.match(right.stdout, /root v1: 1\/1 signatures \(threshold met\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
