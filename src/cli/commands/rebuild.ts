// cli/commands/rebuild.ts: `cairn rebuild`, the build verifier (docs/verified-builds.md): `run`
// rebuilds one artifact and signs the verdict, `serve` watches a repository (only reading it) and
// rebuilds every new declared artifact with a durable queue into the verifier's own attestation
// tree, `check` applies the witnesses' quorum rule to attestation files.
import type { Command } from 'commander';
import { short, UsageError } from '../../errors/index.js';
import { describeDifferences } from '../../policy/index.js';
import {
  checkAttestationFiles, DEFAULT_BUILD_USER, ISOLATION_PREFERENCES, runRebuild, runVerifierService, type IsolationPreference, type SandboxOptions, type VerifierEvent,
} from '../../rebuild/index.js';
import { DEFAULT_PASSPHRASE_ENV } from '../passphrase.js';
import { collect, loadSigner, oneOf, positiveInt, secondsOption } from '../options.js';
import type { CliContext } from './types.js';

/** The sandbox options shared by cairn build and cairn rebuild run|serve (docs/verified-builds.md "Isolation levels"). */
export interface SandboxOpts {
  isolation: IsolationPreference;
  buildUser?: string;
  maxScratch?: number;
  maxProcesses?: number;
}

export const sandboxOptions = (c: Command): Command =>
  c.option('--isolation <level>', 'sandbox: bubblewrap (full isolation); unshare or none are weaker, taken only when named, and recorded', oneOf('--isolation', ISOLATION_PREFERENCES), 'bubblewrap')
    .option('--build-user <name>', `when run as root: the dedicated unprivileged user builds run as (default ${DEFAULT_BUILD_USER})`)
    .option('--max-scratch <MiB>', 'size of the build\'s scratch space (default 4096)', positiveInt('--max-scratch'))
    .option('--max-processes <n>', 'processes one build may run (default 1024)', positiveInt('--max-processes'));

export function sandboxOf(opts: SandboxOpts, privatePaths: readonly string[] = []): SandboxOptions {
  return {
    privatePaths,
    isolation: opts.isolation, ...(opts.buildUser === undefined ? {} : { buildUser: opts.buildUser }),
    ...(opts.maxScratch === undefined ? {} : { maxScratchBytes: opts.maxScratch * 1024 * 1024 }),
    ...(opts.maxProcesses === undefined ? {} : { maxProcesses: opts.maxProcesses }),
  };
}

const allowFileSources = (c: Command): Command =>
  c.option('--allow-file-sources', 'also fetch declared sources from file: URLs (tests, local examples); by default only http(s)', false);

interface RunOpts extends SandboxOpts {
  key: string;
  passphraseEnv: string;
  repo?: string;
  target?: string;
  declaration?: string;
  artifact?: string;
  out?: string;
  allowFileSources: boolean;
  timeout?: number;
}

interface ServeOpts extends SandboxOpts {
  repo: string;
  out: string;
  key: string;
  db: string;
  passphraseEnv: string;
  poll: number;
  once: boolean;
  allowFileSources: boolean;
  maxAttempts: number;
  retryDelay: number;
  timeout?: number;
}

interface CheckOpts {
  repo?: string;
  target: string;
  sha256?: string;
  attestation: string[];
  verifierKey: string[];
  quorum: number;
  requireFullIsolation: boolean;
}

export function register(program: Command, context: CliContext): void {
  const rebuild = program.command('rebuild').description('verify builds: rebuild artifacts from their declared source and sign in-toto/DSSE attestations');

  allowFileSources(sandboxOptions(rebuild.command('run'))).description('rebuild one artifact in isolation, compare with the published bytes, sign PASSED or FAILED')
    .requiredOption('--key <file>', 'the verifier\'s private key file')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--repo <dir>', 'repository workspace holding the target (its declaration and bytes)')
    .option('--target <path>', 'target path in --repo')
    .option('--declaration <file>', 'a declaration file (cairn build) instead of --repo/--target')
    .option('--artifact <file-or-url>', 'with --declaration: the published artifact (file path, file:, http: or https: URL)')
    .option('--out <file>', 'where to write the attestation (default with --repo: REPO/public/attestations/TARGET/SHA256.KEYID.dsse.json)')
    .option('--timeout <seconds>', 'time limit of the build', secondsOption('--timeout'))
    .action(async (opts: RunOpts) => {
      const out = context.output();
      if (opts.repo !== undefined) {
        if (opts.target === undefined) throw new UsageError('MISSING_ARGUMENT', '--repo needs --target PATH');
        if (opts.declaration !== undefined) throw new UsageError('CONFLICT', 'give either --repo/--target or --declaration, not both');
      } else {
        if (opts.declaration === undefined) throw new UsageError('MISSING_ARGUMENT', 'say what to rebuild', { hint: 'pass --repo DIR --target PATH, or --declaration FILE --artifact FILE' });
        if (opts.artifact === undefined) throw new UsageError('MISSING_ARGUMENT', '--declaration needs --artifact FILE_OR_URL (the published bytes)');
        if (opts.out === undefined) throw new UsageError('MISSING_ARGUMENT', '--declaration needs --out FILE for the attestation');
      }
      const signer = await loadSigner(opts.key, opts.passphraseEnv);
      const outcome = await runRebuild({
        subject: opts.repo !== undefined ? { repo: opts.repo, target: opts.target! } : { declarationFile: opts.declaration!, artifact: opts.artifact! },
        signer: signer, isolation: sandboxOf(opts, [opts.key, ...(opts.out === undefined ? [] : [opts.out])]), allowFileSources: opts.allowFileSources, ...(opts.out === undefined ? {} : { out: opts.out }),
        ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout * 1000 }), onWarning: (w) => out.warn(w),
      });
      const { target } = outcome;
      const head = `${outcome.result} ${target} (sha256 ${short(outcome.artifact.sha256)})`;
      const lines = outcome.result === 'PASSED'
        ? [`${head}: rebuilt bit-identically under ${outcome.isolation} isolation in ${(outcome.buildMs / 1000).toFixed(1)} s`]
        : [`${head}: the rebuild differs (rebuilt sha256 ${short(outcome.rebuilt.sha256)}): ${describeDifferences(outcome.differences)}`];
      lines.push(`attestation by verifier ${short(signer.keyid)} written to ${outcome.attestation}`);
      out.result({
        result: outcome.result, target, sha256: outcome.artifact.sha256, rebuilt: outcome.rebuilt, isolation: outcome.isolation,
        differences: outcome.differences ?? null, verifier: signer.keyid, attestation: outcome.attestation, buildMs: outcome.buildMs, totalMs: outcome.totalMs,
      }, lines);
      if (outcome.result === 'FAILED') context.setExitCode(1);
    });

  allowFileSources(sandboxOptions(rebuild.command('serve'))).description('watch a repository (staged and published targets) and rebuild every new declared artifact; queue in SQLite')
    .requiredOption('--repo <dir>', 'the publisher\'s repository workspace to watch (only read: read access is enough)')
    .requiredOption('--out <dir>', 'the verifier\'s own attestation tree (OUT/attestations/TARGET/SHA256.KEYID.dsse.json); serve it read-only (cairn serve OUT) for the publisher to pull')
    .requiredOption('--key <file>', 'the verifier\'s private key file')
    .requiredOption('--db <file>', 'SQLite file of the queue and results (created if missing)')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .option('--poll <seconds>', 'interval between scans of the repository', secondsOption('--poll'), 10)
    .option('--once', 'exit when the queue is empty instead of polling', false)
    .option('--max-attempts <n>', 'attempts before a job without verdict is given up', positiveInt('--max-attempts'), 3)
    .option('--retry-delay <seconds>', 'delay before retrying a job without verdict (times the attempt number)', secondsOption('--retry-delay'), 60)
    .option('--timeout <seconds>', 'time limit of each build', secondsOption('--timeout'))
    .action(async (opts: ServeOpts) => {
      const out = context.output();
      const signer = await loadSigner(opts.key, opts.passphraseEnv);
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const describe = (e: VerifierEvent): [string, 'result' | 'progress' | 'warning'] => {
        switch (e.type) {
          case 'start':
            return [`verifier ${short(signer.keyid)} watching ${opts.repo}, attestations to ${opts.out} (${e.isolation} isolation${e.recovered > 0 ? `, ${e.recovered} interrupted job(s) requeued` : ''})${e.warning ? `; ${e.warning}` : ''}`, e.warning ? 'warning' : 'progress'];
          case 'queued':
            return [[...(e.added > 0 ? [`queued ${e.added} new artifact(s)`] : []), ...e.problems].join('; '), e.problems.length > 0 ? 'warning' : 'progress'];
          case 'claimed':
            return [`rebuilding ${e.target} (sha256 ${short(e.sha256)}), attempt ${e.attempt}`, 'progress'];
          case 'attested':
          case 'adopted':
            return [`${e.result} ${e.target} (sha256 ${short(e.sha256)})${e.type === 'adopted' ? ' (already attested before a restart)' : ''}${'summary' in e && e.summary ? `: ${e.summary}` : ''} -> ${e.attestation}`, 'result'];
          case 'error':
            return [`${e.target}: [${e.code}] ${e.message}${e.final ? ' (giving up)' : ' (will retry)'}`, 'warning'];
        }
      };
      const onEvent = (e: VerifierEvent): void => {
        const [human, level] = describe(e);
        if (human !== '' || out.options.json) out.event(e.type, e, human, level);
      };
      try {
        const { finished } = await runVerifierService({
          repoDir: opts.repo, outDir: opts.out, signer: signer, dbPath: opts.db, pollMs: opts.poll * 1000, once: opts.once, isolation: sandboxOf(opts, [opts.key, opts.db, opts.out]), allowFileSources: opts.allowFileSources,
          maxAttempts: opts.maxAttempts, retryDelayMs: opts.retryDelay * 1000, timeoutMs: opts.timeout === undefined ? undefined : opts.timeout * 1000,
          signal: controller.signal, onEvent,
        });
        out.event('stop', { finished }, `stopped after ${finished} verdict(s)`, 'progress');
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });

  rebuild.command('check').description('apply the witnesses\' rule: k PASSED attestations from distinct policy verifiers for the exact sha256, no FAILED')
    .requiredOption('--target <path>', 'target path (the attestations\' subject name)')
    .option('--sha256 <hex>', 'the artifact\'s sha256 (default with --repo: from its targets metadata)')
    .option('--repo <dir>', 'read the target\'s sha256 and every attestation under REPO/public/attestations/TARGET/')
    .option('--attestation <file>', 'an attestation file (repeatable)', collect, [])
    .requiredOption('--verifier-key <file>', 'public (or private) key file of a policy verifier (repeatable)', collect, [])
    .requiredOption('--quorum <k>', 'PASSED attestations needed', positiveInt('--quorum'))
    .option('--require-full-isolation', 'count only attestations rebuilt under full isolation (bubblewrap), as a build policy may require', false)
    .action(async (opts: CheckOpts) => {
      const out = context.output();
      const report = await checkAttestationFiles({
        target: opts.target, ...(opts.sha256 === undefined ? {} : { sha256: opts.sha256 }), ...(opts.repo === undefined ? {} : { repo: opts.repo }),
        files: opts.attestation, verifierKeyFiles: opts.verifierKey, quorum: opts.quorum, requireFullIsolation: opts.requireFullIsolation,
      });
      const { sha256, files, ...quorum } = report;
      out.result({ target: opts.target, sha256, ...quorum }, [
        `${opts.target} (sha256 ${short(sha256)}): quorum met, PASSED by ${report.passed.map((k) => short(k)).join(', ')}`,
        ...report.ignored.map((i) => `ignored ${files[i.index]}: ${i.reason}`),
      ]);
    });
}
