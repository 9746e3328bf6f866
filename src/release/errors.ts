// release/errors.ts: typed errors of the publisher's release pipeline (docs/protocol.md
// section 8; docs/witness.md "Failure handling and recovery"). WitnessCallError: one call to a
// witness failed (refused with the witness's rule, unreachable, too slow, malformed answer);
// LeaderError: the log leader could not log a release (round failed, log state inconsistent),
// with a report of what each witness said.
import { CairnError, EXIT } from '../errors/index.js';
import type { RemoteRefusal } from '../witness/index.js';

const WITNESS_CALL_HINTS = {
  REFUSED: 'the witness names the rule that failed; fix the release (or the roster change) it refused',
  UNREACHABLE: 'check that the witness runs (cairn witness serve) and that its address is right and reachable from here',
  TIMEOUT: 'the witness did not answer in time: check that it runs, or give it longer (--timeout MS, --witness-timeout MS)',
  BAD_ANSWER: 'the address does not answer as a cairn witness: check that it is a witness\'s address',
} as const;

/** A call to a witness failed: refused (with its code), unreachable, too slow or malformed. */
export class WitnessCallError extends CairnError<'REFUSED' | 'UNREACHABLE' | 'TIMEOUT' | 'BAD_ANSWER'> {
  readonly status: number | undefined;
  readonly refusal: RemoteRefusal | undefined;

  constructor(code: 'REFUSED' | 'UNREACHABLE' | 'TIMEOUT' | 'BAD_ANSWER', message: string, options?: { status?: number; refusal?: RemoteRefusal; cause?: unknown; hint?: string }) {
    super(code, message, { cause: options?.cause, hint: options?.hint ?? WITNESS_CALL_HINTS[code] });
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
  | 'BAD_WITNESS'
  /**
   * The repository lists roles in snapshot by version alone (meta hashes off, or a snapshot
   * published before they were turned on): a block would not commit to their bytes.
   */
  | 'META_HASHES_OFF'
  /** No leader key was given, or it is not a member of the roster whose witnesses it asks (docs/witness.md "Who may lead"). */
  | 'LEADER_KEY';

export class LeaderError extends CairnError<LeaderErrorCode> {
  readonly witnesses: readonly WitnessReport[];

  constructor(code: LeaderErrorCode, message: string, options?: { hint?: string; cause?: unknown; witnesses?: readonly WitnessReport[] }) {
    super(code, message, options);
    this.witnesses = options?.witnesses ?? [];
  }

  get exitCode(): number {
    return this.code === 'NO_LOG' || this.code === 'LOG_EXISTS' || this.code === 'META_HASHES_OFF' || this.code === 'LEADER_KEY' ? EXIT.usage : EXIT.verification;
  }

  override toJSON(): { error: string; code: LeaderErrorCode; message: string; hint?: string; witnesses?: WitnessReport[] } {
    return { ...super.toJSON(), ...(this.witnesses.length > 0 ? { witnesses: [...this.witnesses] } : {}) };
  }
}
