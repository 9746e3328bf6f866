// bench/app-run.ts: what `cairn run` adds to starting an app's VM (the App-per-VM issue: "Time
// from `cairn run` to the guest's first instruction of the app, against launching the same guest
// with the same hypervisor command by hand in the same run. Target: cairn adds under 50 ms beyond
// Node's own start-up. Memory that cairn adds per running app beyond the hypervisor's"). Timed to
// the guest's power-off, for an app that exits at once: the guest's boot is in both sides alike,
// so the difference is what cairn adds before and after; and to the moment QEMU runs (a descendant
// whose name is QEMU's, polled each millisecond), which leaves the guest's boot, the same on both
// sides but noisy under software emulation, out of the figure the target is checked on. The
// sides, interleaved, median of RUNS:
//   cairn run     `cairn run probe` (the CLI process, spawn to exit)
//   by hand       the same jail and QEMU command (bwrap ... qemu-system-x86_64 ..., built from the
//                 same spec through src/apps' public API), spawned directly
//   node          `node -e 0`, Node's own start-up
// cairn adds: cairn run - by hand - node (to QEMU's start: the target; to exit: said too). Memory: the resident set (VmRSS) of the `cairn run`
// process while its VM runs (an app that sleeps): `cairn run` supervises the VM until it ends.
// Needs qemu-system-x86, bubblewrap and Debian's apt (the runtime); otherwise a skip line.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildRuntime, qemuArgs, vmSandboxArgs, vmSpecFor } from '../src/apps/index.js';
import { openStore } from '../src/store/index.js';
import { CAIRN_BIN } from '../test/fixtures/cairn-process.js';
import { testPackage } from '../test/fixtures/store-driver.js';
import { median, ms, type BenchResult } from './stats.js';

const TARGET_MS = 50;

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Whether a descendant of `pid` (through /proc/PID/task/TID/children) is QEMU already. */
function hypervisorStarted(pid: number): boolean {
  const pending = [pid];
  while (pending.length > 0) {
    const p = pending.pop()!;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      if (comm.startsWith('qemu') || comm.startsWith('cairn-')) return true;
      for (const task of readdirSync(`/proc/${p}/task`)) pending.push(...readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim().split(' ').filter((x) => x !== '').map(Number));
    } catch {
      // the process ended meanwhile
    }
  }
  return false;
}

/** Spawn to exit, and spawn to the moment QEMU runs among its descendants (polled each millisecond), in ms. */
function timed(command: string, args: string[]): Promise<{ total: number; toHypervisor: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: 'ignore' });
    let toHypervisor = Number.NaN;
    const poll = setInterval(() => {
      if (child.pid !== undefined && hypervisorStarted(child.pid)) {
        toHypervisor = performance.now() - t0;
        clearInterval(poll);
      }
    }, 1);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      if (code === 0) resolve({ total: performance.now() - t0, toHypervisor });
      else reject(new Error(`${command} exited with ${code}`));
    });
  });
}

export async function benchAppRun(work: string, quick: boolean): Promise<BenchResult> {
  const name = 'app-run: what cairn run adds to starting a VM by hand';
  const missing = ['qemu-system-x86_64', 'bwrap', 'dpkg-deb'].filter((t) => !onPath(t));
  if (missing.length > 0) return { name, lines: [`skipped: ${missing.join(', ')} not found; install with: sudo apt-get install qemu-system-x86 bubblewrap (on Debian)`], targets: [] };
  const dir = await mkdtemp(join(work, 'app-run-'));
  await chmod(dir, 0o755);
  try {
    const runtimeDir = join(dir, 'runtime');
    await buildRuntime(runtimeDir);
    const root = join(dir, 'store');
    const app = (n: string, script: string) => testPackage(n, '1.0.0', { tree: [{ path: 'bin', type: 'directory' }, { path: `bin/${n}`, type: 'file', mode: 0o755, content: `#!/bin/sh\n${script}` }] });
    await (await openStore(root)).commit({ reason: 'bench', packages: {
      probe: { incoming: app('probe', 'exit 0\n'), version: '1.0.0', remote: 'bench', explicit: true, permissions: [] },
      sleeper: { incoming: app('sleeper', 'sleep 4\n'), version: '1.0.0', remote: 'bench', explicit: true, permissions: [] },
    } });
    const current = (await (await openStore(root)).current())!;
    // The hand-launched side: the same guest, jail and QEMU command, as the invoking user.
    const handState = join(dir, 'hand-state');
    const handSockets = join(dir, 'hand-sockets');
    await mkdir(handState, { recursive: true });
    await mkdir(handSockets, { recursive: true });
    const kvm = existsSync('/dev/kvm');
    const storePath = join(root, 'store', current.packages.probe!.id);
    const spec = vmSpecFor({
      app: 'probe', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
      runtime: { kernel: join(runtimeDir, 'vmlinuz'), initrd: join(runtimeDir, 'initrd.img'), cmdline: 'console=ttyS0 quiet loglevel=1 panic=-1 cairn.entry=bin/probe' },
      storePath, stateDir: handState, granted: [], folderPaths: {},
      network: { tap: '', netns: '', mac: '' }, display: { vsockCid: 0, socket: '' }, consoleSocket: join(handSockets, 'console.sock'),
    });
    const byHand = vmSandboxArgs({ runtimeDir, storePath, stateDir: handState, socketDir: handSockets, kvm, folders: [] }, ['qemu-system-x86_64', ...qemuArgs(spec, { kvm }), '-no-reboot']);
    const runs = quick ? 3 : 5;
    const figures = { cairn: [] as number[], hand: [] as number[], node: [] as number[], cairnStart: [] as number[], handStart: [] as number[] };
    for (let i = -1; i < runs; i++) {
      const c = await timed(process.execPath, [CAIRN_BIN, '--quiet', 'run', 'probe', '--store', root, '--runtime', runtimeDir]);
      const h = await timed('bwrap', byHand);
      const n = await timed(process.execPath, ['-e', '0']);
      if (i < 0) continue; // a warm-up round
      figures.cairn.push(c.total);
      figures.hand.push(h.total);
      figures.node.push(n.total);
      figures.cairnStart.push(c.toHypervisor);
      figures.handStart.push(h.toHypervisor);
    }
    // Memory: the cairn run process while its VM runs.
    const sleeper = spawn(process.execPath, [CAIRN_BIN, '--quiet', 'run', 'sleeper', '--store', root, '--runtime', runtimeDir], { stdio: 'ignore' });
    let rssKb = 0;
    const ended = new Promise<void>((r) => sleeper.on('exit', () => r()));
    const sample = setInterval(() => {
      void readFile(`/proc/${sleeper.pid}/status`, 'utf8').then((s) => {
        rssKb = Math.max(rssKb, Number(/^VmRSS:\s+(\d+)/m.exec(s)?.[1] ?? 0));
      }, () => undefined);
    }, 100);
    await ended;
    clearInterval(sample);
    const cairn = median(figures.cairn);
    const hand = median(figures.hand);
    const node = median(figures.node);
    const added = cairn - hand - node;
    const cairnStart = median(figures.cairnStart);
    const handStart = median(figures.handStart);
    const addedBeforeStart = cairnStart - handStart - node;
    return {
      name,
      lines: [
        `a guest that powers off at once (${kvm ? 'KVM' : 'software emulation: no /dev/kvm'}), medians of ${runs}, interleaved; node -e 0 ${ms(node)}`,
        `  to QEMU's start (the guest's boot follows, alike on both sides): cairn run ${ms(cairnStart)}, the same jail by hand ${ms(handStart)}: cairn adds ${ms(addedBeforeStart)} beyond Node's start-up`,
        `  spawn to exit (boot included, so noisier): cairn run ${ms(cairn)}, by hand ${ms(hand)}: cairn adds ${ms(added)} beyond Node's start-up (runs: cairn ${figures.cairn.map(ms).join(', ')}; by hand ${figures.hand.map(ms).join(', ')})`,
        `  memory: the cairn run process holds ${(rssKb / 1024).toFixed(0)} MB resident while it supervises its VM (the hypervisor's own memory apart)`,
      ],
      targets: [
        { target: `cairn run adds under ${TARGET_MS} ms beyond starting the VM by hand and Node's start-up (to QEMU's start)`, met: addedBeforeStart < TARGET_MS, figure: ms(addedBeforeStart) },
        { target: 'the supervising cairn run process under 60 MB', met: rssKb / 1024 < 60, figure: `${(rssKb / 1024).toFixed(0)} MB` },
      ],
    };
  } finally {
    spawnSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

