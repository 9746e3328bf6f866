// apps/run.ts: `cairn run APP` (docs/apps.md "Running"): boots the app's VM with QEMU from its
// grants (vm-spec.ts, vm-configs.ts) and the runtime (runtime.ts), forwards what the app prints
// on the guest's console, and returns the app's exit status. With /dev/kvm QEMU uses KVM, without
// it software emulation, and says so. The app's store path is shared read-only and its state
// directory ROOT/state/REMOTE/APP read-write; nothing else of the host is visible to the guest.
// QEMU runs confined by bubblewrap (vm-sandbox.ts) as the app's own host user (app-users.ts: in
// the system scope; the invoking user otherwise). A granted network gives the VM a tap in the
// app's own network namespace (app-network.ts), which the jail is started in; a granted folder is
// the directory ROOT/folders/REMOTE/APP/NAME, owned by the app's user, shared at /folders/NAME in
// the guest. SIGINT, SIGTERM and SIGHUP while the VM runs stop it, and what the start made (its
// namespace, its console directory, its entry in the run registry) is removed before cairn ends.
// Devices, display, clipboard and audio are not given yet (docs/apps.md): a grant of one is
// announced and the VM runs without it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, chown, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { closeSync, existsSync, openSync, realpathSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { StorageError } from '../errors/index.js';
import { withLockFile } from '../io/lock-file.js';
import { AppError } from './errors.js';
import { parsePermission, type Permission } from '../package/permissions.js';
import { APP_NETWORK, appLinkPlan, appNamespaceRuleset, grantsNetwork, guestNetworkParameter, resolveDestinations, setUpAppNetwork, type AppLinkPlan, type AppNetwork } from './app-network.js';
import { APP_ID_RANGE, appUser, asNamespaceRoot, subordinateNamespaceArgs, type AppUser } from './app-users.js';
import { withGrantsDatabase } from './grants-database.js';
import { readCurrentGeneration, readInstalledRecord } from '../store/current.js';
import { installedApp, type InstalledApp } from './permissions.js';
import { clearRunning, recordRunning, runningApp } from './running.js';
import { GUEST_MARKERS } from './runtime.js';
import { qemuArgs } from './vm-configs.js';
import { vmSandboxArgs } from './vm-sandbox.js';
import { vmSpecFor, type VmSpec } from './vm-spec.js';
import { setUpUserAppNetwork, type UserAppNetwork } from './user-app-network.js';

export interface RunOptions {
  /** The runtime directory (vmlinuz, initrd.img); default: the runtime the app's manifest names, else ROOT/runtime. */
  runtimeDir?: string;
  /** The entry point's command (default: the one named like the app, or the only one). */
  command?: string;
  /** Each line the app prints. */
  onOutput?: (line: string) => void;
  /** Notices for the user (software emulation, grants not given yet). */
  onNotice?: (line: string) => void;
  /** Longest the VM may run before it is killed (default 10 minutes). */
  timeoutMs?: number;
  /** Called with the jail's pid once it is started (internal: the run registry). */
  onSpawned?: (pid: number) => void;
  /** The named network namespace a networked app's link goes to (default: the host's). */
  networkUplink?: string;
}

export interface RunResult {
  app: string;
  exitCode: number;
  acceleration: 'kvm' | 'tcg';
}

/**
 * Where an app's state lives: ROOT/state/REMOTE/APP. Keyed by the remote as grants and host users
 * are: a same-named app of another publisher starts with nothing of this one's.
 */
export function appStateDir(storeRoot: string, app: string, remote: string): string {
  return join(storeRoot, 'state', remote, app);
}

/** The host directory of an app's shared folders: ROOT/folders/REMOTE/APP. */
export function appFoldersDir(storeRoot: string, app: string, remote: string): string {
  return join(storeRoot, 'folders', remote, app);
}

/** The host directory of an app's shared folder NAME: ROOT/folders/REMOTE/APP/NAME. */
export function appFolderDir(storeRoot: string, app: string, remote: string, name: string): string {
  return join(appFoldersDir(storeRoot, app, remote), name);
}

/**
 * A directory that is the app user's (0700; in the user scope 0770 with the invoking user's group,
 * so they can reach it and no other app can), under parents its creator made (so the app's user
 * cannot swap it for a link to something else). A directory there owned by another user than the
 * app's or its creator is refused, not taken over.
 */
async function ownDirectory(dir: string, user: AppUser): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const status = await lstat(dir);
  if (!status.isDirectory()) throw new AppError('UNSUPPORTED', `${dir} is not a directory (found a ${status.isSymbolicLink() ? 'symbolic link' : 'file'})`);
  if (!user.dedicated || status.uid === user.uid) return;
  if (status.uid !== process.getuid?.()) throw new AppError('UNSUPPORTED', `${dir} belongs to uid ${status.uid}, not to the app's user ${user.uid}: it is not handed over`);
  await handOver(dir, user, 0o770);
}

/**
 * Gives the directory `dir`, made by this process, to the app's user: chown as root, through the
 * user namespace of the subordinate IDs otherwise. Never recursive: what a directory holds may be
 * hard links to files elsewhere, or a mount.
 */
async function handOver(dir: string, user: AppUser, userScopeMode: number): Promise<void> {
  if (user.subordinate === undefined) {
    await chown(dir, user.uid, user.gid);
    await chmod(dir, 0o700);
    return;
  }
  await chmod(dir, userScopeMode);
  await asNamespaceRoot(user.subordinate, ['chown', `${user.subordinate.innerId}:0`, dir]);
}

export async function runApp(storeRoot: string, app: string, options: RunOptions = {}): Promise<RunResult> {
  const installed = await installedApp(storeRoot, app);
  const entryPoints = installed.entryPoints ?? {};
  const commands = Object.keys(entryPoints);
  const command = options.command ?? (Object.hasOwn(entryPoints, app) ? app : commands.length === 1 ? commands[0] : undefined);
  if (command === undefined || !Object.hasOwn(entryPoints, command)) {
    throw new AppError('UNSUPPORTED', `${app} has ${commands.length === 0 ? 'no entry point' : `several entry points (${commands.join(', ')}): name one with --command`}`);
  }
  const entry = entryPoints[command]!;
  if (!/^[A-Za-z0-9._/-]+$/.test(entry)) throw new AppError('UNSUPPORTED', `the entry point ${JSON.stringify(entry.slice(0, 120))} cannot be named on the guest's kernel command line`);

  const runtimeDir = options.runtimeDir ?? (await pinnedRuntimeDir(storeRoot, installed)) ?? join(storeRoot, 'runtime');
  for (const file of ['vmlinuz', 'initrd.img']) {
    await access(join(runtimeDir, file)).catch(() => {
      throw new AppError('RUNTIME_UNAVAILABLE', `no runtime at ${runtimeDir} (${file} is missing)`, { hint: 'cairn runtime build makes STORE/runtime; an app may name a runtime package in its manifest' });
    });
  }
  return holdingStartLock(storeRoot, app, `cairn run ${app}`, () => startApp(storeRoot, installed, entry, runtimeDir, options));
}

/**
 * Runs `fn` holding the start lock of `app`: one start of an app at a time, held until its VM has
 * ended and what the start made is removed (and by cairn gc while it gives back the app's ID).
 * RUNNING when another process holds it.
 */
export function holdingStartLock<T>(storeRoot: string, app: string, command: string, fn: () => Promise<T>): Promise<T> {
  return holdingOrRunning(startLockPath(storeRoot, app), command, fn, () => new AppError('RUNNING', `${app} is being started or run by another cairn process`, { hint: 'cairn stop APP ends it' }));
}

/** Runs `fn` holding the lock file `path`, not waiting: `busy()` (a RUNNING error) when another process holds it. */
async function holdingOrRunning<T>(path: string, command: string, fn: () => Promise<T>, busy: () => AppError): Promise<T> {
  try {
    return await withLockFile(path, { command, timeoutMs: 0, createDirectory: true }, fn);
  } catch (e) {
    if (e instanceof StorageError && e.code === 'LOCKED') throw busy();
    throw e;
  }
}

/**
 * Where the start lock of `app` of the store at `storeRoot` is: in /run/cairn (root) or
 * /run/user/UID/cairn, which are emptied at boot, so that a lock a crash left cannot outlive a
 * reboot and name a pid that some other process has since; ROOT/run where the user has no
 * /run/user/UID. Never taken from the environment: every cairn process of the user (a desktop's,
 * cron's, one over ssh) must find the same lock.
 */
function startLockPath(storeRoot: string, app: string): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = uid === 0 ? '/run/cairn' : existsSync(`/run/user/${uid}`) ? `/run/user/${uid}/cairn` : undefined;
  if (runtime === undefined) return join(storeRoot, 'run', `${app}.lock`);
  return join(runtime, `${createHash('sha256').update(realpathSync(storeRoot)).digest('hex').slice(0, 16)}-${app}.lock`);
}

/** The start of an app whose start lock is held (runApp). */
async function startApp(storeRoot: string, installed: InstalledApp, entry: string, runtimeDir: string, options: RunOptions): Promise<RunResult> {
  const app = installed.name;
  // Installed still, now that no cairn gc can give its ID back meanwhile (app-removal.ts).
  if ((await installedApp(storeRoot, app)).id !== installed.id) throw new AppError('NOT_INSTALLED', `${app} was updated or removed while it was being started`, { hint: 'run it again' });
  if ((await runningApp(storeRoot, app)) !== undefined) throw new AppError('RUNNING', `${app} is running already`, { hint: 'cairn stop APP ends it' });
  const granted = withGrantsDatabase(storeRoot, (db) => db.granted(app, installed.remote));
  const permissions = granted.map((p) => parsePermission(p));
  for (const p of granted) {
    if (!/^(network|folder):/.test(p)) options.onNotice?.(`${p} is granted, but cairn run does not give it to the VM yet: ${app} runs without it`);
  }

  const user = appUser(storeRoot, app, installed.remote);
  if (!user.dedicated) options.onNotice?.(`${app} runs as your own user (uid ${user.uid}): each app gets its own ID from your subordinate ranges (/etc/subuid, /etc/subgid; sudo usermod --add-subuids FIRST-LAST --add-subgids FIRST-LAST YOU) through newuidmap (sudo apt-get install uidmap)`);
  const networked = grantsNetwork(permissions);
  const systemScope = process.getuid?.() === 0;
  if (networked && !systemScope && user.subordinate === undefined) throw new AppError('UNSUPPORTED', `${app} is granted a network, which in the user scope needs your subordinate IDs: its namespace belongs to their user namespace`, { hint: 'sudo usermod --add-subuids FIRST-LAST --add-subgids FIRST-LAST YOU; sudo apt-get install uidmap' });
  const stateDir = appStateDir(storeRoot, app, installed.remote);
  await ownDirectory(stateDir, user);
  const folders: Record<string, string> = {};
  for (const p of permissions) {
    if (p.kind !== 'folder' || Object.hasOwn(folders, p.name)) continue;
    folders[p.name] = appFolderDir(storeRoot, app, installed.remote, p.name);
    await ownDirectory(folders[p.name]!, user);
  }
  // The console socket's directory, root's until the tun device is made in it, then the app user's.
  const sockets = await mkdtemp(join(tmpdir(), 'cairn-run-'));
  const consoleSocket = join(sockets, 'console.sock');
  // In the user scope the app's user has only the groups of its own ID: KVM only where /dev/kvm is open to everyone.
  const kvm = existsSync('/dev/kvm') && (user.subordinate === undefined || (statSync('/dev/kvm').mode & 0o006) === 0o006);
  if (!kvm) options.onNotice?.('no /dev/kvm: QEMU emulates the machine in software, which is slower');
  const storePath = join(storeRoot, 'store', installed.id);
  // The slot names the namespace and addresses: the uid's offset in the system range; in the user scope (namespaces of the user's own) the inner ID's.
  const link = !networked ? undefined : appLinkPlan(systemScope ? user.uid - APP_ID_RANGE.first : (user.subordinate!.innerId - 1) % APP_NETWORK.slots);
  // From here a signal stops the start, or the VM once it runs, and what the start made is still removed; the status is the signal's.
  let interrupted: NodeJS.Signals | undefined;
  let jailPid: number | undefined;
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    if (jailPid !== undefined) process.kill(jailPid, 'SIGTERM');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, stopOnSignal);
  try {
    // A networked app holds its slot host-wide while its namespace exists (its store's start lock does not cover the same store reached by another path).
    const exitCode = await holdingNetworkSlot(systemScope ? link : undefined, app, async () => {
      let network: AppNetwork | undefined;
      let userNetwork: UserAppNetwork | undefined;
      try {
        if (link !== undefined && systemScope) {
          const ruleset = appNamespaceRuleset(link, permissions, await resolveDestinations(permissions, options.onNotice));
          network = await setUpAppNetwork(link, ruleset, { uid: user.uid, gid: user.gid, tunNode: join(sockets, 'tun'), ...(options.networkUplink === undefined ? {} : { uplinkNetns: options.networkUplink }) });
        } else if (link !== undefined) {
          if (options.networkUplink !== undefined) throw new AppError('UNSUPPORTED', '--network-uplink needs the system scope: in the user scope the app\'s traffic leaves through your own sockets, from the namespace cairn runs in');
          const ruleset = appNamespaceRuleset(link, permissions, await resolveDestinations(permissions, options.onNotice), { hostAddressSet: true });
          const inbound = permissions.flatMap((p) => (p.kind === 'network:inbound' && p.protocol === 'tcp' ? [{ port: p.port, protocol: p.protocol }] : []));
          // libslirp opens a UDP port with SO_REUSEADDR: any local user could bind it too and take the app's datagrams.
          for (const p of permissions) if (p.kind === 'network:inbound' && p.protocol === 'udp') options.onNotice?.(`network:inbound:${p.port}/udp is granted, but not given in the user scope (another local user could take the port over from slirp4netns): ${app} runs without it`);
          userNetwork = await setUpUserAppNetwork(link, ruleset, user.subordinate!, inbound);
        }
        // In the user scope the directory keeps the invoking user's group for what QEMU makes in it (setgid), so cairn reaches the console.
        if (user.dedicated) await handOver(sockets, user, 0o2770);
        const spec = vmSpecFor({
          app, uid: user.uid, gid: user.gid,
          runtime: {
            kernel: join(runtimeDir, 'vmlinuz'), initrd: join(runtimeDir, 'initrd.img'),
            cmdline: [
              'console=ttyS0 quiet loglevel=1 panic=-1', `cairn.entry=${entry}`,
              ...(link === undefined ? [] : [guestNetworkParameter(link)]),
              ...guestFoldersParameter(permissions),
            ].join(' '),
          },
          storePath, stateDir,
          granted, folderPaths: folders,
          network: link === undefined ? { tap: '', netns: '', mac: '' } : { tap: 'tap0', netns: systemScope ? link.netns : '', mac: link.mac },
          display: { vsockCid: 0, socket: '' },
          consoleSocket,
        });
        if (interrupted !== undefined) return 0;
        const { command, fds } = jailCommand(spec, user, { runtimeDir, storePath, stateDir, sockets, kvm, network, userNetwork });
        let recorded: Promise<void> = Promise.resolve();
        const onSpawned = (pid: number): void => {
          jailPid = pid;
          recorded = recordRunning(storeRoot, { app, pid, uid: user.uid, startedAt: new Date().toISOString() });
        };
        try {
          return await boot(command, network === undefined && user.subordinate === undefined ? user : undefined, consoleSocket, fds, { ...options, onSpawned });
        } finally {
          for (const fd of fds) closeSync(fd);
          await recorded.catch(() => undefined);
          if (jailPid !== undefined) await clearRunning(storeRoot, app, jailPid);
        }
      } finally {
        await network?.remove();
        await userNetwork?.remove();
      }
    });
    return { app, exitCode: interrupted === undefined ? exitCode : 128 + osConstants.signals[interrupted], acceleration: kvm ? 'kvm' : 'tcg' };
  } finally {
    for (const signal of signals) process.off(signal, stopOnSignal);
    if (user.subordinate !== undefined) await asNamespaceRoot(user.subordinate, ['rm', '-rf', '--', sockets]).catch(() => undefined);
    await rm(sockets, { recursive: true, force: true });
  }
}

/** Runs `fn` holding the app network slot of `link` host-wide (/run/cairn/cairn-N.lock); RUNNING when another start holds it. */
function holdingNetworkSlot<T>(link: AppLinkPlan | undefined, app: string, fn: () => Promise<T>): Promise<T> {
  if (link === undefined) return fn();
  return holdingOrRunning(join('/run/cairn', `${link.netns}.lock`), `cairn run ${app}`, fn, () => new AppError('RUNNING', `the network slot of ${app} (${link.netns}) is held by another start of it`, { hint: 'cairn ps lists it; stop it first' }));
}

/**
 * The command that starts QEMU in the app's jail, and the descriptors it is given (3, 4, ...).
 * A networked jail starts in the app's namespace: nsenter (as root) enters it, then becomes the
 * app's user. In the user scope unshare enters the namespace of the subordinate IDs as the app's
 * ID, QEMU's files are its group's too (umask 007), and the jail gets its directories as open
 * descriptors: the app's ID may not reach them by path.
 */
function jailCommand(spec: VmSpec, user: AppUser, where: { runtimeDir: string; storePath: string; stateDir: string; sockets: string; kvm: boolean; network: AppNetwork | undefined; userNetwork: UserAppNetwork | undefined }): { command: [string, string[]]; fds: number[] } {
  const folders = spec.shares.filter((s) => s.tag.startsWith('folder-')).map((s) => ({ hostPath: resolve(s.hostPath), readOnly: s.readOnly }));
  const sources = [resolve(where.runtimeDir), resolve(where.storePath), resolve(where.stateDir), where.sockets, ...folders.map((f) => f.hostPath)];
  const fds = user.subordinate === undefined ? [] : sources.map((path) => openSync(path, 'r'));
  const jail = vmSandboxArgs({
    runtimeDir: sources[0]!, storePath: sources[1]!, stateDir: sources[2]!, socketDir: where.sockets, kvm: where.kvm, folders,
    ...(where.network === undefined ? {} : { tun: where.network.tunNode }),
    ...(where.userNetwork === undefined ? {} : { tun: '/dev/net/tun' }),
    ...(user.subordinate === undefined ? {} : { sourceFds: Object.fromEntries(sources.map((path, i) => [path, 3 + i])) }),
  }, ['qemu-system-x86_64', ...qemuArgs(spec, { kvm: where.kvm }), '-no-reboot']);
  if (where.network !== undefined) return { fds, command: ['nsenter', [`--net=${where.network.netnsPath}`, `--setuid=${user.uid}`, `--setgid=${user.gid}`, '--', 'bwrap', ...jail]] };
  if (user.subordinate !== undefined) {
    const inner = user.subordinate.innerId;
    const umask = ['sh', '-c', 'umask 007 && exec "$@"', 'sh', 'bwrap', ...jail];
    if (where.userNetwork !== undefined) return { fds, command: ['nsenter', ['--target', String(where.userNetwork.holderPid), '--user', '--net', '--preserve-credentials', `--setuid=${inner}`, `--setgid=${inner}`, '--', ...umask]] };
    return { fds, command: ['unshare', [...subordinateNamespaceArgs(user.subordinate), `--setuid=${inner}`, `--setgid=${inner}`, '--', ...umask]] };
  }
  return { fds, command: ['bwrap', jail] };
}

/**
 * The store path of the runtime the app's manifest names (`runtime`, one of its dependencies, so
 * installed and verified with it and pinned by its range), or undefined when it names none.
 * RUNTIME_UNAVAILABLE when the named runtime is not in the active generation.
 */
async function pinnedRuntimeDir(storeRoot: string, installed: InstalledApp): Promise<string | undefined> {
  const record = await readInstalledRecord(storeRoot, installed.id);
  const runtime = record?.manifest.runtime;
  if (typeof runtime !== 'string') return undefined;
  const generation = await readCurrentGeneration(storeRoot);
  const pinned = generation?.packages[runtime];
  if (pinned === undefined || !Object.hasOwn(generation!.packages, runtime)) throw new AppError('RUNTIME_UNAVAILABLE', `${installed.name} boots the runtime ${JSON.stringify(runtime)}, which is not installed`, { hint: `cairn install ${installed.name} installs it as a dependency` });
  // What install resolved is checked again: the runtime sees the app's state, folders and network.
  const range = (record!.manifest.dependencies as Record<string, unknown> | undefined)?.[runtime];
  const { satisfies } = await import('semver'); // only apps that pin a runtime need it
  if (pinned.remote !== installed.remote || typeof range !== 'string' || !satisfies(pinned.version, range)) {
    throw new AppError('RUNTIME_UNAVAILABLE', `the installed ${runtime} ${pinned.version} (from ${pinned.remote}) is not the runtime ${installed.name} pins (${String(range)} from ${installed.remote})`, { hint: `cairn install ${installed.name} installs the runtime it pins` });
  }
  return join(storeRoot, 'store', pinned.id);
}

/** The guest's kernel command-line parameter naming the granted folders it mounts (`cairn.folders=NAME:ro|rw,...`). */
function guestFoldersParameter(permissions: readonly Permission[]): string[] {
  const access = new Map<string, 'ro' | 'rw'>();
  for (const p of permissions) if (p.kind === 'folder' && access.get(p.name) !== 'rw') access.set(p.name, p.access);
  return access.size === 0 ? [] : [`cairn.folders=${[...access].map(([name, a]) => `${name}:${a}`).join(',')}`];
}

/**
 * Runs the jail, reads the console until the guest reports the app's exit status, and waits for
 * QEMU to end. `user`: the user to start it as, when the command does not become it itself.
 */
function boot([file, args]: [string, string[]], user: AppUser | undefined, consoleSocket: string, fds: readonly number[], options: RunOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    // bubblewrap as the app's own user (it must be able to reach every path it binds, or have it as a descriptor).
    const qemu = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', ...fds], ...(user?.dedicated === true ? { uid: user.uid, gid: user.gid } : {}), cwd: '/' });
    if (qemu.pid !== undefined) options.onSpawned?.(qemu.pid);
    let stderr = '';
    qemu.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let exitCode: number | undefined;
    let started = false;
    let socket: Socket | undefined;
    const timeoutMs = options.timeoutMs ?? 600_000;
    // Past the timeout the jail is killed; the error is reported once it has ended (its directories are cleaned only then).
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, timeoutMs);
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      reject(e);
    };
    const attach = (): void => {
      if (settled || qemu.exitCode !== null) return;
      const attempt = connect(consoleSocket);
      socket = attempt;
      // Until QEMU has made its socket, connecting fails: try again shortly.
      attempt.once('error', () => setTimeout(attach, 50));
      attempt.once('connect', () => readConsole(attempt));
    };
    const readConsole = (connected: Socket): void => {
      connected.on('error', () => undefined); // the console closing with the VM is not an error
      const lines = createInterface({ input: connected });
      lines.on('error', () => undefined);
      lines.on('line', (raw) => {
        const line = raw.replace(/\r$/, '');
        // The firmware's screen-clearing escapes may precede the first line of the guest.
        if (!started && line.endsWith(GUEST_MARKERS.start)) started = true;
        else if (line.startsWith(`${GUEST_MARKERS.exit} `)) exitCode = Number(line.slice(GUEST_MARKERS.exit.length + 1));
        else if (started && exitCode === undefined) options.onOutput?.(line);
        else if (line.startsWith('cairn runtime: ')) options.onNotice?.(line);
      });
    };
    setTimeout(attach, 50);
    qemu.on('error', (e) => fail(new AppError('VM_FAILED', `bwrap could not be started: ${e.message}`, { hint: 'the hypervisor runs confined by bubblewrap: sudo apt-get install bubblewrap qemu-system-x86' })));
    qemu.on('exit', (code, signal) => {
      // The guest's exit status read, everything it printed has been; otherwise let the console deliver its last lines.
      setTimeout(() => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket?.destroy();
        if (timedOut) {
          reject(new AppError('VM_FAILED', `the VM ran longer than ${timeoutMs} ms and was stopped`));
        } else if (exitCode === undefined && signal === 'SIGTERM') {
          options.onNotice?.('the VM was stopped');
          resolve(128 + 15);
        } else if (exitCode === undefined || !Number.isInteger(exitCode)) reject(new AppError('VM_FAILED', `the VM ended (${signal ?? `exit ${code}`}) without reporting the app's exit status${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`));
        else resolve(exitCode);
      }, exitCode === undefined ? 100 : 0);
    });
  });
}
