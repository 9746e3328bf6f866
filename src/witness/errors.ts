// witness/errors.ts: typed errors of the witness cothority (DESIGN.md "What a witness checks
// before it co-signs a block"; docs/protocol.md section 8). A witness refuses with the code of
// the rule that failed: a PolicyError or LogError code when the release policy or the skipchain
// rules refuse, one of the codes below for the witness's own rules. The leader and the HTTP
// client report what witnesses said with LeaderError and WitnessClientError.
import { CairnError, EXIT } from '../errors/index.js';

export type WitnessErrorCode =
  /** The request does not have the shape of protocol.md section 8 (HTTP 400). */
  | 'BAD_REQUEST'
  /** This witness follows no chain yet (it needs POST /v1/genesis first). */
  | 'NOT_FOLLOWING'
  /** The request is about another chain than the one this witness follows. */
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
  /** The payload carries something this witness cannot check (build attestations, issue 4). */
  | 'UNCHECKED_PAYLOAD'
  /** A respond whose message or roster differs from what the nonce was committed to. */
  | 'STATEMENT_CHANGED'
  /** A respond for a nonce this witness did not commit (or no longer holds). */
  | 'UNKNOWN_NONCE'
  /** A respond for a nonce already used (replay). */
  | 'NONCE_REUSED'
  /** The witness's directory or configuration is missing or malformed. */
  | 'BAD_CONFIG';

export class WitnessError extends CairnError<WitnessErrorCode> {
  get exitCode(): number {
    return this.code === 'BAD_CONFIG' ? EXIT.usage : EXIT.verification;
  }
}

/** What a witness answered when it refused (protocol.md section 8 error body). */
export interface RemoteRefusal {
  error: string;
  code: string;
  message: string;
}

/** A call to a witness failed: refused (with its code), unreachable, too slow or malformed. */
export class WitnessClientError extends CairnError<'REFUSED' | 'UNREACHABLE' | 'TIMEOUT' | 'BAD_ANSWER'> {
  readonly status: number | undefined;
  readonly refusal: RemoteRefusal | undefined;

  constructor(code: 'REFUSED' | 'UNREACHABLE' | 'TIMEOUT' | 'BAD_ANSWER', message: string, options?: { status?: number; refusal?: RemoteRefusal; cause?: unknown }) {
    super(code, message, { cause: options?.cause });
    this.status = options?.status;
    this.refusal = options?.refusal;
  }

  get exitCode(): number {
    return this.code === 'REFUSED' ? EXIT.verification : EXIT.fetch;
  }
}

/** One witness's part in a failed or degraded round, as the leader reports it. */
export interface WitnessReport {
  name: string;
  address: string;
  /** absent: unreachable or no answer; refused: answered with a refusal; excluded: answered wrongly. */
  status: 'absent' | 'refused' | 'excluded';
  /** The refusal code (a rule) when refused. */
  code?: string;
  detail: string;
}

export type LeaderErrorCode =
  /** The repository has no log (run `cairn log init`). */
  | 'NO_LOG'
  /** The repository already has a log. */
  | 'LOG_EXISTS'
  /** Fewer than the threshold of witnesses co-signed: the witnesses refused or were absent. */
  | 'ROUND_FAILED'
  /** The published log files and the leader's state disagree. */
  | 'LOG_STATE'
  /** A witness's answer to /v1/info is unusable (other chain, bad key or proof of possession). */
  | 'BAD_WITNESS';

export class LeaderError extends CairnError<LeaderErrorCode> {
  readonly witnesses: readonly WitnessReport[];

  constructor(code: LeaderErrorCode, message: string, options?: { hint?: string; cause?: unknown; witnesses?: readonly WitnessReport[] }) {
    super(code, message, options);
    this.witnesses = options?.witnesses ?? [];
  }

  get exitCode(): number {
    return this.code === 'ROUND_FAILED' ? EXIT.verification : this.code === 'NO_LOG' || this.code === 'LOG_EXISTS' ? EXIT.usage : EXIT.verification;
  }

  override toJSON(): { error: string; code: LeaderErrorCode; message: string; hint?: string; witnesses?: WitnessReport[] } {
    return { ...super.toJSON(), ...(this.witnesses.length > 0 ? { witnesses: [...this.witnesses] } : {}) };
  }
}
