// Tests for log/forward-link.ts: a forward link is accepted only when it joins the blocks it
// names at a legal level and carries a collective signature by the source block's roster at its
// threshold (protocol.md section 5). Each attack is built with real CoSi signatures.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildForwardLink,
  forwardLinkMessage,
  LogError,
  parseLinkFile,
  verifyForwardLink,
  type ForwardLink,
} from '../../src/log/index.js';
import { buildTestLog, cosign, rosterOf, witnessKey, type TestLog } from '../fixtures/log-chain.js';

const keysA = Array.from({ length: 7 }, (_, i) => witnessKey(`a${i}`));
const keysB = Array.from({ length: 7 }, (_, i) => witnessKey(`b${i}`));
const outsiders = Array.from({ length: 7 }, (_, i) => witnessKey(`x${i}`));

let log: TestLog;
before(async () => {
  // Roster A until block 12, roster B from block 12 on (changed by an authorized block).
  log = await buildTestLog({ blocks: 20, base: 2, maxHeight: 8, genesis: { keys: keysA, threshold: 5 }, changes: { 12: { keys: keysB, threshold: 5 } } });
});

const block = (i: number) => log.chain.blockAt(i)!;
const rosterA = () => log.rosterAt(0).roster;
const rosterB = () => log.rosterAt(12).roster;

async function refuses(fn: () => unknown, code: string): Promise<void> {
  await assert.rejects(async () => fn(), (e: unknown) => e instanceof LogError && e.code === code, `expected LogError ${code}`);
}

test('every published forward link verifies against its blocks and the source roster', () => {
  for (const [key, file] of log.links) {
    const { link, cosignature } = parseLinkFile(JSON.stringify(file));
    const from = block(link.fromIndex);
    verifyForwardLink(link, cosignature, from, log.rosterAt(link.fromIndex).roster, block(link.toIndex));
    assert.equal(key, `${link.fromIndex}.${link.level}`);
  }
  // Across the change: the link 8 -> 16 (level 3) names roster B, signed by roster A.
  const across = log.links.get('8.3')!.link;
  assert.equal(across.newRoster, block(12).roster);
  assert.equal(log.links.get('12.2')!.link.newRoster, null);
});

test('refuses a forged forward link (signature by keys outside the roster)', async () => {
  const link = buildForwardLink(block(4), block(5));
  const forgedTo: ForwardLink = { ...link, to: 'ee'.repeat(32) };
  const signedByOutsiders = await cosign(rosterOf(outsiders, 5), outsiders, forwardLinkMessage(link));
  await refuses(() => verifyForwardLink(link, signedByOutsiders, block(4), rosterA(), block(5)), 'BAD_FORWARD_LINK');
  // A genuine signature of another link does not carry over to an altered one.
  const genuine = log.links.get('4.0')!.cosignature;
  await refuses(() => verifyForwardLink(forgedTo, genuine, block(4), rosterA(), block(5)), 'BAD_FORWARD_LINK');
  await refuses(() => verifyForwardLink({ ...link, from: block(3) === undefined ? '' : 'dd'.repeat(32) }, genuine, block(4), rosterA(), block(5)), 'BAD_FORWARD_LINK');
});

test('refuses an under-threshold forward link (4 genuine co-signers of 7, threshold 5)', async () => {
  const link = buildForwardLink(block(4), block(5));
  const four = await cosign(rosterA(), keysA.slice(0, 4), forwardLinkMessage(link));
  await refuses(() => verifyForwardLink(link, four, block(4), rosterA(), block(5)), 'THRESHOLD_NOT_MET');
  const five = await cosign(rosterA(), keysA.slice(2, 7), forwardLinkMessage(link));
  verifyForwardLink(link, five, block(4), rosterA(), block(5));
});

test('refuses a forward link signed by a rotated-out roster', async () => {
  // Block 12 brought roster B; the link 12 -> 13 must be signed by B. The old roster A signs it.
  const link = buildForwardLink(block(12), block(13));
  const byOld = await cosign(rosterA(), keysA, forwardLinkMessage(link));
  // Checked with the old roster: it is not the roster in force at block 12.
  await refuses(() => verifyForwardLink(link, byOld, block(12), rosterA(), block(13)), 'UNKNOWN_ROSTER');
  // Checked with the roster in force: the old roster's signature does not verify.
  await refuses(() => verifyForwardLink(link, byOld, block(12), rosterB(), block(13)), 'BAD_FORWARD_LINK');
});

test('refuses a forward link that skips to a wrong index or claims a level its source does not have', async () => {
  const base = buildForwardLink(block(4), block(8)); // level 2
  // toIndex that is not fromIndex + 2^level, co-signed by the right roster.
  const wrongIndex: ForwardLink = { ...base, toIndex: 9, to: log.chain.hashAt(9)! };
  const sig1 = await cosign(rosterA(), keysA, forwardLinkMessage(wrongIndex));
  await refuses(() => verifyForwardLink(wrongIndex, sig1, block(4), rosterA(), block(9)), 'BAD_FORWARD_LINK');
  // Level 3 from block 4 (height 3): not a level block 4 has.
  const tooHigh: ForwardLink = { ...base, level: 3, toIndex: 12, to: log.chain.hashAt(12)!, newRoster: block(12).roster };
  const sig2 = await cosign(rosterA(), keysA, forwardLinkMessage(tooHigh));
  await refuses(() => verifyForwardLink(tooHigh, sig2, block(4), rosterA(), block(12)), 'BAD_FORWARD_LINK');
  // Right indices, wrong level number.
  const wrongLevel: ForwardLink = { ...base, level: 1 };
  const sig3 = await cosign(rosterA(), keysA, forwardLinkMessage(wrongLevel));
  await refuses(() => verifyForwardLink(wrongLevel, sig3, block(4), rosterA(), block(8)), 'BAD_FORWARD_LINK');
  assert.throws(() => buildForwardLink(block(5), block(7)), (e: unknown) => e instanceof LogError && e.code === 'BAD_FORWARD_LINK');
});

test('refuses a forward link that hides or invents a roster change', async () => {
  const hides: ForwardLink = { ...buildForwardLink(block(8), block(16)), newRoster: null };
  const sig = await cosign(rosterA(), keysA, forwardLinkMessage(hides));
  await refuses(() => verifyForwardLink(hides, sig, block(8), rosterA(), block(16)), 'BAD_FORWARD_LINK');
  const invents: ForwardLink = { ...buildForwardLink(block(4), block(6)), newRoster: block(12).roster };
  const sig2 = await cosign(rosterA(), keysA, forwardLinkMessage(invents));
  await refuses(() => verifyForwardLink(invents, sig2, block(4), rosterA(), block(6)), 'BAD_FORWARD_LINK');
});

test('refuses malformed link files', async () => {
  const good = log.links.get('4.0')!;
  await refuses(() => parseLinkFile(JSON.stringify({ ...good, extra: true })), 'BAD_FORWARD_LINK');
  await refuses(() => parseLinkFile(JSON.stringify({ ...good, link: { ...good.link, level: -1 } })), 'BAD_FORWARD_LINK');
  await refuses(() => parseLinkFile(JSON.stringify({ ...good, cosignature: { ...good.cosignature, signature: 'zz' } })), 'BAD_COSIGNATURE');
  await assert.rejects(async () => parseLinkFile('x'.repeat(20_000)), /limit is/);
});
