// test/package/extract.test.ts: safe extraction of package archives (docs/packages.md "Archive
// rules"). Each attack is an archive built header by header (hostile-archive.ts); each test
// asserts the typed refusal, that the destination does not exist afterwards, and that nothing
// outside it was written (a sentinel directory beside it and the link's target stay unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { extractPackage, manifestBytes, PackageError } from '../../src/package/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';
import {
  assertRefused, paxEntry, rawEntry, validPackageEntries, VALID_MANIFEST, writeArchive, writeManyEntries, writeSparseBomb, type RawEntry,
} from './hostile-archive.js';

const T = { timeout: 60_000 };

const valid = (): RawEntry[] => validPackageEntries();

test('extracts a valid package: files hashed, modes 0755/0644, manifest parsed', T, () => withTempDir('extract', async (dir) => {
  const archive = join(dir, 'p.tar');
  await writeArchive(archive, [...valid(), { name: 'share/doc/readme.txt', type: '0', content: Buffer.from('hi'), mode: 0o7644 }, { name: 'bin/hi', type: '2', linkName: 'hello' }]);
  const steps: string[] = [];
  const result = await extractPackage(archive, join(dir, 'dest'), { step: (s) => steps.push(s) });
  assert.deepEqual(result.manifest, VALID_MANIFEST);
  assert.ok(result.manifestBytes.equals(manifestBytes(VALID_MANIFEST)));
  assert.deepEqual(result.files.map((f) => [f.path, f.type, f.mode.toString(8)]), [
    ['bin', 'directory', '755'], ['bin/hello', 'file', '755'], ['bin/hi', 'symlink', '777'], ['cairn-package.json', 'file', '644'],
    ['share', 'directory', '755'], ['share/doc', 'directory', '755'], ['share/doc/readme.txt', 'file', '644'],
  ]);
  const readme = result.files.find((f) => f.path === 'share/doc/readme.txt')!;
  assert.equal(readme.sha256, createHash('sha256').update('hi').digest('hex'));
  // setuid, setgid and sticky bits are dropped; only "executable or not" is kept.
  assert.equal((await stat(join(dir, 'dest', 'share/doc/readme.txt'))).mode & 0o7777, 0o644);
  assert.equal((await stat(join(dir, 'dest', 'bin/hello'))).mode & 0o7777, 0o755);
  assert.equal((await stat(join(dir, 'dest'))).mode & 0o7777, 0o755);
  assert.equal(await readlink(join(dir, 'dest', 'bin/hi')), 'hello');
  assert.equal(await readFile(join(dir, 'dest', 'share/doc/readme.txt'), 'utf8'), 'hi');
  for (const label of ['extract:write:bin/hello', 'extract:fsync:bin/hello', 'extract:symlink:bin/hi', 'extract:fsync:share/doc/', 'extract:fsync:./']) assert.ok(steps.includes(label), label);
  assert.equal(steps.at(-1), 'extract:fsync:./');
  // Links are created after every file.
  assert.ok(steps.indexOf('extract:symlink:bin/hi') > steps.indexOf('extract:write:share/doc/readme.txt'));
}));

test('durable: false writes the same tree without fsyncs (for the store, which flushes what it added itself)', T, () => withTempDir('extract', async (dir) => {
  const archive = join(dir, 'p.tar');
  await writeArchive(archive, [...valid(), { name: 'bin/hi', type: '2', linkName: 'hello' }]);
  const durableSteps: string[] = [];
  const quickSteps: string[] = [];
  const durable = await extractPackage(archive, join(dir, 'durable'), { step: (s) => durableSteps.push(s) });
  const quick = await extractPackage(archive, join(dir, 'quick'), { step: (s) => quickSteps.push(s), durable: false });
  assert.deepEqual(quick.files, durable.files);
  assert.deepEqual(quickSteps, durableSteps.filter((s) => !s.startsWith('extract:fsync:')));
  assert.ok(durableSteps.some((s) => s.startsWith('extract:fsync:')));
}));

test('onProgress reports the content bytes written after each file, rising to the total of every file', T, () => withTempDir('extract', async (dir) => {
  const archive = join(dir, 'p.tar');
  await writeArchive(archive, valid());
  const reports: Array<[number, number]> = [];
  const extracted = await extractPackage(archive, join(dir, 'out'), { onProgress: (written, total) => reports.push([written, total]) });
  const files = extracted.files.filter((f) => f.type === 'file');
  const total = files.reduce((n, f) => n + f.size, 0);
  assert.equal(reports.length, files.length, 'one report per file');
  assert.ok(reports.every(([, t]) => t === total));
  assert.ok(reports.every(([w], i) => i === 0 || w >= reports[i - 1]![0]), 'never goes back');
  assert.deepEqual(reports.at(-1), [total, total]);
}));

test('refuses an absolute path', T, async () => {
  await assertRefused([...valid(), { name: '/etc/cron.d/evil', type: '0', content: Buffer.from('x') }], 'UNSAFE_PATH');
});

test('refuses a ".." path that climbs out of the destination', T, async () => {
  await assertRefused([...valid(), { name: '../outside/etc/passwd', type: '0', content: Buffer.from('pwned') }], 'UNSAFE_PATH');
  await assertRefused([...valid(), { name: 'bin/../../outside/x', type: '0', content: Buffer.from('pwned') }], 'UNSAFE_PATH');
});

test('refuses empty, "." and control-character names', T, async () => {
  await assertRefused([...valid(), { name: './x', type: '0' }], 'UNSAFE_PATH');
  await assertRefused([...valid(), { name: 'a//b', type: '0' }], 'UNSAFE_PATH');
  await assertRefused([...valid(), { name: 'evil\nname', type: '0' }], 'UNSAFE_PATH');
  await assertRefused([...valid(), paxEntry({ path: 'a\u0000b' }), { name: 'placeholder', type: '0' }], 'UNSAFE_PATH');
});

test('refuses a symlink to /etc', T, async () => {
  await assertRefused([...valid(), { name: 'etc', type: '2', linkName: '/etc' }], 'LINK_ESCAPES');
});

test('refuses a relative symlink that resolves outside the package', T, async () => {
  await assertRefused([...valid(), { name: 'bin/up', type: '2', linkName: '../../outside/etc' }], 'LINK_ESCAPES');
});

test('refuses a symlink that escapes only through another link of the archive', T, async () => {
  // a/b -> ".." is the package root, but "a/b/.." is then the root's parent (the kernel follows a/b first).
  await assertRefused([...valid(), { name: 'a/', type: '5' }, { name: 'a/b', type: '2', linkName: '..' }, { name: 'l', type: '2', linkName: 'a/b/..' }], 'LINK_ESCAPES');
});

test('refuses a symlink then a file written through it', T, async () => {
  await assertRefused([...valid(), { name: 'lib', type: '2', linkName: 'bin' }, { name: 'lib/x', type: '0', content: Buffer.from('x') }], 'THROUGH_LINK');
  await assertRefused([...valid(), { name: 'evil', type: '2', linkName: '../outside/etc' }, { name: 'evil/passwd', type: '0', content: Buffer.from('pwned') }], 'THROUGH_LINK');
});

test('refuses a hard link', T, async () => {
  await assertRefused([...valid(), { name: 'passwd', type: '1', linkName: '/etc/passwd' }], 'HARD_LINK');
  await assertRefused([...valid(), { name: 'copy', type: '1', linkName: 'bin/hello' }], 'HARD_LINK');
});

test('refuses a character device', T, async () => {
  await assertRefused([...valid(), { name: 'mem', type: '3' }], 'SPECIAL_FILE');
});

test('refuses a FIFO', T, async () => {
  await assertRefused([...valid(), { name: 'pipe', type: '6' }], 'SPECIAL_FILE');
});

test('refuses an unknown entry type', T, async () => {
  await assertRefused([...valid(), { name: 'odd', type: 'Z' }], 'SPECIAL_FILE');
});

test('refuses a duplicate entry', T, async () => {
  await assertRefused([...valid(), { name: 'bin/hello', type: '0', content: Buffer.from('second') }], 'DUPLICATE_ENTRY');
});

test('refuses a file and a directory of the same name', T, async () => {
  await assertRefused([...valid(), { name: 'x', type: '0' }, { name: 'x/', type: '5' }], 'DUPLICATE_ENTRY');
  await assertRefused([...valid(), { name: 'x', type: '0' }, { name: 'x/y', type: '0' }], 'DUPLICATE_ENTRY');
  await assertRefused([...valid(), { name: 'd/y', type: '0' }, { name: 'd', type: '2', linkName: 'bin' }], 'DUPLICATE_ENTRY');
});

test('refuses a case collision A/a', T, async () => {
  await assertRefused([...valid(), { name: 'A', type: '0' }, { name: 'a', type: '0' }], 'NAME_COLLISION');
  await assertRefused([...valid(), { name: 'Docs/x', type: '0' }, { name: 'docs/y', type: '0' }], 'NAME_COLLISION');
});

test('refuses an NFC/NFD collision of é', T, async () => {
  await assertRefused([...valid(), { name: 'caf\u00e9', type: '0' }, { name: 'cafe\u0301', type: '0' }], 'NAME_COLLISION');
});

test('refuses an entry claiming 1 TB before reading or writing it', T, async () => {
  await assertRefused([...valid(), { name: 'huge', type: '0', claimedSize: 1024 ** 4 }], 'TOO_LARGE');
});

test('refuses 200,001 entries', T, async () => {
  await assertRefused([], 'TOO_MANY_ENTRIES', {}, (file) => writeManyEntries(file, 200_001));
});

test('refuses a bomb of sparse zero files beyond the total cap, before writing any', T, async () => {
  // 5 files of 1 GiB each: each within the per-file cap, 5 GiB in all over the 4 GiB default.
  await assertRefused([], 'TOO_LARGE', {}, (file) => writeSparseBomb(file, 5, 1024 ** 3));
});

test('refuses a file over the per-file cap', T, async () => {
  await assertRefused([...valid(), { name: 'big', type: '0', content: Buffer.alloc(4096) }], 'TOO_LARGE', { limits: { maxFileBytes: 1024 } });
});

test('a pax long name is checked like any other name', T, async () => {
  await assertRefused([...valid(), paxEntry({ path: '../outside/etc/passwd' }), { name: 'innocent', type: '0', content: Buffer.from('x') }], 'UNSAFE_PATH');
  await assertRefused([...valid(), paxEntry({ linkpath: '/etc' }), { name: 'innocent', type: '2', linkName: 'bin' }], 'LINK_ESCAPES');
  await assertRefused([...valid(), rawEntry({ name: '././@LongLink', type: 'L', content: Buffer.from('/etc/shadow\u0000') }), { name: 'innocent', type: '0' }], 'UNSAFE_PATH');
});

test('a pax long name that is safe is extracted', T, () => withTempDir('extract', async (dir) => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  await writeArchive(join(dir, 'p.tar'), [...valid(), paxEntry({ path: long }), { name: 'short', type: '0', content: Buffer.from('long') }]);
  const result = await extractPackage(join(dir, 'p.tar'), join(dir, 'dest'));
  assert.ok(result.files.some((f) => f.path === long));
  assert.equal(await readFile(join(dir, 'dest', long), 'utf8'), 'long');
}));

test('refuses an archive without a manifest, or with one that is not canonical', T, async () => {
  await assertRefused([{ name: 'bin/hello', type: '0', content: Buffer.from('x') }], 'MISSING_MANIFEST');
  await assertRefused([{ name: 'cairn-package.json/', type: '5' }], 'MISSING_MANIFEST');
  const pretty = Buffer.from(JSON.stringify(VALID_MANIFEST, null, 2));
  const e = await assertRefused([valid()[0]!, valid()[1]!, { name: 'cairn-package.json', type: '0', content: pretty }], 'BAD_MANIFEST');
  assert.match(e.message, /not canonical/);
  await assertRefused([{ name: 'cairn-package.json', type: '0', content: Buffer.alloc(65 * 1024, 0x20) }], 'TOO_LARGE');
});

test('refuses an archive whose entry point is missing or not a regular file', T, async () => {
  await assertRefused([valid()[2]!], 'MISSING_ENTRY_POINT');
  await assertRefused([{ name: 'bin/', type: '5' }, { name: 'bin/hello', type: '2', linkName: '../cairn-package.json' }, valid()[2]!], 'MISSING_ENTRY_POINT');
});

test('refuses corrupt, truncated and compressed archives', T, async () => {
  const good = Buffer.concat(valid().map((e) => rawEntry(e)));
  const corrupt = Buffer.from(good);
  corrupt[10] = 0x41; // name changed, checksum not
  await assertRefused([], 'BAD_ARCHIVE', {}, (f) => writeFile(f, corrupt));
  await assertRefused([], 'BAD_ARCHIVE', {}, (f) => writeFile(f, good.subarray(0, good.length - 100)));
  await assertRefused([], 'BAD_ARCHIVE', {}, (f) => writeFile(f, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(2000)])));
});

test('refuses a destination that exists, and leaves it as it was', T, () => withTempDir('extract', async (dir) => {
  await writeArchive(join(dir, 'p.tar'), valid());
  await mkdir(join(dir, 'dest'));
  await writeFile(join(dir, 'dest', 'mine'), 'keep');
  await assert.rejects(extractPackage(join(dir, 'p.tar'), join(dir, 'dest')), (e: unknown) => e instanceof PackageError && e.code === 'DESTINATION_EXISTS');
  assert.equal(await readFile(join(dir, 'dest', 'mine'), 'utf8'), 'keep');
}));

test('a failure in the middle of writing removes the destination', T, () => withTempDir('extract', async (dir) => {
  await writeArchive(join(dir, 'p.tar'), [...valid(), { name: 'z/last', type: '0', content: Buffer.from('x') }]);
  for (const at of ['extract:write:z/last', 'extract:fsync:bin/hello', 'extract:fsync:./']) {
    await assert.rejects(extractPackage(join(dir, 'p.tar'), join(dir, 'dest'), { step: (s) => { if (s === at) throw new Error(`stop at ${s}`); } }), /stop at/);
    await assert.rejects(stat(join(dir, 'dest')), { code: 'ENOENT' });
  }
}));

test('refuses deep paths that imply more directories than the entry cap', T, async () => {
  const deep = Array.from({ length: 10 }, (_, i): RawEntry => ({ name: `u${i}/a/b/c/d/e/f/g`, type: '0' }));
  await assertRefused([...valid(), ...deep], 'TOO_MANY_ENTRIES', { limits: { maxEntries: 50 } });
});

test('refuses a symlink that escapes through another link named with other case (case-insensitive file systems)', T, async () => {
  await assertRefused([...valid(), { name: 'd/', type: '5' }, { name: 'd/a', type: '2', linkName: '..' }, { name: 'l', type: '2', linkName: 'D/A/..' }], 'LINK_ESCAPES');
});
