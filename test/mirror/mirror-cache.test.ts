// Tests for the mirror's hot path (mirror/small-file-cache.ts, served-file.ts, file-stream.ts,
// response-headers.ts): small files answered from memory must still be exactly one version of
// the file on disk, no older than the revalidation bound, and never a way around the root's
// boundary; validators and 304 must be right; large files are streamed whole. The cache's clock
// is driven by the tests (MirrorOptions.now), so nothing here depends on timing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, writeFile, symlink, rm, readdir, readFile, unlink, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { writeFileAtomic } from '../../src/io/index.js';
import {
  startMirror, SmallFileCache, FILE_CACHE_LIMITS, MirrorError, requestTargetPath,
  type RunningMirror, type MirrorRequestEntry,
} from '../../src/mirror/index.js';

let base: string;
let root: string;
const SECRET = 'PRIVATE KEY MATERIAL';

interface Answer {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** Raw HTTP, so that the request target reaches the server exactly as written. */
function rawRequest(port: number, path: string, options: { method?: string; headers?: Record<string, string>; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A mirror whose cache clock the test moves, with every request's report kept. */
async function startDriven(servedRoot = root): Promise<{ mirror: RunningMirror; clock: { ms: number }; seen: MirrorRequestEntry[]; get: (path: string, headers?: Record<string, string>, method?: string) => Promise<Answer> }> {
  const clock = { ms: 1_000_000 };
  const seen: MirrorRequestEntry[] = [];
  const mirror = await startMirror({ root: servedRoot, now: () => clock.ms, onRequest: (e) => seen.push(e) });
  return { mirror, clock, seen, get: (path, headers, method) => rawRequest(mirror.port, path, { headers, method }) };
}

/** Every file under `dir` with its content: what "nothing was written" compares. */
async function treeSnapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out[path] = entry.isFile() ? createHash('sha256').update(await readFile(path)).digest('hex') : entry.isSymbolicLink() ? 'symlink' : 'dir';
  }
  return out;
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'cairn-serve-cache-'));
  root = join(base, 'public');
  await mkdir(join(root, 'metadata'), { recursive: true });
  await mkdir(join(base, 'outside'), { recursive: true });
  await writeFile(join(base, 'outside', 'secret.json'), SECRET);
  await writeFile(join(root, 'metadata', '3.snapshot.json'), '{"v":3}');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

test('serves the kept timestamp until the revalidation bound, then the version renamed into place', { timeout: 20_000 }, async () => {
  assert.ok(FILE_CACHE_LIMITS.revalidateAfterMs <= 1_000, 'a new timestamp must be served within about a second');
  const path = join(root, 'metadata', 'timestamp.json');
  await writeFileAtomic(path, '{"version":1}');
  const { mirror, clock, get } = await startDriven();
  try {
    const first = await get('/metadata/timestamp.json');
    assert.equal(first.body.toString(), '{"version":1}');
    await writeFileAtomic(path, '{"version":2}'); // the publisher's rename: same length, new content
    clock.ms += FILE_CACHE_LIMITS.revalidateAfterMs - 1;
    const kept = await get('/metadata/timestamp.json');
    assert.equal(kept.body.toString(), '{"version":1}', 'within the bound the kept copy may be served');
    assert.equal(kept.headers.etag, first.headers.etag);
    clock.ms += 1;
    const fresh = await get('/metadata/timestamp.json');
    assert.equal(fresh.body.toString(), '{"version":2}', 'past the bound the new version is served');
    assert.equal(fresh.headers['content-length'], '13');
    assert.notEqual(fresh.headers.etag, first.headers.etag);
  } finally {
    await mirror.close();
  }
});

test('never serves a mix of two versions while the publisher keeps renaming new ones into place', { timeout: 60_000 }, async () => {
  const path = join(root, 'metadata', 'churn.json');
  // Versions of different lengths, so a body, length or tag from two versions cannot pass as one.
  const versions = Array.from({ length: 60 }, (_, i) => JSON.stringify({ version: i, pad: String(i % 10).repeat((i * 977) % 5000) }));
  await writeFileAtomic(path, versions[0]!);
  const seen: MirrorRequestEntry[] = [];
  let tick = 0;
  // Every read of the clock is past the bound: every request checks the disk again.
  const mirror = await startMirror({ root, now: () => (tick += FILE_CACHE_LIMITS.revalidateAfterMs), onRequest: (e) => seen.push(e) });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    let writing = true;
    const writer = (async () => {
      for (const v of versions.slice(1)) {
        if (!writing) break; // a reader failed
        await writeFileAtomic(path, v, { durable: false });
      }
      writing = false;
    })();
    const bodyByTag = new Map<string, string>();
    const served = new Set<number>();
    const reader = async (): Promise<void> => {
      while (writing) {
        const r = await rawRequest(mirror.port, '/metadata/churn.json', { agent });
        assert.equal(r.status, 200);
        const body = r.body.toString();
        assert.equal(Number(r.headers['content-length']), r.body.length, 'Content-Length is the length of the body sent');
        const version = (JSON.parse(body) as { version: number }).version;
        assert.equal(body, versions[version], `the body is exactly version ${version}`);
        served.add(version);
        const tag = String(r.headers.etag);
        assert.equal(bodyByTag.get(tag) ?? body, body, 'one entity tag, one body');
        bodyByTag.set(tag, body);
      }
    };
    try {
      await Promise.all([writer, ...Array.from({ length: 6 }, reader)]);
    } finally {
      writing = false;
      await writer;
    }
    assert.ok(served.size > 1, 'the readers saw the file change');
    assert.ok(seen.every((e) => e.refusal === undefined), `no refusal: ${seen.find((e) => e.refusal)?.refusal}`);
    const last = await rawRequest(mirror.port, '/metadata/churn.json');
    assert.equal(last.body.toString(), versions.at(-1));
  } finally {
    agent.destroy();
    await mirror.close();
  }
});

test('refuses a kept file once it is replaced by a symlink leading out of the root', { timeout: 20_000 }, async () => {
  const path = join(root, 'metadata', 'swapped.json');
  await writeFileAtomic(path, '{"fine":true}');
  const { mirror, clock, seen, get } = await startDriven();
  try {
    assert.equal((await get('/metadata/swapped.json')).status, 200);
    const link = join(root, 'metadata', '.swapped.link');
    await symlink(join(base, 'outside', 'secret.json'), link);
    await rename(link, path);
    const before = await treeSnapshot(base);
    clock.ms += FILE_CACHE_LIMITS.revalidateAfterMs;
    const r = await get('/metadata/swapped.json');
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.body.toString(), /PRIVATE/);
    assert.equal(seen.at(-1)!.refusal, 'OUTSIDE_ROOT');
    clock.ms += FILE_CACHE_LIMITS.revalidateAfterMs;
    assert.equal((await get('/metadata/swapped.json')).status, 404, 'the refused file is not kept');
    assert.deepEqual(await treeSnapshot(base), before, 'nothing was written');
  } finally {
    await mirror.close();
  }
});

test('refuses a path through a directory symlink leading out of the root', { timeout: 20_000 }, async () => {
  await symlink(join(base, 'outside'), join(root, 'metadata', 'elsewhere'));
  const { mirror, seen, get } = await startDriven();
  try {
    for (const path of ['/metadata/elsewhere/secret.json', '/metadata/elsewhere/secret.json?x=1']) {
      const r = await get(path);
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.body.toString(), /PRIVATE/);
      assert.equal(seen.at(-1)!.refusal, 'OUTSIDE_ROOT');
    }
  } finally {
    await mirror.close();
    await unlink(join(root, 'metadata', 'elsewhere'));
  }
});

test('refuses traversal in the absolute request form and odd request targets, with the refusal code', { timeout: 20_000 }, async () => {
  const { mirror, seen, get } = await startDriven();
  try {
    const before = await treeSnapshot(base);
    for (const target of ['http://127.0.0.1/../outside/secret.json', 'http://x/metadata/%2e%2e/%2e%2e/outside/secret.json', '*', '/metadata/..%2f..%2foutside/secret.json', '/metadata/%00.json']) {
      const r = await get(target);
      assert.equal(r.status, 400, `${target} answered ${r.status}`);
      assert.doesNotMatch(r.body.toString(), /PRIVATE/);
      assert.equal(seen.at(-1)!.refusal, 'BAD_PATH');
    }
    const put = await get('/metadata/3.snapshot.json', {}, 'PUT');
    assert.equal(put.status, 405);
    assert.equal(put.headers.allow, 'GET, HEAD');
    assert.equal(seen.at(-1)!.refusal, 'METHOD_NOT_ALLOWED');
    assert.deepEqual(await treeSnapshot(base), before, 'nothing was written');
  } finally {
    await mirror.close();
  }
  assert.equal(requestTargetPath('/a/b.json?q=1#f'), '/a/b.json');
  assert.equal(requestTargetPath('https://host:1/a?b'), '/a');
  assert.equal(requestTargetPath('example.com:443'), undefined);
});

test('forgets a kept file once it is removed', { timeout: 20_000 }, async () => {
  const path = join(root, 'metadata', 'gone.json');
  await writeFileAtomic(path, '{}');
  const { mirror, clock, seen, get } = await startDriven();
  try {
    assert.equal((await get('/metadata/gone.json')).status, 200);
    await unlink(path);
    clock.ms += FILE_CACHE_LIMITS.revalidateAfterMs;
    assert.equal((await get('/metadata/gone.json')).status, 404);
    assert.equal(seen.at(-1)!.refusal, 'NOT_FOUND');
  } finally {
    await mirror.close();
  }
});

test('refuses a FIFO without waiting for a writer', { timeout: 20_000 }, async () => {
  const fifo = join(root, 'metadata', 'pipe.json');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, 'mkfifo (coreutils) works');
  const { mirror, seen, get } = await startDriven();
  try {
    assert.equal((await get('/metadata/pipe.json')).status, 404);
    assert.equal(seen.at(-1)!.refusal, 'NOT_REGULAR_FILE');
    assert.equal((await get('/metadata/')).status, 404, 'a directory is not listed');
    assert.equal(seen.at(-1)!.refusal, 'NOT_REGULAR_FILE');
  } finally {
    await mirror.close();
    await unlink(fifo);
  }
});

test('answers 304 to a matching If-None-Match, and 200 with a new tag once the file changed', { timeout: 20_000 }, async () => {
  const path = join(root, 'metadata', 'tagged.json');
  await writeFileAtomic(path, '{"version":1}');
  const { mirror, clock, get } = await startDriven();
  try {
    const first = await get('/metadata/tagged.json');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.ok(first.headers['last-modified']);
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const r = await get('/metadata/tagged.json', { 'if-none-match': ifNoneMatch });
      assert.equal(r.status, 304, ifNoneMatch);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers.etag, etag);
      assert.equal(r.headers['cache-control'], 'no-cache');
    }
    const head = await get('/metadata/tagged.json', { 'if-none-match': etag }, 'HEAD');
    assert.equal(head.status, 304);
    assert.equal((await get('/metadata/tagged.json', { 'if-none-match': '"other"' })).status, 200);
    // If-None-Match decides alone, even beside an If-Modified-Since that would match (RFC 9110 13.2.2).
    assert.equal((await get('/metadata/tagged.json', { 'if-none-match': '"other"', 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() })).status, 200);

    await writeFileAtomic(path, '{"version":2}');
    clock.ms += FILE_CACHE_LIMITS.revalidateAfterMs;
    const changed = await get('/metadata/tagged.json', { 'if-none-match': etag });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.toString(), '{"version":2}');
    assert.notEqual(changed.headers.etag, etag);
  } finally {
    await mirror.close();
  }
});

test('If-Modified-Since: 304 for immutable names at their date, never for a mutable name rewritten within that second', { timeout: 20_000 }, async () => {
  await writeFileAtomic(join(root, 'metadata', 'timestamp.json'), '{"version":7}');
  const { mirror, get } = await startDriven();
  try {
    const versioned = await get('/metadata/3.snapshot.json');
    const lastModified = String(versioned.headers['last-modified']);
    assert.equal((await get('/metadata/3.snapshot.json', { 'if-modified-since': lastModified })).status, 304);
    assert.equal((await get('/metadata/3.snapshot.json', { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() })).status, 200);
    assert.equal((await get('/metadata/3.snapshot.json', { 'if-modified-since': 'not a date' })).status, 200);

    const mutable = await get('/metadata/timestamp.json');
    const mutableDate = String(mutable.headers['last-modified']);
    // The date a client got could belong to an earlier version written in the same second: not a 304.
    assert.equal((await get('/metadata/timestamp.json', { 'if-modified-since': mutableDate })).status, 200);
    assert.equal((await get('/metadata/timestamp.json', { 'if-modified-since': new Date(Date.parse(mutableDate) + 2000).toUTCString() })).status, 304);
  } finally {
    await mirror.close();
  }
});

test('streams a file too large to keep whole, with validators, HEAD and 304', { timeout: 30_000 }, async () => {
  const size = FILE_CACHE_LIMITS.maxFileBytes * 3 + 12_345;
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i += 32) createHash('sha256').update(String(i)).digest().copy(content, i);
  await mkdir(join(root, 'targets'), { recursive: true });
  await writeFile(join(root, 'targets', 'large.tar'), content);
  const { mirror, seen, get } = await startDriven();
  try {
    const r = await get('/targets/large.tar');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(size));
    assert.equal(r.headers['content-type'], 'application/x-tar');
    assert.ok(r.body.equals(content), 'the body is the file');
    assert.equal(seen.at(-1)!.bytes, size);
    const head = await get('/targets/large.tar', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(size));
    assert.equal(head.body.length, 0);
    const etag = String(r.headers.etag);
    assert.equal((await get('/targets/large.tar', { 'if-none-match': etag })).status, 304);
    // Many at once: each stream has its own handle and buffers.
    const many = await Promise.all(Array.from({ length: 4 }, () => get('/targets/large.tar')));
    for (const m of many) assert.ok(m.body.equals(content));
  } finally {
    await mirror.close();
  }
});

test('the small-file cache stays within its entry and byte bounds', { timeout: 20_000 }, async () => {
  const dir = join(root, 'bounded');
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < 5; i++) await writeFile(join(dir, `f${i}.json`), 'x'.repeat(100));
  const cache = new SmallFileCache(root, { limits: { maxEntries: 3, maxTotalBytes: 250, maxFileBytes: 150 } });
  for (let i = 0; i < 5; i++) {
    const found = await cache.lookup(join(dir, `f${i}.json`));
    assert.equal(found.kind, 'cached');
    assert.ok(cache.size.entries <= 3 && cache.size.bytes <= 250, JSON.stringify(cache.size));
  }
  assert.deepEqual(cache.size, { entries: 2, bytes: 200 });
  assert.ok(cache.fresh(join(dir, 'f4.json')), 'the newest file is kept');
  assert.equal(cache.fresh(join(dir, 'f0.json')), undefined, 'the oldest went first');
  await writeFile(join(dir, 'big.json'), 'y'.repeat(151));
  const big = await cache.lookup(join(dir, 'big.json'));
  assert.equal(big.kind, 'stream', 'a file over maxFileBytes is handed over to stream');
  if (big.kind === 'stream') await big.file.handle.close();
  await assert.rejects(cache.lookup(join(dir, 'missing.json')), (e: unknown) => e instanceof MirrorError && e.code === 'NOT_FOUND');
});

test('refuses to start on a root that is not a directory', { timeout: 10_000 }, async () => {
  await assert.rejects(startMirror({ root: join(base, 'no-such-dir') }), (e: unknown) => e instanceof MirrorError && e.code === 'ROOT_NOT_A_DIRECTORY');
  await assert.rejects(startMirror({ root: join(base, 'outside', 'secret.json') }), (e: unknown) => e instanceof MirrorError && e.code === 'ROOT_NOT_A_DIRECTORY');
});
