// Tests for log/predecessor.ts: the block before a verified block is taken from an untrusted
// source only when it hashes to that block's back link 0 (docs/protocol.md section 5).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { blockHash, encodeLogFile, fetchPredecessor, formatUtcTime, LOG_PATHS, LogError } from '../../src/log/index.js';
import { buildTestLog, MemorySource, payloadFor, T0, witnessKey, type TestLog } from '../fixtures/log-chain.js';

const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`p${i}`));

let log: TestLog;
let source: MemorySource;
before(async () => {
  log = await buildTestLog({ blocks: 6, genesis: { keys, threshold: 3 } });
  source = await MemorySource.of(log, await log.head(5, formatUtcTime(T0 + 600)));
});

test('reads the predecessor and checks it against the back link', async () => {
  const predecessor = await fetchPredecessor(source, log.chain.blockAt(5)!);
  assert.equal(predecessor?.index, 4);
  assert.equal(blockHash(predecessor!), log.chain.hashAt(4));
});

test('genesis has no predecessor, and an unpublished one is absent, not an error', async () => {
  assert.equal(await fetchPredecessor(source, log.chain.blockAt(0)!), undefined);
  const missing = new MemorySource();
  assert.equal(await fetchPredecessor(missing, log.chain.blockAt(5)!), undefined);
});

test('refuses a predecessor the source swapped for another block at that index', async () => {
  const forged = new MemorySource();
  for (const [path, bytes] of source.files) forged.files.set(path, bytes);
  forged.files.set(LOG_PATHS.block(4), encodeLogFile({ ...log.chain.blockAt(4)!, payload: payloadFor(4, 'forged') }));
  await assert.rejects(fetchPredecessor(forged, log.chain.blockAt(5)!, 'the witnessed head block 5'), (e: unknown) =>
    e instanceof LogError && e.code === 'BAD_BACK_LINK' && /the witnessed head block 5 names/.test(e.message));
});
