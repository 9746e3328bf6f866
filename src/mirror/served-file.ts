// mirror/served-file.ts: opening the file a request names, under the mirror's root only
// (docs/design.md "mirrors: nothing secret, untrusted"), and reading a small one whole as one
// version. The path (already lexically inside the root: request-path.ts) is resolved with
// realpath, so a symlink may lead anywhere inside the root but never out of it; the resolved
// file is opened without following a last-moment symlink and non-blocking (a FIFO cannot hang
// the server), and its status is taken on the open handle: only regular files are served.
// A publisher replaces files by renaming a complete new file into place (io/atomic-write.ts), so
// the open handle holds one version; a file written in place while it is read is detected by its
// size and modification time before and after, and refused.
import { constants } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';
import { MirrorError } from './errors.js';

/** What tells one version of a file from another without reading it. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** A regular file under the root, open for reading; the caller closes `handle`. */
export interface OpenedFile {
  handle: FileHandle;
  identity: FileIdentity;
  /** Size in bytes when it was opened. */
  size: number;
  mtimeMs: number;
}

/** Whether two looks at a path found the same version (any change of content, metadata or link count differs). */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return sameContent(a, b) && a.ctimeNs === b.ctimeNs;
}

/**
 * Whether two looks at one open file found the same content. Not the change time: renaming a new
 * version over the path unlinks the open file, which changes its ctime but not its bytes.
 */
function sameContent(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

async function identityOf(handle: FileHandle): Promise<{ identity: FileIdentity; regular: boolean; mtimeMs: number }> {
  const s = await handle.stat({ bigint: true });
  return {
    identity: { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs },
    regular: s.isFile(),
    mtimeMs: Number(s.mtimeMs),
  };
}

function systemCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** The refusal for a failed realpath or open: missing is NOT_FOUND, anything else READ_FAILED. */
function lookupFailure(e: unknown, what: string): MirrorError {
  const code = systemCode(e);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') {
    return new MirrorError('NOT_FOUND', `${what} does not exist`, { cause: e });
  }
  return new MirrorError('READ_FAILED', `cannot open ${what}: ${(e as Error).message}`, { cause: e });
}

/**
 * Opens `path` (inside `realRoot`, itself a realpath) for reading. Throws MirrorError NOT_FOUND,
 * OUTSIDE_ROOT (a symlink leading out of the root), NOT_REGULAR_FILE or READ_FAILED.
 */
export async function openServedFile(realRoot: string, path: string): Promise<OpenedFile> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    throw lookupFailure(e, path);
  }
  if (!real.startsWith(realRoot + sep)) throw new MirrorError('OUTSIDE_ROOT', `${path} resolves to ${real}, outside the served root ${realRoot}`);
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a symlink put in place of the resolved file since realpath is not followed.
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (e) {
    throw lookupFailure(e, path);
  }
  try {
    const { identity, regular, mtimeMs } = await identityOf(handle);
    if (!regular) throw new MirrorError('NOT_REGULAR_FILE', `${path} is not a regular file`);
    return { handle, identity, size: Number(identity.size), mtimeMs };
  } catch (e) {
    await handle.close().catch(() => undefined);
    if (e instanceof MirrorError) throw e;
    throw new MirrorError('READ_FAILED', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * All bytes of an opened file, as one version: exactly `file.size` bytes followed by the end of
 * the file, with the same identity after the read as when it was opened. Throws MirrorError
 * CHANGED_WHILE_READ otherwise, READ_FAILED on an I/O error. Does not close the handle.
 */
export async function readWholeFile(file: OpenedFile, what: string): Promise<Buffer> {
  // One byte more than the size: a read that fills it means the file grew. Not from the shared
  // pool: the bytes may stay cached for a long time.
  const buffer = Buffer.allocUnsafeSlow(file.size + 1);
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.handle.read(buffer, total, buffer.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total === buffer.length) break;
    }
    const after = await identityOf(file.handle);
    if (total !== file.size || !sameContent(after.identity, file.identity)) {
      throw new MirrorError('CHANGED_WHILE_READ', `${what} changed while it was read (${file.size} bytes when opened, ${total} read); a publisher must rename a complete file into place`);
    }
  } catch (e) {
    if (e instanceof MirrorError) throw e;
    throw new MirrorError('READ_FAILED', `cannot read ${what}: ${(e as Error).message}`, { cause: e });
  }
  return buffer.subarray(0, total);
}
