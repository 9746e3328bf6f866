// apps/vm-spec.ts: what one app's VM is, back end aside (docs/apps.md "VM configurations"; the
// App-per-VM issue: "generate configurations, each from the same grants"). A VmSpec is built from
// the app's grants and nothing else grants anything: no network device unless a network
// permission is granted, no shared folder but the app's store path (read-only), its state
// directory and the granted folders, no device, display, clipboard or audio unless granted. Each
// back end (vm-configs.ts) turns the same spec into its own format.
import { parsePermission, type Permission } from '../package/permissions.js';

/** A host directory the guest sees, by tag. */
export interface SharedDirectory {
  /** The mount tag in the guest: `store`, `state`, or `folder-NAME`. */
  tag: string;
  hostPath: string;
  readOnly: boolean;
}

export interface VmSpec {
  /** The app's name (also the VM's name, prefixed `cairn-`). */
  app: string;
  /** The app's own host user and group: the hypervisor process runs as them. */
  uid: number;
  gid: number;
  /** The runtime's kernel and initramfs (a verified package), and the kernel command line. */
  kernel: string;
  initrd: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  /** The store path (read-only), the state directory (read-write), then the granted folders. */
  shares: SharedDirectory[];
  /** Present only when a network permission is granted: a tap device in the app's own network namespace. */
  network?: { tap: string; netns: string; mac: string };
  /** Present only when `display` is granted: the vsock the guest's Wayland proxy (waypipe) reaches the host's compositor through. */
  display?: { vsockCid: number; socket: string };
  /** Where the guest's serial console goes (the app's output). */
  consoleSocket: string;
}

/** What the caller decides for one start of one app (paths, IDs, sizes); the grants decide the rest. */
export interface VmSpecInput {
  app: string;
  uid: number;
  gid: number;
  runtime: { kernel: string; initrd: string; cmdline: string };
  storePath: string;
  stateDir: string;
  /** The granted permissions (apps/permissions.ts). */
  granted: readonly string[];
  /** Host directories of granted folders, by folder name (a granted folder without one is not shared). */
  folderPaths: Readonly<Record<string, string>>;
  /** Network namespace, tap and MAC for a granted network (used only when one is granted). */
  network: { tap: string; netns: string; mac: string };
  /** vsock context ID and socket for a granted display (used only when it is granted). */
  display: { vsockCid: number; socket: string };
  consoleSocket: string;
  memoryMiB?: number;
  cpus?: number;
}

const DEFAULT_MEMORY_MIB = 256;
const DEFAULT_CPUS = 1;

/** The spec of an app's VM: only what is granted is in it. */
export function vmSpecFor(input: VmSpecInput): VmSpec {
  const granted: Permission[] = input.granted.map((p) => parsePermission(p));
  const shares: SharedDirectory[] = [
    { tag: 'store', hostPath: input.storePath, readOnly: true },
    { tag: 'state', hostPath: input.stateDir, readOnly: false },
  ];
  for (const p of granted) {
    if (p.kind !== 'folder') continue;
    const hostPath = input.folderPaths[p.name];
    if (hostPath === undefined || !Object.hasOwn(input.folderPaths, p.name)) continue;
    const tag = `folder-${p.name}`;
    const existing = shares.find((s) => s.tag === tag);
    // ro and rw both granted: rw wins (it covers ro).
    if (existing !== undefined) existing.readOnly &&= p.access === 'ro';
    else shares.push({ tag, hostPath, readOnly: p.access === 'ro' });
  }
  const networked = granted.some((p) => p.kind === 'network:outbound' || p.kind === 'network:outbound-to' || p.kind === 'network:inbound');
  const display = granted.some((p) => p.kind === 'display');
  return {
    app: input.app,
    uid: input.uid,
    gid: input.gid,
    kernel: input.runtime.kernel,
    initrd: input.runtime.initrd,
    cmdline: input.runtime.cmdline,
    memoryMiB: input.memoryMiB ?? DEFAULT_MEMORY_MIB,
    cpus: input.cpus ?? DEFAULT_CPUS,
    shares,
    ...(networked ? { network: { ...input.network } } : {}),
    ...(display ? { display: { ...input.display } } : {}),
    consoleSocket: input.consoleSocket,
  };
}
