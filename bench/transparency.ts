// bench/transparency.ts: the costs of transparency (docs/transparency.md), each against a baseline
// measured in the same run:
//
// - tiles: writing the tiles of a tree of 100,000 blocks (quick: 10,000) against computing its
//   root alone, and a consistency proof computed from tiles (only the tiles it needs, read from
//   disk) against one computed from the leaves in memory;
// - monitor: `LogMonitor` verifying a log of 1,000 blocks (quick: 200) served by a mirror on
//   127.0.0.1, against verifying the same co-signed level-0 links alone in process (what any
//   walk over every block must do at least): the ratio is the monitor's bookkeeping, its fetches
//   and its SQLite writes.
//
// No stated target: the figures go in the note.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import {
  acceptRoster, blockTreeRoot, consistencyProof, consistencyProofFromTiles, encodeLogFile, formatUtcTime, leafHash, LOG_PATHS, positionOf, treeTiles, verifyForwardLinkStep,
} from '../src/log/index.js';
import { startMirror } from '../src/mirror/index.js';
import { LogMonitor } from '../src/monitor/index.js';
import { buildTestLog, witnessKey } from '../test/fixtures/log-chain.js';
import { median, ms, type BenchResult } from './stats.js';

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function benchTiles(work: string, blocks: number): Promise<BenchResult> {
  const hashes = Array.from({ length: blocks }, (_, i) => createHash('sha256').update(`block ${i}`).digest());
  const rootRuns: number[] = [];
  const tileRuns: number[] = [];
  const dir = join(work, 'tiles');
  for (let run = 0; run < 3; run++) {
    rootRuns.push((await timed(() => blockTreeRoot(hashes.map((h) => h.toString('hex'))))).ms);
    await rm(dir, { recursive: true, force: true });
    tileRuns.push((await timed(async () => {
      for (const tile of treeTiles(hashes)) {
        await mkdir(dirname(join(dir, tile.path)), { recursive: true });
        await writeFile(join(dir, tile.path), tile.bytes);
      }
    })).ms);
  }
  const leaves = hashes.map(leafHash);
  const first = Math.floor(blocks / 3);
  const memoryRuns: number[] = [];
  const tileProofRuns: number[] = [];
  let reads = 0;
  for (let run = 0; run < 5; run++) {
    memoryRuns.push((await timed(() => consistencyProof(leaves, first, blocks))).ms);
    reads = 0;
    tileProofRuns.push((await timed(() => consistencyProofFromTiles(async (path) => {
      reads++;
      return readFile(join(dir, path));
    }, first, blocks))).ms);
  }
  const [root, tiles, memory, fromTiles] = [rootRuns, tileRuns, memoryRuns, tileProofRuns].map(median) as [number, number, number, number];
  return {
    name: `tiles of ${blocks.toLocaleString('en')} blocks`,
    lines: [
      `tree root alone ${ms(root)}; tiles computed and written ${ms(tiles)} (${(tiles / root).toFixed(1)}x)`,
      `consistency proof ${first}->${blocks}: from the leaves in memory ${ms(memory)}; from ${reads} tiles on disk ${ms(fromTiles)} (${(fromTiles / memory).toFixed(2)}x)`,
    ],
    targets: [],
  };
}

async function benchMonitor(work: string, blocks: number): Promise<BenchResult> {
  const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`bench-monitor/${i}`));
  const log = await buildTestLog({ blocks, genesis: { keys, threshold: 3 }, rootDocument: true });
  const root = join(work, 'monitor-mirror');
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < blocks; i++) files.set(LOG_PATHS.block(i), encodeLogFile(log.chain.blockAt(i)!));
  for (const [key, file] of log.links) {
    const [from, level] = key.split('.').map(Number) as [number, number];
    files.set(LOG_PATHS.link(from, level), encodeLogFile(file));
  }
  for (const [hash, { roster }] of log.rosters) files.set(LOG_PATHS.roster(hash), encodeLogFile(roster));
  files.set(LOG_PATHS.head, encodeLogFile(await log.head(blocks - 1, formatUtcTime(Math.floor(Date.now() / 1000)))));
  files.set('metadata/1.root.json', log.rootFile!.bytes);
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), bytes);
  }
  const mirror = await startMirror({ root });
  try {
    const baseline: number[] = [];
    const monitored: number[] = [];
    for (let run = 0; run < 3; run++) {
      baseline.push((await timed(() => {
        const roster = acceptRoster(log.rosterAt(0).roster);
        for (let i = 0; i + 1 < blocks; i++) {
          const file = log.links.get(`${i}.0`)!;
          verifyForwardLinkStep(positionOf(log.chain.blockAt(i)!), roster, file.link, file.cosignature);
        }
      })).ms);
      const state = join(work, `monitor-state-${run}`);
      const monitor = new LogMonitor({ chain: log.chain.chain, sources: [`${mirror.url}/log/`], stateDir: state, maxHeadAgeSeconds: 86_400, checkReleases: false });
      try {
        const { ms: took, value } = await timed(() => monitor.poll());
        if (value.verified.index !== blocks - 1 || value.alarms.length > 0) throw new Error(`the monitor verified ${value.verified.index} of ${blocks - 1} with ${value.alarms.length} alarms`);
        monitored.push(took);
      } finally {
        monitor.close();
      }
      await rm(state, { recursive: true, force: true });
    }
    const [base, mon] = [median(baseline), median(monitored)];
    return {
      name: `monitor over ${blocks.toLocaleString('en')} blocks`,
      lines: [
        `co-signed level-0 links verified alone in process ${ms(base)} (${ms(base / blocks)} a block)`,
        `cairn monitor, first poll from a loopback mirror ${ms(mon)} (${ms(mon / blocks)} a block, ${(mon / base).toFixed(1)}x)`,
      ],
      targets: [],
    };
  } finally {
    await mirror.close();
  }
}

export async function benchTransparency(work: string, quick: boolean): Promise<BenchResult[]> {
  return [await benchTiles(work, quick ? 10_000 : 100_000), await benchMonitor(work, quick ? 200 : 1_000)];
}
