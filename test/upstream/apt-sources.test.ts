// test/upstream/apt-sources.test.ts: the archives an import reads, from apt's configuration (both
// formats), and the strict control-file reader under it (docs/upstream.md "Where from").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDeb822, sourceArchives, UpstreamError } from '../../src/upstream/index.js';

async function aptConfig(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-apt-'));
  await mkdir(join(dir, 'sources.list.d'));
  await mkdir(join(dir, 'trusted.gpg.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

test('deb entries are read as deb-src where apt has none: same archive, suite and components, with the entry\'s Signed-By', async () => {
  const dir = await aptConfig({
    'sources.list.d/debian.sources': 'Types: deb\n# a comment\nURIs: http://archive.test/debian/\nSuites: bookworm bookworm-updates\nComponents: main contrib\nSigned-By: /usr/share/keyrings/test.gpg\n\nTypes: deb\nURIs: http://disabled.test/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n',
    'sources.list': 'deb [arch=amd64 signed-by=/k/one.gpg] https://other.test/x stable main # trailing\ndeb cdrom:[Debian]/ bookworm main\n',
  });
  try {
    const archives = await sourceArchives({ etcApt: dir });
    assert.deepEqual(archives.map((a) => [a.uri, a.suite, a.components.join(' '), JSON.stringify(a.keyring)]), [
      ['https://other.test/x', 'stable', 'main', JSON.stringify({ files: ['/k/one.gpg'] })],
      ['http://archive.test/debian', 'bookworm', 'main contrib', JSON.stringify({ files: ['/usr/share/keyrings/test.gpg'] })],
      ['http://archive.test/debian', 'bookworm-updates', 'main contrib', JSON.stringify({ files: ['/usr/share/keyrings/test.gpg'] })],
    ]);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('deb-src entries are preferred; without Signed-By the keyring is every key apt trusts; an inline key is kept; a fingerprint Signed-By and no archive at all are NO_SOURCE', async () => {
  const dir = await aptConfig({
    'sources.list': 'deb http://archive.test/debian bookworm main\ndeb-src http://src.test/debian bookworm main\n',
    'trusted.gpg.d/b.asc': 'key', 'trusted.gpg.d/a.gpg': 'key',
  });
  try {
    const [only, ...rest] = await sourceArchives({ etcApt: dir });
    assert.equal(rest.length, 0);
    assert.equal(only!.uri, 'http://src.test/debian');
    assert.deepEqual(only!.keyring, { files: [join(dir, 'trusted.gpg.d/a.gpg'), join(dir, 'trusted.gpg.d/b.asc')] });
    await writeFile(join(dir, 'sources.list'), '');
    await writeFile(join(dir, 'sources.list.d/inline.sources'), 'Types: deb\nURIs: file:/srv/mirror\nSuites: stable\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n');
    assert.deepEqual((await sourceArchives({ etcApt: dir }))[0]!.keyring, { inline: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----' });
    await writeFile(join(dir, 'sources.list.d/inline.sources'), 'Types: deb\nURIs: file:/srv/mirror\nSuites: stable\nComponents: main\nSigned-By: 0123456789ABCDEF0123456789ABCDEF01234567\n');
    await assert.rejects(sourceArchives({ etcApt: dir }), (e: unknown) => e instanceof UpstreamError && e.code === 'NO_SOURCE' && /by fingerprint/.test(e.message));
    await rm(join(dir, 'sources.list.d/inline.sources'));
    await assert.rejects(sourceArchives({ etcApt: dir }), (e: unknown) => e instanceof UpstreamError && e.code === 'NO_SOURCE' && /names no http, https or file archive/.test(e.message));
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('control files: continuation lines join, field names are case-insensitive; a field twice, a stray line or a continuation first is MALFORMED naming the line', () => {
  const [first, second] = parseDeb822('Package: hello\nchecksums-sha256:\n abc 1 x\n def 2 y\n\n\nPackage: other\n', 'Sources');
  assert.equal(first!.get('Checksums-Sha256'), '\nabc 1 x\ndef 2 y');
  assert.equal(second!.get('package'), 'other');
  for (const [text, pattern] of [
    ['Package: a\npackage: b\n', /line 2: the field package twice/],
    ['Package: a\nnot a field\n', /line 2: expected "Name: value"/],
    [' continued\n', /line 1: a continuation line with no field/],
  ] as const) assert.throws(() => parseDeb822(text, 'Sources'), (e: unknown) => e instanceof UpstreamError && e.code === 'MALFORMED' && pattern.test(e.message));
  assert.throws(() => parseDeb822('A: 1\n\nB: 2\n', 'Release', { maxParagraphs: 1 }), /over 1 paragraphs/);
});
