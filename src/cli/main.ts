// cli/main.ts: the `cairn` command line (docs/cli.md). Each command group lives in cli/commands/
// and is imported only when it runs: main reads the group's name from argv and loads that module
// alone, registering the others as stubs that only describe themselves, so `cairn --help`,
// `cairn --version` and each command start without loading what they do not use. Global options
// (--json, --debug, --quiet) apply to all groups; none of them takes a value.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help } from 'commander';
import { Output } from './output.js';
import { UsageError } from '../errors/index.js';
import type { CommandModule } from './commands/types.js';

export interface CommandGroup {
  name: string;
  /** The group as `cairn --help` lists it (commander's usage term), for its stub. */
  term: string;
  description: string;
  load(): Promise<CommandModule>;
}

/** Every command group, in the order `cairn --help` lists them (test/cli/main.test.ts checks each against its module). */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  {
    name: 'demo',
    term: 'demo [options]',
    description: 'run the whole flow locally: publish, witnesses co-sign, serve, verify downloads, refuse attacks',
    load: () => import('./commands/demo.js'),
  },
  {
    name: 'pack',
    term: 'pack [options] <dir>',
    description: 'make a reproducible package archive from a directory holding a cairn-package.json manifest',
    load: () => import('./commands/pack.js'),
  },
  {
    name: 'remote',
    term: 'remote',
    description: 'the repositories packages come from, each pinned to its trust anchor',
    load: () => import('./commands/packages.js').then((m) => m.remoteCommand),
  },
  {
    name: 'install',
    term: 'install [options] [packages...]',
    description: 'install packages and their dependencies, verified, into a new generation',
    load: () => import('./commands/packages.js').then((m) => m.installCommand),
  },
  {
    name: 'update',
    term: 'update [options] [packages...]',
    description: 'update installed packages (all when none is named) to the newest verified versions',
    load: () => import('./commands/packages.js').then((m) => m.updateCommand),
  },
  {
    name: 'remove',
    term: 'remove [options] <packages...>',
    description: 'remove packages (what only they needed goes too) into a new generation',
    load: () => import('./commands/packages.js').then((m) => m.removeCommand),
  },
  {
    name: 'list',
    term: 'list [options]',
    description: 'list the packages of the active generation',
    load: () => import('./commands/packages.js').then((m) => m.listCommand),
  },
  {
    name: 'bundle',
    term: 'bundle',
    description: 'offline bundles: packages with everything needed to verify them, for a machine with no network',
    load: () => import('./commands/packages.js').then((m) => m.bundleCommand),
  },
  {
    name: 'search',
    term: 'search [options] <text>',
    description: "find packages by name or description in the remotes' verified package indexes",
    load: () => import('./commands/packages.js').then((m) => m.searchCommand),
  },
  {
    name: 'info',
    term: 'info [options] <package>',
    description: "versions, size, requested permissions, verifiers' verdicts and the witnessed block of a package",
    load: () => import('./commands/packages.js').then((m) => m.infoCommand),
  },
  {
    name: 'generations',
    term: 'generations [options]',
    description: 'list the kept generations',
    load: () => import('./commands/packages.js').then((m) => m.generationsCommand),
  },
  {
    name: 'rollback',
    term: 'rollback [options]',
    description: 'switch back to the generation the active one replaced (its parent), or to any kept one',
    load: () => import('./commands/packages.js').then((m) => m.rollbackCommand),
  },
  {
    name: 'gc',
    term: 'gc [options]',
    description: 'remove store paths no kept generation references (and, with --keep, older generations)',
    load: () => import('./commands/packages.js').then((m) => m.gcCommand),
  },
  {
    name: 'verify',
    term: 'verify [options]',
    description: 're-hash the store against its records and name any difference',
    load: () => import('./commands/packages.js').then((m) => m.verifyCommand),
  },
  {
    name: 'permissions',
    term: 'permissions [options] <app>',
    description: 'what an installed app requests, and what you granted it',
    load: () => import('./commands/permissions.js').then((m) => m.permissionsCommand),
  },
  {
    name: 'grant',
    term: 'grant [options] <app> <permission>',
    description: 'allow an app a permission it requests (network, folder and device grant every one of that family it requests)',
    load: () => import('./commands/permissions.js').then((m) => m.grantCommand),
  },
  {
    name: 'revoke',
    term: 'revoke [options] <app> <permission>',
    description: 'take back a permission granted to an app (network, folder and device revoke every one of that family)',
    load: () => import('./commands/permissions.js').then((m) => m.revokeCommand),
  },
  {
    name: 'audit',
    term: 'audit [options] [app]',
    description: 'the audit trail of grants and revocations, checked whole (who, what, when)',
    load: () => import('./commands/permissions.js').then((m) => m.auditCommand),
  },
  {
    name: 'run',
    term: 'run [options] <app>',
    description: 'boot an installed app in its own VM (QEMU) and exit with its status',
    load: () => import('./commands/run.js').then((m) => m.runCommand),
  },
  {
    name: 'ps',
    term: 'ps [options]',
    description: 'the apps whose VM is running',
    load: () => import('./commands/run.js').then((m) => m.psCommand),
  },
  {
    name: 'stop',
    term: 'stop [options] <app>',
    description: 'stop a running app\'s VM',
    load: () => import('./commands/run.js').then((m) => m.stopCommand),
  },
  {
    name: 'runtime',
    term: 'runtime',
    description: 'the guest kernel and initramfs apps boot',
    load: () => import('./commands/run.js').then((m) => m.runtimeCommand),
  },
  {
    name: 'import',
    term: 'import',
    description: 'take upstream releases exactly as their authors published them, through a verified chain',
    load: () => import('./commands/import.js').then((m) => m.importCommand),
  },
  {
    name: 'tuf',
    term: 'tuf [options]',
    description: 'TUF client: init a trust anchor, refresh metadata, download verified targets (conformance-suite protocol)',
    load: () => import('./commands/tuf.js'),
  },
  {
    name: 'serve',
    term: 'serve [options] <dir>',
    description: 'serve a repository directory read-only over HTTP (a mirror)',
    load: () => import('./commands/serve.js'),
  },
  { name: 'key', term: 'key', description: 'Ed25519 signing keys for repository roles', load: () => import('./commands/key.js') },
  {
    name: 'repo',
    term: 'repo',
    description: 'publish a TUF repository: keys, targets, delegations, signing, publishing',
    load: () => import('./commands/repo.js'),
  },
  {
    name: 'build',
    term: 'build [options] [source]',
    description: 'build an artifact reproducibly from a source tree: source archive, artifact and release declaration in one step',
    load: () => import('./commands/build.js'),
  },
  {
    name: 'rebuild',
    term: 'rebuild',
    description: 'verify builds: rebuild artifacts from their declared source and sign in-toto/DSSE attestations',
    load: () => import('./commands/rebuild.js'),
  },
  {
    name: 'witness',
    term: 'witness',
    description: 'run a witness: check proposed releases against the policy and co-sign them',
    load: () => import('./commands/witness.js'),
  },
  {
    name: 'log',
    term: 'log',
    description: 'the witnessed release log: create it, co-sign head statements, change the roster',
    load: () => import('./commands/log.js'),
  },
  {
    name: 'monitor',
    term: 'monitor [options]',
    description: 'follow a release log from several mirrors and witnesses; raise an alarm (exit 1, a line, a proof file) on a fork, equivocation, rollback, unauthorized roster or root change, invalid block, bad checkpoint or stale head',
    load: () => import('./commands/monitor.js'),
  },
];

/**
 * The command group `argv` runs: its first word that is not an option (the global options take
 * no value, so no option's value can be mistaken for it), or the word after `help`. Undefined
 * when argv names no group (`cairn --help`, `cairn --version`, a typo), which loads none.
 */
export function selectedGroup(argv: readonly string[], groups: readonly CommandGroup[] = COMMAND_GROUPS): CommandGroup | undefined {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      words.push(...argv.slice(i + 1, i + 3));
      break;
    }
    if (!arg.startsWith('-')) words.push(arg);
  }
  const name = words[0] === 'help' ? words[1] : words[0];
  return groups.find((g) => g.name === name);
}

/** cairn's version, from its package.json (beside dist/ and src/ alike). */
function cairnVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Runs the command line on `argv` (without the node and script paths); resolves with the exit code. */
export async function main(argv: string[], groups: readonly CommandGroup[] = COMMAND_GROUPS): Promise<number> {
  const stubTerms = new Map<Command, string>();
  const program = new Command('cairn')
    .description('Secure software distribution: TUF repositories, witnessed releases, verified builds')
    .option('--json', 'machine-readable output (one JSON document)', false)
    .option('--debug', 'show stack traces and internal details', false)
    .option('-q, --quiet', 'print only results and errors', false)
    .version(cairnVersion(), '--version', 'print the version of cairn')
    .exitOverride()
    // Usage errors are reported by Output like every other error (one JSON document with --json,
    // so the help commander prints before a missing command's error is left out then).
    .configureOutput({ writeErr: (s) => void (argv.includes('--json') || process.stderr.write(s)), outputError: () => undefined })
    .configureHelp({
      subcommandTerm(this: Help, cmd: Command): string {
        return stubTerms.get(cmd) ?? Help.prototype.subcommandTerm.call(this, cmd);
      },
    });

  let exitCode = 0;
  const context = {
    output: (): Output => {
      const o = program.opts<{ json?: boolean; debug?: boolean; quiet?: boolean }>();
      // A usage error can come before commander read the global options: argv says then.
      const flag = (value: boolean | undefined, ...names: string[]): boolean => value === true || names.some((n) => argv.includes(n));
      return new Output({ json: flag(o.json, '--json'), debug: flag(o.debug, '--debug'), quiet: flag(o.quiet, '-q', '--quiet') });
    },
    setExitCode: (code: number): void => {
      exitCode = code;
    },
  };
  const selected = selectedGroup(argv, groups);
  for (const group of groups) {
    if (group === selected) {
      (await group.load()).register(program, context);
      continue;
    }
    // A stub only describes its group in `cairn --help`; argv never runs it (it names another group or none).
    const stub = program.command(group.name).description(group.description).action(() => {
      throw new Error(`command group ${group.name} was not loaded`);
    });
    stubTerms.set(stub, group.term);
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || (e.code === 'commander.help' && e.exitCode === 0)) return 0;
      const path = commandPath(program, argv);
      const code = context.output().error(usageErrorOf(e, path));
      // The TUF conformance protocol of `cairn tuf`: any failure is exit code 1, usage errors included.
      return path[0] === 'tuf' ? 1 : code;
    }
    return context.output().error(e);
  }
  return exitCode;
}

const USAGE_CODES: Readonly<Record<string, UsageError['code']>> = {
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.missingArgument': 'MISSING_ARGUMENT',
  'commander.missingMandatoryOptionValue': 'MISSING_ARGUMENT',
  'commander.optionMissingArgument': 'MISSING_ARGUMENT',
  'commander.conflictingOption': 'CONFLICT',
};

/** The words of the deepest command argv names (`repo add`), for a hint. */
function commandPath(program: Command, argv: readonly string[]): string[] {
  const path: string[] = [];
  let at = program;
  for (const word of argv) {
    const sub = at.commands.find((c) => c.name() === word);
    if (!sub) continue;
    path.push(word);
    at = sub;
  }
  return path;
}

/**
 * A usage error commander found (unknown command or option, missing argument, a group run without
 * one of its commands, after which commander printed the help), as a typed error.
 */
function usageErrorOf(e: CommanderError, command: readonly string[]): UsageError {
  const hint = `see cairn ${[...command, '--help'].join(' ')}`;
  if (e.code === 'commander.help') return new UsageError('MISSING_ARGUMENT', `${['cairn', ...command].join(' ')} needs a command`, { hint });
  return new UsageError(USAGE_CODES[e.code] ?? 'BAD_ARGUMENT', e.message.replace(/^error: /, ''), { hint });
}
