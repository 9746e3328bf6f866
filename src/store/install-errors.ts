// store/install-errors.ts: the errors of the package manager's front half (docs/packages.md
// "Installing"): remotes, dependency resolution, downloads from mirrors and consent. The store's
// own integrity errors are StoreError (store/errors.ts).
import { CairnError, EXIT } from '../errors/index.js';

export class InstallError extends CairnError<
  | 'UNKNOWN_REMOTE'
  | 'REMOTE_EXISTS'
  | 'BAD_REMOTE_NAME'
  | 'NO_REMOTE'
  | 'UNKNOWN_PACKAGE'
  | 'NO_MATCHING_VERSION'
  | 'DEPENDENCY_CONFLICT'
  | 'NOT_INSTALLED'
  | 'MANIFEST_MISMATCH'
  | 'ALL_MIRRORS_FAILED'
  | 'PERMISSION_CONSENT_NEEDED'
  | 'BAD_REQUEST'
> {
  get exitCode(): number {
    switch (this.code) {
      case 'MANIFEST_MISMATCH':
        return EXIT.verification;
      case 'ALL_MIRRORS_FAILED':
        return EXIT.fetch;
      case 'UNKNOWN_REMOTE':
      case 'REMOTE_EXISTS':
      case 'BAD_REMOTE_NAME':
      case 'NO_REMOTE':
      case 'BAD_REQUEST':
        return EXIT.usage;
      default:
        return EXIT.repository;
    }
  }
}
