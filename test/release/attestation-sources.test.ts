// test/release/attestation-sources.test.ts: verifiers publish their attestations from their own
// places and the publisher pulls them (docs/verified-builds.md section 5 "Publishing
// attestations"). Real processes on 127.0.0.1: each verifier's tree is served read-only by its
// own `cairn serve`, and `cairn repo publish --attestations-from KEYID=URL` pulls from them. A
// source counts only as its own verifier: an attestation signed by the other verifier, one for
// other bytes, one over the envelope cap, and a file planted at the other verifier's path are
// refused or never fetched, and a refused pull writes nothing; a source for a key outside the
// build policy is a usage error. The genuine attestations land and meet the policy's quorum.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { sha256Hex, type Signer } from '../../src/crypto/index.js';
import { FILE_CACHE_LIMITS } from '../../src/mirror/index.js';
import { addTargets } from '../../src/repo/index.js';
import {
  attestationRelativePath, createAttestation, declarationToCustom, serializeAttestation, type ReleaseDeclaration,
} from '../../src/policy/index.js';
import { treeSnapshot } from '../repo/fixtures.js';
import { keyFile, tempDir, type KeyFile } from '../rebuild/fixtures.js';
import { runCli, startCli, type CliResult, type CliService } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };
const NAME = 'app/tool';
const declaration: ReleaseDeclaration = {
  source: { uri: 'https://example.org/tool.src.tar', sha256: 'c'.repeat(64) },
  recipe: { builder: 'debian-12', command: 'make', output: 'tool', sourceDateEpoch: 1_700_000_000 },
};
let dir: string;
let cleanup: () => Promise<void>;
let publisher: KeyFile;
let v1: KeyFile;
let v2: KeyFile;
let repo: string;
let sha: string;
const servers: CliService[] = [];
const trees: Record<'v1' | 'v2', { dir: string; url: string }> = { v1: { dir: '', url: '' }, v2: { dir: '', url: '' } };

function attestation(signer: Signer, sha256 = sha): string {
  return serializeAttestation(createAttestation(signer, {
    subject: { name: NAME, sha256 }, result: 'PASSED', timeVerified: new Date(), resourceUri: NAME,
    rebuild: { ...declaration, rebuilt: { sha256, length: 4 }, isolation: 'bubblewrap', environment: 'debian-12' },
  }));
}

/** Puts `content` in verifier `tree`'s served directory at the path of `keyid`'s attestation of the artifact. */
async function serveAt(tree: 'v1' | 'v2', keyid: string, content: string | undefined): Promise<string> {
  const path = join(trees[tree].dir, attestationRelativePath(NAME, sha, keyid));
  if (content === undefined) {
    await rm(path, { force: true });
  } else {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  // `cairn serve` may answer from what it checked up to FILE_CACHE_LIMITS.revalidateAfterMs ago (src/mirror/small-file-cache.ts): past that, it serves the new bytes.
  await new Promise((r) => setTimeout(r, FILE_CACHE_LIMITS.revalidateAfterMs + 100));
  return path;
}

const publish = (sources: string[]): Promise<CliResult> => runCli(['--json', 'repo', 'publish', repo, '--key', publisher.path, ...sources.flatMap((s) => ['--attestations-from', s])], { timeoutMs: 60_000 });
const from = (tree: 'v1' | 'v2', key: KeyFile): string => `${key.signer.keyid}=${trees[tree].url}`;
const published = (key: KeyFile): string => join(repo, 'public', attestationRelativePath(NAME, sha, key.signer.keyid));

async function refused(sources: string[], exit: number, code: string, mention: RegExp): Promise<void> {
  const before = await treeSnapshot(repo);
  const r = await publish(sources);
  assert.equal(r.code, exit, `${r.stdout}\n${r.stderr}`);
  const err = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code: string; message: string };
  assert.equal(err.code, code, err.message);
  assert.match(err.message, mention);
  assert.deepEqual(await treeSnapshot(repo), before, 'nothing written');
}

/** Stages a new version of the artifact, so that the next publish has something new to pull for. */
async function newVersion(content: string): Promise<void> {
  const artifact = join(dir, 'tool-next');
  await writeFile(artifact, content);
  sha = sha256Hex(await readFile(artifact));
  await addTargets(repo, [{ file: artifact, path: NAME }], { custom: declarationToCustom(declaration), signers: [publisher.signer] });
}

before(async () => {
  ({ dir, cleanup } = await tempDir('cairn-attestation-sources-'));
  [publisher, v1, v2] = await Promise.all([keyFile(dir, 'publisher'), keyFile(dir, 'v1'), keyFile(dir, 'v2')]);
  repo = join(dir, 'repo');
  const init = await runCli(['repo', 'init', repo, ...['root', 'targets', 'snapshot', 'timestamp'].flatMap((r) => [`--${r}-key`, publisher.pub]), '--key', publisher.path,
    '--build-verifier-key', v1.pub, '--build-verifier-key', v2.pub, '--build-quorum', '2']);
  assert.equal(init.code, 0, init.stderr);
  assert.equal((await publish([])).code, 0);
  const artifact = join(dir, 'tool');
  await writeFile(artifact, 'tool');
  sha = sha256Hex(await readFile(artifact));
  await addTargets(repo, [{ file: artifact, path: NAME }], { custom: declarationToCustom(declaration), signers: [publisher.signer] });
  for (const tree of ['v1', 'v2'] as const) {
    trees[tree].dir = join(dir, `${tree}-out`);
    await mkdir(trees[tree].dir, { recursive: true });
    const server = await startCli(['--json', 'serve', trees[tree].dir, '--port', '0'], /"listening"/);
    servers.push(server);
    trees[tree].url = (JSON.parse(server.readyLine) as { url: string }).url;
  }
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await cleanup();
});

test('a verifier\'s source counts only as that verifier, for that artifact; hostile answers are refused and nothing is written', T, async () => {
  const sources = [from('v1', v1), from('v2', v2)];
  // Source v1 serves, at v1's path, an attestation signed by v2: it claims to be another verifier.
  await serveAt('v1', v1.signer.keyid, attestation(v2.signer));
  await serveAt('v2', v2.signer.keyid, attestation(v2.signer));
  await refused(sources, 6, 'BAD_SIGNATURE', new RegExp(`source ${trees.v1.url}/ \\(verifier ${v1.signer.keyid.slice(0, 12)}`));
  // Source v1 serves v1's genuine attestation of other bytes (an older version, say).
  await serveAt('v1', v1.signer.keyid, attestation(v1.signer, 'e'.repeat(64)));
  await refused(sources, 6, 'SUBJECT_MISMATCH', /not app\/tool \(sha256/);
  // Source v1 serves an envelope over the cap.
  await serveAt('v1', v1.signer.keyid, 'x'.repeat(600 * 1024));
  await refused(sources, 6, 'BAD_ENVELOPE', /not that verifier's attestation/);
  // A source for a key that is not a policy verifier.
  await refused([`${publisher.signer.keyid}=${trees.v1.url}`], 2, 'BAD_ARGUMENT', /not a verifier of the build policy/);

  // Source v1 has no attestation of its own yet, and plants one at v2's path (FAILED would be
  // hostile; any bytes will do): only v1's path is ever asked of source v1.
  await serveAt('v1', v1.signer.keyid, undefined);
  const planted = await serveAt('v1', v2.signer.keyid, 'planted by v1');
  const partial = await publish([from('v1', v1), from('v2', v2)]);
  assert.equal(partial.code, 0, partial.stderr);
  assert.equal(await readFile(published(v2), 'utf8'), await readFile(join(trees.v2.dir, attestationRelativePath(NAME, sha, v2.signer.keyid)), 'utf8'));
  await assert.rejects(readFile(published(v1)), { code: 'ENOENT' });
  await rm(planted);
});

test('a directory source whose attestation is a FIFO or a device is refused at once: the publisher neither hangs holding the lock nor writes', T, async () => {
  // A verifier serving from a directory (KEYID=DIR) puts a FIFO at its attestation's path: opened
  // for reading, it would wait for a writer forever, with the workspace lock held.
  await newVersion('tool fifo');
  const path = await serveAt('v1', v1.signer.keyid, undefined);
  await mkdir(dirname(path), { recursive: true });
  execFileSync('mkfifo', [path]);
  const dirSource = `${v1.signer.keyid}=${trees.v1.dir}`;
  try {
    await refused([dirSource], 6, 'BAD_ENVELOPE', /expected a regular file, found a FIFO/);
    // A symlink to a device: refused the same way, before anything is read from it.
    await rm(path);
    await symlink('/dev/zero', path);
    await refused([dirSource], 6, 'BAD_ENVELOPE', /expected a regular file, found a device/);
  } finally {
    await rm(path, { force: true });
  }
});

test('a source that stalls is asked once per publish, not once per new artifact (each would hold the workspace lock up to the fetch time limits)', T, async () => {
  const asked: string[] = [];
  const stalled = createServer((req) => { asked.push(req.url ?? ''); }); // accepts, never answers
  await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
  try {
    const other = join(dir, 'other');
    await writeFile(other, 'other');
    await addTargets(repo, [{ file: other, path: 'app/other' }], { custom: declarationToCustom(declaration), signers: [publisher.signer] });
    await newVersion('tool stalled');
    const r = await publish([`${v1.signer.keyid}=http://127.0.0.1:${(stalled.address() as AddressInfo).port}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(asked.length, 1, `asked ${asked.join(', ')}`);
    assert.match(r.stderr, /passed over for the rest of this publish/);
    await assert.rejects(readFile(published(v1)), { code: 'ENOENT' });
  } finally {
    stalled.closeAllConnections();
    await new Promise((r) => stalled.close(r));
  }
});

test('the genuine attestations of both verifiers are pulled and meet the policy', T, async () => {
  await newVersion('tool v2');
  await serveAt('v1', v1.signer.keyid, attestation(v1.signer));
  await serveAt('v2', v2.signer.keyid, attestation(v2.signer));
  const r = await publish([from('v1', v1), from('v2', v2)]);
  assert.equal(r.code, 0, r.stderr);
  for (const [tree, key] of [['v1', v1], ['v2', v2]] as const) {
    assert.equal(await readFile(published(key), 'utf8'), await readFile(join(trees[tree].dir, attestationRelativePath(NAME, sha, key.signer.keyid)), 'utf8'));
  }
  const check = await runCli(['--json', 'rebuild', 'check', '--repo', repo, '--target', NAME, '--verifier-key', v1.pub, '--verifier-key', v2.pub, '--quorum', '2']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
});
