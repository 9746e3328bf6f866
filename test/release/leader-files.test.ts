// test/release/leader-files.test.ts: the leader's own files are read back as untrusted disk data
// (release/leader-files.ts): a saved proposal is sent again to the witnesses, so a proposal file
// altered on disk (another block, attestation files that are not base64, a field the format does
// not have) is refused with LeaderError LOG_STATE before anything is sent, and so is a damaged
// leader state file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockHash } from '../../src/log/index.js';
import { LeaderError, readLeaderState, readProposal, saveProposal, LEADER_STATE_FORMAT } from '../../src/release/index.js';
import { buildTestLog, witnessKey } from '../fixtures/log-chain.js';
import { withTempDir } from '../fixtures/temp-dir.js';

const keys = Array.from({ length: 4 }, (_, i) => witnessKey(`leader-files-${i}`));

function refusedAsLogState(e: unknown): boolean {
  return e instanceof LeaderError && e.code === 'LOG_STATE';
}

test('a saved proposal reads back as it was saved, attestations included', () => withTempDir('leader-files', async (dir) => {
  const log = await buildTestLog({ blocks: 3, genesis: { keys, threshold: 3 } });
  const block = log.chain.blockAt(2)!;
  const file = join(dir, 'proposal.json');
  assert.equal(await readProposal(file), undefined, 'no file: no proposal');
  const attestations = { digest: 'ab'.repeat(32), files: { 'apps/tool': [Buffer.from('envelope').toString('base64')] } };
  await saveProposal(file, block, attestations);
  assert.deepEqual(await readProposal(file), { block, hash: blockHash(block), attestations });
}));

test('refuses a proposal file altered on disk: another hash, malformed attestations, an unknown field', () => withTempDir('leader-files', async (dir) => {
  const log = await buildTestLog({ blocks: 3, genesis: { keys, threshold: 3 } });
  const file = join(dir, 'proposal.json');
  await saveProposal(file, log.chain.blockAt(2)!, { digest: null, files: { 'apps/tool': [Buffer.from('envelope').toString('base64')] } });
  const saved = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> & { attestations: { digest: unknown; files: Record<string, unknown> } };
  const variants: Array<[string, Record<string, unknown>]> = [
    ['the hash of another block', { ...saved, hash: blockHash(log.chain.blockAt(1)!) }],
    ['attestation files that are not base64', { ...saved, attestations: { ...saved.attestations, files: { 'apps/tool': ['not base64!'] } } }],
    ['an attestations digest that is not a hash', { ...saved, attestations: { ...saved.attestations, digest: 'xyz' } }],
    ['an attestations list that is not a list', { ...saved, attestations: { ...saved.attestations, files: { 'apps/tool': 'AAAA' } } }],
    ['a field the format does not have', { ...saved, extra: true }],
  ];
  for (const [what, doc] of variants) {
    await writeFile(file, JSON.stringify(doc));
    await assert.rejects(readProposal(file), refusedAsLogState, what);
  }
}));

test('refuses a damaged leader state file, and reads a missing one as no log', () => withTempDir('leader-files', async (dir) => {
  const file = join(dir, 'log.json');
  assert.equal(await readLeaderState(file), undefined);
  const state = { format: LEADER_STATE_FORMAT, chain: 'cd'.repeat(32), base: 2, maxHeight: 32, head: { index: 4, hash: 'ef'.repeat(32) } };
  await writeFile(file, JSON.stringify(state));
  assert.deepEqual(await readLeaderState(file), state);
  for (const damaged of [{ ...state, head: { index: -1, hash: state.head.hash } }, { ...state, chain: 'short' }, { ...state, format: 'other' }, { ...state, more: 1 }]) {
    await writeFile(file, JSON.stringify(damaged));
    await assert.rejects(readLeaderState(file), refusedAsLogState, JSON.stringify(damaged));
  }
}));
