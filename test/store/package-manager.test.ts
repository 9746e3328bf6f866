// test/store/package-manager.test.ts: the package manager against a real witnessed repository
// served on 127.0.0.1 (docs/packages.md, docs/cli.md "Installing software"): install, update,
// permission consent and holds, rollback to the parent, remove and gc, dependencies from verified
// metadata, mirrors that serve bad data skipped, offline bundles installed with the network gone;
// and the attacks: a manifest in the archive other than the verified one, a release the witnesses
// never saw, a stale bundle. Each refusal is a typed error and leaves the active generation and
// the store as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InstallError, createBundle, installBundle, installPackages, openStore, removePackages, searchPackages, updatePackages, type InstallEvent,
} from '../../src/store/index.js';
import type { JsonObject } from '../../src/encoding/index.js';
import { PackageRepository } from '../fixtures/package-repository.js';
import { SimulatorServer } from '../fixtures/repository-simulator.js';
import { storeState } from '../fixtures/store-state.js';

const T = { timeout: 120_000 };

async function setup(): Promise<{ repo: PackageRepository; root: string; close: () => Promise<void> }> {
  const repo = await PackageRepository.create();
  const root = await mkdtemp(join(tmpdir(), 'cairn-store-'));
  return { repo, root, close: async () => {
    await repo.close();
    await rm(root, { recursive: true, force: true });
  } };
}

test('install, run the entry point, update, roll back to the parent, remove, gc, verify', T, async () => {
  const { repo, root, close } = await setup();
  try {
    await repo.publish({ name: 'hello', version: '1.0.0' });
    await repo.addRemoteTo(root);
    const events: InstallEvent['type'][] = [];
    const first = await installPackages({ storeRoot: root, onEvent: (e) => events.push(e.type) }, ['hello']);
    assert.equal(first.generation!.number, 1);
    assert.deepEqual(first.added.map((a) => `${a.name}@${a.version}`), ['hello@1.0.0']);
    assert.ok(events.includes('refreshed') && events.includes('downloaded'));
    const run = spawnSync(join(root, 'current', 'bin', 'hello'), { encoding: 'utf8' });
    assert.equal(run.stdout, 'hello 1.0.0\n');

    await repo.publish({ name: 'hello', version: '1.1.0' });
    const second = await updatePackages({ storeRoot: root });
    assert.deepEqual(second.updated.map((u) => `${u.from}->${u.to}`), ['1.0.0->1.1.0']);
    assert.equal(spawnSync(join(root, 'current', 'bin', 'hello'), { encoding: 'utf8' }).stdout, 'hello 1.1.0\n');

    const store = await openStore(root);
    assert.deepEqual(await store.rollback(), { from: 2, to: 1 });
    assert.equal(spawnSync(join(root, 'current', 'bin', 'hello'), { encoding: 'utf8' }).stdout, 'hello 1.0.0\n');

    const removed = await removePackages({ storeRoot: root }, ['hello']);
    assert.deepEqual(removed.removed, [{ name: 'hello', version: '1.0.0' }]);
    assert.equal(removed.generation!.parent, 1, 'the new generation replaces the active one (1), not the newest (2)');
    const gc = await store.gc({ keepGenerations: 1 });
    assert.ok(gc.removedPaths.length >= 2, 'both versions of hello are unreferenced once only the empty generation is kept');
    const report = await store.verify();
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.garbage, [], 'the remote and its cache are the store\'s own, not strays (gc has nothing left to remove)');
  } finally {
    await close();
  }
});

test('dependencies come from verified metadata; a conflict names who wants what', T, async () => {
  const { repo, root, close } = await setup();
  try {
    await repo.publish(
      { name: 'lib', version: '1.0.0' }, { name: 'lib', version: '2.0.0' },
      { name: 'app', version: '1.0.0', dependencies: { lib: '^1.0.0' } },
      { name: 'tool', version: '1.0.0', dependencies: { lib: '^2.0.0' } },
    );
    await repo.addRemoteTo(root);
    assert.deepEqual((await searchPackages({ storeRoot: root }, 'LIB')).map((r) => `${r.name}@${r.version} ${r.remote}`), ['lib@2.0.0 main']);
    const r = await installPackages({ storeRoot: root }, ['app']);
    assert.deepEqual(r.added.map((a) => `${a.name}@${a.version}`).sort(), ['app@1.0.0', 'lib@1.0.0']);
    assert.deepEqual((await searchPackages({ storeRoot: root }, 'a')).map((r) => `${r.name} ${r.installed ?? '-'}`), ['app 1.0.0']);
    const before = await storeState(root);
    await assert.rejects(installPackages({ storeRoot: root }, ['tool']), (e: unknown) => {
      assert.ok(e instanceof InstallError && e.code === 'DEPENDENCY_CONFLICT', String(e));
      assert.match(e.message, /app@1\.0\.0 wants lib@\^1\.0\.0/);
      assert.match(e.message, /tool@1\.0\.0 wants lib@\^2\.0\.0/);
      return true;
    });
    assert.equal(await storeState(root), before);
    const list = (await (await openStore(root)).current())!.packages;
    assert.equal(list.lib!.explicit, false);
  } finally {
    await close();
  }
});

test('an update that requests more permissions stops before activation; held with holdPermissionChanges, activated with consent', T, async () => {
  const { repo, root, close } = await setup();
  try {
    await repo.publish({ name: 'viewer', version: '1.0.0', permissions: ['display'] });
    await repo.addRemoteTo(root);
    await installPackages({ storeRoot: root }, ['viewer']);
    await repo.publish({ name: 'viewer', version: '2.0.0', permissions: ['display', 'network:outbound'] });
    const before = await storeState(root);
    await assert.rejects(updatePackages({ storeRoot: root }), (e: unknown) => e instanceof InstallError && e.code === 'PERMISSION_CONSENT_NEEDED' && /viewer 1\.0\.0 -> 2\.0\.0 requests more permissions: network:outbound/.test(e.message));
    assert.equal(await storeState(root), before, 'nothing activated, nothing written');
    const held = await updatePackages({ storeRoot: root, holdPermissionChanges: true });
    assert.deepEqual(held.held.map((h) => [h.name, h.installed, h.available, h.increase]), [['viewer', '1.0.0', '2.0.0', ['network:outbound']]]);
    assert.equal(held.unchanged, true);
    const accepted = await updatePackages({ storeRoot: root, acceptPermissions: true });
    assert.deepEqual(accepted.updated, [{ name: 'viewer', from: '1.0.0', to: '2.0.0', increase: ['network:outbound'] }]);
    assert.deepEqual((await (await openStore(root)).current())!.packages.viewer!.permissions, ['display', 'network:outbound']);
  } finally {
    await close();
  }
});

test('refuses an archive whose manifest is not the verified one (MANIFEST_MISMATCH), writing nothing', T, async () => {
  const { repo, root, close } = await setup();
  try {
    // The archive asks for nothing; the metadata's copy (what a user would be shown) is edited to
    // look harmless while the archive's says otherwise: either way the two must be the same bytes.
    const { archive, manifest } = await repo.pack({ name: 'sneaky', version: '1.0.0', permissions: ['network:outbound'] });
    const shown = { ...(manifest as unknown as JsonObject), permissions: [] };
    repo.addArchive('sneaky', '1.0.0', await readFile(archive), shown);
    await repo.release();
    await repo.addRemoteTo(root);
    const before = await storeState(root);
    await assert.rejects(installPackages({ storeRoot: root }, ['sneaky']), (e: unknown) => e instanceof InstallError && e.code === 'MANIFEST_MISMATCH');
    assert.equal(await storeState(root), before);
  } finally {
    await close();
  }
});

test('refuses a release the witnesses never saw (NOT_WITNESSED), writing nothing', T, async () => {
  const { repo, root, close } = await setup();
  try {
    await repo.publish({ name: 'hello', version: '1.0.0' });
    await repo.addRemoteTo(root);
    await installPackages({ storeRoot: root }, ['hello']);
    const { archive, manifest } = await repo.pack({ name: 'hello', version: '6.6.6' });
    repo.addArchive('hello', '6.6.6', await readFile(archive), manifest as unknown as JsonObject);
    repo.repo.sim.release('targets'); // published, never witnessed
    await repo.repo.signHead();
    const before = await storeState(root);
    await assert.rejects(updatePackages({ storeRoot: root }), (e: unknown) => {
      assert.ok(e instanceof InstallError && e.code === 'ALL_MIRRORS_FAILED', String(e));
      assert.match(e.message, /NOT_WITNESSED/);
      return true;
    });
    assert.equal(await storeState(root), before);
  } finally {
    await close();
  }
});

test('a mirror that serves bad bytes is skipped and reported, and the next one used', T, async () => {
  const { repo, root, close } = await setup();
  const evil = await new SimulatorServer(repo.repo.sim).start();
  try {
    await repo.publish({ name: 'hello', version: '1.0.0' });
    // The first mirror serves the real metadata but a tampered archive (under either file name).
    for (const archive of [...repo.repo.sim.files.keys()].filter((p) => p.startsWith('targets/packages/hello/') && p.endsWith('.tar'))) {
      evil.overrides.set(archive, (_req, res) => {
        const bytes = Buffer.from(repo.repo.sim.files.get(archive)!);
        bytes[600] = bytes[600]! ^ 1;
        res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      });
    }
    const evilUrl = evil.metadataUrl.replace(/\/metadata\/$/, '');
    await repo.addRemoteTo(root, { mirrors: [repo.url], url: evilUrl });
    const skipped: string[] = [];
    const r = await installPackages({ storeRoot: root, onEvent: (e) => void (e.type === 'mirror-skipped' && skipped.push(`${e.url} ${e.code}`)) }, ['hello']);
    assert.equal(r.generation!.number, 1);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!, new RegExp(`^${evilUrl} `));
  } finally {
    await evil.close();
    await close();
  }
});

test('a bundle installs on a machine with only the anchor and no network; a stale one only when accepted', T, async () => {
  const { repo, root, close } = await setup();
  const offline = await mkdtemp(join(tmpdir(), 'cairn-offline-'));
  try {
    await repo.publish({ name: 'lib', version: '1.0.0' }, { name: 'app', version: '1.0.0', dependencies: { lib: '1.x' } });
    await repo.addRemoteTo(root);
    const bundleFile = join(root, 'app.bundle');
    const made = await createBundle({ storeRoot: root, remote: 'main', packages: ['app'], out: bundleFile });
    assert.deepEqual(made.packages, [{ name: 'app', version: '1.0.0' }, { name: 'lib', version: '1.0.0' }]);
    await repo.server.close(); // no network from here on

    const later = new Date(Date.now() + 30 * 86400_000);
    await assert.rejects(installBundle({ storeRoot: offline, rootFile: repo.rootFile, logAnchor: repo.genesisHash, now: () => later }, bundleFile),
      (e: unknown) => e instanceof InstallError && e.code === 'ALL_MIRRORS_FAILED' && /--allow-stale/.test(e.hint ?? ''));
    assert.equal((await (await openStore(offline)).current()), undefined);

    const { result, ageSeconds, verifiedAsOf } = await installBundle({ storeRoot: offline, rootFile: repo.rootFile, logAnchor: repo.genesisHash, now: () => later, allowStale: true }, bundleFile);
    assert.ok(ageSeconds >= 30 * 86400 - 60);
    assert.ok(verifiedAsOf !== undefined && Date.parse(verifiedAsOf) < later.getTime(), 'verified as of a signed time before the clock');
    assert.deepEqual(result.added.map((a) => a.name).sort(), ['app', 'lib']);
    assert.deepEqual((await (await openStore(offline)).verify()).problems, []);

    // The same bundle against another anchor (a forged root) is refused.
    const other = await PackageRepository.create();
    try {
      await assert.rejects(installBundle({ storeRoot: offline, rootFile: other.rootFile, logAnchor: other.genesisHash, allowStale: true }, bundleFile), (e: unknown) => e instanceof InstallError && e.code === 'ALL_MIRRORS_FAILED');
    } finally {
      await other.close();
    }
  } finally {
    await rm(offline, { recursive: true, force: true });
    await close();
  }
});
