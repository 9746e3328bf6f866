// bench/cosi-processes.ts: co-signing a release block with witnesses as separate processes over
// HTTP on loopback (docs/design.md "Collective signatures (CoSi)"; docs/protocol.md section 8). Each
// witness is a `cairn witness serve` process with its own SQLite state (synchronous=FULL). For
// 7, 16 and 32 witnesses (quick: 7 and 16), threshold more than two thirds, it measures:
//   - block: from proposal to final signature of a release block (GET /v1/info of every
//     witness, the per-witness policy checks at commit, the respond round with its durable
//     record), as LogLeader.appendBlock runs it, without the higher-level links and head round;
//   - release: appendBlock in full (block, higher-level links, head round, log files);
//   - head: one head-statement round (a co-signing round with the cheapest checks).
// Medians of several rounds. The machine is shared: the witnesses and the leader compete for
// its cores, so these are upper bounds of what separate hosts would see (minus network latency).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createReleaseLog, leaderOptions, LogLeader, publishedDocuments, SILENT } from '../src/release/index.js';
import { publish } from '../src/repo/index.js';
import { loadWitnessKey } from '../src/witness/index.js';
import { publishedRepo, publisherKeys, rootPin, stageTarget, startCluster } from '../test/witness/cluster.js';
import { median, ms, type BenchResult } from './stats.js';

export async function benchCosiProcesses(quick: boolean): Promise<BenchResult[]> {
  const sizes = quick ? [7, 16] : [7, 16, 32];
  const rounds = quick ? 3 : 5;
  const results: BenchResult[] = [];
  for (const n of sizes) results.push(await benchOne(n, rounds));
  return results;
}

async function benchOne(n: number, rounds: number): Promise<BenchResult> {
  const root = await mkdtemp(join(tmpdir(), 'cairn-bench-cosi-'));
  const keys = await publisherKeys(root);
  const t0 = performance.now();
  const cluster = await startCluster(root, n, rootPin(keys));
  const startMs = performance.now() - t0;
  try {
    const repo = join(root, 'repo');
    await publishedRepo(repo, keys);
    const threshold = Math.floor((2 * n) / 3) + 1;
    const leaderKey = await loadWitnessKey(cluster.leaderKeyFile);
    await createReleaseLog(repo, { witnesses: cluster.urls, threshold, rootSigners: [keys.signers.root], leader: { callTimeoutMs: 30_000, leaderKey } });
    const leader = await LogLeader.open(leaderOptions(repo, SILENT, { callTimeoutMs: 30_000, leaderKey }));
    const block: number[] = [];
    const release: number[] = [];
    const head: number[] = [];
    for (let i = 0; i < rounds + 1; i++) {
      await stageTarget(repo, keys, `bench-${i}`, `release ${i}`);
      await publish(repo, {
        signers: [keys.signers.snapshot, keys.signers.timestamp],
        beforeWrite: async (r) => {
          const t = performance.now();
          const report = await (leader as LogLeader).appendBlock(await publishedDocuments(repo, r), undefined, (phase) => {
            if (phase === 'block' && i > 0) block.push(performance.now() - t);
          });
          if (i > 0) release.push(performance.now() - t); // the first release warms up every process
          if (report.rounds[0]!.cosigners.length !== n) throw new Error(`only ${report.rounds[0]!.cosigners.length} of ${n} co-signed`);
        },
      });
      const h = performance.now();
      await leader.headRound();
      if (i > 0) head.push(performance.now() - h);
    }
    return {
      name: `co-signing with ${n} witness processes over HTTP (threshold ${threshold})`,
      lines: [
        `block, proposal to final signature: median ${ms(median(block))} (${block.map((v) => v.toFixed(0)).join(', ')} ms)`,
        `release in full (block, higher-level links, head round, log files): median ${ms(median(release))}`,
        `head statement round: median ${ms(median(head))}`,
        `(starting ${n} witness processes took ${(startMs / 1000).toFixed(1)} s)`,
      ],
      targets: [],
    };
  } finally {
    await cluster.stopAll();
    await rm(root, { recursive: true, force: true });
  }
}
