// test/store/onion-install.test.ts: installing from an onion mirror through a SOCKS5h proxy
// (docs/onion.md, docs/cli.md "Installing software"): a real proxy (Debian's microsocks) is the
// only thing that can resolve the remote's .onion name (to the witnessed package repository on
// 127.0.0.1); the package manager, in its own process with every node:dns call recorded, installs
// through it and never resolves a name itself. Without the proxy the same install is refused
// before any lookup, and nothing is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addRemote } from '../../src/store/index.js';
import { NEEDS_SOCKS_SERVER, layerUrl, runRecordingDns, startSocksServer } from '../fixtures/socks-server.js';
import { PackageRepository } from '../fixtures/package-repository.js';

const ONION = 'cairnpackagemirror7cairnpackagemirror7cairnpackagemirror.onion';

test('installs from an onion mirror through the proxy, resolving no name itself; without the proxy, refuses before any lookup', { timeout: 120_000, ...NEEDS_SOCKS_SERVER }, async () => {
  const repo = await PackageRepository.create();
  const proxy = await startSocksServer({ hosts: { [ONION]: '127.0.0.1' } });
  const root = await mkdtemp(join(tmpdir(), 'cairn-onion-store-'));
  try {
    await repo.publish({ name: 'hello', version: '1.0.0' });
    const port = new URL(repo.url).port;
    await addRemote(root, { name: 'onion', url: `http://${ONION}:${port}`, rootFile: repo.rootFile, logAnchor: repo.genesisHash });
    const install = (withProxy: boolean): ReturnType<typeof runRecordingDns> => runRecordingDns(`
      import { installPackages } from ${JSON.stringify(layerUrl('store'))};
      try {
        const r = await installPackages({ storeRoot: ${JSON.stringify(root)}${withProxy ? `, proxy: ${JSON.stringify(proxy.url)}` : ''} }, ['hello']);
        console.log(JSON.stringify({ generation: r.generation.number }));
      } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `);

    const direct = await install(false);
    assert.equal(direct.code, 0, direct.stderr);
    const refused = JSON.parse(direct.stdout) as { code: string; message: string };
    assert.equal(refused.code, 'ALL_MIRRORS_FAILED');
    assert.match(refused.message, /ONION_NEEDS_PROXY/);
    assert.deepEqual(direct.lookups, [], 'the onion name never reached the local resolver');
    assert.equal(repo.server.requests.length, 0);

    const proxied = await install(true);
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.deepEqual(JSON.parse(proxied.stdout), { generation: 1 });
    assert.deepEqual(proxied.lookups, [], 'no name was resolved by the client');
    assert.ok(repo.server.requests.some((p) => p.startsWith('targets/packages/hello/')), 'the archive came through the proxy');
  } finally {
    await proxy.close();
    await repo.close();
    await rm(root, { recursive: true, force: true });
  }
});
