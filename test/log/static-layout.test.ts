// Tests for log/static-layout.ts: the files of protocol.md section 7 are written once and never
// replaced with other content, the head never goes backwards, and a client catches up from a
// directory served through the bounded Fetcher (file: URLs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BoundedFetcher } from '../../src/io/index.js';
import { StorageError } from '../../src/errors/index.js';
import { catchUp, blockHash, fetcherLogSource, FileLogStore, formatUtcTime, LOG_PATHS, LogError } from '../../src/log/index.js';
import { sha256Hex } from '../../src/crypto/index.js';
import { buildTestLog, payloadFor, T0, witnessKey, type TestLog } from '../fixtures/log-chain.js';

const keysA = Array.from({ length: 7 }, (_, i) => witnessKey(`a${i}`));
const keysB = Array.from({ length: 7 }, (_, i) => witnessKey(`b${i}`));

let dir: string;
let log: TestLog;
let store: FileLogStore;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cairn-log-'));
  log = await buildTestLog({ blocks: 24, genesis: { keys: keysA, threshold: 5 }, changes: { 10: { keys: keysB, threshold: 5 } } });
  store = new FileLogStore(join(dir, 'public'));
  for (let i = 0; i < log.chain.length; i++) await store.putBlock(log.chain.blockAt(i)!);
  for (const file of log.links.values()) await store.putLink(file);
  for (const { roster } of log.rosters.values()) await store.putRoster(roster);
  await store.putHead(await log.head(23, formatUtcTime(T0 + 3600)));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writes the static layout as canonical JSON, each file hashing to its document', async () => {
  const bytes = await readFile(join(dir, 'public', LOG_PATHS.block(8)));
  assert.equal(sha256Hex(bytes), blockHash(log.chain.blockAt(8)!));
  const rosters = await readdir(join(dir, 'public/log/rosters'));
  for (const name of rosters) assert.equal(sha256Hex(await readFile(join(dir, 'public/log/rosters', name))) + '.json', name);
  assert.equal(rosters.length, 2);
});

test('refuses to overwrite an immutable file with other content, and rewriting the same is a no-op', async () => {
  await store.putBlock(log.chain.blockAt(5)!);
  const other = { ...log.chain.blockAt(5)!, payload: payloadFor(5, 'other') };
  await assert.rejects(store.putBlock(other), (e: unknown) => e instanceof LogError && e.code === 'IMMUTABLE_CONFLICT');
  const link = log.links.get('4.2')!;
  await assert.rejects(store.putLink({ ...link, cosignature: log.links.get('4.0')!.cosignature }), (e: unknown) => e instanceof LogError && e.code === 'IMMUTABLE_CONFLICT');
  assert.equal(sha256Hex(await readFile(join(dir, 'public', LOG_PATHS.block(5)))), log.chain.hashAt(5));
});

test('refuses to move the published head backwards', async () => {
  await assert.rejects(store.putHead(await log.head(22, formatUtcTime(T0 + 7200))), (e: unknown) => e instanceof LogError && e.code === 'REPLAYED_HEAD');
  await assert.rejects(store.putHead(await log.head(23, formatUtcTime(T0 + 60))), (e: unknown) => e instanceof LogError && e.code === 'REPLAYED_HEAD');
  await store.putHead(await log.head(23, formatUtcTime(T0 + 3700)));
});

test('refuses unsafe file names', () => {
  assert.throws(() => LOG_PATHS.roster('../../etc/passwd'), (e: unknown) => e instanceof StorageError && e.code === 'UNSAFE_PATH');
  assert.throws(() => LOG_PATHS.block(-1), (e: unknown) => e instanceof StorageError);
});

test('a client catches up from the directory through the bounded fetcher', async () => {
  const source = fetcherLogSource(new BoundedFetcher(), pathToFileURL(join(dir, 'public')).href);
  const result = await catchUp(source, { block: log.chain.blockAt(1)!, roster: log.rosterAt(1).roster }, { freshness: { now: new Date((T0 + 3800) * 1000), maxAgeSeconds: 600 } });
  assert.equal(result.head.index, 23);
  assert.equal(result.stats.rosters, 1);
  assert.ok(result.stats.bytes > 0);
});
