// package/ustar-reader.ts: a strict reader of uncompressed ustar archives for safe extraction
// (docs/packages.md "Archive rules"). It reads headers itself, so every field an attacker
// controls is seen before anything is written: checksums and the ustar magic are checked,
// numbers are octal or base-256 (a size can claim a terabyte; the caller's caps decide), names
// are UTF-8, pax extended headers ("x": path, linkpath, size) and GNU long names ("L", "K") are
// applied to the next entry (its resulting name is then checked like any other), and their
// content is capped. It yields entries with the offset of their content; it never writes.
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { PackageError } from './errors.js';

export const READER_LIMITS = {
  /** A pax extended header's content. */
  maxPaxBytes: 64 * 1024,
  /** A GNU long name or long link target. */
  maxLongNameBytes: 4096,
  /** Meta headers (pax, GNU long names) before one entry. */
  maxMetaHeaders: 4,
  /** Bytes read at once while walking headers. */
  windowBytes: 1024 * 1024,
} as const;

/** One entry as its headers describe it. `size` is Infinity when it does not fit a safe integer. */
export interface UstarEntryHeader {
  /** The name as written (a directory may end in "/"). */
  path: string;
  /** The ustar type flag ('0', '5', '2', ...; '\0' for an old-style file). */
  typeFlag: string;
  mode: number;
  size: number;
  linkTarget: string;
  headerOffset: number;
  /** Where the entry's content starts in the archive. */
  dataOffset: number;
}

const bad = (message: string): PackageError => new PackageError('BAD_ARCHIVE', message);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array, what: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw bad(`${what} is not UTF-8`);
  }
}

function cString(h: Buffer, offset: number, length: number, what: string): string {
  const field = h.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return text(end < 0 ? field : field.subarray(0, end), what);
}

/** A numeric field: octal digits (leading spaces, ended by NUL or space) or GNU base-256. */
function numeric(h: Buffer, offset: number, length: number, what: string): number {
  const field = h.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] === 0xff) throw bad(`${what} is negative`);
    let value = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i]!);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
  }
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < field.length && field[i] !== 0 && field[i] !== 0x20; i++) {
    const d = field[i]! - 0x30;
    if (d < 0 || d > 7) throw bad(`${what} is not an octal number`);
    value = value * 8 + d;
    digits++;
  }
  for (; i < field.length; i++) if (field[i] !== 0 && field[i] !== 0x20) throw bad(`${what} has bytes after its number`);
  return digits === 0 ? 0 : value;
}

/** The records of a pax extended header ("LEN key=value\n"...). */
function paxRecords(data: Buffer, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const lengthText = space < 0 ? '' : data.toString('latin1', pos, space);
    if (!/^[1-9][0-9]{0,6}$/.test(lengthText)) throw bad(`the pax header at offset ${at} has a malformed record length`);
    const end = pos + Number(lengthText);
    if (end > data.length || data[end - 1] !== 0x0a) throw bad(`the pax header at offset ${at} has a malformed record`);
    const record = text(data.subarray(space + 1, end - 1), `a pax record at offset ${at}`);
    const eq = record.indexOf('=');
    if (eq <= 0) throw bad(`the pax header at offset ${at} has a record without a key`);
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos = end;
  }
  return out;
}

/** Reads the headers of one archive file through an open handle. */
export class UstarReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly handle: FileHandle,
    /** The archive's size when it was opened. */
    readonly size: number,
  ) {}

  /** `length` bytes at `position` (a short read past the end of the file is BAD_ARCHIVE). */
  async bytes(position: number, length: number): Promise<Buffer> {
    if (position + length > this.size) throw bad(`the archive is truncated: ${position + length - this.size} bytes missing at offset ${position}`);
    if (position < this.windowStart || position + length > this.windowStart + this.window.length) {
      const want = Math.min(Math.max(length, READER_LIMITS.windowBytes), this.size - position);
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await this.handle.read(buffer, 0, want, position);
      if (bytesRead < length) throw bad(`the archive is truncated at offset ${position + bytesRead}`);
      this.window = buffer.subarray(0, bytesRead);
      this.windowStart = position;
    }
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }

  /** Reads content into `buffer` from `position`; returns the bytes read. */
  async read(buffer: Buffer, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    return bytesRead;
  }

  /** Like read, synchronously (for extraction: see extract.ts). */
  readSync(buffer: Buffer, length: number, position: number): number {
    return readSync(this.handle.fd, buffer, 0, length, position);
  }

  /**
   * The archive's entries in order, up to its end marker (a zero block). The caller sees each
   * entry's header before the reader moves past it, so its caps on claimed sizes apply before
   * anything else is read (and a refusal stops the walk).
   */
  async *entries(): AsyncGenerator<UstarEntryHeader> {
    let position = 0;
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    let meta = 0;
    for (;;) {
      const h = Buffer.from(await this.bytes(position, 512));
      if (h.every((b) => b === 0)) {
        if (meta > 0) throw bad(`the archive ends after a pax or long-name header at offset ${position}`);
        return;
      }
      const stored = numeric(h, 148, 8, `the checksum at offset ${position}`);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
      if (sum !== stored) throw bad(`the header at offset ${position} fails its checksum (not a tar archive, or a corrupt one)`);
      const magic = h.toString('latin1', 257, 265);
      const posix = magic === 'ustar\u000000';
      if (!posix && magic !== 'ustar  \u0000') throw bad(`the header at offset ${position} is not a ustar header (package archives are uncompressed ustar)`);
      const typeFlag = String.fromCharCode(h[156]!);
      const size = numeric(h, 124, 12, `the size at offset ${position}`);
      const name = cString(h, 0, 100, `the name at offset ${position}`);
      const prefix = posix ? cString(h, 345, 155, `the name prefix at offset ${position}`) : '';
      const dataOffset = position + 512;
      if (typeFlag === 'x' || typeFlag === 'g' || typeFlag === 'L' || typeFlag === 'K') {
        if (++meta > READER_LIMITS.maxMetaHeaders) throw bad(`more than ${READER_LIMITS.maxMetaHeaders} pax or long-name headers before one entry at offset ${position}`);
        const cap = typeFlag === 'L' || typeFlag === 'K' ? READER_LIMITS.maxLongNameBytes : READER_LIMITS.maxPaxBytes;
        if (size > cap) throw new PackageError('TOO_LARGE', `the ${typeFlag === 'L' || typeFlag === 'K' ? 'long-name' : 'pax'} header at offset ${position} claims ${size} bytes, at most ${cap} are read`);
        const data = Buffer.from(await this.bytes(dataOffset, size));
        if (typeFlag === 'L' || typeFlag === 'K') {
          const end = data.indexOf(0);
          const value = text(end < 0 ? data : data.subarray(0, end), `the long name at offset ${position}`);
          if (typeFlag === 'L') longName = value;
          else longLink = value;
        } else {
          const records = paxRecords(data, position);
          for (const key of records.keys()) {
            if (key.startsWith('GNU.sparse.')) throw new PackageError('SPECIAL_FILE', `the archive holds a sparse file (pax ${key} at offset ${position}); package archives hold plain files`);
          }
          if (typeFlag === 'x') pax = new Map([...pax, ...records]);
          else if (records.has('path') || records.has('linkpath') || records.has('size')) {
            throw bad(`a global pax header at offset ${position} sets path, linkpath or size for every entry`);
          }
        }
        position = dataOffset + Math.ceil(size / 512) * 512;
        continue;
      }
      let entrySize = size;
      const paxSize = pax.get('size');
      if (paxSize !== undefined) {
        if (!/^[0-9]{1,20}$/.test(paxSize)) throw bad(`the pax size at offset ${position} is not a number`);
        entrySize = Number(paxSize) > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : Number(paxSize);
      }
      const entry: UstarEntryHeader = {
        path: pax.get('path') ?? longName ?? (prefix === '' ? name : `${prefix}/${name}`),
        typeFlag,
        mode: numeric(h, 100, 8, `the mode at offset ${position}`),
        size: entrySize,
        linkTarget: pax.get('linkpath') ?? longLink ?? cString(h, 157, 100, `the link target at offset ${position}`),
        headerOffset: position,
        dataOffset,
      };
      pax = new Map();
      longName = undefined;
      longLink = undefined;
      meta = 0;
      yield entry;
      // Only files have content; the caller refuses other types that claim some.
      position = dataOffset + (entry.typeFlag === '0' || entry.typeFlag === '\u0000' ? Math.ceil(entry.size / 512) * 512 : 0);
    }
  }
}
