// cli/commands/tuf.ts: `cairn tuf`, the TUF client from the command line. Its interface is
// exactly the client-under-test protocol of the TUF conformance suite (CLIENT-CLI.md): init,
// refresh and download, exit 0 on full success and 1 on any failure. It also prints, for
// people, what it checked; --json gives the same as one document.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { Updater, type RefreshReport } from '../../tuf/index.js';
import { UsageError } from '../../errors/index.js';
import { TufError } from '../../tuf/errors.js';
import type { CliContext } from './types.js';

interface TufOptions {
  metadataDir?: string;
  metadataUrl?: string;
  targetName: string[];
  targetBaseUrl?: string;
  targetDir?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError('MISSING_ARGUMENT', `${flag} is required for this command`);
  return value;
}

export function register(program: Command, context: CliContext): void {
  const tuf = program
    .command('tuf')
    .description('TUF client: init a trust anchor, refresh metadata, download verified targets (conformance-suite protocol)')
    .option('--metadata-dir <dir>', 'directory of trusted metadata (plain names: root.json, timestamp.json, ...)')
    .option('--metadata-url <url>', 'base URL of the repository metadata')
    .option('--target-name <path>', 'target path to download (repeatable, in order)', collect, [])
    .option('--target-base-url <url>', 'base URL of the repository targets')
    .option('--target-dir <dir>', 'directory for verified downloads');

  // Conformance protocol: any failure is exit code 1, reported as one line on stderr.
  const run = (fn: (opts: TufOptions) => Promise<void>) => async (): Promise<void> => {
    const out = context.output();
    try {
      await fn(tuf.opts<TufOptions>());
    } catch (e) {
      out.error(e);
      context.setExitCode(1);
    }
  };

  const updaterFor = (opts: TufOptions): Updater =>
    new Updater({
      metadataDir: required(opts.metadataDir, '--metadata-dir'),
      metadataBaseUrl: required(opts.metadataUrl, '--metadata-url'),
      targetBaseUrl: opts.targetBaseUrl,
      targetDir: opts.targetDir,
    });

  const describeRefresh = (r: RefreshReport): string[] => r.steps.map((s) => `  ok  ${s}`);

  tuf
    .command('init')
    .description('store ROOT_FILE as the trusted root (no network)')
    .argument('<root-file>', 'initial trusted root.json')
    .action(
      run(async (opts) => {
        const dir = required(opts.metadataDir, '--metadata-dir');
        // The argument is the last positional of the `init` subcommand.
        const rootFile = tuf.commands.find((c) => c.name() === 'init')!.args[0]!;
        await Updater.initTrustedRoot(dir, await readFile(rootFile));
        context.output().result({ initialized: dir }, `trusted root stored in ${dir}`);
      }),
    );

  tuf
    .command('refresh')
    .description('update trusted metadata following the TUF client workflow')
    .action(
      run(async (opts) => {
        const report = await updaterFor(opts).refresh();
        context.output().result(report, ['refresh: every check passed', ...describeRefresh(report)]);
      }),
    );

  tuf
    .command('download')
    .description('refresh, then download and verify each --target-name in order')
    .action(
      run(async (opts) => {
        if (opts.targetName.length === 0) throw new UsageError('MISSING_ARGUMENT', '--target-name is required for download');
        required(opts.targetDir, '--target-dir');
        const updater = updaterFor(opts);
        const out = context.output();
        const report = await updater.refresh();
        out.info('refresh: every check passed');
        for (const line of describeRefresh(report)) out.info(line);
        const downloaded: Array<{ target: string; path: string; cached: boolean }> = [];
        for (const name of opts.targetName) {
          const info = await updater.getTargetInfo(name);
          if (!info) throw new TufError('UNKNOWN_TARGET', `target ${name} is not listed by any trusted targets role`);
          const cached = await updater.findCachedTarget(info);
          const path = cached ?? (await updater.downloadTarget(info));
          downloaded.push({ target: name, path, cached: cached !== undefined });
          out.info(`  ok  ${name}: ${info.length} bytes, ${Object.keys(info.hashes).join('+')} verified${cached ? ' (already present)' : ''} -> ${path}`);
        }
        out.result({ refresh: report, downloaded });
      }),
    );
}

