// test/package/permissions.test.ts: the permission vocabulary (docs/packages.md "Permissions"):
// what parses, what is refused as UNKNOWN_PERMISSION, what an update adds, how each reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePermission, PackageError, parsePermission, permissionIncrease } from '../../src/package/index.js';

const T = { timeout: 10_000 };

test('every form of the vocabulary parses', T, () => {
  const table: Array<[string, unknown]> = [
    ['network:outbound', { kind: 'network:outbound' }],
    ['network:outbound:example.org:443', { kind: 'network:outbound-to', host: 'example.org', port: 443 }],
    ['network:outbound:10.0.0.1:53', { kind: 'network:outbound-to', host: '10.0.0.1', port: 53 }],
    ['network:outbound:[2001:db8::1]:8443', { kind: 'network:outbound-to', host: '[2001:db8::1]', port: 8443 }],
    ['network:inbound:8080/tcp', { kind: 'network:inbound', port: 8080, protocol: 'tcp' }],
    ['network:inbound:53/udp', { kind: 'network:inbound', port: 53, protocol: 'udp' }],
    ['folder:documents:ro', { kind: 'folder', name: 'documents', access: 'ro' }],
    ['folder:my-data.v2:rw', { kind: 'folder', name: 'my-data.v2', access: 'rw' }],
    ['device:camera', { kind: 'device', device: 'camera' }],
    ['device:serial', { kind: 'device', device: 'serial' }],
    ['display', { kind: 'display' }],
    ['clipboard', { kind: 'clipboard' }],
    ['audio', { kind: 'audio' }],
  ];
  for (const [text, parsed] of table) assert.deepEqual(parsePermission(text), parsed, text);
});

test('unknown and malformed permissions are refused as UNKNOWN_PERMISSION', T, () => {
  const refused = [
    '', 'root', 'network', 'network:inbound', 'network:outbound:', 'network:outbound:example.org', 'network:outbound:example.org:0',
    'network:outbound:example.org:65536', 'network:outbound:example.org:0443', 'network:outbound:Example.org:443', 'network:outbound:exa mple.org:443',
    'network:outbound:2001:db8::1:443', 'network:outbound:999.1.1.1:80', 'network:outbound:-bad.org:80', 'network:inbound:80', 'network:inbound:80/sctp',
    'network:inbound:0/tcp', 'folder:docs', 'folder:docs:rx', 'folder:../etc:rw', 'folder:Docs:ro', 'folder::ro', 'device:keyboard', 'device:',
    'display:x11', 'DISPLAY', ' audio', 'audio ', `network:outbound:${'a'.repeat(300)}.org:443`,
  ];
  for (const p of refused) {
    assert.throws(() => parsePermission(p), (e: unknown) => e instanceof PackageError && e.code === 'UNKNOWN_PERMISSION', JSON.stringify(p));
  }
});

test('permissionIncrease lists what the candidate asks for beyond what is installed', T, () => {
  const table: Array<[string[], string[], string[]]> = [
    [[], [], []],
    [[], ['audio', 'display'], ['audio', 'display']],
    [['audio'], ['audio'], []],
    [['audio', 'display'], ['audio'], []],
    // rw over ro is an increase; ro under rw is not.
    [['folder:docs:ro'], ['folder:docs:rw'], ['folder:docs:rw']],
    [['folder:docs:rw'], ['folder:docs:ro'], []],
    [['folder:docs:rw'], ['folder:music:ro'], ['folder:music:ro']],
    // Any destination over one destination is an increase; a destination under "any" is not.
    [['network:outbound:example.org:443'], ['network:outbound'], ['network:outbound']],
    [['network:outbound'], ['network:outbound:example.org:443'], []],
    [['network:outbound:example.org:443'], ['network:outbound:example.org:80'], ['network:outbound:example.org:80']],
    [['network:inbound:80/tcp'], ['network:inbound:80/udp'], ['network:inbound:80/udp']],
    [['device:camera'], ['device:microphone', 'device:camera'], ['device:microphone']],
  ];
  for (const [installed, candidate, increase] of table) {
    assert.deepEqual(permissionIncrease(installed, candidate), increase, `${installed.join(',')} -> ${candidate.join(',')}`);
  }
  assert.throws(() => permissionIncrease([], ['root']), (e: unknown) => e instanceof PackageError && e.code === 'UNKNOWN_PERMISSION');
});

test('each permission reads as one human line', T, () => {
  assert.equal(describePermission('network:outbound:example.org:443'), 'send network traffic to example.org port 443');
  assert.equal(describePermission('network:outbound'), 'send network traffic to any destination');
  assert.equal(describePermission('network:inbound:8080/tcp'), 'accept TCP connections on port 8080');
  assert.equal(describePermission('folder:docs:rw'), 'read and write the shared folder "docs"');
  assert.equal(describePermission('folder:docs:ro'), 'read the shared folder "docs"');
  assert.equal(describePermission('device:camera'), 'use the camera');
  for (const p of ['display', 'clipboard', 'audio', 'network:inbound:53/udp', 'device:usb', 'device:gpu']) assert.doesNotMatch(describePermission(p), /\n/);
});
