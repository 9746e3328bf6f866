// apps/user-app-network.ts: a granted network in the user scope (docs/apps.md "Network"), made
// with no privilege: the app's network namespace belongs to the user namespace of the user's
// subordinate IDs (app-users.ts), where the user is root. In it are `tap0`, the app's (its inner
// ID's), and `up0`, the tap of slirp4netns (run by the user, in the user namespace and a mount
// namespace of its own, syscalls filtered), which carries the namespace's traffic out through the
// user's own sockets, as a program of the user would connect, never to the host's loopback. The
// namespace's rules are the system scope's (app-network.ts: appNamespaceRuleset), plus a refusal of
// every address the host (the namespace cairn runs in) has, since slirp's connections start from
// it: the host's own services are not the app's to reach. Those are the kernel's local routes
// (every interface's addresses, up or not, and local ranges), read before the VM starts and again
// at each change of the host's routes (`ip monitor route`) while it runs; should that fail, the
// guest's traffic is all dropped. A granted inbound TCP port (`network:inbound:PORT/tcp`; UDP is
// not given here, run.ts) is opened on the host's loopback, 127.0.0.1:PORT, by slirp4netns (asked through its API socket, which is
// in a directory of cairn's alone and removed once the ports are open) and reaches the guest
// through the namespace's DNAT rule. The namespace lives as long as its holder process and
// slirp4netns, which both end with the VM, or with cairn however it ends (the holder reads cairn's
// pipe; slirp4netns has an exit descriptor; the monitor a parent-death signal).
// Needs slirp4netns, uidmap, ip, nft, and /dev/net/tun open to users (Debian's default, 0666).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AppError } from './errors.js';
import { HOST_ADDRESS_SET, step, type AppLinkPlan } from './app-network.js';
import { subordinateNamespaceArgs, type SubordinateIds } from './app-users.js';

/** How long the namespace's holder and slirp4netns may take to be ready. */
const READY_TIMEOUT_MS = 20_000;

/** slirp4netns's API: the most a reply may hold (its requests are under 4096 bytes), and how long it may take. */
const SLIRP_API = { maxReplyBytes: 4096, timeoutMs: 5_000 } as const;

/** A port the app serves, opened on the host's loopback. */
export interface InboundPort {
  port: number;
  protocol: 'tcp' | 'udp';
}

/** A set-up user-scope app network; `remove` ends it (idempotent). */
export interface UserAppNetwork {
  /** The process that holds the namespace: the jail enters its user and network namespaces. */
  holderPid: number;
  remove(): Promise<void>;
}

const run = promisify(execFile);

/** The IPv4 addresses and ranges the namespace this process runs in (the host's, or an uplink's) takes as its own: its local routes. */
export async function hostAddresses(): Promise<string[]> {
  const { stdout } = await run('ip', ['-4', 'route', 'show', 'table', 'local', 'type', 'local']);
  // Each line: local DESTINATION dev ... (the type first, then the address or range).
  const found = stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter((f) => f[0] === 'local' && /^[0-9.]+(\/[0-9]+)?$/.test(f[1] ?? '')).map((f) => f[1]!);
  // Loopback at least is always local: none read means the reading failed, not that the host has none.
  if (found.length === 0) throw new AppError('VM_FAILED', `the host's own addresses could not be read (ip -4 route show table local printed ${JSON.stringify(stdout.slice(0, 200))})`);
  return found;
}

/** Waits until `child` writes to `signal` (its stdout, or its ready descriptor); fails if it ends first or takes too long. */
function ready(child: ChildProcess, signal: NodeJS.ReadableStream, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => reject(new AppError('VM_FAILED', `${what} was not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    signal.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new AppError('VM_FAILED', `${what} ended (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' / ')}`));
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new AppError('VM_FAILED', `${what} could not be started: ${e.message}`, e.code === 'ENOENT' ? { hint: 'sudo apt-get install slirp4netns uidmap util-linux' } : {}));
    });
  });
}

/** Ends `child` and waits for it. */
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * Makes the app's namespace in the user namespace of `ids` (the user's subordinate IDs), its tap
 * owned by the app's inner ID, its rules (`ruleset`, made with the host address set, which this
 * fills and keeps current), and slirp4netns as its way out.
 */
export async function setUpUserAppNetwork(plan: AppLinkPlan, ruleset: string, ids: SubordinateIds, inbound: readonly InboundPort[] = []): Promise<UserAppNetwork> {
  await access('/dev/net/tun', constants.R_OK | constants.W_OK).catch(() => {
    throw new AppError('UNSUPPORTED', 'a granted network in the user scope needs /dev/net/tun open to you: it is not', { hint: 'Debian makes it 0666; here: sudo chmod 0666 /dev/net/tun' });
  });
  // slirp's API socket, where anyone who can connect may open ports: in a directory of cairn's alone (mkdtemp: 0700), gone once the ports are open. Made before anything that would need removing.
  const api = inbound.length === 0 ? undefined : await mkdtemp(join(tmpdir(), 'cairn-slirp-')).catch((e: Error) => {
    throw new AppError('VM_FAILED', `a private directory for slirp4netns's API socket could not be made in ${tmpdir()}: ${e.message}`);
  });
  // The holder reads cairn's pipe: it ends when cairn does, however cairn ends.
  const holder = spawn('unshare', [...subordinateNamespaceArgs(ids), '--net', '--', 'sh', '-c', 'echo ready && exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let slirp: ChildProcess | undefined;
  let monitor: ChildProcess | undefined;
  const removeApi = async (): Promise<void> => {
    if (api !== undefined) await rm(api, { recursive: true, force: true });
  };
  const remove = async (): Promise<void> => {
    if (monitor !== undefined) await end(monitor);
    if (slirp !== undefined) await end(slirp);
    await end(holder);
    await removeApi();
  };
  try {
    await ready(holder, holder.stdout!, 'the app\'s network namespace (unshare --user --net)');
    const pid = holder.pid!;
    // slirp4netns writes "1" to its ready descriptor (3) once up0 is configured, and ends when its exit descriptor (4, whose other end only cairn holds) closes.
    const apiSocket = api === undefined ? [] : [`--api-socket=${join(api, 'slirp.sock')}`];
    slirp = spawn('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', '--disable-dns', '--enable-sandbox', '--enable-seccomp', ...apiSocket, '--ready-fd=3', '--exit-fd=4', String(pid), 'up0'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    await ready(slirp, slirp.stdio[3] as NodeJS.ReadableStream, 'slirp4netns');
    const inside = (what: string, args: string[], input?: string): Promise<void> => step(`${what} in the app's network namespace`, 'nsenter', ['--target', String(pid), '--user', '--net', '--preserve-credentials', '--', ...args], input);
    const inner = String(ids.innerId);
    await inside('create the app\'s tap', ['ip', 'tuntap', 'add', 'tap0', 'mode', 'tap', 'user', inner, 'group', inner]);
    await inside('address the app\'s tap', ['ip', 'addr', 'add', `${plan.tapAddress}/30`, 'dev', 'tap0']);
    await inside('bring up the app\'s tap', ['ip', 'link', 'set', 'tap0', 'up']);
    await inside('load the app namespace\'s rules', ['nft', '-f', '-'], ruleset);
    const refreshHostAddresses = async (): Promise<void> => {
      const addresses = await hostAddresses();
      await inside('refuse the host\'s own addresses', ['nft', '-f', '-'], `flush set inet cairn ${HOST_ADDRESS_SET}\nadd element inet cairn ${HOST_ADDRESS_SET} { ${addresses.join(', ')} }\n`);
    };
    // Watching before the first reading: no change between the two goes unseen.
    monitor = watchHostRoutes(refreshHostAddresses, () => inside('drop all the guest\'s traffic', ['nft', 'insert', 'rule', 'inet', 'cairn', 'forward', 'iifname', 'tap0', 'drop']));
    await refreshHostAddresses();
    await inside('turn on forwarding and strict reverse-path filtering', ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward && for i in all default tap0 up0; do echo 1 > /proc/sys/net/ipv4/conf/$i/rp_filter; done']);
    for (const p of inbound) await openHostPort(join(api!, 'slirp.sock'), p);
    await removeApi();
  } catch (e) {
    await remove();
    throw e;
  }
  return { holderPid: holder.pid!, remove };
}

/**
 * Has slirp4netns (its API socket at `socket`) listen on 127.0.0.1:PORT and forward what arrives
 * to the namespace's up0, same port, where the DNAT rule sends it to the guest. A port the host
 * cannot give (in use, or privileged) is PORT_UNAVAILABLE.
 */
async function openHostPort(socket: string, { port, protocol }: InboundPort): Promise<void> {
  const request = { execute: 'add_hostfwd', arguments: { proto: protocol, host_addr: '127.0.0.1', host_port: port, guest_port: port } };
  const reply = await new Promise<string>((resolve, reject) => {
    const client = connect(socket);
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (why: string): void => {
      clearTimeout(timer);
      client.destroy();
      reject(new AppError('VM_FAILED', `slirp4netns's API did not open 127.0.0.1:${port}/${protocol}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no whole reply within ${SLIRP_API.timeoutMs} ms`), SLIRP_API.timeoutMs);
    client.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size > SLIRP_API.maxReplyBytes) fail(`a reply over ${SLIRP_API.maxReplyBytes} bytes`);
    });
    client.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    client.on('error', (e) => fail(e.message));
    client.end(JSON.stringify(request));
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) throw new AppError('VM_FAILED', `slirp4netns's API replied ${JSON.stringify(reply.slice(0, 200))}, not a JSON object, to opening 127.0.0.1:${port}/${protocol}`);
  const answer = parsed as { return?: unknown; error?: { desc?: unknown } };
  if (answer.return !== undefined && answer.error === undefined) return;
  // slirp4netns says the same for every failure of add_hostfwd; binding the port is the one it can have here.
  const why = typeof answer.error?.desc === 'string' ? answer.error.desc : JSON.stringify(answer).slice(0, 200);
  throw new AppError('PORT_UNAVAILABLE', `the granted inbound port ${port}/${protocol} could not be opened on 127.0.0.1: ${why}${port < 1024 ? ' (a port under 1024 is privileged: only root binds it, unless net.ipv4.ip_unprivileged_port_start says otherwise)' : ''}`);
}

/**
 * Runs `refresh` at each change of the host's routes (`ip -4 monitor route`: addresses come and
 * go with their local routes), one at a time; if one fails, or the monitor ends, runs `failClosed`.
 */
function watchHostRoutes(refresh: () => Promise<void>, failClosed: () => Promise<void>): ChildProcess {
  // Ended with cairn however it ends (the parent-death signal), like the holder and slirp4netns.
  const monitor = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'ip', '-4', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let running = Promise.resolve();
  let pending = false;
  let stopped = false;
  const closeAll = (): void => {
    if (stopped) return;
    stopped = true;
    void failClosed().catch(() => undefined);
  };
  monitor.stdout!.on('data', () => {
    if (pending || stopped) return;
    pending = true;
    running = running.then(async () => {
      pending = false;
      await refresh();
    }).catch(closeAll);
  });
  monitor.on('error', closeAll);
  monitor.on('exit', (code, signal) => {
    if (signal !== 'SIGTERM') closeAll();
  });
  return monitor;
}
