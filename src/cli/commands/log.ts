// cli/commands/log.ts: `cairn log`: the repository's witnessed release log (docs/design.md "Skipchain
// release log"; docs/protocol.md sections 5-8). `init` creates the chain (genesis block of the
// published state, roster of the given witnesses authorized by the root keys), `head` has the
// witnesses co-sign a fresh head statement (run it from cron so clients can detect a freeze),
// `status` shows the head and each witness, `roster` changes the roster, `retry` proposes again
// (init and roster with root keys kept offline: --prepare writes a request, `sign-roster` signs it
// on a holder's machine, --authorization/--signature merge the signatures; docs/cli.md),
// the block of a round that failed after witnesses answered and publishes its saved release.
// `cairn repo publish` of a repository with a log proposes each release to the witnesses before
// writing anything. `check` compares the log as several mirrors serve it and prints a proof of
// equivocation when two disagree; `verify-proof` checks such a proof offline (docs/witness.md
// "Checking mirrors for equivocation").
import type { Command } from 'commander';
import { UsageError } from '../../errors/index.js';
import { OFFLINE_SIGNING_HINT, type RosterAuthorizationRequest } from '../../log/index.js';
import {
  changeWitnessRoster, cosignHead, writeCheckpoint, createReleaseLog, releaseLogStatus, retryPendingRelease, defaultWitnessThreshold, DEFAULT_CALL_TIMEOUT_MS,
  prepareRosterChange, signRosterRequestFile, type RosterAuthority,
} from '../../release/index.js';
import { crossCheckLogs, verifyEquivocationProofFile, type LogCrossCheck } from '../../client/log-cross-check.js';
import { verifyCheckpoint } from '../../client/checkpoint-check.js';
import { DEFAULT_PASSPHRASE_ENV } from '../passphrase.js';
import { blockLines, roundLines, settledLines } from '../release-lines.js';
import { collect, leaderKeyOption, loadLeaderKey, positiveInt, loadSigner, loadSigners } from '../options.js';
import type { CliContext } from './types.js';

interface RosterOpts {
  leaderKey?: string;
  witness: string[];
  threshold?: number;
  key: string[];
  passphraseEnv: string;
  timeout: number;
  prepare?: string;
  authorization?: string;
  signature: string[];
}

/**
 * What `log init` / `log roster` is asked to do: write a request for offline signing
 * (--prepare), or authorize and propose the roster (root keys at hand, and/or a request with
 * its holders' signature files).
 */
function rosterMode(opts: RosterOpts): 'prepare' | 'apply' {
  const conflict = (a: string, b: string, why: string): never => {
    throw new UsageError('CONFLICT', `${a} and ${b} go in different steps: ${why}`);
  };
  if (opts.prepare !== undefined) {
    if (opts.authorization !== undefined || opts.signature.length > 0) conflict('--prepare', '--authorization/--signature', '--prepare writes the request, the signatures come back later');
    if (opts.key.length > 0) conflict('--prepare', '--key', 'the request is signed offline with cairn log sign-roster');
  }
  if (opts.authorization !== undefined) {
    if (opts.witness.length > 0 || opts.threshold !== undefined) conflict('--authorization', '--witness/--threshold', 'the roster is the one in the request');
    if (opts.signature.length === 0 && opts.key.length === 0) throw new UsageError('MISSING_ARGUMENT', 'the request needs the root keys\' signatures', { hint: 'pass --signature SIG for each file made with cairn log sign-roster DOC --key ROOTKEY --out SIG' });
    return 'apply';
  }
  if (opts.signature.length > 0) throw new UsageError('MISSING_ARGUMENT', '--signature needs the request it signs', { hint: 'pass --authorization DOC (the file written by --prepare)' });
  if (opts.witness.length === 0) throw new UsageError('MISSING_ARGUMENT', 'no witness given', { hint: 'pass --witness URL for each witness of the roster' });
  const threshold = opts.threshold ?? defaultWitnessThreshold(opts.witness.length);
  if (threshold > opts.witness.length) throw new UsageError('BAD_ARGUMENT', `--threshold ${threshold} exceeds the ${opts.witness.length} witnesses`);
  if (opts.prepare !== undefined) return 'prepare';
  if (opts.key.length === 0) throw new UsageError('MISSING_ARGUMENT', 'the roster needs the root keys\' authorization', { hint: `pass --key ROOTKEYFILE (the root threshold of them), or, with root keys kept offline: ${OFFLINE_SIGNING_HINT}` });
  return 'apply';
}

/** The roster authority of the options (see rosterMode). */
async function rosterAuthority(opts: RosterOpts): Promise<RosterAuthority> {
  return {
    ...(opts.authorization !== undefined ? { request: opts.authorization, signatures: opts.signature } : { witnesses: opts.witness, ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}) }),
    rootSigners: await loadSigners(opts.key, opts.passphraseEnv),
  };
}

/** Lines describing a roster authorization request: what a root key holder signs. */
function requestLines(request: RosterAuthorizationRequest): string[] {
  const { roster } = request;
  return [
    request.index === 0 ? 'roster of the genesis block of a new log' : `roster of block ${request.index} of chain ${request.chain}`,
    `threshold ${roster.threshold} of ${roster.witnesses.length} witnesses:`,
    ...roster.witnesses.map((w) => `  ${w.name} ${w.address} key ${w.key}`),
  ];
}

/** `--prepare OUT`: writes the request and says what comes next. */
async function prepareRoster(context: CliContext, dir: string, opts: RosterOpts, newLog: boolean): Promise<void> {
  const out = context.output();
  const request = await prepareRosterChange(dir, {
    witnesses: opts.witness, ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}), out: opts.prepare!, newLog, leader: { callTimeoutMs: opts.timeout }, progress: out,
  });
  const command = newLog ? 'init' : 'roster';
  out.result({ request: opts.prepare, ...request }, [
    `wrote the roster authorization request ${opts.prepare}:`, ...requestLines(request).map((l) => `  ${l}`),
    `next: each root key holder runs cairn log sign-roster ${opts.prepare} --key ROOTKEY --out SIG on their machine`,
    `then: cairn log ${command} ${dir} --authorization ${opts.prepare} --signature SIG... (the root threshold of them)`,
  ]);
}

/** `cairn log sign-roster DOC --key ROOTKEY --out SIG`: a root key holder signs a request offline. */
function registerSignRoster(log: Command, context: CliContext): void {
  log.command('sign-roster').description('sign a roster authorization request (written by log init/roster --prepare) with a root key, on the key holder\'s machine')
    .argument('<request>', 'the request file')
    .requiredOption('--key <file>', 'the root private key file')
    .requiredOption('-o, --out <file>', 'where to write the detached signature')
    .option('--passphrase-env <name>', 'environment variable with the key file\'s passphrase', DEFAULT_PASSPHRASE_ENV)
    .action(async (file: string, opts: { key: string; out: string; passphraseEnv: string }) => {
      const out = context.output();
      const { request, signature } = await signRosterRequestFile(file, await loadSigner(opts.key, opts.passphraseEnv), opts.out);
      out.result({ signature: opts.out, keyid: signature.keyid, chain: request.chain, index: request.index, roster: request.roster }, [
        'signed the authorization of:', ...requestLines(request).map((l) => `  ${l}`),
        `signature by key ${signature.keyid} written to ${opts.out}: send it to the publisher`,
      ]);
    });
}

export function register(program: Command, context: CliContext): void {
  const log = program.command('log').description('the witnessed release log: create it, co-sign head statements, change the roster');
  const rosterOptions = (c: Command): Command =>
    c.option('--witness <url>', 'address of a witness of the roster (repeatable, in roster order)', collect, [])
      .option('--threshold <n>', 'co-signers needed (default: more than two thirds)', positiveInt('--threshold'))
      .option('--key <file>', 'root private key file authorizing the roster (repeatable)', collect, [])
      .option('--prepare <file>', 'write the roster authorization request for offline signing (cairn log sign-roster) instead')
      .option('--authorization <file>', 'a request written by --prepare, signed offline (with --signature)')
      .option('--signature <file>', 'a root key holder\'s signature of --authorization (repeatable)', collect, [])
      .option('--passphrase-env <name>', 'environment variable with the key files\' passphrase', DEFAULT_PASSPHRASE_ENV);
  const timeoutOption = (c: Command): Command => c.option('--timeout <ms>', 'deadline of each call to a witness', positiveInt('--timeout'), DEFAULT_CALL_TIMEOUT_MS);
  /** Commands that run rounds: each call's deadline and the leader's key. */
  const leading = (c: Command): Command => leaderKeyOption(timeoutOption(c));

  leading(rosterOptions(log.command('init').description('create the log: a genesis block of the published state, sent to every witness; prints the genesis hash (clients pin it)')
    .argument('<repo>', 'repository workspace')))
    .action(async (dir: string, opts: RosterOpts) => {
      if (rosterMode(opts) === 'prepare') return prepareRoster(context, dir, opts, true);
      const out = context.output();
      const { genesis, report } = await createReleaseLog(dir, { ...(await rosterAuthority(opts)), leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out });
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

  leading(log.command('checkpoint').description('the head as a C2SP checkpoint (RFC 6962 root over the block hashes) cosigned by the roster\'s witnesses, written to public/log/checkpoint (docs/transparency.md)')
    .argument('<repo>', 'repository workspace'))
    .action(async (dir: string, opts: { timeout: number; leaderKey?: string }) => {
      const out = context.output();
      const c = await writeCheckpoint(dir, { leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out });
      out.result(c, [
        `checkpoint of ${c.size} blocks, root ${c.rootHash}, cosigned by ${c.cosigners.length} (${c.cosigners.join(', ')})${c.missing.length > 0 ? `; without ${c.missing.map((m) => `${m.name} (${m.code ?? m.status})`).join(', ')}` : ''}`,
        `written to ${dir}/public/log/checkpoint`,
      ]);
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
      if (rosterMode(opts) === 'prepare') return prepareRoster(context, dir, opts, false);
      const out = context.output();
      const { report, settled } = await changeWitnessRoster(dir, { ...(await rosterAuthority(opts)), leader: { callTimeoutMs: opts.timeout, ...(await loadLeaderKey(opts.leaderKey)) }, progress: out });
      out.result({ ...report, ...(settled ? { settled } : {}) }, [...(settled ? settledLines(settled) : []), ...blockLines(report)]);
    });

  registerSignRoster(log, context);

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
  registerVerifyCheckpoint(log, context);
}

/** `cairn log verify-checkpoint`: exit 0 when the checkpoint is cosigned (and consistent with the previous one). */
function registerVerifyCheckpoint(log: Command, context: CliContext): void {
  log.command('verify-checkpoint').description('check a C2SP checkpoint of the log: cosigned at a roster\'s threshold and, with --previous, consistent with an earlier one by a proof from the log\'s tiles')
    .argument('<checkpoint>', 'the checkpoint: a file, or a URL such as http://mirror/log/checkpoint')
    .requiredOption('--chain <hash>', 'the chain ID the checkpoint must be of')
    .option('--roster <file>', 'a roster file of the chain (log/rosters/HASH.json); the checkpoint must be cosigned at the threshold of one given (repeatable)', collect, [])
    .option('--previous <checkpoint>', 'an earlier checkpoint (file or URL) the new one must extend')
    .option('--log <url>', 'the log directory whose tiles prove consistency (default: the directory of a checkpoint URL)')
    .action(async (checkpoint: string, opts: { chain: string; roster: string[]; previous?: string; log?: string }) => {
      const out = context.output();
      const logUrl = opts.log ?? (/^https?:\/\//.test(checkpoint) ? new URL('./', checkpoint).href : undefined);
      const checked = await verifyCheckpoint(checkpoint, {
        chain: opts.chain, rosterFiles: opts.roster, ...(opts.previous === undefined ? {} : { previousFile: opts.previous }), ...(logUrl === undefined ? {} : { logUrl }),
      });
      out.result(checked, [
        `checkpoint of ${checked.size} blocks, root ${checked.rootHash}, cosigned by ${checked.cosigners.map((c) => c.name).join(', ')}`,
        ...(checked.consistency === null ? [] : [`consistent with the checkpoint of ${checked.consistency.previousSize} blocks (a proof of ${checked.consistency.proof.length} hashes from the log's tiles)`]),
      ]);
    });
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
