// cli/commands/monitor.ts: `cairn monitor` (docs/transparency.md "Monitors"): follows a release log
// from several mirrors and witnesses, polls until SIGINT or SIGTERM (or once with --once), and
// prints each alarm as a line (a JSON line with --json). Exit status 1 when this run raised an
// alarm, 0 otherwise.
import type { Command } from 'commander';
import { withLockFile } from '../../io/lock-file.js';
import { LogMonitor, type Alarm, type PollReport } from '../../monitor/index.js';
import { collect, durationOption, secondsOption } from '../options.js';
import type { CliContext } from './types.js';
import { join } from 'node:path';

const DEFAULT_MAX_HEAD_AGE = '1d';

export function register(program: Command, context: CliContext): void {
  program.command('monitor').description('follow a release log from several mirrors and witnesses; raise an alarm (exit 1, a line, a proof file) on a fork, equivocation, rollback, unauthorized roster or root change, invalid block, bad checkpoint or stale head')
    .requiredOption('--chain <hash>', 'the chain ID (genesis block hash) to follow')
    .option('--source <url>', 'a mirror\'s log directory, e.g. http://mirror/log/ (repeatable); its TUF roots are read from ../metadata/', collect, [])
    .option('--witness <url>', 'a witness service whose reported head is compared (repeatable)', collect, [])
    .requiredOption('--state <dir>', 'where the monitor keeps what it has verified, its alarms, and proofs (proofs/)')
    .option('--interval <seconds>', 'seconds between polls', secondsOption('--interval'), 60)
    .option('--max-head-age <duration>', `a head older than this raises stale-head (${DEFAULT_MAX_HEAD_AGE}; as 12h, 30m)`, durationOption('--max-head-age'), durationOption('--max-head-age')(DEFAULT_MAX_HEAD_AGE))
    .option('--once', 'poll once and exit (1 when it raised an alarm)', false)
    .option('--no-check-releases', 'check the log alone, not each block\'s release (TUF state and rebuild quorum) against the documents beside it')
    .action(async (opts: { chain: string; source: string[]; witness: string[]; state: string; interval: number; maxHeadAge: number; once: boolean; checkReleases: boolean }) => {
      const out = context.output();
      await withLockFile(join(opts.state, 'monitor.lock'), { command: 'cairn monitor', timeoutMs: 0, createDirectory: true }, async () => {
        const monitor = new LogMonitor({ chain: opts.chain, sources: opts.source, witnesses: opts.witness, stateDir: opts.state, maxHeadAgeSeconds: opts.maxHeadAge, checkReleases: opts.checkReleases });
        let raised = 0;
        try {
          if (opts.once) {
            const report = await monitor.poll();
            raised = report.alarms.length;
            out.result(report, reportLines(report));
          } else {
            raised = await pollUntilStopped(monitor, opts.interval, out);
          }
        } finally {
          monitor.close();
        }
        if (raised > 0) context.setExitCode(1);
      });
    });
}

type Output = ReturnType<CliContext['output']>;

/** Polls every `interval` seconds until SIGINT or SIGTERM; returns the number of alarms raised. */
async function pollUntilStopped(monitor: LogMonitor, interval: number, out: Output): Promise<number> {
  let stopped = false;
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    stopped = true;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let raised = 0;
  let last = '';
  try {
    while (!stopped) {
      const report = await monitor.poll();
      raised += report.alarms.length;
      for (const alarm of report.alarms) out.event('alarm', alarm, alarmLine(alarm));
      const summary = `verified block ${report.verified.index}; ${report.sources.filter((s) => s.problem === null).length} of ${report.sources.length} sources read`;
      const problems = [...report.sources, ...report.witnesses].filter((s) => s.problem !== null).map((s) => `${s.url}: [${s.problem!.code}] ${s.problem!.message}`);
      const line = [summary, ...problems].join('\n');
      if (line !== last) out.event('poll', { verified: report.verified, sources: report.sources, witnesses: report.witnesses }, line, 'progress');
      last = line;
      if (stopped) break;
      await new Promise<void>((resume) => {
        const timer = setTimeout(resume, interval * 1000);
        wake = () => {
          clearTimeout(timer);
          resume();
        };
      });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  out.event('stopped', { alarms: raised }, `stopped; ${raised} alarm(s) raised`, 'progress');
  return raised;
}

function alarmLine(alarm: Alarm): string {
  const proof = alarm.proofFile === null ? '' : `\n  proof written to ${alarm.proofFile}; anyone can check it with: cairn log verify-proof ${alarm.proofFile}`;
  return `ALARM ${alarm.kind}${alarm.index === null ? '' : ` at block ${alarm.index}`}: ${alarm.message}${proof}`;
}

function reportLines(report: PollReport): string[] {
  const lines = [`chain ${report.chain}: verified up to block ${report.verified.index} ${report.verified.hash}`];
  for (const s of report.sources) {
    lines.push(s.problem === null ? `  ${s.url}: head block ${s.head!.index} (${s.head!.time})` : `  ${s.url}: PROBLEM [${s.problem.code}] ${s.problem.message}`);
  }
  for (const w of report.witnesses) {
    lines.push(w.problem === null ? `  witness ${w.name ?? w.url}: head block ${w.head!.index}` : `  witness ${w.url}: PROBLEM [${w.problem.code}] ${w.problem.message}`);
  }
  lines.push(...report.alarms.map(alarmLine));
  if (report.alarms.length === 0) lines.push('no new alarm');
  return lines;
}
