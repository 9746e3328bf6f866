// io/fetch.ts: bounded retrieval of untrusted bytes over http(s) and file URLs (TUF spec 5
// "endless data" and "slow retrieval" attacks; tuf-js caps). Every read has a byte cap, an
// overall deadline, an idle timeout and a minimum average speed; TLS is never what makes the
// bytes trustworthy, the caller verifies them.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CairnError, EXIT } from '../errors/index.js';

export class FetchError extends CairnError<
  'NOT_FOUND' | 'HTTP_STATUS' | 'TOO_LARGE' | 'TIMEOUT' | 'SLOW_RETRIEVAL' | 'NETWORK' | 'BAD_URL'
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

/** The default Fetcher: Node's fetch for http(s), the file system for file: URLs. */
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
    try {
      const info = await stat(path);
      if (info.size > maxBytes) throw tooLarge(url.href, maxBytes, info.size);
    } catch (e) {
      if (e instanceof FetchError) throw e;
      throw new FetchError('NOT_FOUND', `${url.href}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let total = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) throw tooLarge(url.href, maxBytes);
      yield chunk as Buffer;
    }
  }

  private async *streamHttp(url: URL, maxBytes: number): AsyncIterable<Uint8Array> {
    const { timeoutMs, idleTimeoutMs, minBytesPerSecond, graceMs } = this.limits;
    const controller = new AbortController();
    const started = Date.now();
    let reason: FetchError | undefined;
    const abort = (err: FetchError): void => {
      reason ??= err;
      controller.abort(err);
    };
    const deadline = setTimeout(() => abort(new FetchError('TIMEOUT', `${url.href}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => abort(new FetchError('SLOW_RETRIEVAL', `${url.href}: no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    };
    try {
      armIdle();
      let response: Response;
      try {
        response = await fetch(url, { signal: controller.signal, headers: { 'user-agent': this.userAgent }, redirect: 'follow' });
      } catch (e) {
        throw reason ?? new FetchError('NETWORK', `${url.href}: ${describeNetworkError(e)}`);
      }
      if (response.status === 404 || response.status === 403 || response.status === 410) {
        await response.body?.cancel().catch(() => undefined);
        throw new FetchError('NOT_FOUND', `${url.href}: HTTP ${response.status}`);
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new FetchError('HTTP_STATUS', `${url.href}: HTTP ${response.status} ${response.statusText}`);
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooLarge(url.href, maxBytes, declared);
      }
      if (!response.body) return;
      const reader = response.body.getReader();
      let total = 0;
      try {
        for (;;) {
          let next: Awaited<ReturnType<typeof reader.read>>;
          try {
            next = await reader.read();
          } catch (e) {
            throw reason ?? new FetchError('NETWORK', `${url.href}: ${describeNetworkError(e)}`);
          }
          if (next.done) break;
          armIdle();
          total += next.value.byteLength;
          if (total > maxBytes) throw tooLarge(url.href, maxBytes);
          const elapsed = Date.now() - started;
          if (elapsed > graceMs && (total * 1000) / elapsed < minBytesPerSecond) {
            throw new FetchError('SLOW_RETRIEVAL', `${url.href}: ${total} bytes in ${elapsed} ms is below ${minBytesPerSecond} B/s`);
          }
          yield next.value;
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    } finally {
      clearTimeout(deadline);
      clearTimeout(idle);
      if (!controller.signal.aborted) controller.abort();
    }
  }
}

function tooLarge(url: string, maxBytes: number, declared?: number): FetchError {
  const found = declared === undefined ? 'more' : `${declared} bytes`;
  return new FetchError('TOO_LARGE', `${url}: expected at most ${maxBytes} bytes, found ${found}`);
}

function describeNetworkError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}
