// cli/commands/demo.ts: `cairn demo` (what `npm start` runs): the whole flow on this machine with
// embedded defaults (src/demo): a publisher, witness processes, a mirror, a client, rebuilders
// and refused attacks, printed step by step.
import type { Command } from 'commander';
import { runDemo } from '../../demo/index.js';
import type { CliContext } from './types.js';

export function register(program: Command, context: CliContext): void {
  program
    .command('demo')
    .description('run the whole flow locally: publish, witnesses co-sign, serve, verify downloads, refuse attacks')
    .option('--dir <dir>', 'work directory (default: a new temporary directory)')
    .option('--keep', 'keep the work directory afterwards', false)
    .action(async (opts: { dir?: string; keep: boolean }) => {
      const out = context.output();
      const summary = await runDemo({ ...(opts.dir ? { dir: opts.dir } : {}), keep: opts.keep, say: (line) => out.info(line) });
      out.result(summary, [
        '',
        `demo finished: ${summary.downloaded.length} targets verified and installed, ${summary.refused.length} attacks refused, every release co-signed by the witnesses.`,
        summary.kept ? `work directory kept: ${summary.workDir}` : 'work directory removed (use --keep to look at it).',
      ]);
    });
}
