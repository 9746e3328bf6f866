// bench/publish-large.ts: publishing one new target into a 100,000-target repository in hash bins
// (TUF spec 1.0.x 6.1 and TAP 15 succinct hash bins), and what a client must fetch to
// see it. Publish time is add + publish of one target (median of several runs); the client's
// bytes are counted at the mirror while cairn's Updater refreshes, resolves the new target and
// downloads it, once for a client that was up to date before the publish and once for a cold
// one. Baseline: the same quantities for a 10,000-target repository with the same bins, to show
// that a client's bytes follow the size of one bin, not the size of the repository.
// Target: add + publish well under a second.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { addTargets, publish } from '../src/repo/index.js';
import { Updater } from '../src/tuf/index.js';
import { startMirrorProcess, type MirrorTraffic } from './mirror-process.js';
import { buildMetadataOnlyRepo, describeBins, targetContent, type BinScheme } from './repo-fixture.js';
import { median, ms, type BenchResult } from './stats.js';

export interface PublishLargeOptions {
  /** Targets in the large repository and in the comparison one. */
  large: number;
  small: number;
  scheme: BinScheme;
  runs: number;
  warmup: number;
}

// Succinct bins: the top-level targets role stays a few hundred bytes whatever the number of bins,
// where classic hash bins list every bin with its prefixes (about 70 KB for 256 bins), which a
// cold client must fetch; publishing costs the same for both.
export const PUBLISH_LARGE_FULL: PublishLargeOptions = { large: 100_000, small: 10_000, scheme: { kind: 'succinct', bitLength: 8 }, runs: 7, warmup: 1 };
export const PUBLISH_LARGE_QUICK: PublishLargeOptions = { large: 5_000, small: 500, scheme: { kind: 'succinct', bitLength: 8 }, runs: 3, warmup: 1 };

/** Bytes fetched by one client, by kind of file. */
interface ClientBytes {
  root: number;
  timestamp: number;
  snapshot: number;
  targets: number;
  bins: number;
  binFiles: number;
  targetFiles: number;
  requests: number;
}

interface RepoFigures {
  count: number;
  buildMs: number;
  rootLength: number;
  publishTimes: number[];
  upToDate: ClientBytes;
  cold: ClientBytes;
}

export async function benchPublishLarge(work: string, options: PublishLargeOptions = PUBLISH_LARGE_FULL): Promise<BenchResult> {
  const root = join(work, 'publish-large');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  try {
    const large = await measureRepo(join(root, 'large'), options.large, options);
    const small = await measureRepo(join(root, 'small'), options.small, options);
    return report(large, small, options);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function measureRepo(dir: string, count: number, options: PublishLargeOptions): Promise<RepoFigures> {
  const repo = await buildMetadataOnlyRepo(join(dir, 'repo'), count, options.scheme);
  let serial = 0;
  const addOne = async (): Promise<{ path: string; ms: number }> => {
    const n = serial++;
    const file = join(dir, `new-${n}.tar`);
    await writeFile(file, targetContent(count + n));
    const path = `packages/new/release-${n}/release-${n}.tar`;
    const t0 = performance.now();
    await addTargets(repo.dir, [{ file, path }], { signers: [repo.keys.bins] });
    await publish(repo.dir, { signers: [repo.keys.snapshot, repo.keys.timestamp] });
    return { path, ms: performance.now() - t0 };
  };
  const publishTimes: number[] = [];
  for (let i = 0; i < options.warmup + options.runs; i++) {
    const { ms: elapsed } = await addOne();
    if (i >= options.warmup) publishTimes.push(elapsed);
  }

  // Client bytes, counted at a real mirror while cairn's Updater does the work.
  const mirror = await startMirrorProcess(join(repo.dir, 'public'));
  try {
    const upToDateDir = join(dir, 'client-up-to-date');
    await Updater.initTrustedRoot(upToDateDir, repo.rootBytes);
    await clientUpdater(upToDateDir, dir, mirror.url).refresh();
    const probe = await addOne();
    await mirror.reset();
    await fetchNewTarget(upToDateDir, dir, mirror.url, probe.path);
    const upToDate = classify(await mirror.traffic());

    const coldDir = join(dir, 'client-cold');
    await Updater.initTrustedRoot(coldDir, repo.rootBytes);
    await mirror.reset();
    await fetchNewTarget(coldDir, dir, mirror.url, probe.path);
    const cold = classify(await mirror.traffic());
    return { count, buildMs: repo.buildMs, rootLength: repo.rootBytes.length, publishTimes, upToDate, cold };
  } finally {
    await mirror.close();
  }
}

function clientUpdater(metadataDir: string, dir: string, url: string): Updater {
  return new Updater({ metadataDir, metadataBaseUrl: `${url}/metadata/`, targetBaseUrl: `${url}/targets/`, targetDir: join(dir, 'downloads') });
}

async function fetchNewTarget(metadataDir: string, dir: string, url: string, path: string): Promise<void> {
  const updater = clientUpdater(metadataDir, dir, url);
  await updater.refresh();
  const info = await updater.getTargetInfo(path);
  if (!info) throw new Error(`the client does not see the new target ${path}`);
  await updater.downloadTarget(info);
}

function classify(traffic: MirrorTraffic): ClientBytes {
  const out: ClientBytes = { root: 0, timestamp: 0, snapshot: 0, targets: 0, bins: 0, binFiles: 0, targetFiles: 0, requests: traffic.requests };
  for (const { path, bytes } of traffic.log) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (path.startsWith('/targets/')) out.targetFiles += bytes;
    else if (/^(\d+\.)?root\.json$/.test(name)) out.root += bytes;
    else if (name === 'timestamp.json') out.timestamp += bytes;
    else if (/^(\d+\.)?snapshot\.json$/.test(name)) out.snapshot += bytes;
    else if (/^(\d+\.)?targets\.json$/.test(name)) out.targets += bytes;
    else {
      out.bins += bytes;
      out.binFiles++;
    }
  }
  return out;
}

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;
const metadataTotal = (b: ClientBytes): number => b.root + b.timestamp + b.snapshot + b.targets + b.bins;

function report(large: RepoFigures, small: RepoFigures, options: PublishLargeOptions): BenchResult {
  const bins = options.scheme.kind === 'succinct' ? 2 ** options.scheme.bitLength : options.scheme.bins;
  const publishMedian = median(large.publishTimes);
  const row = (f: RepoFigures, who: string, b: ClientBytes): string =>
    `  ${f.count.toLocaleString('en').padStart(7)} ${who.padEnd(11)} ${kb(b.root + b.timestamp).padStart(9)} ${kb(b.snapshot).padStart(9)} ` +
    `${kb(b.targets).padStart(9)} ${`${kb(b.bins)}${b.binFiles === 1 ? '' : ` (${b.binFiles} bins)`}`.padStart(9)} ${kb(metadataTotal(b)).padStart(9)}` +
    `   (${b.requests} requests; target file ${b.targetFiles} B)`;
  const fixed = (b: ClientBytes): number => b.root + b.timestamp + b.snapshot + b.targets;
  const growth = metadataTotal(large.upToDate) / metadataTotal(small.upToDate);
  return {
    name: `publishing one target into ${options.large.toLocaleString('en')} targets, and what clients fetch to see it`,
    lines: [
      `bins: ${describeBins(options.scheme)} (TAP 15; chosen over classic hash bins, whose top-level targets lists every bin: ` +
        `similar publish cost, a larger cold fetch)`,
      `repositories: bins filled with target entries directly, then published with cairn's publish(); target files not written ` +
        `(see bench/repo-fixture.ts); build ${(large.buildMs / 1000).toFixed(1)} s for ${large.count.toLocaleString('en')}, ` +
        `${(small.buildMs / 1000).toFixed(1)} s for ${small.count.toLocaleString('en')}`,
      `add + publish one new target into ${large.count.toLocaleString('en')} (~${Math.round(large.count / bins)} per bin): ` +
        `median ${ms(publishMedian)} (min ${ms(Math.min(...large.publishTimes))}, max ${ms(Math.max(...large.publishTimes))}; ` +
        `${options.runs} runs after ${options.warmup} warmup); into ${small.count.toLocaleString('en')}: median ${ms(median(small.publishTimes))}`,
      `metadata a client fetches to see the new target (cairn Updater: refresh, getTargetInfo, downloadTarget; bytes counted at the mirror):`,
      `  targets   client      root+ts  snapshot   targets       bin     total`,
      row(large, 'up to date', large.upToDate),
      row(large, 'cold', large.cold),
      row(small, 'up to date', small.upToDate),
      row(small, 'cold', small.cold),
      `  (root+ts: the 404 for the next root plus timestamp; the cold client starts from 1.root.json, ${kb(large.rootLength)}, ` +
        `given to it out of band)`,
      `${large.count / small.count}x the targets: an up-to-date client fetches ${growth.toFixed(2)}x the bytes; everything but the bin ` +
        `${kb(fixed(small.upToDate))} -> ${kb(fixed(large.upToDate))}, the bin ${kb(small.upToDate.bins)} -> ${kb(large.upToDate.bins)} ` +
        `(its entries ${Math.round(small.count / bins)} -> ${Math.round(large.count / bins)})`,
    ],
    targets: [
      {
        target: `add + publish one target into ${large.count.toLocaleString('en')} targets well under a second`,
        met: publishMedian < 1000,
        figure: ms(publishMedian),
      },
    ],
  };
}
