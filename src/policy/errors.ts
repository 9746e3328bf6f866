// policy/errors.ts: typed refusals of the release policy. Each code names the rule of docs/design.md
// "What a witness checks before it co-signs a block" that failed.
import { CairnError, EXIT } from '../errors/index.js';

export class PolicyError extends CairnError<
  | 'BAD_DOCUMENT' // a metadata document does not parse or is of the wrong kind
  | 'ROOT_CHAIN' // a new root is not signed by the old and the new root threshold, or skips a version
  | 'SIGNATURE_THRESHOLD' // a role is not signed by its delegator's threshold (developer signatures)
  | 'ROLLBACK' // a version goes backwards
  | 'REMOVED_ROLE' // a role of the previous snapshot is missing
  | 'VERSION_MISMATCH' // a document's version differs from what snapshot says, or one version, two contents
  | 'HASH_MISMATCH' // a document differs from the length/hashes snapshot lists
  | 'UNPINNED_ROLE' // snapshot lists a role without length and sha256, so the block would not commit to its bytes
  | 'EXPIRED' // a document of the release is expired at the witness's clock
  | 'MISSING_DOCUMENT' // a changed role's document was not supplied
  | 'UNDELEGATED_ROLE' // snapshot lists a role no trusted role delegates
  | 'PAYLOAD_MISMATCH' // the block's payload does not describe the documents
  | 'CLOCK_SKEW' // the block time is too far from the witness's clock
> {
  get exitCode(): number {
    return EXIT.verification;
  }
}
