// errors/system.ts: ordinary faults of the machine as typed errors (docs/cli.md "Errors and exit
// codes"). Node reports a missing file, a full disk, a port in use or a refused connection as an
// Error with an errno `code` (ENOENT, ENOSPC, EADDRINUSE, ECONNREFUSED, ...). Wherever such an
// error reaches the command line without a layer having said what it means, it becomes the
// StorageError or NetworkError of that condition, with a hint, so the same fault has the same code
// and exit code in every command and is never reported as an internal error (exit 70 is for bugs
// only).
import { CairnError, EXIT, StorageError } from './base.js';

/** The network could not be used: an address to listen on, a host to reach, a connection. */
export class NetworkError extends CairnError<
  'ADDRESS_IN_USE' | 'ADDRESS_NOT_AVAILABLE' | 'CONNECTION_REFUSED' | 'CONNECTION_RESET' | 'HOST_NOT_FOUND' | 'HOST_UNREACHABLE' | 'TIMED_OUT' | 'PERMISSION_DENIED'
> {
  get exitCode(): number {
    return EXIT.fetch;
  }
}

interface SystemError extends Error {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
  address?: string;
  port?: number;
  hostname?: string;
}

function isSystemError(e: unknown): e is SystemError {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code);
}

const SOCKET_CALLS = new Set(['listen', 'bind', 'connect', 'getaddrinfo', 'read', 'write', 'send', 'recv', 'queryA', 'queryAaaa']);

/**
 * The typed error of a Node system error (`e.code` ENOENT, EADDRINUSE, ...), or undefined when `e`
 * is not one (or is a condition with no typed meaning: a bug).
 */
export function fromSystemError(e: unknown): CairnError | undefined {
  if (!isSystemError(e)) return undefined;
  const where = e.path ?? (e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : e.hostname);
  const what = where === undefined ? '' : ` (${where})`;
  const cause = { cause: e };
  const network = e.syscall !== undefined && SOCKET_CALLS.has(e.syscall);
  switch (e.code) {
    case 'ENOENT':
      return new StorageError('NOT_FOUND', `${where ?? 'a file'} does not exist`, { ...cause, hint: 'check the path' });
    case 'EEXIST':
      return new StorageError('EXISTS', `${where ?? 'the file'} exists already`, { ...cause, hint: 'choose another path or remove it first' });
    case 'EACCES':
    case 'EPERM':
      if (network) return new NetworkError('PERMISSION_DENIED', `not allowed to ${e.syscall}${what}`, { ...cause, hint: 'ports below 1024 need privileges: choose a higher --port' });
      return new StorageError('PERMISSION_DENIED', `permission denied${what}`, { ...cause, hint: 'check the owner and mode of the file and its directories' });
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError('NO_SPACE', `no space left on the device${what}`, { ...cause, hint: 'free space on that file system and run the command again: what was written before stays as it was' });
    case 'EROFS':
      return new StorageError('READ_ONLY', `the file system is read-only${what}`, cause);
    case 'ENOTDIR':
      return new StorageError('NOT_A_DIRECTORY', `a part of ${where ?? 'the path'} is not a directory`, { ...cause, hint: 'check the path' });
    case 'EISDIR':
      return new StorageError('IS_A_DIRECTORY', `${where ?? 'the path'} is a directory, a file was expected`, { ...cause, hint: 'check the path' });
    case 'EMFILE':
    case 'ENFILE':
      return new StorageError('READ_FAILED', `too many open files${what}`, { ...cause, hint: 'raise the limit of open files (ulimit -n)' });
    case 'EIO':
      return new StorageError('READ_FAILED', `input/output error${what}`, { ...cause, hint: 'the disk may be failing: check the system log' });
    case 'EADDRINUSE':
      return new NetworkError('ADDRESS_IN_USE', `${where ?? 'the address'} is in use`, { ...cause, hint: 'choose another --port, or stop the program listening there' });
    case 'EADDRNOTAVAIL':
      return new NetworkError('ADDRESS_NOT_AVAILABLE', `${where ?? 'the address'} is not an address of this machine`, { ...cause, hint: 'check --host' });
    case 'ECONNREFUSED':
      return new NetworkError('CONNECTION_REFUSED', `connection refused${what}`, { ...cause, hint: 'check that the server runs and the address is right' });
    case 'ECONNRESET':
    case 'EPIPE':
      return new NetworkError('CONNECTION_RESET', `the connection was dropped${what}`, { ...cause, hint: 'try again; if it persists, check the server' });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new NetworkError('HOST_NOT_FOUND', `host not found${what}`, { ...cause, hint: 'check the address and the name service' });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new NetworkError('HOST_UNREACHABLE', `no route to the host${what}`, { ...cause, hint: 'check the network' });
    case 'ETIMEDOUT':
      return new NetworkError('TIMED_OUT', `the connection timed out${what}`, { ...cause, hint: 'check the network and the server' });
    default:
      return undefined;
  }
}

/** `e` as a CairnError when it is one or a system error with a typed meaning; undefined for a bug. */
export function asCairnError(e: unknown): CairnError | undefined {
  return e instanceof CairnError ? e : fromSystemError(e);
}
