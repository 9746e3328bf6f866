// test/apps/vm-configs.test.ts: the VM of an app has exactly what is granted, in every back end's
// format (docs/apps.md "VM configurations"): with nothing granted, no network device, no display
// and no share but the read-only store path and the state directory; each grant adds its device
// and nothing else; hostile paths cannot inject options or markup. Checked field by field against
// each format's documentation (named in src/apps/vm-configs.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needsTool } from '../fixtures/system-tools.js';
import { AppError, cloudHypervisorArgs, firecrackerConfig, libvirtDomainXml, qemuArgs, vmSpecFor, xlConfig, type VmSpecInput } from '../../src/apps/index.js';

function input(granted: string[], overrides: Partial<VmSpecInput> = {}): VmSpecInput {
  return {
    app: 'viewer',
    uid: 61001,
    gid: 61001,
    runtime: { kernel: '/store/rt/vmlinuz', initrd: '/store/rt/initrd.img', cmdline: 'console=ttyS0 quiet' },
    storePath: '/var/lib/cairn/store/abc-viewer-1.0.0',
    stateDir: '/var/lib/cairn/state/viewer',
    granted,
    folderPaths: { pictures: '/home/u/Pictures', music: '/home/u/Music' },
    network: { tap: 'cairn-viewer0', netns: 'cairn-viewer', mac: '02:00:00:00:00:01' },
    display: { vsockCid: 42, socket: '/run/cairn/viewer/wayland.sock' },
    consoleSocket: '/run/cairn/viewer/console.sock',
    ...overrides,
  };
}

/** The values following each occurrence of `flag`. */
function values(args: readonly string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

test('nothing granted: only the read-only store path and the state directory, no network, no display', () => {
  const spec = vmSpecFor(input([]));
  assert.deepEqual(spec.shares, [
    { tag: 'store', hostPath: '/var/lib/cairn/store/abc-viewer-1.0.0', readOnly: true },
    { tag: 'state', hostPath: '/var/lib/cairn/state/viewer', readOnly: false },
  ]);
  assert.equal(spec.network, undefined);
  assert.equal(spec.display, undefined);

  const args = qemuArgs(spec, { kvm: false });
  assert.deepEqual(values(args, '-nic'), ['none']);
  assert.deepEqual(values(args, '-netdev'), []);
  assert.ok(!args.some((a) => a.includes('vsock')));
  assert.deepEqual(values(args, '-fsdev'), [
    'local,id=store,path=/var/lib/cairn/store/abc-viewer-1.0.0,security_model=none,readonly=on',
    'local,id=state,path=/var/lib/cairn/state/viewer,security_model=none',
  ]);
  assert.deepEqual(values(args, '-sandbox'), ['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
  assert.ok(args.includes('-nodefaults') && args.includes('-no-user-config'));
  assert.deepEqual(values(args, '-machine'), ['q35,accel=tcg']);
  assert.deepEqual(values(args, '-kernel'), ['/store/rt/vmlinuz']);
  assert.deepEqual(values(args, '-append'), ['console=ttyS0 quiet']);

  const xml = libvirtDomainXml(spec, { kvm: false });
  assert.match(xml, /^<domain type='qemu'>/);
  assert.doesNotMatch(xml, /<interface|<vsock/);
  assert.equal((xml.match(/<filesystem /g) ?? []).length, 2);
  assert.match(xml, /<source dir='\/var\/lib\/cairn\/store\/abc-viewer-1\.0\.0'\/>\n {6}<target dir='store'\/>\n {6}<readonly\/>/);
  assert.match(xml, /<seclabel type='static' model='dac' relabel='no'>\n {4}<label>\+61001:\+61001<\/label>/);
});

test('each grant adds its device and nothing else: network a tap, display a vsock, a folder its share at its access', () => {
  const spec = vmSpecFor(input(['network:outbound:example.org:443', 'display', 'folder:pictures:ro', 'folder:music:rw', 'folder:unmapped:rw', 'audio']));
  assert.deepEqual(spec.network, { tap: 'cairn-viewer0', netns: 'cairn-viewer', mac: '02:00:00:00:00:01' });
  assert.deepEqual(spec.display, { vsockCid: 42, socket: '/run/cairn/viewer/wayland.sock' });
  assert.deepEqual(spec.shares.slice(2), [
    { tag: 'folder-pictures', hostPath: '/home/u/Pictures', readOnly: true },
    { tag: 'folder-music', hostPath: '/home/u/Music', readOnly: false },
  ], 'a granted folder without a host path is not shared');

  const args = qemuArgs(spec, { kvm: true });
  assert.deepEqual(values(args, '-nic'), []);
  assert.deepEqual(values(args, '-netdev'), ['tap,id=net0,ifname=cairn-viewer0,script=no,downscript=no']);
  assert.ok(values(args, '-device').includes('virtio-net-pci,netdev=net0,mac=02:00:00:00:00:01'));
  assert.ok(values(args, '-device').includes('vhost-vsock-pci,guest-cid=42'));
  assert.ok(values(args, '-fsdev').includes('local,id=folder-pictures,path=/home/u/Pictures,security_model=none,readonly=on'));
  assert.ok(values(args, '-fsdev').includes('local,id=folder-music,path=/home/u/Music,security_model=none'));
  assert.deepEqual(values(args, '-machine'), ['q35,accel=kvm']);

  const xml = libvirtDomainXml(spec, { kvm: true });
  assert.match(xml, /^<domain type='kvm'>/);
  assert.match(xml, /<interface type='ethernet'>\n {6}<target dev='cairn-viewer0' managed='no'\/>/);
  assert.match(xml, /<vsock model='virtio'>\n {6}<cid auto='no' address='42'\/>/);
  assert.equal((xml.match(/<filesystem /g) ?? []).length, 4);
});

test('a folder granted both read-only and read-write is shared read-write once', () => {
  const spec = vmSpecFor(input(['folder:pictures:ro', 'folder:pictures:rw']));
  assert.deepEqual(spec.shares.filter((s) => s.tag === 'folder-pictures'), [{ tag: 'folder-pictures', hostPath: '/home/u/Pictures', readOnly: false }]);
});

test('hostile paths cannot add QEMU options or libvirt markup', () => {
  const spec = vmSpecFor(input(['folder:pictures:ro'], { folderPaths: { pictures: "/tmp/x,readonly=off,path=/etc</source><readonly/>'" } }));
  const fsdev = values(qemuArgs(spec, { kvm: false }), '-fsdev').find((v) => v.startsWith('local,id=folder-pictures'))!;
  assert.equal(fsdev, "local,id=folder-pictures,path=/tmp/x,,readonly=off,,path=/etc</source><readonly/>',security_model=none,readonly=on", 'commas doubled: one value, not new options');
  const xml = libvirtDomainXml(spec, { kvm: false });
  assert.match(xml, /<source dir='\/tmp\/x,readonly=off,path=\/etc&lt;\/source&gt;&lt;readonly\/&gt;&apos;'\/>/);
  assert.equal((xml.match(/<readonly\/>/g) ?? []).length, 2, 'only the store and the read-only folder');
});

test('unknown permissions in the grants are refused, not ignored', () => {
  assert.throws(() => vmSpecFor(input(['root-shell'])), /UNKNOWN_PERMISSION|not in the vocabulary/);
});

test('cloud-hypervisor: shares through virtio-fs with one virtiofsd each (read-only ones marked), a tap and a vsock only when granted', () => {
  const bare = cloudHypervisorArgs(vmSpecFor(input([])), '/run/cairn/viewer');
  assert.deepEqual(values(bare.args, '--fs'), ['tag=store,socket=/run/cairn/viewer/store.sock', 'tag=state,socket=/run/cairn/viewer/state.sock']);
  assert.deepEqual(bare.daemons.map((d) => [d.tag, d.sharedDir, d.readOnly]), [['store', '/var/lib/cairn/store/abc-viewer-1.0.0', true], ['state', '/var/lib/cairn/state/viewer', false]]);
  assert.deepEqual(values(bare.args, '--net'), []);
  assert.deepEqual(values(bare.args, '--vsock'), []);
  assert.deepEqual(values(bare.args, '--memory'), ['size=256M,shared=on'], 'virtio-fs needs shared memory');
  assert.deepEqual(values(bare.args, '--serial'), ['socket=/run/cairn/viewer/console.sock']);
  assert.deepEqual(values(bare.args, '--console'), ['off']);
  assert.deepEqual(values(bare.args, '--kernel'), ['/store/rt/vmlinuz']);
  assert.deepEqual(values(bare.args, '--initramfs'), ['/store/rt/initrd.img']);

  const granted = cloudHypervisorArgs(vmSpecFor(input(['network:outbound', 'display'])), '/run/cairn/viewer');
  assert.deepEqual(values(granted.args, '--net'), ['tap=cairn-viewer0,mac=02:00:00:00:00:01']);
  assert.deepEqual(values(granted.args, '--vsock'), ['cid=42,socket=/run/cairn/viewer/wayland.sock']);
  // A path cloud-hypervisor's option syntax cannot quote is refused, not split into options.
  assert.throws(() => cloudHypervisorArgs(vmSpecFor(input([])), '/run/x,tag=evil'), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
  assert.equal(cloudHypervisorArgs(vmSpecFor(input([], { stateDir: '/tmp/a,b' })), '/run/x').daemons[1]!.sharedDir, '/tmp/a,b', 'a shared directory goes to its virtiofsd as one argument');
});

test('Firecracker: every share a drive from its block image (read-only where the share is), jail-relative paths, the jailer with the app\'s uid and gid, a netns only when networked', () => {
  const images = { store: '/var/lib/cairn/images/viewer-store.ext4', state: '/var/lib/cairn/images/viewer-state.ext4' };
  const bare = firecrackerConfig(vmSpecFor(input([])), { images, firecracker: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer' });
  assert.deepEqual(bare.config['boot-source'], { kernel_image_path: 'vmlinux', initrd_path: 'initrd.img', boot_args: 'console=ttyS0 quiet' });
  assert.deepEqual(bare.config.drives, [
    { drive_id: 'store', path_on_host: 'store.img', is_root_device: false, is_read_only: true },
    { drive_id: 'state', path_on_host: 'state.img', is_root_device: false, is_read_only: false },
  ]);
  assert.deepEqual(bare.config['machine-config'], { vcpu_count: 1, mem_size_mib: 256, smt: false });
  assert.deepEqual(bare.config['network-interfaces'], []);
  assert.equal(bare.config.vsock, undefined);
  assert.deepEqual(bare.files, [
    { from: '/store/rt/vmlinuz', to: 'vmlinux' }, { from: '/store/rt/initrd.img', to: 'initrd.img' },
    { from: images.store, to: 'store.img' }, { from: images.state, to: 'state.img' },
  ]);
  assert.deepEqual(bare.jailerArgs, ['--id', 'cairn-viewer', '--exec-file', '/usr/bin/firecracker', '--uid', '61001', '--gid', '61001', '--chroot-base-dir', '/srv/jailer', '--new-pid-ns', '--', '--config-file', 'config.json']);

  const granted = firecrackerConfig(vmSpecFor(input(['network:outbound', 'display'])), { images, firecracker: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer' });
  assert.deepEqual(granted.config['network-interfaces'], [{ iface_id: 'net0', host_dev_name: 'cairn-viewer0', guest_mac: '02:00:00:00:00:01' }]);
  assert.deepEqual(granted.config.vsock, { guest_cid: 42, uds_path: 'display.sock' });
  assert.deepEqual(values(granted.jailerArgs, '--netns'), ['/var/run/netns/cairn-viewer']);
  // A granted folder without a block image cannot be given: refused, not silently dropped.
  assert.throws(() => firecrackerConfig(vmSpecFor(input(['folder:pictures:ro'])), { images, firecracker: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer' }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
});

test('Xen: a PVH guest, read-only shares as read-only disks, read-write ones through 9pfs, a vif only when networked, devices from driver domains', () => {
  const images = { store: '/var/lib/cairn/images/viewer-store.img' };
  const bare = xlConfig(vmSpecFor(input([])), { images });
  const lines = bare.trim().split('\n');
  assert.ok(lines.includes('type = "pvh"'));
  assert.ok(lines.includes('name = "cairn-viewer"'));
  assert.ok(lines.includes('kernel = "/store/rt/vmlinuz"'));
  assert.ok(lines.includes('ramdisk = "/store/rt/initrd.img"'));
  assert.ok(lines.includes('cmdline = "console=ttyS0 quiet"'));
  assert.ok(lines.includes('memory = 256'));
  assert.ok(lines.includes('vcpus = 1'));
  assert.ok(lines.includes("disk = [ 'format=raw, vdev=xvda, access=ro, target=/var/lib/cairn/images/viewer-store.img' ]"));
  assert.ok(lines.includes("p9 = [ 'tag=state,security_model=none,path=/var/lib/cairn/state/viewer' ]"));
  assert.ok(lines.includes('vif = [  ]'), 'no network device');

  const granted = xlConfig(vmSpecFor(input(['network:outbound', 'folder:music:rw'])), { images, backends: { network: 'sys-net', storage: 'sys-storage' } });
  assert.match(granted, /^vif = \[ 'mac=02:00:00:00:00:01,vifname=cairn-viewer0,backend=sys-net' \]$/m);
  assert.match(granted, /^disk = \[ 'format=raw, vdev=xvda, access=ro, backend=sys-storage, target=\/var\/lib\/cairn\/images\/viewer-store\.img' \]$/m);
  assert.match(granted, /'tag=folder-music,security_model=none,path=\/home\/u\/Music,backend=sys-storage'/);
  assert.throws(() => xlConfig(vmSpecFor(input([])), { images: {} }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
  assert.throws(() => xlConfig(vmSpecFor(input([], { stateDir: "/tmp/x',path=/etc" })), { images }), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
});

test('libvirt\'s own validator (virt-xml-validate) accepts the domain with nothing and with everything granted, and refuses a broken one', needsTool('virt-xml-validate', 'sudo apt-get install libvirt-clients libxml2-utils'), async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-libvirt-'));
  try {
    const validate = async (name: string, xml: string): Promise<{ status: number | null; output: string }> => {
      const file = join(dir, name);
      await writeFile(file, xml);
      const r = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8' });
      return { status: r.status, output: r.stdout + r.stderr };
    };
    for (const [name, granted, kvm] of [['bare.xml', [], false], ['all.xml', ['network:outbound', 'display', 'folder:pictures:ro', 'folder:music:rw'], true]] as const) {
      const r = await validate(name, libvirtDomainXml(vmSpecFor(input([...granted])), { kvm }));
      assert.equal(r.status, 0, `${name}: ${r.output}`);
    }
    // The validator is not a rubber stamp: a static DAC label without its label is invalid.
    const broken = libvirtDomainXml(vmSpecFor(input([])), { kvm: false }).replace(/ {4}<label>.*<\/label>\n/, '');
    assert.notEqual((await validate('broken.xml', broken)).status, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
