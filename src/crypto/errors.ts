// crypto/errors.ts: typed errors for keys, key files and signatures.
import { CairnError, EXIT } from '../errors/index.js';

export class KeyError extends CairnError<
  | 'UNSUPPORTED_KEY'
  | 'BAD_KEY'
  | 'BAD_KEY_FILE'
  | 'BAD_PASSPHRASE'
  | 'PASSPHRASE_REQUIRED'
  | 'INSECURE_PERMISSIONS'
> {
  get exitCode(): number {
    return EXIT.key;
  }
}
