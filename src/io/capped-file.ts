// io/capped-file.ts: the one way cairn reads a local file it does not trust to be small
// (docs/architecture.md "Untrusted input"): key files, anchors, workspace state, log files,
// declarations. The file is opened once (non-blocking, so a FIFO cannot hang the reader), its
// status is checked on the open handle (a regular file, at most the cap), and then at most
// cap + 1 bytes are read from that handle, so a file that grows or is replaced between the
// check and the read still cannot make cairn read more than the cap.
import { open, type FileHandle } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { CairnError, EXIT, FormatError, StorageError, fromSystemError } from '../errors/index.js';

/** A local file refused before or while it was read: not a regular file, or over the cap. */
export class CappedFileError extends CairnError<'NOT_REGULAR_FILE' | 'TOO_LARGE'> {
  constructor(
    code: 'NOT_REGULAR_FILE' | 'TOO_LARGE',
    message: string,
    /** The file. */
    readonly path: string,
    /** The cap in bytes. */
    readonly maxBytes: number,
    /** Its size when refused (for a file that grew while read: the bytes read so far, over the cap). */
    readonly size: number,
  ) {
    super(code, message);
  }

  /** Over the cap is malformed input (exit 3, as FormatError TOO_LARGE); not a regular file, local storage (8). */
  get exitCode(): number {
    return this.code === 'TOO_LARGE' ? EXIT.format : EXIT.io;
  }
}

export interface CappedReadOptions {
  /** Names the file in messages (default: its path). */
  what?: string;
  /** Checks the open file's status before anything is read (permissions, for example); throws to refuse. */
  checkStatus?: (status: Stats) => void;
  /**
   * The caller's error for a refusal (not a regular file, over the cap), so each format keeps its
   * own error code. Default: the CappedFileError itself.
   */
  refuse?: (refusal: CappedFileError) => Error;
}

/**
 * A refusal for callers that treat a file over its cap as malformed input (FormatError
 * TOO_LARGE, as bounded-json.ts does for bytes in memory); other refusals unchanged.
 */
export function tooLargeIsFormatError(refusal: CappedFileError): Error {
  return refusal.code === 'TOO_LARGE' ? new FormatError('TOO_LARGE', refusal.message, { cause: refusal }) : refusal;
}

/** Size of the first read of a file whose size fstat reported as 0 (procfs and the like). */
const FIRST_READ_BYTES = 64 * 1024;

/**
 * The bytes of the regular file `path`, at most `maxBytes` of them. Throws the refusal (see
 * CappedReadOptions.refuse) for a directory, FIFO or device, or a file over the cap;
 * StorageError NOT_FOUND when it does not exist; StorageError READ_FAILED for other failures.
 */
export async function readCappedFile(path: string, maxBytes: number, options: CappedReadOptions = {}): Promise<Buffer> {
  const bytes = await read(path, maxBytes, options, false);
  return bytes!;
}

/** Like readCappedFile, but undefined when the file does not exist. */
export async function readCappedFileIfExists(path: string, maxBytes: number, options: CappedReadOptions = {}): Promise<Buffer | undefined> {
  return read(path, maxBytes, options, true);
}

async function read(path: string, maxBytes: number, options: CappedReadOptions, missingIsUndefined: boolean): Promise<Buffer | undefined> {
  const what = options.what ?? path;
  const refuse = (code: CappedFileError['code'], message: string, size: number): Error => {
    const refusal = new CappedFileError(code, message, path, maxBytes, size);
    return options.refuse ? options.refuse(refusal) : refusal;
  };
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (missingIsUndefined) return undefined;
      throw new StorageError('NOT_FOUND', `${what} does not exist`, { cause: e, hint: 'check the path' });
    }
    throw fromSystemError(e) ?? new StorageError('READ_FAILED', `cannot read ${what}: ${(e as Error).message}`, { cause: e });
  }
  try {
    let status: Stats;
    try {
      status = await handle.stat();
    } catch (e) {
      throw new StorageError('READ_FAILED', `cannot read ${what}: ${(e as Error).message}`, { cause: e });
    }
    if (!status.isFile()) throw refuse('NOT_REGULAR_FILE', `${what} is not a regular file (${kindOf(status)})`, status.size);
    if (status.size > maxBytes) throw refuse('TOO_LARGE', `${what} is ${status.size} bytes, the limit is ${maxBytes}`, status.size);
    options.checkStatus?.(status);
    let buffer = Buffer.allocUnsafe(Math.min(status.size > 0 ? status.size + 1 : FIRST_READ_BYTES, maxBytes + 1));
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        // The file is longer than fstat said (it grew, or fstat cannot know): read on, up to the cap + 1.
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, maxBytes + 1));
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, total, buffer.length - total, total));
      } catch (e) {
        throw new StorageError('READ_FAILED', `cannot read ${what}: ${(e as Error).message}`, { cause: e });
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw refuse('TOO_LARGE', `${what} grew beyond the limit of ${maxBytes} bytes while it was read`, total);
    }
    return total === buffer.length ? buffer : buffer.subarray(0, total);
  } finally {
    await handle.close();
  }
}

/** What a file that is not a regular file is, for messages. */
export function kindOf(status: Stats): string {
  if (status.isDirectory()) return 'a directory';
  if (status.isFIFO()) return 'a FIFO';
  if (status.isSocket()) return 'a socket';
  if (status.isCharacterDevice() || status.isBlockDevice()) return 'a device';
  return 'not a file';
}
