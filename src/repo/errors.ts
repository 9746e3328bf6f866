// repo/errors.ts: typed errors of the publisher-side repository tools (TUF spec 1.0.x sections
// 4 and 6). Codes are stable; messages say what was expected, what was found and what to do.
import { CairnError, EXIT } from '../errors/index.js';

export type RepoErrorCode =
  | 'NOT_A_REPOSITORY'
  | 'ALREADY_EXISTS'
  | 'BAD_CONFIG'
  | 'BAD_ROLE_NAME'
  | 'UNKNOWN_ROLE'
  | 'BAD_TARGET_PATH'
  | 'VERSION_EXISTS'
  | 'TARGET_NOT_FOUND'
  | 'PATH_NOT_DELEGATED'
  | 'BAD_DELEGATION'
  | 'BAD_THRESHOLD'
  | 'KEY_NOT_AUTHORIZED'
  | 'BAD_SIGNATURE'
  | 'STALE_SIGNATURE'
  | 'THRESHOLD_NOT_MET'
  | 'EXPIRED'
  | 'BAD_METADATA'
  | 'MISSING_BLOB';

export class RepoError extends CairnError<RepoErrorCode> {
  get exitCode(): number {
    return EXIT.repository;
  }
}
