// test/cli/repo.test.ts: `cairn repo` as a real process: init with offline root keys, add a
// directory, threshold signing by two holders (one in place, one detached), a refused publish
// that writes nothing, a publish that an independent @tufjs/models check verifies, and status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519, writeKeyFile } from '../../src/crypto/index.js';
import { writePublicKeyFile } from '../../src/repo/index.js';
import { treeSnapshot, verifyPublished, writeSource } from '../repo/fixtures.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 90_000 };

async function keyFile(dir: string, name: string): Promise<string> {
  const { privateKey, signer } = generateEd25519();
  const path = join(dir, name);
  await writeKeyFile(path, privateKey);
  await writePublicKeyFile(`${path}.pub.json`, signer.publicKey);
  return path;
}

test('cairn repo: init, add, threshold signing, refused and accepted publish, status', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-repo-'));
  try {
    const [root, t1, t2, snap, ts] = await Promise.all(['root', 't1', 't2', 'snap', 'ts'].map((n) => keyFile(dir, `${n}.key`)));
    const repo = join(dir, 'repo');
    const init = await runCli(['repo', 'init', repo, '--root-key', `${root}.pub.json`, '--targets-key', `${t1}.pub.json`, '--targets-key', `${t2}.pub.json`,
      '--targets-threshold', '2', '--snapshot-key', `${snap}.pub.json`, '--timestamp-key', `${ts}.pub.json`, '--key', root!]);
    assert.equal(init.code, 0, init.stderr);
    await writeSource(dir, 'dist/bin/tool', 'binary');
    await writeSource(dir, 'dist/share/doc.txt', 'docs');
    const add = await runCli(['repo', 'add', repo, join(dir, 'dist'), '--path', 'v1', '--custom', '{"arch":"x86_64"}', '--key', t1!]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added v1\/bin\/tool -> targets/);
    const refused = await runCli(['--json', 'repo', 'publish', repo, '--key', snap!, '--key', ts!]);
    assert.equal(refused.code, 7);
    const err = JSON.parse(refused.stdout) as { code: string; message: string };
    assert.equal(err.code, 'THRESHOLD_NOT_MET');
    assert.match(err.message, /targets version 1 has 1 valid signature\(s\), needs 2/);
    assert.deepEqual(await treeSnapshot(join(repo, 'public')), new Map());
    const sigFile = join(dir, 't2.sig.json');
    const detached = await runCli(['repo', 'sign', repo, '--role', 'targets', '--key', t2!, '--detached', sigFile]);
    assert.equal(detached.code, 0, detached.stderr);
    const merged = await runCli(['repo', 'merge-signature', repo, sigFile]);
    assert.equal(merged.code, 0, merged.stderr);
    const published = await runCli(['--json', 'repo', 'publish', repo, '--key', snap!, '--key', ts!]);
    assert.equal(published.code, 0, published.stderr + published.stdout);
    assert.equal((JSON.parse(published.stdout) as { targetFiles: number }).targetFiles, 2);
    const { roles } = await verifyPublished(repo);
    assert.deepEqual(roles.get('targets')!.signed.targets['v1/bin/tool']!.custom, { arch: 'x86_64' });
    const status = await runCli(['--json', 'repo', 'status', repo]);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as { roles: Array<{ role: string; version: number; ready: boolean }>; pendingRoles: string[] };
    assert.deepEqual(st.roles.map((r) => r.role), ['root', 'targets', 'snapshot', 'timestamp']);
    assert.ok(st.roles.every((r) => r.ready));
    assert.deepEqual(st.pendingRoles, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('cairn log init refuses a repository made with --no-meta-hashes before asking any witness, and names the command that fixes it', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-repo-'));
  try {
    const [root, t, snap, ts] = await Promise.all(['root', 't', 'snap', 'ts'].map((n) => keyFile(dir, `${n}.key`)));
    const repo = join(dir, 'repo');
    const init = await runCli(['repo', 'init', repo, '--no-meta-hashes', '--root-key', `${root}.pub.json`, '--targets-key', `${t}.pub.json`,
      '--snapshot-key', `${snap}.pub.json`, '--timestamp-key', `${ts}.pub.json`, '--key', root!, '--key', t!]);
    assert.equal(init.code, 0, init.stderr);
    const published = await runCli(['repo', 'publish', repo, '--key', snap!, '--key', ts!]);
    assert.equal(published.code, 0, published.stderr);
    const before = await treeSnapshot(repo);
    // No witness listens on port 9: a refusal that asked one would be a network error instead.
    const log = await runCli(['--json', 'log', 'init', repo, '--witness', 'http://127.0.0.1:9', '--key', root!]);
    assert.equal(log.code, 2, log.stdout + log.stderr);
    const err = JSON.parse(log.stdout) as { code: string; hint: string };
    assert.equal(err.code, 'META_HASHES_OFF');
    assert.match(err.hint, new RegExp(`cairn repo enable-meta-hashes ${repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(await treeSnapshot(repo), before, 'nothing was written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
