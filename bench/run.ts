// bench/run.ts: `npm run bench`, every performance figure with its target, each against a
// baseline measured in the same run: a cold TUF client against tuf-js (tuf-refresh), publishing
// one target into 100,000 (publish-large), downloading and hashing 1 GiB against sha256sum
// (hash-download, against `curl -o && sha256sum && sync` from the same mirror), collective-signing latency and verification (cosi), co-signing with witnesses
// as separate processes over HTTP (cosi-processes: 7, 16, 32 witnesses; quick: 7 and 16), and
// skipchain catch-up against the linear walk (catch-up), how fast `cairn` starts and refreshes
// an up-to-date client against bare Node (start-up), and `cairn serve` against nginx under wrk
// (serve-vs-nginx; skipped without nginx and wrk), the package manager installing a 100 MB
// package and 1,000 small ones against sha256sum + GNU tar + sync, rollback and generation switch
// (store-install), and its update check on a witnessed repository of 100,000 packages at several
// hash-bin counts (update-check; quick: 10,000 packages), and what `cairn run` adds to starting an
// app's VM by hand, in time and memory (app-run; skipped without QEMU), and the costs of transparency
// (transparency: tiles of 100,000 blocks, a monitor's walk over every block). Runs them in sequence, prints each
// result, then a summary.
//
//   npm run bench                        everything (well over an hour on 2 cores: update-check builds
//                                        repositories of 100,000 packages)
//   npm run bench -- --quick             smaller sizes, a smoke run of under a minute
//   npm run bench -- --only tuf-refresh  one benchmark (repeatable)
//
// Scratch files live in bench/.work/ (git-ignored), removed at the end.
import { rm, mkdir } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { benchHashDownload } from './hash-download.js';
import { benchPublishLarge, PUBLISH_LARGE_FULL, PUBLISH_LARGE_QUICK } from './publish-large.js';
import { benchTufRefresh, TUF_REFRESH_FULL, TUF_REFRESH_QUICK } from './tuf-refresh.js';
import { benchCosi } from './cosi.js';
import { benchCosiProcesses } from './cosi-processes.js';
import { benchCatchUp } from './catch-up.js';
import { benchVerifiedRelease } from './verified-release.js';
import { benchStartUp } from './start-up.js';
import { benchServeVsNginx, SERVE_FULL, SERVE_QUICK } from './serve-vs-nginx.js';
import { benchStoreInstall, STORE_INSTALL_FULL, STORE_INSTALL_QUICK } from './store-install.js';
import { benchUpdateCheck, UPDATE_CHECK_FULL, UPDATE_CHECK_QUICK } from './update-check.js';
import { benchAppRun } from './app-run.js';
import { benchUpstreamImport } from './upstream-import.js';
import { benchTransparency } from './transparency.js';
import type { BenchResult } from './stats.js';

interface Benchmark {
  name: string;
  run(work: string, quick: boolean): Promise<BenchResult | BenchResult[]>;
}

const BENCHMARKS: readonly Benchmark[] = [
  { name: 'tuf-refresh', run: (work, quick) => benchTufRefresh(work, quick ? TUF_REFRESH_QUICK : TUF_REFRESH_FULL) },
  { name: 'publish-large', run: (work, quick) => benchPublishLarge(work, quick ? PUBLISH_LARGE_QUICK : PUBLISH_LARGE_FULL) },
  { name: 'hash-download', run: (work, quick) => benchHashDownload(work, quick ? 64 << 20 : 1 << 30, 3) },
  { name: 'cosi', run: (_work, quick) => benchCosi(quick) },
  { name: 'cosi-processes', run: (_work, quick) => benchCosiProcesses(quick) },
  { name: 'catch-up', run: (_work, quick) => benchCatchUp(quick) },
  { name: 'verified-release', run: (work, quick) => benchVerifiedRelease(work, quick) },
  { name: 'start-up', run: (work, quick) => benchStartUp(work, quick) },
  { name: 'serve-vs-nginx', run: (work, quick) => benchServeVsNginx(work, quick ? SERVE_QUICK : SERVE_FULL) },
  { name: 'store-install', run: (work, quick) => benchStoreInstall(work, quick ? STORE_INSTALL_QUICK : STORE_INSTALL_FULL) },
  { name: 'update-check', run: (work, quick) => benchUpdateCheck(work, quick ? UPDATE_CHECK_QUICK : UPDATE_CHECK_FULL) },
  { name: 'app-run', run: (work, quick) => benchAppRun(work, quick) },
  { name: 'upstream-import', run: (work, quick) => benchUpstreamImport(work, quick) },
  { name: 'transparency', run: (work, quick) => benchTransparency(work, quick) },
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string', multiple: true }, quick: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(`usage: npm run bench -- [--quick] [--only NAME]...\nbenchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return 0;
  }
  const only = values.only ?? [];
  const unknown = only.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return 2;
  }
  const selected = BENCHMARKS.filter((b) => only.length === 0 || only.includes(b.name));
  const quick = values.quick ?? false;
  const work = fileURLToPath(new URL('./.work/', import.meta.url));
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  console.log(`cairn benchmarks${quick ? ' (--quick: smaller sizes, figures are not the issue targets)' : ''}`);
  console.log(`node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);
  const started = performance.now();
  const results: BenchResult[] = [];
  const failures: string[] = [];
  try {
    for (const bench of selected) {
      console.log(`\n== ${bench.name}`);
      const t0 = performance.now();
      try {
        const produced = await bench.run(work, quick);
        for (const result of Array.isArray(produced) ? produced : [produced]) {
          results.push(result);
          console.log(result.name);
          for (const line of result.lines) console.log(`  ${line}`);
        }
        console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      } catch (e) {
        failures.push(bench.name);
        console.log(`  FAILED: ${(e as Error).stack ?? String(e)}`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  console.log(`\n== summary (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  for (const r of results) {
    for (const t of r.targets) console.log(`  ${t.met ? 'met    ' : 'NOT MET'}  ${t.target}: ${t.figure}`);
  }
  for (const name of failures) console.log(`  FAILED   ${name}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
