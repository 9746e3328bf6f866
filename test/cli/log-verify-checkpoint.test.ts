// test/cli/log-verify-checkpoint.test.ts: `cairn log verify-checkpoint` as a separate process
// (src/client/checkpoint-check.ts; docs/transparency.md "Tiles") against a mirror on 127.0.0.1
// serving a log's checkpoint and tiles: a later checkpoint consistent with an earlier one passes;
// a fork's checkpoint cosigned by the same roster, a shrunk log, a checkpoint below the roster's
// threshold and one missing a tile are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ed25519Signer } from '../../src/crypto/index.js';
import { blockHash, blockTreeRoot, checkpointText, cosignCheckpoint, encodeLogFile, formatNote, logOrigin, treeTiles } from '../../src/log/index.js';
import { FILE_CACHE_LIMITS, startMirror } from '../../src/mirror/index.js';
import { buildTestLog, forkTestLog, witnessKey, type TestLog } from '../fixtures/log-chain.js';
import { withTempDir } from '../fixtures/temp-dir.js';
import { runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 120_000 };
const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`verify-checkpoint/${i}`));

/** The checkpoint of `log`'s first `size` blocks, cosigned by the witnesses `signers` (indexes into keys). */
function checkpoint(log: TestLog, size: number, signers = [0, 1, 2]): string {
  const hashes = Array.from({ length: size }, (_, i) => blockHash(log.chain.blockAt(i)!));
  const text = checkpointText({ origin: logOrigin(log.chain.chain), size, rootHash: blockTreeRoot(hashes), extensions: [] });
  return formatNote({ text, signatures: signers.map((i) => cosignCheckpoint(text, `w${i}`, ed25519Signer(keys[i]!.privateKey), 1_700_000_000 + size)) });
}

/** Writes `log`'s checkpoint of `size` blocks and the tiles of its tree under `dir`/log/. */
async function publishCheckpoint(dir: string, log: TestLog, size: number): Promise<void> {
  await rm(join(dir, 'log'), { recursive: true, force: true });
  const tiles = treeTiles(Array.from({ length: size }, (_, i) => Buffer.from(blockHash(log.chain.blockAt(i)!), 'hex')));
  for (const tile of tiles) {
    await mkdir(dirname(join(dir, 'log', tile.path)), { recursive: true });
    await writeFile(join(dir, 'log', tile.path), tile.bytes);
  }
  await writeFile(join(dir, 'log', 'checkpoint'), checkpoint(log, size));
}

test('log verify-checkpoint: consistent with an earlier checkpoint by a proof from the tiles; forks, shrinking and too few cosignatures refused', T, async () => {
  await withTempDir('verify-checkpoint', async (dir) => {
    const log = await buildTestLog({ blocks: 300, genesis: { keys, threshold: 3 } });
    const chain = log.chain.chain;
    const roster = join(dir, 'roster.json');
    await writeFile(roster, encodeLogFile(log.rosterAt(0).roster));
    const earlier = join(dir, 'earlier');
    await writeFile(earlier, checkpoint(log, 6));
    const served = join(dir, 'mirror');
    await publishCheckpoint(served, log, 300);
    const mirror = await startMirror({ root: served });
    try {
      const url = `${mirror.url}/log/checkpoint`;
      const ok = await runCli(['--json', 'log', 'verify-checkpoint', url, '--chain', chain, '--roster', roster, '--previous', earlier]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const report = JSON.parse(ok.stdout) as { size: number; cosigners: Array<{ name: string }>; consistency: { previousSize: number; proof: string[] } };
      assert.equal(report.size, 300);
      assert.deepEqual(report.cosigners.map((c) => c.name), ['w0', 'w1', 'w2']);
      assert.equal(report.consistency.previousSize, 6);
      assert.ok(report.consistency.proof.length > 0);

      const refused = async (args: string[], code: string, what: string): Promise<void> => {
        const r = await runCli(['log', 'verify-checkpoint', ...args, '--chain', chain, '--roster', roster]);
        assert.equal(r.code, 6, `${what}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`\\[${code}\\]`), what);
      };
      // The same roster cosigned a fork from block 4 on: its tree does not extend the earlier one.
      const fork = await forkTestLog(log, 4, 300, 'fork');
      await publishCheckpoint(served, fork, 300);
      await new Promise((r) => setTimeout(r, FILE_CACHE_LIMITS.revalidateAfterMs + 200)); // the mirror's cache sees the new files
      await refused([url, '--previous', earlier], 'BAD_PROOF', 'a fork');
      // A log that shrank.
      await writeFile(join(dir, 'later'), checkpoint(log, 200));
      await refused([earlier, '--previous', join(dir, 'later'), '--log', `${mirror.url}/log/`], 'BAD_PROOF', 'a shrunk log');
      // Two cosignatures where the roster's threshold is three.
      await writeFile(join(dir, 'thin'), checkpoint(log, 6, [0, 1]));
      await refused([join(dir, 'thin')], 'BAD_NOTE', 'below the threshold');
      // A tile the proof needs is not served.
      await publishCheckpoint(served, log, 300);
      await rm(join(served, 'log', 'tile', '0', '000'));
      await new Promise((r) => setTimeout(r, FILE_CACHE_LIMITS.revalidateAfterMs + 200));
      await refused([url, '--previous', earlier], 'NOT_REACHABLE', 'a missing tile');
    } finally {
      await mirror.close();
    }
  });
});
