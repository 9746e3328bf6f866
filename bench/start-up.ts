// bench/start-up.ts: how long a `cairn` process takes, from spawn to exit, for what package
// managers and the TUF conformance harness run many times (docs/cli.md): `cairn --help`,
// `cairn --version`, and `cairn tuf ... refresh` of an up-to-date witnessed client over loopback
// HTTP. The repository and its release log (test/fixtures/witnessed-repository.ts: real
// signatures, real co-signed forward links and head statement) are served by cairn's static
// mirror in its own process (bench/mirror-process.ts); the client is initialized with a log
// anchor and refreshed once, then every timed refresh makes its real requests (timestamp, the
// next root, the log head) and checks them. Baseline: `node -e 0`, spawned the same way in the
// same run, the runs of all four interleaved. Targets: `--help` within 1.5x of bare Node, the
// refresh within 2x.
//
// CAIRN_BENCH_BIN=PATH times another bin/cairn.js (for example a checkout of an earlier version)
// instead of this one; this one is built first if src/ changed (scripts/build.mjs).
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CAIRN_BIN } from '../test/fixtures/cairn-process.js';
import { WitnessedRepository } from '../test/fixtures/witnessed-repository.js';
import { startMirrorProcess } from './mirror-process.js';
import { median, ms, type BenchResult } from './stats.js';

const HELP_TARGET = 1.5;
const REFRESH_TARGET = 2;

/** Runs one process to its exit and returns the wall-clock time in ms; a failure is an error unless `mayFail`. */
function timeProcess(args: string[], mayFail = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const elapsed = performance.now() - t0;
      if (code === 0 || mayFail) resolve(elapsed);
      else reject(new Error(`node ${args.join(' ')} exited with ${code}: ${output}`));
    });
  });
}

export async function benchStartUp(work: string, quick: boolean): Promise<BenchResult> {
  const bin = process.env.CAIRN_BENCH_BIN ?? CAIRN_BIN;
  const root = join(work, 'start-up');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const repo = await WitnessedRepository.create({ prepare: (sim) => sim.addTarget('apps/tool', Buffer.alloc(4096, 1)) });
  repo.sim.release('targets');
  await repo.witness();
  await repo.sim.writeTo(join(root, 'public'));
  await writeFile(join(root, 'root.json'), repo.sim.rootHistory.get(1)!);
  const mirror = await startMirrorProcess(join(root, 'public'));
  try {
    const meta = join(root, 'client');
    const tuf = [bin, 'tuf', '--metadata-dir', meta, '--metadata-url', `${mirror.url}/metadata/`];
    await timeProcess([...tuf.slice(0, 4), 'init', join(root, 'root.json'), '--log-anchor', repo.genesisHash]);
    await timeProcess([...tuf, 'refresh']); // catches up from genesis: from here on the client is up to date
    await mirror.reset();

    const commands = [
      { label: 'node -e 0', args: ['-e', '0'], times: [] as number[] },
      { label: 'cairn --help', args: [bin, '--help'], times: [] as number[] },
      // An earlier cairn (CAIRN_BENCH_BIN) may not know --version: it then times the usage error.
      { label: 'cairn --version', args: [bin, '--version'], times: [] as number[], mayFail: bin !== CAIRN_BIN },
      { label: 'cairn tuf refresh (witnessed, up to date)', args: [...tuf, 'refresh'], times: [] as number[] },
    ];
    const runs = quick ? 5 : 15;
    for (const c of commands) await timeProcess(c.args, c.mayFail); // warm-up: file cache
    await mirror.reset();
    for (let i = 0; i < runs; i++) {
      for (const c of commands) c.times.push(await timeProcess(c.args, c.mayFail));
    }
    const traffic = await mirror.traffic();

    const [node, help, , refresh] = commands.map((c) => median(c.times)) as [number, number, number, number];
    const ratio = (v: number): string => `${(v / node).toFixed(2)}x node`;
    const lines = [
      `${runs} interleaved runs of each, spawn to exit, medians${bin === CAIRN_BIN ? '' : ` (${bin})`}:`,
      ...commands.map((c) => {
        const m = median(c.times);
        return `${c.label.padEnd(42)} ${ms(m).padStart(8)}  ${c === commands[0] ? 'baseline' : ratio(m)}  (min ${ms(Math.min(...c.times))}, max ${ms(Math.max(...c.times))})`;
      }),
      `each refresh: ${traffic.requests / runs} requests to the mirror, ${Math.round(traffic.bytes / runs)} bytes (${[...new Set(traffic.log.map((r) => `${r.path} ${r.status}`))].join(', ')})`,
    ];
    return {
      name: 'start-up: cairn --help, --version and an up-to-date witnessed refresh against node -e 0',
      lines,
      targets: [
        { target: `cairn --help within ${HELP_TARGET}x of node -e 0`, met: help <= HELP_TARGET * node, figure: `${ms(help)} vs ${ms(node)}, ${ratio(help)}` },
        { target: `cairn tuf refresh (witnessed, up to date, loopback HTTP) within ${REFRESH_TARGET}x of node -e 0`, met: refresh <= REFRESH_TARGET * node, figure: `${ms(refresh)} vs ${ms(node)}, ${ratio(refresh)}` },
      ],
    };
  } finally {
    await mirror.close();
    await rm(root, { recursive: true, force: true });
  }
}
