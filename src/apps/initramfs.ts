// apps/initramfs.ts: the cpio archive the kernel unpacks as its first root file system (the
// "newc" format of the kernel's Documentation/driver-api/early-userspace/buffer-format.rst: a
// 110-byte ASCII header of hex fields, the NUL-terminated name and the data, each padded to 4
// bytes, ended by the entry TRAILER!!!). Deterministic: entries in the order given, owner root,
// time 0. The runtime's initramfs is written with it (docs/apps.md "Runtime").

export interface InitramfsEntry {
  /** Path inside the archive, without a leading `/`. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits (0o755, 0o644...). */
  mode: number;
  /** File content, or the symlink's target. */
  data?: Uint8Array | string;
}

const TYPE_BITS = { file: 0o100000, directory: 0o040000, symlink: 0o120000 } as const;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return `070701${[ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join('')}`;
}

/** The newc archive of `entries` (parents must come before their children). */
export function initramfs(entries: readonly InitramfsEntry[]): Buffer {
  const parts: Buffer[] = [];
  const push = (ino: number, mode: number, nlink: number, name: string, data: Buffer): void => {
    const nameBytes = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino, mode, nlink, data.length, nameBytes.length), 'ascii');
    parts.push(head, nameBytes, padding(head.length + nameBytes.length), data, padding(data.length));
  };
  entries.forEach((e, i) => {
    if (e.path.startsWith('/') || e.path.split('/').some((p) => p === '' || p === '..')) throw new Error(`initramfs: ${JSON.stringify(e.path)} is not a relative path inside the archive`);
    const data = e.type === 'directory' ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    push(i + 1, TYPE_BITS[e.type] | (e.mode & 0o7777), e.type === 'directory' ? 2 : 1, e.path, data);
  });
  push(0, 0, 1, 'TRAILER!!!', Buffer.alloc(0));
  return Buffer.concat(parts);
}
