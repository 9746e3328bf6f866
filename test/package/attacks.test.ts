// test/package/attacks.test.ts: a package author's hostile archives that extract.test.ts does not
// already build (docs/packages.md "What extraction refuses"): link targets smuggled through pax
// and GNU long-link headers, names through the ustar prefix and GNU long names, entry types and
// manifests that are not what they look like, link loops, and an archive of links whose
// resolution costs far more than its size (a CPU bomb). Each archive is written header by header
// (hostile-archive.ts); each test asserts the typed refusal, that the destination does not exist
// and that nothing beside it changed. A failing test here names a weakness this branch reports.
import { test } from 'node:test';
import { assertRefused, paxEntry, rawEntry, validPackageEntries, VALID_MANIFEST, type RawEntry } from './hostile-archive.js';

const T = { timeout: 60_000 };

const valid = (): RawEntry[] => validPackageEntries();

/** A GNU long-name ("L") or long-link ("K") header carrying `value` for the next entry. */
function gnuLong(type: 'L' | 'K', value: string): Buffer {
  return rawEntry({ name: '././@LongLink', type, content: Buffer.from(`${value}\u0000`, 'utf8') });
}

test('refuses a symlink whose innocent ustar target is replaced by a pax linkpath to /etc', T, async () => {
  await assertRefused([...valid(), paxEntry({ linkpath: '/etc/passwd' }), { name: 'share', type: '2', linkName: 'bin' }], 'LINK_ESCAPES');
  await assertRefused([...valid(), paxEntry({ linkpath: '../outside/etc' }), { name: 'share', type: '2', linkName: 'bin' }], 'LINK_ESCAPES');
});

test('refuses a symlink whose target comes from a GNU long-link header and escapes', T, async () => {
  await assertRefused([...valid(), gnuLong('K', `${'a/'.repeat(60)}${'../'.repeat(61)}outside/etc`), { name: 'share', type: '2', linkName: 'bin' }], 'LINK_ESCAPES');
});

test('refuses a ".." smuggled through the ustar prefix field or a GNU long name', T, async () => {
  await assertRefused([...valid(), { name: 'passwd', prefix: '../outside/etc', type: '0', content: Buffer.from('pwned') }], 'UNSAFE_PATH');
  await assertRefused([...valid(), gnuLong('L', '../outside/etc/passwd'), { name: 'innocent', type: '0', content: Buffer.from('pwned') }], 'UNSAFE_PATH');
});

test('refuses the entry types other tar readers treat as files or metadata (contiguous "7", GNU sparse "S", volume "V")', T, async () => {
  for (const type of ['7', 'S', 'V', 'D', 'M']) {
    await assertRefused([...valid(), { name: 'x', type, content: Buffer.from('x') }], ['SPECIAL_FILE', 'BAD_ARCHIVE']);
  }
});

test('refuses a manifest that is a symbolic link to another file of the archive (MISSING_MANIFEST)', T, async () => {
  await assertRefused([
    { name: 'bin/', type: '5' },
    { name: 'bin/hello', type: '0', content: Buffer.from('#!/bin/sh\necho hello\n'), mode: 0o755 },
    { name: 'cairn-package.json', type: '2', linkName: 'bin/hello' },
  ], 'MISSING_MANIFEST');
});

test('refuses a second manifest entry that would replace the first (DUPLICATE_ENTRY)', T, async () => {
  const other = Buffer.from(JSON.stringify({ ...VALID_MANIFEST, permissions: ['network:outbound'] }));
  await assertRefused([...valid(), paxEntry({ path: 'cairn-package.json' }), { name: 'placeholder', type: '0', content: other }], 'DUPLICATE_ENTRY');
});

test('refuses an entry point that names a file through a directory link of the archive (MISSING_ENTRY_POINT)', T, async () => {
  const manifest = { ...VALID_MANIFEST, entryPoints: { hello: 'b/hello' } };
  const entries = validPackageEntries(manifest);
  await assertRefused([...entries, { name: 'b', type: '2', linkName: 'bin' }], 'MISSING_ENTRY_POINT');
});

test('refuses a loop of symbolic links (a -> b, b -> a) without hanging', T, async () => {
  await assertRefused([...valid(), { name: 'a', type: '2', linkName: 'b' }, { name: 'b', type: '2', linkName: 'a' }], 'LINK_ESCAPES');
  await assertRefused([...valid(), { name: 'self', type: '2', linkName: 'self/x' }], 'LINK_ESCAPES');
});

test('refuses a symlink or a directory that claims content (BAD_ARCHIVE)', T, async () => {
  await assertRefused([...valid(), { name: 'l', type: '2', linkName: 'bin', content: Buffer.from(`${'\u0000'.repeat(500)}`) }], 'BAD_ARCHIVE');
  await assertRefused([...valid(), { name: 'd/', type: '5', content: Buffer.from('hidden header?') }], 'BAD_ARCHIVE');
});

test('refuses a global pax header that sets a path for every entry (BAD_ARCHIVE)', T, async () => {
  const global = rawEntry({ name: 'GlobalHead', type: 'g', content: Buffer.from('30 path=../outside/etc/passwd\n') });
  await assertRefused([global, ...valid()], 'BAD_ARCHIVE');
});

test('refuses an archive of links whose resolution costs far more than its size (link-resolution CPU bomb), before writing anything', T, async () => {
  // 38 links chained m1 -> m2 -> ... -> m38 -> bin, each target 200 components down and 200 back up
  // (1003 bytes, under the 1024-byte cap), then N links to m1: every one of them walks
  // 38 x 400 components, and each step joins the whole path walked so far (archive-paths.ts
  // resolveLink). About 70 ms of CPU per 2 KiB of archive on this machine: 10,000 such links
  // (20 MB) keep an installer or a verifier busy for over ten minutes; 100,000 for two hours.
  // Expected: a cap on the work of resolving links (or each link resolved once), refused here.
  const depth = 200;
  const hop = (next: string): string => `${'x/'.repeat(depth)}${'../'.repeat(depth)}${next}`;
  const parts: Array<RawEntry | Buffer> = [...valid()];
  for (let k = 1; k <= 37; k++) parts.push(paxEntry({ linkpath: hop(`m${k + 1}`) }), { name: `m${k}`, type: '2', linkName: 'placeholder' });
  parts.push({ name: 'm38', type: '2', linkName: 'bin' });
  for (let i = 0; i < 50; i++) parts.push(paxEntry({ linkpath: hop('m1') }), { name: `l${i}`, type: '2', linkName: 'placeholder' });
  await assertRefused(parts, ['LINK_ESCAPES', 'TOO_LARGE']);
});
