// test/cli/permissions.test.ts: permissions as a new user meets them (docs/cli.md "Permissions"),
// every step a real `cairn` process: two apps installed from a served repository have nothing
// granted; `cairn grant viewer network` grants what viewer requests and nothing to the other app;
// a permission not requested is refused, and granted only with --unrequested and a warning;
// `cairn revoke` takes it back; `cairn audit` shows the trail; --json gives one document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackageRepository } from '../fixtures/package-repository.js';
import { runCli } from '../fixtures/cairn-process.js';

test('two apps: nothing granted at install, grant and revoke per app, refusals, the audit trail', { timeout: 120_000 }, async () => {
  const repo = await PackageRepository.create();
  const dir = await mkdtemp(join(tmpdir(), 'cairn-cli-permissions-'));
  const store = join(dir, 'store');
  const cairn = (...args: string[]) => runCli([...args, '--store', store], { timeoutMs: 60_000 });
  try {
    await repo.publish({ name: 'viewer', version: '1.0.0', permissions: ['display', 'network:outbound:example.org:443'] }, { name: 'player', version: '1.0.0', permissions: ['audio'] });
    assert.equal((await cairn('remote', 'add', 'main', repo.url, '--root', repo.rootFile, '--log-anchor', repo.genesisHash)).code, 0);
    const installed = await cairn('install', 'viewer', 'player');
    assert.equal(installed.code, 0, installed.stderr);

    const before = await cairn('permissions', 'viewer');
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /not granted {2}display: /);
    assert.match(before.stdout, /not granted {2}network:outbound:example\.org:443: send network traffic to example\.org port 443/);

    const granted = await cairn('grant', 'viewer', 'network');
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, /granted network:outbound:example\.org:443 to viewer \(main\)/);
    const json = JSON.parse((await cairn('--json', 'permissions', 'viewer')).stdout) as { permissions: Array<{ permission: string; granted: boolean }> };
    assert.deepEqual(json.permissions.map((p) => [p.permission, p.granted]), [['display', false], ['network:outbound:example.org:443', true]]);
    const player = JSON.parse((await cairn('--json', 'permissions', 'player')).stdout) as { permissions: Array<{ granted: boolean }> };
    assert.ok(player.permissions.every((p) => !p.granted), 'the other app has nothing granted');

    const unrequested = await cairn('grant', 'player', 'network:outbound');
    assert.equal(unrequested.code, 2);
    assert.match(unrequested.stderr, /NOT_REQUESTED/);
    const widened = await cairn('grant', 'player', 'network:outbound', '--unrequested');
    assert.equal(widened.code, 0, widened.stderr);
    assert.match(widened.stderr, /WARNING: player never asked for network:outbound/);

    const revoked = await cairn('revoke', 'viewer', 'network:outbound:example.org:443');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /granted now: nothing/);
    const again = await cairn('revoke', 'viewer', 'network');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /NOT_GRANTED/);

    const audit = await cairn('audit');
    assert.equal(audit.code, 0, audit.stderr);
    const lines = audit.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^1\t\S+\t.+\tgrant\tviewer \(main\)\tnetwork:outbound:example\.org:443$/);
    assert.match(lines[1]!, /^2\t.*\tgrant\tplayer \(main\)\tnetwork:outbound\t\(not requested\)$/);
    assert.match(lines[2]!, /^3\t.*\trevoke\tviewer \(main\)\tnetwork:outbound:example\.org:443$/);
    const missing = await cairn('permissions', 'ghost');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /NOT_INSTALLED/);
  } finally {
    await repo.close();
    await rm(dir, { recursive: true, force: true });
  }
});
