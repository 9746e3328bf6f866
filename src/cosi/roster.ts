// cosi/roster.ts: the witness roster (docs/protocol.md section 4; DESIGN.md "Collective
// signatures (CoSi)", rogue-key defence). A roster is accepted only when every key is a valid
// witness key (protocol.md 1) with a valid proof of possession, keys are distinct, and
// 1 <= threshold <= n. An AcceptedRoster keeps the decoded keys and caches aggregate keys per
// bitmap, so that verifying many collective signatures under one roster never re-decodes a key
// (CoSi verification: X = sum of the participants' keys, then one Ed25519 verification).
import type { KeyObject } from 'node:crypto';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import type { JsonValue } from '../encoding/canonical-json.js';
import { sha256Hex } from '../crypto/hash.js';
import { short } from '../errors/index.js';
import { CosiError } from './errors.js';
import { clearValidatedKeys, decodeWitnessKey, ed25519KeyObject, hexToBytesExact, Point, toHex } from './group.js';
import { verifyProofOfPossession } from './keys.js';
import { bitmapLength, countParticipants, decodeBitmap, hasParticipant } from './bitmap.js';

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

/** A roster that passed every check of protocol.md 4, with its keys decoded once. */
export class AcceptedRoster {
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

  /** Use acceptRoster(): it validates. */
  private constructor(roster: Roster, hash: string, keys: Point[], keyBytes: Uint8Array[]) {
    this.roster = roster;
    this.hash = hash;
    this.threshold = roster.threshold;
    this.size = roster.witnesses.length;
    this.keys = keys;
    this.keyBytes = keyBytes;
    this.positionByKey = new Map(roster.witnesses.map((w, i) => [w.key, i]));
  }

  /** @internal Called by acceptRoster only, after validation. */
  static fromValidated(roster: Roster, hash: string, keys: Point[], keyBytes: Uint8Array[]): AcceptedRoster {
    return new AcceptedRoster(roster, hash, keys, keyBytes);
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

const accepted = new Map<string, AcceptedRoster>();
const ACCEPTED_CACHE_SIZE = 64;

/**
 * Accepts a roster (protocol.md 4): shape and caps, 1 <= threshold <= n, every key a valid
 * witness key (protocol.md 1), keys distinct, every proof of possession valid. Throws
 * CosiError BAD_ROSTER | BAD_THRESHOLD | BAD_KEY | DUPLICATE_KEY | BAD_PROOF_OF_POSSESSION.
 * Accepted rosters are cached by roster hash, so accepting the same roster again is free.
 */
/** Forgets every accepted roster and validated key, as a new process starts (for benchmarks). */
export function clearRosterCaches(): void {
  accepted.clear();
  clearValidatedKeys();
}

export function acceptRoster(input: Roster): AcceptedRoster {
  const roster = rosterShape(input);
  const n = roster.witnesses.length;
  if (n === 0) throw new CosiError('BAD_ROSTER', 'roster has no witnesses');
  if (!Number.isSafeInteger(roster.threshold) || roster.threshold < 1 || roster.threshold > n) {
    throw new CosiError('BAD_THRESHOLD', `threshold must be an integer from 1 to ${n} (the number of witnesses), found ${roster.threshold}`);
  }
  const hash = rosterHash(roster);
  const hit = accepted.get(hash);
  if (hit) return hit;
  const seen = new Map<string, number>();
  roster.witnesses.forEach((w, i) => {
    const previous = seen.get(w.key);
    if (previous !== undefined) {
      throw new CosiError('DUPLICATE_KEY', `witnesses ${previous} (${roster.witnesses[previous]!.name}) and ${i} (${w.name}) have the same key ${short(w.key)}`);
    }
    seen.set(w.key, i);
  });
  const keys: Point[] = [];
  const keyBytes: Uint8Array[] = [];
  roster.witnesses.forEach((w, i) => {
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
    keys.push(decodeWitnessKey(raw, what));
    keyBytes.push(raw);
    if (!verifyProofOfPossession(raw, pop)) {
      throw new CosiError('BAD_PROOF_OF_POSSESSION', `witness ${i} (${w.name}): the proof of possession does not verify for key ${short(w.key)}`, {
        hint: 'the witness must sign "cairn/v1/proof-of-possession" || 0x00 || its own public key with that key',
      });
    }
  });
  const result = AcceptedRoster.fromValidated(roster, hash, keys, keyBytes);
  if (accepted.size >= ACCEPTED_CACHE_SIZE) accepted.delete(accepted.keys().next().value!);
  accepted.set(hash, result);
  return result;
}
