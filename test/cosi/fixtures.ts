// test/cosi/fixtures.ts: deterministic witnesses, rosters and faulty endpoints for the CoSi
// tests (keys from fixed seeds, so failures reproduce).
import { createHash } from 'node:crypto';
import {
  acceptRoster, cosiMessage, createProofOfPossession, CosiSigner, localWitnessEndpoint, witnessKeyFromSeed,
  computeChallenge, encodeBitmap, type AcceptedRoster, type Roster, type WitnessEndpoint, type WitnessKey,
  type CollectiveSignature, Point, L, scalarFromBytes, scalarToBytes, toHex,
} from '../../src/cosi/index.js';

export function seedFor(i: number, tag = 'w'): Uint8Array {
  return createHash('sha256').update(`cairn-test-witness/${tag}/${i}`).digest();
}

const keyCache = new Map<string, WitnessKey>();
export function witnessKey(i: number, tag = 'w'): WitnessKey {
  const id = `${tag}/${i}`;
  let key = keyCache.get(id);
  if (!key) {
    key = witnessKeyFromSeed(seedFor(i, tag));
    keyCache.set(id, key);
  }
  return key;
}

export function rosterOf(keys: readonly WitnessKey[], threshold: number): Roster {
  return {
    threshold,
    witnesses: keys.map((k, i) => ({
      name: `w${i}`,
      key: k.publicKeyHex,
      pop: toHex(createProofOfPossession(k)),
      address: `http://127.0.0.1:${7000 + i}`,
    })),
  };
}

export interface Cothority {
  keys: WitnessKey[];
  roster: AcceptedRoster;
  signers: CosiSigner[];
  endpoints: WitnessEndpoint[];
}

/** n witnesses with threshold t, each with a CosiSigner and an in-process endpoint. */
export function cothority(n: number, t: number, tag = 'w'): Cothority {
  const keys = Array.from({ length: n }, (_, i) => witnessKey(i, tag));
  const roster = acceptRoster(rosterOf(keys, t));
  const signers = keys.map((k) => new CosiSigner(k));
  const endpoints = signers.map((s) => localWitnessEndpoint(s, roster));
  return { keys, roster, signers, endpoints };
}

export const headMessage = (index = 1): Uint8Array =>
  cosiMessage('cairn/v1/head', { head: 'ab'.repeat(32), index, time: '2025-01-01T00:00:00Z' });

/** Endpoint that fails (throws) at commitment. */
export function absent(e: WitnessEndpoint): WitnessEndpoint {
  return { index: e.index, commit: async () => { throw new Error('connection refused'); }, respond: (c) => e.respond(c) };
}

/** Endpoint that never answers the commitment (relies on callTimeoutMs). */
export function silent(e: WitnessEndpoint): WitnessEndpoint {
  return { index: e.index, commit: () => new Promise(() => {}), respond: (c) => e.respond(c) };
}

/** Endpoint that commits, then fails to respond on the first `times` rounds. */
export function dropsResponse(e: WitnessEndpoint, times = Infinity): WitnessEndpoint & { dropped: number } {
  const ep = {
    index: e.index,
    dropped: 0,
    commit: (s: string) => e.commit(s),
    respond: async (c: Parameters<WitnessEndpoint['respond']>[0]) => {
      if (ep.dropped < times) {
        ep.dropped++;
        throw new Error('crashed after commitment');
      }
      return e.respond(c);
    },
  };
  return ep;
}

/** Endpoint whose partial response is off by one (a wrong s_i, well-formed). */
export function wrongResponse(e: WitnessEndpoint): WitnessEndpoint {
  return {
    index: e.index,
    commit: (s) => e.commit(s),
    respond: async (c) => scalarToBytes((scalarFromBytes(await e.respond(c), 's') + 1n) % L),
  };
}

/** Endpoint that answers after `ms` (to interleave concurrent sessions). */
export function delayed(e: WitnessEndpoint, ms: () => number): WitnessEndpoint {
  const wait = () => new Promise((r) => setTimeout(r, ms()));
  return {
    index: e.index,
    commit: async (s) => { await wait(); return e.commit(s); },
    respond: async (c) => { await wait(); return e.respond(c); },
  };
}

/**
 * Signs directly with the given signers (no threshold check, no round driver): lets tests build
 * genuine signatures that a verifier must still refuse (e.g. under threshold).
 */
export async function signDirect(roster: AcceptedRoster, signers: readonly CosiSigner[], message: Uint8Array): Promise<CollectiveSignature> {
  const commitments = signers.map((s) => s.commit());
  const bitmap = encodeBitmap(signers.map((s) => roster.indexOf(s.publicKeyHex)), roster.size);
  let R1 = Point.ZERO;
  let R2 = Point.ZERO;
  for (const c of commitments) {
    R1 = R1.add(Point.fromBytes(c.R1));
    R2 = R2.add(Point.fromBytes(c.R2));
  }
  const R1b = R1.toBytes();
  const R2b = R2.toBytes();
  const { RBytes } = computeChallenge(roster, bitmap, R1b, R2b, message);
  let s = 0n;
  for (let i = 0; i < signers.length; i++) {
    const si = await signers[i]!.respond({ nonceId: commitments[i]!.nonceId, R1: R1b, R2: R2b, bitmap, roster, message });
    s = (s + scalarFromBytes(si, 's')) % L;
  }
  return { bitmap, signature: new Uint8Array(Buffer.concat([RBytes, scalarToBytes(s)])) };
}

/** A point of order 8, found deterministically: L·P for the first curve points P until one has order 8. */
export function pointOfOrder8(): Point {
  let t8 = Point.ZERO;
  for (let y = 2n; t8.is0() || t8.multiplyUnsafe(4n).is0(); y++) {
    try {
      const p = Point.fromBytes(Buffer.from(y.toString(16).padStart(64, '0'), 'hex').reverse());
      t8 = p.multiplyUnsafe(L - 1n).add(p);
    } catch {
      /* not a point */
    }
  }
  return t8;
}

/**
 * `key`'s public key plus a point of order 8, as hex: a canonical curve point, not of small
 * order, outside the prime-order subgroup (the key a subgroup check refuses).
 */
export function torsionedKeyHex(key: WitnessKey): string {
  return toHex(Point.fromBytes(key.publicKey).add(pointOfOrder8()).toBytes());
}
