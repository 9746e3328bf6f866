// Tests for log/head.ts and log/equivocation.ts: head statements are refused when stale
// (freeze), older than the last accepted (replay), signed by the wrong roster or from the
// future; two co-signed claims for one index are a proof of misbehaviour anyone can check, and
// anything else is refused as a proof.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildEquivocationProof, buildForwardLink, buildBlock, blockHash, buildHeadStatement, forwardLinkMessage, headMessage,
  LogError, parseEquivocationProof, parseHeadFile, verifyEquivocationProof, verifyHeadStatement, type SignedClaim,
  formatUtcTime,
} from '../../src/log/index.js';
import { buildTestLog, cosign, payloadFor, T0, witnessKey, type TestLog } from '../fixtures/log-chain.js';

const keysA = Array.from({ length: 7 }, (_, i) => witnessKey(`a${i}`));
const keysB = Array.from({ length: 7 }, (_, i) => witnessKey(`b${i}`));

let log: TestLog;
before(async () => {
  log = await buildTestLog({ blocks: 10, genesis: { keys: keysA, threshold: 5 }, changes: { 6: { keys: keysB, threshold: 5 } } });
});

const at = (s: number): Date => new Date((T0 + s) * 1000);
const HOUR = 3600;

function refuses(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof LogError && e.code === code, `expected LogError ${code}`);
}

test('accepts a fresh head statement co-signed by the roster in force at the head', async () => {
  const file = await log.head(9, formatUtcTime(T0 + 10 * HOUR));
  const parsed = parseHeadFile(JSON.stringify(file));
  verifyHeadStatement(parsed.statement, parsed.cosignature, log.chain.blockAt(9)!, log.rosterAt(9).roster, { now: at(10 * HOUR + 60), maxAgeSeconds: HOUR });
});

test('refuses a stale head statement (freeze attack)', async () => {
  const file = await log.head(9, formatUtcTime(T0 + 10 * HOUR));
  refuses(() => verifyHeadStatement(file.statement, file.cosignature, log.chain.blockAt(9)!, log.rosterAt(9).roster, { now: at(12 * HOUR), maxAgeSeconds: HOUR }), 'STALE_HEAD');
});

test('refuses a replayed head statement older than the last accepted one', async () => {
  const older = await log.head(8, formatUtcTime(T0 + 10 * HOUR));
  const last = { index: 9, hash: log.chain.hashAt(9)!, time: formatUtcTime(T0 + 10 * HOUR + 30) };
  refuses(
    () => verifyHeadStatement(older.statement, older.cosignature, log.chain.blockAt(8)!, log.rosterAt(8).roster, { now: at(10 * HOUR + 60), maxAgeSeconds: HOUR, lastAccepted: last }),
    'REPLAYED_HEAD',
  );
  // Same block, earlier time than the one accepted: also a replay.
  const earlier = await log.head(9, formatUtcTime(T0 + 10 * HOUR));
  refuses(
    () => verifyHeadStatement(earlier.statement, earlier.cosignature, log.chain.blockAt(9)!, log.rosterAt(9).roster, { now: at(10 * HOUR + 60), maxAgeSeconds: HOUR, lastAccepted: last }),
    'REPLAYED_HEAD',
  );
});

test('refuses a head statement signed by the wrong roster, naming another block, or from the future', async () => {
  const file = await log.head(9, formatUtcTime(T0 + 10 * HOUR));
  const policy = { now: at(10 * HOUR), maxAgeSeconds: HOUR };
  refuses(() => verifyHeadStatement(file.statement, file.cosignature, log.chain.blockAt(9)!, log.rosterAt(0).roster, policy), 'UNKNOWN_ROSTER');
  refuses(() => verifyHeadStatement(file.statement, file.cosignature, log.chain.blockAt(8)!, log.rosterAt(8).roster, policy), 'BAD_HEAD');
  const byOld = await cosign(log.rosterAt(0).roster, keysA, headMessage(file.statement));
  refuses(() => verifyHeadStatement(file.statement, byOld, log.chain.blockAt(9)!, log.rosterAt(9).roster, policy), 'BAD_HEAD');
  const few = await cosign(log.rosterAt(9).roster, keysB.slice(0, 3), headMessage(file.statement));
  refuses(() => verifyHeadStatement(file.statement, few, log.chain.blockAt(9)!, log.rosterAt(9).roster, policy), 'THRESHOLD_NOT_MET');
  refuses(() => verifyHeadStatement(file.statement, file.cosignature, log.chain.blockAt(9)!, log.rosterAt(9).roster, { now: at(9 * HOUR), maxAgeSeconds: HOUR }), 'BAD_HEAD');
});

/** A second block 9, different from the published one, with a genuine level-0 link from block 8. */
async function conflictingClaims(firstSigners = keysB, secondSigners = keysB): Promise<[SignedClaim, SignedClaim]> {
  const roster = log.rosterAt(8).roster;
  const published = log.links.get('8.0')!;
  const view = { chain: log.chain.chain, base: 2, maxHeight: 32, head: log.chain.blockAt(8)!, hashAt: (i: number) => log.chain.hashAt(i) };
  const other = buildBlock(view, payloadFor(9, 'fork'));
  assert.notEqual(blockHash(other), log.chain.hashAt(9));
  const link = buildForwardLink(log.chain.blockAt(8)!, other);
  const first: SignedClaim = { kind: 'forward-link', link: published.link, cosignature: await cosign(roster, firstSigners, forwardLinkMessage(published.link)), roster };
  const second: SignedClaim = { kind: 'forward-link', link, cosignature: await cosign(roster, secondSigners, forwardLinkMessage(link)), roster };
  return [first, second];
}

test('an equivocation proof (two co-signed blocks at one index) is verified and names who signed both', async () => {
  const [first, second] = await conflictingClaims(keysB.slice(0, 5), keysB.slice(2, 7));
  const proof = buildEquivocationProof(first, second);
  const result = verifyEquivocationProof(parseEquivocationProof(JSON.parse(JSON.stringify(proof))));
  assert.equal(result.index, 9);
  assert.deepEqual(result.culprits.map((c) => c.name), ['w2', 'w3', 'w4']);
  // A head statement is a claim too.
  const statement = buildHeadStatement(log.chain.blockAt(9)!, formatUtcTime(T0 + HOUR));
  const head: SignedClaim = { kind: 'head', statement, cosignature: await cosign(second.roster, keysB, headMessage(statement)), roster: second.roster };
  assert.equal(verifyEquivocationProof(buildEquivocationProof(head, second)).culprits.length, 5);
  refuses(() => verifyEquivocationProof(proof, { knownRosters: new Set(['00'.repeat(32)]) }), 'UNKNOWN_ROSTER');
});

test('refuses a non-equivocation as a proof', async () => {
  const [first, second] = await conflictingClaims();
  const type = 'cairn/v1/equivocation-proof' as const;
  // The same block twice.
  refuses(() => verifyEquivocationProof({ type, first, second: first }), 'NOT_EQUIVOCATION');
  // Claims about different indices.
  const other = log.links.get('7.0')!;
  refuses(() => verifyEquivocationProof({ type, first, second: { kind: 'forward-link', roster: second.roster, link: other.link, cosignature: other.cosignature } }), 'NOT_EQUIVOCATION');
  // A claim whose signature does not verify (its link was altered after signing).
  assert.ok(second.kind === 'forward-link');
  const altered: SignedClaim = { ...second, link: { ...second.link, to: 'cd'.repeat(32) } };
  refuses(() => verifyEquivocationProof({ type, first, second: altered }), 'NOT_EQUIVOCATION');
  // Disjoint signers prove no one's misbehaviour.
  const [a, b] = await conflictingClaims(keysB.slice(0, 3), keysB.slice(3, 6));
  const low = { ...log.rosterAt(8).roster, threshold: 3 };
  refuses(() => verifyEquivocationProof({ type, first: { ...a, roster: low }, second: { ...b, roster: low } }), 'NOT_EQUIVOCATION');
});
