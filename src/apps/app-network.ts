// apps/app-network.ts: a networked app's own network namespace (docs/apps.md "Network"; the
// App-per-VM issue: "a grant gives the VM a network device in its own network namespace with only
// the granted destinations reachable (nftables rules in that namespace)"). Each start of an app
// with a granted network permission gets a namespace `cairn-N` (N: the app's slot) holding:
//   - `up0`, one end of a veth pair whose other end (`cairnN`) is in the uplink namespace (the
//     host's, or one named by the operator, such as a VPN's or a test's);
//   - `tap0`, the tap device the hypervisor opens, owned by the app's own uid and gid, through a
//     tun device node of its own (made beside its console socket, the app user's alone: the
//     host's /dev/net/tun stays as it is, often root's only);
//   - nftables rules: the namespace itself (where the hypervisor runs) sends and accepts nothing
//     but replies; a packet from the guest must carry the guest's own IPv4 address (rp_filter too)
//     and is forwarded only to a granted destination (`network:outbound:HOST:PORT`: that address
//     and port, TCP or UDP; a host name's private addresses are left out) or, for
//     `network:outbound`, to any public address (private, loopback, link-local, shared and
//     multicast ranges must be granted by address), never to another app's link; a packet to the
//     guest only as a reply or on a granted inbound port (`network:inbound:PORT/PROTO`, reached
//     at the namespace's uplink address); everything else is rejected (admin-prohibited), so a
//     refused connection fails at once; the guest's traffic leaves masqueraded as `up0`'s address.
// Each app's addresses come from its host user's slot (app-users.ts): a /28 of 10.213.0.0/16 per
// app, so apps never share one. The uplink gets its side of the link and a table of its own for it
// (`ip cairnN`: the uplink itself accepts nothing from the link but replies, forwards only the
// namespace's own address and nothing it would redirect by DNAT (a port it publishes), and
// masquerades it), removed with the namespace when the VM ends.
// Needs root (the system scope), ip (iproute2) and nft (nftables).
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type { Permission } from '../package/permissions.js';
import { AppError } from './errors.js';

const run = promisify(execFile);

/** The addresses apps' links are carved from: one /28 per app slot. */
export const APP_NETWORK = { base: [10, 213, 0, 0] as const, prefix: 16, slots: 4096 } as const;

/** Destinations `network:outbound` alone does not reach, nor a host name resolving to them: they must be granted by address. */
export const NON_PUBLIC_RANGES = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.168.0.0/16', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/3',
] as const;

/** The range of every app's link (APP_NETWORK): no app reaches another's. */
const APP_LINKS = `${APP_NETWORK.base.join('.')}/${APP_NETWORK.prefix}`;

/** Whether the IPv4 address `address` is in `cidr` (A.B.C.D/PREFIX). */
export function inIpv4Range(address: string, cidr: string): boolean {
  const number = (a: string): number => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
  const [base, prefix] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(prefix));
  return Math.floor(number(address) / size) === Math.floor(number(base) / size);
}

/** Where one app's network is: names and addresses, all derived from its slot. */
export interface AppLinkPlan {
  netns: string;
  /** The veth end in the uplink namespace. */
  uplinkInterface: string;
  /** Its address (the app namespace's gateway), and the app namespace's end `up0`. */
  uplinkAddress: string;
  namespaceAddress: string;
  /** The tap's address in the app namespace (the guest's gateway), and the guest's. */
  tapAddress: string;
  guestAddress: string;
  /** A locally administered MAC derived from the slot. */
  mac: string;
}

/** A granted destination with the addresses its host name had at start. */
export interface ResolvedDestination {
  host: string;
  port: number;
  addresses: string[];
}

/** The names and addresses of the app in slot `slot` (0 ..< APP_NETWORK.slots): its namespace is named by the slot, so two apps that share one cannot both run. */
export function appLinkPlan(slot: number): AppLinkPlan {
  if (!Number.isInteger(slot) || slot < 0 || slot >= APP_NETWORK.slots) throw new AppError('UNSUPPORTED', `app network slot ${slot} is outside 0..${APP_NETWORK.slots - 1}`);
  const [a, b] = APP_NETWORK.base;
  const offset = slot * 16;
  const address = (host: number): string => `${a}.${b}.${(offset + host) >> 8}.${(offset + host) & 255}`;
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return {
    netns: `cairn-${slot}`,
    uplinkInterface: `cairn${slot}`,
    uplinkAddress: address(1),
    namespaceAddress: address(2),
    tapAddress: address(5),
    guestAddress: address(6),
    mac: `52:54:00:c9:${hex(slot >> 8)}:${hex(slot & 255)}`,
  };
}

/** The guest's kernel command-line parameter its init configures eth0 from. */
export function guestNetworkParameter(plan: AppLinkPlan): string {
  return `cairn.net=${plan.guestAddress}/30,${plan.tapAddress}`;
}

/** Whether any of `granted` gives the VM a network device. */
export function grantsNetwork(granted: readonly Permission[]): boolean {
  return granted.some((p) => p.kind === 'network:outbound' || p.kind === 'network:outbound-to' || p.kind === 'network:inbound');
}

/** The set of the host's own addresses in the user scope's ruleset (user-app-network.ts keeps it current). */
export const HOST_ADDRESS_SET = 'host_addresses';

/**
 * The nftables ruleset of the app's namespace for what is granted (see the header). With
 * `hostAddressSet` (the user scope), a set HOST_ADDRESS_SET, filled and kept current by the
 * caller, whose addresses are refused before any grant is looked at.
 */
export function appNamespaceRuleset(plan: AppLinkPlan, granted: readonly Permission[], destinations: readonly ResolvedDestination[], options: { hostAddressSet?: boolean } = {}): string {
  const reject = 'reject with icmpx type admin-prohibited';
  const forward: string[] = [
    // Only the guest's own address, IPv4 only: a spoofed source would have replies sent where the guest may not reach.
    `iifname "tap0" ip saddr != ${plan.guestAddress} drop`,
    'iifname "tap0" meta nfproto != ipv4 drop',
    `iifname "tap0" oifname "up0" ct state established,related accept`,
    `iifname "up0" oifname "tap0" ip daddr ${plan.guestAddress} ct state established,related accept`,
    `iifname "tap0" ip daddr ${APP_LINKS} ${reject}`,
    // In the user scope the host's own addresses, granted or not.
    ...(options.hostAddressSet === true ? [`iifname "tap0" ip daddr @${HOST_ADDRESS_SET} ${reject}`] : []),
  ];
  for (const d of destinations) {
    for (const address of d.addresses) forward.push(`iifname "tap0" oifname "up0" ip daddr ${address} meta l4proto { tcp, udp } th dport ${d.port} accept`);
  }
  const inbound = granted.flatMap((p) => (p.kind === 'network:inbound' ? [p] : []));
  for (const p of inbound) forward.push(`iifname "up0" oifname "tap0" ip daddr ${plan.guestAddress} ${p.protocol} dport ${p.port} ct status dnat accept`);
  if (granted.some((p) => p.kind === 'network:outbound')) {
    forward.push(`iifname "tap0" ip daddr { ${NON_PUBLIC_RANGES.join(', ')} } ${reject}`);
    forward.push('iifname "tap0" oifname "up0" accept');
  }
  forward.push(reject);
  const prerouting = inbound.map((p) => `iifname "up0" ${p.protocol} dport ${p.port} dnat ip to ${plan.guestAddress}:${p.port}`);
  return [
    'table inet cairn {',
    ...(options.hostAddressSet === true ? [`  set ${HOST_ADDRESS_SET} {`, '    type ipv4_addr; flags interval; auto-merge;', '  }'] : []),
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    iif "lo" accept',
    '    ct state established,related accept',
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy drop;',
    '    oif "lo" accept',
    '    ct state established,related accept',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy drop;',
    ...forward.map((r) => `    ${r}`),
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat;',
    ...prerouting.map((r) => `    ${r}`),
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat;',
    '    oifname "up0" masquerade',
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The uplink's table for one app: the uplink itself accepts nothing from the link but replies
 * (the host's own services, on any of its addresses, are not the app's to reach), forwards from
 * it only the app namespace's own address, and masquerades that where it routes further.
 */
export function uplinkRuleset(plan: AppLinkPlan): string {
  const link = plan.uplinkInterface;
  return [
    `table ip ${link} {`,
    '  chain input {',
    '    type filter hook input priority filter;',
    `    iifname "${link}" ct state established,related accept`,
    `    iifname "${link}" reject with icmp type admin-prohibited`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter;',
    `    iifname "${link}" ip saddr != ${plan.namespaceAddress} drop`,
    // A port the host publishes (forwards by DNAT to a machine of its own network) is the host's too.
    `    iifname "${link}" ct status dnat reject with icmp type admin-prohibited`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat;',
    `    ip saddr ${plan.namespaceAddress} oifname != "${link}" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The granted destinations with their host names resolved now (IPv4); a name that does not resolve is reported and left out. */
export async function resolveDestinations(granted: readonly Permission[], onNotice: (line: string) => void = () => undefined): Promise<ResolvedDestination[]> {
  const out: ResolvedDestination[] = [];
  for (const p of granted) {
    if (p.kind !== 'network:outbound-to') continue;
    if (isIP(p.host) === 4) {
      out.push({ host: p.host, port: p.port, addresses: [p.host] });
      continue;
    }
    if (isIP(p.host) === 6) {
      onNotice(`network:outbound:${p.host}:${p.port} is an IPv6 destination: the app's network is IPv4 only, so it is not reachable`);
      continue;
    }
    try {
      const all = [...new Set((await lookup(p.host, { all: true, family: 4 })).map((a) => a.address))];
      // A name the app's author controls must not open the local network or the host: those are granted by address.
      const addresses = all.filter((a) => ![...NON_PUBLIC_RANGES, APP_LINKS].some((r) => inIpv4Range(a, r)));
      if (addresses.length < all.length) onNotice(`${p.host} resolves to ${all.filter((a) => !addresses.includes(a)).join(', ')}, private or local: network:outbound:${p.host}:${p.port} does not reach ${addresses.length === 0 ? 'it' : 'those'} (grant such a destination by its address)`);
      if (addresses.length > 0) out.push({ host: p.host, port: p.port, addresses });
    } catch (e) {
      onNotice(`${p.host} does not resolve (${(e as Error).message}): network:outbound:${p.host}:${p.port} is not reachable this start`);
    }
  }
  return out;
}

/** One command of setting up an app's network; its failure (VM_FAILED) names the step. */
export async function step(what: string, command: string, args: string[], input?: string): Promise<void> {
  try {
    if (input === undefined) {
      await run(command, args);
    } else {
      await new Promise<void>((resolve, reject) => {
        const child = execFile(command, args, (e) => (e === null ? resolve() : reject(e)));
        child.stdin?.end(input);
      });
    }
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: string };
    const packages: Record<string, string> = { ip: 'iproute2', nft: 'nftables' };
    const hint = error.code === 'ENOENT' && Object.hasOwn(packages, command) ? `${command} is missing: sudo apt-get install ${packages[command]}` : undefined;
    throw new AppError('VM_FAILED', `could not ${what}: ${(error.stderr ?? error.message).trim().split('\n').slice(-2).join(' / ')}`, hint === undefined ? {} : { hint });
  }
}

export interface AppNetworkOptions {
  /** The app's host user and group: the tap is theirs. */
  uid: number;
  gid: number;
  /** The named network namespace (/run/netns/NAME) the app's link goes to; default the host's. */
  uplinkNetns?: string;
  /** Where to make the app's own tun device node (in a directory only root may write to yet). */
  tunNode: string;
}

/** A set-up app network; `remove` takes it down (idempotent). */
export interface AppNetwork {
  /** The path nsenter enters the namespace by. */
  netnsPath: string;
  /** The app's tun device node (the jail's /dev/net/tun). */
  tunNode: string;
  remove(): Promise<void>;
}

/**
 * Creates the app's namespace, link, tap and rules. Needs root; a namespace left by a start that
 * did not end cleanly (the app is not running: the caller checked) is replaced.
 */
export async function setUpAppNetwork(plan: AppLinkPlan, ruleset: string, options: AppNetworkOptions): Promise<AppNetwork> {
  const uplink = options.uplinkNetns === undefined ? [] : ['-n', options.uplinkNetns];
  // nft in the uplink namespace: the host's own, or entered with ip netns exec.
  const uplinkNft = (args: string[]): [string, string[]] => (options.uplinkNetns === undefined ? ['nft', args] : ['ip', ['netns', 'exec', options.uplinkNetns, 'nft', ...args]]);
  const ns = ['-n', plan.netns];
  const remove = async (): Promise<void> => {
    await run('ip', ['netns', 'del', plan.netns]).catch(() => undefined);
    await run(...uplinkNft(['delete', 'table', 'ip', plan.uplinkInterface])).catch(() => undefined);
  };
  // A namespace of the slot with a process in it is someone's (a VM a killed cairn left running, another tool's): never torn down here.
  const inUse = await run('ip', ['netns', 'pids', plan.netns]).then((r) => r.stdout.trim() !== '', () => false);
  if (inUse) throw new AppError('RUNNING', `the network namespace ${plan.netns} of this app's slot has processes in it`, { hint: `ip netns pids ${plan.netns} lists them: end them first` });
  await remove(); // what a start that did not end cleanly left
  try {
    await step(`create the network namespace ${plan.netns}`, 'ip', ['netns', 'add', plan.netns]);
    await step(`link ${plan.netns} to the ${options.uplinkNetns ?? 'host'}'s namespace`, 'ip', [...uplink, 'link', 'add', plan.uplinkInterface, 'type', 'veth', 'peer', 'name', 'up0', 'netns', plan.netns]);
    await step('address the uplink\'s end', 'ip', [...uplink, 'addr', 'add', `${plan.uplinkAddress}/30`, 'dev', plan.uplinkInterface]);
    await step('bring up the uplink\'s end', 'ip', [...uplink, 'link', 'set', plan.uplinkInterface, 'up']);
    await step('address the app\'s end', 'ip', [...ns, 'addr', 'add', `${plan.namespaceAddress}/30`, 'dev', 'up0']);
    await step('bring up the app\'s end', 'ip', [...ns, 'link', 'set', 'up0', 'up']);
    await step('bring up the app namespace\'s loopback', 'ip', [...ns, 'link', 'set', 'lo', 'up']);
    await step('route the app namespace through the uplink', 'ip', [...ns, 'route', 'add', 'default', 'via', plan.uplinkAddress]);
    await step('create the app\'s tap', 'ip', [...ns, 'tuntap', 'add', 'tap0', 'mode', 'tap', 'user', String(options.uid), 'group', String(options.gid)]);
    await step('address the app\'s tap', 'ip', [...ns, 'addr', 'add', `${plan.tapAddress}/30`, 'dev', 'tap0']);
    await step('bring up the app\'s tap', 'ip', [...ns, 'link', 'set', 'tap0', 'up']);
    await step(`load the app namespace's rules`, 'ip', ['netns', 'exec', plan.netns, 'nft', '-f', '-'], ruleset);
    await step('turn on forwarding and strict reverse-path filtering in the app namespace', 'ip', ['netns', 'exec', plan.netns, 'sh', '-c',
      'echo 1 > /proc/sys/net/ipv4/ip_forward && for i in all default tap0 up0; do echo 1 > /proc/sys/net/ipv4/conf/$i/rp_filter; done']);
    await step('masquerade the app\'s link in the uplink', ...uplinkNft(['-f', '-']), uplinkRuleset(plan));
    await step('make the app\'s tun device', 'mknod', ['--mode=0600', options.tunNode, 'c', '10', '200']);
    await step('give the app\'s user its tun device', 'chown', ['--no-dereference', `${options.uid}:${options.gid}`, options.tunNode]);
  } catch (e) {
    await remove();
    throw e;
  }
  return { netnsPath: `/run/netns/${plan.netns}`, tunNode: options.tunNode, remove };
}
