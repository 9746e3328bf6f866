// apps/vm-configs.ts: one VmSpec (vm-spec.ts) in the format of each hypervisor back end
// (docs/apps.md "VM configurations"; the App-per-VM issue: "Generate configurations, each from
// the same grants, for: QEMU (command line, with its sandbox options, and a libvirt domain with a
// per-domain DAC label), cloud-hypervisor, Firecracker (its JSON configuration plus the jailer
// invocation with the app's uid and gid), and Xen (xl.cfg for a PVH guest)"). Pure functions: a
// device appears in an output only when the spec has it, and the spec has only what is granted.
// Each format's source is named at its generator.
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
