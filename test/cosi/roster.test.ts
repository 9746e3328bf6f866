// Tests for cosi/roster.ts: a roster is accepted only with valid keys, valid proofs of
// possession, distinct keys and a sane threshold (protocol.md 4). Each refusal is an attack or
// a mistake the check stops. A roster vouched for by an accepted roster (protocol.md 5, "Vouched
// rosters") skips exactly the subgroup and proof-of-possession checks, and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes } from '../../src/encoding/index.js';
import { sha256Hex } from '../../src/crypto/index.js';
import {
  acceptRoster, acceptVouchedRoster, AcceptedRoster, cosiMessage, CosiError, createProofOfPossession, parseRoster,
  rosterHash, validateWitnessPublicKey, verifyCollectiveSignature, type Roster, type RosterVouch, Point, toHex,
} from '../../src/cosi/index.js';
import { cothority, pointOfOrder8, rosterOf, signDirect, torsionedKeyHex, witnessKey } from './fixtures.js';

const isCode = (code: string) => (e: unknown) => e instanceof CosiError && e.code === code;
const keys = [0, 1, 2, 3].map((i) => witnessKey(i, 'roster'));
const clone = (r: Roster): Roster => JSON.parse(JSON.stringify(r)) as Roster;

test('accepts a valid roster, hashes it as hex(H(canonical(roster))) and caches the decoded keys', () => {
  const roster = rosterOf(keys, 3);
  const accepted = acceptRoster(roster);
  assert.equal(accepted.hash, sha256Hex(canonicalBytes(roster)));
  assert.equal(accepted.hash, rosterHash(roster));
  assert.equal(accepted.size, 4);
  assert.equal(accepted.threshold, 3);
  assert.equal(accepted.indexOf(keys[2]!.publicKeyHex), 2);
  assert.equal(acceptRoster(clone(roster)), accepted, 'the same roster is not validated and decoded twice');
  const full = accepted.aggregateKey(Uint8Array.of(0x0f));
  assert.ok(full.point.equals(keys.map((k) => Point.fromBytes(k.publicKey)).reduce((a, b) => a.add(b))));
  assert.equal(accepted.aggregateKey(Uint8Array.of(0x0f)), full, 'aggregate key cached per bitmap');
  const three = accepted.aggregateKey(Uint8Array.of(0x0b));
  assert.ok(three.point.equals(accepted.sumKeys([0, 1, 3])));
});

test('refuses a rogue key: A_rogue = r·B - A_honest without a valid proof of possession', () => {
  // The attack: the aggregate of {honest, rogue} is r·B, whose secret the attacker knows, so the
  // attacker alone could sign for both. It cannot produce a PoP for A_rogue (no secret for it).
  const honest = keys[0]!;
  const r = 123456789n;
  const rogue = Point.BASE.multiply(r).subtract(Point.fromBytes(honest.publicKey));
  assert.ok(rogue.add(Point.fromBytes(honest.publicKey)).equals(Point.BASE.multiply(r)));
  const roster = rosterOf([honest, keys[1]!], 1);
  roster.witnesses[1] = { name: 'mallory', key: toHex(rogue.toBytes()), pop: 'ab'.repeat(64), address: 'http://mallory' };
  assert.throws(() => acceptRoster(roster), isCode('BAD_PROOF_OF_POSSESSION'));
});

test('refuses a rogue key carrying the proof of possession of another key', () => {
  const roster = rosterOf(keys.slice(0, 2), 1);
  const rogue = Point.BASE.multiply(987654321n).subtract(Point.fromBytes(keys[0]!.publicKey));
  roster.witnesses[1] = { ...roster.witnesses[1]!, key: toHex(rogue.toBytes()) }; // keeps w1's PoP
  assert.throws(() => acceptRoster(roster), isCode('BAD_PROOF_OF_POSSESSION'));
  const swapped = rosterOf(keys.slice(0, 2), 1);
  swapped.witnesses[0]!.pop = toHex(createProofOfPossession(keys[1]!));
  assert.throws(() => acceptRoster(swapped), isCode('BAD_PROOF_OF_POSSESSION'));
});

test('refuses a small-order key and a key outside the prime-order subgroup', () => {
  const identity = rosterOf(keys.slice(0, 2), 1);
  identity.witnesses[1]!.key = '01' + '00'.repeat(31);
  assert.throws(() => acceptRoster(identity), isCode('BAD_KEY'));
  // A key with a torsion component could still carry a valid PoP under cofactorless verification
  // (with probability 1/8 per attempt), so the subgroup check is what stops it.
  const t8 = pointOfOrder8();
  assert.ok(!t8.is0() && !t8.multiplyUnsafe(4n).is0() && t8.multiplyUnsafe(8n).is0(), 'a point of order 8');
  const mixed = rosterOf(keys.slice(0, 2), 1);
  mixed.witnesses[1]!.key = toHex(Point.fromBytes(keys[1]!.publicKey).add(t8).toBytes());
  assert.equal(mixed.witnesses[1]!.key, torsionedKeyHex(keys[1]!));
  assert.throws(() => acceptRoster(mixed), isCode('BAD_KEY'));
});

test('refuses non-canonical and malformed key encodings', () => {
  const nonCanonical = rosterOf(keys.slice(0, 2), 1);
  nonCanonical.witnesses[1]!.key = 'ee' + 'ff'.repeat(30) + '7f'; // y = p + 1
  assert.throws(() => acceptRoster(nonCanonical), isCode('BAD_KEY'));
  const upper = rosterOf(keys.slice(0, 2), 1);
  upper.witnesses[1]!.key = upper.witnesses[1]!.key.toUpperCase();
  assert.throws(() => acceptRoster(upper), isCode('BAD_KEY'));
  const short = rosterOf(keys.slice(0, 2), 1);
  short.witnesses[1]!.key = short.witnesses[1]!.key.slice(2);
  assert.throws(() => acceptRoster(short), isCode('BAD_KEY'));
});

test('refuses duplicate keys (one witness counted twice towards the threshold)', () => {
  const roster = rosterOf([keys[0]!, keys[1]!, keys[0]!], 2);
  assert.throws(() => acceptRoster(roster), isCode('DUPLICATE_KEY'));
});

test('refuses a threshold outside 1..n', () => {
  for (const t of [0, -1, 5, 1.5, Number.NaN]) {
    assert.throws(() => acceptRoster(rosterOf(keys, t)), isCode('BAD_THRESHOLD'), `threshold ${t}`);
  }
  assert.throws(() => acceptRoster({ threshold: 1, witnesses: [] }), isCode('BAD_ROSTER'));
  acceptRoster(rosterOf(keys, 4));
  acceptRoster(rosterOf(keys, 1));
});

test('parseRoster refuses the wrong shape, unknown fields and oversized names', () => {
  const good = rosterOf(keys.slice(0, 2), 2);
  assert.deepEqual(parseRoster(JSON.stringify(good)), good);
  assert.deepEqual(parseRoster(Buffer.from(JSON.stringify(good))), good);
  const cases: unknown[] = [
    [],
    { threshold: '2', witnesses: good.witnesses },
    { threshold: 2, witnesses: {} },
    { threshold: 2, witnesses: good.witnesses, extra: 1 },
    { threshold: 2, witnesses: [{ ...good.witnesses[0], role: 'leader' }] },
    { threshold: 2, witnesses: [{ ...good.witnesses[0], name: 'x'.repeat(65) }] },
    { threshold: 2, witnesses: [{ ...good.witnesses[0], name: 'bad name' }] },
    { threshold: 2, witnesses: [{ ...good.witnesses[0], key: 7 }] },
  ];
  for (const c of cases) assert.throws(() => parseRoster(JSON.stringify(c)), isCode('BAD_ROSTER'), JSON.stringify(c).slice(0, 80));
});

// ---- vouched rosters (protocol.md 5, "Vouched rosters") ------------------------------------

const voucher = cothority(7, 5, 'voucher');
const vouchedKeys = [0, 1, 2, 3].map((i) => witnessKey(i, 'vouched'));

/** The voucher's threshold co-signs a statement naming `hash` (as a forward link does). */
async function vouchFor(hash: string, signers = voucher.signers.slice(0, 5)): Promise<RosterVouch> {
  const message = cosiMessage('cairn/v1/forward-link', { newRoster: hash });
  const cosig = await signDirect(voucher.roster, signers, message);
  return { rosterHash: hash, voucher: voucher.roster, cosignature: verifyCollectiveSignature(voucher.roster, message, cosig) };
}

/** A roster with a torsioned key (witness 1) and a wrong proof of possession (witness 2). */
function defectiveRoster(): Roster {
  const roster = rosterOf(vouchedKeys, 3);
  roster.witnesses[1]!.key = torsionedKeyHex(vouchedKeys[1]!);
  roster.witnesses[2]!.pop = toHex(createProofOfPossession(vouchedKeys[3]!));
  return roster;
}

test('a vouched roster is accepted without the subgroup and proof-of-possession checks; the same roster is refused with every check', async () => {
  const roster = defectiveRoster();
  const vouched = acceptVouchedRoster(roster, await vouchFor(rosterHash(roster)));
  assert.equal(vouched.acceptance, 'vouched');
  assert.ok(!(vouched instanceof AcceptedRoster), 'a vouched roster is not an AcceptedRoster (it cannot drive a signing round)');
  assert.equal(vouched.hash, rosterHash(roster));
  assert.ok(vouched.keys[1]!.equals(Point.fromBytes(vouchedKeys[1]!.publicKey).add(pointOfOrder8())), 'the torsioned key is decoded as it is');
  // The same roster as an anchor (acceptRoster) is refused, before and after it was vouched for:
  // the vouched cache and the decoded torsioned key never count as checked.
  assert.throws(() => acceptRoster(roster), isCode('BAD_KEY'));
  assert.throws(() => validateWitnessPublicKey(Buffer.from(roster.witnesses[1]!.key, 'hex')), isCode('BAD_KEY'));
  const badPopOnly = rosterOf(vouchedKeys, 3);
  badPopOnly.witnesses[2]!.pop = roster.witnesses[2]!.pop;
  assert.throws(() => acceptRoster(badPopOnly), isCode('BAD_PROOF_OF_POSSESSION'));
  assert.equal(acceptVouchedRoster(badPopOnly, await vouchFor(rosterHash(badPopOnly))).acceptance, 'vouched');
});

test('a vouched roster verifies collective signatures of its members', async () => {
  // Witness 1's key is torsioned; witnesses 0, 2 and 3 sign with the roster as it should be:
  // the aggregate of their keys is the same in both rosters.
  const roster = defectiveRoster();
  const vouched = acceptVouchedRoster(roster, await vouchFor(rosterHash(roster)));
  const honest = cothority(4, 3, 'vouched');
  const message = cosiMessage('cairn/v1/head', { index: 7 });
  const cosig = await signDirect(honest.roster, [0, 2, 3].map((i) => honest.signers[i]!), message);
  assert.deepEqual(verifyCollectiveSignature(vouched, message, cosig).participants, [0, 2, 3]);
});

test('refuses a roster other than the one vouched for, and a vouch below threshold or not the voucher\'s', async () => {
  const roster = defectiveRoster();
  const other = rosterOf(vouchedKeys.slice(0, 3), 2);
  const vouch = await vouchFor(rosterHash(other));
  assert.throws(() => acceptVouchedRoster(roster, vouch), isCode('NOT_VOUCHED'));
  const good = await vouchFor(rosterHash(roster));
  const short = { ...good, cosignature: { ...good.cosignature, participants: good.cosignature.participants.slice(0, 4) } };
  assert.throws(() => acceptVouchedRoster(roster, short), isCode('NOT_VOUCHED'));
  const foreign = { ...good, cosignature: { ...good.cosignature, roster: rosterHash(other) } };
  assert.throws(() => acceptVouchedRoster(roster, foreign), isCode('NOT_VOUCHED'));
  // A genuine signature of 4 of the voucher's 7 (threshold 5) cannot be had as a vouch at all.
  const message = cosiMessage('cairn/v1/forward-link', { newRoster: rosterHash(roster) });
  const four = await signDirect(voucher.roster, voucher.signers.slice(0, 4), message);
  assert.throws(() => verifyCollectiveSignature(voucher.roster, message, four), isCode('THRESHOLD_NOT_MET'));
});

test('a vouched roster still needs canonical keys, distinct keys, a sane threshold and its shape', async () => {
  const vouched = async (r: Roster) => acceptVouchedRoster(r, await vouchFor(rosterHash(r)));
  const nonCanonical = rosterOf(vouchedKeys, 3);
  nonCanonical.witnesses[1]!.key = 'ee' + 'ff'.repeat(30) + '7f'; // y = p + 1
  await assert.rejects(vouched(nonCanonical), isCode('BAD_KEY'));
  const notOnCurve = rosterOf(vouchedKeys, 3);
  let y = 2n;
  for (;; y++) {
    const hex = Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse().toString('hex');
    try {
      Point.fromBytes(Buffer.from(hex, 'hex'));
    } catch {
      notOnCurve.witnesses[1]!.key = hex;
      break;
    }
  }
  await assert.rejects(vouched(notOnCurve), isCode('BAD_KEY'));
  await assert.rejects(vouched(rosterOf([vouchedKeys[0]!, vouchedKeys[1]!, vouchedKeys[0]!], 2)), isCode('DUPLICATE_KEY'));
  await assert.rejects(vouched(rosterOf(vouchedKeys, 5)), isCode('BAD_THRESHOLD'));
  const shortPop = rosterOf(vouchedKeys, 3);
  shortPop.witnesses[2]!.pop = shortPop.witnesses[2]!.pop.slice(2);
  await assert.rejects(vouched(shortPop), isCode('BAD_PROOF_OF_POSSESSION'));
  const extra = { ...rosterOf(vouchedKeys, 3), extra: 1 } as unknown as Roster;
  await assert.rejects(vouched(extra), isCode('BAD_ROSTER'));
});

test('two rosters never share a hash: an address with an unpaired surrogate is refused, vouched for or not', async () => {
  // Canonical JSON is hashed as UTF-8, where an unpaired surrogate has no encoding and becomes
  // U+FFFD: a roster whose address holds "\ud800" would hash like one holding "\ufffd", so a
  // mirror could hand a client, under the hash a link vouches for, a roster other than the one
  // the witnesses checked. Such a string is not Unicode text; it is refused at the shape check.
  const named = rosterOf(vouchedKeys, 3);
  named.witnesses[1]!.address = 'http://w1.example/\ufffd';
  const lookalike = clone(named);
  lookalike.witnesses[1]!.address = 'http://w1.example/\ud800';
  assert.notEqual(lookalike.witnesses[1]!.address, named.witnesses[1]!.address);
  assert.ok(canonicalBytes(lookalike).equals(canonicalBytes(named)), 'the two rosters have the same canonical bytes');
  const vouch = await vouchFor(rosterHash(named));
  assert.throws(() => acceptVouchedRoster(lookalike, vouch), isCode('BAD_ROSTER'));
  assert.throws(() => acceptRoster(lookalike), isCode('BAD_ROSTER'));
  assert.throws(() => parseRoster(JSON.stringify(lookalike)), isCode('BAD_ROSTER'));
  for (const address of ['http://w1.example/\udc00', 'http://w1.example/\ud800x']) {
    const other = clone(named);
    other.witnesses[1]!.address = address;
    assert.throws(() => parseRoster(JSON.stringify(other)), isCode('BAD_ROSTER'), JSON.stringify(address));
  }
  // The roster as named (a well-formed U+FFFD, or any paired surrogate) is accepted both ways,
  // and a lookalike offered after it is still refused, not served from either cache.
  assert.equal(acceptVouchedRoster(named, vouch).hash, rosterHash(named));
  assert.equal(acceptRoster(named).hash, rosterHash(named));
  assert.throws(() => acceptVouchedRoster(lookalike, vouch), isCode('BAD_ROSTER'));
  assert.throws(() => acceptRoster(lookalike), isCode('BAD_ROSTER'));
  const emoji = rosterOf(vouchedKeys, 3);
  emoji.witnesses[0]!.address = 'http://w0.example/\ud83d\ude00';
  assert.equal(acceptRoster(emoji).roster.witnesses[0]!.address, 'http://w0.example/😀');
});
