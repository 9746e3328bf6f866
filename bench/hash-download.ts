// bench/hash-download.ts: hashing and download verification of a 1 GiB target (TUF spec 5.7):
// cairn's streamed download with length cap and SHA-256 check over loopback HTTP from a mirror
// process (the file is fsynced before it is renamed into place, as every download is), and cairn's
// hashing alone, against coreutils `sha256sum` of the same file. Target: within 1.3x of it.
import { spawnSync } from 'node:child_process';
import { open, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TargetFile } from '@tufjs/models';
import { hashFile } from '../src/crypto/index.js';
import { startMirrorProcess } from './mirror-process.js';
import { Updater } from '../src/tuf/index.js';
import { median, timeRuns, ms, mbps, type BenchResult } from './stats.js';

export async function benchHashDownload(work: string, sizeBytes = 1 << 30, runs = 3): Promise<BenchResult> {
  const root = join(work, 'hash-download');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'public'), { recursive: true });
  const file = join(root, 'public', 'big.bin');
  // Content does not change SHA-256 speed; a repeated random block is quick to write.
  const block = randomBytes(1 << 20);
  const handle = await open(file, 'w');
  for (let written = 0; written < sizeBytes; written += block.length) await handle.write(block, 0, Math.min(block.length, sizeBytes - written));
  await handle.close();
  const { hashes } = await hashFile(file, ['sha256']);

  const sha256sum = await timeRuns(runs, async () => {
    const r = spawnSync('sha256sum', [file], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.startsWith(hashes.sha256!)) throw new Error(`sha256sum failed: ${r.stderr}`);
  });
  const hashOnly = await timeRuns(runs, () => hashFile(file, ['sha256']));

  // The mirror runs in its own process, as a real one does, so its work is not charged to the client.
  const server = await startMirrorProcess(join(root, 'public'));
  const info = new TargetFile({ path: 'big.bin', length: sizeBytes, hashes: { sha256: hashes.sha256! } });
  const updater = new Updater({ metadataDir: join(root, 'meta'), metadataBaseUrl: `${server.url}/`, targetBaseUrl: `${server.url}/`, targetDir: join(root, 'dl') });
  let download: number[];
  try {
    download = await timeRuns(runs, async () => {
      const path = await updater.downloadTarget(info);
      await rm(path);
    });
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }

  const base = median(sha256sum);
  const dl = median(download);
  const h = median(hashOnly);
  const mib = sizeBytes / (1 << 20);
  return {
    name: `hashing and download verification of a ${mib} MiB target`,
    lines: [
      `sha256sum (baseline)          median ${ms(base)}  ${mbps(sizeBytes, base)}`,
      `cairn hashFile                median ${ms(h)}  ${mbps(sizeBytes, h)}  ratio ${(h / base).toFixed(2)}x`,
      `cairn download+verify (HTTP)  median ${ms(dl)}  ${mbps(sizeBytes, dl)}  ratio ${(dl / base).toFixed(2)}x`,
    ],
    targets: [{ target: 'download and verification within 1.3x of sha256sum', met: dl / base <= 1.3, figure: `${(dl / base).toFixed(2)}x` }],
  };
}
