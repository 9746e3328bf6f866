// mirror/response-headers.ts: the headers the mirror answers with and its conditional requests
// (RFC 9110 sections 8.8 and 13): content type by extension, the cache policy of a TUF
// repository's names (docs/cli.md "Mirrors": versioned and hash-prefixed files are immutable,
// timestamp.json and other plain names must be revalidated), entity tags and Last-Modified, and
// when a request's If-None-Match or If-Modified-Since earns a 304, and which answers may be sent
// gzip-compressed (RFC 9110 8.4 and 12.5.3: JSON metadata, to clients that accept gzip). Pure functions.
import { createHash } from 'node:crypto';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.tar': 'application/x-tar',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.zip': 'application/zip',
};

export function contentTypeFor(path: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  if (dot <= slash) return 'application/octet-stream';
  return CONTENT_TYPES[path.slice(dot).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Names that never change once written: `N.role.json` (consistent snapshots), `SHA256.name`
 * targets, and the log's tiles (`log/tile/...`: a tile's path fixes its width, so its content;
 * c2sp.org/tlog-tiles).
 */
export function isImmutableName(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /^(\d+\.|[0-9a-f]{64}\.)/.test(base) || /(^|\/)log\/tile\/(entries|\d+)\//.test(path);
}

/**
 * Whether the file is sent gzip-compressed to clients that accept it: JSON (metadata and log
 * files, half of whose bytes are hex digests), never archives, which are compressed already or
 * hashed by their clients as they arrive.
 */
export function isCompressible(path: string): boolean {
  return contentTypeFor(path) === 'application/json';
}

/** Whether an Accept-Encoding header accepts gzip: `gzip` (or `x-gzip`, or `*`) listed without q=0. */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined || header.length > 1024) return false;
  let wildcard = false;
  for (const item of header.split(',')) {
    const [coding = '', ...parameters] = item.split(';').map((x) => x.trim().toLowerCase());
    const q = parameters.find((p) => p.startsWith('q='));
    const accepted = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') wildcard = accepted;
  }
  return wildcard;
}

/** The entity tag of the gzip-compressed representation: another representation needs another strong tag (RFC 9110 8.8.3). */
export function gzipEntityTag(etag: string): string {
  return `${etag.slice(0, -1)}-gzip"`;
}

/** Cache policy: versioned and hash-prefixed files never change; the rest must be revalidated. */
export function cacheControlFor(path: string): string {
  return isImmutableName(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** A strong entity tag from the content itself: the same bytes always have the same tag, on any mirror. */
export function contentEntityTag(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`;
}

/** A strong entity tag from a file's identity (inode, size, modification time in ns), for files too large to hash per change. */
export function identityEntityTag(identity: { ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `"${identity.ino.toString(36)}-${identity.size.toString(36)}-${identity.mtimeNs.toString(36)}"`;
}

/** The validators of one version of one file. */
export interface Validators {
  /** Quoted entity tag, e.g. `"abc"`. */
  etag: string;
  /** Modification time in ms since the epoch. */
  mtimeMs: number;
  /** Mutable names are revalidated on every use (cache-control no-cache). */
  mutable: boolean;
}

/** The If-None-Match list (RFC 9110 13.1.2) holds `*` or `etag` (weak comparison: a `W/` prefix is ignored). */
function noneMatchHits(header: string, etag: string): boolean {
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}

/**
 * Whether a GET or HEAD with these request headers is answered 304 Not Modified. If-None-Match,
 * when present, decides alone (RFC 9110 13.2.2). If-Modified-Since has one-second granularity: a
 * mutable file (timestamp.json) rewritten within the second its earlier version was sent would
 * look unmodified, so for mutable names it earns a 304 only when the file is older than the
 * whole second named; immutable names follow the RFC (modified at or before that second).
 */
export function isNotModified(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, file: Validators): boolean {
  if (ifNoneMatch !== undefined) return noneMatchHits(ifNoneMatch, file.etag);
  if (ifModifiedSince === undefined || ifModifiedSince.length > 64) return false;
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since)) return false;
  return file.mutable ? file.mtimeMs < since : Math.floor(file.mtimeMs / 1000) * 1000 <= since;
}
