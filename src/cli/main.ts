// cli/main.ts: the `cairn` command line. Each command group lives in cli/commands/ and
// registers itself here; global options (--json, --debug, --quiet) apply to all of them.
import { Command, CommanderError } from 'commander';
import { Output } from './output.js';
import { EXIT } from '../errors/index.js';
import type { CommandModule } from './commands/types.js';

const MODULES: Array<() => Promise<CommandModule>> = [
  // Each module exports `register`; one line per command group.
  () => import('./commands/demo.js'),
  () => import('./commands/tuf.js'),
  () => import('./commands/serve.js'),
  () => import('./commands/key.js'),
  () => import('./commands/repo.js'),
  () => import('./commands/build.js'),
  () => import('./commands/rebuild.js'),
  () => import('./commands/witness.js'),
  () => import('./commands/log.js'),
];

export async function main(argv: string[]): Promise<number> {
  const program = new Command('cairn')
    .description('Secure software distribution: TUF repositories, witnessed releases, verified builds')
    .option('--json', 'machine-readable output (one JSON document)', false)
    .option('--debug', 'show stack traces and internal details', false)
    .option('-q, --quiet', 'print only results and errors', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let exitCode = 0;
  const context = {
    output: (): Output => {
      const o = program.opts<{ json: boolean; debug: boolean; quiet: boolean }>();
      return new Output({ json: o.json, debug: o.debug, quiet: o.quiet });
    },
    setExitCode: (code: number): void => {
      exitCode = code;
    },
  };
  for (const load of MODULES) (await load()).register(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return EXIT.usage;
    }
    return context.output().error(e);
  }
  return exitCode;
}
