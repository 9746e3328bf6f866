// test/io/socks-proxy.test.ts: fetching through a SOCKS5 proxy with remote name resolution
// (io/socks-proxy.ts, io/fetch.ts; docs/onion.md). The proxy is Debian's real microsocks on
// 127.0.0.1 with an /etc/hosts of its own (test/fixtures/socks-server.ts), so the test onion name
// resolves at the proxy and nowhere else, as an onion name resolves only inside Tor. Mirrors are
// real servers on 127.0.0.1 (for the witnessed client, the mirror `cairn serve` runs). Client runs
// that must not resolve names happen in a separate node process whose node:dns records every name
// asked for. Attacks and faults: a socks5:// (local resolution) proxy, an onion URL or a redirect
// to one without a proxy (refused before any lookup or connection), the proxy down or silent, a
// server that is no SOCKS5 proxy, a SOCKS failure reply, refused credentials, an endless or
// stalled body through the proxy, a certificate for another name; a witnessed client refreshes
// and downloads over the proxy without a lookup, and a refresh with the proxy down leaves its
// trusted files as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as dns } from 'node:dns';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BoundedFetcher, FetchError, fetchAll, parseProxyUrl } from '../../src/io/index.js';
import { Updater } from '../../src/tuf/index.js';
import { initLogAnchor } from '../../src/client/index.js';
import { startMirror as startMirrorServer } from '../../src/mirror/index.js';
import { freePort } from '../fixtures/free-ports.js';
import { NEEDS_SOCKS_SERVER, layerUrl, runRecordingDns, selfSignedCertificate, startSocksServer, type RunningSocksServer } from '../fixtures/socks-server.js';
import { needsTool } from '../fixtures/system-tools.js';
import { WitnessedRepository } from '../fixtures/witnessed-repository.js';
import { treeContents } from '../client/helpers.js';

/** A name only the test proxy can resolve (56 base32 characters, like a v3 onion address). */
const ONION = 'cairntestmirror7cairntestmirror7cairntestmirror7cairntst.onion';
/** Another name the proxy maps to the same mirror, which the mirror's certificate does not name. */
const OTHER_ONION = 'cairnothermirror7cairnothermirror7cairnothermirror7cairn.onion';
const UNKNOWN_ONION = 'cairnunknownmirror7cairnunknownmirror7cairnunknownmirro.onion';
const fast = { timeoutMs: 10_000, idleTimeoutMs: 1000, minBytesPerSecond: 1000, graceMs: 2000 };
const T = { timeout: 60_000 };
const WITH_PROXY = { ...T, ...NEEDS_SOCKS_SERVER };

function isFetchError(code: string, ...mentions: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof FetchError, `expected FetchError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" names ${m}`);
    return true;
  };
}

/** A local mirror on 127.0.0.1 that records each request's Host header and counts connections. */
interface Mirror {
  port: number;
  hosts: string[];
  connections: number;
  close(): Promise<void>;
}

async function startMirror(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Mirror> {
  const sockets = new Set<Socket>();
  const mirror: Mirror = { port: 0, hosts: [], connections: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    mirror.hosts.push(req.headers.host ?? '');
    handler(req, res);
  });
  server.on('connection', (s) => {
    mirror.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror.port = (server.address() as AddressInfo).port;
  mirror.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return mirror;
}

const FILE_BYTES = Buffer.from('bytes of the onion mirror\n');
const serveFile = (req: IncomingMessage, res: ServerResponse): void => {
  if (req.url === '/file') res.writeHead(200, { 'content-length': FILE_BYTES.length }).end(FILE_BYTES);
  else res.writeHead(404).end();
};

async function withProxyAndMirror(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  fn: (proxy: RunningSocksServer, mirror: Mirror) => Promise<void>,
  credentials?: { username: string; password: string },
): Promise<void> {
  const mirror = await startMirror(handler);
  const proxy = await startSocksServer({ hosts: { [ONION]: '127.0.0.1' }, ...(credentials ? { credentials } : {}) }).catch(async (e: unknown) => {
    await mirror.close();
    throw e;
  });
  try {
    await fn(proxy, mirror);
  } finally {
    await proxy.close();
    await mirror.close();
  }
}

// --- the proxy URL ---

test('reads socks5h://HOST:PORT strictly and never echoes credentials', () => {
  assert.deepEqual(parseProxyUrl('socks5h://127.0.0.1:9050'), { url: 'socks5h://127.0.0.1:9050', host: '127.0.0.1', port: 9050 });
  assert.deepEqual(parseProxyUrl('socks5h://[::1]:9050/'), { url: 'socks5h://[::1]:9050', host: '::1', port: 9050 });
  assert.deepEqual(parseProxyUrl('SOCKS5H://Tor.Example:9150'), { url: 'socks5h://tor.example:9150', host: 'tor.example', port: 9150 });
  assert.deepEqual(parseProxyUrl('socks5h://isolate%3A1:p%40ss@127.0.0.1:9050'), { url: 'socks5h://127.0.0.1:9050', host: '127.0.0.1', port: 9050, username: 'isolate:1', password: 'p@ss' });
  const bad: Array<[string, string]> = [
    ['127.0.0.1:9050', 'not a socks5h:// URL'],
    ['http://127.0.0.1:8080', 'not a socks5h:// URL'],
    ['socks5h://127.0.0.1', 'socks5h://HOST:PORT'],
    ['socks5h://127.0.0.1:0', 'out of range'],
    ['socks5h://127.0.0.1:65536', 'out of range'],
    ['socks5h://127.0.0.1:9050/path', 'no path'],
    ['socks5h://127.0.0.1:9050?x=1', 'no path, query'],
    ['socks5h://:9050', 'socks5h://HOST:PORT'],
    ['socks5h://[not-v6]:9050', 'socks5h://HOST:PORT'],
    ['socks5h://[1.2.3.4]:9050', 'not an IPv6 address'],
    [`socks5h://${ONION}:9050`, 'cannot be an onion address'],
    ['socks5h://:secret@127.0.0.1:9050', 'username is 0 bytes'],
    [`socks5h://${'u'.repeat(256)}:secret@127.0.0.1:9050`, 'username is 256 bytes'],
    [`socks5h://${'x'.repeat(2000)}:9050`, 'characters long'],
  ];
  for (const [url, mention] of bad) assert.throws(() => parseProxyUrl(url), isFetchError('BAD_PROXY', mention, 'expected socks5h://'));
  assert.throws(() => parseProxyUrl('socks5h://user:hunter2@127.0.0.1:9050/x'), (e: unknown) => e instanceof FetchError && !e.message.includes('hunter2'));
  assert.throws(() => new BoundedFetcher(fast, { proxy: 'socks5h://127.0.0.1' }), isFetchError('BAD_PROXY'));
});

test('refuses a socks5:// proxy, which would resolve names on this machine, with the socks5h:// form as hint', () => {
  for (const scheme of ['socks5', 'socks4a', 'socks']) {
    assert.throws(() => new BoundedFetcher(fast, { proxy: `${scheme}://user:hunter2@127.0.0.1:9050` }), (e: unknown) => {
      isFetchError('BAD_PROXY', `${scheme}:// is not accepted`, 'resolves destination names itself')(e);
      const { hint, message } = e as FetchError;
      assert.equal(hint, 'write the same proxy as socks5h://USER:PASSWORD@127.0.0.1:9050');
      assert.ok(!message.includes('hunter2'));
      return true;
    });
  }
});

// --- no proxy: onion names never reach the resolver ---

test('refuses an onion URL without a proxy before any lookup or connection, and a redirect to one; the recorder sees the lookups it should', T, async () => {
  const mirror = await startMirror((req, res) => {
    if (req.url === '/to-onion') res.writeHead(302, { location: `http://${ONION}/file` }).end();
    else serveFile(req, res);
  });
  try {
    const io = layerUrl('io');
    const run = await runRecordingDns(`
      import { BoundedFetcher, fetchAll } from ${JSON.stringify(io)};
      const fetcher = new BoundedFetcher(${JSON.stringify(fast)});
      const out = {};
      for (const [name, url] of [['onion', 'http://${ONION}/file'], ['onionTls', 'https://${ONION.toUpperCase()}./file'], ['redirect', 'http://127.0.0.1:${mirror.port}/to-onion']]) {
        try { await fetchAll(fetcher, url, 1000); out[name] = 'fetched'; } catch (e) { out[name] = { code: e.code, message: e.message, hint: e.hint }; }
      }
      // The control: a name that is not an onion is resolved here, so the recorder sees it.
      out.control = (await fetchAll(fetcher, 'http://localhost:${mirror.port}/file', 1000)).toString();
      console.log(JSON.stringify(out));
    `);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, { code: string; message: string; hint: string } | string>;
    for (const which of ['onion', 'onionTls', 'redirect']) {
      const refusal = out[which] as { code: string; message: string; hint: string };
      assert.equal(refusal.code, 'ONION_NEEDS_PROXY', JSON.stringify(refusal));
      assert.match(refusal.hint, /--proxy socks5h:\/\/127\.0\.0\.1:9050/);
    }
    assert.match((out.redirect as { message: string }).message, /redirected from http:\/\/127\.0\.0\.1:\d+\/to-onion/);
    assert.equal(out.control, FILE_BYTES.toString());
    assert.deepEqual(run.lookups.map((l) => l.host), ['localhost'], 'the only name resolved is the control, never the onion name');
    assert.deepEqual(mirror.hosts.map((h) => h.split(':')[0]), ['127.0.0.1', 'localhost'], 'the mirror saw the redirect and the control, nothing for the onion name');
  } finally {
    await mirror.close();
  }
});

// --- through the real proxy ---

test('fetches http://NAME.onion through the proxy, which alone resolves the name; the client process resolves nothing', WITH_PROXY, async () => {
  await assert.rejects(dns.lookup(ONION), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND', 'the test onion name does not resolve on this machine');
  await withProxyAndMirror(serveFile, async (proxy, mirror) => {
    const url = `http://${ONION}:${mirror.port}/file`;
    const direct = await fetchAll(new BoundedFetcher(fast, { proxy: proxy.url }), url, 1000);
    assert.ok(direct.equals(FILE_BYTES));

    const run = await runRecordingDns(`
      import { BoundedFetcher, fetchAll } from ${JSON.stringify(layerUrl('io'))};
      const fetcher = new BoundedFetcher(${JSON.stringify(fast)}, { proxy: ${JSON.stringify(proxy.url)} });
      const first = await fetchAll(fetcher, ${JSON.stringify(url)}, 1000);
      const second = await fetchAll(fetcher, ${JSON.stringify(url)}, 1000);
      console.log(JSON.stringify([first.toString(), second.toString()]));
    `);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [FILE_BYTES.toString(), FILE_BYTES.toString()]);
    assert.deepEqual(run.lookups, [], 'no name was resolved by the client process');
    assert.deepEqual(mirror.hosts, Array(3).fill(`${ONION}:${mirror.port}`), 'every request arrived for the onion name');
    assert.equal(mirror.connections, 2, 'the second request of the process reused its kept-alive tunnel');
  });
});

test('https through the proxy: TLS runs end to end inside the tunnel, with the onion name as server name, and the certificate is checked', { ...WITH_PROXY, ...(NEEDS_SOCKS_SERVER.skip === undefined ? needsTool('openssl', 'sudo apt-get install openssl') : {}) }, async () => {
  const { key, cert } = await selfSignedCertificate([ONION]);
  const serverNames: string[] = [];
  const server = createTlsServer({ key, cert }, serveFile);
  server.on('secureConnection', (socket: TLSSocket & { servername?: string | false }) => serverNames.push(String(socket.servername)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'cairn-socks-tls-'));
  const proxy = await startSocksServer({ hosts: { [ONION]: '127.0.0.1', [OTHER_ONION]: '127.0.0.1' } });
  try {
    await writeFile(join(dir, 'ca.pem'), cert);
    const run = await runRecordingDns(`
      import { BoundedFetcher, fetchAll } from ${JSON.stringify(layerUrl('io'))};
      const fetcher = new BoundedFetcher(${JSON.stringify(fast)}, { proxy: ${JSON.stringify(proxy.url)} });
      const out = { bytes: (await fetchAll(fetcher, 'https://${ONION}:${port}/file', 1000)).toString() };
      try { await fetchAll(fetcher, 'https://${OTHER_ONION}:${port}/file', 1000); } catch (e) { out.otherName = { code: e.code, message: e.message }; }
      console.log(JSON.stringify(out));
    `, { env: { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') } });
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { bytes: string; otherName: { code: string; message: string } };
    assert.equal(out.bytes, FILE_BYTES.toString());
    assert.equal(out.otherName.code, 'NETWORK', 'a certificate that does not name the host is refused');
    assert.match(out.otherName.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.deepEqual(run.lookups, [], 'no name was resolved by the client process');
    assert.deepEqual(serverNames, [ONION], 'the TLS server name is the onion name (the refused handshake never completed)');
    // This process does not trust the certificate: the tunnel does not weaken TLS verification.
    await assert.rejects(fetchAll(new BoundedFetcher(fast, { proxy: proxy.url }), `https://${ONION}:${port}/file`, 1000), isFetchError('NETWORK', 'SELF_SIGNED'));
  } finally {
    await proxy.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

test('the proxy down: a typed PROXY error naming the proxy', T, async () => {
  const port = await freePort();
  const fetcher = new BoundedFetcher(fast, { proxy: `socks5h://127.0.0.1:${port}` });
  await assert.rejects(fetchAll(fetcher, `http://${ONION}/file`, 1000), isFetchError('PROXY', `socks5h://127.0.0.1:${port}`, 'ECONNREFUSED'));
});

test('a proxy that accepts and never answers is cut off by the deadline; a server that does not speak SOCKS5 is a typed PROXY error', T, async () => {
  const sockets = new Set<Socket>();
  const silent = createTcpServer((s) => sockets.add(s));
  const notSocks = createTcpServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await Promise.all([silent, notSocks].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const [silentPort, notSocksPort] = [silent, notSocks].map((server) => (server.address() as AddressInfo).port);
  try {
    const impatient = { ...fast, timeoutMs: 1000 };
    await assert.rejects(fetchAll(new BoundedFetcher(impatient, { proxy: `socks5h://127.0.0.1:${silentPort}` }), `http://${ONION}/file`, 1000),
      isFetchError('TIMEOUT', `through the proxy socks5h://127.0.0.1:${silentPort}`));
    await assert.rejects(fetchAll(new BoundedFetcher(fast, { proxy: `socks5h://127.0.0.1:${notSocksPort}` }), `http://${ONION}/file`, 1000),
      isFetchError('PROXY', `socks5h://127.0.0.1:${notSocksPort}`, 'does not speak SOCKS5'));
  } finally {
    for (const s of sockets) s.destroy();
    // Not awaited: a net.Server reports 'close' only once it counted every connection closed.
    for (const server of [silent, notSocks]) server.close();
  }
});

test('a SOCKS failure reply (the proxy cannot resolve or reach the destination) is a typed PROXY error naming the proxy and the reply', WITH_PROXY, async () => {
  await withProxyAndMirror(serveFile, async (proxy) => {
    const fetcher = new BoundedFetcher(fast, { proxy: proxy.url });
    await assert.rejects(fetchAll(fetcher, `http://${UNKNOWN_ONION}/file`, 1000), isFetchError('PROXY', proxy.url, 'the proxy answered reply'));
    const closed = await freePort();
    await assert.rejects(fetchAll(fetcher, `http://${ONION}:${closed}/file`, 1000), isFetchError('PROXY', proxy.url, 'reply 5, connection refused'));
  });
});

test('a proxy that demands credentials: the right ones pass, wrong or missing ones are a typed PROXY error', WITH_PROXY, async () => {
  const credentials = { username: 'cairn', password: 'onion-pass' };
  await withProxyAndMirror(serveFile, async (proxy, mirror) => {
    const url = `http://${ONION}:${mirror.port}/file`;
    assert.ok((await fetchAll(new BoundedFetcher(fast, { proxy: proxy.url }), url, 1000)).equals(FILE_BYTES));
    const wrong = `socks5h://cairn:wrong@127.0.0.1:${proxy.port}`;
    await assert.rejects(fetchAll(new BoundedFetcher(fast, { proxy: wrong }), url, 1000), (e: unknown) => {
      isFetchError('PROXY', `socks5h://127.0.0.1:${proxy.port}`, 'refused the username and password')(e);
      assert.ok(!(e as Error).message.includes('wrong'), 'the password is not echoed');
      return true;
    });
    await assert.rejects(fetchAll(new BoundedFetcher(fast, { proxy: `socks5h://127.0.0.1:${proxy.port}` }), url, 1000), isFetchError('PROXY', 'none of the offered authentication methods'));
    assert.equal(mirror.hosts.length, 1, 'only the authenticated request reached the mirror');
  }, credentials);
});

test('through the proxy the byte cap and the idle timeout still hold: an endless body stops at the cap, a stalled one is cut off', WITH_PROXY, async () => {
  await withProxyAndMirror((req, res) => {
    if (req.url === '/declared') return void res.writeHead(200, { 'content-length': 1_000_000 }).end(Buffer.alloc(1_000_000));
    if (req.url === '/stall') return void res.writeHead(200).write('x');
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 1);
    const pump = (): void => {
      while (res.write(chunk));
      res.once('drain', pump);
    };
    pump();
  }, async (proxy, mirror) => {
    const fetcher = new BoundedFetcher(fast, { proxy: proxy.url });
    const base = `http://${ONION}:${mirror.port}`;
    await assert.rejects(fetchAll(fetcher, `${base}/endless`, 100_000), isFetchError('TOO_LARGE', 'expected at most 100000 bytes'));
    await assert.rejects(fetchAll(fetcher, `${base}/declared`, 1000), isFetchError('TOO_LARGE', 'found 1000000 bytes'));
    await assert.rejects(fetchAll(fetcher, `${base}/stall`, 1000), isFetchError('SLOW_RETRIEVAL', 'no data for 1000 ms'));
  });
});

// --- the witnessed client over the proxy ---

/**
 * A witnessed repository (TUF and its skipchain log) on disk, served by the mirror `cairn serve`
 * runs (mirror/) on 127.0.0.1; `publish()` writes the repository's current files.
 */
async function witnessedMirror(dir: string): Promise<{ repo: WitnessedRepository; mirror: Mirror; publish(): Promise<void> }> {
  const repo = await WitnessedRepository.create();
  const root = join(dir, 'public');
  const publish = async (): Promise<void> => {
    for (const [path, bytes] of repo.sim.files) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), bytes);
    }
  };
  await publish();
  const running = await startMirrorServer({ root, host: '127.0.0.1', port: 0 });
  const mirror: Mirror = { port: running.port, hosts: [], connections: 0, close: () => running.close() };
  running.server.on('request', (req: IncomingMessage) => mirror.hosts.push(req.headers.host ?? ''));
  running.server.on('connection', () => mirror.connections++);
  return { repo, mirror, publish };
}

function witnessedClientCode(dir: string, base: string, proxy: string): string {
  return `
    import { WitnessedUpdater } from ${JSON.stringify(layerUrl('client'))};
    import { readFile } from 'node:fs/promises';
    const client = new WitnessedUpdater({
      metadataDir: ${JSON.stringify(join(dir, 'metadata'))}, targetDir: ${JSON.stringify(join(dir, 'targets'))},
      metadataBaseUrl: ${JSON.stringify(`${base}/metadata/`)}, targetBaseUrl: ${JSON.stringify(`${base}/targets/`)},
      proxy: ${JSON.stringify(proxy)}, config: { fetchLimits: ${JSON.stringify(fast)} },
    });
    try {
      const report = await client.refresh();
      const info = await client.getTargetInfo('app/tool.txt');
      const path = await client.downloadTarget(info);
      console.log(JSON.stringify({ head: report.log.head.index, caughtUp: report.log.blocksCaughtUp, bytes: await readFile(path, 'utf8') }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.constructor.name, code: e.code, message: e.message }));
    }
  `;
}

test('a witnessed client refreshes (log catch-up, TUF) and downloads a target from an onion mirror through the proxy, resolving no name', WITH_PROXY, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-socks-client-'));
  const { repo, mirror, publish } = await witnessedMirror(dir);
  const proxy = await startSocksServer({ hosts: { [ONION]: '127.0.0.1' } });
  try {
    await Updater.initTrustedRoot(join(dir, 'metadata'), repo.sim.rootHistory.get(1)!);
    await initLogAnchor(join(dir, 'metadata'), { hash: repo.genesisHash });
    repo.sim.addTarget('app/tool.txt', 'witnessed bytes over tor\n');
    repo.sim.release('targets');
    await repo.witness();
    repo.sim.release('targets');
    await repo.witness();
    await publish();

    const run = await runRecordingDns(witnessedClientCode(dir, `http://${ONION}:${mirror.port}`, proxy.url));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { head: 2, caughtUp: 2, bytes: 'witnessed bytes over tor\n' }, run.stdout);
    assert.deepEqual(run.lookups, [], 'no name was resolved by the client process');
    assert.ok(mirror.hosts.length > 5);
    assert.deepEqual(new Set(mirror.hosts), new Set([`${ONION}:${mirror.port}`]), 'every request came through the proxy for the onion name');
  } finally {
    await proxy.close();
    await mirror.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a witnessed refresh with the proxy down fails with PROXY and leaves every trusted file as it was', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-socks-client-'));
  const { repo, mirror, publish } = await witnessedMirror(dir);
  try {
    await Updater.initTrustedRoot(join(dir, 'metadata'), repo.sim.rootHistory.get(1)!);
    await initLogAnchor(join(dir, 'metadata'), { hash: repo.genesisHash });
    repo.sim.addTarget('app/tool.txt', 'witnessed bytes over tor\n');
    repo.sim.release('targets');
    await repo.witness();
    await publish();
    const before = await treeContents(join(dir, 'metadata'));
    const port = await freePort();
    const run = await runRecordingDns(witnessedClientCode(dir, `http://${ONION}:${mirror.port}`, `socks5h://127.0.0.1:${port}`));
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { error: string; code: string; message: string };
    assert.equal(out.error, 'FetchError', run.stdout);
    assert.equal(out.code, 'PROXY', run.stdout);
    assert.ok(out.message.includes(`socks5h://127.0.0.1:${port}`), out.message);
    assert.deepEqual(run.lookups, []);
    assert.deepEqual(await treeContents(join(dir, 'metadata')), before, 'nothing was written');
    assert.equal(mirror.hosts.length, 0);
  } finally {
    await mirror.close();
    await rm(dir, { recursive: true, force: true });
  }
});
