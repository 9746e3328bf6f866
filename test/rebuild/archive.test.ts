// test/rebuild/archive.test.ts: deterministic source archives (sorted entries, fixed mtime,
// uid/gid 0, normalized modes) and the checks that stop a hostile source archive before it is
// extracted (links, "..", absolute paths), plus the archive difference summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from 'tar';
import { checkSourceArchive, compareArtifacts, readTarEntries, RebuildError, writeSourceArchive } from '../../src/rebuild/index.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const T = { timeout: 30_000 };

const withTemp = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('archive', fn);

async function tree(root: string, files: Record<string, string>, order: string[], mode: number, mtime: number): Promise<void> {
  for (const name of order) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), files[name]!);
    await chmod(join(root, name), name.endsWith('.sh') ? mode | 0o111 : mode);
    await utimes(join(root, name), mtime, mtime);
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof RebuildError && e.code === code);
}

test('the source archive is identical whatever the files\' mtimes, modes and creation order', T, () => withTemp(async (dir) => {
  const files = { 'src/main.c': 'int main(){return 0;}\n', 'Makefile': 'all:\n', 'build.sh': 'echo hi\n', 'docs/é.txt': 'unicode\n' };
  const names = Object.keys(files);
  await tree(join(dir, 'a'), files, names, 0o644, 1_000_000);
  await tree(join(dir, 'b'), files, [...names].reverse(), 0o664, 2_000_000);
  await mkdir(join(dir, 'b', '.git'));
  await writeFile(join(dir, 'b', '.git', 'HEAD'), 'ref: refs/heads/main\n');
  const a = await writeSourceArchive(join(dir, 'a'), join(dir, 'a.tar'), 1_700_000_000);
  const b = await writeSourceArchive(join(dir, 'b'), join(dir, 'b.tar'), 1_700_000_000);
  assert.equal(a.sha256, b.sha256);
  assert.deepEqual(await readFile(join(dir, 'a.tar')), await readFile(join(dir, 'b.tar')));
  const { entries } = await checkSourceArchive(join(dir, 'a.tar'));
  assert.deepEqual(entries.map((e) => e.path), ['Makefile', 'build.sh', 'docs/', 'docs/é.txt', 'src/', 'src/main.c']);
  assert.ok(entries.every((e) => e.mtime === 1_700_000_000 && e.uid === 0 && e.gid === 0));
  assert.equal(entries.find((e) => e.path === 'build.sh')!.mode, 0o755);
  assert.equal(entries.find((e) => e.path === 'Makefile')!.mode, 0o644);
  // GNU tar reads it as well, with no user or group names.
  const listing = spawnSync('tar', ['-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
  assert.equal(listing.status, 0, listing.stderr);
  assert.match(listing.stdout, /-rwxr-xr-x 0\/0 +8 2023-11-14 22:13 build\.sh/);
  // Another SOURCE_DATE_EPOCH is another archive.
  const c = await writeSourceArchive(join(dir, 'a'), join(dir, 'c.tar'), 1_700_000_001);
  assert.notEqual(c.sha256, a.sha256);
}));

test('a source tree with a symbolic link is refused (links could point outside the tree)', T, () => withTemp(async (dir) => {
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'a'), 'x');
  await symlink('/etc/passwd', join(dir, 'src', 'passwd'));
  await rejects(writeSourceArchive(join(dir, 'src'), join(dir, 'out.tar'), 0), 'UNSUPPORTED_FILE');
}));

test('refuses a source archive holding a symlink, a ".." path or an absolute path, and non-archives', T, () => withTemp(async (dir) => {
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'a'), 'x');
  await symlink('/etc/passwd', join(dir, 'src', 'link'));
  await create({ file: join(dir, 'link.tar'), cwd: join(dir, 'src') }, ['a', 'link']);
  await rejects(checkSourceArchive(join(dir, 'link.tar')), 'BAD_SOURCE_ARCHIVE');
  // GNU tar with --absolute-names / a transform writes the hostile paths node-tar would strip.
  for (const [name, transform] of [['dotdot.tar', 's,^a$,../../escape,'], ['abs.tar', 's,^a$,/etc/cron.d/x,']] as const) {
    const r = spawnSync('tar', ['-cf', join(dir, name), '--absolute-names', `--transform=${transform}`, '-C', join(dir, 'src'), 'a']);
    assert.equal(r.status, 0, r.stderr.toString());
    await rejects(checkSourceArchive(join(dir, name)), 'BAD_SOURCE_ARCHIVE');
  }
  await writeFile(join(dir, 'junk.tar'), 'this is not a tar archive at all'.repeat(40));
  await rejects(checkSourceArchive(join(dir, 'junk.tar')), 'BAD_SOURCE_ARCHIVE');
}));

test('the difference summary of two archives names the files that differ and their sizes', T, () => withTemp(async (dir) => {
  for (const [side, files] of [['p', { 'same.txt': 'same', 'changed.txt': 'one', 'gone.txt': 'x' }], ['r', { 'same.txt': 'same', 'changed.txt': 'three', 'new.txt': 'yy' }]] as const) {
    await tree(join(dir, side), files, Object.keys(files), 0o644, 0);
    await writeSourceArchive(join(dir, side), join(dir, `${side}.tar`), 0);
  }
  const d = await compareArtifacts(join(dir, 'p.tar'), join(dir, 'r.tar'));
  assert.ok(d && d.kind === 'archive');
  assert.deepEqual(d.files, [
    { path: 'changed.txt', change: 'content', publishedSize: 3, rebuiltSize: 5 },
    { path: 'gone.txt', change: 'only-published', publishedSize: 1, rebuiltSize: null },
    { path: 'new.txt', change: 'only-rebuilt', publishedSize: null, rebuiltSize: 2 },
  ]);
  assert.equal(await compareArtifacts(join(dir, 'p.tar'), join(dir, 'p.tar')), undefined);
  // Not archives: sizes and the first differing offset.
  await writeFile(join(dir, 'x'), Buffer.from('abcdef'));
  await writeFile(join(dir, 'y'), Buffer.from('abcXef!'));
  assert.deepEqual(await compareArtifacts(join(dir, 'x'), join(dir, 'y')), { kind: 'bytes', publishedLength: 6, rebuiltLength: 7, firstDifferingOffset: 3 });
  const listing = await readTarEntries(join(dir, 'r.tar'), 'r.tar');
  assert.equal(listing.format, 'tar');
}));
