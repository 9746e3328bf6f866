// bench/hash-download.ts: verified download of a large target (TUF spec 5.7) against the pipeline
// a careful shell user runs, `curl -o FILE URL && sha256sum FILE && sync FILE`, from the same
// mirror in the same run. The mirror (cairn's own, src/mirror) runs in its own process, as a real
// one does; cairn's side is Updater.downloadTarget: streamed with a length cap, every listed hash
// computed while the bytes arrive, written once to a temporary file, one fsync, the check, the
// rename and the directory fsync. Both sides end with the file durable on disk. The runs of the
// two alternate (curl, cairn, curl, cairn...), so drift in the machine's load hits both alike.
// Target (issue 9): within 1.1x of curl's pipeline. cairn's hashing alone against `sha256sum`
// of the same file is printed too, for information.
//
//   CAIRN_BENCH_DOWNLOAD_MIB=64 npm run bench -- --only hash-download    a quick run on 64 MiB
//
// `sync FILE` (coreutils 8.24+: fsync of that one file) rather than a bare `sync`: a bare sync
// would also flush whatever else the shared machine has dirty, charging the baseline for other
// processes' writes.
import { spawnSync } from 'node:child_process';
import { open, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TargetFile } from '@tufjs/models';
import { hashFile } from '../src/crypto/index.js';
import { startMirrorProcess } from './mirror-process.js';
import { Updater } from '../src/tuf/index.js';
import { runShell } from './shell.js';
import { median, timeRuns, ms, mbps, type BenchResult } from './stats.js';

/** The size override for a quick run, in MiB (CAIRN_BENCH_DOWNLOAD_MIB), else `fallback` bytes. */
function sizeFromEnvironment(fallback: number): number {
  const raw = process.env.CAIRN_BENCH_DOWNLOAD_MIB;
  if (raw === undefined || raw === '') return fallback;
  const mib = Number(raw);
  if (!Number.isSafeInteger(mib) || mib < 1 || mib > 16 * 1024) throw new Error(`CAIRN_BENCH_DOWNLOAD_MIB must be a whole number of MiB from 1 to 16384, not "${raw}"`);
  return mib << 20;
}

/** The baseline: download, hash the file, flush it to disk; then `times` prints the CPU time of those children. */
const CURL_PIPELINE = 'curl --silent --show-error --fail -o "$1" "$2" && sha256sum "$1" && sync "$1" && times';

/** The children's user + system CPU in ms from the output of dash's or bash's `times` (its second line: "0m1.234s 0m0.567s"). */
function childrenCpuMs(timesOutput: string): number {
  const line = timesOutput.trim().split('\n').at(-1) ?? '';
  const parts = [...line.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) throw new Error(`cannot read the CPU time from \`times\`: "${line}"`);
  return parts.reduce((sum, [, min, sec]) => sum + (Number(min) * 60 + Number(sec)) * 1000, 0);
}

export async function benchHashDownload(work: string, sizeBytes = 1 << 30, runs = 3): Promise<BenchResult> {
  sizeBytes = sizeFromEnvironment(sizeBytes);
  const root = join(work, 'hash-download');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'public'), { recursive: true });
  await mkdir(join(root, 'curl'), { recursive: true });
  const file = join(root, 'public', 'big.bin');
  // Content does not change SHA-256 speed; a repeated random block is quick to write.
  const block = randomBytes(1 << 20);
  const handle = await open(file, 'w');
  for (let written = 0; written < sizeBytes; written += block.length) await handle.write(block, 0, Math.min(block.length, sizeBytes - written));
  await handle.sync();
  await handle.close();
  const { hashes } = await hashFile(file, ['sha256']);
  const sha256 = hashes.sha256!;

  const sha256sum = await timeRuns(runs, async () => {
    const r = spawnSync('sha256sum', [file], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.startsWith(sha256)) throw new Error(`sha256sum failed: ${r.stderr}`);
  });
  const hashOnly = await timeRuns(runs, () => hashFile(file, ['sha256']));

  const server = await startMirrorProcess(join(root, 'public'));
  const url = `${server.url}/big.bin`;
  const curlOut = join(root, 'curl', 'big.bin');
  const info = new TargetFile({ path: 'big.bin', length: sizeBytes, hashes: { sha256 } });
  const updater = new Updater({ metadataDir: join(root, 'meta'), metadataBaseUrl: `${server.url}/`, targetBaseUrl: `${server.url}/`, targetDir: join(root, 'dl') });
  const curl: number[] = [];
  const download: number[] = [];
  // CPU time (user + system) of each side: the work done, without the waits for the disk (on a loaded
  // virtual machine it grows too, so it explains a ratio rather than replacing it).
  const curlCpu: number[] = [];
  const downloadCpu: number[] = [];
  const timed = async (into: number[], fn: () => Promise<void>): Promise<void> => {
    const t0 = performance.now();
    await fn();
    into.push(performance.now() - t0);
  };
  try {
    // One unmeasured run of each: the mirror's file in the page cache, connections and code warm.
    for (let i = -1; i < runs; i++) {
      const measured = i >= 0;
      const curlRun = async (): Promise<void> => {
        const out = await runShell(CURL_PIPELINE, [curlOut, url]);
        if (!out.startsWith(sha256)) throw new Error(`curl's pipeline hashed ${out.slice(0, 64)}, expected ${sha256}`);
        if (measured) curlCpu.push(childrenCpuMs(out));
      };
      const cairnRun = async (): Promise<void> => {
        const before = process.cpuUsage();
        await updater.downloadTarget(info);
        const used = process.cpuUsage(before);
        if (measured) downloadCpu.push((used.user + used.system) / 1000);
      };
      if (!measured) {
        await curlRun();
        await cairnRun();
      } else {
        await timed(curl, curlRun);
        await timed(download, cairnRun);
      }
      // Removed outside the timing: the next run starts without the file, on both sides.
      await rm(curlOut, { force: true });
      await rm(join(root, 'dl'), { recursive: true, force: true });
    }
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }

  const base = median(curl);
  const dl = median(download);
  const sum = median(sha256sum);
  const h = median(hashOnly);
  const mib = sizeBytes / (1 << 20);
  const ratio = dl / base;
  const all = (values: number[]): string => values.map((v) => ms(v)).join(', ');
  return {
    name: `verified download of a ${mib} MiB target over loopback HTTP, against curl's pipeline from the same mirror`,
    lines: [
      `curl -o && sha256sum && sync (baseline)  median ${ms(base)}  ${mbps(sizeBytes, base)}  (runs ${all(curl)})`,
      `cairn downloadTarget (verified, durable)  median ${ms(dl)}  ${mbps(sizeBytes, dl)}  ratio ${ratio.toFixed(2)}x  (runs ${all(download)})`,
      `CPU time (user + system), median          curl's pipeline ${ms(median(curlCpu))}, cairn ${ms(median(downloadCpu))}  ratio ${(median(downloadCpu) / median(curlCpu)).toFixed(2)}x (the mirror's not counted)`,
      `sha256sum of the file                     median ${ms(sum)}  ${mbps(sizeBytes, sum)}`,
      `cairn hashFile of the file                median ${ms(h)}  ${mbps(sizeBytes, h)}  ratio ${(h / sum).toFixed(2)}x to sha256sum`,
    ],
    targets: [{ target: "verified download within 1.1x of curl -o && sha256sum && sync", met: ratio <= 1.1, figure: `${ratio.toFixed(2)}x` }],
  };
}
