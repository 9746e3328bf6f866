// cosi/nonce.ts: nonce pairs for round 1 of the two-nonce protocol (docs/protocol.md section 3,
// step 1; MuSig2 "NonceGen"). Each nonce is r = int_le(SHA-512(prefix || m)) mod L for 32 fresh
// random bytes m and a per-process secret prefix, and its commitment R = r·B is computed by
// node:crypto's Ed25519 signing of m under the per-process key that owns that prefix: RFC 8032
// 5.1.6 computes exactly r = SHA-512(prefix || m) mod L and R = r·B as the first half of the
// signature. One native signature (tens of microseconds) instead of a JS base multiplication
// (0.4-1.5 ms). r is uniform mod L (the bias of a 512-bit value reduced mod L is about 2^-259)
// and secret as long as m and the prefix are; m is wiped after use, the signature's s is dropped.
import { randomFillSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { hashToScalar } from './group.js';
import { ed25519PrivateKeyFromSeed, expandSeed } from './keys.js';

/** One nonce pair: secrets r1, r2 and public commitments R1 = r1·B, R2 = r2·B. */
export interface NoncePair {
  r1: bigint;
  r2: bigint;
  readonly R1: Uint8Array;
  readonly R2: Uint8Array;
}

/** Draws nonces with the signing trick above. Holds a random key that never signs anything else. */
export class NonceGenerator {
  private readonly prefix: Buffer;
  private readonly key: KeyObject;

  constructor() {
    const seed = randomBytes(32);
    this.prefix = expandSeed(seed).prefix;
    this.key = ed25519PrivateKeyFromSeed(seed);
    seed.fill(0);
  }

  /** One nonce: the secret r and its 32-byte commitment r·B. */
  nonce(): { r: bigint; R: Uint8Array } {
    const m = randomFillSync(Buffer.alloc(32));
    const r = hashToScalar(this.prefix, m);
    const signature = sign(null, m, this.key);
    m.fill(0);
    const R = new Uint8Array(signature.subarray(0, 32));
    signature.fill(0);
    return { r, R };
  }

  pair(): NoncePair {
    const a = this.nonce();
    const b = this.nonce();
    return { r1: a.r, r2: b.r, R1: a.R, R2: b.R };
  }
}

let processGenerator: NonceGenerator | undefined;

/** The per-process generator (created on first use). */
export function defaultNonceGenerator(): NonceGenerator {
  processGenerator ??= new NonceGenerator();
  return processGenerator;
}
