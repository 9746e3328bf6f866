// test/cli/log-check.test.ts: `cairn log check` and `cairn log verify-proof` as separate processes
// against mirrors on 127.0.0.1 (`cairn serve`'s server) that serve the log (docs/witness.md
// "Checking mirrors for equivocation"; docs/protocol.md section 5 "Equivocation proof"). A
// colluding threshold of witnesses signs two forks of one chain; mirrors serving the two forks
// are caught with a proof that verify-proof accepts; agreeing mirrors pass; a mirror serving
// another chain, an oversized head or a forged proof is refused, and nothing is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { blockHash, encodeLogFile, formatUtcTime, LOG_PATHS, rosterHash, type EquivocationProof } from '../../src/log/index.js';
import { startMirror, type RunningMirror } from '../../src/mirror/index.js';
import { buildTestLog, forkTestLog, MemorySource, rosterOf, witnessKey, type TestLog } from '../fixtures/log-chain.js';
import { withTempDir } from '../fixtures/temp-dir.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };
const now = (): string => formatUtcTime(Math.floor(Date.now() / 1000));
const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`log-check/${i}`));

/** A mirror serving `log` with its head at `headIndex`, from `dir` (its public directory). */
async function serveLog(dir: string, log: TestLog, headIndex: number, mirrors: RunningMirror[]): Promise<string> {
  const files = await MemorySource.of(log, await log.head(headIndex, now()));
  for (const [path, bytes] of files.files) {
    // Blocks above the head are not published yet.
    if (path.startsWith('log/blocks/') && Number(path.slice('log/blocks/'.length, -'.json'.length)) > headIndex) continue;
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  const mirror = await startMirror({ root: dir });
  mirrors.push(mirror);
  return `${mirror.url}/log/`;
}

async function withMirrors(fn: (dir: string, mirrors: RunningMirror[]) => Promise<void>): Promise<void> {
  await withTempDir('log-check', async (dir) => {
    const mirrors: RunningMirror[] = [];
    try {
      await fn(dir, mirrors);
    } finally {
      await Promise.all(mirrors.map((m) => m.close()));
    }
  });
}

test('log check: mirrors of one chain at different heads agree (exit 0)', T, async () => {
  await withMirrors(async (dir, mirrors) => {
    const log = await buildTestLog({ blocks: 9, genesis: { keys, threshold: 3 } });
    const a = await serveLog(join(dir, 'a'), log, 5, mirrors);
    const b = await serveLog(join(dir, 'b'), log, 8, mirrors);
    const c = await serveLog(join(dir, 'c'), log, 8, mirrors);
    const genesisOnly = await serveLog(join(dir, 'genesis'), log, 0, mirrors);
    const run = await runCli(['log', 'check', '--chain', log.chain.chain, '--source', a, '--source', b, '--source', c, '--source', genesisOnly, '--proof-out', join(dir, 'proof.json')]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /consistent: 4 sources, no two disagree/);
    assert.match(run.stdout, /head block 5 /);
    assert.ok(!(await readdir(dir)).includes('proof.json'), 'a proof file was written without a conflict');
  });
});

test('log check: two mirrors serving forks signed by one roster are caught with a proof anyone can check (exit 1)', T, async () => {
  await withMirrors(async (dir, mirrors) => {
    const log = await buildTestLog({ blocks: 8, genesis: { keys, threshold: 3 } });
    // The witnesses w0..w2 (a threshold) also sign another block 4 and what follows it.
    const fork = await forkTestLog(log, 4, 8, 'fork');
    assert.notEqual(blockHash(fork.chain.blockAt(4)!), blockHash(log.chain.blockAt(4)!));
    const honest = await serveLog(join(dir, 'honest'), log, 6, mirrors);
    const sameHeight = await serveLog(join(dir, 'fork-6'), fork, 6, mirrors);
    const higher = await serveLog(join(dir, 'fork-7'), fork, 7, mirrors);

    // Same index: two co-signed head statements.
    const proofFile = join(dir, 'proof.json');
    const run = await runCli(['log', 'check', '--chain', log.chain.chain, '--source', honest, '--source', sameHeight, '--proof-out', proofFile]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /EQUIVOCATION at block 6/);
    assert.match(run.stdout, /signed both: w0 .*w1 .*w2 .*w3/);
    const proof = JSON.parse(await readFile(proofFile, 'utf8')) as EquivocationProof;
    assert.equal(proof.first.kind, 'head');
    assert.equal(proof.second.kind, 'head');

    const rosterFile = join(dir, 'roster.json');
    const roster = log.rosterAt(0).roster;
    await writeFile(rosterFile, encodeLogFile(roster));
    const verified = await runCli(['log', 'verify-proof', proofFile, '--chain', log.chain.chain, '--roster', rosterFile]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`proven: block 6 of chain ${log.chain.chain}`));

    // Different indices: the honest head 6 against the fork's forward link into block 6.
    const json = await runCli(['--json', 'log', 'check', '--chain', log.chain.chain, '--source', honest, '--source', higher]);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as { consistent: boolean; conflicts: Array<{ index: number; proof: EquivocationProof | null; culprits: unknown[] }> };
    assert.equal(report.consistent, false);
    assert.equal(report.conflicts.length, 1);
    assert.equal(report.conflicts[0]!.index, 6);
    assert.equal(report.conflicts[0]!.proof!.second.kind, 'forward-link');
    await writeFile(join(dir, 'link-proof.json'), JSON.stringify(report.conflicts[0]!.proof));
    const linkProof = await runCli(['--json', 'log', 'verify-proof', join(dir, 'link-proof.json'), '--roster', rosterFile]);
    assert.equal(linkProof.code, 0, linkProof.stderr);
    assert.equal((JSON.parse(linkProof.stdout) as { culprits: unknown[] }).culprits.length, 4);
  });
});

test('log verify-proof refuses a forged or altered proof, another chain and rosters not given (exit 6)', T, async () => {
  await withMirrors(async (dir, mirrors) => {
    const log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 } });
    const fork = await forkTestLog(log, 3, 6, 'fork');
    const proofFile = join(dir, 'proof.json');
    const run = await runCli(['log', 'check', '--chain', log.chain.chain, '--source', await serveLog(join(dir, 'a'), log, 5, mirrors), '--source', await serveLog(join(dir, 'b'), fork, 5, mirrors), '--proof-out', proofFile]);
    assert.equal(run.code, 1, run.stderr);
    const proof = JSON.parse(await readFile(proofFile, 'utf8')) as EquivocationProof;

    const refused = async (name: string, value: unknown, code: string, extra: string[] = []): Promise<void> => {
      const file = join(dir, name);
      await writeFile(file, JSON.stringify(value));
      const r = await runCli(['log', 'verify-proof', file, ...extra]);
      assert.equal(r.code, 6, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`\\[${code}\\]`), name);
    };
    // A framing attempt: the second claim's head statement now names the first's block at that index.
    if (proof.second.kind !== 'head' || proof.first.kind !== 'head') throw new Error('expected two head claims');
    await refused('same-block.json', { ...proof, second: { ...proof.second, statement: proof.first.statement } }, 'NOT_EQUIVOCATION');
    // A claim whose statement was changed after it was signed.
    await refused('altered.json', { ...proof, second: { ...proof.second, statement: { ...proof.second.statement, hash: 'ab'.repeat(32) } } }, 'NOT_EQUIVOCATION');
    // A valid proof, but about another chain than the one asked about.
    await refused('other-chain.json', proof, 'NOT_EQUIVOCATION', ['--chain', 'cd'.repeat(32)]);
    // Signed by a roster that is not among the chain's rosters given.
    const other = rosterOf(Array.from({ length: 3 }, (_, i) => witnessKey(`log-check/other/${i}`)), 2);
    await writeFile(join(dir, 'other-roster.json'), encodeLogFile(other));
    assert.notEqual(rosterHash(other), rosterHash(proof.first.roster));
    await refused('unknown-roster.json', proof, 'UNKNOWN_ROSTER', ['--roster', join(dir, 'other-roster.json')]);
  });
});

test('log check: a mirror serving another chain or an oversized head is a problem, never a proof (exit 1, nothing written)', T, async () => {
  await withMirrors(async (dir, mirrors) => {
    const log = await buildTestLog({ blocks: 5, genesis: { keys, threshold: 3 } });
    const impostor = await buildTestLog({ blocks: 5, genesis: { keys: keys.slice(0, 3), threshold: 2 } });
    const honest = await serveLog(join(dir, 'honest'), log, 4, mirrors);
    const otherChain = await serveLog(join(dir, 'impostor'), impostor, 4, mirrors);
    const hugeDir = join(dir, 'huge');
    const huge = await serveLog(hugeDir, log, 4, mirrors);
    await writeFile(join(hugeDir, LOG_PATHS.head), Buffer.alloc(64 * 1024, 0x20));
    const proofFile = join(dir, 'proof.json');
    const run = await runCli(['--json', 'log', 'check', '--chain', log.chain.chain, '--source', honest, '--source', otherChain, '--source', huge, '--proof-out', proofFile]);
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as { consistent: boolean; conflicts: unknown[]; sources: Array<{ url: string; problem: { code: string } | null }> };
    assert.equal(report.consistent, false);
    assert.deepEqual(report.conflicts, []);
    assert.deepEqual(report.sources.map((s) => s.problem?.code ?? null), [null, 'NOT_REACHABLE', 'TOO_LARGE']);
    assert.ok(!(await readdir(dir)).includes('proof.json'));

    // A mirror ahead of another that withholds every forward link into the other's head block
    // cannot be checked against it: that is reported, not taken as agreement.
    const behind = await serveLog(join(dir, 'behind'), log, 2, mirrors);
    const aheadDir = join(dir, 'ahead');
    const ahead = await serveLog(aheadDir, log, 4, mirrors);
    for (const [from, level] of [[1, 0], [0, 1]] as const) await rm(join(aheadDir, LOG_PATHS.link(from, level)), { force: true });
    const withheld = await runCli(['log', 'check', '--chain', log.chain.chain, '--source', behind, '--source', ahead]);
    assert.equal(withheld.code, 1, withheld.stdout + withheld.stderr);
    assert.match(withheld.stdout, /UNCHECKED block 2: .* makes no valid claim about it/);

    const usage = await runCli(['log', 'check', '--chain', log.chain.chain, '--source', honest]);
    assert.equal(usage.code, 2, usage.stderr);
    const badChain = await runCli(['log', 'check', '--chain', 'not-a-hash', '--source', honest, '--source', huge]);
    assert.equal(badChain.code, 2, badChain.stderr);
    assert.match(badChain.stderr, /BAD_ARGUMENT/);
  });
});
