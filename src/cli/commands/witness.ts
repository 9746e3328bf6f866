// cli/commands/witness.ts: `cairn witness`: run a witness of the cothority (docs/design.md "Roles",
// "What a witness checks before it co-signs a block"; docs/protocol.md section 8; docs/witness.md).
// `init` creates the witness's directory and prints its roster entry; `serve` runs the HTTP API
// until SIGINT or SIGTERM, printing one line per decision.
import type { Command } from 'commander';
import { describeDecision, initWitness, startWitness, type WitnessDecision } from '../../witness/index.js';
import { portNumber, positiveInt } from '../options.js';
import type { CliContext } from './types.js';

export function register(program: Command, context: CliContext): void {
  const witness = program.command('witness').description('run a witness: check proposed releases against the policy and co-sign them');

  witness.command('init').description('create a witness: an Ed25519 key (0600) and its configuration; prints its roster entry')
    .requiredOption('--dir <dir>', 'the witness\'s directory')
    .requiredOption('--name <name>', 'its name in rosters ([A-Za-z0-9._-], up to 64)')
    .requiredOption('--address <url>', 'the URL leaders reach it at, e.g. http://127.0.0.1:7001')
    .option('--clock-skew <seconds>', 'largest distance between a block\'s time and this clock', positiveInt('--clock-skew'), 300)
    .action(async (opts: { dir: string; name: string; address: string; clockSkew: number }) => {
      const out = context.output();
      const { entry } = await initWitness(opts.dir, { name: opts.name, address: opts.address, clockSkewSeconds: opts.clockSkew });
      // The roster entry is JSON either way: it is what the publisher passes on.
      out.result(entry, JSON.stringify(entry, null, 2));
    });

  witness.command('serve').description('serve the witness HTTP API (GET /v1/info, POST /v1/genesis, /v1/commit, /v1/respond)')
    .requiredOption('--dir <dir>', 'the witness\'s directory (cairn witness init)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (default: the port of the configured address)', portNumber('--port'))
    .action(async (opts: { dir: string; host: string; port?: number }) => {
      const out = context.output();
      // One line per decision: `TIME NAME REQUEST: accepted ...` or `... refused CODE: message`; with --json, JSON lines.
      const stamp = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const onDecision = (d: WitnessDecision, name: string): void => out.event('decision', { witness: name, ...d }, `${stamp()} ${name} ${describeDecision(d)}`);
      const running = await startWitness(opts.dir, { host: opts.host, ...(opts.port === undefined ? {} : { port: opts.port }), onDecision });
      const { config, info } = running;
      out.event('listening', { witness: config.name, url: running.url, key: info.key, chain: info.chain, head: info.head },
        `witness ${config.name} (${info.key.slice(0, 12)}) listening at ${running.url}; ${info.chain ? `follows chain ${info.chain.slice(0, 12)}, head ${info.head?.index}` : 'follows no chain yet'}`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out.event('stopping', { witness: config.name }, `${stamp()} ${config.name} stopping: finishing requests in flight`, 'progress');
          void running.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
