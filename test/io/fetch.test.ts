// Tests for io/fetch.ts against real HTTP servers on loopback: endless data stops at the cap,
// slow retrieval and stalls are cut off, and errors say what was expected and found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { BoundedFetcher, FetchError, fetchAll } from '../../src/io/index.js';

async function withServer(handler: (req: IncomingMessage, res: ServerResponse) => void, fn: (url: string) => Promise<void>): Promise<void> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const fast = { timeoutMs: 5000, idleTimeoutMs: 500, minBytesPerSecond: 1000, graceMs: 300 };

function isFetchError(code: string) {
  return (e: unknown): boolean => e instanceof FetchError && e.code === code;
}

test('stops an endless body at the byte cap', { timeout: 10_000 }, () =>
  withServer(
    (_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      pump();
      res.on('close', () => res.removeAllListeners('drain'));
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x', 100_000), isFetchError('TOO_LARGE'));
    },
  ));

test('refuses a declared Content-Length over the cap before reading the body', { timeout: 10_000 }, () =>
  withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-length': '5000000' });
      res.end(Buffer.alloc(10));
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x', 1000), isFetchError('TOO_LARGE'));
    },
  ));

test('cuts off a slow-drip server (slow retrieval attack)', { timeout: 10_000 }, () => {
  const timers: NodeJS.Timeout[] = [];
  return withServer(
    (_req, res) => {
      res.writeHead(200);
      timers.push(setInterval(() => res.write('x'), 50));
    },
    async (url) => {
      try {
        await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x', 1_000_000), isFetchError('SLOW_RETRIEVAL'));
      } finally {
        timers.forEach(clearInterval);
      }
    },
  );
});

test('cuts off a server that stalls after the headers', { timeout: 10_000 }, () =>
  withServer(
    (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x', 1_000_000), isFetchError('SLOW_RETRIEVAL'));
    },
  ));

test('maps 404 to NOT_FOUND and other failures to HTTP_STATUS and NETWORK', { timeout: 10_000 }, async () => {
  await withServer(
    (req, res) => {
      res.writeHead(req.url === '/missing' ? 404 : 500);
      res.end();
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/missing', 10), isFetchError('NOT_FOUND'));
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/err', 10), isFetchError('HTTP_STATUS'));
    },
  );
  // A port nobody listens on (the server above is closed now).
  await assert.rejects(fetchAll(new BoundedFetcher(fast), 'http://127.0.0.1:1/x', 10), isFetchError('NETWORK'));
  assert.throws(() => new BoundedFetcher(fast).stream('ftp://127.0.0.1/x', 10), isFetchError('BAD_URL'));
});

test('reads file: URLs under the same cap, regular files only', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-fetch-'));
  try {
    await writeFile(join(dir, 'f'), Buffer.alloc(2000, 7));
    const url = pathToFileURL(join(dir, 'f')).href;
    assert.equal((await fetchAll(new BoundedFetcher(fast), url, 2000)).length, 2000);
    await assert.rejects(fetchAll(new BoundedFetcher(fast), url, 1999), isFetchError('TOO_LARGE'));
    await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '.missing', 10), isFetchError('NOT_FOUND'));
    // A FIFO would block the reader forever, a device be read to the cap: neither is fetched.
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await assert.rejects(fetchAll(new BoundedFetcher(fast), pathToFileURL(join(dir, 'fifo')).href, 10), isFetchError('NOT_REGULAR_FILE'));
    await assert.rejects(fetchAll(new BoundedFetcher(fast), 'file:///dev/zero', 10), isFetchError('NOT_REGULAR_FILE'));
    await assert.rejects(fetchAll(new BoundedFetcher(fast), pathToFileURL(dir).href, 10), isFetchError('NOT_REGULAR_FILE'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('asks for gzip and decodes a gzip body to the same bytes', { timeout: 10_000 }, async () => {
  const body = Buffer.from(JSON.stringify({ hashes: Array.from({ length: 500 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')) }));
  let asked: string | undefined;
  await withServer(
    (req, res) => {
      asked = req.headers['accept-encoding'];
      const compressed = gzipSync(body);
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': compressed.length });
      res.end(compressed);
    },
    async (url) => {
      assert.deepEqual(await fetchAll(new BoundedFetcher(fast), url + '/snapshot.json', body.length), body);
      assert.equal(asked, 'gzip');
    },
  );
});

test('a gzip bomb stops at the cap on the decoded bytes (TOO_LARGE), however small it is on the wire', { timeout: 10_000 }, async () => {
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in about 64 KiB
  let sent = 0;
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      sent = bomb.length;
      res.end(bomb);
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x.json', 1_000_000), isFetchError('TOO_LARGE'));
      assert.ok(sent < 1_000_000, 'small on the wire');
    },
  );
});

test('the cap bounds the bytes on the wire too: an endless gzip stream that decodes to little is cut off (TOO_LARGE)', { timeout: 10_000 }, async () => {
  // Gzip members that each decode to nothing, without end: the decoded count never grows.
  const empty = gzipSync(Buffer.alloc(0));
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      const pump = (): void => {
        while (res.write(Buffer.concat(Array.from({ length: 1000 }, () => empty))));
        res.once('drain', pump);
      };
      pump();
      res.on('close', () => res.removeAllListeners('drain'));
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/x.json', 100_000), isFetchError('TOO_LARGE'));
    },
  );
});

test('refuses another content encoding and gzip that does not decode (BAD_ENCODING)', { timeout: 10_000 }, async () => {
  await withServer(
    (req, res) => {
      if (req.url === '/br') {
        res.writeHead(200, { 'content-encoding': 'br' });
        res.end(Buffer.from('not brotli'));
      } else {
        res.writeHead(200, { 'content-encoding': 'gzip' });
        res.end(Buffer.from('this is not gzip at all, whatever the header says'));
      }
    },
    async (url) => {
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/br', 1000), (e: unknown) => isFetchError('BAD_ENCODING')(e) && /"br"/.test((e as Error).message));
      await assert.rejects(fetchAll(new BoundedFetcher(fast), url + '/corrupt', 1000), isFetchError('BAD_ENCODING'));
    },
  );
});
