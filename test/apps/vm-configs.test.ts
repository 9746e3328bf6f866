// test/apps/vm-configs.test.ts: the VM of an app has exactly what is granted, in every back end's
// format (docs/apps.md "VM configurations"): with nothing granted, no network device, no display
// and no share but the read-only store path and the state directory; each grant adds its device
// and nothing else; hostile paths cannot inject options or markup. Checked field by field against
// each format's documentation (named in src/apps/vm-configs.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libvirtDomainXml, qemuArgs, vmSpecFor, type VmSpecInput } from '../../src/apps/index.js';

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
