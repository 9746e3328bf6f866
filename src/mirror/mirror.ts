// mirror/mirror.ts: a read-only HTTP mirror of a repository directory (docs/design.md
// "mirrors: nothing secret, untrusted"). It only answers GET and HEAD for regular files under
// its root: no directory listings, no path traversal (`..`, encoded separators, NUL, symlinks
// leaving the root), bounded request sizes, and content types by extension. Mirrors are not
// trusted by clients; this server's job is to be safe to run and correct for caches.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { sep, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { serve, type HttpBindings, type Http2Bindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';

export interface MirrorOptions {
  /** Directory to serve; nothing outside it is ever read. */
  root: string;
  /** Loopback by default: serving to the network is an explicit choice. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Called once per request, after the answer (for logs and tests). */
  onRequest?: (entry: { method: string; path: string; status: number; bytes: number }) => void;
}

export interface RunningMirror {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Limits on what a request may carry (the server reads no bodies at all). */
const REQUEST_LIMITS = {
  /** Longest URL path accepted; repository paths are far shorter. */
  maxPathBytes: 4096,
  /** Node's own cap on the total size of request headers. */
  maxHeaderBytes: 16 * 1024,
  /** Idle connections are closed after this long. */
  keepAliveTimeoutMs: 5_000,
  /** A request must arrive completely within this time (slowloris defence). */
  requestTimeoutMs: 30_000,
} as const;

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

function contentTypeFor(path: string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  if (dot <= slash) return 'application/octet-stream';
  return CONTENT_TYPES[path.slice(dot).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Maps a request path to a file path under `root`, or undefined when the path is unsafe.
 * Decoding happens once; encoded slashes, backslashes, NUL and dot segments are refused.
 */
export function resolveRequestPath(root: string, urlPath: string): string | undefined {
  if (Buffer.byteLength(urlPath) > REQUEST_LIMITS.maxPathBytes) return undefined;
  if (/%2f|%5c|%00/i.test(urlPath)) return undefined;
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

/** Cache policy: versioned and hash-prefixed files never change; the rest must be revalidated. */
function cacheControlFor(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /^(\d+\.|[0-9a-f]{64}\.)/.test(base) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

function createMirrorApp(rootDir: string): Hono<{ Bindings: Partial<HttpBindings> }> {
  const app = new Hono<{ Bindings: Partial<HttpBindings> }>();
  let realRoot: string | undefined;
  const notFound = (c: { text: (s: string, status: 404) => Response }): Response => c.text('not found\n', 404);

  app.on(['GET', 'HEAD'], '*', async (c) => {
    realRoot ??= await realpath(rootDir);
    const path = resolveRequestPath(realRoot, new URL(c.req.url).pathname);
    if (path === undefined) return c.text('bad path\n', 400);
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      return notFound(c);
    }
    // A symlink inside the tree must not lead outside it.
    if (!real.startsWith(realRoot + sep)) return notFound(c);
    const info = await stat(real).catch(() => undefined);
    if (!info?.isFile()) return notFound(c);
    const headers = {
      'content-type': contentTypeFor(real),
      'content-length': String(info.size),
      'cache-control': cacheControlFor(real),
      'last-modified': info.mtime.toUTCString(),
      'x-content-type-options': 'nosniff',
    };
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
    const outgoing = c.env?.outgoing;
    if (outgoing) {
      // Under Node, stream the file straight into the socket: no web-stream conversion per chunk.
      for (const [name, value] of Object.entries(headers)) outgoing.setHeader(name, value);
      outgoing.writeHead(200);
      createReadStream(real, { highWaterMark: 1 << 20 })
        .on('error', () => outgoing.destroy())
        .pipe(outgoing);
      return RESPONSE_ALREADY_SENT;
    }
    const body = Readable.toWeb(createReadStream(real, { highWaterMark: 1 << 20 })) as ReadableStream<Uint8Array>;
    return new Response(body, { status: 200, headers });
  });
  app.all('*', (c) => c.text('method not allowed: this mirror is read-only\n', 405, { allow: 'GET, HEAD' }));
  return app;
}

/** Starts a static server; resolves once it listens. */
export async function startMirror(options: MirrorOptions): Promise<RunningMirror> {
  const app = createMirrorApp(resolve(options.root));
  const fetchHandler = async (req: Request, bindings: HttpBindings | Http2Bindings): Promise<Response> => {
    const env = bindings as HttpBindings; // serve() below creates an HTTP/1.1 server
    const res = await app.fetch(req, env);
    if (options.onRequest) {
      const sent = res === RESPONSE_ALREADY_SENT;
      options.onRequest({
        method: req.method,
        path: new URL(req.url).pathname,
        status: sent ? env.outgoing.statusCode : res.status,
        bytes: Number((sent ? env.outgoing.getHeader('content-length') : res.headers.get('content-length')) ?? 0),
      });
    }
    return res;
  };
  return new Promise((resolvePromise, reject) => {
    const server = serve(
      {
        fetch: fetchHandler,
        hostname: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        serverOptions: { maxHeaderSize: REQUEST_LIMITS.maxHeaderBytes, requestTimeout: REQUEST_LIMITS.requestTimeoutMs, keepAliveTimeout: REQUEST_LIMITS.keepAliveTimeoutMs },
      },
      (info: AddressInfo) => {
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        resolvePromise({
          url: `http://${host}:${info.port}`,
          port: info.port,
          server: server as Server,
          close: () =>
            new Promise<void>((done) => {
              (server as Server).closeAllConnections?.();
              server.close(() => done());
            }),
        });
      },
    ) as Server;
    server.once('error', reject);
  });
}
