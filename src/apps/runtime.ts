// apps/runtime.ts: the guest kernel and initramfs every app's VM boots (docs/apps.md "Runtime";
// the App-per-VM issue: "Build it from Debian's kernel and busybox packages (recording which
// packages, versions and hashes) ..., not by compiling a kernel"). `buildRuntime` fetches
// Debian's kernel image and busybox-static with apt (`apt-get download`: the archive is the one
// apt is configured for, never an address of cairn's), checks each .deb against the SHA256 that
// apt's signed index lists, takes only the kernel, the virtio and 9p modules and busybox out of them,
// and writes DIR/vmlinuz, DIR/initrd.img (apps/initramfs.ts) and DIR/runtime.json. The guest's
// /init mounts the app's store path read-only at /app, its state read-write at /state and each
// granted folder at /folders/NAME (9p over virtio; `cairn.folders=NAME:ro|rw,...` on the kernel
// command line), configures eth0 where a network is granted (`cairn.net=ADDRESS/PREFIX,GATEWAY`),
// runs the entry point named on the kernel command line, prints its exit status
// and powers off; it prints CAIRN-START before the app runs so the host forwards only the app's
// output.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { hashFile } from '../crypto/hash.js';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { AppError } from './errors.js';
import { initramfs, type InitramfsEntry } from './initramfs.js';

const run = promisify(execFile);

/** The modules the guest loads, in an order that satisfies their dependencies (virtio over PCI, then 9p and the network device over virtio). */
export const RUNTIME_MODULES = [
  'drivers/virtio/virtio_ring', 'drivers/virtio/virtio', 'drivers/virtio/virtio_pci_legacy_dev', 'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci', 'fs/netfs/netfs', 'fs/fscache/fscache', 'net/9p/9pnet', 'net/9p/9pnet_virtio', 'fs/9p/9p',
  'net/core/failover', 'drivers/net/net_failover', 'drivers/net/virtio_net',
] as const;

/** What the runtime was built from. */
export interface RuntimeDescription {
  format: 'cairn-runtime/1';
  packages: Array<{ name: string; version: string; sha256: string }>;
  kernelRelease: string;
  modules: string[];
}

/** Lines the guest prints around the app's own output. */
export const GUEST_MARKERS = { start: 'CAIRN-START', exit: 'CAIRN-EXIT' } as const;

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || echo "cairn runtime: could not load $m"; done
fail() { echo "cairn runtime: $1"; echo "${GUEST_MARKERS.exit} 125"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro store /app || fail "the app's store path cannot be mounted"
mount -t 9p -o trans=virtio,version=9p2000.L state /state || fail "the app's state cannot be mounted"
for tag in $(sed -n 's/.*cairn[.]folders=\\([^ ]*\\).*/\\1/p' /proc/cmdline | tr , ' '); do
  mkdir -p /folders/"\${tag%:*}" && mount -t 9p -o trans=virtio,version=9p2000.L,"\${tag##*:}" folder-"\${tag%:*}" /folders/"\${tag%:*}" || fail "the shared folder \${tag%:*} cannot be mounted"
done
ip link set lo up
net=$(sed -n 's/.*cairn[.]net=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$net" ]; then
  { ip link set eth0 up && ip addr add "\${net%,*}" dev eth0 && ip route add default via "\${net#*,}"; } || fail "the granted network cannot be configured"
fi
entry=$(sed -n 's/.*cairn[.]entry=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
[ -n "$entry" ] || fail "no entry point on the kernel command line"
cd /state
echo "${GUEST_MARKERS.start}"
/app/"$entry"
echo "${GUEST_MARKERS.exit} $?"
poweroff -f
`;

/** One package downloaded by apt, checked against the SHA256 of apt's (signed) index. */
async function downloadPackage(dir: string, name: string): Promise<{ name: string; version: string; sha256: string; file: string }> {
  const shown = (await run('apt-cache', ['show', '--no-all-versions', name], { maxBuffer: 16 << 20 })).stdout;
  const version = /^Version: (.+)$/m.exec(shown)?.[1];
  const expected = /^SHA256: ([0-9a-f]{64})$/m.exec(shown)?.[1];
  if (version === undefined || expected === undefined) throw new AppError('RUNTIME_UNAVAILABLE', `apt knows no package ${name} with a version and a SHA256`, { hint: 'run apt-get update first' });
  const before = new Set(await readdir(dir));
  await run('apt-get', ['download', `${name}=${version}`], { cwd: dir, maxBuffer: 16 << 20 });
  const file = (await readdir(dir)).find((f) => !before.has(f) && f.endsWith('.deb'));
  if (file === undefined) throw new AppError('RUNTIME_UNAVAILABLE', `apt-get download ${name}=${version} wrote no .deb`);
  const sha256 = (await hashFile(join(dir, file))).hashes.sha256!;
  if (sha256 !== expected) throw new AppError('RUNTIME_UNAVAILABLE', `${file}: sha256 ${sha256.slice(0, 16)}..., apt's index lists ${expected.slice(0, 16)}...`);
  return { name, version, sha256, file: join(dir, file) };
}

/**
 * Extracts only `members` (paths as the package's data archive names them, `./boot/...`) of the
 * .deb `file` into `tree`: dpkg-deb's data archive piped to tar, so the kernel's hundreds of MB
 * of modules the guest does not load are never written. A member the package lacks fails tar.
 */
async function extractMembers(file: string, tree: string, members: string[]): Promise<void> {
  await mkdir(tree, { recursive: true });
  const archive = spawn('dpkg-deb', ['--fsys-tarfile', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tar = spawn('tar', ['-x', '-f', '-', '-C', tree, '--', ...members], { stdio: ['pipe', 'ignore', 'pipe'] });
  archive.stdout!.pipe(tar.stdin!);
  tar.stdin!.on('error', () => undefined); // tar may stop reading early when it fails
  const exited = (child: ChildProcess & { stderr: Readable }, name: string): Promise<string | undefined> => new Promise((resolve) => {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('error', (e) => resolve(`${name}: ${e.message}`));
    child.on('close', (code) => resolve(code === 0 ? undefined : `${name} exited with ${code}: ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`));
  });
  const failures = (await Promise.all([exited(archive, 'dpkg-deb --fsys-tarfile'), exited(tar, 'tar -x')])).filter((f) => f !== undefined);
  if (failures.length > 0) throw new AppError('RUNTIME_UNAVAILABLE', `cannot take ${members.length} file(s) out of ${file}: ${failures.join('; ')}`);
}

/** A runtime written as a package source directory: the name and version of its cairn-package.json. */
export interface RuntimePackage {
  name: string;
  version: string;
}

/**
 * Builds the runtime into `out` (created): Debian's kernel (the package linux-image-amd64 depends
 * on) and busybox-static. Needs apt-get, apt-cache and dpkg-deb (Debian's own tools): without
 * them RUNTIME_UNAVAILABLE. With `asPackage`, `out` also gets a cairn-package.json, so that
 * `cairn pack` makes it a package apps name as their runtime.
 */
export async function buildRuntime(out: string, onStep: (line: string) => void = () => undefined, asPackage?: RuntimePackage): Promise<RuntimeDescription> {
  // Loaded only for a package: cairn run, which imports this module for GUEST_MARKERS, needs no manifest code.
  const manifest = asPackage === undefined ? undefined : await import('../package/manifest.js').then(({ MANIFEST_FILE, manifestBytes, parseManifest }) => ({
    file: MANIFEST_FILE,
    bytes: manifestBytes(parseManifest({
      name: asPackage.name, version: asPackage.version, entryPoints: {}, dependencies: {}, permissions: [],
      description: 'a cairn runtime: the guest kernel and initramfs app VMs boot, from Debian\'s packages (runtime.json lists them)',
    }, 'the runtime package')),
  }));
  const work = await mkdtemp(join(out, '..', '.runtime-build-'));
  try {
    const depends = (await run('apt-cache', ['depends', 'linux-image-amd64']).catch((e: Error) => {
      throw new AppError('RUNTIME_UNAVAILABLE', `apt-cache cannot tell which kernel linux-image-amd64 is: ${e.message}`, { hint: 'a Debian system with apt is needed to build the runtime' });
    })).stdout;
    const kernelPackage = /Depends: (linux-image-[0-9][^\s]*)/.exec(depends)?.[1];
    if (kernelPackage === undefined) throw new AppError('RUNTIME_UNAVAILABLE', 'linux-image-amd64 depends on no linux-image package');
    const packages = [];
    for (const name of [kernelPackage, 'busybox-static']) {
      onStep(`downloading ${name}`);
      packages.push(await downloadPackage(work, name));
    }
    const tree = join(work, 'tree');
    const kernelRelease = kernelPackage.slice('linux-image-'.length);
    await extractMembers(packages[0]!.file, tree, [`./boot/vmlinuz-${kernelRelease}`, ...RUNTIME_MODULES.map((m) => `./lib/modules/${kernelRelease}/kernel/${m}.ko`)]);
    await extractMembers(packages[1]!.file, tree, ['./bin/busybox']);
    const modulesDir = join(tree, 'lib', 'modules', kernelRelease, 'kernel');
    const entries: InitramfsEntry[] = ['bin', 'lib', 'lib/modules', 'proc', 'sys', 'dev', 'app', 'state', 'folders'].map((path) => ({ path, type: 'directory', mode: 0o755 }));
    entries.push({ path: 'bin/busybox', type: 'file', mode: 0o755, data: await readFile(join(tree, 'bin', 'busybox')) });
    const modules: string[] = [];
    for (const m of RUNTIME_MODULES) {
      const base = m.slice(m.lastIndexOf('/') + 1);
      entries.push({ path: `lib/modules/${base}.ko`, type: 'file', mode: 0o644, data: await readFile(join(modulesDir, `${m}.ko`)) });
      modules.push(base);
    }
    entries.push({ path: 'lib/modules/order', type: 'file', mode: 0o644, data: `${modules.join('\n')}\n` });
    entries.push({ path: 'init', type: 'file', mode: 0o755, data: INIT });
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'vmlinuz'), await readFile(join(tree, 'boot', `vmlinuz-${kernelRelease}`)));
    await writeFile(join(out, 'initrd.img'), initramfs(entries));
    const description: RuntimeDescription = { format: 'cairn-runtime/1', packages: packages.map(({ name, version, sha256 }) => ({ name, version, sha256 })), kernelRelease, modules };
    await writeFile(join(out, 'runtime.json'), `${JSON.stringify(description, null, 2)}\n`);
    if (manifest !== undefined) await writeFile(join(out, manifest.file), manifest.bytes);
    onStep(`runtime written to ${out}: kernel ${kernelRelease}, ${packages.map((p) => `${p.name} ${p.version}`).join(', ')}`);
    return description;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
