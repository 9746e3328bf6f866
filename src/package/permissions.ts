// package/permissions.ts: the permission vocabulary of package manifests (docs/packages.md
// "Permissions"). A package names what it will ask for; nothing is granted at install: the
// App-per-VM runtime enforces these later, and the store shows a user what an update adds
// (permissionIncrease) before it installs it.
import { isIPv4, isIPv6 } from 'node:net';
import { PackageError } from './errors.js';

/** Devices a package may ask for, one word each (docs/packages.md "Permissions"). */
export const DEVICE_NAMES = ['camera', 'microphone', 'usb', 'gpu', 'serial'] as const;
export type DeviceName = (typeof DEVICE_NAMES)[number];

/** Longest permission string accepted (a DNS name is at most 253 characters). */
export const MAX_PERMISSION_CHARS = 300;

/** Package names, command names and shared-folder names share this grammar. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** True when `name` is a valid package, command or shared-folder name. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}

export type Permission =
  | { kind: 'network:outbound' }
  | { kind: 'network:outbound-to'; host: string; port: number }
  | { kind: 'network:inbound'; port: number; protocol: 'tcp' | 'udp' }
  | { kind: 'folder'; name: string; access: 'ro' | 'rw' }
  | { kind: 'device'; device: DeviceName }
  | { kind: 'display' }
  | { kind: 'clipboard' }
  | { kind: 'audio' };

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isDnsName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split('.');
  // An all-numeric last label would read as a (malformed) IPv4 literal.
  return labels.every((l) => DNS_LABEL.test(l)) && !/^[0-9]+$/.test(labels[labels.length - 1]!);
}

function port(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function unknown(p: string, why: string): PackageError {
  const shown = p.length > 80 ? `${JSON.stringify(p.slice(0, 80))}...` : JSON.stringify(p);
  return new PackageError('UNKNOWN_PERMISSION', `permission ${shown}: ${why}`, { hint: 'see docs/packages.md "Permissions" for the vocabulary' });
}

/** Parses one permission string; PackageError UNKNOWN_PERMISSION when unknown or malformed. */
export function parsePermission(p: string): Permission {
  if (typeof p !== 'string') throw unknown(String(p), 'a permission must be a string');
  if (p.length > MAX_PERMISSION_CHARS) throw unknown(p, `longer than ${MAX_PERMISSION_CHARS} characters`);
  switch (p) {
    case 'network:outbound':
      return { kind: 'network:outbound' };
    case 'display':
      return { kind: 'display' };
    case 'clipboard':
      return { kind: 'clipboard' };
    case 'audio':
      return { kind: 'audio' };
  }
  if (p.startsWith('network:outbound:')) {
    const rest = p.slice('network:outbound:'.length);
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw unknown(p, 'expected network:outbound:HOST:PORT');
    const host = rest.slice(0, colon);
    const portNumber = port(rest.slice(colon + 1));
    if (portNumber === undefined) throw unknown(p, 'PORT must be a number from 1 to 65535 without leading zeros');
    if (host.startsWith('[') && host.endsWith(']')) {
      if (!isIPv6(host.slice(1, -1)) || host !== host.toLowerCase()) throw unknown(p, 'HOST in brackets must be a lowercase IPv6 literal');
    } else if (!isIPv4(host) && !isDnsName(host)) {
      throw unknown(p, 'HOST must be a lowercase DNS name, an IPv4 literal or an IPv6 literal in brackets');
    }
    return { kind: 'network:outbound-to', host, port: portNumber };
  }
  const inbound = /^network:inbound:([0-9]+)\/(tcp|udp)$/.exec(p);
  if (inbound) {
    const portNumber = port(inbound[1]!);
    if (portNumber === undefined) throw unknown(p, 'PORT must be a number from 1 to 65535 without leading zeros');
    return { kind: 'network:inbound', port: portNumber, protocol: inbound[2] as 'tcp' | 'udp' };
  }
  if (p.startsWith('network:')) throw unknown(p, 'expected network:outbound, network:outbound:HOST:PORT or network:inbound:PORT/tcp|udp');
  const folder = /^folder:(.*):(ro|rw)$/.exec(p);
  if (folder) {
    // The guest mounts it by the tag folder-NAME, and QEMU's 9p mount tags have at most 31 bytes.
    if (!isValidName(folder[1]!) || folder[1]!.length > 24) throw unknown(p, 'the shared-folder NAME must match [a-z0-9][a-z0-9._-]{0,23}');
    return { kind: 'folder', name: folder[1]!, access: folder[2] as 'ro' | 'rw' };
  }
  if (p.startsWith('folder:')) throw unknown(p, 'expected folder:NAME:ro or folder:NAME:rw');
  if (p.startsWith('device:')) {
    const device = p.slice('device:'.length);
    if (!(DEVICE_NAMES as readonly string[]).includes(device)) throw unknown(p, `the device must be one of ${DEVICE_NAMES.join(', ')}`);
    return { kind: 'device', device: device as DeviceName };
  }
  throw unknown(p, 'not in the vocabulary (network:..., folder:..., device:..., display, clipboard, audio)');
}

/** Whether `held` already allows everything `wanted` allows. */
function covers(held: Permission, heldText: string, wanted: Permission, wantedText: string): boolean {
  if (heldText === wantedText) return true;
  if (held.kind === 'network:outbound' && wanted.kind === 'network:outbound-to') return true;
  return held.kind === 'folder' && wanted.kind === 'folder' && held.name === wanted.name && held.access === 'rw' && wanted.access === 'ro';
}

/**
 * What `candidate` asks for that `installed` did not allow, sorted: a new permission,
 * `folder:x:rw` over `folder:x:ro`, `network:outbound` over any `network:outbound:HOST:PORT`.
 * A destination already covered by `network:outbound` is not an increase.
 */
export function permissionIncrease(installed: readonly string[], candidate: readonly string[]): string[] {
  const held = installed.map((p) => ({ text: p, parsed: parsePermission(p) }));
  const added = new Set<string>();
  for (const text of candidate) {
    const parsed = parsePermission(text);
    if (!held.some((h) => covers(h.parsed, h.text, parsed, text))) added.add(text);
  }
  return [...added].sort();
}

const DEVICE_USE: Readonly<Record<DeviceName, string>> = {
  camera: 'use the camera',
  microphone: 'record from the microphone',
  usb: 'use USB devices',
  gpu: 'use the GPU',
  serial: 'use serial ports',
};

/** One human line saying what permission `p` allows. */
export function describePermission(p: string): string {
  const parsed = parsePermission(p);
  switch (parsed.kind) {
    case 'network:outbound':
      return 'send network traffic to any destination';
    case 'network:outbound-to':
      return `send network traffic to ${parsed.host} port ${parsed.port}`;
    case 'network:inbound':
      return parsed.protocol === 'tcp' ? `accept TCP connections on port ${parsed.port}` : `receive UDP traffic on port ${parsed.port}`;
    case 'folder':
      return parsed.access === 'rw' ? `read and write the shared folder "${parsed.name}"` : `read the shared folder "${parsed.name}"`;
    case 'device':
      return DEVICE_USE[parsed.device];
    case 'display':
      return 'show windows on the display (Wayland)';
    case 'clipboard':
      return 'read and write the clipboard';
    case 'audio':
      return 'play sound';
  }
}
