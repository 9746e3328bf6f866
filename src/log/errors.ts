// log/errors.ts: typed errors of the skipchain release log (docs/protocol.md sections 4-7;
// docs/cli.md "Errors and exit codes"). Every refusal of a block, forward link, head statement or
// catch-up path is a LogError with a stable code; the exit code is the verification family's.
import { CairnError, EXIT } from '../errors/index.js';

export type LogErrorCode =
  /** A block is malformed or does not follow its predecessor (index, chain, parameters, roster). */
  | 'BAD_BLOCK'
  /** A block's height or back links do not match the height formula and the earlier blocks. */
  | 'BAD_BACK_LINK'
  /** A forward link is malformed, or does not join the blocks it names. */
  | 'BAD_FORWARD_LINK'
  /** A collective signature is missing participants, does not verify, or has a bad bitmap. */
  | 'THRESHOLD_NOT_MET'
  | 'BAD_COSIGNATURE'
  /** A roster was needed and the one given is not the one with the expected hash. */
  | 'UNKNOWN_ROSTER'
  /** A roster change without a valid authorization by the root threshold. */
  | 'ROSTER_NOT_AUTHORIZED'
  /** A roster authorization request is malformed. */
  | 'BAD_AUTHORIZATION'
  /** A roster authorization (request or signature) is for another chain, index or roster than the one at hand. */
  | 'STALE_AUTHORIZATION'
  /** A head statement is malformed or does not match its block. */
  | 'BAD_HEAD'
  /** The newest head statement is older than the allowed age (freeze attack). */
  | 'STALE_HEAD'
  /** A head statement older than one already accepted (replay / rollback). */
  | 'REPLAYED_HEAD'
  /** Two different blocks were shown at one index of one chain. */
  | 'EQUIVOCATION'
  /** An equivocation proof that does not prove equivocation. */
  | 'NOT_EQUIVOCATION'
  /** A catch-up would need more hops than the cap allows. */
  | 'CATCH_UP_TOO_LONG'
  /** The target cannot be reached from the trusted block (missing level-0 link, other chain). */
  | 'NOT_REACHABLE'
  /** An immutable log file exists with different content. */
  | 'IMMUTABLE_CONFLICT'
  /** A Merkle inclusion or consistency proof that does not prove what it should (RFC 6962). */
  | 'BAD_PROOF'
  /** A C2SP signed note or checkpoint that is malformed, or whose signature is missing or does not verify. */
  | 'BAD_NOTE';

export class LogError extends CairnError<LogErrorCode> {
  get exitCode(): number {
    return EXIT.verification;
  }
}
