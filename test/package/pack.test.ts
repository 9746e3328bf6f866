// test/package/pack.test.ts: `cairn pack`'s function (docs/packages.md "Archive rules"): the
// archive is byte-identical whatever the files' mtimes, owners, modes under umask and creation
// order; it round-trips through safe extraction; pack refuses what extraction would refuse and
// leaves nothing behind when it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { extractPackage, manifestBytes, packDirectory, PackageError } from '../../src/package/index.js';
import { needsTool } from '../fixtures/system-tools.js';
import { withTempDir } from '../fixtures/temp-dir.js';
import { VALID_MANIFEST } from './hostile-archive.js';

const T = { timeout: 60_000 };

const FILES: Record<string, string> = {
  'bin/hello': '#!/bin/sh\necho hello\n',
  'share/doc/README': 'hello, a package\n',
  'share/data/b.txt': 'b',
  'share/data/a.txt': 'a',
  'lib/é.txt': 'accent',
};

/** Writes the package source tree in `order`, with `mode` bits, `mtime` and `owner`, and a `.git` to leave out. */
async function sourceTree(root: string, order: string[], options: { mtime: number; owner?: number; pretty: boolean; umask: number }): Promise<void> {
  const previous = process.umask(options.umask);
  try {
    for (const name of order) {
      await mkdir(join(root, name, '..'), { recursive: true });
      await writeFile(join(root, name), FILES[name]!);
      if (name === 'bin/hello') await chmod(join(root, name), 0o777 & ~options.umask);
      await utimes(join(root, name), options.mtime, options.mtime);
      if (options.owner !== undefined) await chown(join(root, name), options.owner, options.owner);
    }
    await writeFile(join(root, 'cairn-package.json'), options.pretty ? JSON.stringify(VALID_MANIFEST, null, 2) + '\n' : JSON.stringify(VALID_MANIFEST));
    await symlink('../share/doc/README', join(root, 'bin', 'README'));
    await mkdir(join(root, '.git', 'objects'), { recursive: true });
    await writeFile(join(root, '.git', 'HEAD'), `ref: ${options.mtime}`);
  } finally {
    process.umask(previous);
  }
}

test('pack is reproducible: same tree, different mtimes, owners, umask and order -> identical bytes', T, () => withTempDir('pack', async (dir) => {
  const names = Object.keys(FILES);
  const root = process.getuid?.() === 0;
  await sourceTree(join(dir, 'one'), names, { mtime: 1_000_000, pretty: true, umask: 0o022 });
  await sourceTree(join(dir, 'two'), [...names].reverse(), { mtime: 2_000_000_000, pretty: false, umask: 0o077, ...(root ? { owner: 4321 } : {}) });
  const a = await packDirectory(join(dir, 'one'), join(dir, 'one.tar'), { sourceDateEpoch: 1_700_000_000 });
  const b = await packDirectory(join(dir, 'two'), join(dir, 'two.tar'), { sourceDateEpoch: 1_700_000_000 });
  const bytesA = await readFile(join(dir, 'one.tar'));
  assert.ok(bytesA.equals(await readFile(join(dir, 'two.tar'))), 'the two archives differ');
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.sha256, createHash('sha256').update(bytesA).digest('hex'));
  assert.equal(a.length, bytesA.length);
  assert.deepEqual(a.manifest, VALID_MANIFEST);
  // Another SOURCE_DATE_EPOCH is another archive; the environment variable is the default.
  const c = await packDirectory(join(dir, 'one'), join(dir, 'three.tar'), { sourceDateEpoch: 0 });
  assert.notEqual(c.sha256, a.sha256);
  process.env.SOURCE_DATE_EPOCH = '1700000000';
  try {
    assert.equal((await packDirectory(join(dir, 'two'), join(dir, 'four.tar'))).sha256, a.sha256);
  } finally {
    delete process.env.SOURCE_DATE_EPOCH;
  }
  // Nothing but the archives was left in the output directory (no temporary files).
  assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
}));

test('pack -> extract round trip: canonical manifest, modes, links, .git left out', T, () => withTempDir('pack', async (dir) => {
  await sourceTree(join(dir, 'src'), Object.keys(FILES), { mtime: 5, pretty: true, umask: 0o022 });
  const packed = await packDirectory(join(dir, 'src'), join(dir, 'p.tar'));
  const out = await extractPackage(join(dir, 'p.tar'), join(dir, 'dest'));
  assert.deepEqual(out.manifest, VALID_MANIFEST);
  assert.ok(out.manifestBytes.equals(manifestBytes(VALID_MANIFEST)), 'the archive holds the canonical manifest, not the pretty-printed file');
  assert.equal(await readFile(join(dir, 'dest', 'cairn-package.json'), 'utf8'), manifestBytes(VALID_MANIFEST).toString());
  assert.deepEqual(out.files.map((f) => `${f.type} ${f.path} ${f.mode.toString(8)}`), [
    'directory bin 755', 'symlink bin/README 777', 'file bin/hello 755', 'file cairn-package.json 644', 'directory lib 755', 'file lib/é.txt 644',
    'directory share 755', 'directory share/data 755', 'file share/data/a.txt 644', 'file share/data/b.txt 644', 'directory share/doc 755', 'file share/doc/README 644',
  ]);
  assert.equal(packed.entries, out.files.length);
  for (const [name, content] of Object.entries(FILES)) assert.equal(await readFile(join(dir, 'dest', name), 'utf8'), content);
  assert.equal(await readFile(join(dir, 'dest', 'bin', 'README'), 'utf8'), FILES['share/doc/README']);
}));

test('other tar implementations read the archive (GNU tar lists it with fixed owners and mtime)', { ...T, ...needsTool('tar', 'apt-get install tar') }, () => withTempDir('pack', async (dir) => {
  await sourceTree(join(dir, 'src'), Object.keys(FILES), { mtime: 5, pretty: false, umask: 0o022 });
  await packDirectory(join(dir, 'src'), join(dir, 'p.tar'), { sourceDateEpoch: 86_400 });
  const listed = spawnSync('tar', ['--numeric-owner', '--utc', '-tvf', join(dir, 'p.tar')], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.equal(lines.length, 12);
  for (const line of lines) assert.match(line, /^(?:[-d]rw[-x]r-[-x]r-[-x]|lrwxrwxrwx) 0\/0 +\d+ 1970-01-02 00:00 /);
}));

test('paths over 100 bytes use the ustar prefix; over 256 bytes are refused with nothing written', T, () => withTempDir('pack', async (dir) => {
  const src = join(dir, 'src');
  await sourceTree(src, ['bin/hello'], { mtime: 5, pretty: false, umask: 0o022 });
  const long = `${'d'.repeat(90)}/${'e'.repeat(60)}/${'f'.repeat(90)}`;
  await mkdir(join(src, 'd'.repeat(90), 'e'.repeat(60)), { recursive: true });
  await writeFile(join(src, long), 'deep');
  await packDirectory(src, join(dir, 'long.tar'));
  await extractPackage(join(dir, 'long.tar'), join(dir, 'dest'));
  assert.equal(await readFile(join(dir, 'dest', long), 'utf8'), 'deep');

  await mkdir(join(src, 'x'.repeat(160), 'y'.repeat(50)), { recursive: true });
  await writeFile(join(src, 'x'.repeat(160), 'y'.repeat(50), 'z'), 'too deep');
  await assert.rejects(packDirectory(src, join(dir, 'too-long.tar')), (e: unknown) => e instanceof PackageError && e.code === 'UNSUPPORTED_FILE' && /too long/.test(e.message));
  assert.deepEqual((await readdir(dir)).sort(), ['dest', 'long.tar', 'src']);
}));

let trees = 0;

async function refusedPack(dir: string, code: string, arrange: (src: string) => Promise<void>): Promise<void> {
  const src = join(dir, `src-${++trees}`);
  await sourceTree(src, ['bin/hello'], { mtime: 5, pretty: false, umask: 0o022 });
  await arrange(src);
  const before = (await readdir(dir)).sort();
  await assert.rejects(packDirectory(src, join(dir, 'out.tar')), (e: unknown) => {
    assert.ok(e instanceof PackageError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
  assert.deepEqual((await readdir(dir)).sort(), before, 'pack left nothing behind');
}

test('pack refuses an absolute symlink', T, () => withTempDir('pack', (dir) => refusedPack(dir, 'LINK_ESCAPES', (src) => symlink('/etc/passwd', join(src, 'passwd')))));

test('pack refuses a symlink that escapes the package', T, () => withTempDir('pack', (dir) => refusedPack(dir, 'LINK_ESCAPES', (src) => symlink('../../outside', join(src, 'bin', 'out')))));

test('pack refuses a FIFO', { ...T, ...needsTool('mkfifo', 'apt-get install coreutils') }, () => withTempDir('pack', (dir) => refusedPack(dir, 'UNSUPPORTED_FILE', async (src) => {
  assert.equal(spawnSync('mkfifo', [join(src, 'pipe')]).status, 0);
})));

test('pack refuses a missing entry point, or one that is a directory', T, () => withTempDir('pack', async (dir) => {
  await refusedPack(dir, 'MISSING_ENTRY_POINT', async (src) => {
    await writeFile(join(src, 'cairn-package.json'), JSON.stringify({ ...VALID_MANIFEST, entryPoints: { hello: 'bin/missing' } }));
  });
  await refusedPack(dir, 'MISSING_ENTRY_POINT', async (src) => {
    await writeFile(join(src, 'cairn-package.json'), JSON.stringify({ ...VALID_MANIFEST, entryPoints: { hello: 'bin' } }));
  });
}));

test('pack refuses a bad or missing manifest', T, () => withTempDir('pack', async (dir) => {
  await refusedPack(dir, 'BAD_MANIFEST', (src) => writeFile(join(src, 'cairn-package.json'), JSON.stringify({ ...VALID_MANIFEST, version: 'v1' })));
  await refusedPack(dir, 'BAD_MANIFEST', (src) => writeFile(join(src, 'cairn-package.json'), '{ not json'));
  await refusedPack(dir, 'MISSING_MANIFEST', async (src) => {
    await writeFile(join(src, 'other.json'), '{}');
    spawnSync('rm', [join(src, 'cairn-package.json')]);
  });
}));

test('pack refuses names that would collide on a case-insensitive file system', T, () => withTempDir('pack', (dir) => refusedPack(dir, 'NAME_COLLISION', async (src) => {
  await writeFile(join(src, 'README'), 'a');
  await writeFile(join(src, 'readme'), 'b');
})));

test('packing into the package directory leaves the earlier archive out of the next one', T, () => withTempDir('pack', async (dir) => {
  const src = join(dir, 'src');
  await sourceTree(src, Object.keys(FILES), { mtime: 5, pretty: false, umask: 0o022 });
  const first = await packDirectory(src, join(src, 'hello-1.0.0.tar'));
  const second = await packDirectory(src, join(src, 'hello-1.0.0.tar'));
  assert.equal(second.sha256, first.sha256);
  assert.equal(second.entries, first.entries);
}));
