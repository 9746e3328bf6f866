// cli/commands/serve.ts: `cairn serve DIR`, a read-only HTTP mirror of a repository directory
// in one command (mirror/mirror.ts). Runs until SIGINT or SIGTERM; with --json it prints
// one JSON line per event (listening, each request with --log, with the refusal code of a
// refused one, stopped). With --workers N, N serving processes share the port (node:cluster, as
// nginx's worker_processes): this process starts them, prints `listening` once all listen, and
// stops them on SIGINT or SIGTERM; each keeps its own small-file cache.
import type { Command } from 'commander';
import cluster, { type Worker } from 'node:cluster';
import { stat } from 'node:fs/promises';
import { startMirror, type RunningMirror } from '../../mirror/index.js';
import { CairnError, UsageError } from '../../errors/index.js';
import { portNumber, positiveInt } from '../options.js';
import type { CliContext } from './types.js';

/** More serving processes than this is a typo, not a mirror (each is a Node process). */
const MAX_WORKERS = 64;

type Output = ReturnType<CliContext['output']>;

/** A serving process of --workers N exited before all listened; it printed why, and its exit code is the command's. */
class ServingProcessError extends CairnError<'SERVING_PROCESS_EXITED'> {
  constructor(readonly processExitCode: number) {
    super('SERVING_PROCESS_EXITED', `a serving process exited with code ${processExitCode} before listening (its error is printed above)`);
  }

  get exitCode(): number {
    return this.processExitCode;
  }
}

/** Resolves on the first SIGINT or SIGTERM, after `stop` finished. */
function untilStopped(stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((done) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      void stop().then(done);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The primary of `--workers N`: forks N processes running this same command, which serve. */
async function serveWithWorkers(dir: string, count: number, out: Output): Promise<void> {
  const workers: Worker[] = [];
  let stopping = false;
  const exited = (w: Worker): Promise<void> => (w.isDead() ? Promise.resolve() : new Promise<void>((r) => w.once('exit', () => r())));
  const stopAll = async (): Promise<void> => {
    stopping = true;
    for (const w of workers) if (!w.isDead()) w.process.kill('SIGTERM');
    await Promise.all(workers.map(exited));
  };
  const url = await new Promise<string>((resolve, reject) => {
    let listening = 0;
    for (let i = 0; i < count; i++) {
      const worker = cluster.fork();
      workers.push(worker);
      worker.once('listening', (address: { address: string; port: number }) => {
        if (++listening === count) resolve(`http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`);
      });
      worker.once('exit', (code) => {
        if (stopping) return;
        if (listening < count) {
          // It printed its own error (a port in use, say): the others go too, with its exit code.
          void stopAll().then(() => reject(new ServingProcessError(code === 0 || code === null ? 70 : code)));
        } else {
          out.warn(`a serving process of ${dir} exited with code ${code ?? 'unknown'}; ${workers.filter((w) => !w.isDead()).length} still serve`);
        }
      });
    }
  });
  out.event('listening', { url, root: dir, workers: count, pids: workers.map((w) => w.process.pid) }, `serving ${dir} read-only at ${url} with ${count} processes (Ctrl-C to stop)`);
  await untilStopped(stopAll);
  out.event('stopped', { url }, `stopped serving ${dir}`, 'progress');
}

export function register(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('serve a repository directory read-only over HTTP (a mirror)')
    .argument('<dir>', 'directory to serve, e.g. REPO/public')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 picks a free one)', portNumber('--port'), 8080)
    .option('--log', 'print one line per request', false)
    .option('--workers <n>', `serving processes sharing the port, like nginx's worker_processes (at most ${MAX_WORKERS})`, positiveInt('--workers'), 1)
    .action(async (dir: string, opts: { host: string; port: number; log: boolean; workers: number }) => {
      const out = context.output();
      const port = opts.port;
      if (opts.workers > MAX_WORKERS) throw new UsageError('BAD_ARGUMENT', `--workers must be at most ${MAX_WORKERS}, not ${opts.workers}`, { hint: 'one per CPU core is what nginx does' });
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError('BAD_ARGUMENT', `${dir} is not a directory`, { hint: 'serve the public/ folder of a repository made with `cairn repo init`' });
      if (opts.workers > 1 && cluster.isPrimary) return serveWithWorkers(dir, opts.workers, out);
      let running: RunningMirror;
      try {
        running = await startMirror({
          root: dir,
          host: opts.host,
          port,
          onRequest: opts.log ? (r) => out.event('request', r, `${r.method} ${r.path} ${r.status} ${r.bytes}${r.refusal === undefined ? '' : ` ${r.refusal}`}`) : undefined,
        });
      } catch (e) {
        // A serving process of --workers N: without its channel to the primary it can exit, with this error's code.
        cluster.worker?.disconnect();
        throw e;
      }
      if (cluster.isWorker) {
        // One of --workers N: the primary speaks for all of them.
        await untilStopped(() => running.close());
        cluster.worker?.disconnect();
        return;
      }
      out.event('listening', { url: running.url, root: dir }, `serving ${dir} read-only at ${running.url} (Ctrl-C to stop)`);
      await untilStopped(() => running.close());
      out.event('stopped', { url: running.url }, `stopped serving ${dir}`, 'progress');
    });
}
