// apps/vm-sandbox.ts: the jail the hypervisor runs in (docs/apps.md "Isolation"; the App-per-VM
// issue: "the hypervisor process runs as that user, with no capabilities, in its own mount and PID
// namespaces, seeing only the app's store path (read-only), its own state directory
// (read-write), its runtime and what is granted"). bubblewrap, started as the app's own user: new
// user, mount, PID, IPC, UTS, network and cgroup namespaces, every capability dropped, a new
// session, dying with cairn; inside, read-only /usr (and the /bin, /lib* links) for the
// hypervisor's own files, a minimal /dev (and /dev/kvm where it exists), a fresh /proc, the
// runtime and the store path read-only, and read-write only the app's state directory and the
// directory of its console socket. No network namespace is shared: QEMU gets none.
import { lstatSync, readlinkSync } from 'node:fs';

export interface VmSandbox {
  runtimeDir: string;
  storePath: string;
  stateDir: string;
  socketDir: string;
  kvm: boolean;
}

/** bwrap's arguments that run `command` in the app's jail. */
export function vmSandboxArgs(sandbox: VmSandbox, command: readonly string[]): string[] {
  const args = [
    '--unshare-user', '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
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
  args.push('--dev', '/dev', ...(sandbox.kvm ? ['--dev-bind', '/dev/kvm', '/dev/kvm'] : []), '--proc', '/proc', '--tmpfs', '/tmp');
  args.push('--ro-bind', sandbox.runtimeDir, sandbox.runtimeDir);
  args.push('--ro-bind', sandbox.storePath, sandbox.storePath);
  args.push('--bind', sandbox.stateDir, sandbox.stateDir);
  args.push('--bind', sandbox.socketDir, sandbox.socketDir);
  return [...args, '--', ...command];
}
