// cli/commands/log.ts: `cairn log`: the repository's witnessed release log (docs/design.md "Skipchain
// release log"; docs/protocol.md sections 5-8). `init` creates the chain (genesis block of the
// published state, roster of the given witnesses authorized by the root keys), `head` has the
// witnesses co-sign a fresh head statement (run it from cron so clients can detect a freeze),
// `status` shows the head and each witness, `roster` changes the roster, `retry` proposes again
// the block of a round that failed after witnesses answered and publishes its saved release.
// `cairn repo publish` of a repository with a log proposes each release to the witnesses before
// writing anything. `check` compares the log as several mirrors serve it and prints a proof of
// equivocation when two disagree; `verify-proof` checks such a proof offline (docs/witness.md
// "Checking mirrors for equivocation").
import type { Command } from 'commander';
import { UsageError } from '../../errors/index.js';
import {
  changeWitnessRoster, cosignHead, createReleaseLog, releaseLogStatus, retryPendingRelease, defaultWitnessThreshold, DEFAULT_CALL_TIMEOUT_MS,
} from '../../release/index.js';
import { crossCheckLogs, verifyEquivocationProofFile, type LogCrossCheck } from '../../client/log-cross-check.js';
import { DEFAULT_PASSPHRASE_ENV } from '../passphrase.js';
import { blockLines, roundLines, settledLines } from '../release-lines.js';
import { collect, leaderKeyOption, loadLeaderKey, positiveInt, loadSigners } from '../options.js';
import type { CliContext } from './types.js';

interface RosterOpts {
  leaderKey?: string;
  witness: string[];
  threshold?: number;
  key: string[];
  passphraseEnv: string;
  timeout: number;
}

function requireRoster(opts: RosterOpts): { threshold: number } {
  if (opts.witness.length === 0) throw new UsageError('MISSING_ARGUMENT', 'no witness given', { hint: 'pass --witness URL for each witness of the roster' });
  if (opts.key.length === 0) throw new UsageError('MISSING_ARGUMENT', 'the roster needs the root keys\' authorization', { hint: 'pass --key ROOTKEYFILE (the root threshold of them)' });
  const threshold = opts.threshold ?? defaultWitnessThreshold(opts.witness.length);
  if (threshold > opts.witness.length) throw new UsageError('BAD_ARGUMENT', `--threshold ${threshold} exceeds the ${opts.witness.length} witnesses`);
  return { threshold };
}

export function register(program: Command, context: CliContext): void {
  const log = program.command('log').description('the witnessed release log: create it, co-sign head statements, change the roster');
  const rosterOptions = (c: Command): Command =>
    c.option('--witness <url>', 'address of a witness of the roster (repeatable, in roster order)', collect, [])
      .option('--threshold <n>', 'co-signers needed (default: more than two thirds)', positiveInt('--threshold'))
      .option('--key <file>', 'root private key file authorizing the roster (repeatable)', collect, [])
      .option('--passphrase-env <name>', 'environment variable with the key files\' passphrase', DEFAULT_PASSPHRASE_ENV);
  const timeoutOption = (c: Command): Command => c.option('--timeout <ms>', 'deadline of each call to a witness', positiveInt('--timeout'), DEFAULT_CALL_TIMEOUT_MS);
  /** Commands that run rounds: each call's deadline and the leader's key. */
  const leading = (c: Command): Command => leaderKeyOption(timeoutOption(c));

  leading(rosterOptions(log.command('init').description('create the log: a genesis block of the published state, sent to every witness; prints the genesis hash (clients pin it)')
    .argument('<repo>', 'repository workspace')))
    .action(async (dir: string, opts: RosterOpts) => {
      const out = context.output();
      const { threshold } = requireRoster(opts);
      const { genesis, report } = await createReleaseLog(dir, {
        witnesses: opts.witness, threshold, rootSigners: await loadSigners(opts.key, opts.passphraseEnv), leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out,
      });
      out.result({ genesis, head: { index: 0, hash: genesis }, rounds: report.rounds },
        [`log created: genesis ${genesis}`, ...roundLines(report.rounds), 'clients pin the genesis hash as their trusted log block']);
    });

  leading(log.command('head').description('have the witnesses co-sign a fresh head statement (run it periodically: clients refuse a stale head)')
    .argument('<repo>', 'repository workspace'))
    .action(async (dir: string, opts: { timeout: number; leaderKey?: string }) => {
      const out = context.output();
      const { head, round } = await cosignHead(dir, { leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out });
      out.result({ head, round }, roundLines([round]));
    });

  timeoutOption(log.command('status').description('the head of the log and each witness of its roster; exits 1 when fewer than the threshold can co-sign')
    .argument('<repo>', 'repository workspace'))
    .action(async (dir: string, opts: { timeout: number }) => {
      const out = context.output();
      const status = await releaseLogStatus(dir, { leader: { callTimeoutMs: opts.timeout }, progress: out });
      const { head, witnesses } = status;
      out.result(status, [
        `chain ${status.chain}`,
        `head: block ${head.index} ${head.hash} (${head.time}); roster of ${witnesses.length}, threshold ${status.threshold}`,
        ...witnesses.map((w) => `  ${w.name} ${w.address}: ${!w.reachable ? `unreachable (${w.detail ?? ''})` : w.head === null ? (w.detail ?? 'no head') : w.behind === 0 ? 'at head' : `head ${w.head} (${w.behind} behind)`}`),
        status.quorum.met
          ? `quorum: ${status.quorum.available} of ${witnesses.length} witnesses can co-sign, threshold ${status.quorum.threshold}`
          : `PROBLEM: only ${status.quorum.available} of ${witnesses.length} witnesses can co-sign, the threshold is ${status.quorum.threshold}: no release can be logged`,
      ]);
      if (!status.quorum.met) context.setExitCode(1);
    });

  leading(rosterOptions(log.command('roster').description('change the roster: a block with the new roster, authorized by the root keys and approved by the old roster')
    .argument('<repo>', 'repository workspace')))
    .action(async (dir: string, opts: RosterOpts) => {
      const out = context.output();
      const { threshold } = requireRoster(opts);
      const { report, settled } = await changeWitnessRoster(dir, {
        witnesses: opts.witness, threshold, rootSigners: await loadSigners(opts.key, opts.passphraseEnv), leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out,
      });
      out.result({ ...report, ...(settled ? { settled } : {}) }, [...(settled ? settledLines(settled) : []), ...blockLines(report)]);
    });

  leading(log.command('retry').description('propose again the block of a release (or roster change) whose round failed after witnesses answered, then publish that release')
    .argument('<repo>', 'repository workspace')
    .option('--key <file>', 'timestamp private key file, to sign the saved timestamp again if it expired (repeatable)', collect, [])
    .option('--passphrase-env <name>', 'environment variable with the key files\' passphrase', DEFAULT_PASSPHRASE_ENV))
    .action(async (dir: string, opts: { key: string[]; passphraseEnv: string; timeout: number; leaderKey?: string }) => {
      const out = context.output();
      const { settled, head } = await retryPendingRelease(dir, { signers: await loadSigners(opts.key, opts.passphraseEnv), leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out });
      if (!settled) {
        out.result({ settled: null, head }, `nothing to retry: no saved proposal; the head is block ${head.index} ${head.hash}`);
        return;
      }
      out.result({ settled, head }, settledLines(settled));
    });

  registerCheck(log, context);
  registerVerifyProof(log, context);
}

/** `cairn log check`: the log of several mirrors compared; exit 1 when they disagree or one cannot be checked. */
function registerCheck(log: Command, context: CliContext): void {
  log.command('check').description('compare the log several mirrors serve, from the pinned genesis; prints a proof of equivocation and exits 1 when two disagree')
    .requiredOption('--chain <hash>', 'the chain ID (genesis block hash) the mirrors must serve')
    .option('--source <url>', 'a mirror\'s log directory, e.g. http://mirror/log/ (repeatable, at least two)', collect, [])
    .option('--proof-out <file>', 'write the first proof found to this file (check it with cairn log verify-proof)')
    .action(async (opts: { chain: string; source: string[]; proofOut?: string }) => {
      const out = context.output();
      const report = await crossCheckLogs(opts.source, { chain: opts.chain, ...(opts.proofOut === undefined ? {} : { proofOut: opts.proofOut }) });
      out.result(report, crossCheckLines(report));
      if (!report.consistent) context.setExitCode(1);
    });
}

function crossCheckLines(report: LogCrossCheck): string[] {
  const lines = [`chain ${report.chain}`];
  for (const s of report.sources) {
    lines.push(s.head !== null ? `  ${s.url}: head block ${s.head.index} ${s.head.hash} (${s.head.time})` : `  ${s.url}: PROBLEM [${s.problem!.code}] ${s.problem!.message}`);
  }
  for (const c of report.conflicts) {
    lines.push(c.hashes[1] === null
      ? `UNCHECKED block ${c.index}: ${c.sources[0]} says ${c.hashes[0]}, ${c.sources[1]} makes no valid claim about it`
      : `EQUIVOCATION at block ${c.index}: ${c.sources[0]} says ${c.hashes[0]}, ${c.sources[1]} says ${c.hashes[1]}`);
    if (c.proof === null) lines.push(`  no proof: ${c.reason}`);
    else lines.push(`  signed both: ${c.culprits.map((w) => `${w.name} (${w.key.slice(0, 16)})`).join(', ')}`);
  }
  const proof = report.conflicts.find((c) => c.proof !== null)?.proof;
  if (report.proofFile !== null) lines.push(`proof written to ${report.proofFile}; anyone can check it with: cairn log verify-proof ${report.proofFile} --chain ${report.chain}`);
  else if (proof !== undefined) lines.push('proof (save it and check it with: cairn log verify-proof FILE):', JSON.stringify(proof));
  if (report.consistent) lines.push(`consistent: ${report.sources.length} sources, no two disagree`);
  return lines;
}

/** `cairn log verify-proof`: exit 0 when the file proves equivocation (6 with NOT_EQUIVOCATION when it does not). */
function registerVerifyProof(log: Command, context: CliContext): void {
  log.command('verify-proof').description('check a proof of equivocation offline; exits 0 when it proves that witnesses signed two blocks at one index')
    .argument('<file>', 'the proof (cairn log check --proof-out)')
    .option('--chain <hash>', 'the chain ID the proof must be about')
    .option('--roster <file>', 'a roster file of the chain (log/rosters/HASH.json); both claims must be signed by given rosters (repeatable)', collect, [])
    .action(async (file: string, opts: { chain?: string; roster: string[] }) => {
      const out = context.output();
      const proven = await verifyEquivocationProofFile(file, { ...(opts.chain === undefined ? {} : { chain: opts.chain }), rosterFiles: opts.roster });
      out.result(proven, [
        `proven: block ${proven.index} of chain ${proven.chain} is both ${proven.hashes[0]} and ${proven.hashes[1]}`,
        `signed both: ${proven.culprits.map((w) => `${w.name} (${w.key})`).join(', ')}`,
        ...(proven.rostersChecked ? [] : ['the rosters are the proof\'s own: pass --roster FILE to require the chain\'s']),
      ]);
    });
}
