// errors/base.ts: the base of cairn's typed errors (docs/cli.md "Errors and exit codes"). Every
// layer defines its own subclasses with a closed set of stable codes; messages say what was
// expected, what was found and what to do; the CLI turns any CairnError into one line, a hint and
// the exit code of its family.

/** Base class of every error cairn raises on purpose. `code` is stable and machine-readable. */
export abstract class CairnError<Code extends string = string> extends Error {
  /** Stable identifier, e.g. `THRESHOLD_NOT_MET`. Scripts match on this, never on the message. */
  readonly code: Code;
  /** What the user can do about it (a command to run, a thing to check), if anything. */
  readonly hint: string | undefined;

  constructor(code: Code, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options?.hint;
    this.name = new.target.name;
  }

  /** The process exit code for this family of errors (see docs/cli.md). */
  abstract get exitCode(): number;

  toJSON(): { error: string; code: Code; message: string; hint?: string } {
    return {
      error: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** Exit codes by error family. 1 is reserved for "verification refused" in `cairn tuf`. */
export const EXIT = {
  usage: 2,
  format: 3,
  key: 4,
  fetch: 5,
  verification: 6,
  repository: 7,
  io: 8,
  internal: 70,
} as const;

/** Untrusted bytes that are not what they should be: bad JSON, wrong shape, over a cap. */
export class FormatError extends CairnError<
  'MALFORMED_JSON' | 'SCHEMA' | 'TOO_LARGE' | 'TOO_DEEP' | 'TOO_MANY_ENTRIES' | 'BAD_ENCODING'
> {
  get exitCode(): number {
    return EXIT.format;
  }
}

/** A local file operation failed (permissions, missing file, disk full). */
export class StorageError extends CairnError<
  'NOT_FOUND' | 'EXISTS' | 'LOCKED' | 'WRITE_FAILED' | 'READ_FAILED' | 'UNSAFE_PATH' | 'PERMISSION_DENIED' | 'NO_SPACE' | 'READ_ONLY' | 'NOT_A_DIRECTORY' | 'IS_A_DIRECTORY'
> {
  get exitCode(): number {
    return EXIT.io;
  }
}

/** Wrong invocation of a command or API. */
export class UsageError extends CairnError<'BAD_ARGUMENT' | 'MISSING_ARGUMENT' | 'CONFLICT' | 'UNKNOWN_COMMAND' | 'UNKNOWN_OPTION'> {
  get exitCode(): number {
    return EXIT.usage;
  }
}

export function isCairnError(e: unknown): e is CairnError {
  return e instanceof CairnError;
}

/** Short form of a hex digest or key ID for messages. */
export function short(hex: string, n = 12): string {
  return hex.length > n ? hex.slice(0, n) : hex;
}
