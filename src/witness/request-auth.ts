// witness/request-auth.ts: who may make a witness work (docs/protocol.md section 8 "Who may ask";
// docs/witness.md "Who may lead"). Every request that makes a witness work or change state
// (POST /v1/genesis, /v1/commit, /v1/respond) carries a roster member's plain Ed25519 signature,
// by its witness key, over
//
//   "cairn/v1/witness-request" || 0x00 || canonical({ method, path, witness, time, requestId, body })
//
// (`witness`: the addressed witness's key, so a request cannot be replayed to another witness;
// `body`: hex SHA-256 of the exact body bytes), sent in five headers (the body hash among them,
// so the signature is verified and the request admitted before a byte of its body is read: a
// stranger naming a member's public key makes the witness buffer nothing). A witness never co-signs
// this context (cosi/message.ts), and no shared secret exists: any member may lead. The guard
// refuses a request whose time is off by more than REQUEST_AUTH_LIMITS.maxAgeSeconds, one whose
// request ID it saw within the window (replay), and a member over its rate.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { COSI_CONTEXTS, cosiMessage, ed25519KeyObject, ed25519Verify, type WitnessKey } from '../cosi/index.js';
import { formatUtcTime, parseUtcTime } from '../log/index.js';
import { WitnessError } from './errors.js';

export const REQUEST_HEADERS = {
  signer: 'x-cairn-signer',
  time: 'x-cairn-time',
  requestId: 'x-cairn-request-id',
  signature: 'x-cairn-signature',
  bodyHash: 'x-cairn-body-sha256',
} as const;

/** Bounds of request authentication, with their reasons. */
export const REQUEST_AUTH_LIMITS = {
  /** A request's time may differ from the witness's clock by this much (both ways). */
  maxAgeSeconds: 120,
  /** Request IDs remembered at once (each for twice maxAgeSeconds); when full, requests wait. */
  maxRememberedRequests: 200_000,
  /** Per member, unless witness.json says otherwise: requests in a burst, and the rate the burst refills at. A leader sends a few per round. */
  burst: 100,
  perSecond: 20,
  /** Per member: nonce pairs committed and not yet answered; a member over it loses its own oldest. */
  maxPendingPerPeer: 64,
} as const;

/** A member's request rate: a burst, refilled at perSecond. */
export interface RequestRate {
  burst: number;
  perSecond: number;
}

/** What a request's signature covers. */
export interface RequestClaim {
  /** hex key of the signing roster member. */
  signer: string;
  time: string;
  /** 32 hex digits (128 random bits). */
  requestId: string;
  signature: string;
  /** hex SHA-256 of the body the signer sent (checked against the body once read). */
  bodyHash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The exact bytes a member signs for one request. */
function requestMessage(method: string, path: string, witness: string, time: string, requestId: string, bodyHash: string): Uint8Array {
  return cosiMessage(COSI_CONTEXTS.witnessRequest, { method, path, witness, time, requestId, body: bodyHash });
}

/** The headers of a request signed by `key` (a roster member) for the witness with key `witness`. */
export function signWitnessRequest(key: WitnessKey, request: { method: string; path: string; witness: string; body: Uint8Array; now?: Date }): Record<string, string> {
  const time = formatUtcTime(Math.floor((request.now ?? new Date()).getTime() / 1000));
  const requestId = randomBytes(16).toString('hex');
  const bodyHash = sha256(request.body);
  const signature = sign(null, requestMessage(request.method, request.path, request.witness, time, requestId, bodyHash), key.privateKey);
  return {
    [REQUEST_HEADERS.signer]: key.publicKeyHex,
    [REQUEST_HEADERS.time]: time,
    [REQUEST_HEADERS.requestId]: requestId,
    [REQUEST_HEADERS.signature]: signature.toString('hex'),
    [REQUEST_HEADERS.bodyHash]: bodyHash,
  };
}

/** Reads the five headers; UNAUTHENTICATED when one is missing or malformed. */
export function readRequestClaim(header: (name: string) => string | undefined): RequestClaim {
  const signer = header(REQUEST_HEADERS.signer);
  const time = header(REQUEST_HEADERS.time);
  const requestId = header(REQUEST_HEADERS.requestId);
  const signature = header(REQUEST_HEADERS.signature);
  const bodyHash = header(REQUEST_HEADERS.bodyHash);
  if (signer === undefined || time === undefined || requestId === undefined || signature === undefined || bodyHash === undefined) {
    throw new WitnessError('UNAUTHENTICATED', `this request must be signed by a roster member (headers ${Object.values(REQUEST_HEADERS).join(', ')})`, {
      hint: 'lead with a member\'s witness key: cairn log ... --leader-key WITNESS-KEY-FILE',
    });
  }
  const bad = !HEX64.test(signer) ? `${REQUEST_HEADERS.signer} is not 64 hex digits` : !HEX32.test(requestId) ? `${REQUEST_HEADERS.requestId} is not 32 hex digits` : !HEX128.test(signature) ? `${REQUEST_HEADERS.signature} is not 128 hex digits` : !HEX64.test(bodyHash) ? `${REQUEST_HEADERS.bodyHash} is not 64 hex digits` : parseUtcTime(time) === undefined ? `${REQUEST_HEADERS.time} is not a YYYY-MM-DDTHH:MM:SSZ time` : undefined;
  if (bad) throw new WitnessError('UNAUTHENTICATED', `malformed request signature: ${bad}`);
  return { signer, time, requestId, signature, bodyHash };
}

/** Freshness, signatures, replays and rates of the requests one witness receives. */
export class RequestGuard {
  private readonly witness: string;
  private readonly rate: RequestRate;
  private readonly now: () => number;
  /** Request IDs seen, with when they may be forgotten (insertion order is expiry order). */
  private readonly seen = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Decoded keys of recent signers (members, mostly), so each request costs one verification. */
  private readonly keyObjects = new Map<string, KeyObject>();

  /** `witness`: this witness's key (requests name it); `rate`: per member; `now`: its clock in ms. */
  constructor(witness: string, rate: RequestRate = REQUEST_AUTH_LIMITS, now: () => number = Date.now) {
    this.witness = witness;
    this.rate = rate;
    this.now = now;
  }

  /** STALE_REQUEST when the request's time is off this witness's clock by more than the window. */
  checkTime(claim: RequestClaim): void {
    const off = parseUtcTime(claim.time)! - this.now() / 1000;
    if (Math.abs(off) > REQUEST_AUTH_LIMITS.maxAgeSeconds) {
      throw new WitnessError('STALE_REQUEST', `request time ${claim.time} is ${Math.round(Math.abs(off))} s ${off < 0 ? 'old' : 'ahead'}; this witness accepts ${REQUEST_AUTH_LIMITS.maxAgeSeconds} s either way`, {
        hint: 'check the clocks of the leader and the witness (NTP)',
      });
    }
  }

  /** BAD_SIGNATURE unless `claim.signature` is the signer's over this request (its body by `claim.bodyHash`) to this witness. */
  verify(claim: RequestClaim, method: string, path: string): void {
    let ok = false;
    try {
      let key = this.keyObjects.get(claim.signer);
      if (!key) {
        key = ed25519KeyObject(Buffer.from(claim.signer, 'hex'));
        if (this.keyObjects.size >= 1024) this.keyObjects.delete(this.keyObjects.keys().next().value!);
        this.keyObjects.set(claim.signer, key);
      }
      ok = ed25519Verify(key, requestMessage(method, path, this.witness, claim.time, claim.requestId, claim.bodyHash), Buffer.from(claim.signature, 'hex'));
    } catch {
      ok = false; // a key that does not decode signs nothing
    }
    if (!ok) throw new WitnessError('BAD_SIGNATURE', `the request signature is not ${claim.signer.slice(0, 12)}'s over ${method} ${path} to this witness`);
  }

  /** BAD_SIGNATURE unless `body` is the body the (verified) claim signed. */
  checkBody(claim: RequestClaim, body: Uint8Array): void {
    if (sha256(body) !== claim.bodyHash) throw new WitnessError('BAD_SIGNATURE', `the request body (SHA-256 ${sha256(body).slice(0, 12)}) is not the one ${claim.signer.slice(0, 12)} signed (${claim.bodyHash.slice(0, 12)})`);
  }

  /**
   * Admits a verified request: REPLAYED_REQUEST for a request ID seen within the window,
   * RATE_LIMITED when its signer is over its rate (or too many IDs are remembered at once).
   * `bucketKey`: whose rate it spends, its signer's unless the caller shares one bucket among
   * signers it cannot tell apart (anyone may sign the genesis sent to a fresh witness).
   */
  admit(claim: RequestClaim, bucketKey: string = claim.signer): void {
    const now = this.now();
    for (const [id, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(id);
    }
    if (this.seen.has(claim.requestId)) throw new WitnessError('REPLAYED_REQUEST', `request ${claim.requestId} was already received; a signed request is accepted once`);
    if (this.seen.size >= REQUEST_AUTH_LIMITS.maxRememberedRequests) throw new WitnessError('RATE_LIMITED', 'this witness is receiving more signed requests than it can remember; try again shortly');
    const { burst, perSecond } = this.rate;
    const bucket = this.buckets.get(bucketKey) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) throw new WitnessError('RATE_LIMITED', `${bucketKey === claim.signer ? claim.signer.slice(0, 12) : bucketKey} sent more than ${burst} requests at once (${perSecond} per second sustained)`);
    bucket.tokens -= 1;
    this.buckets.delete(bucketKey);
    this.buckets.set(bucketKey, bucket);
    // Only members (and the shared bucket of genesis senders to a fresh witness) get here; bounded all the same.
    while (this.buckets.size > 10_000) this.buckets.delete(this.buckets.keys().next().value!);
    this.seen.set(claim.requestId, now + 2 * REQUEST_AUTH_LIMITS.maxAgeSeconds * 1000);
  }
}
