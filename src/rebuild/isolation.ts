// rebuild/isolation.ts: runs a recipe in an isolated environment (docs/design.md "Build
// verification": a verifier rebuilds in an isolated environment without network;
// docs/verified-builds.md section 3 "The sandbox" and "Isolation levels").
//
// The recipe is the publisher's code and the verifier holds a signing key, so the sandbox keeps
// the recipe from anything but its input, its tools and its scratch space:
//   bubblewrap  (full isolation, the default) bwrap in new user, network, PID, IPC, UTS and cgroup
//               namespaces with every capability dropped, a new session, dying with its parent.
//               Run by root, the build runs as a dedicated unprivileged host user (default
//               cairn-build, made by the operator), so no file of root's (the verifier's key and
//               state, /etc/shadow) is readable even through a mistake in the mounts, and the
//               process cap counts only builds; run by another user, it runs as that user. Inside,
//               the build is uid/gid 1000 (user "build"). It sees read-only /usr (and the /bin,
//               /lib* links), a handful of /etc entries a toolchain needs (never all of /etc:
//               passwd and group are generated), a minimal /dev, a fresh /proc, and one writable
//               place: /tmp, a tmpfs of at most maxScratchBytes. No host directory is bound
//               writable or at all beyond these: the source archive comes in on stdin and the
//               artifact goes out on a pipe, read with the output cap.
//   unshare     (weaker: chosen only by name) util-linux unshare --net --pid: no network, its own
//               PID namespace (nothing it starts outlives it), but the host file system is
//               visible; still run as the build user when started by root.
//   none        (weaker: chosen only by name) a plain subprocess, still as the build user; a
//               process it detaches from its group (setsid) outlives the build.
// The host work directory of unshare and none is removed as the build user, never as root.
// The attestation records the level, and a build policy can require full isolation
// (policy/build-policy.ts). Every level caps processes (RLIMIT_NPROC, meaningful because the uid
// is dedicated, or because the count is per user namespace on Linux >= 5.14), one file's size
// (RLIMIT_FSIZE, the scratch cap), wall-clock time and the artifact's size. cgroups are not used:
// rlimits and the tmpfs size are what every machine offers without delegation.
// With bubblewrap >= 0.8 the build cannot make nested user namespaces either (--disable-userns).
// Every level runs the same driver with the same environment: cleared, then TZ=UTC,
// LC_ALL=LANG=C.UTF-8, SOURCE_DATE_EPOCH, HOME and TMPDIR inside the work directory, PATH
// /usr/local/bin:/usr/bin:/bin, umask 022, npm's network features off. The driver extracts the
// archive (stdin) into WORK/src, runs the command there with /bin/sh -c, and writes the output
// file to fd 3.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { BuildRecipe, IsolationKind } from '../policy/index.js';
import { UsageError } from '../errors/index.js';
import { RebuildError } from './errors.js';
import { sniffArchive } from './archive.js';

/** Isolation levels an operator may name, strongest first; the weaker ones are never chosen for them. */
export type IsolationPreference = IsolationKind;
export const ISOLATION_PREFERENCES: readonly IsolationPreference[] = ['bubblewrap', 'unshare', 'none'];

/** The dedicated user builds run as when the verifier runs as root (the operator creates it). */
export const DEFAULT_BUILD_USER = 'cairn-build';

/** What an operator chooses about the sandbox (cairn build, cairn rebuild run|serve options). */
export interface SandboxOptions {
  /** Default bubblewrap; unshare and none only when named. */
  readonly isolation?: IsolationPreference;
  /** Host user builds run as when this process is root (default cairn-build); refused otherwise. */
  readonly buildUser?: string;
  readonly maxScratchBytes?: number;
  readonly maxProcesses?: number;
  /**
   * The verifier's own files (key, queue, attestation tree): refused if a build could read them,
   * i.e. if they lie under a host path the sandbox binds (/usr, /bin, /lib*, the /etc entries).
   */
  readonly privatePaths?: readonly string[];
}

export interface BuildUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface Isolation {
  readonly kind: IsolationKind;
  /** The command prefix (empty for none; bwrap's arguments are added per run). */
  readonly prefix: readonly string[];
  /** Set when the isolation is weaker than bubblewrap: what is missing. */
  readonly warning?: string;
  /** The host user the build runs as (undefined: this process's user, which is not root). */
  readonly user?: BuildUser;
  readonly maxScratchBytes: number;
  readonly maxProcesses: number;
}

export const BUILD_LIMITS = {
  /** Default wall-clock limit of one build. */
  timeoutMs: 30 * 60_000,
  /** Largest artifact accepted from a build. */
  maxOutputBytes: 4 * 1024 * 1024 * 1024,
  /** Build log kept (the tail) for error messages. */
  maxLogBytes: 64 * 1024,
  /** Default size of the scratch tmpfs (source, build tree, HOME, TMPDIR): RAM, so bounded. */
  maxScratchBytes: 4 * 1024 * 1024 * 1024,
  /** Default cap on the build user's processes (a parallel make spawns far fewer). */
  maxProcesses: 1024,
} as const;

/** Paths inside the bubblewrap sandbox (fixed, so paths embedded by builds agree across verifiers). */
const SANDBOX = { scratch: '/tmp', work: '/tmp/build', uid: 1000, gid: 1000 } as const;

/** Top-level tool directories bound read-only (or recreated as the symlinks they are). */
const TOOL_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;

/** The /etc entries a toolchain needs (dynamic loader cache, alternatives links); nothing else of /etc. */
const ETC_ENTRIES = ['alternatives', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'os-release', 'nsswitch.conf'] as const;

const execFileAsync = promisify(execFile);

const DRIVER = [
  'set -eu',
  'umask 022',
  'work=$1; output=$2; command=$3; nproc=$4; fsize=$5; gzipped=$6',
  'mkdir -p "$work/src" "$HOME" "$TMPDIR"',
  // tar cannot tell a compressed archive on a pipe: gzip (an upstream's own .tar.gz) is said.
  'if [ "$gzipped" = yes ]; then tar -xzf - -C "$work/src" --no-same-owner; else tar -xf - -C "$work/src" --no-same-owner; fi',
  'cd "$work/src"',
  'prlimit --nproc="$nproc:$nproc" --fsize="$fsize:$fsize" -- /bin/sh -c "$command" </dev/null >&2 3>&- 4>&- 5>&-',
  'if [ -L "$output" ] || [ ! -f "$output" ]; then echo "cairn: the recipe did not produce a regular file $output" >&2; exit 97; fi',
  'cat -- "$output" >&3',
].join('\n');

type Probed = Omit<Isolation, 'maxScratchBytes' | 'maxProcesses' | 'user'>;
const probed = new Map<string, Probed | string>();

/**
 * The isolation to use: the named level (default bubblewrap) if it works here, else RebuildError
 * ISOLATION_UNAVAILABLE. Never falls back to a weaker level.
 */
export function chooseIsolation(options: SandboxOptions | IsolationPreference = {}): Isolation {
  const o: SandboxOptions = typeof options === 'string' ? { isolation: options } : options;
  const kind = o.isolation ?? 'bubblewrap';
  const user = buildUser(o.buildUser);
  if (kind === 'bubblewrap') requireOutsideSandbox(o.privatePaths ?? []);
  const key = `${kind}:${user?.uid ?? ''}`;
  let r = probed.get(key);
  if (r === undefined) {
    r = probe(kind, user);
    probed.set(key, r);
  }
  if (typeof r === 'string') {
    throw new RebuildError('ISOLATION_UNAVAILABLE', `${kind} isolation does not work on this machine${user ? ` for build user ${user.name}` : ''}: ${r}`, {
      hint: kind === 'bubblewrap'
        ? 'install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces; weaker isolation only if the operator names it (--isolation unshare|none)'
        : 'choose another --isolation',
    });
  }
  return {
    ...r, ...(user ? { user } : {}),
    maxScratchBytes: o.maxScratchBytes ?? BUILD_LIMITS.maxScratchBytes, maxProcesses: o.maxProcesses ?? BUILD_LIMITS.maxProcesses,
  };
}

/** Host paths every bubblewrap build can read (bwrapArgs binds exactly these, read-only). */
function sandboxVisiblePaths(): string[] {
  const tops = TOOL_DIRS.filter((top) => {
    try {
      return lstatSync(top).isDirectory();
    } catch {
      return false;
    }
  });
  return ['/usr', ...tops, ...ETC_ENTRIES.map((name) => `/etc/${name}`)];
}

/** Refuses to build while one of the verifier's own files lies where a build can read it. */
function requireOutsideSandbox(paths: readonly string[]): void {
  const visible = sandboxVisiblePaths();
  for (const path of paths) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      // Not created yet (a new queue or attestation tree): where it will be.
      try {
        real = join(realpathSync(dirname(resolve(path))), basename(path));
      } catch {
        real = resolve(path);
      }
    }
    const under = visible.find((v) => real === v || real.startsWith(`${v}/`));
    if (under !== undefined) {
      throw new RebuildError('PRIVATE_FILE_IN_SANDBOX', `${path} (${real}) is under ${under}, which every build can read: a recipe could read the verifier's key or state`, {
        hint: 'keep the verifier\'s key, queue and attestations outside /usr, /bin, /lib and /etc (for example under /var/lib/cairn-verifier)',
      });
    }
  }
}

/** An isolation already chosen, or the options to choose one with. */
export function resolveIsolation(given: Isolation | SandboxOptions | IsolationPreference | undefined): Isolation {
  return typeof given === 'object' && 'kind' in given ? given : chooseIsolation(given);
}

/** The host user builds run as: the dedicated user when this process is root, else none (this user). */
function buildUser(name: string | undefined): BuildUser | undefined {
  if (process.getuid?.() !== 0) {
    if (name !== undefined) throw new UsageError('CONFLICT', `--build-user ${name} needs the verifier to run as root; run by another user, builds run as that user`);
    return undefined;
  }
  const wanted = name ?? DEFAULT_BUILD_USER;
  const r = spawnSync('getent', ['passwd', wanted], { encoding: 'utf8', timeout: 10_000 });
  const fields = r.status === 0 ? r.stdout.trim().split('\n')[0]!.split(':') : [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (fields.length < 4 || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) {
    throw new RebuildError('ISOLATION_UNAVAILABLE', `the verifier runs as root and the build user ${wanted} does not exist; a build never runs as root`, {
      hint: `create a dedicated user that owns nothing: useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${wanted}`,
    });
  }
  if (uid === 0 || gid === 0) throw new RebuildError('ISOLATION_UNAVAILABLE', `the build user ${wanted} is uid ${uid} gid ${gid}; a build never runs as root`, { hint: 'name a dedicated unprivileged user with --build-user NAME' });
  return { name: fields[0]!, uid, gid };
}

function probe(kind: IsolationKind, user: BuildUser | undefined): Probed | string {
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  if (kind === 'none') {
    return { kind, prefix: [], warning: 'WARNING: --isolation none: the build runs as a plain subprocess with NO isolation: it can use the network and read and write anything its user can. Attestations record it; a build policy that requires full isolation does not count them.' };
  }
  if (kind === 'unshare') {
    let result = 'unshare is not installed';
    // Its own PID namespace with the driver as init: whatever the recipe starts (setsid, a
    // double fork out of the process group) dies with the build, so nothing outlives the time cap.
    for (const map of [[], ['--map-current-user'], ['--map-root-user']]) {
      const prefix = ['unshare', '--net', ...map, '--pid', '--fork', '--kill-child'];
      const r = spawnSync(prefix[0]!, [...prefix.slice(1), '/bin/true'], { stdio: 'ignore', timeout: 10_000, cwd: '/', ...as });
      if (r.status === 0) {
        return { kind, prefix, warning: 'WARNING: --isolation unshare: no network, but the build sees the host file system. Attestations record it; a build policy that requires full isolation does not count them.' };
      }
      if (!r.error) result = `unshare ${prefix.slice(1).join(' ')} failed (exit ${r.status})`;
    }
    return result;
  }
  const r = spawnSync('bwrap', [...bwrapArgs(BUILD_LIMITS.maxScratchBytes), '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000, cwd: '/', ...as });
  if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'bwrap is not installed' : `bwrap cannot start: ${r.error.message}`;
  const stderr = r.stderr.toString().trim();
  if (r.status !== 0 && stderr.includes('--disable-userns')) return `bubblewrap 0.8 or later is needed (to keep builds from making user namespaces): ${stderr.slice(0, 200)}`;
  if (r.status !== 0) return `bwrap failed: ${stderr.slice(0, 200)}`;
  return { kind, prefix: ['bwrap'] };
}

/**
 * The sandbox: new namespaces (user first, so no capability survives on the host), every
 * capability dropped, read-only /usr, /bin, /lib* and the few /etc entries, generated passwd and
 * group (fds 4 and 5, when given), a minimal /dev, a fresh /proc, and /tmp as the only writable
 * place, a tmpfs of `scratchBytes`; the root and /dev are remounted read-only.
 */
function bwrapArgs(scratchBytes: number, identityFiles = false): string[] {
  const args = ['--unshare-user', '--uid', String(SANDBOX.uid), '--gid', String(SANDBOX.gid),
    '--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--hostname', 'cairn-build', '--ro-bind', '/usr', '/usr'];
  // No nested user namespace (the way to capabilities in a new namespace, and kernel attack surface): bwrap >= 0.8.
  args.push('--disable-userns');
  for (const top of TOOL_DIRS) {
    let info;
    try {
      info = lstatSync(top);
    } catch {
      continue;
    }
    if (info.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (info.isDirectory()) args.push('--ro-bind', top, top);
  }
  args.push('--dir', '/etc');
  for (const name of ETC_ENTRIES) if (existsSync(`/etc/${name}`)) args.push('--ro-bind', `/etc/${name}`, `/etc/${name}`);
  if (identityFiles) args.push('--ro-bind-data', '4', '/etc/passwd', '--ro-bind-data', '5', '/etc/group');
  args.push('--dev', '/dev', '--proc', '/proc', '--size', String(scratchBytes), '--tmpfs', SANDBOX.scratch, '--remount-ro', '/dev', '--remount-ro', '/');
  return args;
}

/** Identity of this machine's build environment ("debian-12"), for attestations. */
export function builderEnvironment(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}=("?)(.*?)\\1$`, 'm').exec(text)?.[2];
    const id = field('ID') ?? 'linux';
    const version = field('VERSION_ID');
    return version ? `${id}-${version}` : id;
  } catch {
    return `${process.platform}-unknown`;
  }
}

export interface RecipeRun {
  /** Host path of the (already checked) source archive: streamed to the build, never bound. */
  readonly sourceArchive: string;
  readonly recipe: BuildRecipe;
  /** Host directory the artifact is written to (as "artifact"). Must exist and be empty. */
  readonly outDir: string;
  readonly isolation: Isolation;
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
}

export interface RecipeResult {
  /** Host path of the artifact built. */
  readonly artifact: string;
  readonly isolation: IsolationKind;
  readonly durationMs: number;
  /** Tail of the build's combined stdout and stderr. */
  readonly log: string;
}

/** Runs `recipe` on the source archive in the chosen isolation; the artifact lands in outDir. */
export async function runRecipe(run: RecipeRun): Promise<RecipeResult> {
  const { recipe, isolation } = run;
  const started = Date.now();
  let hostWork: string | undefined;
  let argv: string[];
  let work: string;
  const limits = [String(isolation.maxProcesses), String(Math.ceil(isolation.maxScratchBytes)), (await sniffArchive(run.sourceArchive)) === 'tar.gz' ? 'yes' : 'no'];
  if (isolation.kind === 'bubblewrap') {
    work = SANDBOX.work;
    argv = ['bwrap', ...bwrapArgs(isolation.maxScratchBytes, true), '--chdir', SANDBOX.scratch, '--clearenv',
      ...Object.entries(buildEnv(work, recipe.sourceDateEpoch)).flatMap(([k, v]) => ['--setenv', k, v]),
      '/bin/sh', '-c', DRIVER, 'cairn-build', work, recipe.output, recipe.command, ...limits];
  } else {
    hostWork = await mkdtemp(join(tmpdir(), 'cairn-build-'));
    if (isolation.user) await chown(hostWork, isolation.user.uid, isolation.user.gid);
    work = hostWork;
    argv = [...isolation.prefix, '/bin/sh', '-c', DRIVER, 'cairn-build', work, recipe.output, recipe.command, ...limits];
  }
  try {
    const env = isolation.kind === 'bubblewrap' ? { PATH: '/usr/bin:/bin' } : buildEnv(work, recipe.sourceDateEpoch);
    const artifact = join(run.outDir, 'artifact');
    const timeoutMs = run.timeoutMs ?? BUILD_LIMITS.timeoutMs;
    const maxOutputBytes = run.maxOutputBytes ?? BUILD_LIMITS.maxOutputBytes;
    const { code, log, timedOut, outputBytes } = await spawnBounded(argv, env, {
      cwd: hostWork ?? '/', user: isolation.user, timeoutMs, source: run.sourceArchive, artifact, maxOutputBytes,
    });
    if (timedOut) throw new RebuildError('BUILD_TIMEOUT', `the recipe ran longer than ${Math.round(timeoutMs / 1000)} s and was killed; log tail:\n${log}`);
    if (outputBytes > maxOutputBytes) throw new RebuildError('OUTPUT_TOO_LARGE', `the artifact built is over the cap of ${maxOutputBytes} bytes; the build was stopped`);
    if (code !== 0) {
      throw new RebuildError('BUILD_FAILED', `the recipe \`${recipe.command}\` failed (exit ${code}) under ${isolation.kind} isolation; log tail:\n${log}`, {
        hint: 'run the same command in a clean checkout of the source archive without network to reproduce',
      });
    }
    const info = await lstat(artifact).catch(() => undefined);
    if (!info?.isFile()) throw new RebuildError('BUILD_FAILED', `the recipe produced no ${recipe.output}`);
    return { artifact, isolation: isolation.kind, durationMs: Date.now() - started, log };
  } finally {
    if (hostWork) await removeWorkDir(hostWork, isolation.user);
  }
}

/**
 * Removes a host work directory (unshare, none). The build user made everything in it, and under
 * none a process the recipe detached may still be changing it: removed as root, a directory
 * swapped for a symlink between two steps of the walk would make root delete files elsewhere. So
 * the build user removes it (with what that user can delete, and no more).
 */
async function removeWorkDir(dir: string, user: BuildUser | undefined): Promise<void> {
  if (!user) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    return;
  }
  const as = { uid: user.uid, gid: user.gid, cwd: '/', timeout: 5 * 60_000 };
  // A directory the recipe made unreadable to itself is opened again first.
  await execFileAsync('chmod', ['-R', 'u+rwX', '--', dir], as).catch(() => undefined);
  await execFileAsync('rm', ['-rf', '--', dir], as).catch(() => undefined);
}

/** The fixed build environment (reproducible-builds.org: SOURCE_DATE_EPOCH, TZ, locale). */
function buildEnv(work: string, sourceDateEpoch: number): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: `${work}/home`,
    TMPDIR: `${work}/tmp`,
    TZ: 'UTC',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH: String(sourceDateEpoch),
    // npm: never reach the network or write outside HOME during a build.
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_cache: `${work}/home/.npm`,
  };
}

interface BoundedRun {
  readonly cwd: string;
  readonly user: BuildUser | undefined;
  readonly timeoutMs: number;
  /** Streamed to the build's stdin. */
  readonly source: string;
  /** Where fd 3 of the build is written, at most maxOutputBytes (then the build is killed). */
  readonly artifact: string;
  readonly maxOutputBytes: number;
}

/** O_CLOEXEC in the flags of /proc/self/fdinfo (octal 02000000 on Linux). */
const O_CLOEXEC = 0o2000000;

/**
 * Closes every descriptor this process holds without close-on-exec, beyond stdin, stdout and
 * stderr. Node opens its own descriptors close-on-exec (its IPC channel too), so these are the
 * ones its parent left open (a host directory, a terminal, a socket of a supervisor): a child
 * inherits them, bubblewrap passes them on into the sandbox, and a directory among them is the
 * whole host file system to the recipe (docs/verified-builds.md "The sandbox": the build holds
 * stdin, stdout, stderr and its artifact pipe, nothing else).
 */
function closeInheritedDescriptors(): void {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return; // Not Linux: no bubblewrap either.
  }
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isSafeInteger(fd) || fd < 3) continue;
    let flags: string | undefined;
    try {
      flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    } catch {
      continue; // Closed meanwhile (the listing's own descriptor, for one).
    }
    if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) closeSync(fd);
  }
}

/** Runs argv in its own process group (as the build user), stdin from the source, fd 3 to the artifact, with a time cap. */
function spawnBounded(argv: string[], env: Record<string, string>, run: BoundedRun): Promise<{ code: number; log: string; timedOut: boolean; outputBytes: number }> {
  closeInheritedDescriptors();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: run.cwd, env, stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'], detached: true,
      ...(run.user ? { uid: run.user.uid, gid: run.user.gid } : {}),
    });
    const stdio = child.stdio as unknown as [NodeJS.WritableStream, Readable, Readable, Readable, NodeJS.WritableStream, NodeJS.WritableStream];
    // The build's identity inside bubblewrap (fds 4 and 5: --ro-bind-data /etc/passwd, /etc/group).
    for (const [fd, text] of [[4, `build:x:${SANDBOX.uid}:${SANDBOX.gid}:build:${SANDBOX.work}/home:/bin/sh\n`], [5, `build:x:${SANDBOX.gid}:\n`]] as const) {
      stdio[fd].on('error', () => undefined);
      stdio[fd].end(text);
    }
    stdio[0].on('error', () => undefined);
    const input = createReadStream(run.source);
    input.on('error', () => stdio[0].end());
    input.pipe(stdio[0]);
    let outputBytes = 0;
    const output = createWriteStream(run.artifact, { mode: 0o644 });
    const outputDone = new Promise<void>((done) => output.on('close', done));
    stdio[3].on('data', (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (outputBytes > run.maxOutputBytes) {
        kill();
        stdio[3].destroy();
        return;
      }
      if (!output.write(chunk)) {
        stdio[3].pause();
        output.once('drain', () => stdio[3].resume());
      }
    });
    stdio[3].on('close', () => output.end());
    let log = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      log = Buffer.concat([log, chunk]);
      if (log.length > BUILD_LIMITS.maxLogBytes) log = log.subarray(log.length - BUILD_LIMITS.maxLogBytes);
    };
    stdio[1].on('data', keep);
    stdio[2].on('data', keep);
    let timedOut = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, run.timeoutMs);
    // If this process is told to stop, take the build's process group with it.
    const onExit = (): void => kill();
    process.once('exit', onExit);
    // When the build ends, whatever it left running in its group goes too (bubblewrap's PID
    // namespace already took them; with unshare or none they would hold the pipes open).
    child.on('exit', kill);
    child.on('error', (e) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      output.end();
      reject(new RebuildError('BUILD_FAILED', `cannot start ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      output.end();
      void outputDone.then(() => resolve({ code: code ?? (signal ? 128 : 1), log: log.toString('utf8'), timedOut, outputBytes }));
    });
  });
}

/** Makes a fresh empty output directory under `parent` (or the system temporary directory). */
export async function freshOutputDir(parent?: string): Promise<string> {
  const base = parent ?? tmpdir();
  if (!existsSync(base)) await mkdir(base, { recursive: true });
  return mkdtemp(join(base, 'cairn-out-'));
}

