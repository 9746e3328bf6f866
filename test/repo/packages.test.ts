// test/repo/packages.test.ts: publishing packages (src/repo/packages.ts; docs/packages.md
// "Publishing"): the archive target carries the manifest, the versions index and the package index
// follow each version, a published version never changes bytes, and with --role the indexes are
// read back from the role they are written to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateEd25519 } from '../../src/crypto/index.js';
import { CUSTOM_FIELD, packDirectory, parsePackageIndex, parseVersionsIndex } from '../../src/package/index.js';
import { RepoError, Workspace, addPackage, delegatePaths } from '../../src/repo/index.js';
import { makeRepo, tempDir, testKeys } from './fixtures.js';

const T = { timeout: 60_000 };

async function packHello(dir: string, version: string, text: string): Promise<string> {
  const src = join(dir, `src-${version}-${text}`);
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'bin', 'hello'), `#!/bin/sh\necho ${text}\n`, { mode: 0o755 });
  await writeFile(join(src, 'cairn-package.json'), JSON.stringify({ name: 'hello', version, description: text, entryPoints: { hello: 'bin/hello' }, dependencies: {}, permissions: [] }));
  const out = join(dir, `hello-${version}-${text}.tar`);
  await packDirectory(src, out);
  return out;
}

/** The custom metadata and content of `path` as `role` lists it in the staged workspace. */
async function staged(dir: string, role: string, path: string): Promise<{ custom: unknown; bytes: Buffer } | undefined> {
  const ws = await Workspace.open(dir);
  const entry = (((await ws.role(role)).signed as unknown as { targets: Record<string, { custom?: unknown; hashes: { sha256: string } }> }).targets)[path];
  return entry && { custom: entry.custom, bytes: await readFile(ws.layout.blob(entry.hashes.sha256)) };
}

test('add-package publishes the archive with its manifest and keeps both indexes; a version never changes bytes', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    await makeRepo(join(dir, 'repo'), keys);
    const repo = join(dir, 'repo');
    const signers = keys.targets;
    await addPackage(repo, await packHello(dir, '1.0.0', 'one'), { signers });
    const { manifest } = await addPackage(repo, await packHello(dir, '1.1.0', 'two'), { signers });
    const archive = await staged(repo, 'targets', 'packages/hello/hello-1.1.0.tar');
    assert.deepEqual((archive!.custom as Record<string, unknown>)[CUSTOM_FIELD], manifest);
    const versions = parseVersionsIndex((await staged(repo, 'targets', 'packages/hello/versions.json'))!.bytes, 'versions.json');
    assert.deepEqual(versions.versions, { '1.0.0': 'packages/hello/hello-1.0.0.tar', '1.1.0': 'packages/hello/hello-1.1.0.tar' });
    const index = parsePackageIndex((await staged(repo, 'targets', 'packages/index.json'))!.bytes, 'index.json');
    assert.deepEqual(index.packages, { hello: { version: '1.1.0', description: 'two' } });

    await assert.rejects(addPackage(repo, await packHello(dir, '1.0.0', 'other bytes'), { signers }), (e: unknown) => e instanceof RepoError && e.code === 'VERSION_EXISTS');
  } finally {
    await cleanup();
  }
});

test('with --role, the versions index and the "version exists" check read the role written to', T, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const keys = testKeys();
    const repo = join(dir, 'repo');
    await makeRepo(repo, keys);
    const dev = generateEd25519().signer;
    // Both roles are delegated packages/hello/...; a client's search (and the default) finds "first", --role names "pkgs".
    await delegatePaths(repo, 'first', ['packages/*/*', 'packages/*'], { keys: [dev.publicKey], threshold: 1, signers: [...keys.targets, dev] });
    await delegatePaths(repo, 'pkgs', ['packages/hello/*', 'packages/index.json'], { keys: [dev.publicKey], threshold: 1, signers: [...keys.targets, dev] });
    const signers = [...keys.targets, dev];
    await addPackage(repo, await packHello(dir, '1.0.0', 'one'), { role: 'pkgs', signers });
    await addPackage(repo, await packHello(dir, '2.0.0', 'two'), { role: 'pkgs', signers });
    const versions = parseVersionsIndex((await staged(repo, 'pkgs', 'packages/hello/versions.json'))!.bytes, 'versions.json');
    assert.deepEqual(Object.keys(versions.versions), ['1.0.0', '2.0.0'], 'the index read back from pkgs keeps 1.0.0');
    await assert.rejects(addPackage(repo, await packHello(dir, '1.0.0', 'other bytes'), { role: 'pkgs', signers }), (e: unknown) => e instanceof RepoError && e.code === 'VERSION_EXISTS');
  } finally {
    await cleanup();
  }
});
