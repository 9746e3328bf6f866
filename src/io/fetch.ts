// io/fetch.ts: bounded retrieval of untrusted bytes over http(s) and file URLs (TUF spec 5
// "endless data" and "slow retrieval" attacks; tuf-js caps). Every read has a byte cap, an
// overall deadline, an idle timeout and a minimum average speed; a file: URL must name a regular
// file (a FIFO would block forever, a device would be read to the cap); TLS is never what makes the
// bytes trustworthy, the caller verifies them. With a `socks5h://` proxy every http(s) request
// goes through it and names are resolved at the proxy, never here (io/socks-proxy.ts,
// docs/onion.md); without one, an onion URL is refused before any connection is attempted, so
// a forgotten --proxy cannot leak the onion name to the local resolver. Requests accept gzip
// (Content-Encoding), which `cairn serve` uses for JSON metadata: the cap bounds both the bytes
// on the wire and the bytes they decode to, so a small compressed bomb stops at the cap.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CairnError, EXIT } from '../errors/index.js';
import { kindOf } from './capped-file.js';
import { describeSocksFailure, isOnionHost, readSocksProxyUrl, socksHttpAgent, socksHttpsAgent, type AgentConnectOptions, type SocksProxy } from './socks-proxy.js';

export class FetchError extends CairnError<
  | 'NOT_FOUND' | 'HTTP_STATUS' | 'TOO_LARGE' | 'NOT_REGULAR_FILE' | 'TIMEOUT' | 'SLOW_RETRIEVAL' | 'NETWORK' | 'BAD_URL'
  /** The proxy URL is not `socks5h://HOST:PORT`. */
  | 'BAD_PROXY'
  /** The proxy could not be used: unreachable, authentication refused, or a SOCKS failure reply. */
  | 'PROXY'
  /** An onion URL with no proxy configured: refused before any connection or name lookup. */
  | 'ONION_NEEDS_PROXY'
  /** A body in a content encoding other than gzip or none, or gzip that does not decode. */
  | 'BAD_ENCODING'
> {
  get exitCode(): number {
    return EXIT.fetch;
  }
}

export interface FetchLimits {
  /** Whole request, from connect to last byte. */
  timeoutMs: number;
  /** Longest wait for the next chunk of the body. */
  idleTimeoutMs: number;
  /** After `graceMs`, the average speed must stay above this (slow-retrieval defence). */
  minBytesPerSecond: number;
  graceMs: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 5 * 60_000,
  idleTimeoutMs: 15_000,
  minBytesPerSecond: 1024,
  graceMs: 10_000,
};

/** Connections are kept alive between requests (a refresh makes many small ones to one mirror). */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 16 };
const HTTP_AGENT = new HttpAgent(AGENT_OPTIONS);

interface HttpClient {
  request: typeof httpRequest | typeof httpsRequest;
  agent: HttpAgent | HttpsAgent;
}

/** node:https and TLS load on the first https URL only: a client of a plain-HTTP mirror starts without them. */
let httpsClient: Promise<HttpClient> | undefined;
function clientFor(url: URL): Promise<HttpClient> | HttpClient {
  if (url.protocol !== 'https:') return { request: httpRequest, agent: HTTP_AGENT };
  return (httpsClient ??= import('node:https').then((https) => ({ request: https.request, agent: new https.Agent(AGENT_OPTIONS) })));
}

/** How long a SOCKS handshake may outlive the request's deadline (so the deadline reports first). */
const SOCKS_DEADLINE_MARGIN_MS = 500;

/** What an onion URL without a proxy is told to use: Tor's default SOCKS port. */
const TOR_PROXY_HINT = 'fetch it through Tor: --proxy socks5h://127.0.0.1:9050 (see docs/onion.md)';

/** Reads a proxy URL (`socks5h://[USER:PASSWORD@]HOST:PORT`) strictly; FetchError('BAD_PROXY') names what was expected. */
export function parseProxyUrl(text: string): SocksProxy {
  const reading = readSocksProxyUrl(text);
  if (reading.ok) return reading.proxy;
  const shown = text.length > 80 ? `${text.slice(0, 80)}...` : text;
  return failProxy(`proxy ${JSON.stringify(shown.replace(/\/\/[^@/]*@/, '//USER:PASSWORD@'))}: ${reading.problem}`, reading.hint);
}

function failProxy(message: string, hint: string | undefined): never {
  throw new FetchError('BAD_PROXY', message, hint === undefined ? undefined : { hint });
}

export interface BoundedFetcherOptions {
  /** The User-Agent header (default `cairn/0.1`). */
  userAgent?: string;
  /**
   * `socks5h://[USER:PASSWORD@]HOST:PORT`: every http(s) request goes through this SOCKS5 proxy,
   * destination names resolved by the proxy (Tor: `socks5h://127.0.0.1:9050`). file: URLs are
   * read locally as always. `socks5://` is refused: it would resolve names here.
   */
  proxy?: string;
}
const MAX_REDIRECTS = 5;

/** A source of bytes. The TUF updater and the store take one of these, so tests can inject faults. */
export interface Fetcher {
  /** Streams the body of `url`, at most `maxBytes` bytes, else FetchError('TOO_LARGE'). */
  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array>;
}

/** Reads the whole body into memory (for metadata, which is small and capped). */
export async function fetchAll(fetcher: Fetcher, url: string, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of fetcher.stream(url, maxBytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** fetchAll, or undefined when the server has no such file (FetchError NOT_FOUND); every other failure throws. */
export async function fetchIfPresent(fetcher: Fetcher, url: string, maxBytes: number): Promise<Buffer | undefined> {
  try {
    return await fetchAll(fetcher, url, maxBytes);
  } catch (e) {
    if (e instanceof FetchError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
}

/** The default Fetcher: node:http(s) with kept-alive connections, the file system for file: URLs. */
export class BoundedFetcher implements Fetcher {
  private readonly userAgent: string;
  /** The parsed proxy, when requests go through one. */
  readonly proxy: SocksProxy | undefined;
  /** The agents through the proxy, each built on the first request of its scheme. */
  private proxyHttp: HttpClient | undefined;
  private proxyHttps: Promise<HttpClient> | undefined;

  /** Throws FetchError('BAD_PROXY') for a proxy URL that is not socks5h://HOST:PORT. */
  constructor(
    private readonly limits: FetchLimits = DEFAULT_FETCH_LIMITS,
    options: BoundedFetcherOptions = {},
  ) {
    this.userAgent = options.userAgent ?? 'cairn/0.1';
    this.proxy = options.proxy === undefined ? undefined : parseProxyUrl(options.proxy);
  }

  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FetchError('BAD_URL', `not a URL: ${url}`);
    }
    if (parsed.protocol === 'file:') return this.streamFile(parsed, maxBytes);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
      this.refuseOnionWithoutProxy(parsed, parsed);
      return this.streamHttp(parsed, maxBytes);
    }
    throw new FetchError('BAD_URL', `unsupported URL scheme ${parsed.protocol} in ${url}; expected http, https or file`);
  }

  private async *streamFile(url: URL, maxBytes: number): AsyncIterable<Uint8Array> {
    const path = fileURLToPath(url);
    let handle: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new FetchError('NOT_FOUND', `${url.href}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      // Checked on the open handle: a FIFO, device or directory is not a file to fetch (a FIFO
      // would block the first read, a device would be read to the cap).
      const info = await handle.stat();
      if (!info.isFile()) throw new FetchError('NOT_REGULAR_FILE', `${url.href}: expected a regular file, found ${kindOf(info)}`);
      if (info.size > maxBytes) throw tooLarge(url.href, maxBytes, info.size);
      let total = 0;
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) throw tooLarge(url.href, maxBytes);
        yield chunk as Buffer;
      }
    } finally {
      await handle.close();
    }
  }

  private async *streamHttp(url: URL, maxBytes: number): AsyncIterable<Uint8Array> {
    const { timeoutMs, idleTimeoutMs, minBytesPerSecond, graceMs } = this.limits;
    const started = Date.now();
    const deadline = started + timeoutMs;
    let current = url;
    let response: IncomingMessage | undefined;
    for (let redirects = 0; ; redirects++) {
      response = await this.request(current, deadline, idleTimeoutMs);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        response.destroy();
        if (redirects >= MAX_REDIRECTS) throw new FetchError('HTTP_STATUS', `${url.href}: more than ${MAX_REDIRECTS} redirects`);
        const next = new URL(location, current);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new FetchError('BAD_URL', `${url.href}: redirect to unsupported ${next.protocol}`);
        this.refuseOnionWithoutProxy(next, url);
        current = next;
        continue;
      }
      break;
    }
    const res = response;
    let decoder: Gunzip | undefined;
    try {
      const status = res.statusCode ?? 0;
      if (status === 404 || status === 403 || status === 410) throw new FetchError('NOT_FOUND', `${current.href}: HTTP ${status}`);
      if (status < 200 || status >= 300) throw new FetchError('HTTP_STATUS', `${current.href}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd());
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(current.href, maxBytes, declared);
      const encoding = String(res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity' && encoding !== 'gzip') throw new FetchError('BAD_ENCODING', `${current.href}: the body is in content encoding ${JSON.stringify(encoding.slice(0, 64))}, expected gzip or none`);
      // Bytes on the wire: capped, and what the slow-retrieval defence measures.
      let wire = 0;
      const checkWire = (length: number): FetchError | undefined => {
        wire += length;
        if (wire > maxBytes) return tooLarge(current.href, maxBytes);
        const elapsed = Date.now() - started;
        if (elapsed > graceMs && (wire * 1000) / elapsed < minBytesPerSecond) {
          return new FetchError('SLOW_RETRIEVAL', `${current.href}: ${wire} bytes in ${elapsed} ms is below ${minBytesPerSecond} B/s`);
        }
        return undefined;
      };
      let body: AsyncIterable<Buffer> = res;
      if (encoding === 'gzip') {
        decoder = createGunzip();
        const gunzip = decoder;
        res.on('data', (chunk: Buffer) => {
          const refusal = checkWire(chunk.length);
          if (refusal !== undefined) gunzip.destroy(refusal);
        });
        res.on('error', (e) => gunzip.destroy(e));
        res.pipe(gunzip);
        body = gunzip;
      }
      // Bytes decoded: capped.
      let total = 0;
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        if (encoding !== 'gzip') {
          const refusal = checkWire(buf.length);
          if (refusal !== undefined) throw refusal;
        }
        total += buf.length;
        if (total > maxBytes) throw tooLarge(current.href, maxBytes);
        yield buf;
      }
      if (!res.complete) throw new FetchError('NETWORK', `${current.href}: the connection closed before the body was complete`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code?.startsWith('Z_') === true) throw new FetchError('BAD_ENCODING', `${current.href}: the gzip body does not decode (${(e as NodeJS.ErrnoException).code})`);
      // A connection reset in the middle of the body surfaces as the stream's bare 'aborted' error.
      if (e instanceof FetchError) throw e;
      throw new FetchError('NETWORK', `${current.href}: the connection failed during the body (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    } finally {
      decoder?.destroy();
      // A body left unread (a refused status, a cap exceeded, a caller that stopped early) must
      // not keep its socket: one that arrived whole is drained, so the socket returns to the
      // agent's free pool (where Node unrefs it and a finished client can exit at once) instead
      // of staying busy until the server's keep-alive timeout; a partial one is not worth it.
      if (!res.readableEnded) {
        if (res.complete) res.resume();
        else res.destroy();
      }
    }
  }

  /** An onion name only Tor can reach: without a proxy it must not reach the local resolver either (RFC 7686 section 2). */
  private refuseOnionWithoutProxy(target: URL, requested: URL): void {
    if (this.proxy !== undefined || !isOnionHost(target.hostname)) return;
    const via = target === requested ? '' : ` (redirected from ${requested.href})`;
    throw new FetchError('ONION_NEEDS_PROXY', `${target.href}${via}: an onion address is reachable only through Tor, and no proxy is configured`, { hint: TOR_PROXY_HINT });
  }

  private clientFor(url: URL): Promise<HttpClient> | HttpClient {
    const proxy = this.proxy;
    if (proxy === undefined) return clientFor(url);
    if (url.protocol !== 'https:') return (this.proxyHttp ??= { request: httpRequest, agent: socksHttpAgent(proxy, AGENT_OPTIONS) });
    return (this.proxyHttps ??= Promise.all([import('node:https'), socksHttpsAgent(proxy, AGENT_OPTIONS)]).then(([https, agent]) => ({ request: https.request, agent })));
  }

  /**
   * One GET with a deadline and an idle timeout; resolves with the response head. A request on
   * a kept-alive socket that the server closed meanwhile is retried once on a new socket.
   */
  private async request(url: URL, deadline: number, idleTimeoutMs: number, retried = false): Promise<IncomingMessage> {
    const client = await this.clientFor(url);
    return new Promise((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(new FetchError('TIMEOUT', `${url.href}: no complete answer within the time limit`));
      const options: RequestOptions & Pick<AgentConnectOptions, 'socksHandshakeTimeoutMs'> = {
        method: 'GET',
        agent: client.agent,
        headers: { 'user-agent': this.userAgent, accept: '*/*', 'accept-encoding': 'gzip' },
        // Through a proxy, the SOCKS handshake gets what is left of the deadline, and a little
        // more: the deadline's own TIMEOUT is the error reported, then the attempt ends.
        ...(this.proxy === undefined ? {} : { socksHandshakeTimeoutMs: remaining + SOCKS_DEADLINE_MARGIN_MS }),
      };
      const req = client.request(url, options);
      let failure: FetchError | undefined;
      let response: IncomingMessage | undefined;
      // Once the head arrived, the body stream is what the caller reads: fail that, with our error.
      // Before, the request is rejected at once: a request still waiting for its connection (a
      // SOCKS handshake in progress) reports its destruction only when the connection arrives.
      const fail = (e: FetchError): void => {
        failure ??= e;
        if (response) return void response.destroy(e);
        req.destroy(e);
        reject(failure);
      };
      const via = this.proxy === undefined ? '' : ` through the proxy ${this.proxy.url}`;
      const timer = setTimeout(() => fail(new FetchError('TIMEOUT', `${url.href}${via}: no complete answer within ${Math.round(remaining)} ms`)), remaining);
      timer.unref();
      req.setTimeout(idleTimeoutMs, () => fail(new FetchError('SLOW_RETRIEVAL', `${url.href}: no data for ${idleTimeoutMs} ms`)));
      req.on('response', (res) => {
        response = res;
        res.on('close', () => clearTimeout(timer));
        res.on('error', () => clearTimeout(timer));
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (!retried && req.reusedSocket && e.code === 'ECONNRESET') {
          this.request(url, deadline, idleTimeoutMs, true).then(resolve, reject);
          return;
        }
        const proxyFailure = this.proxy === undefined ? undefined : describeSocksFailure(e);
        if (proxyFailure !== undefined) return reject(new FetchError('PROXY', `${url.href} through the proxy ${this.proxy!.url}: ${proxyFailure}`, { cause: e }));
        reject(new FetchError('NETWORK', `${url.href}${via}: ${e.code ?? e.message}`));
      });
      req.end();
    });
  }
}

function tooLarge(url: string, maxBytes: number, declared?: number): FetchError {
  const found = declared === undefined ? 'more' : `${declared} bytes`;
  return new FetchError('TOO_LARGE', `${url}: expected at most ${maxBytes} bytes, found ${found}`);
}

