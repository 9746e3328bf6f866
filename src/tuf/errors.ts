// tuf/errors.ts: typed errors of the TUF client workflow (TUF spec 1.0.x section 5). Each code
// names the defence that refused the metadata or artifact.
import { CairnError, EXIT } from '../errors/index.js';

export class TufError extends CairnError<
  | 'THRESHOLD_NOT_MET' // 5.3.4, 5.4.2, 5.5.2, 5.6.3: too few valid signatures from the role's keys
  | 'BAD_METADATA' // wrong _type, spec_version, shape or a value out of range
  | 'EXPIRED' // 5.3.10, 5.4.4, 5.5.6, 5.6.4: indefinite-freeze defence
  | 'ROLLBACK' // 5.3.5, 5.4.3, 5.5.5: version lower than the trusted one
  | 'BAD_VERSION' // version differs from what the referring metadata says (5.3.5, 5.5.3, 5.6.2)
  | 'LENGTH_MISMATCH' // endless data / wrong length
  | 'HASH_MISMATCH' // 5.5.2, 5.6.2, 5.7.3: mix-and-match / arbitrary installation
  | 'MISSING_ROLE' // snapshot lost a role or targets meta lacks it (5.5.5)
  | 'TOO_MANY_ROTATIONS' // more root versions than the configured cap in one refresh
  | 'TOO_MANY_DELEGATIONS' // delegation search exceeded its cap
  | 'UNKNOWN_TARGET' // no trusted role lists the target path
  | 'NOT_TRUSTED' // no trusted root / operation before refresh
> {
  get exitCode(): number {
    return EXIT.verification;
  }
}
