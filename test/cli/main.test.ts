// test/cli/main.test.ts: how `cairn` starts (docs/cli.md): main loads only the command group argv
// names, each group's stub in `cairn --help` says what its module registers, `--version` prints
// the package version, and bin/cairn.js without a build says what to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Help } from 'commander';
import { COMMAND_GROUPS, main, selectedGroup, type CommandGroup } from '../../src/cli/index.js';
import { CAIRN_BIN, runCli } from '../fixtures/cairn-process.js';

const T = { timeout: 60_000 };

test('each group\'s stub lists it in `cairn --help` as its module registers it', T, async () => {
  for (const group of COMMAND_GROUPS) {
    const program = new Command('cairn');
    (await group.load()).register(program, { output: () => assert.fail('not run'), setExitCode: () => undefined });
    assert.equal(program.commands.length, 1, `${group.name} registers one command`);
    const cmd = program.commands[0]!;
    assert.equal(cmd.name(), group.name);
    assert.equal(cmd.description(), group.description, `description of ${group.name}`);
    assert.equal(new Help().subcommandTerm(cmd), group.term, `usage term of ${group.name}`);
  }
});

test('the group is the first word that is not an option, or the word after help', () => {
  const name = (argv: string[]): string | undefined => selectedGroup(argv)?.name;
  assert.equal(name(['--help']), undefined);
  assert.equal(name(['--version']), undefined);
  assert.equal(name([]), undefined);
  assert.equal(name(['bogus', 'tuf']), undefined);
  assert.equal(name(['--json', '-q', 'tuf', '--metadata-dir', 'repo', 'refresh']), 'tuf');
  assert.equal(name(['--debug', 'repo', 'init', 'log']), 'repo');
  assert.equal(name(['help', 'witness']), 'witness');
  assert.equal(name(['--quiet', '--', 'log', 'status']), 'log');
});

test('main loads only the group argv names, none without one', T, async () => {
  const loaded: string[] = [];
  const recording: CommandGroup[] = COMMAND_GROUPS.map((g) => ({ ...g, load: () => (loaded.push(g.name), g.load()) }));
  // Each of these prints only to stderr (help without a command, usage errors).
  const run = async (argv: string[]): Promise<{ code: number; loaded: string[]; stderr: string }> => {
    loaded.length = 0;
    let stderr = '';
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += chunk.toString()), true)) as typeof process.stderr.write;
    try {
      const code = await main(argv, recording);
      return { code, loaded: [...loaded], stderr };
    } finally {
      process.stderr.write = write;
    }
  };
  const bare = await run([]);
  assert.deepEqual(bare.loaded, []);
  for (const g of COMMAND_GROUPS) assert.match(bare.stderr, new RegExp(`^  ${g.term.replace(/[[\]]/g, '\\$&')} `, 'm'));

  // (With --json the same error is one JSON document on stdout: test/cli/contract.test.ts.)
  const typo = await run(['-q', 'bogus']);
  assert.deepEqual(typo, { code: 2, loaded: [], stderr: "error [UNKNOWN_COMMAND]: unknown command 'bogus'\nhint: see cairn --help\n" });

  const key = await run(['-q', 'key', 'bogus']);
  assert.deepEqual(key.loaded, ['key']);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /unknown command 'bogus'/);

  const log = await run(['--debug', '--', 'log', 'bogus']);
  assert.deepEqual(log.loaded, ['log']);
  assert.equal(log.code, 2);
});

test('cairn --help lists every group, --version prints the package version, help GROUP is GROUP --help', T, async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const listed = help.stdout.split('\n').filter((l) => /^ {2}[a-z]/.test(l)).map((l) => l.trim().split(/ {2,}/)[0]);
  assert.deepEqual(listed.slice(-COMMAND_GROUPS.length - 1), [...COMMAND_GROUPS.map((g) => g.term), 'help [command]']);
  assert.match(help.stdout, /^ {2}--version +print the version of cairn$/m);

  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const version = await runCli(['--version']);
  assert.deepEqual(version, { code: 0, signal: null, stdout: `${pkg.version}\n`, stderr: '' });

  const [viaHelp, viaFlag] = await Promise.all([runCli(['help', 'repo']), runCli(['repo', '--help'])]);
  assert.equal(viaHelp.code, 0, viaHelp.stderr);
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  assert.match(viaHelp.stdout, /^Usage: cairn repo /);
});

test('bin/cairn.js without a build says what to run, in one line, with exit code 70', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-unbuilt-'));
  try {
    await mkdir(join(dir, 'bin'));
    const bin = join(dir, 'bin', 'cairn.js');
    await copyFile(CAIRN_BIN, bin);
    const run = (args: string[]): { code: number; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const human = run(['--help']);
    assert.equal(human.code, 70);
    assert.equal(human.stdout, '');
    assert.match(human.stderr, /^error \[NOT_BUILT\]: cairn is not built \(.*dist\/cli\/main\.js is missing\): run `npm run build` in .*\n$/);
    const json = run(['--json', 'tuf', 'refresh']);
    assert.equal(json.code, 70);
    assert.equal((JSON.parse(json.stdout) as { code: string }).code, 'NOT_BUILT');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
