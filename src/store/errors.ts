// store/errors.ts: typed errors of the client store (docs/design.md "Client store"; docs/store.md). Each code names one condition; messages say what failed, why, and
// the hint what to run next.
import { CairnError, EXIT } from '../errors/index.js';

export type StoreErrorCode =
  /** Another cairn process holds ROOT/lock past the time-out. */
  | 'LOCKED'
  /** The store has no active generation (nothing installed yet). */
  | 'NO_GENERATION'
  /** Rollback with no target: the current generation has no parent. */
  | 'NO_PARENT'
  /** A generation asked for (rollback --to N, a parent) is not kept in the store. */
  | 'UNKNOWN_GENERATION'
  /** The store's own files are not what cairn wrote: a record, a manifest, the current link. */
  | 'CORRUPT'
  /** A generation plan is not valid: bad names, conflicting commands, entry points that are not files. */
  | 'BAD_PLAN'
  /** A plan names a store path by ID that the store does not hold. */
  | 'NOT_IN_STORE'
  /** The unpacked tree is not what unpack reported, or holds something a store path may not (a device, a FIFO). */
  | 'UNPACK_MISMATCH'
  /** The content of a store path is over a cap (files, path length). */
  | 'TOO_LARGE';

const HINTS: Partial<Record<StoreErrorCode, string>> = {
  LOCKED: 'wait for the other cairn command to finish and run this one again, or wait longer (CAIRN_LOCK_TIMEOUT=SECONDS)',
  NO_GENERATION: 'install a package first',
  NO_PARENT: 'list the generations and roll back with --to N',
  UNKNOWN_GENERATION: 'list the kept generations and choose one of them',
  CORRUPT: 'run cairn verify to see every difference; reinstalling the affected packages rewrites them',
};

export class StoreError extends CairnError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, message, { hint: options?.hint ?? HINTS[code], cause: options?.cause });
  }

  get exitCode(): number {
    switch (this.code) {
      case 'LOCKED':
        return EXIT.io;
      case 'CORRUPT':
      case 'UNPACK_MISMATCH':
        return EXIT.verification;
      case 'TOO_LARGE':
        return EXIT.format;
      default:
        return EXIT.usage;
    }
  }
}
