// cli/commands/run.ts: running apps (docs/apps.md "Running", "Runtime"): `cairn run APP` boots the
// app's VM and exits with the app's status; `cairn runtime build` makes the guest kernel and
// initramfs from Debian's packages. Each parses, calls one function of apps/, and prints.
import { join, resolve } from 'node:path';
import { buildRuntime, runApp, runningApps, stopApp } from '../../apps/index.js';
import { positiveInt } from '../options.js';
import { scoped, storeRoot, type ScopeOpts } from '../scope.js';
import type { CommandModule } from './types.js';

/** The most lines of the app's output `cairn run --json` puts in its result. */
const MAX_RESULT_LINES = 10_000;

export const runCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('run').description('boot an installed app in its own VM (QEMU) and exit with its status')
      .argument('<app>', 'the app')
      .option('--command <name>', 'the entry point to run, when the app has several')
      .option('--runtime <dir>', 'the runtime (guest kernel and initramfs; default STORE/runtime, made by cairn runtime build)')
      .option('--timeout <seconds>', 'stop the VM after this long', positiveInt('--timeout'))
      .option('--network-uplink <netns>', 'the named network namespace a networked app\'s link goes to (default: the host\'s)'))
      .action(async (app: string, opts: ScopeOpts & { command?: string; runtime?: string; timeout?: number; networkUplink?: string }) => {
        const out = context.output();
        const output: string[] = [];
        const result = await runApp(storeRoot(opts), app, {
          ...(opts.command === undefined ? {} : { command: opts.command }),
          ...(opts.runtime === undefined ? {} : { runtimeDir: resolve(opts.runtime) }),
          ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout * 1000 }),
          ...(opts.networkUplink === undefined ? {} : { networkUplink: opts.networkUplink }),
          onOutput: (line) => {
            if (output.length < MAX_RESULT_LINES) output.push(line); // the --json result's copy is capped; the lines printed are not
            out.info(line);
          },
          onNotice: (line) => out.warn(line),
        });
        out.result({ ...result, output }, []);
        context.setExitCode(result.exitCode);
      });
  },
};

export const runtimeCommand: CommandModule = {
  register(program, context) {
    const runtime = program.command('runtime').description('the guest kernel and initramfs apps boot');
    scoped(runtime.command('build').description('build the runtime from Debian\'s kernel and busybox-static packages (through apt), hashes checked against apt\'s index')
      .option('--out <dir>', 'where to write it (default STORE/runtime)')
      .option('--package-version <version>', 'also write a cairn-package.json with this version, so that cairn pack makes the runtime a package')
      .option('--package-name <name>', 'the package\'s name (with --package-version)', 'cairn-runtime'))
      .action(async (opts: ScopeOpts & { out?: string; packageVersion?: string; packageName: string }) => {
        const out = context.output();
        const dir = opts.out ?? join(storeRoot(opts), 'runtime');
        const asPackage = opts.packageVersion === undefined ? undefined : { name: opts.packageName, version: opts.packageVersion };
        const description = await buildRuntime(dir, (line) => out.info(line), asPackage);
        out.result({ dir, ...description, ...(asPackage === undefined ? {} : { package: asPackage }) }, [
          `runtime in ${dir}`, ...(asPackage === undefined ? [] : [`a package source directory for ${asPackage.name} ${asPackage.version}: cairn pack ${dir}`]),
        ]);
      });
  },
};

export const psCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('ps').description('the apps whose VM is running'))
      .action(async (opts: ScopeOpts) => {
        const running = await runningApps(storeRoot(opts));
        context.output().result(running, running.length === 0 ? 'no app is running' : running.map((r) => `${r.app}\tpid ${r.pid}\tuid ${r.uid}\tsince ${r.startedAt}`));
      });
  },
};

export const stopCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('stop').description('stop a running app\'s VM')
      .argument('<app>', 'the app'))
      .action(async (app: string, opts: ScopeOpts) => {
        const stopped = await stopApp(storeRoot(opts), app);
        context.output().result(stopped, `stopped ${app} (pid ${stopped.pid})`);
      });
  },
};
