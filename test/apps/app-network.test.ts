// test/apps/app-network.test.ts: each app's network plan and rules (docs/apps.md "Network"):
// slots give disjoint addresses and names the kernel accepts, the ruleset forwards only what is
// granted and is accepted by the real nft (checked in a network namespace of its own), and
// destinations are resolved by the host, with what does not resolve left out and said. The
// behaviour with real guests is in run.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { APP_NETWORK, AppError, appLinkPlan, appNamespaceRuleset, guestNetworkParameter, resolveDestinations } from '../../src/apps/index.js';
import { parsePermission } from '../../src/package/index.js';
import { needsTool } from '../fixtures/system-tools.js';

const grants = (...ps: string[]) => ps.map((p) => parsePermission(p));

test('each slot has its own /28, interface names within the kernel\'s 15 characters, and its own MAC; a slot out of range is refused', () => {
  const seen = new Set<string>();
  for (const slot of [0, 1, 255, 256, APP_NETWORK.slots - 1]) {
    const plan = appLinkPlan('app', slot);
    for (const address of [plan.uplinkAddress, plan.namespaceAddress, plan.tapAddress, plan.guestAddress]) {
      assert.match(address, /^10\.213\.\d+\.\d+$/);
      assert.ok(!seen.has(address), `${address} is used once`);
      seen.add(address);
    }
    assert.ok(plan.uplinkInterface.length <= 15);
    assert.ok(!seen.has(plan.mac));
    seen.add(plan.mac);
  }
  assert.deepEqual(appLinkPlan('app', 1), { netns: 'cairn-app', uplinkInterface: 'cairn1', uplinkAddress: '10.213.0.17', namespaceAddress: '10.213.0.18', tapAddress: '10.213.0.21', guestAddress: '10.213.0.22', mac: '52:54:00:c9:00:01' });
  assert.equal(appLinkPlan('app', APP_NETWORK.slots - 1).guestAddress, '10.213.255.246');
  assert.equal(guestNetworkParameter(appLinkPlan('app', 0)), 'cairn.net=10.213.0.6/30,10.213.0.5');
  for (const slot of [-1, APP_NETWORK.slots, 1.5]) assert.throws(() => appLinkPlan('app', slot), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
});

test('the ruleset forwards a granted destination only; network:outbound adds public addresses only; inbound ports by DNAT; everything else is rejected', () => {
  const plan = appLinkPlan('app', 0);
  const onlyOne = appNamespaceRuleset(plan, grants('network:outbound:198.18.0.1:8080'), [{ host: '198.18.0.1', port: 8080, addresses: ['198.18.0.1'] }]);
  assert.match(onlyOne, /iifname "tap0" oifname "up0" ip daddr 198\.18\.0\.1 meta l4proto \{ tcp, udp \} th dport 8080 accept/);
  assert.doesNotMatch(onlyOne, /meta nfproto ipv4 accept/, 'no catch-all without network:outbound');
  assert.doesNotMatch(onlyOne, /dnat/);
  assert.match(onlyOne, /\n    reject with icmpx type admin-prohibited\n  \}\n  chain prerouting/, 'the forward chain ends rejecting');

  const any = appNamespaceRuleset(plan, grants('network:outbound', 'network:inbound:9000/tcp'), []);
  const privateReject = any.indexOf('10.0.0.0/8');
  const catchAll = any.indexOf('iifname "tap0" oifname "up0" meta nfproto ipv4 accept');
  assert.ok(privateReject > 0 && catchAll > privateReject, 'private ranges are rejected before the catch-all');
  assert.match(any, /iifname "up0" tcp dport 9000 dnat ip to 10\.213\.0\.6:9000/);
  assert.match(any, /iifname "up0" oifname "tap0" ip daddr 10\.213\.0\.6 tcp dport 9000 ct status dnat accept/);
});

test('the ruleset is accepted by nft (checked in a network namespace of its own)', { skip: needsTool('nft', 'sudo apt-get install nftables').skip ?? (process.getuid?.() !== 0 ? 'nft checks need root' : undefined) }, () => {
  const plan = appLinkPlan('app', 7);
  for (const granted of [grants('network:outbound:198.18.0.1:8080'), grants('network:outbound', 'network:inbound:53/udp', 'network:inbound:9000/tcp'), grants()]) {
    const ruleset = appNamespaceRuleset(plan, granted, [{ host: 'h', port: 443, addresses: ['192.0.2.1', '192.0.2.2'] }]);
    const checked = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: ruleset, encoding: 'utf8' });
    assert.equal(checked.status, 0, `${checked.stderr}\n${ruleset}`);
  }
});

test('destinations are resolved by the host; a name that does not resolve is left out and said', async () => {
  const notices: string[] = [];
  const resolved = await resolveDestinations(grants('network:outbound:localhost:80', 'network:outbound:192.0.2.9:443', 'network:outbound:cairn-test.invalid:443', 'network:outbound', 'folder:docs:ro'), (l) => notices.push(l));
  assert.deepEqual(resolved.map((d) => d.host), ['localhost', '192.0.2.9']);
  assert.ok(resolved[0]!.addresses.includes('127.0.0.1'));
  assert.deepEqual(resolved[1]!.addresses, ['192.0.2.9']);
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /cairn-test\.invalid does not resolve/);
});
