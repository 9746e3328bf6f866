// test/rebuild/verifier-service.test.ts: `cairn rebuild serve` keeps its queue in SQLite and survives being
// killed mid-queue: a job claimed but not finished is retried after the restart, a finished one
// is never redone, and each artifact ends up attested exactly once. A verdict written just
// before a crash (file durable, job not yet marked done) is adopted, not rebuilt. The recipes
// are small shell builds that take a couple of seconds, so the kill lands mid-build.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { addTargets } from '../../src/repo/index.js';
import { declarationToCustom, parseAttestation, serializeAttestation, verifyAttestation, type ReleaseDeclaration } from '../../src/policy/index.js';
import { RebuildQueue, attestationFile, rebuildAndAttest, runVerifierService, writeSourceArchive, type VerifierEvent } from '../../src/rebuild/index.js';
import { writeFileAtomic } from '../../src/io/index.js';
import { sha256Hex } from '../../src/crypto/index.js';
import { CAIRN_BIN, EPOCH, keyFile, runCli, publisherRepo, tempDir, type KeyFile } from './fixtures.js';
import { NEEDS_BUBBLEWRAP } from '../fixtures/system-tools.js';

const T = { timeout: 120_000, ...NEEDS_BUBBLEWRAP };
let dir: string;
let cleanup: () => Promise<void>;
let repo: string;
let publisher: KeyFile;
let verifier: KeyFile;

/** A source tree whose recipe takes `seconds` and outputs data.txt as out.txt; returns its declaration and artifact. */
async function slowArtifact(name: string, seconds: number): Promise<{ declaration: ReleaseDeclaration; artifact: string }> {
  const src = join(dir, 'src', name);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'data.txt'), `artifact ${name}\n`);
  const archive = join(dir, 'src', `${name}.src.tar`);
  const { sha256 } = await writeSourceArchive(src, archive, EPOCH);
  const artifact = join(dir, 'src', `${name}.out`);
  await copyFile(join(src, 'data.txt'), artifact);
  return {
    declaration: {
      source: { uri: pathToFileURL(archive).href, sha256 },
      recipe: { builder: 'debian-12', command: `sleep ${seconds} && cp data.txt out.txt`, output: 'out.txt', sourceDateEpoch: EPOCH },
    },
    artifact,
  };
}

async function addSlow(name: string, seconds: number): Promise<void> {
  const { declaration, artifact } = await slowArtifact(name, seconds);
  await addTargets(repo, [{ file: artifact, path: `slow/${name}` }], { custom: declarationToCustom(declaration), signers: [publisher.signer] });
}

function jobsIn(db: string): ReturnType<RebuildQueue['jobs']> {
  const q = new RebuildQueue(db);
  try {
    return q.jobs();
  } finally {
    q.close();
  }
}

before(async () => {
  ({ dir, cleanup } = await tempDir('cairn-rebuild-serve-'));
  [publisher, verifier] = await Promise.all([keyFile(dir, 'publisher'), keyFile(dir, 'verifier')]);
  repo = join(dir, 'repo');
  await publisherRepo(repo, publisher.signer);
});

after(() => cleanup());

test('rebuild serve killed mid-queue: after a restart each artifact is attested exactly once, finished jobs are not redone', { ...T, ...NEEDS_BUBBLEWRAP }, async () => {
  for (const name of ['a', 'b', 'c']) await addSlow(name, 2);
  const db = join(dir, 'verifier.db');
  const args = [CAIRN_BIN, '--json', 'rebuild', 'serve', '--repo', repo, '--key', verifier.path, '--db', db, '--poll', '0.2', '--allow-file-sources'];

  // First run: wait until one artifact is attested and the next one is being rebuilt, then SIGKILL.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: VerifierEvent[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killedMidJob = await new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not reach the second job in time; events ${JSON.stringify(events)}; stderr ${stderr}`));
    }, 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as VerifierEvent;
      events.push(e);
      if (e.type === 'claimed' && events.some((x) => x.type === 'attested')) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(true);
      }
    });
    child.on('exit', () => resolve(false));
  });
  assert.ok(killedMidJob, `serve exited on its own: ${stderr}`);
  await new Promise((r) => child.once('close', r));
  const first = events.find((e) => e.type === 'attested');
  assert.ok(first && first.type === 'attested' && first.result === 'PASSED');
  const mid = jobsIn(db);
  assert.deepEqual(mid.map((j) => j.state), ['done', 'running', 'queued']);
  const firstFile = attestationFile(repo, mid[0]!.target, mid[0]!.sha256, verifier.signer.keyid);
  const firstBytes = await readFile(firstFile);
  const firstMtime = (await stat(firstFile)).mtimeMs;

  // Restart: the interrupted job is requeued and finished, the done one is left alone.
  const again = await runCli(['--json', 'rebuild', 'serve', '--repo', repo, '--key', verifier.path, '--db', db, '--poll', '0.2', '--once', '--allow-file-sources'], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  // JSON lines, each stamped with its time; the last says how many verdicts the run gave.
  const lines = again.stdout.trim().split('\n').map((l) => JSON.parse(l) as VerifierEvent & { time: string } | { time: string; type: 'stop'; finished: number });
  assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time))), again.stdout);
  assert.deepEqual(lines[lines.length - 1], { time: lines[lines.length - 1]!.time, type: 'stop', finished: 2 });
  const events2 = lines.filter((l): l is VerifierEvent & { time: string } => l.type !== 'stop');
  assert.deepEqual(events2[0], { time: events2[0]!.time, type: 'start', isolation: 'bubblewrap', recovered: 1 });
  assert.deepEqual(events2.filter((e) => e.type === 'claimed').map((e) => e.type === 'claimed' && e.target), ['slow/b', 'slow/c']);
  assert.deepEqual(events2.filter((e) => e.type === 'attested').map((e) => e.type === 'attested' && [e.target, e.result]), [['slow/b', 'PASSED'], ['slow/c', 'PASSED']]);

  const done = jobsIn(db);
  assert.deepEqual(done.map((j) => [j.target, j.state, j.result, j.attempts]), [
    ['slow/a', 'done', 'PASSED', 1],
    ['slow/b', 'done', 'PASSED', 2],
    ['slow/c', 'done', 'PASSED', 1],
  ]);
  assert.deepEqual(await readFile(firstFile), firstBytes, 'the finished job\'s attestation was not rewritten');
  assert.equal((await stat(firstFile)).mtimeMs, firstMtime);
  for (const job of done) {
    const verified = verifyAttestation(parseAttestation(await readFile(attestationFile(repo, job.target, job.sha256, verifier.signer.keyid))), [verifier.signer.publicKey]);
    assert.deepEqual(verified.statement.subject, { name: job.target, sha256: job.sha256 });
  }

  // A third run finds nothing to do.
  const idle = await runCli(['--json', 'rebuild', 'serve', '--repo', repo, '--key', verifier.path, '--db', db, '--once', '--allow-file-sources'], { timeoutMs: 30_000 });
  assert.equal(idle.code, 0, idle.stderr);
  assert.ok(!idle.stdout.includes('"claimed"'), idle.stdout);
});

test('a verdict written just before a crash is adopted after the restart, not rebuilt', T, async () => {
  await addSlow('d', 1);
  const db = join(dir, 'adopt.db');
  const { declaration, artifact } = await slowArtifact('d', 1);
  const queue = new RebuildQueue(db);
  const sha256 = sha256Hex(await readFile(artifact));
  queue.enqueue([{ target: 'slow/d', sha256, length: (await stat(artifact)).size, declaration }], Date.now());
  assert.ok(queue.claim(Date.now()));
  queue.close();
  // The crashed process had written its attestation durably but not marked the job done.
  const outcome = await rebuildAndAttest({ target: 'slow/d', artifactFile: artifact, declaration, signer: verifier.signer, allowFileSources: true });
  await writeFileAtomic(attestationFile(repo, 'slow/d', sha256, verifier.signer.keyid), serializeAttestation(outcome.envelope));

  // A fresh database also queues slow/a to slow/c; their verdicts from the test above are adopted too.
  const events: VerifierEvent[] = [];
  const { finished } = await runVerifierService({ repoDir: repo, signer: verifier.signer, dbPath: db, once: true, pollMs: 100, onEvent: (e) => events.push(e), allowFileSources: true });
  assert.ok(finished >= 1);
  assert.deepEqual(events.find((e) => e.type === 'adopted' && e.target === 'slow/d'), {
    type: 'adopted', target: 'slow/d', sha256, result: 'PASSED', attestation: attestationFile(repo, 'slow/d', sha256, verifier.signer.keyid),
  });
  assert.ok(!events.some((e) => e.type === 'attested' && e.target === 'slow/d'));
  const d = jobsIn(db).find((j) => j.target === 'slow/d')!;
  assert.deepEqual([d.state, d.result, d.attempts], ['done', 'PASSED', 2]);
});
