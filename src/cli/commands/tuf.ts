// cli/commands/tuf.ts: `cairn tuf`, the TUF client from the command line. Its interface is
// exactly the client-under-test protocol of the TUF conformance suite (CLIENT-CLI.md): init,
// refresh and download, exit 0 on full success and 1 on any failure. It also prints, for
// people, what it checked; --json gives the same as one document.
//
// A metadata directory initialized with a log anchor (`init ROOT_FILE --log-anchor HASH`) makes
// refresh and download use the witnessed client (client/WitnessedUpdater; docs/design.md "What a
// client checks, in order", step 2; docs/protocol.md section 9 "Clients and the log"): only releases the
// witnesses co-signed are accepted, and a missing log is an error, never a fallback. Without an
// anchor nothing changes: the conformance protocol stays exactly as it was.
import type { Command } from 'commander';
import type { RefreshReport } from '../../tuf/index.js';
import {
  downloadVerifiedTargets, initClientTrust, refreshClient, verifyTargetsAttestations, type WitnessedRefreshReport, type WitnessedUpdaterOptions,
} from '../../client/index.js';
import { UsageError, short } from '../../errors/index.js';
import { collect, positiveInt } from '../options.js';
import type { CliContext } from './types.js';

interface TufOptions {
  metadataDir?: string;
  metadataUrl?: string;
  targetName: string[];
  targetBaseUrl?: string;
  targetDir?: string;
  logUrl?: string;
  maxHeadAge?: string;
}

interface InitOptions {
  logAnchor?: string;
  logBlock?: string;
}

function isWitnessed(report: RefreshReport): report is WitnessedRefreshReport {
  return 'log' in report;
}

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
    .option('--target-dir <dir>', 'directory for verified downloads')
    .option('--log-url <url>', 'URL of the repository log directory (default: log/ beside the metadata URL); used when the metadata dir has a log anchor')
    .option('--max-head-age <seconds>', 'oldest co-signed head statement accepted, in seconds (default 86400); used when the metadata dir has a log anchor');

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

  // A log anchor in the metadata directory selects the witnessed client; without one, plain TUF.
  const clientOptions = (opts: TufOptions, extra: { attestationsUrl?: string } = {}): WitnessedUpdaterOptions => ({
    metadataDir: required(opts.metadataDir, '--metadata-dir'),
    metadataBaseUrl: required(opts.metadataUrl, '--metadata-url'),
    targetBaseUrl: opts.targetBaseUrl,
    targetDir: opts.targetDir,
    ...(opts.logUrl === undefined ? {} : { logUrl: opts.logUrl }),
    ...(extra.attestationsUrl === undefined ? {} : { attestationsUrl: extra.attestationsUrl }),
    ...(opts.maxHeadAge === undefined ? {} : { witness: { maxHeadAgeSeconds: positiveInt('--max-head-age')(opts.maxHeadAge) } }),
  });

  const describeRefresh = (r: RefreshReport): string[] => r.steps.map((s) => `  ok  ${s.text}`);
  const refreshHeadline = (r: RefreshReport): string =>
    isWitnessed(r) ? `refresh: every check passed; release witnessed by the log (head block ${r.log.head.index})` : 'refresh: every check passed';

  tuf
    .command('init')
    .description('store ROOT_FILE as the trusted root (no network); with --log-anchor, accept only witnessed releases from then on')
    .argument('<root-file>', 'initial trusted root.json')
    .option('--log-anchor <hash>', 'pin the trusted log block: HASH (the genesis block, i.e. the chain ID) or INDEX:HASH (a later checkpoint)')
    .option('--log-block <file>', 'the anchored block itself, checked against --log-anchor now (else fetched and checked on the first refresh)')
    .action(
      run(async (opts) => {
        const dir = required(opts.metadataDir, '--metadata-dir');
        // The argument is the last positional of the `init` subcommand.
        const init = tuf.commands.find((c) => c.name() === 'init')!;
        const initOpts = init.opts<InitOptions>();
        const { logAnchor, blockChecked } = await initClientTrust(dir, {
          rootFile: init.args[0]!, ...(initOpts.logAnchor === undefined ? {} : { logAnchor: initOpts.logAnchor }), ...(initOpts.logBlock === undefined ? {} : { logBlock: initOpts.logBlock }),
        });
        if (logAnchor === undefined) {
          context.output().result({ initialized: dir }, `trusted root stored in ${dir}`);
          return;
        }
        context.output().result(
          { initialized: dir, logAnchor, blockChecked },
          [
            `trusted root stored in ${dir}`,
            `log anchor: block ${logAnchor.index} (${short(logAnchor.hash)})${blockChecked ? ', block checked against the hash' : ', fetched and checked against the hash on the first refresh'}; only witnessed releases are accepted from now on`,
          ],
        );
      }),
    );

  tuf
    .command('refresh')
    .description('update trusted metadata following the TUF client workflow')
    .action(
      run(async (opts) => {
        const report = await refreshClient(clientOptions(opts));
        context.output().result(report, [refreshHeadline(report), ...describeRefresh(report)]);
      }),
    );

  tuf
    .command('download')
    .description('refresh, then download and verify each --target-name in order')
    .action(
      run(async (opts) => {
        required(opts.targetDir, '--target-dir');
        required(opts.targetBaseUrl, '--target-base-url');
        const out = context.output();
        const printRefresh = (report: RefreshReport): void => {
          out.info(refreshHeadline(report));
          for (const line of describeRefresh(report)) out.info(line);
        };
        const { refresh, downloaded } = await downloadVerifiedTargets(clientOptions(opts), opts.targetName, {
          onRefresh: printRefresh,
          onTarget: ({ target, path, cached, info }) => out.info(`  ok  ${target}: ${info.length} bytes, ${Object.keys(info.hashes).join('+')} verified${cached ? ' (already present)' : ''} -> ${path}`),
        });
        out.result({ refresh, downloaded: downloaded.map(({ target, path, cached }) => ({ target, path, cached })) });
      }),
    );

  tuf
    .command('verify-attestations')
    .description('refresh (witnessed), then re-check each --target-name\'s rebuild attestations: the quorum of the trusted root\'s build policy, and that they are those the witnessed block relied on')
    .option('--attestations-url <url>', 'URL of the attestations directory (default: attestations/ beside the metadata URL)')
    .action(
      run(async (opts) => {
        const sub = tuf.commands.find((c) => c.name() === 'verify-attestations')!.opts<{ attestationsUrl?: string }>();
        const out = context.output();
        const { attestations } = await verifyTargetsAttestations(clientOptions(opts, sub), opts.targetName, {
          onRefresh: (report) => out.info(refreshHeadline(report)),
          onTarget: (r) => out.info(`  ok  ${r.target} (sha256 ${short(r.sha256)}): PASSED by ${r.passed.length} of the policy's verifiers (quorum ${r.quorum}: ${r.passed.map((k) => short(k)).join(', ')}); the attestations block ${r.block.index} relied on (digest ${short(r.block.attestations)})`),
        });
        out.result({ attestations });
      }),
    );
}

