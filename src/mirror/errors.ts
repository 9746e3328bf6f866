// mirror/errors.ts: why the mirror refused a request or could not start (docs/cli.md "Mirrors:
// `cairn serve DIR`"). A refusal becomes an HTTP status (mirror.ts) and is reported to the
// onRequest hook with its code, so an operator's log (`cairn serve --log`) and the tests can tell
// a traversal attempt from a missing file; the client only sees the status.
import { CairnError, EXIT } from '../errors/index.js';

export type MirrorErrorCode =
  /** The request path is malformed, too long, or tries to leave the root (`..`, encoded separators, NUL). */
  | 'BAD_PATH'
  /** Not GET or HEAD: the mirror is read-only. */
  | 'METHOD_NOT_ALLOWED'
  /** No such file under the root. */
  | 'NOT_FOUND'
  /** The path leads outside the root through a symlink. */
  | 'OUTSIDE_ROOT'
  /** A directory, FIFO, socket or device: only regular files are served. */
  | 'NOT_REGULAR_FILE'
  /** The file kept changing while it was read (written in place rather than renamed into place). */
  | 'CHANGED_WHILE_READ'
  /** The file could not be read (an I/O error, permissions). */
  | 'READ_FAILED'
  /** The directory to serve does not exist or is not a directory. */
  | 'ROOT_NOT_A_DIRECTORY';

export class MirrorError extends CairnError<MirrorErrorCode> {
  get exitCode(): number {
    return this.code === 'BAD_PATH' || this.code === 'METHOD_NOT_ALLOWED' ? EXIT.usage : EXIT.io;
  }
}
