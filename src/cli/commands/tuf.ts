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
import { DEFAULT_UPDATER_CONFIG, Updater, type RefreshReport } from '../../tuf/index.js';
import { WitnessedUpdater, createUpdater, initLogAnchor, parseAnchorArgument, prepareLogAnchor, type TargetUpdater, type WitnessedRefreshReport } from '../../client/index.js';
import { UsageError, short } from '../../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../../io/capped-file.js';
import { LOG_FILE_LIMITS } from '../../log/index.js';
import { TufError } from '../../tuf/errors.js';
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
  const updaterFor = async (opts: TufOptions): Promise<TargetUpdater> =>
    (
      await createUpdater({
        metadataDir: required(opts.metadataDir, '--metadata-dir'),
        metadataBaseUrl: required(opts.metadataUrl, '--metadata-url'),
        targetBaseUrl: opts.targetBaseUrl,
        targetDir: opts.targetDir,
        ...(opts.logUrl === undefined ? {} : { logUrl: opts.logUrl }),
        ...(opts.maxHeadAge === undefined ? {} : { witness: { maxHeadAgeSeconds: positiveInt('--max-head-age')(opts.maxHeadAge) } }),
      })
    ).updater;

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
        const rootFile = init.args[0]!;
        const initOpts = init.opts<InitOptions>();
        if (initOpts.logBlock !== undefined && initOpts.logAnchor === undefined) {
          throw new UsageError('MISSING_ARGUMENT', '--log-block needs --log-anchor: the hash is what you pin, the block is checked against it');
        }
        const anchorArg = initOpts.logAnchor === undefined ? undefined : parseAnchorArgument(initOpts.logAnchor);
        const anchorInit = anchorArg === undefined
          ? undefined
          : {
              hash: anchorArg.hash,
              ...(initOpts.logAnchor!.includes(':') ? { index: anchorArg.index } : {}),
              ...(initOpts.logBlock === undefined ? {} : { block: await readCappedFile(initOpts.logBlock, LOG_FILE_LIMITS.block.maxBytes, { refuse: tooLargeIsFormatError }) }),
            };
        // Every check before the first write: a refused anchor leaves the directory as it was.
        if (anchorInit !== undefined) prepareLogAnchor(anchorInit);
        await Updater.initTrustedRoot(dir, await readCappedFile(rootFile, DEFAULT_UPDATER_CONFIG.rootMaxLength, { refuse: tooLargeIsFormatError }));
        if (anchorInit === undefined) {
          context.output().result({ initialized: dir }, `trusted root stored in ${dir}`);
          return;
        }
        const anchor = await initLogAnchor(dir, anchorInit);
        const blockChecked = anchorInit.block !== undefined;
        context.output().result(
          { initialized: dir, logAnchor: anchor, blockChecked },
          [
            `trusted root stored in ${dir}`,
            `log anchor: block ${anchor.index} (${short(anchor.hash)})${blockChecked ? ', block checked against the hash' : ', fetched and checked against the hash on the first refresh'}; only witnessed releases are accepted from now on`,
          ],
        );
      }),
    );

  tuf
    .command('refresh')
    .description('update trusted metadata following the TUF client workflow')
    .action(
      run(async (opts) => {
        const report = await (await updaterFor(opts)).refresh();
        context.output().result(report, [refreshHeadline(report), ...describeRefresh(report)]);
      }),
    );

  tuf
    .command('download')
    .description('refresh, then download and verify each --target-name in order')
    .action(
      run(async (opts) => {
        if (opts.targetName.length === 0) throw new UsageError('MISSING_ARGUMENT', '--target-name is required for download');
        required(opts.targetDir, '--target-dir');
        const updater = await updaterFor(opts);
        const out = context.output();
        const report = await updater.refresh();
        out.info(refreshHeadline(report));
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

  tuf
    .command('verify-attestations')
    .description('refresh (witnessed), then re-check each --target-name\'s rebuild attestations: the quorum of the trusted root\'s build policy, and that they are those the witnessed block relied on')
    .option('--attestations-url <url>', 'URL of the attestations directory (default: attestations/ beside the metadata URL)')
    .action(
      run(async (opts) => {
        if (opts.targetName.length === 0) throw new UsageError('MISSING_ARGUMENT', '--target-name is required for verify-attestations');
        const sub = tuf.commands.find((c) => c.name() === 'verify-attestations')!.opts<{ attestationsUrl?: string }>();
        const dir = required(opts.metadataDir, '--metadata-dir');
        if (!(await WitnessedUpdater.hasLogAnchor(dir))) {
          throw new UsageError('BAD_ARGUMENT', `${dir} has no log anchor: attestations are checked against the witnessed log`, { hint: 'cairn tuf init ROOT_FILE --log-anchor HASH' });
        }
        const updater = new WitnessedUpdater({
          metadataDir: dir,
          metadataBaseUrl: required(opts.metadataUrl, '--metadata-url'),
          ...(opts.logUrl === undefined ? {} : { logUrl: opts.logUrl }),
          ...(sub.attestationsUrl === undefined ? {} : { attestationsUrl: sub.attestationsUrl }),
          ...(opts.maxHeadAge === undefined ? {} : { witness: { maxHeadAgeSeconds: positiveInt('--max-head-age')(opts.maxHeadAge) } }),
        });
        const out = context.output();
        const report = await updater.refresh();
        out.info(refreshHeadline(report));
        const checked = [];
        for (const name of opts.targetName) {
          const info = await updater.getTargetInfo(name);
          if (!info) throw new TufError('UNKNOWN_TARGET', `target ${name} is not listed by any trusted targets role`);
          const r = await updater.verifyTargetAttestations(info);
          checked.push(r);
          out.info(`  ok  ${name} (sha256 ${short(r.sha256)}): PASSED by ${r.passed.length} of the policy's verifiers (quorum ${r.quorum}: ${r.passed.map((k) => short(k)).join(', ')}); the attestations block ${r.block.index} relied on (digest ${short(r.block.attestations)})`);
        }
        out.result({ attestations: checked });
      }),
    );
}

