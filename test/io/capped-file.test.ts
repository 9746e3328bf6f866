// Tests for io/capped-file.ts: a local file over its cap is refused without being read whole, a
// directory, FIFO or device is refused without blocking, a file that grows while it is read
// still yields at most the cap, and every refusal is the caller's typed error naming the path,
// the cap and the size found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { open, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { CappedFileError, readCappedFile, readCappedFileIfExists, tooLargeIsFormatError } from '../../src/io/index.js';
import { FormatError, StorageError } from '../../src/errors/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('capped', fn);

const T = { timeout: 10_000 };

test('reads a file up to its cap, byte for byte', T, () => withDir(async (dir) => {
  const path = join(dir, 'f');
  await writeFile(path, 'hello');
  assert.equal((await readCappedFile(path, 5)).toString(), 'hello');
  await writeFile(path, '');
  assert.equal((await readCappedFile(path, 5)).length, 0);
  const big = Buffer.alloc(300_000, 7);
  await writeFile(path, big);
  assert.ok((await readCappedFile(path, big.length)).equals(big));
}));

test('refuses a file over the cap, naming the path, the cap and the size', T, () => withDir(async (dir) => {
  const path = join(dir, 'big.json');
  await writeFile(path, Buffer.alloc(1001));
  await assert.rejects(readCappedFile(path, 1000), (e: unknown) => {
    assert.ok(e instanceof CappedFileError);
    assert.equal(e.code, 'TOO_LARGE');
    assert.equal(e.path, path);
    assert.equal(e.maxBytes, 1000);
    assert.equal(e.size, 1001);
    assert.match(e.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is 1001 bytes, the limit is 1000`));
    return true;
  });
}));

test('a sparse file of a terabyte is refused from its size alone, without reading it', T, () => withDir(async (dir) => {
  const path = join(dir, 'huge');
  const handle = await open(path, 'w');
  await handle.truncate(2 ** 40);
  await handle.close();
  // Reading a terabyte would outlast the test's timeout: the size comes from the open handle.
  await assert.rejects(readCappedFile(path, 1 << 20), (e: unknown) => e instanceof CappedFileError && e.code === 'TOO_LARGE' && e.size === 2 ** 40);
}));

test('a file that grows after its size was checked is refused once the read passes the cap', T, () => withDir(async (dir) => {
  const path = join(dir, 'growing');
  await writeFile(path, Buffer.alloc(900));
  // checkStatus runs between the size check and the read: the attacker appends there.
  const grow = (): void => appendFileSync(path, Buffer.alloc(200_000));
  await assert.rejects(readCappedFile(path, 1000, { checkStatus: grow }), (e: unknown) => {
    assert.ok(e instanceof CappedFileError);
    assert.equal(e.code, 'TOO_LARGE');
    assert.ok(e.size > 1000 && e.size <= 2000, `read ${e.size} bytes: no more than the cap + 1 per read`);
    assert.match(e.message, /grew beyond the limit of 1000 bytes/);
    return true;
  });
}));

test('a file that reports size 0 but yields more (procfs) is still read only up to the cap', T, async () => {
  // /proc/self/status reports size 0 and is about 1.4 KiB of text.
  const whole = await readCappedFile('/proc/self/status', 1 << 20).catch(() => undefined);
  if (whole === undefined) return; // no procfs on this system
  assert.ok(whole.length > 100);
  await assert.rejects(readCappedFile('/proc/self/status', 100), (e: unknown) => e instanceof CappedFileError && e.code === 'TOO_LARGE' && e.size > 100 && /grew beyond the limit of 100 bytes/.test(e.message));
});

test('refuses a directory and a FIFO without blocking on the FIFO', T, () => withDir(async (dir) => {
  await assert.rejects(readCappedFile(dir, 1000), (e: unknown) => e instanceof CappedFileError && e.code === 'NOT_REGULAR_FILE' && /a directory/.test(e.message));
  const fifo = join(dir, 'fifo');
  const made = spawnSync('mkfifo', [fifo]);
  if (made.status !== 0) return; // no mkfifo here
  // With no writer, a blocking open would never return; the test's timeout would catch it.
  await assert.rejects(readCappedFile(fifo, 1000), (e: unknown) => e instanceof CappedFileError && e.code === 'NOT_REGULAR_FILE' && /a FIFO/.test(e.message));
  await assert.rejects(readCappedFile('/dev/zero', 1000), (e: unknown) => e instanceof CappedFileError && e.code === 'NOT_REGULAR_FILE' && /a device/.test(e.message));
}));

test('a missing file is StorageError NOT_FOUND, or undefined when the caller allows it', T, () => withDir(async (dir) => {
  const path = join(dir, 'absent');
  await assert.rejects(readCappedFile(path, 10), (e: unknown) => e instanceof StorageError && e.code === 'NOT_FOUND' && e.message.includes(path));
  assert.equal(await readCappedFileIfExists(path, 10), undefined);
  await assert.rejects(readCappedFile(join(path, 'below'), 10), (e: unknown) => e instanceof StorageError && e.code === 'NOT_FOUND');
}));

test('an unreadable file is StorageError READ_FAILED', T, () => withDir(async (dir) => {
  if (process.getuid?.() === 0) return; // root reads anything
  const path = join(dir, 'secret');
  await writeFile(path, 'x');
  await chmod(path, 0o000);
  await assert.rejects(readCappedFile(path, 10), (e: unknown) => e instanceof StorageError && e.code === 'READ_FAILED');
}));

test('the caller chooses the error of a refusal and checks the open file\'s status', T, () => withDir(async (dir) => {
  const path = join(dir, 'f');
  await writeFile(path, 'too long');
  class Mine extends Error {}
  await assert.rejects(readCappedFile(path, 3, { refuse: (r) => new Mine(`${r.code} ${r.size}`) }), (e: unknown) => e instanceof Mine && e.message === 'TOO_LARGE 8');
  await assert.rejects(readCappedFile(path, 3, { refuse: tooLargeIsFormatError }), (e: unknown) => e instanceof FormatError && e.code === 'TOO_LARGE');
  await assert.rejects(readCappedFile(dir, 3, { refuse: tooLargeIsFormatError }), (e: unknown) => e instanceof CappedFileError && e.code === 'NOT_REGULAR_FILE');
  await assert.rejects(readCappedFile(path, 100, { checkStatus: (s) => { if (s.size > 4) throw new Mine('status refused'); } }), Mine);
  await assert.rejects(readCappedFile(path, 3, { what: 'the recipe' }), (e: unknown) => e instanceof CappedFileError && e.message.startsWith('the recipe is 8 bytes'));
}));
