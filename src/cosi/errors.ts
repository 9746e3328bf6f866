// cosi/errors.ts: the typed errors of the collective-signature layer (docs/design.md "Collective
// signatures (CoSi)", docs/protocol.md sections 1-4). Codes are stable; scripts and callers
// match on them. Every CosiError exits with EXIT.verification.
import { CairnError, EXIT } from '../errors/index.js';

export type CosiErrorCode =
  /** A witness key is not a canonical, prime-order-subgroup Ed25519 point (protocol.md 1). */
  | 'BAD_KEY'
  /** A proof of possession does not verify for its key (protocol.md 1; rogue-key defence). */
  | 'BAD_PROOF_OF_POSSESSION'
  /** Two roster entries carry the same key (protocol.md 4). */
  | 'DUPLICATE_KEY'
  /** The roster's threshold is not an integer in 1..n (protocol.md 4). */
  | 'BAD_THRESHOLD'
  /** A roster does not have the shape of protocol.md 4, or exceeds a cap. */
  | 'BAD_ROSTER'
  /**
   * A roster offered as vouched for is not the one the vouching collective signature names, or
   * that signature does not meet its roster's threshold (protocol.md 5, "Vouched rosters").
   */
  | 'NOT_VOUCHED'
  /** A bitmap has the wrong length or a bit set at or beyond n (protocol.md 3). */
  | 'BAD_BITMAP'
  /** Fewer participants than the roster's threshold (protocol.md 3). */
  | 'THRESHOLD_NOT_MET'
  /** The aggregate signature does not verify under the participants' aggregate key. */
  | 'BAD_SIGNATURE'
  /** Bytes that should be a point, scalar, hex string or signature are not. */
  | 'BAD_ENCODING'
  /** A message's context is missing, malformed or not one this signer co-signs (protocol.md 2). */
  | 'BAD_CONTEXT'
  /** A nonce pair was asked to answer a second time (protocol.md 3, step 3). */
  | 'NONCE_REUSED'
  /** A nonce pair this signer never issued (or dropped from its bounded pool). */
  | 'UNKNOWN_NONCE'
  /** A challenge names a bitmap in which this witness did not take part. */
  | 'NOT_A_PARTICIPANT'
  /** A challenge or endpoint refers to a roster other than the one expected. */
  | 'UNKNOWN_ROSTER'
  /** A co-signing round failed on every allowed attempt while enough witnesses remained. */
  | 'RETRIES_EXHAUSTED';

/** One witness's misbehaviour or absence in a co-signing round (see round.ts). */
export interface WitnessFault {
  /** Roster position of the witness. */
  index: number;
  /** Roster name of the witness. */
  name: string;
  /** 1-based attempt in which it happened. */
  attempt: number;
  phase: 'commit' | 'respond';
  /**
   * absent: no commitment (error, timeout or no endpoint): left out of the bitmap.
   * bad-commitment: a commitment that is not two canonical points: excluded.
   * no-response: committed and then did not answer (or its sub-leader lost its answer): excluded.
   * bad-response: an answer that fails s_i·B = R_i1 + b·R_i2 + c·A_i: excluded.
   */
  kind: 'absent' | 'bad-commitment' | 'no-response' | 'bad-response';
  /** Whether later attempts leave this witness out. */
  excluded: boolean;
  detail: string;
}

export class CosiError extends CairnError<CosiErrorCode> {
  /** For round failures: what each failed witness did, in order of detection. */
  readonly faults: readonly WitnessFault[];

  constructor(code: CosiErrorCode, message: string, options?: { hint?: string; cause?: unknown; faults?: readonly WitnessFault[] }) {
    super(code, message, options);
    this.faults = options?.faults ?? [];
  }

  get exitCode(): number {
    return EXIT.verification;
  }
}
