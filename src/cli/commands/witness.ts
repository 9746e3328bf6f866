// cli/commands/witness.ts: `cairn witness`: run a witness of the cothority (docs/design.md "Roles",
// "What a witness checks before it co-signs a block"; docs/protocol.md section 8; docs/witness.md).
// `init` creates the witness's directory for the one chain its operator names (docs/witness.md
// "The chain a witness serves") and prints its roster entry; `serve` runs the HTTP API until
// SIGINT or SIGTERM, printing one line per decision.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors/index.js';
import { describeKeyFile } from '../../repo/index.js';
import { describeDecision, initWitness, startWitness, type ChainPin, type WitnessDecision } from '../../witness/index.js';
import { collect, portNumber, positiveInt } from '../options.js';
import type { CliContext } from './types.js';

export function register(program: Command, context: CliContext): void {
  const witness = program.command('witness').description('run a witness: check proposed releases against the policy and co-sign them');

  witness.command('init').description('create a witness: an Ed25519 key (0600) and its configuration; prints its roster entry')
    .requiredOption('--dir <dir>', 'the witness\'s directory')
    .requiredOption('--name <name>', 'its name in rosters ([A-Za-z0-9._-], up to 64)')
    .requiredOption('--address <url>', 'the URL leaders reach it at, e.g. http://127.0.0.1:7001')
    .option('--chain <hash>', 'the genesis hash of the one chain it serves (a witness joining a running log)')
    .option('--root-key <file>', 'a root key (public .pub.json or private key file) of the log it serves; the genesis roster must be authorized by them (repeatable)', collect, [])
    .option('--root-threshold <n>', 'how many of the --root-key keys must authorize the genesis roster (default: all)', positiveInt('--root-threshold'))
    .option('--clock-skew <seconds>', 'largest distance between a block\'s time and this clock', positiveInt('--clock-skew'), 300)
    .option('--apt-dir <dir>', 'imported Debian sources: apt\'s configuration with the archive keyrings and this witness\'s own mirrors (default /etc/apt)')
    .option('--origin <name>', 'imported Debian sources: the signed Origin their archive must have (default Debian)')
    .option('--npm-registry <url>', 'imported npm packages: the registry they must come from (default the one npm is configured with)')
    .action(async (opts: { dir: string; name: string; address: string; chain?: string; rootKey: string[]; rootThreshold?: number; clockSkew: number; aptDir?: string; origin?: string; npmRegistry?: string }) => {
      const out = context.output();
      const upstream = {
        ...(opts.aptDir === undefined ? {} : { aptDir: resolve(opts.aptDir) }), ...(opts.origin === undefined ? {} : { origin: opts.origin }),
        ...(opts.npmRegistry === undefined ? {} : { npmRegistry: opts.npmRegistry }),
      };
      const { entry } = await initWitness(opts.dir, { name: opts.name, address: opts.address, chain: await chainPin(opts), clockSkewSeconds: opts.clockSkew, upstream });
      // The roster entry is JSON either way: it is what the publisher passes on.
      out.result(entry, JSON.stringify(entry, null, 2));
    });

  /** The chain the operator names: exactly one of --chain and --root-key. */
  async function chainPin(opts: { chain?: string; rootKey: string[]; rootThreshold?: number }): Promise<ChainPin> {
    const hint = 'pass --chain GENESIS_HASH (cairn log status prints it) to join a running log, or --root-key FILE... (the root keys that authorize the genesis roster) for a log yet to be created';
    if (opts.chain !== undefined && opts.rootKey.length > 0) throw new UsageError('CONFLICT', 'give either --chain or --root-key, not both', { hint });
    if (opts.chain !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(opts.chain)) throw new UsageError('BAD_ARGUMENT', `--chain must be a genesis hash of 64 lowercase hex digits, not "${opts.chain.slice(0, 80)}"`);
      return { genesis: opts.chain };
    }
    if (opts.rootKey.length === 0) throw new UsageError('MISSING_ARGUMENT', 'a witness serves exactly one chain, and none was named', { hint });
    if (opts.rootThreshold !== undefined && opts.rootThreshold > opts.rootKey.length) throw new UsageError('BAD_ARGUMENT', `--root-threshold ${opts.rootThreshold} exceeds the ${opts.rootKey.length} root keys`);
    const rootKeys = await Promise.all(opts.rootKey.map(async (f) => (await describeKeyFile(f)).public));
    return { rootKeys, threshold: opts.rootThreshold ?? rootKeys.length };
  }

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
      // The handlers are in place before 'listening' is printed: whoever waits for that line and
      // then stops the witness must get a clean stop (lock released), not the default kill.
      const stopped = new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out.event('stopping', { witness: config.name }, `${stamp()} ${config.name} stopping: finishing requests in flight`, 'progress');
          void running.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      out.event('listening', { witness: config.name, url: running.url, key: info.key, chain: info.chain, head: info.head },
        `witness ${config.name} (${info.key.slice(0, 12)}) listening at ${running.url}; ${info.chain ? `follows chain ${info.chain.slice(0, 12)}, head ${info.head?.index}` : 'follows no chain yet'}`);
      await stopped;
    });
}
