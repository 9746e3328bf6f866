// test/tuf/target-download.test.ts: the verified download of a target file (TUF spec 1.0.x 5.7,
// src/tuf/target-download.ts) served over real HTTP on 127.0.0.1: bodies of several write
// batches (hashed while they arrive, written once, renamed into place), and the mirror's attacks
// on them, a byte more, a byte changed, a truncated body, each refused with its typed error and
// nothing left behind: no target file, no temporary file, an earlier verified file untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BoundedFetcher, FetchError, type Fetcher } from '../../src/io/index.js';
import { TufError, Updater, type TargetFile } from '../../src/tuf/index.js';
import type { Misbehaviour } from '../fixtures/repository-simulator.js';
import { assertRefused, setup, type Fixture } from './helpers.js';

/** Larger than a few of the writer's 1 MiB batches and its 4 MiB of queued writes. */
const LARGE = 9 * (1 << 20) + 12_345;

/** Each test moves several bodies of LARGE bytes: a wider bound than the other TUF tests', for a loaded machine. */
const T = { timeout: 60_000 };

/**
 * No test here is about slow retrieval (attacks.test.ts has those): limits that a loaded machine
 * does not trip, where the TUF tests' short ones (600 ms without data) did.
 */
const LIMITS = { timeoutMs: 50_000, idleTimeoutMs: 10_000, minBytesPerSecond: 1024, graceMs: 10_000 };

/** The files in `dir` (none when it does not exist). */
async function filesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** A fixture publishing `app.bin` (random bytes of `size`, hashed with `algorithms`); the client has refreshed. */
async function withTarget(size: number, algorithms = ['sha256']): Promise<{ f: Fixture; body: Buffer; info: TargetFile }> {
  const body = randomBytes(size);
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.addTarget('app.bin', body, 'targets', algorithms);
    sim.publish();
  });
  const info = (await client(f).getTargetInfo('app.bin'))!;
  return { f, body, info };
}

/** Serves `body` with a Content-Length of its own length, or chunked when `declare` is false. */
function serve(body: Uint8Array, declare = true): Misbehaviour {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(declare ? { 'content-length': body.byteLength } : {}) });
    res.end(body);
  };
}

/** Declares `declared` bytes, sends `body` (shorter) and closes the connection. */
function truncated(body: Uint8Array, declared: number): Misbehaviour {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': declared });
    res.write(body, () => res.destroy());
  };
}

/** A fetcher over real HTTP that does not hold the body to the cap it is given (so the download's own length check is what stops it). */
function uncappedFetcher(): Fetcher {
  const inner = new BoundedFetcher(LIMITS);
  return { stream: (url) => inner.stream(url, Number.MAX_SAFE_INTEGER) };
}

/** A fetcher over real HTTP that hands the body on in slices of `size` bytes (many more chunks than a socket gives). */
function slicingFetcher(size: number): Fetcher {
  const inner = new BoundedFetcher(LIMITS);
  return {
    async *stream(url, maxBytes) {
      for await (const chunk of inner.stream(url, maxBytes)) {
        for (let i = 0; i < chunk.byteLength; i += size) yield chunk.subarray(i, i + size);
      }
    },
  };
}

/** The fixture's client with LIMITS. */
function client(f: Fixture): Updater {
  return f.updater({ config: { fetchLimits: LIMITS } });
}

function updaterWith(f: Fixture, fetcher: Fetcher): Updater {
  return new Updater({ metadataDir: f.metadataDir, metadataBaseUrl: f.server.metadataUrl, targetBaseUrl: f.server.targetsUrl, targetDir: f.targetDir, fetcher });
}

test('downloads a target of several write batches byte for byte, with every listed hash, leaving no temporary file', T, async () => {
  const { f, body, info } = await withTarget(LARGE, ['sha256', 'sha512']);
  try {
    const path = await client(f).downloadTarget(info);
    assert.ok((await readFile(path)).equals(body));
    assert.deepEqual(await filesIn(f.targetDir), ['app.bin']);
  } finally {
    await f.close();
  }
});

test('downloads a chunked body (no Content-Length) and one handed on in small slices', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    f.server.overrides.set('targets/app.bin', serve(body, false));
    assert.ok((await readFile(await client(f).downloadTarget(info))).equals(body));
    // 1000-byte slices: a batch reaches writev's limit on buffers per call before its 1 MiB.
    const sliced = await updaterWith(f, slicingFetcher(1000)).downloadTarget(info, join(f.dir, 'sliced', 'app.bin'));
    assert.ok((await readFile(sliced)).equals(body));
    assert.deepEqual(await filesIn(join(f.dir, 'sliced')), ['app.bin']);
  } finally {
    await f.close();
  }
});

test('refuses a target one byte longer than listed (declared or chunked) and leaves nothing', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    const longer = Buffer.concat([body, Buffer.from([0x41])]);
    f.server.overrides.set('targets/app.bin', serve(longer));
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), FetchError, 'TOO_LARGE');
    assert.deepEqual(await filesIn(f.targetDir), []);
    f.server.overrides.set('targets/app.bin', serve(longer, false));
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), FetchError, 'TOO_LARGE');
    assert.deepEqual(await filesIn(f.targetDir), []);
  } finally {
    await f.close();
  }
});

test('refuses a target one byte longer than listed even through a fetcher that does not enforce the cap', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    f.server.overrides.set('targets/app.bin', serve(Buffer.concat([body, Buffer.from([0x41])]), false));
    await assertRefused(f.metadataDir, () => updaterWith(f, uncappedFetcher()).downloadTarget(info), TufError, 'LENGTH_MISMATCH');
    assert.deepEqual(await filesIn(f.targetDir), []);
  } finally {
    await f.close();
  }
});

test('refuses a target with one byte changed (first, middle or last) and leaves nothing', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    for (const at of [0, body.byteLength >> 1, body.byteLength - 1]) {
      const changed = Buffer.from(body);
      changed[at] = changed[at]! ^ 0x01;
      f.server.overrides.set('targets/app.bin', serve(changed));
      await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), TufError, 'HASH_MISMATCH');
      assert.deepEqual(await filesIn(f.targetDir), [], `byte ${at}`);
    }
  } finally {
    await f.close();
  }
});

test('refuses a target that matches one listed hash but not another (every hash is checked)', T, async () => {
  const body = randomBytes(LARGE);
  const f = await setup({ consistentSnapshot: false }, (sim) => {
    sim.addTarget('app.bin', body, 'targets', ['sha256', 'sha512']);
    // The signed sha512 is of other bytes: the sha256 alone would let these bytes through.
    const listed = (sim.role('targets').targets as Record<string, { hashes: Record<string, string> }>)['app.bin']!;
    listed.hashes.sha512 = createHash('sha512').update('other bytes').digest('hex');
    sim.publish();
  });
  try {
    const info = (await client(f).getTargetInfo('app.bin'))!;
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), TufError, 'HASH_MISMATCH');
    assert.deepEqual(await filesIn(f.targetDir), []);
  } finally {
    await f.close();
  }
});

test('refuses a truncated target (a body that ends early, a connection that closes early) and leaves nothing', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    const short = body.subarray(0, body.byteLength - 1);
    f.server.overrides.set('targets/app.bin', serve(short));
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), TufError, 'LENGTH_MISMATCH');
    assert.deepEqual(await filesIn(f.targetDir), []);
    f.server.overrides.set('targets/app.bin', truncated(body.subarray(0, 5 << 20), body.byteLength));
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), FetchError, 'NETWORK');
    assert.deepEqual(await filesIn(f.targetDir), []);
  } finally {
    await f.close();
  }
});

test('a refused download leaves the file already at the destination as it was', T, async () => {
  const { f, body, info } = await withTarget(LARGE);
  try {
    await mkdir(f.targetDir, { recursive: true });
    const earlier = join(f.targetDir, 'app.bin');
    await writeFile(earlier, 'the earlier verified version');
    const changed = Buffer.from(body);
    changed[1000] = changed[1000]! ^ 0xff;
    f.server.overrides.set('targets/app.bin', serve(changed));
    await assertRefused(f.metadataDir, () => client(f).downloadTarget(info), TufError, 'HASH_MISMATCH');
    assert.deepEqual(await filesIn(f.targetDir), ['app.bin']);
    assert.equal(await readFile(earlier, 'utf8'), 'the earlier verified version');
    f.server.overrides.delete('targets/app.bin');
    await client(f).downloadTarget(info);
    assert.ok((await readFile(earlier)).equals(body), 'a verified download replaces it');
  } finally {
    await f.close();
  }
});
