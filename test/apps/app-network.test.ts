// test/apps/app-network.test.ts: each app's network plan and rules (docs/apps.md "Network"):
// slots give disjoint addresses and names the kernel accepts, the ruleset forwards only what is
// granted and is accepted by the real nft (checked in a network namespace of its own), and
// destinations are resolved by the host, with what does not resolve left out and said. The
// behaviour with real guests is in run.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { APP_NETWORK, AppError, appLinkPlan, appNamespaceRuleset, guestNetworkParameter, inIpv4Range, resolveDestinations, uplinkRuleset } from '../../src/apps/index.js';
import { parsePermission } from '../../src/package/index.js';
import { needsTool } from '../fixtures/system-tools.js';

const grants = (...ps: string[]) => ps.map((p) => parsePermission(p));

test('each slot has its own /28, interface names within the kernel\'s 15 characters, and its own MAC; a slot out of range is refused', () => {
  const seen = new Set<string>();
  for (const slot of [0, 1, 255, 256, APP_NETWORK.slots - 1]) {
    const plan = appLinkPlan(slot);
    for (const address of [plan.uplinkAddress, plan.namespaceAddress, plan.tapAddress, plan.guestAddress]) {
      assert.match(address, /^10\.213\.\d+\.\d+$/);
      assert.ok(!seen.has(address), `${address} is used once`);
      seen.add(address);
    }
    assert.ok(plan.uplinkInterface.length <= 15);
    assert.ok(!seen.has(plan.mac));
    seen.add(plan.mac);
  }
  assert.deepEqual(appLinkPlan(1), { netns: 'cairn-1', uplinkInterface: 'cairn1', uplinkAddress: '10.213.0.17', namespaceAddress: '10.213.0.18', tapAddress: '10.213.0.21', guestAddress: '10.213.0.22', mac: '52:54:00:c9:00:01' });
  assert.equal(appLinkPlan(APP_NETWORK.slots - 1).guestAddress, '10.213.255.246');
  assert.equal(guestNetworkParameter(appLinkPlan(0)), 'cairn.net=10.213.0.6/30,10.213.0.5');
  for (const slot of [-1, APP_NETWORK.slots, 1.5]) assert.throws(() => appLinkPlan(slot), (e: unknown) => e instanceof AppError && e.code === 'UNSUPPORTED');
});

test('the ruleset forwards a granted destination only; network:outbound adds public addresses only; inbound ports by DNAT; everything else is rejected', () => {
  const plan = appLinkPlan(0);
  const onlyOne = appNamespaceRuleset(plan, grants('network:outbound:198.18.0.1:8080'), [{ host: '198.18.0.1', port: 8080, addresses: ['198.18.0.1'] }]);
  assert.match(onlyOne, /iifname "tap0" oifname "up0" ip daddr 198\.18\.0\.1 meta l4proto \{ tcp, udp \} th dport 8080 accept/);
  assert.doesNotMatch(onlyOne, /meta nfproto ipv4 accept/, 'no catch-all without network:outbound');
  assert.doesNotMatch(onlyOne, /dnat/);
  assert.match(onlyOne, /\n    reject with icmpx type admin-prohibited\n  \}\n  chain prerouting/, 'the forward chain ends rejecting');
  // Before any accept: a packet from the guest must carry its own address (a spoofed one would have replies delivered elsewhere), IPv4 only, never to another app's link.
  const forward = onlyOne.slice(onlyOne.indexOf('chain forward'));
  const firstAccept = forward.indexOf('accept');
  for (const rule of ['iifname "tap0" ip saddr != 10.213.0.6 drop', 'iifname "tap0" meta nfproto != ipv4 drop']) assert.ok(forward.indexOf(rule) >= 0 && forward.indexOf(rule) < firstAccept, rule);
  assert.ok(forward.indexOf('ip daddr 10.213.0.0/16 reject') < forward.indexOf('ip daddr 198.18.0.1'), 'app links are refused before the granted destinations');
  assert.match(forward, /iifname "tap0" oifname "up0" ct state established,related accept\n    iifname "up0" oifname "tap0" ip daddr 10\.213\.0\.6 ct state established,related accept/, 'replies only between the guest and the uplink');
  assert.doesNotMatch(forward, /\n    ct state established,related accept/, 'no reply is forwarded between other interfaces');
  // The namespace itself, where the hypervisor runs, sends nothing but replies.
  assert.match(onlyOne, /chain output \{\n    type filter hook output priority filter; policy drop;\n    oif "lo" accept\n    ct state established,related accept\n  \}/);

  const any = appNamespaceRuleset(plan, grants('network:outbound', 'network:inbound:9000/tcp'), []);
  const privateReject = any.indexOf('10.0.0.0/8');
  const catchAll = any.indexOf('iifname "tap0" oifname "up0" accept');
  assert.ok(privateReject > 0 && catchAll > privateReject, 'private ranges are rejected before the catch-all');
  assert.match(any, /iifname "up0" tcp dport 9000 dnat ip to 10\.213\.0\.6:9000/);
  assert.match(any, /iifname "up0" oifname "tap0" ip daddr 10\.213\.0\.6 tcp dport 9000 ct status dnat accept/);
  // The user scope's refusal of the host's own addresses comes before any grant, the catch-all included.
  const userScope = appNamespaceRuleset(plan, grants('network:outbound:198.18.1.1:8082', 'network:outbound'), [{ host: '198.18.1.1', port: 8082, addresses: ['198.18.1.1'] }], { hostAddressSet: true });
  assert.match(userScope, /set host_addresses \{\n    type ipv4_addr; flags interval; auto-merge;\n  \}/);
  const refusal = userScope.indexOf('iifname "tap0" ip daddr @host_addresses reject');
  assert.ok(refusal > 0 && refusal < userScope.indexOf('ip daddr 198.18.1.1 meta l4proto') && refusal < userScope.indexOf('iifname "tap0" oifname "up0" accept'), 'the host\'s addresses are refused before the grants');
});

test('the uplink accepts nothing from an app\'s link but replies, forwards only the app namespace\'s address and nothing it would DNAT, and masquerades it', () => {
  const rules = uplinkRuleset(appLinkPlan(3));
  assert.match(rules, /chain input \{\n    type filter hook input priority filter;\n    iifname "cairn3" ct state established,related accept\n    iifname "cairn3" reject with icmp type admin-prohibited\n  \}/);
  assert.match(rules, /iifname "cairn3" ip saddr != 10\.213\.0\.50 drop/);
  assert.match(rules, /iifname "cairn3" ct status dnat reject with icmp type admin-prohibited/, 'nor a port the host publishes to its own network');
  assert.match(rules, /ip saddr 10\.213\.0\.50 oifname != "cairn3" masquerade/);
});

test('IPv4 ranges', () => {
  assert.equal(inIpv4Range('10.213.4.1', '10.213.0.0/16'), true);
  assert.equal(inIpv4Range('10.214.0.0', '10.213.0.0/16'), false);
  assert.equal(inIpv4Range('172.31.255.255', '172.16.0.0/12'), true);
  assert.equal(inIpv4Range('172.32.0.0', '172.16.0.0/12'), false);
  assert.equal(inIpv4Range('255.255.255.255', '224.0.0.0/3'), true);
  assert.equal(inIpv4Range('93.184.216.34', '0.0.0.0/8'), false);
});

test('the ruleset is accepted by nft (checked in a network namespace of its own)', { skip: needsTool('nft', 'sudo apt-get install nftables').skip ?? (process.getuid?.() !== 0 ? 'nft checks need root' : undefined) }, () => {
  const plan = appLinkPlan(7);
  for (const granted of [grants('network:outbound:198.18.0.1:8080'), grants('network:outbound', 'network:inbound:53/udp', 'network:inbound:9000/tcp'), grants()]) {
    for (const hostAddressSet of [false, true]) {
      const ruleset = appNamespaceRuleset(plan, granted, [{ host: 'h', port: 443, addresses: ['192.0.2.1', '192.0.2.2'] }], { hostAddressSet });
      const checked = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: ruleset, encoding: 'utf8' });
      assert.equal(checked.status, 0, `${checked.stderr}\n${ruleset}`);
    }
  }
  const uplink = spawnSync('unshare', ['--net', 'nft', '-c', '-f', '-'], { input: uplinkRuleset(plan), encoding: 'utf8' });
  assert.equal(uplink.status, 0, uplink.stderr);
});

test('destinations are resolved by the host; a name that does not resolve, or resolves to a private or local address, is left out and said; an address is taken as granted', async () => {
  const notices: string[] = [];
  const resolved = await resolveDestinations(grants('network:outbound:localhost:80', 'network:outbound:192.0.2.9:443', 'network:outbound:192.168.1.5:631', 'network:outbound:cairn-test.invalid:443', 'network:outbound', 'folder:docs:ro'), (l) => notices.push(l));
  assert.deepEqual(resolved, [{ host: '192.0.2.9', port: 443, addresses: ['192.0.2.9'] }, { host: '192.168.1.5', port: 631, addresses: ['192.168.1.5'] }]);
  assert.equal(notices.length, 2);
  assert.match(notices[0]!, /localhost resolves to 127\.0\.0\.1, private or local: network:outbound:localhost:80 does not reach it/);
  assert.match(notices[1]!, /cairn-test\.invalid does not resolve/);
});
