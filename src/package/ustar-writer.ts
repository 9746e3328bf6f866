// package/ustar-writer.ts: the one deterministic POSIX ustar writer, used by package archives
// (pack.ts) and source archives (rebuild/archive.ts) (docs/packages.md "Archive rules";
// reproducible-builds.org "Archive metadata"). It writes the headers itself, with no tar
// library's defaults that change between versions: mtime fixed by the caller (SOURCE_DATE_EPOCH),
// uid/gid 0, empty uname/gname, modes 0755 (directories, executables, links' 0777 aside) or 0644,
// paths over 100 bytes split into the ustar prefix field (at most 255 bytes in all), then two
// zero blocks. The caller decides the order of entries (compareArchivePaths) and what is allowed.
import { createHash } from 'node:crypto';
import { PackageError } from './errors.js';

/** Longest link target ustar can hold. */
export const USTAR_MAX_LINK_BYTES = 100;

export type UstarEntryType = 'file' | 'directory' | 'symlink';

/**
 * Writes a deterministic ustar stream through `sink` (which receives every byte in order) and
 * keeps its sha256 and length. Each method throws PackageError UNSUPPORTED_FILE for what ustar
 * cannot hold (a path over 255 bytes that no "/" splits, a link target over 100 bytes).
 */
export class DeterministicUstarWriter {
  private readonly hash = createHash('sha256');
  private written = 0;
  private count = 0;

  constructor(
    private readonly sink: (chunk: Buffer) => Promise<void>,
    /** mtime of every entry, in seconds (SOURCE_DATE_EPOCH). */
    private readonly mtime: number,
  ) {}

  private async emit(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.written += chunk.length;
    await this.sink(chunk);
  }

  /** A directory entry "path/", mode 0755. */
  async directory(path: string): Promise<void> {
    await this.emit(ustarHeader(`${path}/`, 0o755, 0, this.mtime, '5'));
    this.count++;
  }

  /** A regular file of `size` bytes, mode 0755 when executable else 0644; `chunks` must yield exactly `size` bytes. */
  async file(path: string, executable: boolean, size: number, chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<void> {
    await this.emit(ustarHeader(path, executable ? 0o755 : 0o644, size, this.mtime, '0'));
    let seen = 0;
    for await (const chunk of chunks) {
      seen += chunk.length;
      if (seen > size) break;
      await this.emit(chunk);
    }
    if (seen !== size) throw new PackageError('UNSUPPORTED_FILE', `${path} changed size while it was being archived (${size} bytes expected, ${seen} read)`);
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) await this.emit(Buffer.alloc(pad));
    this.count++;
  }

  /** A symbolic link to `target` (mode 0777, as the kernel reports links). */
  async symlink(path: string, target: string): Promise<void> {
    await this.emit(ustarHeader(path, 0o777, 0, this.mtime, '2', target));
    this.count++;
  }

  /** Writes the end of the archive (two zero blocks); returns what was written. */
  async end(): Promise<{ sha256: string; length: number; entries: number }> {
    await this.emit(Buffer.alloc(1024));
    return { sha256: this.hash.digest('hex'), length: this.written, entries: this.count };
  }
}

/** One ustar header block (POSIX.1-1988 ustar, magic "ustar\0" version "00"). */
function ustarHeader(path: string, mode: number, size: number, mtime: number, type: '0' | '2' | '5', linkTarget = ''): Buffer {
  const h = Buffer.alloc(512);
  const bytes = Buffer.from(path, 'utf8');
  let name = bytes;
  let prefix = Buffer.alloc(0);
  if (bytes.length > 100) {
    // Split at a "/" so that prefix <= 155 bytes and name <= 100 bytes (POSIX ustar).
    let split = -1;
    for (let i = bytes.length - 1; i > 0; i--) {
      if (bytes[i] === 0x2f && i <= 155 && bytes.length - i - 1 <= 100 && bytes.length - i - 1 > 0) {
        split = i;
        break;
      }
    }
    if (split < 0) {
      throw new PackageError('UNSUPPORTED_FILE', `path too long for a ustar archive (${bytes.length} bytes; at most 100, or up to 255 split at a "/" into 155 + 100): ${path.slice(0, 120)}`, {
        hint: 'shorten the path',
      });
    }
    prefix = bytes.subarray(0, split);
    name = bytes.subarray(split + 1);
  }
  const link = Buffer.from(linkTarget, 'utf8');
  if (link.length > USTAR_MAX_LINK_BYTES) throw new PackageError('UNSUPPORTED_FILE', `link target of ${path} is ${link.length} bytes; ustar holds at most ${USTAR_MAX_LINK_BYTES}`);
  name.copy(h, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156);
  h.write(type, 156, 'ascii');
  link.copy(h, 157);
  h.write('ustar\u0000', 257, 'ascii');
  h.write('00', 263, 'ascii');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 'ascii');
  return h;
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1) throw new PackageError('UNSUPPORTED_FILE', `value ${value} does not fit a ${width}-byte ustar field`);
  buf.write(text + '\u0000', offset, 'ascii');
}
