// mirror/request-path.ts: from an HTTP request target to a file path under the mirror's root
// (docs/cli.md "Mirrors: `cairn serve DIR`"; docs/design.md "mirrors: nothing secret,
// untrusted"). Pure string work, run on every request before any file is looked at: the path is
// capped, decoded once, and refused when it holds an encoded separator, a backslash, NUL or a
// dot segment, so whatever it resolves to is lexically inside the root. Symlinks that leave the
// root are the file lookup's concern (served-file.ts).
import { resolve, sep } from 'node:path';

/** Limits on what a request may carry (the server reads no bodies at all). */
export const REQUEST_LIMITS = {
  /** Longest URL path accepted; repository paths are far shorter. */
  maxPathBytes: 4096,
  /** Node's own cap on the total size of request headers (an answer 431 above it). */
  maxHeaderBytes: 16 * 1024,
  /** Idle kept-alive connections are closed after this long. */
  keepAliveTimeoutMs: 5_000,
  /** The request headers must arrive within this time (slowloris defence). */
  headersTimeoutMs: 20_000,
  /** A request must arrive completely within this time. */
  requestTimeoutMs: 30_000,
  /** A connection on which nothing moves for this long (a reader that stopped reading a download) is closed. */
  idleSocketTimeoutMs: 60_000,
  /** Open connections at once; more are closed as they arrive (each may hold an open file). */
  maxConnections: 4096,
} as const;

const ENCODED_SEPARATOR_OR_NUL = /%2f|%5c|%00/i;

/**
 * The path part of a request target: origin form (`/a/b?q`) or absolute form
 * (`http://host/a/b`), without query or fragment; undefined for anything else (`*`, authority form).
 */
export function requestTargetPath(target: string): string | undefined {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* '/' */) {
    const scheme = /^https?:\/\/[^/?#]*/i.exec(target);
    if (scheme === null || target.charCodeAt(scheme[0].length) !== 47) return undefined;
    start = scheme[0].length;
  }
  let end = target.length;
  const query = target.indexOf('?', start);
  if (query !== -1) end = query;
  const fragment = target.indexOf('#', start);
  if (fragment !== -1 && fragment < end) end = fragment;
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

/**
 * Maps a request path to a file path under `root`, or undefined when the path is unsafe.
 * Decoding happens once; encoded slashes, backslashes, NUL and dot segments are refused.
 */
export function resolveRequestPath(root: string, urlPath: string): string | undefined {
  if (urlPath.length > REQUEST_LIMITS.maxPathBytes || Buffer.byteLength(urlPath) > REQUEST_LIMITS.maxPathBytes) return undefined;
  if (ENCODED_SEPARATOR_OR_NUL.test(urlPath)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.length === 0 || segments.some((s) => s === '.' || s === '..')) return undefined;
  const full = resolve(root, ...segments);
  return full.startsWith(root.endsWith(sep) ? root : root + sep) ? full : undefined;
}
