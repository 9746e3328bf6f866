// client/errors.ts: typed errors of the witnessed client (docs/protocol.md section 9 "Clients
// and the log"), each with a stable code and an exit code of the verification family
// (docs/cli.md). Refusals of the log itself (forward links, head statements, catch-up) stay
// LogErrors with their own codes; a ClientError says that the TUF state and the witnessed log
// disagree, or that the client's log anchor is missing or damaged.
import { CairnError, EXIT } from '../errors/index.js';

export type ClientErrorCode =
  /**
   * A TUF document (a root, the snapshot a timestamp names, the snapshot or top-level targets
   * bytes, a delegated role or hash bin the witnessed snapshot pins) is not what the witnessed
   * head block or its predecessor records, directly or through that snapshot: a release the
   * developers signed but the witnesses never saw, or a mix-and-match with the log.
   */
  | 'NOT_WITNESSED'
  /**
   * The witnessed snapshot lists a targets role without its length and sha256, so the block does
   * not commit to that role's bytes (docs/protocol.md section 5 "What a block commits to").
   */
  | 'UNPINNED_ROLE'
  /** The client holds a log anchor but the mirror serves no log/head.json (no silent fallback to plain TUF). */
  | 'NO_HEAD'
  /** The local anchor files are missing, malformed, or do not match the pinned block hash. */
  | 'BAD_ANCHOR'
  /** A witnessed refresh was asked of a metadata directory that has no log anchor. */
  | 'NOT_ANCHORED';

export class ClientError extends CairnError<ClientErrorCode> {
  get exitCode(): number {
    return EXIT.verification;
  }
}
