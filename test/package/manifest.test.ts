// test/package/manifest.test.ts: the manifest and the versions index (docs/packages.md
// "Manifest", "Target paths"): strict parsing (unknown fields refused, every field checked, the
// field named in the message), canonical bytes, target paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  manifestBytes, PackageError, packageTargetPath, parseManifest, parseVersionsIndex, versionsIndexBytes, versionsTargetPath, type PackageManifest,
} from '../../src/package/index.js';

const GOOD: PackageManifest = {
  name: 'hello', version: '1.2.3', description: 'Says hello. Ünïcödé is fine.',
  entryPoints: { hello: 'bin/hello', 'hello-admin': 'libexec/admin.sh' },
  dependencies: { 'libgreet': '^2.0.0', 'other.pkg': '>=1.0.0 <3' },
  permissions: ['audio', 'folder:docs:ro', 'network:outbound:example.org:443'],
};

const T = { timeout: 10_000 };

function refused(change: (m: Record<string, unknown>) => void, code: string, field: RegExp): void {
  const m = structuredClone(GOOD) as unknown as Record<string, unknown>;
  change(m);
  assert.throws(() => parseManifest(m, 'test manifest'), (e: unknown) => {
    assert.ok(e instanceof PackageError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, field);
    assert.match(e.message, /^test manifest/);
    return true;
  }, JSON.stringify(m).slice(0, 200));
}

test('a complete manifest parses to itself; description is optional', T, () => {
  assert.deepEqual(parseManifest(structuredClone(GOOD), 'm'), GOOD);
  const { description: _, ...bare } = GOOD;
  assert.deepEqual(parseManifest(structuredClone(bare), 'm'), bare);
});

test('manifest bytes are canonical JSON without a trailing newline, and parse back', T, () => {
  const bytes = manifestBytes(GOOD);
  assert.ok(!bytes.toString().endsWith('\n'));
  assert.equal(bytes.toString(), '{"dependencies":{"libgreet":"^2.0.0","other.pkg":">=1.0.0 <3"},"description":"Says hello. Ünïcödé is fine.","entryPoints":{"hello":"bin/hello","hello-admin":"libexec/admin.sh"},"name":"hello","permissions":["audio","folder:docs:ro","network:outbound:example.org:443"],"version":"1.2.3"}');
  assert.deepEqual(parseManifest(JSON.parse(bytes.toString()), 'm'), GOOD);
  const { description: _, ...bare } = GOOD;
  assert.doesNotMatch(manifestBytes(bare).toString(), /description/);
});

test('names: the package-name grammar, not "." or ".."', T, () => {
  for (const name of ['', 'Hello', '-x', '.x', '.', '..', 'a/b', 'a b', 'x'.repeat(65), 'é', 7]) refused((m) => (m.name = name), 'BAD_MANIFEST', /name/);
  for (const name of ['a', '0', 'a.b_c-d', 'x'.repeat(64)]) assert.equal(parseManifest({ ...structuredClone(GOOD), name }, 'm').name, name);
});

test('versions: strict semver only', T, () => {
  // Build metadata is refused too: semver ignores it in precedence, so 1.2.3+a and 1.2.3+b would be one version.
  for (const version of ['v1.2.3', '1.2', '1', ' 1.2.3', '1.2.3 ', '01.2.3', '1.2.3-', '=1.2.3', '1.2.3+build.5', 1, '']) refused((m) => (m.version = version), 'BAD_MANIFEST', /version/);
  for (const version of ['0.0.0', '1.2.3-rc.1', '10.20.30-alpha.1']) assert.equal(parseManifest({ ...structuredClone(GOOD), version }, 'm').version, version);
});

test('description: capped, no control characters', T, () => {
  refused((m) => (m.description = 'x'.repeat(1025)), 'BAD_MANIFEST', /description/);
  refused((m) => (m.description = 'line\nbreak'), 'BAD_MANIFEST', /description/);
  refused((m) => (m.description = 'esc\u001b[31m'), 'BAD_MANIFEST', /description/);
  refused((m) => (m.description = null), 'BAD_MANIFEST', /description/);
});

test('entry points: command names, safe relative paths, at most 64', T, () => {
  for (const path of ['/bin/sh', '../x', 'a/../b', './bin/hello', 'bin//hello', 'bin/', '', 'a\\b']) refused((m) => (m.entryPoints = { hello: path }), 'BAD_MANIFEST', /entryPoints/);
  refused((m) => (m.entryPoints = { 'Bad Name': 'bin/x' }), 'BAD_MANIFEST', /entryPoints/);
  refused((m) => (m.entryPoints = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, 'bin/x']))), 'BAD_MANIFEST', /entryPoints has 65 entries/);
  refused((m) => (m.entryPoints = ['bin/x']), 'BAD_MANIFEST', /entryPoints/);
});

test('dependencies: package names to semver ranges, at most 256', T, () => {
  refused((m) => (m.dependencies = { libgreet: 'not a range' }), 'BAD_MANIFEST', /dependencies\.libgreet/);
  refused((m) => (m.dependencies = { libgreet: 2 }), 'BAD_MANIFEST', /dependencies\.libgreet/);
  refused((m) => (m.dependencies = { 'Lib': '^1.0.0' }), 'BAD_MANIFEST', /dependencies/);
  refused((m) => (m.dependencies = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`d${i}`, '*']))), 'BAD_MANIFEST', /dependencies has 257/);
});

test('runtime: optional, one of the dependencies (whose range pins it), in the canonical bytes', T, () => {
  const pinned = { ...structuredClone(GOOD), runtime: 'libgreet' };
  assert.deepEqual(parseManifest(structuredClone(pinned), 'm'), pinned);
  assert.match(manifestBytes(pinned).toString(), /"runtime":"libgreet",/);
  assert.doesNotMatch(manifestBytes(GOOD).toString(), /runtime/);
  refused((m) => (m.runtime = 'cairn-runtime'), 'BAD_MANIFEST', /runtime "cairn-runtime" must also be one of the dependencies/);
  refused((m) => (m.runtime = 'Not A Name'), 'BAD_MANIFEST', /runtime/);
  refused((m) => (m.runtime = 3), 'BAD_MANIFEST', /runtime/);
});

test('permissions: in the vocabulary, sorted, without duplicates', T, () => {
  refused((m) => (m.permissions = ['root']), 'UNKNOWN_PERMISSION', /permissions\[0\]/);
  refused((m) => (m.permissions = ['display', 'audio']), 'BAD_MANIFEST', /sorted/);
  refused((m) => (m.permissions = ['audio', 'audio']), 'BAD_MANIFEST', /sorted without duplicates/);
  refused((m) => (m.permissions = 'audio'), 'BAD_MANIFEST', /permissions/);
  refused((m) => (m.permissions = Array.from({ length: 257 }, () => 'audio')), 'BAD_MANIFEST', /permissions/);
});

test('unknown and missing fields are refused, naming them', T, () => {
  refused((m) => (m.scripts = { postinstall: 'curl | sh' }), 'BAD_MANIFEST', /unexpected field "scripts"/);
  refused((m) => delete m.permissions, 'BAD_MANIFEST', /missing field "permissions"/);
  assert.throws(() => parseManifest([], 'm'), (e: unknown) => e instanceof PackageError && e.code === 'BAD_MANIFEST');
  assert.throws(() => parseManifest(null, 'm'), (e: unknown) => e instanceof PackageError && e.code === 'BAD_MANIFEST');
});

test('target paths', T, () => {
  assert.equal(packageTargetPath('hello', '1.2.3'), 'packages/hello/hello-1.2.3.tar');
  assert.equal(versionsTargetPath('hello'), 'packages/hello/versions.json');
});

test('the versions index: canonical bytes, strict parsing, paths as the layout says', T, () => {
  const doc = { name: 'hello', versions: { '1.0.0': 'packages/hello/hello-1.0.0.tar', '1.1.0-rc.1': 'packages/hello/hello-1.1.0-rc.1.tar' } };
  const bytes = versionsIndexBytes(doc);
  assert.equal(bytes.toString(), '{"name":"hello","versions":{"1.0.0":"packages/hello/hello-1.0.0.tar","1.1.0-rc.1":"packages/hello/hello-1.1.0-rc.1.tar"}}');
  assert.deepEqual(parseVersionsIndex(bytes, 'idx'), doc);
  const bad = (value: unknown): void => assert.throws(() => parseVersionsIndex(Buffer.from(JSON.stringify(value)), 'idx'), (e: unknown) => e instanceof PackageError && e.code === 'BAD_VERSIONS_INDEX', JSON.stringify(value));
  bad({ name: 'hello', versions: { '1.0.0': 'packages/other/other-1.0.0.tar' } });
  bad({ name: 'hello', versions: { 'v1.0.0': 'packages/hello/hello-v1.0.0.tar' } });
  bad({ name: 'Hello', versions: {} });
  bad({ name: 'hello', versions: {}, extra: 1 });
  bad({ name: 'hello' });
  assert.throws(() => parseVersionsIndex(Buffer.from('{"name":'), 'idx'), (e: unknown) => e instanceof PackageError && e.code === 'BAD_VERSIONS_INDEX');
  assert.throws(() => parseVersionsIndex(Buffer.alloc(3 * 1024 * 1024, 0x20), 'idx'), (e: unknown) => e instanceof PackageError && e.code === 'BAD_VERSIONS_INDEX');
});
