// bench/serve-vs-nginx.ts: `cairn serve` (src/mirror) against nginx from Debian's packages
// serving the same tree, both on 127.0.0.1 in the same run, loaded by wrk: requests per second
// and mean / p99 latency for timestamp.json (the file every client polls: the mirror's hot path)
// under 64 connections, and the throughput of a 100 MB target under 4. The tree is a repository
// published with cairn's own library (bench/repo-fixture.ts), the large target added to it.
// cairn runs as the real `cairn serve` (dist/, built if stale); nginx with Debian's defaults that
// matter here (worker_processes auto, sendfile, tcp_nopush, keep-alive) and no access log, as
// `cairn serve` without --log. Runs are interleaved (nginx, cairn, nginx, cairn)
// so that the shared machine's noise falls on both; figures are medians of 3 runs.
// Targets (the issue): timestamp.json at least 0.5x nginx's requests per second, the large
// target at least 0.8x nginx's throughput.
//
// Both use the same number of processes: nginx's worker_processes auto (Debian's default: one
// per core) against `cairn serve --workers` with one per core. CAIRN_BENCH_NGINX_WORKERS=N sets
// nginx's count, CAIRN_BENCH_SERVE_WORKERS=N cairn's (default: nginx's).
// CAIRN_BENCH_BIN=PATH measures another bin/cairn.js (for example a checkout of an earlier
// version, for before/after figures) instead of this one.
//
// Needs nginx and wrk (`sudo apt-get install nginx wrk`); without them it prints a skip line.
// The machine has 2 cores shared by the servers and wrk: wrk runs with -t2 for the small file and
// -t1 for the large one, nothing is pinned.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, mkdir, rm, writeFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { addTargets, publish } from '../src/repo/index.js';
import { CAIRN_BIN } from '../test/fixtures/cairn-process.js';
import { freePort } from '../test/fixtures/free-ports.js';
import { buildRepo } from './repo-fixture.js';
import { median, type BenchResult } from './stats.js';

const SMALL_TARGET = 0.5;
const LARGE_TARGET = 0.8;

export interface ServeBenchSizes {
  /** Seconds per wrk run. */
  seconds: number;
  runs: number;
  largeBytes: number;
}

export const SERVE_FULL: ServeBenchSizes = { seconds: 10, runs: 3, largeBytes: 100_000_000 };
export const SERVE_QUICK: ServeBenchSizes = { seconds: 3, runs: 3, largeBytes: 20_000_000 };

/** One wrk run's figures. */
interface WrkFigures {
  requestsPerSecond: number;
  /** Bytes per second (wrk's Transfer/sec, in its 1024-based units). */
  bytesPerSecond: number;
  meanLatencyMs: number;
  p99LatencyMs: number;
  /** Non-2xx answers and socket errors (connect, read, write, timeout). */
  errors: number;
}

/** The executable's path, or undefined (nginx lives in /usr/sbin, which a non-root PATH may lack). */
function findTool(tool: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${tool} || { test -x /usr/sbin/${tool} && echo /usr/sbin/${tool}; }`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/** Waits until `url` answers 200 (at most `timeoutMs`). */
async function waitUntilServing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then((r) => r.arrayBuffer().then(() => r.status === 200), () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a server process: SIGTERM, then SIGKILL if it has not exited within 5 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A process count from the environment, or undefined. */
function countFromEnvironment(name: string): number | undefined {
  const n = process.env[name];
  return n !== undefined && /^[1-9]\d?$/.test(n) ? Number(n) : undefined;
}

/** nginx's worker_processes: Debian's `auto` unless CAIRN_BENCH_NGINX_WORKERS names a count. */
function nginxWorkers(): string {
  return String(countFromEnvironment('CAIRN_BENCH_NGINX_WORKERS') ?? 'auto');
}

/** `cairn serve --workers`: CAIRN_BENCH_SERVE_WORKERS, else as many as nginx has (auto: one per core). */
function serveWorkers(): number {
  return countFromEnvironment('CAIRN_BENCH_SERVE_WORKERS') ?? countFromEnvironment('CAIRN_BENCH_NGINX_WORKERS') ?? availableParallelism();
}

function nginxConfig(dir: string, root: string, port: number): string {
  return `# written by bench/serve-vs-nginx.ts: Debian's nginx.conf defaults that matter for static files, no access log
worker_processes ${nginxWorkers()};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  types { application/json json; }
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`;
}

async function startNginx(nginx: string, dir: string, root: string): Promise<{ url: string; process: ChildProcess }> {
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(dir, root, port));
  const child = spawn(nginx, ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { url: `http://127.0.0.1:${port}`, process: child };
}

/** `cairn serve --json --port 0 [--workers N] ROOT`; `url` resolves from its `listening` event. */
function startCairnServe(bin: string, root: string, workers: number): { url: Promise<string>; process: ChildProcess } {
  const args = [bin, '--json', 'serve', '--port', '0', ...(workers > 1 ? ['--workers', String(workers)] : []), root];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('cairn serve did not say it was listening within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`cairn serve exited with ${code} before listening`)));
    lines.on('line', (line) => {
      let event: { type?: unknown; url?: unknown };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.type === 'listening' && typeof event.url === 'string') {
        clearTimeout(timer);
        resolve(event.url);
      }
    });
  });
  return { url, process: child };
}

const LATENCY_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

function latencyMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  if (m === null) throw new Error(`wrk printed a latency I cannot read: ${text}`);
  return Number(m[1]) * LATENCY_UNITS[m[2]!]!;
}

/** Reads wrk's report (run with --latency). */
export function parseWrkReport(report: string): WrkFigures {
  const field = (re: RegExp): string | undefined => re.exec(report)?.[1];
  const rps = field(/Requests\/sec:\s+([\d.]+)/);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(report);
  if (rps === undefined || transfer === null) throw new Error(`wrk printed no figures:\n${report}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const non2xx = field(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requestsPerSecond: Number(rps),
    bytesPerSecond: Number(transfer[1]) * SIZE_UNITS[transfer[2]!]!,
    meanLatencyMs: latencyMs(field(/Latency\s+(\S+)/)),
    p99LatencyMs: latencyMs(field(/\n\s+99%\s+(\S+)/)),
    errors: (socketErrors === null ? 0 : socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0)) + Number(non2xx ?? 0),
  };
}

/** One wrk run, killed if it overruns its duration by 30 s. */
function runWrk(wrk: string, args: string[], seconds: number): Promise<WrkFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, [...args, '--latency', '-d', `${seconds}s`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`wrk ${args.join(' ')} exited with ${code}:\n${output}`));
      else {
        try {
          resolve(parseWrkReport(output));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}

/** A published repository with a large target: returns the served root and the two URL paths. */
async function buildServedTree(dir: string, largeBytes: number): Promise<{ root: string; small: string; large: string; smallBytes: number }> {
  const repo = await buildRepo(dir, 16, { kind: 'hash-bins', bins: 4 });
  // Random content in 1 MiB blocks: quick to write, and nothing compresses or dedups it.
  const source = join(dir, 'large-target.bin');
  const block = randomBytes(1 << 20);
  const handle = await open(source, 'w');
  for (let written = 0; written < largeBytes; written += block.length) await handle.write(block, 0, Math.min(block.length, largeBytes - written));
  await handle.close();
  const { added } = await addTargets(dir, [{ file: source, path: 'apps/large-target.bin' }], { signers: [repo.keys.bins] });
  await publish(dir, { signers: [repo.keys.snapshot, repo.keys.timestamp] });
  await rm(source);
  const root = join(dir, 'public');
  const large = `/targets/apps/${added[0]!.sha256}.large-target.bin`;
  if ((await stat(join(root, large))).size !== largeBytes) throw new Error(`the published large target ${large} is not ${largeBytes} bytes`);
  const smallBytes = (await stat(join(root, 'metadata', 'timestamp.json'))).size;
  return { root, small: '/metadata/timestamp.json', large, smallBytes };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export async function benchServeVsNginx(work: string, sizes: ServeBenchSizes): Promise<BenchResult> {
  const name = 'serve-vs-nginx: cairn serve against nginx on the same tree, loaded by wrk';
  const nginx = findTool('nginx');
  const wrk = findTool('wrk');
  if (nginx === undefined || wrk === undefined) {
    const missing = [nginx === undefined ? 'nginx' : undefined, wrk === undefined ? 'wrk' : undefined].filter((t) => t !== undefined).join(' and ');
    return { name, lines: [`skipped: ${missing} not installed; install with: sudo apt-get install nginx wrk`], targets: [] };
  }
  const bin = process.env.CAIRN_BENCH_BIN ?? CAIRN_BIN;
  const dir = join(work, 'serve-vs-nginx');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const tree = await buildServedTree(join(dir, 'repo'), sizes.largeBytes);
  const servers: Array<{ process: ChildProcess }> = [];
  try {
    const ngx = await startNginx(nginx, join(dir, 'nginx'), tree.root);
    servers.push(ngx);
    const cairnProcess = startCairnServe(bin, tree.root, serveWorkers());
    servers.push(cairnProcess);
    const cairn = { url: await cairnProcess.url };
    await Promise.all([waitUntilServing(ngx.url + tree.small), waitUntilServing(cairn.url + tree.small)]);

    const smallArgs = ['-t2', '-c64'];
    const largeArgs = ['-t1', '-c4', '--timeout', '60s'];
    const contenders = [
      { label: 'nginx', url: ngx.url, small: [] as WrkFigures[], large: [] as WrkFigures[] },
      { label: 'cairn serve', url: cairn.url, small: [] as WrkFigures[], large: [] as WrkFigures[] },
    ];
    // Warm-up: page cache, JIT, nginx's workers.
    for (const c of contenders) {
      await runWrk(wrk, [...smallArgs, c.url + tree.small], 1);
      await runWrk(wrk, [...largeArgs, c.url + tree.large], 1);
    }
    for (let run = 0; run < sizes.runs; run++) {
      for (const c of contenders) c.small.push(await runWrk(wrk, [...smallArgs, c.url + tree.small], sizes.seconds));
      for (const c of contenders) c.large.push(await runWrk(wrk, [...largeArgs, c.url + tree.large], sizes.seconds));
    }

    const summary = contenders.map((c) => ({
      label: c.label,
      rps: median(c.small.map((f) => f.requestsPerSecond)),
      mean: median(c.small.map((f) => f.meanLatencyMs)),
      p99: median(c.small.map((f) => f.p99LatencyMs)),
      throughput: median(c.large.map((f) => f.bytesPerSecond)),
      errors: [...c.small, ...c.large].reduce((sum, f) => sum + f.errors, 0),
      runs: c.small.map((f) => fmt(f.requestsPerSecond)).join(', '),
      largeRuns: c.large.map((f) => fmt(f.bytesPerSecond / 1024 ** 2)).join(', '),
    }));
    const [base, ours] = summary as [typeof summary[0], typeof summary[0]];
    const smallRatio = ours.rps / base.rps;
    const largeRatio = ours.throughput / base.throughput;
    const mib = (n: number): string => `${fmt(n / 1024 ** 2)} MiB/s`;
    const lines = [
      `timestamp.json (${tree.smallBytes} bytes): wrk ${smallArgs.join(' ')} -d${sizes.seconds}s; ${fmt(sizes.largeBytes / 1e6)} MB target: wrk ${largeArgs.join(' ')} -d${sizes.seconds}s`,
      `${sizes.runs} interleaved runs each, medians; nginx worker_processes ${nginxWorkers()}, sendfile on, no access log; cairn serve --workers ${serveWorkers()}; both on 127.0.0.1 with wrk on a shared 2-core machine${bin === CAIRN_BIN ? '' : ` (cairn: ${bin})`}`,
      ...summary.map((s) => `timestamp.json  ${s.label.padEnd(12)} ${fmt(s.rps).padStart(7)} req/s  mean ${fmt(s.mean, 2).padStart(6)} ms  p99 ${fmt(s.p99, 2).padStart(7)} ms  (runs: ${s.runs} req/s)`),
      `timestamp.json  cairn/nginx  ${smallRatio.toFixed(2)}x requests per second, ${(ours.mean / base.mean).toFixed(2)}x mean latency`,
      ...summary.map((s) => `large target    ${s.label.padEnd(12)} ${mib(s.throughput).padStart(12)}  (runs: ${s.largeRuns} MiB/s)`),
      `large target    cairn/nginx  ${largeRatio.toFixed(2)}x throughput`,
      ...summary.filter((s) => s.errors > 0).map((s) => `WARNING: ${s.label} had ${s.errors} errors (non-2xx answers or socket errors) over its runs`),
    ];
    return {
      name,
      lines,
      targets: [
        { target: `cairn serve timestamp.json at least ${SMALL_TARGET}x nginx's requests per second (64 connections)`, met: smallRatio >= SMALL_TARGET && ours.errors === 0, figure: `${fmt(ours.rps)} vs ${fmt(base.rps)} req/s, ${smallRatio.toFixed(2)}x` },
        { target: `cairn serve large-target throughput at least ${LARGE_TARGET}x nginx's`, met: largeRatio >= LARGE_TARGET && ours.errors === 0, figure: `${mib(ours.throughput)} vs ${mib(base.throughput)}, ${largeRatio.toFixed(2)}x` },
      ],
    };
  } finally {
    for (const s of servers) await stopProcess(s.process);
    await rm(dir, { recursive: true, force: true });
  }
}
