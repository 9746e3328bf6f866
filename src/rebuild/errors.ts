// rebuild/errors.ts: typed failures of building and rebuilding (docs/design.md "Build verification").
// A rebuild that ran and produced different bytes is not an error: it is a signed FAILED
// attestation. These codes are for what stops a verdict from being reached at all.
import { CairnError, EXIT } from '../errors/index.js';

export class RebuildError extends CairnError<
  | 'SOURCE_MISMATCH' // the fetched source archive's sha256 is not the declared one (no verdict is signed)
  | 'SOURCE_REFUSED' // the declared source URL is not http(s) and the operator did not allow file: sources
  | 'BAD_SOURCE_ARCHIVE' // not a tar archive, or it holds links, devices, absolute or ".." paths, or is over a cap
  | 'UNSUPPORTED_FILE' // a source tree holds a symlink, device or socket (cairn build archives files and directories only)
  | 'BUILD_FAILED' // the recipe's command exited non-zero or produced no output file
  | 'BUILD_TIMEOUT' // the recipe ran past its time limit and was killed
  | 'OUTPUT_TOO_LARGE' // the artifact built is over the size cap
  | 'ISOLATION_UNAVAILABLE' // the isolation asked for (bubblewrap, unshare) does not work on this machine
  | 'PRIVATE_FILE_IN_SANDBOX' // the verifier's key, queue or attestations lie under a path every build can read
  | 'ARTIFACT_NOT_FOUND' // the target, its declaration or its bytes are not in the repository
  | 'ARTIFACT_MISMATCH' // the published artifact's bytes do not have the sha256 metadata gives
> {
  get exitCode(): number {
    switch (this.code) {
      case 'SOURCE_MISMATCH':
      case 'SOURCE_REFUSED':
      case 'ARTIFACT_MISMATCH':
        return EXIT.verification;
      case 'BAD_SOURCE_ARCHIVE':
      case 'UNSUPPORTED_FILE':
        return EXIT.format;
      case 'ARTIFACT_NOT_FOUND':
        return EXIT.repository;
      default:
        return EXIT.internal - 1; // 69: the build itself could not run (EX_UNAVAILABLE)
    }
  }
}
