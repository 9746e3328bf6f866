// cli/commands/serve.ts: `cairn serve DIR`, a read-only HTTP mirror of a repository directory
// in one command (mirror/mirror.ts). Runs until SIGINT or SIGTERM; with --json it prints
// one JSON line per event (listening, each request with --log, with the refusal code of a
// refused one, stopped).
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { startMirror } from '../../mirror/index.js';
import { UsageError } from '../../errors/index.js';
import { portNumber } from '../options.js';
import type { CliContext } from './types.js';

export function register(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('serve a repository directory read-only over HTTP (a mirror)')
    .argument('<dir>', 'directory to serve, e.g. REPO/public')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 picks a free one)', portNumber('--port'), 8080)
    .option('--log', 'print one line per request', false)
    .action(async (dir: string, opts: { host: string; port: number; log: boolean }) => {
      const out = context.output();
      const port = opts.port;
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new UsageError('BAD_ARGUMENT', `${dir} is not a directory`, { hint: 'serve the public/ folder of a repository made with `cairn repo init`' });
      const running = await startMirror({
        root: dir,
        host: opts.host,
        port,
        onRequest: opts.log ? (r) => out.event('request', r, `${r.method} ${r.path} ${r.status} ${r.bytes}${r.refusal === undefined ? '' : ` ${r.refusal}`}`) : undefined,
      });
      out.event('listening', { url: running.url, root: dir }, `serving ${dir} read-only at ${running.url} (Ctrl-C to stop)`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.close().then(() => {
            out.event('stopped', { url: running.url }, `stopped serving ${dir}`, 'progress');
            done();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
