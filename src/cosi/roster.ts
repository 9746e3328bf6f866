// cosi/roster.ts: the witness roster (docs/protocol.md section 4; collective signatures and
// the rogue-key defence of protocol.md sections 1 and 3). A roster is accepted in one of two ways:
// - acceptRoster checks everything: every key is a valid witness key (protocol.md 1) with a valid
//   proof of possession, keys are distinct, and 1 <= threshold <= n. Witnesses, leaders and a
//   client's anchored roster go this way.
// - acceptVouchedRoster takes a roster that an already accepted roster vouched for: a collective
//   signature at the voucher's threshold over a statement naming the new roster's hash (in cairn,
//   a forward link; protocol.md 5, "Vouched rosters"). It checks the shape, the threshold,
//   distinct keys and canonical key encodings, and leaves the subgroup and proof-of-possession
//   checks to the voucher's honest members, who made them before co-signing.
// Both keep the decoded keys and cache aggregate keys per bitmap, so that verifying many
// collective signatures under one roster never re-decodes a key (CoSi verification: X = sum of
// the participants' keys, then one Ed25519 verification). The two kinds are distinct types: only
// an AcceptedRoster can drive a signing round.
import type { KeyObject } from 'node:crypto';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import type { JsonValue } from '../encoding/canonical-json.js';
import { sha256Hex } from '../crypto/hash.js';
import { short } from '../errors/index.js';
import { CosiError } from './errors.js';
import { clearValidatedKeys, decodeVouchedWitnessKey, decodeWitnessKey, ed25519KeyObject, hexToBytesExact, Point, toHex } from './group.js';
import { verifyProofOfPossession } from './keys.js';
import { bitmapLength, countParticipants, decodeBitmap, hasParticipant } from './bitmap.js';
import type { VerifiedCollectiveSignature } from './verify.js';

/** One witness of a roster, as protocol.md 4 spells it. */
export interface RosterWitness {
  name: string;
  /** hex of the 32-byte Ed25519 public key. */
  key: string;
  /** hex of the 64-byte proof of possession. */
  pop: string;
  address: string;
}

/** A roster as protocol.md 4 spells it. Witness order defines bitmap positions. */
export interface Roster {
  threshold: number;
  witnesses: RosterWitness[];
}

/** Caps on a roster read from untrusted bytes, with their reasons. */
export const ROSTER_LIMITS = {
  /** Well above the 4,096 witnesses cairn is measured with; bounds acceptance time (~1-3 ms a key). */
  maxWitnesses: 10_000,
  /** Names appear in messages and reports. */
  maxNameLength: 64,
  /** A URL. */
  maxAddressLength: 512,
  /** 10,000 witnesses of ~300 bytes each. */
  maxBytes: 8 * 1024 * 1024,
} as const;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A lone UTF-16 surrogate: a string that is not Unicode text (paired surrogates do not match in u mode). */
const UNPAIRED_SURROGATE = /\p{Surrogate}/u;

/** `hex(H(canonical(roster)))` (protocol.md 4). */
export function rosterHash(roster: Roster): string {
  return sha256Hex(canonicalBytes(roster));
}

function rosterShape(value: unknown): Roster {
  const bad = (why: string): never => {
    throw new CosiError('BAD_ROSTER', `roster: ${why}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) bad('expected an object');
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'threshold' && k !== 'witnesses') bad(`unexpected field ${JSON.stringify(k)}`);
  const { threshold, witnesses } = obj;
  if (typeof threshold !== 'number') bad('threshold must be a number');
  if (!Array.isArray(witnesses)) bad('witnesses must be an array');
  const list = witnesses as unknown[];
  if (list.length > ROSTER_LIMITS.maxWitnesses) bad(`${list.length} witnesses, the limit is ${ROSTER_LIMITS.maxWitnesses}`);
  const out: RosterWitness[] = list.map((w, i) => {
    if (w === null || typeof w !== 'object' || Array.isArray(w)) return bad(`witness ${i} must be an object`);
    const e = w as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!['name', 'key', 'pop', 'address'].includes(k)) bad(`witness ${i}: unexpected field ${JSON.stringify(k)}`);
    const { name, key, pop, address } = e;
    if (typeof name !== 'string' || name.length > ROSTER_LIMITS.maxNameLength || !NAME_PATTERN.test(name)) {
      bad(`witness ${i}: name must be 1-${ROSTER_LIMITS.maxNameLength} characters of [A-Za-z0-9._-]`);
    }
    if (typeof key !== 'string') bad(`witness ${i}: key must be a hex string`);
    if (typeof pop !== 'string') bad(`witness ${i}: pop must be a hex string`);
    if (typeof address !== 'string' || address.length > ROSTER_LIMITS.maxAddressLength) {
      bad(`witness ${i}: address must be a string of at most ${ROSTER_LIMITS.maxAddressLength} characters`);
    }
    // The roster hash is taken over UTF-8, where an unpaired surrogate has no encoding and is
    // written as U+FFFD: two different rosters would share one hash (protocol.md 4).
    if (UNPAIRED_SURROGATE.test(address as string)) bad(`witness ${i}: address holds an unpaired UTF-16 surrogate`);
    return { name: name as string, key: key as string, pop: pop as string, address: address as string };
  });
  return { threshold: threshold as number, witnesses: out };
}

/** Parses an untrusted roster (bytes, text or an already bounded-parsed JSON value). Shape only. */
export function parseRoster(input: Uint8Array | string | JsonValue): Roster {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = parseJsonObject(input, 'roster', { maxBytes: ROSTER_LIMITS.maxBytes, maxDepth: 4, maxEntries: 6 * ROSTER_LIMITS.maxWitnesses + 8 });
    } catch (e) {
      throw new CosiError('BAD_ROSTER', (e as Error).message, { cause: e });
    }
  }
  return rosterShape(value);
}

/** The aggregate key of one set of participants, decoded and encoded once. */
export interface AggregateKey {
  readonly point: Point;
  readonly bytes: Uint8Array;
  /** For node:crypto Ed25519 verification. */
  readonly keyObject: KeyObject;
  readonly participants: number;
}

const AGGREGATE_CACHE_SIZE = 32;

/**
 * A roster with its keys decoded once, as collective-signature verification uses it: an
 * AcceptedRoster (checked in full) or a VouchedRoster (vouched for by an accepted roster).
 */
export abstract class DecodedRoster {
  /** How this roster was accepted: every check made here, or vouched for (protocol.md 5). */
  abstract readonly acceptance: 'checked' | 'vouched';
  readonly roster: Roster;
  /** `hex(H(canonical(roster)))`. */
  readonly hash: string;
  readonly threshold: number;
  readonly size: number;
  /** Decoded keys, by roster position. */
  readonly keys: readonly Point[];
  readonly keyBytes: readonly Uint8Array[];
  private readonly positionByKey: Map<string, number>;
  private readonly aggregates = new Map<string, AggregateKey>();
  private fullSum: Point | undefined;

  protected constructor(roster: Roster, hash: string, keys: Point[], keyBytes: Uint8Array[]) {
    this.roster = roster;
    this.hash = hash;
    this.threshold = roster.threshold;
    this.size = roster.witnesses.length;
    this.keys = keys;
    this.keyBytes = keyBytes;
    this.positionByKey = new Map(roster.witnesses.map((w, i) => [w.key, i]));
  }

  /** Roster position of a key (hex), or -1. */
  indexOf(keyHex: string): number {
    return this.positionByKey.get(keyHex) ?? -1;
  }

  nameOf(index: number): string {
    return this.roster.witnesses[index]?.name ?? `#${index}`;
  }

  /** Plain sum of the keys at `indices` (no cache; for subtrees and measurements). */
  sumKeys(indices: Iterable<number>): Point {
    let x = Point.ZERO;
    for (const i of indices) x = x.add(this.keys[i]!);
    return x;
  }

  /**
   * X = Σ A_i over the participants of `bitmap` (validated here), cached per bitmap. When most
   * witnesses take part, X is computed as (sum of all keys) - (sum of the absent ones).
   * Throws BAD_BITMAP, or BAD_KEY if X is of small order (only colluding key owners can cause it).
   */
  aggregateKey(bitmap: Uint8Array): AggregateKey {
    decodeBitmap(bitmap, this.size);
    const id = toHex(bitmap);
    const hit = this.aggregates.get(id);
    if (hit) {
      this.aggregates.delete(id);
      this.aggregates.set(id, hit);
      return hit;
    }
    const participants = countParticipants(bitmap);
    let point: Point;
    if (participants * 2 > this.size) {
      this.fullSum ??= this.sumKeys(this.keys.keys());
      let absent = Point.ZERO;
      for (let i = 0; i < this.size; i++) if (!hasParticipant(bitmap, i)) absent = absent.add(this.keys[i]!);
      point = this.fullSum.subtract(absent);
    } else {
      point = Point.ZERO;
      for (let i = 0; i < this.size; i++) if (hasParticipant(bitmap, i)) point = point.add(this.keys[i]!);
    }
    if (point.isSmallOrder()) {
      throw new CosiError('BAD_KEY', `the aggregate key of bitmap ${short(id, 16)} is of small order`);
    }
    const bytes = point.toBytes();
    const entry: AggregateKey = { point, bytes, keyObject: ed25519KeyObject(bytes), participants };
    if (this.aggregates.size >= AGGREGATE_CACHE_SIZE) this.aggregates.delete(this.aggregates.keys().next().value!);
    this.aggregates.set(id, entry);
    return entry;
  }

  /** Expected bitmap length in bytes. */
  get bitmapLength(): number {
    return bitmapLength(this.size);
  }
}

/** Module-private constructors: only acceptRoster and acceptVouchedRoster make rosters. */
type RosterConstructor<T> = (roster: Roster, hash: string, keys: Point[], keyBytes: Uint8Array[]) => T;
let newAcceptedRoster: RosterConstructor<AcceptedRoster>;
let newVouchedRoster: RosterConstructor<VouchedRoster>;

/** A roster that passed every check of protocol.md 4, with its keys decoded once. */
export class AcceptedRoster extends DecodedRoster {
  readonly acceptance = 'checked' as const;

  // The constructor is DecodedRoster's, protected: only this module makes rosters.
  static {
    newAcceptedRoster = (roster, hash, keys, keyBytes) => new AcceptedRoster(roster, hash, keys, keyBytes);
  }
}

/**
 * A roster accepted because an accepted roster vouched for it (protocol.md 5, "Vouched
 * rosters"): shape, threshold, distinct keys and canonical key encodings checked here; key
 * subgroup membership and proofs of possession checked by the voucher's honest members. Good for
 * verifying collective signatures, never for running a signing round.
 */
export class VouchedRoster extends DecodedRoster {
  readonly acceptance = 'vouched' as const;

  // The constructor is DecodedRoster's, protected: only this module makes rosters.
  static {
    newVouchedRoster = (roster, hash, keys, keyBytes) => new VouchedRoster(roster, hash, keys, keyBytes);
  }
}

/**
 * The evidence that `voucher` vouched for the roster whose hash is `rosterHash`: a collective
 * signature by `voucher`, verified at its threshold, over a statement that names `rosterHash`.
 * The statement is the caller's to check: in cairn, only the log's forward-link verification
 * builds a RosterVouch, after checking the link names `rosterHash` as its newRoster
 * (log/forward-link.ts; protocol.md 5, "Vouched rosters").
 */
export interface RosterVouch {
  /** Hash of the roster vouched for. */
  readonly rosterHash: string;
  /** The roster whose threshold co-signed: checked in full, or itself vouched for. */
  readonly voucher: DecodedRoster;
  /** What verifying the voucher's collective signature established. */
  readonly cosignature: VerifiedCollectiveSignature;
}

const accepted = new Map<string, AcceptedRoster>();
const vouched = new Map<string, VouchedRoster>();
const ACCEPTED_CACHE_SIZE = 64;

/** Forgets every accepted and vouched roster and every decoded key, as a new process starts (for benchmarks). */
export function clearRosterCaches(): void {
  accepted.clear();
  vouched.clear();
  clearValidatedKeys();
}

/** Shape and caps, at least one witness, 1 <= threshold <= n; returns the roster and its hash. */
function readRoster(input: Roster): { roster: Roster; hash: string } {
  const roster = rosterShape(input);
  const n = roster.witnesses.length;
  if (n === 0) throw new CosiError('BAD_ROSTER', 'roster has no witnesses');
  if (!Number.isSafeInteger(roster.threshold) || roster.threshold < 1 || roster.threshold > n) {
    throw new CosiError('BAD_THRESHOLD', `threshold must be an integer from 1 to ${n} (the number of witnesses), found ${roster.threshold}`);
  }
  return { roster, hash: rosterHash(roster) };
}

function requireDistinctKeys(roster: Roster): void {
  const seen = new Map<string, number>();
  roster.witnesses.forEach((w, i) => {
    const previous = seen.get(w.key);
    if (previous !== undefined) {
      throw new CosiError('DUPLICATE_KEY', `witnesses ${previous} (${roster.witnesses[previous]!.name}) and ${i} (${w.name}) have the same key ${short(w.key)}`);
    }
    seen.set(w.key, i);
  });
}

/** The raw key (32 bytes) and proof of possession (64 bytes) of witness `i`, as exact hex. */
function witnessBytes(w: RosterWitness, i: number): { what: string; raw: Uint8Array; pop: Uint8Array } {
  const what = `witness ${i} (${w.name}) key`;
  let raw: Uint8Array;
  try {
    raw = hexToBytesExact(w.key, 32, what);
  } catch (e) {
    throw new CosiError('BAD_KEY', (e as Error).message, { cause: e });
  }
  let pop: Uint8Array;
  try {
    pop = hexToBytesExact(w.pop, 64, `witness ${i} (${w.name}) proof of possession`);
  } catch (e) {
    throw new CosiError('BAD_PROOF_OF_POSSESSION', (e as Error).message, { cause: e });
  }
  return { what, raw, pop };
}

function remember<T>(cache: Map<string, T>, hash: string, value: T): T {
  if (cache.size >= ACCEPTED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(hash, value);
  return value;
}

/**
 * Accepts a roster (protocol.md 4): shape and caps, 1 <= threshold <= n, every key a valid
 * witness key (protocol.md 1), keys distinct, every proof of possession valid. Throws
 * CosiError BAD_ROSTER | BAD_THRESHOLD | BAD_KEY | DUPLICATE_KEY | BAD_PROOF_OF_POSSESSION.
 * Accepted rosters are cached by roster hash, so accepting the same roster again is free. A
 * roster accepted only as vouched for is never returned here.
 */
export function acceptRoster(input: Roster): AcceptedRoster {
  const { roster, hash } = readRoster(input);
  const hit = accepted.get(hash);
  if (hit) return hit;
  requireDistinctKeys(roster);
  const keys: Point[] = [];
  const keyBytes: Uint8Array[] = [];
  roster.witnesses.forEach((w, i) => {
    const { what, raw, pop } = witnessBytes(w, i);
    keys.push(decodeWitnessKey(raw, what));
    keyBytes.push(raw);
    if (!verifyProofOfPossession(raw, pop)) {
      throw new CosiError('BAD_PROOF_OF_POSSESSION', `witness ${i} (${w.name}): the proof of possession does not verify for key ${short(w.key)}`, {
        hint: 'the witness must sign "cairn/v1/proof-of-possession" || 0x00 || its own public key with that key',
      });
    }
  });
  return remember(accepted, hash, newAcceptedRoster(roster, hash, keys, keyBytes));
}

/**
 * Accepts a roster that `vouch.voucher` vouched for (protocol.md 5, "Vouched rosters"): the
 * vouch's signature is the voucher's and meets its threshold, the roster's hash is the one the
 * vouch names, then shape and caps, 1 <= threshold <= n, keys distinct, every key and proof of
 * possession of exact length and every key a canonical point. Key subgroup membership and proofs
 * of possession are not checked: the voucher's honest members checked them before co-signing.
 * Throws CosiError NOT_VOUCHED | BAD_ROSTER | BAD_THRESHOLD | BAD_KEY | DUPLICATE_KEY |
 * BAD_PROOF_OF_POSSESSION (a malformed one). Cached by roster hash apart from acceptRoster's cache.
 */
export function acceptVouchedRoster(input: Roster, vouch: RosterVouch): VouchedRoster {
  const { voucher, cosignature } = vouch;
  if (cosignature.roster !== voucher.hash || cosignature.threshold !== voucher.threshold || cosignature.participants.length < voucher.threshold) {
    throw new CosiError('NOT_VOUCHED', `the vouching signature is not one of roster ${short(voucher.hash)} at its threshold ${voucher.threshold}`);
  }
  const { roster, hash } = readRoster(input);
  if (hash !== vouch.rosterHash) {
    throw new CosiError('NOT_VOUCHED', `roster ${short(hash)} is not the roster ${short(vouch.rosterHash)} that roster ${short(voucher.hash)} vouched for`);
  }
  const hit = vouched.get(hash);
  if (hit) return hit;
  requireDistinctKeys(roster);
  const keys: Point[] = [];
  const keyBytes: Uint8Array[] = [];
  roster.witnesses.forEach((w, i) => {
    const { what, raw } = witnessBytes(w, i);
    keys.push(decodeVouchedWitnessKey(raw, what));
    keyBytes.push(raw);
  });
  return remember(vouched, hash, newVouchedRoster(roster, hash, keys, keyBytes));
}
