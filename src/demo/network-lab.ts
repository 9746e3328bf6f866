// demo/network-lab.ts: two network namespaces standing in for a host and the internet, where the
// demo's App-per-VM step and the tests run networked apps (docs/apps.md "Network"), so nothing of
// this machine's own network is touched:
//   UPLINK  the "host" an app's link is attached to (`cairn run --network-uplink UPLINK`); it
//           forwards IPv4 and has a service of its own on port 8082 of each of its addresses
//           (an app must never reach it: the host's own services are not the app's);
//   WORLD   reached from UPLINK over a veth (UPLINK 198.18.1.1, WORLD 198.18.1.2), with a web
//           server on 198.18.0.1 answering `server PORT` on ports 8080 and 8081.
// 198.18.0.0/15 is reserved for benchmarks: public as far as cairn's rules go, never routed.
// Needs root and ip (iproute2).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface NetworkLab {
  /** The uplink namespace's name. */
  uplink: string;
  /** The uplink's own address towards WORLD (its "public" address). */
  uplinkAddress: string;
  /** The world's web server's address (ports 8080, 8081). */
  serverAddress: string;
  /** Stops the servers and removes both namespaces. */
  close(): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`network lab: ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

/** Node, in namespace `netns`, serving `server PORT` on each port of `ports` at `address`; resolves once all listen. */
async function serveIn(netns: string, address: string, ports: number[]): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', [
    "const http = require('node:http');",
    `let listening = 0; for (const port of ${JSON.stringify(ports)}) http.createServer((q, r) => r.end('server ' + port)).listen(port, ${JSON.stringify(address)}, () => ++listening === ${ports.length} && console.log('listening'));`,
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`network lab: the server in ${netns} ended (exit ${code})`)));
  });
  return server;
}

/** Makes the two namespaces, named `cairn-lab-NAME-up` and `cairn-lab-NAME-world`, and starts their servers. */
export async function startNetworkLab(name: string): Promise<NetworkLab> {
  const uplink = `cairn-lab-${name}-up`;
  const world = `cairn-lab-${name}-world`;
  const servers: ChildProcess[] = [];
  const close = (): void => {
    for (const s of servers) s.kill();
    for (const ns of [uplink, world]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  close();
  try {
    ip(['netns', 'add', uplink]);
    ip(['netns', 'add', world]);
    ip(['-n', uplink, 'link', 'add', 'world', 'type', 'veth', 'peer', 'name', 'uplink', 'netns', world]);
    ip(['-n', uplink, 'addr', 'add', '198.18.1.1/30', 'dev', 'world']);
    ip(['-n', world, 'addr', 'add', '198.18.1.2/30', 'dev', 'uplink']);
    ip(['-n', world, 'addr', 'add', '198.18.0.1/32', 'dev', 'lo']);
    for (const [ns, dev] of [[uplink, 'world'], [uplink, 'lo'], [world, 'uplink'], [world, 'lo']] as const) ip(['-n', ns, 'link', 'set', dev, 'up']);
    ip(['-n', uplink, 'route', 'add', '198.18.0.1/32', 'via', '198.18.1.2']);
    ip(['netns', 'exec', uplink, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    servers.push(await serveIn(world, '198.18.0.1', [8080, 8081]));
    servers.push(await serveIn(uplink, '0.0.0.0', [8082]));
  } catch (e) {
    close();
    throw e;
  }
  return { uplink, uplinkAddress: '198.18.1.1', serverAddress: '198.18.0.1', close };
}
