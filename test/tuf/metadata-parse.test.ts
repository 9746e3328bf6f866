// test/tuf/metadata-parse.test.ts: parseEnvelope builds large targets and snapshot maps in linear
// time (src/tuf/metadata.ts fromJsonLinear) and gives exactly what @tufjs/models' own fromJSON
// gives; a target path "__proto__" stays a key and never becomes the map's prototype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, MetadataKind } from '@tufjs/models';
import { parseEnvelope } from '../../src/tuf/index.js';

function targetsDocument(targets: Record<string, unknown>): Record<string, unknown> {
  return { signatures: [], signed: { _type: 'targets', spec_version: '1.0.31', version: 3, expires: '2030-01-01T00:00:00Z', targets, x_extra: { kept: true } } };
}

test('a large targets map parses to what the library parses, entry for entry', { timeout: 60_000 }, () => {
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < 300; i++) targets[`packages/p${i}/versions.json`] = { length: i + 1, hashes: { sha256: i.toString(16).padStart(64, '0') }, custom: { n: i } };
  const doc = targetsDocument(targets);
  const ours = parseEnvelope('targets', Buffer.from(JSON.stringify(doc)), 'bin.json');
  const library = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(JSON.stringify(doc)) as Parameters<typeof Metadata.fromJSON>[1]);
  assert.deepEqual(ours.signed.toJSON(), library.signed.toJSON());
  assert.equal(Object.keys(ours.signed.targets).length, 300);
});

test('a snapshot meta map parses to what the library parses', { timeout: 60_000 }, () => {
  const meta: Record<string, unknown> = { 'targets.json': { version: 1 } };
  for (let i = 0; i < 300; i++) meta[`bin-${i}.json`] = { version: i + 1, length: 10, hashes: { sha256: 'b'.repeat(64) } };
  const doc = { signatures: [], signed: { _type: 'snapshot', spec_version: '1.0.31', version: 2, expires: '2030-01-01T00:00:00Z', meta } };
  const ours = parseEnvelope('snapshot', Buffer.from(JSON.stringify(doc)), 'snapshot.json');
  const library = Metadata.fromJSON(MetadataKind.Snapshot, JSON.parse(JSON.stringify(doc)) as Parameters<typeof Metadata.fromJSON>[1]);
  assert.deepEqual(ours.signed.toJSON(), library.signed.toJSON());
});

test('a target named "__proto__" stays a key of the map, not its prototype', () => {
  const bytes = Buffer.from(`{"signatures":[],"signed":{"_type":"targets","spec_version":"1.0.31","version":1,"expires":"2030-01-01T00:00:00Z","targets":{"__proto__":{"length":1,"hashes":{"sha256":"${'c'.repeat(64)}"}}}}}`);
  const ours = parseEnvelope('targets', bytes, 'targets.json');
  assert.deepEqual(Object.keys(ours.signed.targets), ['__proto__']);
  assert.equal(Object.getPrototypeOf(ours.signed.targets), Object.prototype);
});
