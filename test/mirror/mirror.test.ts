// Tests for mirror/mirror.ts: a mirror must serve exactly the files under its root and
// refuse everything else, with bounded requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { startMirror, resolveRequestPath, type RunningMirror } from '../../src/mirror/index.js';

let base: string;
let root: string;
let server: RunningMirror;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'cairn-serve-'));
  root = join(base, 'public');
  await mkdir(join(root, 'metadata'), { recursive: true });
  await writeFile(join(root, 'metadata', 'timestamp.json'), '{"signed":{}}');
  await writeFile(join(root, 'metadata', '3.snapshot.json'), '{}');
  await mkdir(join(root, 'log', 'tile', '0', '000.p'), { recursive: true });
  await writeFile(join(root, 'log', 'tile', '0', '000.p', '2'), Buffer.alloc(64));
  await writeFile(join(root, 'log', 'checkpoint'), 'cairn-log/x\n2\nAAAA\n');
  await writeFile(join(base, 'secret.key'), 'PRIVATE');
  await symlink(join(base, 'secret.key'), join(root, 'metadata', 'escape.json'));
  server = await startMirror({ root });
});

after(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

/** Raw HTTP, so that the path reaches the server exactly as written (fetch would normalize it). */
function rawGet(path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; body: string; raw: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), raw: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test('serves a file with its length, JSON content type and revalidation for mutable names', { timeout: 10_000 }, async () => {
  const r = await rawGet('/metadata/timestamp.json');
  assert.equal(r.status, 200);
  assert.equal(r.body, '{"signed":{}}');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['content-length'], '13');
  assert.equal(r.headers['cache-control'], 'no-cache');
  const v = await rawGet('/metadata/3.snapshot.json');
  assert.match(String(v.headers['cache-control']), /immutable/);
  // A tile's path fixes its content (c2sp.org/tlog-tiles); the checkpoint beside it changes.
  assert.match(String((await rawGet('/log/tile/0/000.p/2')).headers['cache-control']), /immutable/);
  assert.equal((await rawGet('/log/checkpoint')).headers['cache-control'], 'no-cache');
});

test('refuses path traversal in every spelling', { timeout: 10_000 }, async () => {
  for (const path of ['/../secret.key', '/metadata/../../secret.key', '/%2e%2e/secret.key', '/metadata%2f..%2f..%2fsecret.key', '/metadata/..%5c..%5csecret.key', '/metadata/%00']) {
    const r = await rawGet(path);
    assert.ok(r.status === 400 || r.status === 404, `${path} answered ${r.status}`);
    assert.doesNotMatch(r.body, /PRIVATE/);
  }
});

test('does not follow a symlink that leaves the served root', { timeout: 10_000 }, async () => {
  const r = await rawGet('/metadata/escape.json');
  assert.equal(r.status, 404);
  assert.doesNotMatch(r.body, /PRIVATE/);
});

test('lists no directories and refuses writes', { timeout: 10_000 }, async () => {
  assert.equal((await rawGet('/metadata/')).status, 404);
  assert.equal((await rawGet('/')).status, 400);
  const put = await rawGet('/metadata/timestamp.json', 'PUT');
  assert.equal(put.status, 405);
  const del = await rawGet('/metadata/timestamp.json', 'DELETE');
  assert.equal(del.status, 405);
});

test('refuses oversized request paths and headers', { timeout: 10_000 }, async () => {
  const long = await rawGet('/' + 'a'.repeat(5000));
  assert.equal(long.status, 400);
  const big = await rawGet('/metadata/timestamp.json', 'GET', { 'x-filler': 'b'.repeat(20_000) });
  assert.equal(big.status, 431);
});

test('resolveRequestPath keeps every accepted path inside the root', () => {
  assert.equal(resolveRequestPath('/srv/r', '/a/b.json'), '/srv/r/a/b.json');
  assert.equal(resolveRequestPath('/srv/r', '/a/./b'), undefined);
  assert.equal(resolveRequestPath('/srv/r', '/%E0%A4%A'), undefined);
});

test('reports each request with its status and byte count', { timeout: 10_000 }, async () => {
  const seen: Array<{ path: string; status: number; bytes: number }> = [];
  const logged = await startMirror({ root, onRequest: (r) => seen.push(r) });
  try {
    const res = await fetch(`${logged.url}/metadata/timestamp.json`);
    assert.equal(await res.text(), '{"signed":{}}');
    await fetch(`${logged.url}/missing.json`).then((r) => r.text());
    assert.deepEqual(seen.map((r) => [r.path, r.status]), [['/metadata/timestamp.json', 200], ['/missing.json', 404]]);
    assert.equal(seen[0]!.bytes, 13, 'a streamed file is counted with its length');
  } finally {
    await logged.close();
  }
});

test('JSON goes gzip-compressed to a client that accepts it, with its own entity tag and Vary; archives and other clients get the bytes as they are', { timeout: 10_000 }, async () => {
  const snapshot = JSON.stringify({ signed: { meta: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`bin-${i}.json`, { version: 1, length: 100, hashes: { sha256: createHash('sha256').update(String(i)).digest('hex') } }])) } });
  await writeFile(join(root, 'metadata', '4.snapshot.json'), snapshot);
  await mkdir(join(root, 'targets'), { recursive: true });
  await writeFile(join(root, 'targets', 'app.tar'), Buffer.alloc(4096));

  const plain = await rawGet('/metadata/4.snapshot.json');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, snapshot);
  assert.equal(plain.headers.vary, 'accept-encoding');

  const compressed = await rawGet('/metadata/4.snapshot.json', 'GET', { 'accept-encoding': 'br, gzip;q=0.8' });
  assert.equal(compressed.headers['content-encoding'], 'gzip');
  assert.equal(compressed.headers.vary, 'accept-encoding');
  assert.equal(gunzipSync(compressed.raw).toString(), snapshot, 'the same bytes once decoded');
  assert.equal(Number(compressed.headers['content-length']), compressed.raw.length);
  assert.ok(compressed.raw.length < snapshot.length * 0.7, `smaller: ${compressed.raw.length} of ${snapshot.length}`);
  assert.notEqual(compressed.headers.etag, plain.headers.etag, 'another representation, another strong tag');
  const revalidated = await rawGet('/metadata/4.snapshot.json', 'GET', { 'accept-encoding': 'gzip', 'if-none-match': String(compressed.headers.etag) });
  assert.equal(revalidated.status, 304);
  const otherTag = await rawGet('/metadata/4.snapshot.json', 'GET', { 'accept-encoding': 'gzip', 'if-none-match': String(plain.headers.etag) });
  assert.equal(otherTag.status, 200, 'the identity tag does not validate the gzip representation');

  const refused = await rawGet('/metadata/4.snapshot.json', 'GET', { 'accept-encoding': 'gzip;q=0, identity' });
  assert.equal(refused.headers['content-encoding'], undefined, 'q=0 refuses gzip');
  const archive = await rawGet('/targets/app.tar', 'GET', { 'accept-encoding': 'gzip' });
  assert.equal(archive.headers['content-encoding'], undefined, 'archives are sent as they are');
  assert.equal(archive.raw.length, 4096);
});
