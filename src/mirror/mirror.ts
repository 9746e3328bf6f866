// mirror/mirror.ts: `cairn serve`, a read-only HTTP mirror of a repository directory
// (docs/design.md "mirrors: nothing secret, untrusted"; docs/cli.md "Mirrors: `cairn serve DIR`").
// It only answers GET and HEAD for regular files under its root: no directory listings, no path
// traversal (`..`, encoded separators, NUL: request-path.ts; symlinks leaving the root:
// served-file.ts), bounded requests and connections, content types by extension, and validators
// (ETag, Last-Modified, 304) for caches. Mirrors are not trusted by clients; this server's job is
// to be safe to run, correct for caches, and fast on the path every client polls: small files
// (timestamp.json) come from memory, checked against the disk at most every
// FILE_CACHE_LIMITS.revalidateAfterMs (small-file-cache.ts), and small JSON files go gzip-compressed
// to clients that accept it (compressed once per version); large ones are streamed from the
// checked handle (file-stream.ts). Plain node:http: a static file needs no router.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { MirrorError, type MirrorErrorCode } from './errors.js';
import { REQUEST_LIMITS, requestTargetPath, resolveRequestPath } from './request-path.js';
import { SmallFileCache, type CachedFile, type CachedRepresentation } from './small-file-cache.js';
import { streamFile } from './file-stream.js';
import { acceptsGzip, cacheControlFor, contentTypeFor, gzipEntityTag, identityEntityTag, isCompressible, isImmutableName, isNotModified, type Validators } from './response-headers.js';
import type { OpenedFile } from './served-file.js';

/** What the mirror reports of each request, once its answer is decided. */
export interface MirrorRequestEntry {
  method: string;
  path: string;
  status: number;
  /** The body's length (Content-Length); 0 for refusals and 304. */
  bytes: number;
  /** Why the request was refused, for 4xx and 5xx answers. */
  refusal?: MirrorErrorCode;
}

export interface MirrorOptions {
  /** Directory to serve; nothing outside it is ever read. */
  root: string;
  /** Loopback by default: serving to the network is an explicit choice. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Called once per request, when its answer is decided (for logs and tests). */
  onRequest?: (entry: MirrorRequestEntry) => void;
  /** Clock of the small-file cache in ms (tests drive it); default Date.now. */
  now?: () => number;
}

export interface RunningMirror {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const REFUSAL_STATUS: Record<MirrorErrorCode, number> = {
  BAD_PATH: 400,
  METHOD_NOT_ALLOWED: 405,
  NOT_FOUND: 404,
  OUTSIDE_ROOT: 404,
  NOT_REGULAR_FILE: 404,
  CHANGED_WHILE_READ: 503,
  READ_FAILED: 500,
  ROOT_NOT_A_DIRECTORY: 500,
};

const REFUSAL_BODY: Record<number, string> = {
  400: 'bad path\n',
  404: 'not found\n',
  405: 'method not allowed: this mirror is read-only\n',
  500: 'cannot read the file\n',
  503: 'the file is being replaced; retry\n',
};

/** Answers one request; never throws (a refusal is an HTTP status). */
class MirrorRequestHandler {
  constructor(
    private readonly realRoot: string,
    private readonly cache: SmallFileCache,
    private readonly onRequest: MirrorOptions['onRequest'],
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? '';
    const target = req.url ?? '';
    if (method !== 'GET' && method !== 'HEAD') return this.refuse(req, res, 'METHOD_NOT_ALLOWED');
    const urlPath = requestTargetPath(target);
    const path = urlPath === undefined ? undefined : resolveRequestPath(this.realRoot, urlPath);
    if (path === undefined) return this.refuse(req, res, 'BAD_PATH');
    // The hot path: a small file checked less than revalidateAfterMs ago, answered from memory.
    const fresh = this.cache.fresh(path);
    if (fresh !== undefined) return this.sendCached(req, res, path, fresh);
    this.cache
      .lookup(path)
      .then(
        (found) => (found.kind === 'cached' ? this.sendCached(req, res, path, found.file) : this.sendStreamed(req, res, path, found.file)),
        (e: unknown) => this.refuse(req, res, e instanceof MirrorError ? e.code : 'READ_FAILED'),
      )
      .catch(() => res.destroy()); // a failure while answering must not become an unhandled rejection
  }

  private sendCached(req: IncomingMessage, res: ServerResponse, path: string, file: CachedFile): void {
    const sent: CachedRepresentation = (isCompressible(path) && acceptsGzip(req.headers['accept-encoding']) ? gzipped(file) : undefined) ?? file;
    if (this.notModified(req, sent.validators)) {
      res.writeHead(304, sent.notModifiedHeaders as string[]).end();
      return this.report(req, 304, 0);
    }
    res.writeHead(200, sent.okHeaders as string[]);
    if (req.method === 'HEAD') res.end();
    else res.end(sent.bytes);
    this.report(req, 200, sent.bytes.length);
  }

  private sendStreamed(req: IncomingMessage, res: ServerResponse, path: string, file: OpenedFile): void {
    const validators: Validators = { etag: identityEntityTag(file.identity), mtimeMs: file.mtimeMs, mutable: !isImmutableName(path) };
    const common = [
      'cache-control', cacheControlFor(path),
      'etag', validators.etag,
      'last-modified', new Date(file.mtimeMs).toUTCString(),
      'x-content-type-options', 'nosniff',
    ];
    if (this.notModified(req, validators)) {
      void file.handle.close().catch(() => undefined);
      res.writeHead(304, common).end();
      return this.report(req, 304, 0);
    }
    res.writeHead(200, ['content-type', contentTypeFor(path), 'content-length', String(file.size), ...common]);
    this.report(req, 200, file.size);
    if (req.method === 'HEAD') {
      void file.handle.close().catch(() => undefined);
      res.end();
    } else {
      void streamFile(file, res);
    }
  }

  private notModified(req: IncomingMessage, validators: Validators): boolean {
    const h = req.headers;
    const ifNoneMatch = h['if-none-match'];
    const ifModifiedSince = h['if-modified-since'];
    if (ifNoneMatch === undefined && ifModifiedSince === undefined) return false;
    return isNotModified(ifNoneMatch, ifModifiedSince, validators);
  }

  private refuse(req: IncomingMessage, res: ServerResponse, code: MirrorErrorCode): void {
    const status = REFUSAL_STATUS[code];
    const body = REFUSAL_BODY[status] ?? 'refused\n';
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'x-content-type-options': 'nosniff' };
    if (status === 405) headers.allow = 'GET, HEAD';
    if (status === 503) headers['retry-after'] = '1';
    res.writeHead(status, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
    this.report(req, status, 0, code);
  }

  private report(req: IncomingMessage, status: number, bytes: number, refusal?: MirrorErrorCode): void {
    if (this.onRequest === undefined) return;
    const path = requestTargetPath(req.url ?? '') ?? req.url ?? '';
    this.onRequest({ method: req.method ?? '', path, status, bytes, ...(refusal === undefined ? {} : { refusal }) });
  }
}

/** The gzip representation of a cached file, made once per version; undefined when it would not be smaller. */
function gzipped(file: CachedFile): CachedRepresentation | undefined {
  if (file.gzipped === undefined) {
    const bytes = gzipSync(file.bytes);
    if (bytes.length >= file.bytes.length) {
      file.gzipped = null;
    } else {
      const etag = gzipEntityTag(file.validators.etag);
      const retag = (headers: readonly string[]): string[] => headers.map((v, i) => (i % 2 === 1 && headers[i - 1] === 'etag' ? etag : v));
      const ok = retag(file.okHeaders).map((v, i, all) => (i % 2 === 1 && all[i - 1] === 'content-length' ? String(bytes.length) : v));
      file.gzipped = { bytes, validators: { ...file.validators, etag }, okHeaders: [...ok, 'content-encoding', 'gzip'], notModifiedHeaders: retag(file.notModifiedHeaders) };
    }
  }
  return file.gzipped ?? undefined;
}

async function realRootOf(root: string): Promise<string> {
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new MirrorError('ROOT_NOT_A_DIRECTORY', `${root} is not a directory`, { hint: 'serve the public/ folder of a repository made with `cairn repo init`' });
  return realpath(root);
}

/** Starts a static server; resolves once it listens. Throws MirrorError ROOT_NOT_A_DIRECTORY. */
export async function startMirror(options: MirrorOptions): Promise<RunningMirror> {
  const realRoot = await realRootOf(resolve(options.root));
  const handler = new MirrorRequestHandler(realRoot, new SmallFileCache(realRoot, { now: options.now }), options.onRequest);
  const server = createServer(
    {
      maxHeaderSize: REQUEST_LIMITS.maxHeaderBytes,
      headersTimeout: REQUEST_LIMITS.headersTimeoutMs,
      requestTimeout: REQUEST_LIMITS.requestTimeoutMs,
      keepAliveTimeout: REQUEST_LIMITS.keepAliveTimeoutMs,
    },
    (req, res) => handler.handle(req, res),
  );
  server.keepAliveTimeout = REQUEST_LIMITS.keepAliveTimeoutMs;
  server.timeout = REQUEST_LIMITS.idleSocketTimeoutMs;
  server.maxConnections = REQUEST_LIMITS.maxConnections;
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const info = server.address() as AddressInfo;
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolvePromise({
        url: `http://${host}:${info.port}`,
        port: info.port,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
