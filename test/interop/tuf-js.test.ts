// test/interop/tuf-js.test.ts: interoperability with another TUF implementation, both ways of
// it that matter to users: the tuf-js client (the one npm and sigstore use) refreshes and
// downloads from repositories that cairn's publisher tools made, with delegations, succinct and
// classic hash bins and a root rotation; and cairn's own client does the same on the same trees.
// Everything is served by `cairn serve`'s server on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater as TufJsUpdater } from 'tuf-js';
import { Updater } from '../../src/tuf/index.js';
import { startMirror } from '../../src/mirror/index.js';
import {
  addTargets, collectTargetSources, delegateHashBins, delegatePaths, delegateSuccinct, publish, rotateRoot,
} from '../../src/repo/index.js';
import { makeRepo, signers, tempDir, testKeys, writeSource } from '../repo/fixtures.js';

const T = { timeout: 60_000 };

interface Client {
  name: string;
  fetch(targetPath: string): Promise<Buffer>;
}

/** A fresh client of each implementation, trusting 1.root.json of the served repository. */
async function clients(base: string, url: string, tag: string): Promise<Client[]> {
  const rootBytes = await readFile(join(base, 'repo', 'public', 'metadata', '1.root.json'));
  const make = async (name: string, build: (metadataDir: string, targetDir: string) => Client['fetch']): Promise<Client> => {
    const metadataDir = join(base, `${name}-${tag}`, 'metadata');
    const targetDir = join(base, `${name}-${tag}`, 'targets');
    await mkdir(metadataDir, { recursive: true });
    await mkdir(targetDir, { recursive: true });
    await writeFile(join(metadataDir, 'root.json'), rootBytes);
    return { name, fetch: build(metadataDir, targetDir) };
  };
  return [
    await make('tuf-js', (metadataDir, targetDir) => async (path) => {
      const u = new TufJsUpdater({ metadataDir, targetDir, metadataBaseUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets` });
      await u.refresh();
      const info = await u.getTargetInfo(path);
      assert.ok(info, `tuf-js finds ${path}`);
      return readFile(await u.downloadTarget(info));
    }),
    await make('cairn', (metadataDir, targetDir) => async (path) => {
      const u = new Updater({ metadataDir, targetDir, metadataBaseUrl: `${url}/metadata`, targetBaseUrl: `${url}/targets` });
      await u.refresh();
      const info = await u.getTargetInfo(path);
      assert.ok(info, `cairn finds ${path}`);
      return readFile(await u.downloadTarget(info));
    }),
  ];
}

test('tuf-js and cairn read a cairn repository with delegations, succinct bins and a root rotation', T, async () => {
  const { dir, cleanup } = await tempDir('cairn-interop-');
  const repo = join(dir, 'repo');
  const keys = testKeys({ root: 2 });
  await makeRepo(repo, keys, { thresholds: { root: 2 } });
  const online = [...keys.snapshot, ...keys.timestamp];
  const [appsKey, binKey] = signers(2);

  const files: Record<string, string> = { 'readme.txt': 'top-level target\n' };
  for (let i = 0; i < 20; i++) files[`apps/tool-${i}.tar.gz`] = `release ${i} of tool\n`.repeat(i + 1);
  for (const [path, content] of Object.entries(files)) await writeSource(dir, join('src', path), content);

  await delegatePaths(repo, 'apps', ['apps/*'], { keys: [appsKey!.publicKey], threshold: 1, terminating: true, signers: [...keys.targets, appsKey!] });
  await delegateSuccinct(repo, 'apps-bin', 4, { from: 'apps', keys: [binKey!.publicKey], threshold: 1, signers: [appsKey!, binKey!] });
  const { sources } = await collectTargetSources([join(dir, 'src')], { baseDir: join(dir, 'src') });
  await addTargets(repo, sources, { signers: [...keys.targets, appsKey!, binKey!] });
  await publish(repo, { signers: online });

  const server = await startMirror({ root: join(repo, 'public') });
  try {
    // A client that pinned root v1 before the rotation must follow it.
    const before = await clients(dir, server.url, 'early');
    for (const c of before) assert.equal((await c.fetch('readme.txt')).toString(), files['readme.txt'], c.name);

    // Root rotation: a new pair of root keys, signed by both the old and the new root threshold.
    const newRoot = signers(2);
    await rotateRoot(repo, { roles: { root: { keys: newRoot.map((s) => s.publicKey), threshold: 2 } }, signers: [...keys.root, ...newRoot] });
    await writeSource(dir, 'late/apps/tool-new.tar.gz', 'released after the rotation\n');
    const late = await collectTargetSources([join(dir, 'late')], { baseDir: join(dir, 'late') });
    await addTargets(repo, late.sources, { signers: [binKey!] });
    await publish(repo, { signers: online });

    for (const c of [...before, ...(await clients(dir, server.url, 'fresh'))]) {
      for (const [path, content] of Object.entries(files)) assert.equal((await c.fetch(path)).toString(), content, `${c.name} ${path}`);
      assert.equal((await c.fetch('apps/tool-new.tar.gz')).toString(), 'released after the rotation\n', c.name);
    }
  } finally {
    await server.close();
    await cleanup();
  }
});

test('tuf-js and cairn read a cairn repository with classic hash-bin delegations, without consistent snapshots', T, async () => {
  const { dir, cleanup } = await tempDir('cairn-interop-');
  const repo = join(dir, 'repo');
  const keys = testKeys();
  await makeRepo(repo, keys, { consistentSnapshot: false });
  const [binKey] = signers(1);
  await delegateHashBins(repo, 'bins', 32, { keys: [binKey!.publicKey], threshold: 1, signers: [...keys.targets, binKey!] });
  const files: Record<string, string> = {};
  for (let i = 0; i < 40; i++) files[`pkg/${i}/data.bin`] = `payload ${i}\n`;
  for (const [path, content] of Object.entries(files)) await writeSource(dir, join('src', path), content);
  const { sources } = await collectTargetSources([join(dir, 'src')], { baseDir: join(dir, 'src') });
  await addTargets(repo, sources, { signers: [binKey!] });
  await publish(repo, { signers: [...keys.snapshot, ...keys.timestamp] });

  const server = await startMirror({ root: join(repo, 'public') });
  try {
    for (const c of await clients(dir, server.url, 'bins')) {
      for (const path of ['pkg/0/data.bin', 'pkg/17/data.bin', 'pkg/39/data.bin']) assert.equal((await c.fetch(path)).toString(), files[path], `${c.name} ${path}`);
    }
  } finally {
    await server.close();
    await cleanup();
  }
});
