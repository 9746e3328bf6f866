// Tests for cosi/roster.ts: a roster is accepted only with valid keys, valid proofs of
// possession, distinct keys and a sane threshold (protocol.md 4). Each refusal is an attack or
// a mistake the check stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBytes } from '../../src/encoding/canonical-json.js';
import { sha256Hex } from '../../src/crypto/hash.js';
import { acceptRoster, CosiError, createProofOfPossession, parseRoster, rosterHash, type Roster } from '../../src/cosi/index.js';
import { L, Point, toHex } from '../../src/cosi/group.js';
import { rosterOf, witnessKey } from './fixtures.js';

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
  let t8 = Point.ZERO;
  for (let y = 2n; t8.is0() || t8.multiplyUnsafe(4n).is0(); y++) {
    try {
      const p = Point.fromBytes(Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse());
      t8 = p.multiplyUnsafe(L - 1n).add(p);
    } catch {
      /* not a point */
    }
  }
  const mixed = rosterOf(keys.slice(0, 2), 1);
  mixed.witnesses[1]!.key = toHex(Point.fromBytes(keys[1]!.publicKey).add(t8).toBytes());
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
