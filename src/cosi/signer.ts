// cosi/signer.ts: the witness side of the two-nonce protocol (docs/protocol.md section 3,
// steps 1 and 3; docs/design.md "Collective signatures (CoSi)", concurrent-session safety; MuSig2
// "NonceGen" and "Sign"). commit() hands out a fresh nonce pair (R1, R2) under a single-use
// nonce ID; respond() takes the pair out of memory before anything else (so a second respond
// with the same ID fails whatever happens), checks the challenge, computes
// s_i = r_i1 + b·r_i2 + c·a_i mod L, has the NonceStore record the use durably, and only then
// releases s_i. Nonces do not depend on the message, so pairs may be prepared ahead of time.
// Nonce IDs are 128 random bits (unguessable: whoever could guess one could burn it, docs/protocol.md
// section 8 "Who may ask"), and a pair's secrets are wiped on every way out of memory: used,
// discarded (expired, statement changed, error) or dropped as the oldest.
import { randomBytes } from 'node:crypto';
import { CosiError } from './errors.js';
import { L, scalarToBytes } from './group.js';
import type { WitnessKey } from './keys.js';
import { COSIGNED_CONTEXTS, requireCosignableContext } from './message.js';
import { defaultNonceGenerator, type NonceGenerator, type NoncePair } from './nonce.js';
import { decodeBitmap, hasParticipant } from './bitmap.js';
import { computeChallenge } from './challenge.js';
import type { AcceptedRoster } from './roster.js';

/**
 * Durable record of used nonce IDs (a witness server backs it with SQLite, synchronous=FULL).
 * markUsed must resolve only once the record is durable, and must reject (preferably with
 * CosiError 'NONCE_REUSED') when `id` was recorded before. The signer releases a response only
 * after markUsed resolved.
 */
export interface NonceStore {
  markUsed(id: string): Promise<void>;
}

/** An in-memory NonceStore (tests, and in-process witnesses that hold nonces only in memory). */
class MemoryNonceStore implements NonceStore {
  private readonly used = new Set<string>();

  async markUsed(id: string): Promise<void> {
    if (this.used.has(id)) throw new CosiError('NONCE_REUSED', `nonce ${id} was already used`);
    this.used.add(id);
  }

  has(id: string): boolean {
    return this.used.has(id);
  }
}

/** Round-1 output of one witness: what it sends to its (sub-)leader. */
export interface NonceCommitment {
  /** Single-use handle naming the nonce pair in round 2. */
  nonceId: string;
  R1: Uint8Array;
  R2: Uint8Array;
}

/** Round-2 input of one witness: the leader's challenge. */
export interface CosiChallenge {
  nonceId: string;
  /** Aggregate commitments Σ R_i1, Σ R_i2 over the bitmap. */
  R1: Uint8Array;
  R2: Uint8Array;
  bitmap: Uint8Array;
  roster: AcceptedRoster;
  /** The full domain-separated message (protocol.md 2). */
  message: Uint8Array;
}

export interface CosiSignerOptions {
  /** Durable record of nonce use; default: a MemoryNonceStore. */
  store?: NonceStore;
  /** Contexts this witness co-signs; default: forward links and head statements. */
  contexts?: readonly string[];
  /** Most nonce pairs held at once (issued and unused, plus prepared); the oldest are dropped. */
  maxPending?: number;
  /** Nonce source; default: the per-process NonceGenerator. */
  nonces?: NonceGenerator;
}

export class CosiSigner {
  readonly publicKey: Uint8Array;
  readonly publicKeyHex: string;
  private readonly key: WitnessKey;
  private readonly store: NonceStore;
  private readonly contexts: readonly string[];
  private readonly maxPending: number;
  private readonly nonces: NonceGenerator;
  /** Issued and not yet used, by ID (insertion order = age). */
  private readonly pending = new Map<string, NoncePair>();
  /** Prepared ahead of time, not yet issued. */
  private readonly prepared: NoncePair[] = [];
  /** IDs issued and since used, discarded or dropped (the newest maxPending), to tell reuse from forgery. */
  private readonly retired = new Set<string>();

  constructor(key: WitnessKey, options: CosiSignerOptions = {}) {
    this.key = key;
    this.publicKey = key.publicKey;
    this.publicKeyHex = key.publicKeyHex;
    this.store = options.store ?? new MemoryNonceStore();
    this.contexts = options.contexts ?? COSIGNED_CONTEXTS;
    this.maxPending = options.maxPending ?? 4096;
    this.nonces = options.nonces ?? defaultNonceGenerator();
  }

  /** Prepares `count` nonce pairs now (MuSig2 allows message-independent round 1). */
  prepare(count: number): void {
    for (let i = 0; i < count && this.prepared.length + this.pending.size < this.maxPending; i++) this.prepared.push(this.nonces.pair());
  }

  /** Number of prepared pairs not yet issued. */
  get preparedCount(): number {
    return this.prepared.length;
  }

  /** Round 1: a fresh (or prepared) nonce pair under a new single-use ID. */
  commit(): NonceCommitment {
    const pair = this.prepared.shift() ?? this.nonces.pair();
    const nonceId = randomBytes(16).toString('hex');
    while (this.pending.size >= this.maxPending) this.discard(this.pending.keys().next().value!);
    this.pending.set(nonceId, pair);
    return { nonceId, R1: pair.R1, R2: pair.R2 };
  }

  /**
   * Round 3: the partial response s_i (32 bytes, little-endian) to `challenge`. The nonce pair
   * is consumed by the call whatever its outcome: it is removed from memory before any check,
   * and the response is released only after the store recorded its use. Throws CosiError
   * NONCE_REUSED | UNKNOWN_NONCE | BAD_CONTEXT | BAD_BITMAP | NOT_A_PARTICIPANT | BAD_ENCODING,
   * or whatever the store rejects with.
   */
  async respond(challenge: CosiChallenge): Promise<Uint8Array> {
    const pair = this.takeNonce(challenge.nonceId);
    let s: bigint;
    try {
      const { roster, bitmap, message } = challenge;
      requireCosignableContext(message, this.contexts);
      decodeBitmap(bitmap, roster.size);
      const index = roster.indexOf(this.publicKeyHex);
      if (index < 0) throw new CosiError('NOT_A_PARTICIPANT', `this witness (${this.publicKeyHex.slice(0, 12)}) is not in roster ${roster.hash.slice(0, 12)}`);
      if (!hasParticipant(bitmap, index)) throw new CosiError('NOT_A_PARTICIPANT', `the bitmap leaves out this witness (position ${index}); it will not answer for it`);
      const { b, c } = computeChallenge(roster, bitmap, challenge.R1, challenge.R2, message);
      s = (pair.r1 + b * pair.r2 + c * this.key.scalar) % L;
    } finally {
      wipe(pair);
    }
    await this.store.markUsed(challenge.nonceId);
    return scalarToBytes(s);
  }

  /**
   * Forgets nonce pair `nonceId` and wipes its secrets (its commitment expired, the challenge
   * named another statement, or its round failed). Unknown IDs are ignored.
   */
  discard(nonceId: string): void {
    const pair = this.pending.get(nonceId);
    if (!pair) return;
    this.pending.delete(nonceId);
    wipe(pair);
    this.retire(nonceId);
  }

  private retire(nonceId: string): void {
    this.retired.add(nonceId);
    if (this.retired.size > this.maxPending) this.retired.delete(this.retired.values().next().value!);
  }

  private takeNonce(nonceId: string): NoncePair {
    const pair = this.pending.get(nonceId);
    if (pair) {
      this.pending.delete(nonceId);
      this.retire(nonceId);
      return pair;
    }
    if (this.retired.has(nonceId)) throw new CosiError('NONCE_REUSED', `nonce pair ${nonceId} was already used (or dropped); a nonce answers at most once`);
    throw new CosiError('UNKNOWN_NONCE', `nonce pair ${nonceId} was not issued by this witness (or is no longer held)`);
  }
}

/** Drops the secrets of a nonce pair (bigints are immutable: this drops the only references). */
function wipe(pair: NoncePair): void {
  pair.r1 = 0n;
  pair.r2 = 0n;
}
