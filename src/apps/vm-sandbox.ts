// apps/vm-sandbox.ts: the jail the hypervisor runs in (docs/apps.md "Isolation"; the App-per-VM
// issue: "the hypervisor process runs as that user, with no capabilities, in its own mount and PID
// namespaces, seeing only the app's store path (read-only), its own state directory
// (read-write), its runtime and what is granted"). bubblewrap, started as the app's own user: new
// user, mount, PID, IPC, UTS, network and cgroup namespaces, every capability dropped, a new
// session, an empty environment but PATH, dying with cairn; inside, read-only /usr (and the /bin, /lib* links) for the
// hypervisor's own files, a minimal /dev (and /dev/kvm where it exists), a fresh /proc, the
// runtime and the store path read-only, and read-write only the app's state directory and the
// directory of its console socket, and the granted folders (read-only or read-write as granted).
// Without a granted network the jail has a new, empty network namespace; with one it stays in the
// app's own namespace (app-network.ts), which it is started in, with the app's own tun device as
// /dev/net/tun.
import { lstatSync, readlinkSync } from 'node:fs';

export interface VmSandbox {
  runtimeDir: string;
  storePath: string;
  stateDir: string;
  socketDir: string;
  /** Granted folders: host path and whether read-only. */
  folders: ReadonlyArray<{ hostPath: string; readOnly: boolean }>;
  kvm: boolean;
  /** With a granted network: the app's own tun device node, the jail's /dev/net/tun; the jail then runs in the app's network namespace instead of a new, empty one. */
  tun?: string;
  /**
   * Directories the jail gets by open file descriptor instead of by path (path -> the fd number
   * the jail has it as): the app's user may not be able to reach them by path (a home directory).
   */
  sourceFds?: Readonly<Record<string, number>>;
}

/** bwrap's arguments that run `command` in the app's jail. */
export function vmSandboxArgs(sandbox: VmSandbox, command: readonly string[]): string[] {
  const args = [
    '--unshare-user', '--unshare-pid', ...(sandbox.tun === undefined ? ['--unshare-net'] : []), '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    // None of cairn's environment (a root shell's, say) reaches the hypervisor.
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin',
    '--ro-bind', '/usr', '/usr',
  ];
  for (const top of ['bin', 'sbin', 'lib', 'lib32', 'lib64']) {
    let status;
    try {
      status = lstatSync(`/${top}`);
    } catch {
      continue;
    }
    if (status.isSymbolicLink()) args.push('--symlink', readlinkSync(`/${top}`), `/${top}`);
    else if (status.isDirectory()) args.push('--ro-bind', `/${top}`, `/${top}`);
  }
  args.push('--dev', '/dev', ...(sandbox.kvm ? ['--dev-bind', '/dev/kvm', '/dev/kvm'] : []), ...(sandbox.tun === undefined ? [] : ['--dev-bind', sandbox.tun, '/dev/net/tun']), '--proc', '/proc', '--tmpfs', '/tmp');
  const bind = (path: string, readOnly: boolean): void => {
    const fd = sandbox.sourceFds?.[path];
    if (fd === undefined) args.push(readOnly ? '--ro-bind' : '--bind', path, path);
    else args.push(readOnly ? '--ro-bind-fd' : '--bind-fd', String(fd), path);
  };
  bind(sandbox.runtimeDir, true);
  bind(sandbox.storePath, true);
  bind(sandbox.stateDir, false);
  bind(sandbox.socketDir, false);
  for (const f of sandbox.folders) bind(f.hostPath, f.readOnly);
  return [...args, '--', ...command];
}
