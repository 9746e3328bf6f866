// test/apps/run.test.ts: apps boot in their own VM (docs/apps.md "Running", "Runtime"): the
// runtime is built from Debian's kernel and busybox-static packages through apt (hashes checked
// against apt's index), and real guests boot under QEMU (software emulation where /dev/kvm is
// absent). The app's output comes back and its exit status is cairn's; inside, the store path is
// read-only, only the app's state directory is writable (and lands on the host), there is no
// network device, and the host's files are not there. A granted network reaches only the granted
// destination (a server beyond the uplink of a lab of namespaces, src/demo/network-lab.ts), a
// granted folder is writable, and neither is once revoked; in the user scope each app runs under
// its own subordinate ID; a runtime package pinned by the manifest boots. Needs qemu-system-x86
// and a Debian system with apt; the network tests need root, iproute2 and nftables; the
// user-scope test uidmap and the user cairn-tester with subordinate IDs (.ci/run makes it).
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { APP_ID_RANGE, AppError, appFolderDir, appLinkPlan, appStateDir, appUser, subordinateRange, type AppLinkPlan, auditTrail, buildRuntime, grantPermission, revokePermission, runApp, runningApps, type RuntimeDescription } from '../../src/apps/index.js';
import { startNetworkLab, type NetworkLab } from '../../src/demo/index.js';
import { openStore } from '../../src/store/index.js';
import { CAIRN_BIN, runCli } from '../fixtures/cairn-process.js';
import { testPackage } from '../fixtures/store-driver.js';
import { needsTool } from '../fixtures/system-tools.js';

const NEEDS = [
  needsTool('qemu-system-x86_64', 'sudo apt-get install qemu-system-x86'),
  needsTool('bwrap', 'sudo apt-get install bubblewrap'),
  needsTool('dpkg-deb', 'a Debian system (apt-get, apt-cache, dpkg-deb) builds the runtime'),
].find((n) => n.skip !== undefined) ?? {};
const T = { timeout: 240_000, ...NEEDS };

let dir: string;
let runtimeDir: string;
let runtime: RuntimeDescription;

before(async () => {
  if (NEEDS.skip !== undefined) return;
  dir = await mkdtemp(join(tmpdir(), 'cairn-run-'));
  await chmod(dir, 0o755); // the apps' own users must reach the stores and the runtime, as under /var/lib/cairn
  runtimeDir = join(dir, 'runtime');
  runtime = await buildRuntime(runtimeDir);
}, { timeout: 240_000 });

after(async () => {
  if (dir !== undefined) {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
});

/** A store with one app whose entry point is `script` (run by the guest's busybox sh). */
async function storeWithApp(name: string, script: string, permissions: string[] = []): Promise<string> {
  return storeWithApps(join(dir, `store-${name}`), { [name]: script }, permissions);
}

/** The network names and addresses `name` of the store storeWithApp(name) makes will have: its slot is its uid's offset (app-users.ts). */
async function linkOf(name: string): Promise<AppLinkPlan> {
  const root = join(dir, `store-${name}`);
  await mkdir(root, { recursive: true });
  return appLinkPlan(appUser(root, name, 'main').uid - APP_ID_RANGE.first);
}

/** A store with one generation holding every app of `scripts` (name -> script). */
async function storeWithApps(root: string, scripts: Record<string, string>, permissions: string[] = []): Promise<string> {
  const packages = Object.fromEntries(Object.entries(scripts).map(([name, script]) => {
    const app = testPackage(name, '1.0.0', { permissions, tree: [{ path: 'bin', type: 'directory' }, { path: `bin/${name}`, type: 'file', mode: 0o755, content: `#!/bin/sh\n${script}` }] });
    return [name, { incoming: app, version: '1.0.0', remote: 'main', explicit: true, permissions }];
  }));
  await (await openStore(root)).commit({ reason: 'install', packages });
  return root;
}

test('the runtime records the Debian packages it was built from, with the hashes apt\'s index lists', T, async () => {
  assert.equal(runtime.format, 'cairn-runtime/1');
  assert.deepEqual(runtime.packages.map((p) => p.name), [`linux-image-${runtime.kernelRelease}`, 'busybox-static']);
  for (const p of runtime.packages) {
    assert.match(p.sha256, /^[0-9a-f]{64}$/);
    const shown = spawnSync('apt-cache', ['show', `${p.name}=${p.version}`], { encoding: 'utf8' }).stdout;
    assert.ok(shown.includes(`SHA256: ${p.sha256}`), `${p.name} ${p.version}: the hash apt's index lists`);
  }
  assert.deepEqual(JSON.parse(await readFile(join(runtimeDir, 'runtime.json'), 'utf8')), runtime);
});

test('an app runs in its own VM: its output and exit status come back; the store is read-only, only its state is writable, no network device, no host file', T, async () => {
  const secret = join(dir, 'host-secret');
  await writeFile(secret, 'the host');
  const root = await storeWithApp('probe', [
    'echo "hello from the guest"',
    'echo data > /state/out && echo "state written"',
    '(echo x > /app/evil) 2>/dev/null && echo "STORE WRITTEN" || echo "store refused"',
    '(echo x > /evil) 2>/dev/null; echo "interfaces: $(ls /sys/class/net | tr "\\n" " ")"',
    `cat ${secret} 2>/dev/null && echo "HOST FILE READ" || echo "host file absent"`,
    'exit 3',
  ].join('\n') + '\n');
  const output: string[] = [];
  const notices: string[] = [];
  const result = await runApp(root, 'probe', { runtimeDir, onOutput: (l) => output.push(l), onNotice: (l) => notices.push(l) });
  assert.equal(result.exitCode, 3, output.join('\n'));
  assert.deepEqual(output, ['hello from the guest', 'state written', 'store refused', 'interfaces: lo ', 'host file absent']);
  assert.equal(await readFile(join(appStateDir(root, 'probe', 'main'), 'out'), 'utf8'), 'data\n', 'the state directory is the host\'s');
  if (result.acceleration === 'tcg') assert.ok(notices.some((n) => /software/.test(n)), 'software emulation is said');
});

const ROOT_ONLY = process.getuid?.() !== 0 ? 'the system scope needs root' : undefined;
const NETWORK_NEEDS = [needsTool('ip', 'sudo apt-get install iproute2'), needsTool('nft', 'sudo apt-get install nftables')].find((n) => n.skip !== undefined)?.skip;

/**
 * The guest's probe of the network, one line per destination saying what answered or `refused`
 * (busybox's nc: its wget crashes where no route exists): the lab's server on the granted and on
 * another port, an address nothing answers, the uplink's own service on its public address and on
 * the app link's address.
 */
function networkProbe(lab: NetworkLab, link: AppLinkPlan): { script: string; targets: string[] } {
  const targets = [`${lab.serverAddress}:8080`, `${lab.serverAddress}:8081`, '198.18.0.2:8080', `${lab.uplinkAddress}:8082`, `${link.uplinkAddress}:8082`];
  return {
    targets,
    script: [
      // With /state/spoof present the guest (root in its VM) sends from an address not its own, to the granted server only.
      'if [ -f /state/spoof ]; then',
      '  gateway=$(ip route | sed -n "s/^default via \\([^ ]*\\).*/\\1/p")',
      `  ip addr add 10.99.0.1/32 dev eth0 && ip route replace default via "$gateway" src 10.99.0.1 && targets=${targets[0]}`,
      'fi',
      `for target in \${targets:-${targets.join(' ')}}; do`,
      '  got=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "${target%:*}" "${target#*:}" 2>/dev/null | tail -n 1)',
      '  [ -n "$got" ] && echo "$target: $got" || echo "$target: refused"',
      'done',
    ].join('\n'),
  };
}

/** The network lab (src/demo/network-lab.ts) for one test, removed after it. */
async function labFor(t: TestContext, name: string): Promise<NetworkLab> {
  const lab = await startNetworkLab(`${name}-${process.pid}`);
  t.after(() => lab.close());
  return lab;
}

/** What a TCP connection from the namespace `netns` to HOST:PORT receives, or `refused`. */
async function receiveIn(netns: string, host: string, port: number): Promise<string> {
  const client = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', [
    "const s = require('node:net').connect(" + port + ", '" + host + "');",
    "let got = ''; s.on('data', (d) => (got += d)); s.on('end', () => console.log(got.trim())); s.on('error', () => console.log('refused'));",
    's.setTimeout(5000, () => { console.log("refused"); process.exit(0); });',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => client.on('exit', resolve));
  return out.trim();
}

test('the network: none by default; granted, the app reaches the granted server beyond its uplink and nothing else (not the uplink itself); revoked, none again', { ...T, skip: T.skip ?? ROOT_ONLY ?? NETWORK_NEEDS }, async (t) => {
  const lab = await labFor(t, 'dest');
  const link = await linkOf('fetcher');
  const probe = networkProbe(lab, link);
  const root = await storeWithApp('fetcher', `${probe.script}\necho "interfaces: $(ls /sys/class/net | tr "\\n" " ")"\n`, [`network:outbound:${lab.serverAddress}:8080`]);
  const run = async (): Promise<string[]> => {
    const output: string[] = [];
    const result = await runApp(root, 'fetcher', { runtimeDir, networkUplink: lab.uplink, onOutput: (l) => output.push(l) });
    assert.equal(result.exitCode, 0, output.join('\n'));
    return output;
  };
  const nothing = [...probe.targets.map((x) => `${x}: refused`), 'interfaces: lo '];
  assert.deepEqual(await run(), nothing, 'no network until granted');

  await grantPermission(root, 'fetcher', 'network');
  assert.deepEqual(await run(), [`${probe.targets[0]}: server 8080`, ...probe.targets.slice(1).map((x) => `${x}: refused`), 'interfaces: eth0 lo '], 'only the granted destination');
  // A guest that forges its source address reaches nothing, not even the granted server (replies would go where it may not send).
  const spoof = join(appStateDir(root, 'fetcher', 'main'), 'spoof');
  await writeFile(spoof, '');
  assert.deepEqual(await run(), [`${probe.targets[0]}: refused`, 'interfaces: eth0 lo ']);
  await rm(spoof);
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]);
  assert.equal(namespaces.includes(link.netns), false, 'the app\'s namespace is gone with its VM');
  assert.equal(spawnSync('ip', ['-n', lab.uplink, 'link', 'show', link.uplinkInterface], { stdio: 'ignore' }).status, 1, 'and its link');

  await revokePermission(root, 'fetcher', 'network');
  assert.deepEqual(await run(), nothing, 'no network once revoked');
});

test('network:outbound reaches public addresses but not the uplink itself nor private ranges; a granted inbound port is reachable at the app namespace\'s address while another is not', { ...T, skip: T.skip ?? ROOT_ONLY ?? NETWORK_NEEDS }, async (t) => {
  const lab = await labFor(t, 'any');
  const link = await linkOf('browser');
  const probe = networkProbe(lab, link);
  const root = await storeWithApp('browser', [
    'echo "guest 9000" | nc -l -p 9000 >/dev/null & inbound=$!',
    'echo "guest 9001" | nc -l -p 9001 >/dev/null &',
    probe.script,
    'echo listening',
    'wait $inbound',
  ].join('\n') + '\n', ['network:outbound', 'network:inbound:9000/tcp']);
  await grantPermission(root, 'browser', 'network');
  const output: string[] = [];
  let inbound: Promise<string[]> | undefined;
  const result = await runApp(root, 'browser', {
    runtimeDir, networkUplink: lab.uplink, timeoutMs: 120_000,
    onOutput: (l) => {
      output.push(l);
      // The app's namespace itself, where its hypervisor runs, reaches nothing (a guest escaping into QEMU gains no network).
      if (l === 'listening') inbound = Promise.all([receiveIn(lab.uplink, link.namespaceAddress, 9001), receiveIn(lab.uplink, link.namespaceAddress, 9000), receiveIn(link.netns, lab.serverAddress, 8080)]);
    },
  });
  assert.equal(result.exitCode, 0, output.join('\n'));
  // 198.18.0.0/15 is not a private range: network:outbound reaches it; the uplink's own services it does not, on any address.
  assert.deepEqual(output, [`${probe.targets[0]}: server 8080`, `${probe.targets[1]}: server 8081`, ...probe.targets.slice(2).map((x) => `${x}: refused`), 'listening']);
  assert.deepEqual(await inbound, ['refused', 'guest 9000', 'refused'], 'only the granted inbound port; nothing from the namespace itself');
});

test('a start never tears down a network namespace in use (processes in its slot\'s namespace), nor takes over a state directory of another user or a link', { ...T, skip: T.skip ?? ROOT_ONLY ?? NETWORK_NEEDS }, async (t) => {
  const link = await linkOf('squatter');
  const root = await storeWithApp('squatter', 'echo ran\n', ['network:outbound']);
  await grantPermission(root, 'squatter', 'network');
  spawnSync('ip', ['netns', 'add', link.netns]);
  const occupant = spawn('ip', ['netns', 'exec', link.netns, 'sleep', '60'], { stdio: 'ignore' });
  t.after(() => {
    occupant.kill();
    spawnSync('ip', ['netns', 'del', link.netns]);
  });
  await new Promise((r) => setTimeout(r, 300));
  await assert.rejects(runApp(root, 'squatter', { runtimeDir }), (e: unknown) => e instanceof AppError && e.code === 'RUNNING' && e.message.includes(link.netns));
  assert.equal(spawnSync('ip', ['netns', 'pids', link.netns], { encoding: 'utf8' }).stdout.trim(), String(occupant.pid), 'the running namespace is untouched');

  const other = await storeWithApp('victim', 'echo ran\n');
  const stateDir = appStateDir(other, 'victim', 'main');
  await mkdir(stateDir, { recursive: true });
  await chown(stateDir, 12345, 12345);
  await assert.rejects(runApp(other, 'victim', { runtimeDir }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED' && /belongs to uid 12345/.test(e.message));
  assert.equal((await stat(stateDir)).uid, 12345, 'not handed over');
  await rm(stateDir, { recursive: true });
  await symlink('/etc', stateDir);
  await assert.rejects(runApp(other, 'victim', { runtimeDir }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED' && /symbolic link/.test(e.message));
  assert.equal((await stat('/etc')).uid, 0, '/etc was not chowned');
});

test('a shared folder: absent by default; granted, the app writes there and the host sees it; revoked, it can no longer', T, async () => {
  const root = await storeWithApp('writer', '(echo "from the guest" > /folders/docs/note) 2>/dev/null && echo written || echo refused\n', ['folder:docs:rw']);
  const attempt = async (): Promise<string[]> => {
    const output: string[] = [];
    assert.equal((await runApp(root, 'writer', { runtimeDir, onOutput: (l) => output.push(l) })).exitCode, 0, output.join('\n'));
    return output;
  };
  const note = join(appFolderDir(root, 'writer', 'main', 'docs'), 'note');
  assert.deepEqual(await attempt(), ['refused']);
  await assert.rejects(readFile(note), { code: 'ENOENT' });
  await grantPermission(root, 'writer', 'folder');
  assert.deepEqual(await attempt(), ['written']);
  assert.equal(await readFile(note, 'utf8'), 'from the guest\n');
  await rm(note);
  await revokePermission(root, 'writer', 'folder');
  assert.deepEqual(await attempt(), ['refused']);
  await assert.rejects(readFile(note), { code: 'ENOENT' });
});

test('cairn run exits with the app\'s status and prints its output, the store and runtime named by relative paths; an app that is not installed is NOT_INSTALLED', T, async () => {
  const root = await storeWithApp('greeter', 'echo "hi, $(uname -s)"\nexit 7\n');
  // Paths as a user types them, relative to where cairn runs.
  const r = await runCli(['run', 'greeter', '--store', relative(dir, root), '--runtime', relative(dir, runtimeDir)], { timeoutMs: 180_000, cwd: dir });
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stdout, /^hi, Linux$/m);
  const missing = await runCli(['run', 'nobody', '--store', root, '--runtime', runtimeDir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /NOT_INSTALLED/);
});

/** The uid of the running process whose name (QEMU's -name process=) is `comm`, once it appears. */
async function uidOfProcess(comm: string, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const pid of (await readdir('/proc')).filter((p) => /^[0-9]+$/.test(p))) {
      const name = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
      if (name.trim() !== comm) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (uid !== undefined) return Number(uid);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

test('in the system scope each app\'s hypervisor runs under the app\'s own uid and one app\'s state is unreadable to the other\'s user', { ...T, skip: T.skip ?? (process.getuid?.() !== 0 ? 'the system scope needs root' : undefined) }, async () => {
  const root = await storeWithApps(join(dir, 'store-two'), { first: 'echo secret > /state/mine\nsleep 3\n', second: 'sleep 3\n' });
  const uids: number[] = [];
  for (const app of ['first', 'second']) {
    const running = runApp(root, app, { runtimeDir });
    const uid = await uidOfProcess(`cairn-${app}`, 60_000);
    assert.equal((await running).exitCode, 0);
    assert.ok(uid !== undefined, `the hypervisor of ${app} was seen`);
    assert.ok(uid >= APP_ID_RANGE.first && uid < APP_ID_RANGE.first + APP_ID_RANGE.count, `${app}'s hypervisor runs as ${uid}, an app uid`);
    uids.push(uid);
  }
  assert.notEqual(uids[0], uids[1], 'each app has its own user');
  const peek = spawnSync('cat', [join(appStateDir(root, 'first', 'main'), 'mine')], { uid: uids[1]!, gid: uids[1]!, encoding: 'utf8' });
  assert.notEqual(peek.status, 0, 'the second app\'s user cannot read the first app\'s state');
  assert.match(peek.stderr, /Permission denied/);
});

test('a second start of a running app is RUNNING; cairn ps lists a running app; a revocation is refused while it runs (RUNNING) unless --restart, which records it and stops the VM; cairn stop ends one', T, async () => {
  const root = await storeWithApp('server', 'echo up\nsleep 60\n', ['audio']);
  await grantPermission(root, 'server', 'audio');
  const waitRunning = async (): Promise<void> => {
    for (let i = 0; i < 600 && (await runningApps(root)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  };

  const first = runApp(root, 'server', { runtimeDir });
  await waitRunning();
  // A second start meets the first's start lock (held from before its checks until its VM has ended and is cleaned up).
  await assert.rejects(runApp(root, 'server', { runtimeDir }), (e: unknown) => e instanceof AppError && e.code === 'RUNNING' && /being started or run by another/.test(e.message));
  const ps = await runCli(['--json', 'ps', '--store', root]);
  assert.equal(ps.code, 0, ps.stderr);
  assert.deepEqual((JSON.parse(ps.stdout) as Array<{ app: string }>).map((r) => r.app), ['server']);
  await assert.rejects(revokePermission(root, 'server', 'audio'), (e: unknown) => e instanceof AppError && e.code === 'RUNNING');
  assert.equal(auditTrail(root).length, 1, 'nothing recorded');
  const revoked = await revokePermission(root, 'server', 'audio', { restart: true });
  assert.equal(revoked.stopped, true);
  assert.deepEqual(revoked.granted, []);
  assert.equal((await first).exitCode, 143, 'the VM was stopped');
  assert.deepEqual(await runningApps(root), []);

  const second = runApp(root, 'server', { runtimeDir });
  await waitRunning();
  const stopped = await runCli(['stop', 'server', '--store', root]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal((await second).exitCode, 143);
  const again = await runCli(['stop', 'server', '--store', root]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /NOT_RUNNING/);
});

test('Ctrl-C (SIGINT) to cairn run stops the VM and removes what the start made: cairn exits 130, no run entry, no console directory', T, async () => {
  const root = await storeWithApp('sleeper', 'echo up\nsleep 60\n');
  const before = new Set((await readdir(tmpdir())).filter((f) => f.startsWith('cairn-run-')));
  const cli = spawn(process.execPath, [CAIRN_BIN, 'run', 'sleeper', '--store', root, '--runtime', runtimeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve) => {
    let out = '';
    cli.stdout!.on('data', (d: Buffer) => ((out += d.toString()).includes('up') ? resolve() : undefined));
  });
  cli.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => cli.on('exit', (c) => resolve(c)));
  assert.equal(code, 130);
  assert.deepEqual(await runningApps(root), []);
  assert.deepEqual((await readdir(tmpdir())).filter((f) => f.startsWith('cairn-run-') && !before.has(f)), [], 'the console directory is gone');
});

test('a runtime delivered as a package: cairn runtime build --package-version writes a package cairn pack accepts; an app naming it in its manifest boots it from the store without --runtime; named but not installed, RUNTIME_UNAVAILABLE', T, async () => {
  const source = join(dir, 'runtime-package');
  const built = await runCli(['--json', 'runtime', 'build', '--out', source, '--package-version', '1.0.0', '--store', join(dir, 'unused-store')], { timeoutMs: 200_000 });
  assert.equal(built.code, 0, built.stderr);
  assert.deepEqual(JSON.parse(await readFile(join(source, 'cairn-package.json'), 'utf8')).name, 'cairn-runtime');
  const packed = await runCli(['--json', 'pack', source, '--out', join(dir, 'cairn-runtime-1.0.0.tar')]);
  assert.equal(packed.code, 0, packed.stderr);

  const runtimeTree = await Promise.all(['vmlinuz', 'initrd.img', 'runtime.json'].map(async (file) => ({ path: file, type: 'file' as const, content: await readFile(join(source, file)) })));
  const runtimePackage = testPackage('cairn-runtime', '1.0.0', { tree: runtimeTree, entryPoints: {} });
  const app = testPackage('pinned', '1.0.0', { runtime: 'cairn-runtime', tree: [{ path: 'bin', type: 'directory' }, { path: 'bin/pinned', type: 'file', mode: 0o755, content: '#!/bin/sh\necho "booted the pinned runtime"\n' }] });
  const root = join(dir, 'store-pinned');
  await (await openStore(root)).commit({ reason: 'install', packages: {
    pinned: { incoming: app, version: '1.0.0', remote: 'main', explicit: true, permissions: [] },
    'cairn-runtime': { incoming: runtimePackage, version: '1.0.0', remote: 'main', explicit: false, permissions: [] },
  } });
  const output: string[] = [];
  assert.equal((await runApp(root, 'pinned', { onOutput: (l) => output.push(l) })).exitCode, 0);
  assert.deepEqual(output, ['booted the pinned runtime']);

  // What install resolved is checked again at start: a runtime of another remote, or outside the range the app pins, is not booted.
  const foreign = join(dir, 'store-foreign-runtime');
  await (await openStore(foreign)).commit({ reason: 'install', packages: {
    pinned: { incoming: app, version: '1.0.0', remote: 'main', explicit: true, permissions: [] },
    'cairn-runtime': { incoming: { ...runtimePackage, remote: 'other' }, version: '1.0.0', remote: 'other', explicit: false, permissions: [] },
  } });
  await assert.rejects(runApp(foreign, 'pinned'), (e: unknown) => e instanceof AppError && e.code === 'RUNTIME_UNAVAILABLE' && /is not the runtime pinned pins/.test(e.message));

  const orphan = join(dir, 'store-orphan');
  await (await openStore(orphan)).commit({ reason: 'install', packages: { pinned: { incoming: app, version: '1.0.0', remote: 'main', explicit: true, permissions: [] } } });
  await assert.rejects(runApp(orphan, 'pinned'), (e: unknown) => e instanceof AppError && e.code === 'RUNTIME_UNAVAILABLE' && /boots the runtime "cairn-runtime", which is not installed/.test(e.message));
});

/** The user the user-scope test runs cairn as: it has subordinate ID ranges (.ci/run makes it). */
const TESTER = 'cairn-tester';
const testerIds = ((): { uid: number; gid: number } | undefined => {
  const uid = spawnSync('id', ['-u', TESTER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', TESTER], { encoding: 'utf8' });
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
})();
const USER_SCOPE_NEEDS = [
  needsTool('newuidmap', 'sudo apt-get install uidmap'),
  process.env.CI === 'true' || (testerIds !== undefined && subordinateRange('/etc/subuid', TESTER, testerIds.uid) !== undefined) ? {} : { skip: `no user ${TESTER} with subordinate IDs: sudo useradd --system --user-group ${TESTER} && sudo usermod --add-subuids 300000-365535 --add-subgids 300000-365535 ${TESTER}` },
].find((n) => n.skip !== undefined)?.skip;

/**
 * Runs `cairn run APP --store ROOT` as the tester, from a bind of this checkout under /tmp (its
 * own path may not be open to other users), in the network namespace `netns` when given. The
 * tester has no home: its scope's store, which records its apps' IDs, is under XDG_DATA_HOME.
 */
async function testerRunner(t: TestContext): Promise<(app: string, root: string, netns?: string, onStdout?: (text: string) => void) => Promise<{ code: number | null; stdout: string; stderr: string }>> {
  const { uid, gid } = testerIds!;
  const checkout = await mkdtemp(join(tmpdir(), 'cairn-checkout-'));
  await chmod(checkout, 0o755);
  const dataHome = await mkdtemp(join(tmpdir(), 'cairn-tester-data-'));
  await chown(dataHome, uid, gid);
  t.after(async () => {
    await rm(checkout, { recursive: true, force: true });
    await rm(dataHome, { recursive: true, force: true });
  });
  const project = join(CAIRN_BIN, '..', '..');
  return (app, root, netns, onStdout) => new Promise((resolve) => {
    const inNamespace = netns === undefined ? [] : ['ip', 'netns', 'exec', netns];
    const [command, ...args] = [...inNamespace, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && exec setpriv --reuid="$3" --regid="$4" --clear-groups node "$2/bin/cairn.js" run "$5" --store "$6" --runtime "$7"',
      'sh', project, checkout, String(uid), String(gid), app, root, runtimeDir];
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_DATA_HOME: dataHome } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout);
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('in the user scope each app runs under its own subordinate ID of the user: its state is the user\'s to read and not the other app\'s', { ...T, skip: T.skip ?? ROOT_ONLY ?? USER_SCOPE_NEEDS }, async (t) => {
  const { uid, gid } = testerIds!;
  const uids = subordinateRange('/etc/subuid', TESTER, uid)!;
  const root = await storeWithApps(join(dir, 'store-user-scope'), { first: 'echo secret > /state/mine\necho first ran\nsleep 3\n', second: 'echo second ran\nsleep 3\n' });
  assert.equal(spawnSync('chown', ['-R', `${uid}:${gid}`, root]).status, 0);
  const runAsTester = await testerRunner(t);
  {
    const ran: Array<{ code: number | null; stdout: string; stderr: string; uid: number | undefined }> = [];
    for (const app of ['first', 'second']) {
      const running = runAsTester(app, root);
      const hypervisorUid = await uidOfProcess(`cairn-${app}`, 60_000);
      ran.push({ ...(await running), uid: hypervisorUid });
    }
    assert.deepEqual(ran.map((r) => r.code), [0, 0], ran.map((r) => r.stderr).join('\n'));
    assert.match(ran[0]!.stdout, /^first ran$/m);
    assert.match(ran[1]!.stdout, /^second ran$/m);
    assert.deepEqual(ran.map((r) => r.uid), [uids.start, uids.start + 1], 'each app\'s hypervisor runs as its own subordinate ID of the user');
    const state = join(appStateDir(root, 'first', 'main'), 'mine');
    const asSecond = spawnSync('cat', [state], { uid: uids.start + 1, gid: uids.start + 1, encoding: 'utf8' });
    assert.notEqual(asSecond.status, 0, 'the second app\'s ID cannot read the first app\'s state');
    assert.match(asSecond.stderr, /Permission denied/);
    const asUser = spawnSync('cat', [state], { uid, gid, encoding: 'utf8' });
    assert.equal(asUser.stdout, 'secret\n', 'the user can');
  }
});

const USER_NETWORK_NEEDS = needsTool('slirp4netns', 'sudo apt-get install slirp4netns').skip
  ?? (process.env.CI !== 'true' && (!existsSync('/dev/net/tun') || (statSync('/dev/net/tun').mode & 0o666) !== 0o666) ? '/dev/net/tun is not open to users as on Debian: sudo chmod 0666 /dev/net/tun' : undefined);

test('in the user scope a granted network reaches only the granted server, through slirp4netns from the namespace cairn runs in, not that namespace\'s own services; none before the grant; a granted inbound port is open on its loopback, and one in use is PORT_UNAVAILABLE', { ...T, skip: T.skip ?? ROOT_ONLY ?? USER_SCOPE_NEEDS ?? NETWORK_NEEDS ?? USER_NETWORK_NEEDS }, async (t) => {
  const { uid, gid } = testerIds!;
  const lab = await labFor(t, 'user');
  const probe = networkProbe(lab, appLinkPlan(0));
  const root = await storeWithApp('roamer', `${probe.script}\necho "interfaces: $(ls /sys/class/net | tr "\\n" " ")"\n`, [`network:outbound:${lab.serverAddress}:8080`]);
  const runAsTester = await testerRunner(t);
  const attempt = async (): Promise<string[]> => {
    assert.equal(spawnSync('chown', ['-R', `${uid}:${gid}`, root]).status, 0);
    const r = await runAsTester('roamer', root, lab.uplink);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  assert.deepEqual(await attempt(), [...probe.targets.map((x) => `${x}: refused`), 'interfaces: lo '], 'no network until granted');
  await grantPermission(root, 'roamer', 'network');
  // The uplink's own service (its address, 8082) is the host's to the app here: refused like the rest.
  assert.deepEqual(await attempt(), [`${probe.targets[0]}: server 8080`, ...probe.targets.slice(1).map((x) => `${x}: refused`), 'interfaces: eth0 lo '], 'only the granted destination');
  assert.equal(spawnSync('pgrep', ['-u', String(uid), 'slirp4netns']).status, 1, 'slirp4netns ended with the VM');

  // network:outbound: any public address, but none the namespace cairn runs in has (its service on 8082 listens on all), whose services slirp's sockets would reach:
  // not its public address, not one of an interface that is down, not one it gets while the VM runs.
  const ip = (...args: string[]): void => assert.equal(spawnSync('ip', ['-n', lab.uplink, ...args]).status, 0, args.join(' '));
  ip('link', 'add', 'extra0', 'type', 'veth', 'peer', 'name', 'extra1'); // down: its addresses are the host's all the same
  ip('addr', 'add', '198.18.8.8/32', 'dev', 'extra0');
  const later = ['198.18.8.8:8082', '198.18.9.9:8082'];
  // It serves 9000 (granted inbound: on the loopback of the namespace cairn runs in) and 9001 (not granted).
  const servers = 'echo "guest 9000" | nc -l -p 9000 >/dev/null &\necho "guest 9001" | nc -l -p 9001 >/dev/null &\n';
  const open = await storeWithApp('wanderer', `${servers}${probe.script}\necho probed\nsleep 5\ntargets="${later.join(' ')}"\n${probe.script.slice(probe.script.indexOf('for target'))}\n`, ['network:outbound', 'network:inbound:9000/tcp', 'network:inbound:9002/udp']);
  await grantPermission(open, 'wanderer', 'network');
  assert.equal(spawnSync('chown', ['-R', `${uid}:${gid}`, open]).status, 0);
  let inbound: Promise<string[]> | undefined;
  const r = await runAsTester('wanderer', open, lab.uplink, (text) => {
    if (inbound !== undefined || !text.includes('probed')) return;
    ip('addr', 'add', '198.18.9.9/32', 'dev', 'extra0');
    inbound = Promise.all([receiveIn(lab.uplink, '127.0.0.1', 9001), receiveIn(lab.uplink, lab.uplinkAddress, 9000), receiveIn(lab.uplink, '127.0.0.1', 9000)]);
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), [`${probe.targets[0]}: server 8080`, `${probe.targets[1]}: server 8081`, ...probe.targets.slice(2).map((x) => `${x}: refused`), 'probed', ...later.map((x) => `${x}: refused`)]);
  assert.deepEqual(await inbound, ['refused', 'refused', 'guest 9000'], 'only the granted inbound port, and only on the loopback');
  // UDP is not given in the user scope (libslirp's SO_REUSEADDR would let another local user take the port), and cairn run says so.
  assert.match(r.stderr, /network:inbound:9002\/udp is granted, but not given in the user scope/);

  // A granted port the host cannot give (another program listens on it): PORT_UNAVAILABLE before the VM starts, nothing of the start left.
  const squatter = spawn('ip', ['netns', 'exec', lab.uplink, process.execPath, '-e', "require('node:net').createServer().listen(9000, '127.0.0.1', () => console.log('listening'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => squatter.kill());
  await new Promise((resolve) => squatter.stdout!.once('data', resolve));
  const refused = await runAsTester('wanderer', open, lab.uplink);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /PORT_UNAVAILABLE.*9000\/tcp could not be opened on 127\.0\.0\.1/);
  assert.doesNotMatch(refused.stdout, /probed/, 'the VM did not start');
  assert.equal(spawnSync('pgrep', ['-u', String(uid), 'slirp4netns|unshare']).status, 1, 'no slirp4netns or namespace holder left');
});
