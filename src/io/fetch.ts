// io/fetch.ts: bounded retrieval of untrusted bytes over http(s) and file URLs (TUF spec 5
// "endless data" and "slow retrieval" attacks; tuf-js caps). Every read has a byte cap, an
// overall deadline, an idle timeout and a minimum average speed; a file: URL must name a regular
// file (a FIFO would block forever, a device would be read to the cap); TLS is never what makes the
// bytes trustworthy, the caller verifies them.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CairnError, EXIT } from '../errors/index.js';
import { kindOf } from './capped-file.js';

export class FetchError extends CairnError<
  'NOT_FOUND' | 'HTTP_STATUS' | 'TOO_LARGE' | 'NOT_REGULAR_FILE' | 'TIMEOUT' | 'SLOW_RETRIEVAL' | 'NETWORK' | 'BAD_URL'
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
const HTTP_AGENT = new HttpAgent({ keepAlive: true, maxSockets: 16 });

interface HttpClient {
  request: typeof httpRequest | typeof httpsRequest;
  agent: HttpAgent | HttpsAgent;
}

/** node:https and TLS load on the first https URL only: a client of a plain-HTTP mirror starts without them. */
let httpsClient: Promise<HttpClient> | undefined;
function clientFor(url: URL): Promise<HttpClient> | HttpClient {
  if (url.protocol !== 'https:') return { request: httpRequest, agent: HTTP_AGENT };
  return (httpsClient ??= import('node:https').then((https) => ({ request: https.request, agent: new https.Agent({ keepAlive: true, maxSockets: 16 }) })));
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

/** The default Fetcher: node:http(s) with kept-alive connections, the file system for file: URLs. */
export class BoundedFetcher implements Fetcher {
  constructor(
    private readonly limits: FetchLimits = DEFAULT_FETCH_LIMITS,
    private readonly userAgent = 'cairn/0.1',
  ) {}

  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new FetchError('BAD_URL', `not a URL: ${url}`);
    }
    if (parsed.protocol === 'file:') return this.streamFile(parsed, maxBytes);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return this.streamHttp(parsed, maxBytes);
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
        current = next;
        continue;
      }
      break;
    }
    const res = response;
    try {
      const status = res.statusCode ?? 0;
      if (status === 404 || status === 403 || status === 410) throw new FetchError('NOT_FOUND', `${current.href}: HTTP ${status}`);
      if (status < 200 || status >= 300) throw new FetchError('HTTP_STATUS', `${current.href}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd());
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(current.href, maxBytes, declared);
      let total = 0;
      for await (const chunk of res) {
        const buf = chunk as Buffer;
        total += buf.length;
        if (total > maxBytes) throw tooLarge(current.href, maxBytes);
        const elapsed = Date.now() - started;
        if (elapsed > graceMs && (total * 1000) / elapsed < minBytesPerSecond) {
          throw new FetchError('SLOW_RETRIEVAL', `${current.href}: ${total} bytes in ${elapsed} ms is below ${minBytesPerSecond} B/s`);
        }
        yield buf;
      }
      if (!res.complete) throw new FetchError('NETWORK', `${current.href}: the connection closed before the body was complete`);
    } catch (e) {
      // A connection reset in the middle of the body surfaces as the stream's bare 'aborted' error.
      if (e instanceof FetchError) throw e;
      throw new FetchError('NETWORK', `${current.href}: the connection failed during the body (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    } finally {
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

  /**
   * One GET with a deadline and an idle timeout; resolves with the response head. A request on
   * a kept-alive socket that the server closed meanwhile is retried once on a new socket.
   */
  private async request(url: URL, deadline: number, idleTimeoutMs: number, retried = false): Promise<IncomingMessage> {
    const client = await clientFor(url);
    return new Promise((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(new FetchError('TIMEOUT', `${url.href}: no complete answer within the time limit`));
      const req = client.request(url, {
        method: 'GET',
        agent: client.agent,
        headers: { 'user-agent': this.userAgent, accept: '*/*' },
      });
      let failure: FetchError | undefined;
      let response: IncomingMessage | undefined;
      // Once the head arrived, the body stream is what the caller reads: fail that, with our error.
      const fail = (e: FetchError): void => {
        failure ??= e;
        if (response) response.destroy(e);
        else req.destroy(e);
      };
      const timer = setTimeout(() => fail(new FetchError('TIMEOUT', `${url.href}: no complete answer within ${Math.round(remaining)} ms`)), remaining);
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
        reject(new FetchError('NETWORK', `${url.href}: ${e.code ?? e.message}`));
      });
      req.end();
    });
  }
}

function tooLarge(url: string, maxBytes: number, declared?: number): FetchError {
  const found = declared === undefined ? 'more' : `${declared} bytes`;
  return new FetchError('TOO_LARGE', `${url}: expected at most ${maxBytes} bytes, found ${found}`);
}

