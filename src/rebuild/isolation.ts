// rebuild/isolation.ts: runs a recipe in an isolated environment (docs/design.md "Build
// verification": a verifier rebuilds in an isolated environment without network;
// docs/verified-builds.md section 3 "The sandbox": no network, a fresh directory, fixed environment, read-only
// inputs, a real sandbox tool where the machine has one, and say which isolation was used).
//
// Three levels, best first; `auto` takes the first that works on this machine (probed once):
//   bubblewrap  bwrap with new network, PID, IPC and UTS namespaces; the host's /usr and /etc (and
//               the /bin, /lib* links or directories) read-only and nothing else of the host (no
//               /home, /root, /work, /var); a fresh tmpfs /tmp holding the work directory
//               /tmp/build; the source archive bound read-only at /tmp/input/source.tar; only the
//               output directory /tmp/output is writable to the host. Dies with its parent.
//   unshare     util-linux unshare --net (with --map-root-user when not root): no network, but the
//               host file system is visible and the work directory is a host temporary directory.
//   none        a plain subprocess: no isolation at all. Chosen by auto only after a loud warning.
// Every level runs the same driver with the same environment: cleared, then TZ=UTC,
// LC_ALL=LANG=C.UTF-8, SOURCE_DATE_EPOCH, HOME and TMPDIR inside the work directory, PATH
// /usr/local/bin:/usr/bin:/bin, umask 022, npm's network features off. The driver extracts the
// archive into WORK/src, runs the command there with /bin/sh -c, and copies the output file.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildRecipe, IsolationKind } from '../policy/index.js';
import { RebuildError } from './errors.js';

export type IsolationPreference = 'auto' | IsolationKind;
export const ISOLATION_PREFERENCES: readonly IsolationPreference[] = ['auto', 'bubblewrap', 'unshare', 'none'];

export interface Isolation {
  readonly kind: IsolationKind;
  /** The command prefix (empty for none). */
  readonly prefix: readonly string[];
  /** Set when the isolation is weaker than bubblewrap: what is missing. */
  readonly warning?: string;
}

export const BUILD_LIMITS = {
  /** Default wall-clock limit of one build. */
  timeoutMs: 30 * 60_000,
  /** Largest artifact accepted from a build. */
  maxOutputBytes: 4 * 1024 * 1024 * 1024,
  /** Build log kept (the tail) for error messages. */
  maxLogBytes: 64 * 1024,
} as const;

/** Paths inside the bubblewrap sandbox (fixed, so paths embedded by builds agree across verifiers). */
const SANDBOX = { work: '/tmp/build', source: '/tmp/input/source.tar', out: '/tmp/output' } as const;

const DRIVER = [
  'set -eu',
  'umask 022',
  'source_archive=$1; work=$2; out=$3; output=$4; command=$5',
  'mkdir -p "$work/src" "$HOME" "$TMPDIR"',
  'tar -xf "$source_archive" -C "$work/src" --no-same-owner',
  'cd "$work/src"',
  '/bin/sh -c "$command"',
  'if [ -L "$output" ] || [ ! -f "$output" ]; then echo "cairn: the recipe did not produce a regular file $output" >&2; exit 97; fi',
  'cp -- "$output" "$out/artifact"',
].join('\n');

const probed = new Map<IsolationKind, Isolation | string>();

/** The isolation to use: the preference if it works here, else RebuildError ISOLATION_UNAVAILABLE. */
export function chooseIsolation(preference: IsolationPreference = 'auto'): Isolation {
  if (preference !== 'auto') {
    const r = probe(preference);
    if (typeof r === 'string') {
      throw new RebuildError('ISOLATION_UNAVAILABLE', `${preference} isolation does not work on this machine: ${r}`, {
        hint: preference === 'bubblewrap' ? 'install it (apt-get install bubblewrap) and allow unprivileged user namespaces, or choose --isolation auto' : 'choose --isolation auto',
      });
    }
    return r;
  }
  const reasons: string[] = [];
  for (const kind of ['bubblewrap', 'unshare', 'none'] as const) {
    const r = probe(kind);
    if (typeof r !== 'string') {
      return reasons.length === 0 ? r : { ...r, warning: `${r.warning ?? ''} (${reasons.join('; ')})`.trim() };
    }
    reasons.push(`${kind}: ${r}`);
  }
  throw new RebuildError('ISOLATION_UNAVAILABLE', `no way to run a build: ${reasons.join('; ')}`);
}

function probe(kind: IsolationKind): Isolation | string {
  const cached = probed.get(kind);
  if (cached !== undefined) return cached;
  let result: Isolation | string;
  if (kind === 'none') {
    result = { kind, prefix: [], warning: 'WARNING: the build runs as a plain subprocess with NO isolation: it can use the network and read and write anything this user can. Install bubblewrap.' };
  } else if (kind === 'unshare') {
    result = 'unshare is not installed';
    for (const prefix of [['unshare', '--net'], ['unshare', '--net', '--map-root-user']]) {
      const r = spawnSync(prefix[0]!, [...prefix.slice(1), '/bin/true'], { stdio: 'ignore', timeout: 10_000 });
      if (r.status === 0) {
        result = { kind, prefix, warning: 'WARNING: isolation is unshare --net only: no network, but the build sees the host file system. Install bubblewrap for full isolation.' };
        break;
      }
      if (!r.error) result = `unshare ${prefix.slice(1).join(' ')} failed (exit ${r.status})`;
    }
  } else {
    const r = spawnSync('bwrap', [...bwrapBase(), '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    if (r.error) result = 'bwrap is not installed';
    else if (r.status !== 0) result = `bwrap failed: ${r.stderr.toString().trim().slice(0, 200)}`;
    else result = { kind, prefix: ['bwrap'] };
  }
  probed.set(kind, result);
  return result;
}

/** The read-only view of the host a bubblewrap build gets: /usr, /etc and the /bin, /lib* entries. */
function bwrapBase(): string[] {
  const args = ['--unshare-net', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session',
    '--hostname', 'cairn-build', '--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let info;
    try {
      info = lstatSync(top);
    } catch {
      continue;
    }
    if (info.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (info.isDirectory()) args.push('--ro-bind', top, top);
  }
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
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
  /** Host path of the (already checked) source archive. */
  readonly sourceArchive: string;
  readonly recipe: BuildRecipe;
  /** Host directory the artifact is copied to (as "artifact"). Must exist and be empty. */
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
  if (isolation.kind === 'bubblewrap') {
    work = SANDBOX.work;
    const env = buildEnv(work, recipe.sourceDateEpoch);
    argv = ['bwrap', ...bwrapBase(), '--dir', SANDBOX.work, '--ro-bind', run.sourceArchive, SANDBOX.source, '--bind', run.outDir, SANDBOX.out,
      '--chdir', SANDBOX.work, '--clearenv', ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
      '/bin/sh', '-c', DRIVER, 'cairn-build', SANDBOX.source, SANDBOX.work, SANDBOX.out, recipe.output, recipe.command];
  } else {
    hostWork = await mkdtemp(join(tmpdir(), 'cairn-build-'));
    work = hostWork;
    argv = [...isolation.prefix, '/bin/sh', '-c', DRIVER, 'cairn-build', run.sourceArchive, work, run.outDir, recipe.output, recipe.command];
  }
  try {
    const env = buildEnv(work, recipe.sourceDateEpoch);
    const { code, log, timedOut } = await spawnBounded(argv, isolation.kind === 'bubblewrap' ? { PATH: '/usr/bin:/bin' } : env, hostWork ?? run.outDir, run.timeoutMs ?? BUILD_LIMITS.timeoutMs);
    if (timedOut) throw new RebuildError('BUILD_TIMEOUT', `the recipe ran longer than ${Math.round((run.timeoutMs ?? BUILD_LIMITS.timeoutMs) / 1000)} s and was killed; log tail:\n${log}`);
    if (code !== 0) {
      throw new RebuildError('BUILD_FAILED', `the recipe \`${recipe.command}\` failed (exit ${code}) under ${isolation.kind} isolation; log tail:\n${log}`, {
        hint: 'run the same command in a clean checkout of the source archive without network to reproduce',
      });
    }
    const artifact = join(run.outDir, 'artifact');
    const info = await lstat(artifact).catch(() => undefined);
    if (!info?.isFile()) throw new RebuildError('BUILD_FAILED', `the recipe produced no ${recipe.output}`);
    const max = run.maxOutputBytes ?? BUILD_LIMITS.maxOutputBytes;
    if (info.size > max) throw new RebuildError('OUTPUT_TOO_LARGE', `the artifact built is ${info.size} bytes, the cap is ${max}`);
    return { artifact, isolation: isolation.kind, durationMs: Date.now() - started, log };
  } finally {
    if (hostWork) await rm(hostWork, { recursive: true, force: true }).catch(() => undefined);
  }
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

function spawnBounded(argv: string[], env: Record<string, string>, cwd: string, timeoutMs: number): Promise<{ code: number; log: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let log = Buffer.alloc(0);
    const keep = (chunk: Buffer): void => {
      log = Buffer.concat([log, chunk]);
      if (log.length > BUILD_LIMITS.maxLogBytes) log = log.subarray(log.length - BUILD_LIMITS.maxLogBytes);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
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
    }, timeoutMs);
    // If this process is told to stop, take the build's process group with it.
    const onExit = (): void => kill();
    process.once('exit', onExit);
    child.on('error', (e) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      reject(new RebuildError('BUILD_FAILED', `cannot start ${argv[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', onExit);
      resolve({ code: code ?? (signal ? 128 : 1), log: log.toString('utf8'), timedOut });
    });
  });
}

/** Makes a fresh empty output directory under `parent` (or the system temporary directory). */
export async function freshOutputDir(parent?: string): Promise<string> {
  const base = parent ?? tmpdir();
  if (!existsSync(base)) await mkdir(base, { recursive: true });
  return mkdtemp(join(base, 'cairn-out-'));
}

