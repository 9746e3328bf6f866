// Tests for cosi/round.ts: the leader's co-signing round (protocol.md 3; docs/design.md availability
// and scale). Absent witnesses are left out, faulty ones are identified and excluded and the
// round retried, too many failures give THRESHOLD_NOT_MET, concurrent sessions stay valid, and
// tree aggregation works for several branching factors with failed sub-leaders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { CosiError, runCosiRound, verifyCollectiveSignature, type WitnessEndpoint, ed25519KeyObject, Point } from '../../src/cosi/index.js';
import { absent, cothority, delayed, dropsResponse, headMessage, silent, wrongResponse } from './fixtures.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;

test('all witnesses co-sign; the signature is a plain Ed25519 signature under X (node:crypto verify)', async () => {
  const { roster, endpoints, keys } = cothority(7, 5, 'round');
  const message = headMessage();
  const result = await runCosiRound(roster, message, endpoints);
  assert.deepEqual(result.participants, [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(result.attempts, 1);
  assert.deepEqual(result.faults, []);
  const verified = verifyCollectiveSignature(roster, message, result.cosignature);
  assert.equal(verified.participants.length, 7);
  const X = keys.map((k) => Point.fromBytes(k.publicKey)).reduce((a, b) => a.add(b));
  assert.ok(verify(null, message, ed25519KeyObject(X.toBytes()), result.cosignature.signature), 'plain node:crypto Ed25519 verify');
});

test('absent witnesses (refusing or silent at commitment) are left out of the bitmap', async () => {
  const { roster, endpoints } = cothority(7, 4, 'round');
  const eps = endpoints.map((e, i) => (i === 1 ? absent(e) : i === 4 ? silent(e) : e)).filter((_, i) => i !== 6);
  const result = await runCosiRound(roster, headMessage(), eps, { callTimeoutMs: 100 });
  assert.deepEqual(result.participants, [0, 2, 3, 5]);
  assert.equal(result.attempts, 1);
  assert.deepEqual(result.faults.map((f) => [f.index, f.kind, f.excluded]).sort(), [[1, 'absent', false], [4, 'absent', false], [6, 'absent', false]]);
  verifyCollectiveSignature(roster, headMessage(), result.cosignature);
});

test('a wrong partial response is attributed to exactly that witness, excluded, and the retry succeeds', async () => {
  const { roster, endpoints } = cothority(7, 5, 'round');
  const eps = endpoints.map((e, i) => (i === 3 ? wrongResponse(e) : e));
  const result = await runCosiRound(roster, headMessage(), eps, { branchingFactor: 7 });
  assert.equal(result.attempts, 2);
  assert.deepEqual(result.faults.map((f) => [f.index, f.kind, f.attempt, f.excluded]), [[3, 'bad-response', 1, true]]);
  assert.deepEqual(result.participants, [0, 1, 2, 4, 5, 6]);
  verifyCollectiveSignature(roster, headMessage(), result.cosignature);
});

test('a witness that commits and then does not answer is excluded and the round retried without it', async () => {
  const { roster, endpoints } = cothority(5, 3, 'round');
  const eps = endpoints.map((e, i) => (i === 0 ? dropsResponse(e) : e));
  const result = await runCosiRound(roster, headMessage(), eps, { branchingFactor: 8 });
  assert.equal(result.attempts, 2);
  assert.deepEqual(result.faults.map((f) => [f.index, f.kind, f.excluded]), [[0, 'no-response', true]]);
  assert.deepEqual(result.participants, [1, 2, 3, 4]);
  verifyCollectiveSignature(roster, headMessage(), result.cosignature);
});

test('too many failures: THRESHOLD_NOT_MET, with the faults', async () => {
  const { roster, endpoints } = cothority(5, 4, 'round');
  const eps = endpoints.map((e, i) => (i === 0 ? absent(e) : i === 1 ? wrongResponse(e) : e));
  await assert.rejects(runCosiRound(roster, headMessage(), eps), (e: unknown) => {
    assert.ok(isCode('THRESHOLD_NOT_MET')(e));
    assert.deepEqual((e as CosiError).faults.map((f) => [f.index, f.kind]), [[0, 'absent'], [1, 'bad-response']]);
    return true;
  });
  await assert.rejects(runCosiRound(roster, headMessage(), endpoints.slice(0, 3)), isCode('THRESHOLD_NOT_MET'));
});

test('bounded retries: RETRIES_EXHAUSTED when every allowed attempt fails', async () => {
  const { roster, endpoints } = cothority(6, 2, 'round');
  const eps = endpoints.map((e, i) => (i < 3 ? wrongResponse(e) : e));
  // Each attempt excludes the faulty ones found; with one attempt there is no retry.
  await assert.rejects(runCosiRound(roster, headMessage(), eps, { maxAttempts: 1 }), isCode('RETRIES_EXHAUSTED'));
  const result = await runCosiRound(roster, headMessage(), eps, { maxAttempts: 2 });
  assert.deepEqual(result.participants, [3, 4, 5]);
});

test('concurrent sessions with interleaved rounds all produce valid signatures (two-nonce binding)', async () => {
  const { roster, endpoints } = cothority(6, 4, 'round');
  let seed = 1;
  const jitter = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 5);
  const eps = endpoints.map((e) => delayed(e, jitter));
  const messages = [1, 2, 3, 4, 5, 6].map((i) => headMessage(i));
  const results = await Promise.all(messages.map((m, i) => runCosiRound(roster, m, eps, { branchingFactor: i % 2 === 0 ? 2 : 16 })));
  results.forEach((r, i) => {
    verifyCollectiveSignature(roster, messages[i]!, r.cosignature);
    assert.throws(() => verifyCollectiveSignature(roster, messages[(i + 1) % 6]!, r.cosignature), isCode('BAD_SIGNATURE'));
  });
});

for (const k of [2, 3, 16]) {
  test(`tree aggregation with branching factor ${k}: 40 witnesses co-sign`, async () => {
    const { roster, endpoints } = cothority(40, 27, 'tree');
    const result = await runCosiRound(roster, headMessage(), endpoints, { branchingFactor: k });
    assert.equal(result.participants.length, 40);
    verifyCollectiveSignature(roster, headMessage(), result.cosignature);
  });

  test(`tree aggregation with branching factor ${k}: a sub-leader absent at commitment is re-parented around`, async () => {
    const { roster, endpoints } = cothority(40, 27, 'tree');
    // Positions 0 and 1 are sub-leaders for every k (children at k·(p+1)...).
    const eps = endpoints.map((e, i) => (i === 0 || i === 1 ? absent(e) : e));
    const result = await runCosiRound(roster, headMessage(), eps, { branchingFactor: k });
    assert.equal(result.attempts, 1);
    assert.deepEqual(result.participants, Array.from({ length: 38 }, (_, i) => i + 2), 'their children still take part');
    verifyCollectiveSignature(roster, headMessage(), result.cosignature);
  });

  test(`tree aggregation with branching factor ${k}: a sub-leader failing at response is excluded and its subtree re-parented`, async () => {
    const { roster, endpoints } = cothority(40, 27, 'tree');
    const subLeader = 1;
    const deep = 39; // a leaf
    const eps: WitnessEndpoint[] = endpoints.map((e, i) => (i === subLeader ? dropsResponse(e) : i === deep ? wrongResponse(e) : e));
    const result = await runCosiRound(roster, headMessage(), eps, { branchingFactor: k });
    assert.equal(result.participants.length, 38);
    assert.ok(!result.participants.includes(subLeader) && !result.participants.includes(deep));
    assert.deepEqual(result.faults.map((f) => [f.index, f.kind]).sort(), [[1, 'no-response'], [39, 'bad-response']]);
    verifyCollectiveSignature(roster, headMessage(), result.cosignature);
  });
}

test('tree aggregation: a wrong response deep in a binary tree is found by descending only into failing subtrees', async () => {
  const { roster, endpoints } = cothority(64, 40, 'tree64');
  const eps = endpoints.map((e, i) => (i === 37 || i === 50 ? wrongResponse(e) : e));
  const result = await runCosiRound(roster, headMessage(), eps, { branchingFactor: 2 });
  assert.equal(result.attempts, 2);
  assert.deepEqual(result.faults.map((f) => f.index).sort((a, b) => a - b), [37, 50]);
  assert.equal(result.participants.length, 62);
});
