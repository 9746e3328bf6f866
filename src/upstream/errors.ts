// upstream/errors.ts: typed refusals of upstream imports (docs/upstream.md): each link of the
// chain from an archive's signed release file to the upstream's own bytes that does not hold.
import { CairnError, EXIT } from '../errors/index.js';

export type UpstreamErrorCode =
  /** A control file (Release, Sources, .dsc) or apt source entry that does not follow its format. */
  | 'MALFORMED'
  /** A clearsigned file with text outside its signed part, or not exactly one clearsigned message. */
  | 'UNSIGNED_TEXT'
  /** A signature that does not verify, or is made by a key not in the keyring it must be checked against. */
  | 'BAD_SIGNATURE'
  /** A release file past its Valid-Until, or dated in the future. */
  | 'EXPIRED'
  /** A release file dated before the last one seen from the same archive and suite (a rollback). */
  | 'DATE_ROLLBACK'
  /** A file whose size or SHA-256 differs from what the signed chain lists for it. */
  | 'HASH_MISMATCH'
  /** A file the signed chain lists at a size over cairn's cap for its kind (docs/upstream.md). */
  | 'TOO_LARGE'
  /** The source, version or file asked for is not in the archive's signed indexes. */
  | 'NOT_FOUND'
  /** apt's configuration names no archive to import from, or no keyring for it; or a tool the import needs is missing. */
  | 'NO_SOURCE'
  /** The upstream signed nothing, and the import was not told to accept that. */
  | 'UNSIGNED_UPSTREAM';

const HINTS: Partial<Record<UpstreamErrorCode, string>> = {
  NO_SOURCE: 'cairn reads the archives and keyrings apt is configured with (/etc/apt/sources.list, /etc/apt/sources.list.d)',
  DATE_ROLLBACK: 'an archive or mirror serving an older release file than one seen before may be replaying it: try another mirror',
  EXPIRED: 'the mirror may be stale: try another, or check the clock',
  UNSIGNED_UPSTREAM: 'import it anyway with --allow-unsigned-upstream: the provenance then records that nothing the upstream signed vouches for it',
};

export class UpstreamError extends CairnError<UpstreamErrorCode> {
  constructor(code: UpstreamErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { hint: options?.hint ?? HINTS[code], cause: options?.cause });
  }

  get exitCode(): number {
    return this.code === 'NO_SOURCE' ? EXIT.usage : EXIT.verification;
  }
}
