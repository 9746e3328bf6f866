// cli/commands/packages.ts: the package manager's commands (docs/cli.md "Installing software";
// docs/packages.md): remote, install, update, remove, list, generations, rollback, gc, verify,
// info. Each command group of cli/main.ts loads this module and registers its own command;
// every command parses, calls one function of store/, and prints. Downloads show a progress bar
// on a terminal and plain lines otherwise; --json prints one document.
import type { Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import { EXIT, UsageError } from '../../errors/index.js';
import {
  ConsentNeededError, addRemote, backgroundUpdate, createBundle, readHeldUpdates, formatAge, installBundle, type BundleInstallResult, describePackage, installPackages, listRemotes, openStore, removePackages, removeRemote, searchPackages, updatePackages,
  type InstallEvent, type PackageInfo, type PackageManagerOptions, type TransactionResult,
} from '../../store/index.js';
import { collectStoreGarbage } from '../../apps/index.js';
import { describePermission } from '../../package/index.js';
import { collect, durationOption, positiveInt } from '../options.js';
import type { Output } from '../output.js';
import type { CliContext, CommandModule } from './types.js';
import { scoped, storeRoot, type ScopeOpts } from '../scope.js';

/** The --proxy option of a command that talks to remotes. */
function networked(c: Command): Command {
  return c.option('--proxy <url>', 'send every request through this SOCKS5 proxy, names resolved by the proxy (socks5h://127.0.0.1:9050 for Tor)');
}

/** The proxy given with --proxy, as the lower layers take it. */
function proxyOf(opts: ScopeOpts): { proxy?: string } {
  return opts.proxy === undefined ? {} : { proxy: opts.proxy };
}

/** Progress of downloads and extraction: a bar redrawn in place on a terminal, a line per package otherwise. */
function progressPrinter(out: Output): (event: InstallEvent) => void {
  const tty = process.stdout.isTTY === true && !out.options.json && !out.options.quiet;
  let lastDraw = 0;
  let finished: string | undefined;
  const draw = (label: string, done: number, total: number): void => {
    if (!tty || finished === label) return;
    const now = Date.now();
    if (now - lastDraw < 100 && done < total) return;
    lastDraw = now;
    if (done >= total) finished = label;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
    process.stdout.write(`\r  ${label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mib(done)}/${mib(total)}`);
    if (done >= total) process.stdout.write('\n');
  };
  return (event) => {
    switch (event.type) {
      case 'download-progress':
        draw(event.target, event.received, event.total);
        return;
      case 'unpack-progress':
        draw(`unpacking ${event.name} ${event.version}`, event.written, event.total);
        return;
      case 'downloaded':
        out.info(`  ${event.cached ? 'cached' : 'downloaded'} ${event.target} (${mib(event.bytes)}, verified)`);
        return;
      case 'mirror-skipped':
        out.warn(`mirror ${event.url} of ${event.remote} skipped: [${event.code}] ${event.message}`);
        return;
      case 'refreshed':
        out.info(`${event.remote}: verified metadata from ${event.url}`);
        return;
      case 'unpacking':
        out.info(`  unpacking ${event.name} ${event.version} into the store`);
        return;
      case 'held':
        out.warn(`held ${event.name} at ${event.installed}: ${event.available} requests more permissions (${event.increase.join(', ')})`);
        return;
      case 'resolved':
        return;
    }
  };
}

function mib(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function transactionLines(result: TransactionResult): string[] {
  const held = result.held.map((h) => `held ${h.name} at ${h.installed} (${h.available} requests more permissions: ${h.increase.join(', ')}; cairn update --accept-permissions ${h.name} consents)`);
  if (result.unchanged) return [...held, held.length ? 'nothing else to do' : 'nothing to do: the active generation already has it'];
  return [
    ...result.added.map((a) => `installed ${a.name} ${a.version}${a.permissions.length === 0 ? '' : ` (requests, not granted: ${a.permissions.join(', ')})`}`),
    ...result.updated.map((u) => `updated ${u.name} ${u.from} -> ${u.to}${u.increase.length === 0 ? '' : ` (now requests also: ${u.increase.join(', ')})`}`),
    ...result.removed.map((r) => `removed ${r.name} ${r.version}`),
    ...held,
    ...result.keptAsDependency.map((k) => `kept ${k.name}: needed by ${k.neededBy.join(', ')}`),
    result.generation!.parent === null
      ? `generation ${result.generation!.number} is active (the first: nothing to roll back to)`
      : `generation ${result.generation!.number} is active (cairn rollback returns to ${result.generation!.parent})`,
  ];
}

/** Says, on every interactive run, which updates the background update held for their permissions. */
async function heldNotice(out: Output, root: string): Promise<void> {
  const held = await readHeldUpdates(root);
  if (!held) return;
  for (const h of held.held) out.warn(`update held since ${held.checkedAt}: ${h.name} ${h.installed} -> ${h.available} requests more permissions (${h.increase.join(', ')}); cairn update ${h.name} shows them and asks`);
}

/**
 * Runs a transaction; when an update needs consent and a person is at the terminal, shows the
 * difference and asks, then runs it again accepting exactly what was shown.
 */
async function withConsent(out: Output, options: PackageManagerOptions, run: (o: PackageManagerOptions) => Promise<TransactionResult>): Promise<TransactionResult> {
  try {
    return await run(options);
  } catch (e) {
    if (!(e instanceof ConsentNeededError) || !process.stdin.isTTY || out.options.json) throw e;
    for (const item of e.items) {
      process.stdout.write(`${item.installed === null ? `${item.name} ${item.available} (a new dependency)` : `${item.name} ${item.installed} -> ${item.available}`} requests:\n`);
      for (const p of item.increase) process.stdout.write(`  ${p}: ${describePermission(p)}\n`);
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question('Activate with these permissions requested? Nothing is granted until you grant it. [y/N] ');
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) throw e;
    // Consent covers exactly what was shown: a release published meanwhile that asks for more is asked about again.
    return run({ ...options, acceptPermissions: [...(Array.isArray(options.acceptPermissions) ? options.acceptPermissions : []), ...e.items] });
  }
}

interface TransactionOpts extends ScopeOpts {
  acceptPermissions?: boolean;
  permissionChanges?: boolean;
}

function transactionOptions(c: Command): Command {
  return networked(scoped(c))
    .option('--accept-permissions', 'activate updates that request more permissions (you consent to what they request)', false)
    .option('--no-permission-changes', 'hold updates that request more permissions at their installed version');
}

function managerOptions(opts: TransactionOpts, out: Output): PackageManagerOptions {
  return {
    storeRoot: storeRoot(opts),
    ...proxyOf(opts),
    acceptPermissions: opts.acceptPermissions === true,
    holdPermissionChanges: opts.permissionChanges === false,
    onEvent: progressPrinter(out),
  };
}

export const remoteCommand: CommandModule = {
  register(program, context: CliContext) {
    const remote = program.command('remote').description('the repositories packages come from, each pinned to its trust anchor');
    scoped(remote.command('add').description('add a remote: its root.json (from the publisher, by a channel you trust) and log block are pinned, never taken on first use')
      .argument('<name>', 'a short name').argument('<url>', 'base URL of the repository (what cairn serve serves)')
      .requiredOption('--root <file>', 'the root.json to trust')
      .option('--log-anchor <hash>', 'the log block to pin (HASH or INDEX:HASH): only releases the witnesses co-signed are accepted')
      .option('--mirror <url>', 'another URL serving the same repository (repeatable, tried in order)', collect, [])
      .option('--proxy <url>', 'a SOCKS5 proxy this remote is always reached through (socks5h://HOST:PORT; onion mirrors)'))
      .action(async (name: string, url: string, opts: ScopeOpts & { root: string; logAnchor?: string; mirror: string[] }) => {
        const out = context.output();
        const added = await addRemote(storeRoot(opts), {
          name, url, rootFile: opts.root, mirrors: opts.mirror,
          ...(opts.logAnchor === undefined ? {} : { logAnchor: opts.logAnchor }),
          ...proxyOf(opts),
        });
        out.result(added, [`added remote ${added.name} ${added.url}${added.witnessed ? ' (witnessed: log block pinned)' : ''}`, ...(added.witnessed ? [] : ['warning: no --log-anchor: releases are checked by TUF only, not against the witnessed log'])]);
      });
    scoped(remote.command('list').description('list the remotes'))
      .action(async (opts: ScopeOpts) => {
        const remotes = await listRemotes(storeRoot(opts));
        context.output().result(remotes, remotes.length === 0 ? 'no remotes (cairn remote add NAME URL --root FILE --log-anchor HASH)' : remotes.map((r) => `${r.name}\t${r.url}${r.mirrors.length ? ` (+${r.mirrors.length} mirrors)` : ''}\t${r.witnessed ? 'witnessed' : 'TUF only'}${r.proxy ? `\tproxy ${r.proxy}` : ''}`));
      });
    scoped(remote.command('remove').description('remove a remote (installed packages stay)').argument('<name>'))
      .action(async (name: string, opts: ScopeOpts) => {
        await removeRemote(storeRoot(opts), name);
        context.output().result({ removed: name }, `removed remote ${name}`);
      });
  },
};

export const installCommand: CommandModule = {
  register(program, context) {
    transactionOptions(program.command('install').description('install packages and their dependencies, verified, into a new generation')
      .argument('[packages...]', 'NAME, NAME@VERSION or NAME@RANGE')
      .option('--from <bundle>', 'install every package of an offline bundle (cairn bundle create), with no network')
      .option('--root <file>', 'with --from: the root.json to trust, when no remote of the bundle\'s name is configured')
      .option('--log-anchor <hash>', 'with --from and --root: the log block to pin')
      .option('--allow-stale', 'with --from: accept expired metadata or an old head statement, verified as of the last moment its signed data was valid (you may miss later security fixes)', false))
      .action(async (packages: string[], opts: TransactionOpts & { from?: string; root?: string; logAnchor?: string; allowStale: boolean }) => {
        const out = context.output();
        const options = managerOptions(opts, out);
        if (opts.from === undefined) {
          if (packages.length === 0) throw new UsageError('MISSING_ARGUMENT', 'name the packages to install, or give --from BUNDLE');
          const result = await withConsent(out, options, (o) => installPackages(o, packages));
          out.result(result, transactionLines(result));
          await heldNotice(out, options.storeRoot);
          return;
        }
        if (packages.length > 0) throw new UsageError('CONFLICT', 'with --from, every package of the bundle is installed: name none');
        const bundleFile = opts.from;
        let made: Omit<BundleInstallResult, 'result'> | undefined;
        const result = await withConsent(out, options, async (o) => {
          const { result: transaction, ...rest } = await installBundle({
            ...o, allowStale: opts.allowStale,
            ...(opts.root === undefined ? {} : { rootFile: opts.root }), ...(opts.logAnchor === undefined ? {} : { logAnchor: opts.logAnchor }),
          }, bundleFile);
          made = rest;
          return transaction;
        });
        const { bundle, ageSeconds, verifiedAsOf } = made!;
        const stale = verifiedAsOf === undefined ? [] : [`STALE: its signed metadata stopped being valid ${formatAge(Math.round((Date.now() - Date.parse(verifiedAsOf)) / 1000))} ago; verified as of ${verifiedAsOf} (--allow-stale): later security fixes may be missing`];
        out.result({ ...result, bundle, ageSeconds, ...(verifiedAsOf === undefined ? {} : { verifiedAsOf }) }, [`bundle from ${bundle.remote.name}, made ${bundle.createdAt} as it says (${formatAge(ageSeconds)} ago)`, ...stale, ...transactionLines(result)]);
      });
  },
};

export const bundleCommand: CommandModule = {
  register(program, context) {
    const bundle = program.command('bundle').description('offline bundles: packages with everything needed to verify them, for a machine with no network');
    networked(scoped(bundle.command('create').description('write one file with the metadata, log path, attestations and archives that installing the packages needs')
      .argument('<packages...>', 'NAME, NAME@VERSION or NAME@RANGE')
      .requiredOption('-o, --output <file>', 'the bundle file to write')
      .requiredOption('--remote <name>', 'the remote to bundle from')))
      .action(async (packages: string[], opts: ScopeOpts & { output: string; remote: string }) => {
        const out = context.output();
        const d = await createBundle({ storeRoot: storeRoot(opts), remote: opts.remote, packages, out: opts.output, ...proxyOf(opts) });
        out.result(d, [`wrote ${opts.output}: ${d.packages.map((p) => `${p.name} ${p.version}`).join(', ')} (${d.files} files, ${mib(d.bytes)})`, `install it with: cairn install --from ${opts.output} [--root ROOT_FILE --log-anchor HASH]`]);
      });
  },
};

export const updateCommand: CommandModule = {
  register(program, context) {
    transactionOptions(program.command('update').description('update installed packages (all when none is named) to the newest verified versions')
      .argument('[packages...]', 'package names')
      .option('--background', 'one unattended update of the user scope: activate what needs no new permission, hold the rest (what the systemd timer runs)', false)
      .option('--watch', 'run --background now and then every --interval until stopped', false)
      .option('--interval <duration>', 'with --watch: time between checks, e.g. 30m, 6h', durationOption('--interval'), 6 * 3600))
      .action(async (packages: string[], opts: TransactionOpts & { background: boolean; watch: boolean; interval: number }) => {
        const out = context.output();
        const options = managerOptions(opts, out);
        if (!opts.background && !opts.watch) {
          const result = await withConsent(out, options, (o) => updatePackages(o, packages));
          out.result(result, transactionLines(result));
          await heldNotice(out, options.storeRoot);
          return;
        }
        if (opts.system) throw new UsageError('CONFLICT', 'system-scope updates happen only when you ask: cairn update --system [PACKAGES]', { hint: 'background updates are for the user scope' });
        if (packages.length > 0) throw new UsageError('CONFLICT', 'a background update checks every installed package: name none');
        for (;;) {
          const run = await backgroundUpdate(options).catch((e: unknown) => ({ error: e }));
          if ('error' in run) out.event('update-failed', { error: String((run.error as Error).message) }, `update failed (the active generation is unchanged): ${(run.error as Error).message}`, 'warning');
          else if (run.skipped) out.event('update-skipped', { reason: run.skipped }, `update skipped: ${run.skipped}`);
          else out.event('updated', run.result!, transactionLines(run.result!).join('\n'));
          if (!opts.watch) return;
          await new Promise((r) => setTimeout(r, opts.interval * 1000));
        }
      });
  },
};

export const removeCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('remove').description('remove packages (what only they needed goes too) into a new generation').argument('<packages...>'))
      .action(async (packages: string[], opts: ScopeOpts) => {
        const out = context.output();
        const result = await removePackages({ storeRoot: storeRoot(opts) }, packages);
        out.result(result, transactionLines(result));
      });
  },
};

export const listCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('list').description('list the packages of the active generation'))
      .action(async (opts: ScopeOpts) => {
        const store = await openStore(storeRoot(opts));
        const current = await store.current();
        const packages = Object.entries(current?.packages ?? {}).map(([name, p]) => ({ name, ...p }));
        await heldNotice(context.output(), storeRoot(opts));
        context.output().result({ generation: current?.number ?? null, packages }, current === undefined ? 'nothing installed' : packages.map((p) => `${p.name}\t${p.version}\t${p.remote}${p.explicit ? '' : '\t(dependency)'}${p.permissions.length ? `\trequests ${p.permissions.join(', ')}` : ''}`));
      });
  },
};

export const generationsCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('generations').description('list the kept generations'))
      .action(async (opts: ScopeOpts) => {
        const generations = await (await openStore(storeRoot(opts))).generations();
        context.output().result(generations, generations.length === 0 ? 'no generations yet' : generations.map((g) => `${g.active ? '*' : ' '} ${g.number}\t${g.createdAt}\tparent ${g.parent ?? '-'}\t${g.reason}\t(${Object.keys(g.packages).length} packages)`));
      });
  },
};

export const rollbackCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('rollback').description('switch back to the generation the active one replaced (its parent), or to any kept one')
      .option('--to <n>', 'the generation to activate', positiveInt('--to')))
      .action(async (opts: ScopeOpts & { to?: number }) => {
        const store = await openStore(storeRoot(opts));
        const r = await store.rollback(opts.to);
        context.output().result(r, `rolled back: generation ${r.to} is active (was ${r.from})`);
      });
  },
};

export const gcCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('gc').description('remove store paths no kept generation references (and, with --keep, older generations)')
      .option('--keep <n>', 'keep only the newest N generations (the active one is always kept)', positiveInt('--keep')))
      .action(async (opts: ScopeOpts & { keep?: number }) => {
        const r = await collectStoreGarbage(storeRoot(opts), opts.keep === undefined ? {} : { keepGenerations: opts.keep });
        context.output().result(r, [
          `removed ${r.removedGenerations.length} generation(s) and ${r.removedPaths.length} store path(s), freed ${mib(r.freedBytes)}`,
          ...r.apps.released.map((a) => `${a.remote}:${a.app} is gone: its host uid ${a.uid} is given back${a.keptIn === undefined ? '' : `; its state and folders are kept in ${a.keptIn}`}`),
          ...r.apps.notReleased.map((a) => `${a.remote}:${a.app} is gone but keeps its host uid ${a.uid} for now: ${a.reason}`),
        ]);
      });
  },
};

export const verifyCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('verify').description('re-hash the store against its records and name any difference'))
      .action(async (opts: ScopeOpts) => {
        const out = context.output();
        const report = await (await openStore(storeRoot(opts))).verify();
        const problems = report.problems;
        out.result(report, problems.length === 0 ? `store verified: ${report.checkedStorePaths} store path(s), no difference${report.garbage.length ? ` (${report.garbage.length} unreferenced item(s): cairn gc removes them)` : ''}` : problems.map((p) => `CORRUPT ${p.path}: ${p.kind}: ${p.detail}`));
        if (problems.length > 0) context.setExitCode(EXIT.verification);
      });
  },
};

export const searchCommand: CommandModule = {
  register(program, context) {
    networked(scoped(program.command('search').description('find packages by name or description in the remotes\' verified package indexes')
      .argument('<text>', 'part of a name or description')))
      .action(async (text: string, opts: ScopeOpts) => {
        const out = context.output();
        const found = await searchPackages({ storeRoot: storeRoot(opts), ...proxyOf(opts), onEvent: progressPrinter(out) }, text);
        out.result(found, found.length === 0 ? `no package matches "${text}"` : found.map((r) => `${r.name}\t${r.version}\t${r.remote}${r.installed ? `\t(installed ${r.installed})` : ''}${r.description ? `\t${r.description}` : ''}`));
      });
  },
};

/** `cairn info`'s lines on where a package's source came from (docs/upstream.md). */
function upstreamLines(u: PackageInfo['upstream']): string[] {
  if (u === undefined) return ['  upstream: not an imported source'];
  if ('unavailable' in u) return [`  upstream: imported (${u.uri}); ${u.unavailable}`];
  return [
    `  upstream: ${u.name} ${u.version} from ${u.archive}: ${u.file} (sha256 ${u.sha256}) is the source, unchanged`,
    `    ${u.kind === 'debian' ? 'archive key' : 'registry key'}: ${u.archiveSigners.map((f) => f.toUpperCase()).join(', ') || 'none (the registry signs nothing)'}`,
    ...(u.kind === 'debian' ? [`    upstream's signature: ${u.upstreamSigner === null ? 'none (the upstream signs nothing)' : `key ${u.upstreamSigner.toUpperCase()}`}`] : []),
  ];
}

export const infoCommand: CommandModule = {
  register(program, context) {
    networked(scoped(program.command('info').description('versions, size, requested permissions, verifiers\' verdicts and the witnessed block of a package')
      .argument('<package>', 'NAME or NAME@VERSION')))
      .action(async (pkg: string, opts: ScopeOpts) => {
        const out = context.output();
        const info = await describePackage({ storeRoot: storeRoot(opts), ...proxyOf(opts), onEvent: progressPrinter(out) }, pkg);
        out.result(info, [
          `${info.name} ${info.version} from ${info.remote}${info.description ? `: ${info.description}` : ''}`,
          `  versions: ${info.versions.join(', ')}`,
          `  size: ${mib(info.length)} (sha256 ${info.sha256})`,
          `  dependencies: ${Object.entries(info.dependencies).map(([n, r]) => `${n}@${r}`).join(', ') || 'none'}`,
          `  entry points: ${Object.keys(info.entryPoints).join(', ') || 'none'}`,
          `  permissions requested: ${info.permissions.length === 0 ? 'none' : ''}`,
          ...info.permissions.map((p) => `    ${p}: ${describePermission(p)}`),
          `  verified builds: ${{ checked: 'rebuilt by the quorum of verifiers the root names (attestations checked)', 'no-policy': 'the root names no build verifiers', 'not-witnessed': 'not checked: the remote has no log anchor' }[info.attestations]}`,
          `  witnessed: ${info.witnessed ? `yes, log block ${info.block ?? '?'}` : 'no (TUF only)'}`,
          ...upstreamLines(info.upstream),
          ...(info.installed ? [`  installed: ${info.installed}`] : []),
        ]);
      });
  },
};
