// bench/upstream-import.ts: `cairn import debian` against the same downloads made by curl, in the
// same run (the upstream-imports issue: "Import of a source whose index is already cached and of
// one that is not, against apt-get source --download-only of the same package in the same run
// (where the machine has deb-src configured, or the same downloads with curl). Target: no slower
// than apt for the same bytes"). This machine's apt has no deb-src entries, so the baseline is
// curl: one curl process fetching, over kept-alive connections, exactly the URLs the import
// fetched (recorded by a fetcher that wraps cairn's), into files. Two cases, interleaved:
//   cold  an empty state: every release file, the source indexes (13 MB for bookworm's main), the
//         .dsc, the tarballs and the signature
//   warm  the indexes cached by hash: the release files and the package's own files
// Both sides from the archive apt names (real network: noisy; medians of RUNS). Imports
// GNU hello 2.10-3 in process (the import's own work, not Node's start-up).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BoundedFetcher, type Fetcher } from '../src/io/index.js';
import { importDebianSource } from '../src/upstream/index.js';
import { median, ms, type BenchResult } from './stats.js';

/** A fetcher that records each URL it is asked for. */
function recording(urls: string[]): Fetcher {
  const inner = new BoundedFetcher();
  return { stream: (url, maxBytes) => (urls.push(url), inner.stream(url, maxBytes)) };
}

function curlAll(urls: readonly string[], dir: string): number {
  const args = urls.flatMap((u, i) => ['-o', join(dir, `f${i}`), u]);
  const t0 = performance.now();
  const r = spawnSync('curl', ['--fail', '--silent', '--show-error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`curl failed: ${r.stderr.toString().trim()}`);
  return performance.now() - t0;
}

export async function benchUpstreamImport(work: string, quick: boolean): Promise<BenchResult> {
  const name = 'upstream-import: cairn import debian hello against curl of the same downloads';
  if (spawnSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' }).status !== 0) return { name, lines: ['skipped: curl not found; install with: sudo apt-get install curl'], targets: [] };
  const runs = quick ? 1 : 3;
  const figures = { cold: [] as number[], warm: [] as number[], curlCold: [] as number[], curlWarm: [] as number[] };
  let bytes = { cold: 0, warm: 0 };
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(work, 'upstream-import-'));
    try {
      const request = { source: 'hello', version: '2.10-3', seenReleasesFile: join(dir, 'seen.json'), cacheDir: join(dir, 'cache') };
      const coldUrls: string[] = [];
      let t0 = performance.now();
      const cold = await importDebianSource({ ...request, out: join(dir, 'cold'), fetcher: recording(coldUrls) });
      figures.cold.push(performance.now() - t0);
      const warmUrls: string[] = [];
      t0 = performance.now();
      await importDebianSource({ ...request, out: join(dir, 'warm'), fetcher: recording(warmUrls) });
      figures.warm.push(performance.now() - t0);
      figures.curlCold.push(curlAll(coldUrls, await mkdtemp(join(dir, 'curl-cold-'))));
      figures.curlWarm.push(curlAll(warmUrls, await mkdtemp(join(dir, 'curl-warm-'))));
      const p = cold.provenance;
      bytes = { cold: p.release.size + p.index.size + p.dsc.size + p.upstream.size + p.debianTarball.size, warm: p.release.size + p.dsc.size + p.upstream.size + p.debianTarball.size };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const ratio = { cold: median(figures.cold) / median(figures.curlCold), warm: median(figures.warm) / median(figures.curlWarm) };
  return {
    name,
    lines: [
      `GNU hello 2.10-3 from the archive apt names, medians of ${runs} (network: noisy)`,
      `  cold (indexes fetched, about ${(bytes.cold / 1e6).toFixed(1)} MB of the chosen suite alone): cairn ${ms(median(figures.cold))}, curl of the same URLs ${ms(median(figures.curlCold))}: ${ratio.cold.toFixed(2)}x`,
      `  warm (indexes cached): cairn ${ms(median(figures.warm))}, curl of the same URLs ${ms(median(figures.curlWarm))}: ${ratio.warm.toFixed(2)}x`,
    ],
    targets: [
      { target: 'import with its index not cached no slower than curl of the same downloads', met: ratio.cold <= 1, figure: `${ratio.cold.toFixed(2)}x` },
      { target: 'import with its index cached no slower than curl of the same downloads', met: ratio.warm <= 1, figure: `${ratio.warm.toFixed(2)}x` },
    ],
  };
}
