// apps/vm-configs.ts: one VmSpec (vm-spec.ts) in the format of each hypervisor back end
// (docs/apps.md "VM configurations"; the App-per-VM issue: "Generate configurations, each from
// the same grants, for: QEMU (command line, with its sandbox options, and a libvirt domain with a
// per-domain DAC label), cloud-hypervisor, Firecracker (its JSON configuration plus the jailer
// invocation with the app's uid and gid), and Xen (xl.cfg for a PVH guest)"). Pure functions: a
// device appears in an output only when the spec has it, and the spec has only what is granted.
// Each format's source is named at its generator.
import { AppError } from './errors.js';
import type { VmSpec } from './vm-spec.js';

/** Whether the host can run the guest with KVM; without it QEMU emulates (TCG), which is slower. */
export interface Acceleration {
  kvm: boolean;
}

/**
 * QEMU's command line (QEMU 7.2, Debian 12; qemu-system-x86_64(1)): a q35 machine with no default
 * device and no user configuration, the seccomp sandbox with every optional denial on, direct
 * kernel boot, the serial console on a Unix socket, each share through virtio-9p
 * (`-fsdev local,...,readonly=on` for read-only ones), no network device (`-nic none`) unless
 * one is granted, then a tap device. A granted display adds a vsock device for waypipe (QEMU 7.2
 * has no virtio-gpu cross-domain context).
 */
export function qemuArgs(spec: VmSpec, acceleration: Acceleration): string[] {
  const args = [
    '-name', `${vmName(spec)},process=${vmName(spec)}`,
    '-machine', `q35,accel=${acceleration.kvm ? 'kvm' : 'tcg'}`,
    '-cpu', acceleration.kvm ? 'host' : 'max',
    '-m', String(spec.memoryMiB),
    '-smp', String(spec.cpus),
    '-nodefaults', '-no-user-config', '-nographic',
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', spec.cmdline,
    '-chardev', `socket,id=console,path=${qemuOptionValue(spec.consoleSocket)},server=on,wait=off`,
    '-serial', 'chardev:console',
  ];
  for (const share of spec.shares) {
    args.push('-fsdev', `local,id=${share.tag},path=${qemuOptionValue(share.hostPath)},security_model=none${share.readOnly ? ',readonly=on' : ''}`);
    args.push('-device', `virtio-9p-pci,fsdev=${share.tag},mount_tag=${share.tag}`);
  }
  if (spec.network === undefined) {
    args.push('-nic', 'none');
  } else {
    args.push('-netdev', `tap,id=net0,ifname=${spec.network.tap},script=no,downscript=no`);
    args.push('-device', `virtio-net-pci,netdev=net0,mac=${spec.network.mac}`);
  }
  if (spec.display !== undefined) args.push('-device', `vhost-vsock-pci,guest-cid=${spec.display.vsockCid}`);
  return args;
}

/**
 * A libvirt domain (libvirt's formatdomain documentation): direct kernel boot on q35, the same
 * shares as `<filesystem type='mount' accessmode='passthrough'>` (9p), `<readonly/>` where
 * read-only, a serial console on a Unix socket, an `<interface type='ethernet'>` on the app's tap
 * only when networked, a `<vsock>` only for a granted display, no memory balloon, and a static
 * DAC label so that the domain's QEMU runs as the app's own uid and gid (`+UID:+GID`, relabel='no':
 * libvirt changes no file's owner).
 */
export function libvirtDomainXml(spec: VmSpec, acceleration: Acceleration): string {
  const x = escapeXml;
  const lines = [
    `<domain type='${acceleration.kvm ? 'kvm' : 'qemu'}'>`,
    `  <name>${x(vmName(spec))}</name>`,
    `  <memory unit='MiB'>${spec.memoryMiB}</memory>`,
    `  <vcpu>${spec.cpus}</vcpu>`,
    '  <os>',
    "    <type arch='x86_64' machine='q35'>hvm</type>",
    `    <kernel>${x(spec.kernel)}</kernel>`,
    `    <initrd>${x(spec.initrd)}</initrd>`,
    `    <cmdline>${x(spec.cmdline)}</cmdline>`,
    '  </os>',
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>destroy</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...spec.shares.flatMap((s) => [
      "    <filesystem type='mount' accessmode='passthrough'>",
      "      <driver type='path'/>",
      `      <source dir='${x(s.hostPath)}'/>`,
      `      <target dir='${x(s.tag)}'/>`,
      ...(s.readOnly ? ['      <readonly/>'] : []),
      '    </filesystem>',
    ]),
    ...(spec.network === undefined ? [] : [
      "    <interface type='ethernet'>",
      `      <target dev='${x(spec.network.tap)}' managed='no'/>`,
      `      <mac address='${x(spec.network.mac)}'/>`,
      "      <model type='virtio'/>",
      '    </interface>',
    ]),
    "    <serial type='unix'>",
    `      <source mode='bind' path='${x(spec.consoleSocket)}'/>`,
    "      <target port='0'/>",
    '    </serial>',
    ...(spec.display === undefined ? [] : [
      "    <vsock model='virtio'>",
      `      <cid auto='no' address='${spec.display.vsockCid}'/>`,
      '    </vsock>',
    ]),
    "    <memballoon model='none'/>",
    '  </devices>',
    "  <seclabel type='static' model='dac' relabel='no'>",
    `    <label>+${spec.uid}:+${spec.gid}</label>`,
    '  </seclabel>',
    '</domain>',
  ];
  return `${lines.join('\n')}\n`;
}

/** The VM's name: `cairn-` and the app's name (a package name: [a-z0-9._-]). */
export function vmName(spec: VmSpec): string {
  return `cairn-${spec.app}`;
}

/** A value inside a QEMU option list: a comma is written twice (qemu-options: "commas in values must be doubled"). */
function qemuOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function escapeXml(value: string): string {
  return value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll("'", '&apos;').replaceAll('"', '&quot;');
}

/** A virtiofsd the launcher starts for one share of a cloud-hypervisor VM. */
export interface VirtiofsDaemon {
  tag: string;
  socket: string;
  sharedDir: string;
  /** The daemon must refuse writes (virtiofsd's read-only mode). */
  readOnly: boolean;
}

/**
 * cloud-hypervisor's command line (its `--help` and docs/fs.md, docs/vsock.md,
 * docs/device_model.md): direct kernel boot, the legacy serial console on the console socket
 * (`--serial socket=`, `--console off`), each share through virtio-fs (`--fs tag=,socket=`, which
 * needs shared memory and one external virtiofsd per share: returned in `daemons`, read-only ones
 * marked), a tap only when networked, a vsock only for a granted display. cloud-hypervisor has
 * no display device of its own: the display is waypipe over vsock.
 */
export function cloudHypervisorArgs(spec: VmSpec, socketDir: string): { args: string[]; daemons: VirtiofsDaemon[] } {
  const daemons = spec.shares.map((s) => ({ tag: s.tag, socket: `${socketDir}/${s.tag}.sock`, sharedDir: s.hostPath, readOnly: s.readOnly }));
  const args = [
    '--kernel', spec.kernel,
    '--initramfs', spec.initrd,
    '--cmdline', spec.cmdline,
    '--cpus', `boot=${spec.cpus}`,
    '--memory', `size=${spec.memoryMiB}M,shared=on`,
    '--serial', `socket=${plainValue(spec.consoleSocket, 'cloud-hypervisor')}`,
    '--console', 'off',
    ...daemons.flatMap((d) => ['--fs', `tag=${d.tag},socket=${plainValue(d.socket, 'cloud-hypervisor')}`]),
  ];
  if (spec.network !== undefined) args.push('--net', `tap=${spec.network.tap},mac=${spec.network.mac}`);
  if (spec.display !== undefined) args.push('--vsock', `cid=${spec.display.vsockCid},socket=${plainValue(spec.display.socket, 'cloud-hypervisor')}`);
  return { args, daemons };
}

/** A file the launcher places in the jail before it starts Firecracker (paths in its configuration are the jail's). */
export interface JailFile {
  from: string;
  to: string;
}

/**
 * Firecracker's configuration (`--config-file`; the FullVmConfiguration of its API:
 * boot-source, drives, machine-config, network-interfaces, vsock) and the jailer's invocation
 * (docs/jailer.md: --id, --exec-file, --uid, --gid, --chroot-base-dir, --netns, --new-pid-ns;
 * what follows `--` goes to Firecracker). Firecracker has no shared folders (no virtio-fs, no
 * 9p): every share must come as a block image (`images`, by tag; UNSUPPORTED otherwise), a
 * read-only drive where the share is read-only. It has no display device: a granted display is
 * waypipe over its vsock. Its kernel must be an uncompressed vmlinux.
 */
export function firecrackerConfig(spec: VmSpec, options: { images: Readonly<Record<string, string>>; firecracker: string; chrootBaseDir: string }): { config: Record<string, unknown>; jailerArgs: string[]; files: JailFile[] } {
  const files: JailFile[] = [{ from: spec.kernel, to: 'vmlinux' }, { from: spec.initrd, to: 'initrd.img' }];
  const drives = spec.shares.map((s) => {
    const image = options.images[s.tag];
    if (image === undefined || !Object.hasOwn(options.images, s.tag)) throw new AppError('UNSUPPORTED', `Firecracker shares no folders: the share ${s.tag} (${s.hostPath}) needs a block image`);
    files.push({ from: image, to: `${s.tag}.img` });
    return { drive_id: s.tag, path_on_host: `${s.tag}.img`, is_root_device: false, is_read_only: s.readOnly };
  });
  const config: Record<string, unknown> = {
    'boot-source': { kernel_image_path: 'vmlinux', initrd_path: 'initrd.img', boot_args: spec.cmdline },
    drives,
    'machine-config': { vcpu_count: spec.cpus, mem_size_mib: spec.memoryMiB, smt: false },
    'network-interfaces': spec.network === undefined ? [] : [{ iface_id: 'net0', host_dev_name: spec.network.tap, guest_mac: spec.network.mac }],
    ...(spec.display === undefined ? {} : { vsock: { guest_cid: spec.display.vsockCid, uds_path: 'display.sock' } }),
  };
  const jailerArgs = [
    '--id', vmName(spec),
    '--exec-file', options.firecracker,
    '--uid', String(spec.uid),
    '--gid', String(spec.gid),
    '--chroot-base-dir', options.chrootBaseDir,
    ...(spec.network === undefined ? [] : ['--netns', `/var/run/netns/${spec.network.netns}`]),
    '--new-pid-ns',
    '--', '--config-file', 'config.json',
  ];
  return { config, jailerArgs, files };
}

/**
 * Xen's xl.cfg(5) for a PVH guest (direct kernel boot, no firmware). Xen's 9pfs has no read-only
 * mode, so read-only shares come as read-only raw disks (`access=ro`, `images` by tag;
 * UNSUPPORTED otherwise) and read-write ones through p9; a vif only when networked; devices from
 * driver domains where `backends` names them (`backend=`). No display: xl.cfg's vdispl is Xen's
 * own PV display protocol, not Wayland.
 */
export function xlConfig(spec: VmSpec, options: { images: Readonly<Record<string, string>>; backends?: { network?: string; storage?: string } }): string {
  const q = (v: string): string => {
    if (/["\\\n\r]/.test(v)) throw new AppError('UNSUPPORTED', `xl.cfg cannot take ${JSON.stringify(v.slice(0, 120))}: a quote, backslash or line break in a string`);
    return `"${v}"`;
  };
  const storage = options.backends?.storage === undefined ? '' : `, backend=${xlValue(options.backends.storage)}`;
  const disks: string[] = [];
  const p9: string[] = [];
  spec.shares.forEach((s) => {
    if (s.readOnly) {
      const image = options.images[s.tag];
      if (image === undefined || !Object.hasOwn(options.images, s.tag)) throw new AppError('UNSUPPORTED', `Xen's 9pfs cannot share ${s.tag} (${s.hostPath}) read-only: it needs a block image`);
      disks.push(`'format=raw, vdev=xvd${String.fromCharCode(97 + disks.length)}, access=ro${storage}, target=${xlValue(image)}'`);
    } else {
      p9.push(`'tag=${s.tag},security_model=none,path=${xlValue(s.hostPath)}${storage.replace(', ', ',')}'`);
    }
  });
  const lines = [
    `name = ${q(vmName(spec))}`,
    'type = "pvh"',
    `kernel = ${q(spec.kernel)}`,
    `ramdisk = ${q(spec.initrd)}`,
    `cmdline = ${q(spec.cmdline)}`,
    `memory = ${spec.memoryMiB}`,
    `vcpus = ${spec.cpus}`,
    'on_poweroff = "destroy"',
    'on_reboot = "destroy"',
    'on_crash = "destroy"',
    `disk = [ ${disks.join(', ')} ]`,
    `p9 = [ ${p9.join(', ')} ]`,
    `vif = [ ${spec.network === undefined ? '' : `'mac=${spec.network.mac},vifname=${spec.network.tap}${options.backends?.network === undefined ? '' : `,backend=${xlValue(options.backends.network)}`}'`} ]`,
  ];
  return `${lines.join('\n')}\n`;
}

/** A value written into a comma-separated option list that has no quoting: refused when it holds a separator or a quote. */
function plainValue(value: string, format: string): string {
  if (/[,"'\n\r\\=]/.test(value)) throw new AppError('UNSUPPORTED', `${format} cannot take the path ${JSON.stringify(value.slice(0, 120))}: it holds a character its option syntax cannot quote`);
  return value;
}

/** A value inside an xl.cfg device spec (a comma-separated key=value list in single quotes). */
function xlValue(value: string): string {
  return plainValue(value, 'xl.cfg');
}
