// Tests for io/atomic-write.ts: a reader sees the old file or the new one, and a failed write
// leaves the old file and no temporary files behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, rm, stat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/index.js';
import { StorageError } from '../../src/errors/index.js';

test('replaces a file whole and applies the requested mode', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-atomic-'));
  try {
    const path = join(dir, 'sub', 'f.json');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, 'new', { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['f.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a write that cannot complete keeps the old content and leaves no temporary file', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-atomic-'));
  try {
    const path = join(dir, 'target');
    // The target is a non-empty directory: rename over it fails after the temp file is written.
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'old');
    await assert.rejects(writeFileAtomic(path, 'new'), (e) => e instanceof StorageError && e.code === 'WRITE_FAILED');
    assert.equal(await readFile(join(path, 'keep'), 'utf8'), 'old');
    assert.deepEqual((await readdir(dir)).sort(), ['target']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
