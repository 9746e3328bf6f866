// witness/errors.ts: typed errors of the witness cothority (docs/design.md "What a witness checks
// before it co-signs a block"; docs/protocol.md section 8). A witness refuses with the code of
// the rule that failed: a PolicyError or LogError code when the release policy or the skipchain
// rules refuse, one of the codes below for the witness's own rules. The log leader (src/release) reports
// what witnesses said with LeaderError and WitnessCallError.
import { CairnError, EXIT } from '../errors/index.js';

export type WitnessErrorCode =
  /** The request does not have the shape of protocol.md section 8 (HTTP 400). */
  | 'BAD_REQUEST'
  /** This witness follows no chain yet (it needs POST /v1/genesis first). */
  | 'NOT_FOLLOWING'
  /** The request is about another chain than the one this witness follows, or its operator named. */
  | 'CHAIN_MISMATCH'
  /** The block does not extend the head this witness recorded (index, back links). */
  | 'DOES_NOT_EXTEND_HEAD'
  /** A different block at an index this witness recorded: it never co-signs two. */
  | 'EQUIVOCATION'
  /** The statement is not the one this witness derives from its own records. */
  | 'BAD_STATEMENT'
  /** A link names a block this witness did not record. */
  | 'UNKNOWN_BLOCK'
  /** A head statement that is not this witness's recorded head. */
  | 'NOT_OWN_HEAD'
  /** This witness is not in the roster that signs the statement. */
  | 'NOT_IN_ROSTER'
  /** The payload carries something this witness cannot check (build attestations it has no policy for). */
  | 'UNCHECKED_PAYLOAD'
  /** A declared source that is not the upstream file of the import the declaration names (docs/upstream.md). */
  | 'NOT_UPSTREAM'
  /** The build policy requires each co-signer to fetch an imported source's upstream file, and this witness could not. */
  | 'UPSTREAM_NOT_FETCHED'
  /** A respond whose message or roster differs from what the nonce was committed to. */
  | 'STATEMENT_CHANGED'
  /** A respond for a nonce this witness did not commit (or no longer holds). */
  | 'UNKNOWN_NONCE'
  /** A respond for a nonce already used (replay). */
  | 'NONCE_REUSED'
  /** The witness's directory or configuration is missing or malformed. */
  | 'BAD_CONFIG'
  /** Another witness process holds the witness's directory (one process per directory). */
  | 'LOCKED'
  // ---- who may ask (protocol.md section 8 "Who may ask") ----
  /** A request that makes the witness work carries no (or a malformed) roster member's signature (HTTP 401). */
  | 'UNAUTHENTICATED'
  /** The request signature does not verify for the key it names (HTTP 401). */
  | 'BAD_SIGNATURE'
  /** The request's time is too far from the witness's clock (HTTP 401). */
  | 'STALE_REQUEST'
  /** A request ID already received within the window (HTTP 401). */
  | 'REPLAYED_REQUEST'
  /** The signer is not a member of the roster in force (HTTP 403). */
  | 'NOT_A_MEMBER'
  /** The signer sent more requests than its rate allows (HTTP 429). */
  | 'RATE_LIMITED';

export class WitnessError extends CairnError<WitnessErrorCode> {
  get exitCode(): number {
    if (this.code === 'BAD_CONFIG') return EXIT.usage;
    if (this.code === 'LOCKED') return EXIT.io;
    return EXIT.verification;
  }
}

/** What a witness answered when it refused (protocol.md section 8 error body). */
export interface RemoteRefusal {
  error: string;
  code: string;
  message: string;
}
