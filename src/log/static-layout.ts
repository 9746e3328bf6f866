// log/static-layout.ts: the static files a mirror serves for the log (docs/protocol.md
// section 7), the LogSource a client reads them through, and LogStore, the publisher's side,
// with a file-system implementation. Blocks, links and rosters are immutable: a second write with
// the same bytes is a no-op, with different bytes it is refused (IMMUTABLE_CONFLICT). Files are
// written as canonical JSON through writeFileAtomic (docs/architecture.md "Untrusted input").
import { join } from 'node:path';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { StorageError } from '../errors/index.js';
import { LOWER_HEX } from '../encoding/field-reader.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists, tooLargeIsFormatError } from '../io/capped-file.js';
import { fetchIfPresent, type Fetcher } from '../io/fetch.js';
import { blockHash, parseBlock, type Block } from './block.js';
import { parseRoster, rosterHash, type Roster } from './cosi-adapter.js';
import { LogError } from './errors.js';
import { parseForwardLink, type LinkFile } from './forward-link.js';
import { parseHeadFile, parseHeadStatement, type HeadFile } from './head.js';
import { LOG_FILE_LIMITS, parseUtcTime } from './schema.js';

/** Paths of the log files, relative to the repository's public directory (section 7). */
export const LOG_PATHS = {
  block: (index: number): string => `log/blocks/${checkIndex(index)}.json`,
  link: (fromIndex: number, level: number): string => `log/links/${checkIndex(fromIndex)}.${checkIndex(level)}.json`,
  roster: (hash: string): string => `log/rosters/${checkHash(hash)}.json`,
  head: 'log/head.json',
} as const;

function checkIndex(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new StorageError('UNSAFE_PATH', `log file index ${n} is not a non-negative integer`);
  return n;
}

function checkHash(hash: string): string {
  if (hash.length !== 64 || !LOWER_HEX.test(hash)) throw new StorageError('UNSAFE_PATH', `log file name ${JSON.stringify(hash).slice(0, 80)} is not a hash`);
  return hash;
}

/** The bytes of a log file as cairn writes it: canonical JSON, so a file's hash is its document's. */
export function encodeLogFile(value: Block | Roster | LinkFile | HeadFile): Buffer {
  return canonicalBytes(value);
}

/**
 * Where a client reads log files from (a mirror over HTTP, a directory, a bundle). Each method
 * returns the raw bytes, at most `maxBytes` (else throws), or undefined when the file is absent.
 */
export interface LogSource {
  getHead(maxBytes: number): Promise<Uint8Array | undefined>;
  getBlock(index: number, maxBytes: number): Promise<Uint8Array | undefined>;
  getLink(fromIndex: number, level: number, maxBytes: number): Promise<Uint8Array | undefined>;
  getRoster(hash: string, maxBytes: number): Promise<Uint8Array | undefined>;
}

/** The publisher's side: writes the log files. Immutable files are never replaced. */
export interface LogStore extends LogSource {
  putBlock(block: Block): Promise<void>;
  putLink(file: LinkFile): Promise<void>;
  /** Writes the roster under its hash and returns the hash. */
  putRoster(roster: Roster): Promise<string>;
  /** Replaces log/head.json; refuses a statement older than the one there. */
  putHead(file: HeadFile): Promise<void>;
}

/** A LogSource over any Fetcher (http, https, file URLs); `baseUrl` is the public directory. */
export function fetcherLogSource(fetcher: Fetcher, baseUrl: string): LogSource {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return logDirectorySource(fetcher, new URL('log/', base).href);
}

/**
 * A LogSource over any Fetcher for the log directory itself at `logUrl` (which may be named
 * anything: LOG_PATHS are read relative to it). `onRead` is told the size of each file read.
 */
export function logDirectorySource(fetcher: Fetcher, logUrl: string, onRead?: (bytes: number) => void): LogSource {
  const base = logUrl.endsWith('/') ? logUrl : `${logUrl}/`;
  const get = async (path: string, maxBytes: number): Promise<Uint8Array | undefined> => {
    const bytes = await fetchIfPresent(fetcher, new URL(path.slice('log/'.length), base).href, maxBytes);
    if (bytes !== undefined) onRead?.(bytes.byteLength);
    return bytes;
  };
  return {
    getHead: (maxBytes) => get(LOG_PATHS.head, maxBytes),
    getBlock: (index, maxBytes) => get(LOG_PATHS.block(index), maxBytes),
    getLink: (fromIndex, level, maxBytes) => get(LOG_PATHS.link(fromIndex, level), maxBytes),
    getRoster: (hash, maxBytes) => get(LOG_PATHS.roster(hash), maxBytes),
  };
}

/** LogStore on a file system: `publicDir` is the directory a mirror serves (holding log/). */
export class FileLogStore implements LogStore {
  constructor(readonly publicDir: string) {}

  getHead(maxBytes: number): Promise<Uint8Array | undefined> {
    return this.read(LOG_PATHS.head, maxBytes);
  }

  getBlock(index: number, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.read(LOG_PATHS.block(index), maxBytes);
  }

  getLink(fromIndex: number, level: number, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.read(LOG_PATHS.link(fromIndex, level), maxBytes);
  }

  getRoster(hash: string, maxBytes: number): Promise<Uint8Array | undefined> {
    return this.read(LOG_PATHS.roster(hash), maxBytes);
  }

  async putBlock(block: Block): Promise<void> {
    const b = parseBlock(block, `block ${block.index}`);
    await this.writeImmutable(LOG_PATHS.block(b.index), encodeLogFile(b), `block ${b.index} (${blockHash(b).slice(0, 12)})`);
  }

  async putLink(file: LinkFile): Promise<void> {
    const link = parseForwardLink(file.link);
    await this.writeImmutable(LOG_PATHS.link(link.fromIndex, link.level), encodeLogFile({ link, cosignature: file.cosignature }), `link ${link.fromIndex}.${link.level}`);
  }

  async putRoster(roster: Roster): Promise<string> {
    const r = parseRoster(roster);
    const hash = rosterHash(r);
    await this.writeImmutable(LOG_PATHS.roster(hash), encodeLogFile(r), `roster ${hash.slice(0, 12)}`);
    return hash;
  }

  async putHead(file: HeadFile): Promise<void> {
    const statement = parseHeadStatement(file.statement);
    const existing = await this.getHead(LOG_FILE_LIMITS.head.maxBytes);
    if (existing !== undefined) {
      const old = parseHeadFile(existing, `${LOG_PATHS.head} in ${this.publicDir}`).statement;
      if (statement.chain !== old.chain) throw new LogError('BAD_HEAD', `head statement for chain ${statement.chain.slice(0, 12)} would replace one for chain ${old.chain.slice(0, 12)}`);
      if (statement.index < old.index || parseUtcTime(statement.time)! < parseUtcTime(old.time)!) {
        throw new LogError('REPLAYED_HEAD', `head statement for block ${statement.index} at ${statement.time} is older than the published one (block ${old.index} at ${old.time})`);
      }
      if (statement.index === old.index && statement.hash !== old.hash) {
        throw new LogError('EQUIVOCATION', `head statement names ${statement.hash.slice(0, 12)} at index ${statement.index}, the published one ${old.hash.slice(0, 12)}`);
      }
    }
    await writeFileAtomic(join(this.publicDir, LOG_PATHS.head), encodeLogFile({ statement, cosignature: file.cosignature }));
  }

  private async writeImmutable(path: string, bytes: Buffer, what: string): Promise<void> {
    // Single writer (the log leader) per directory: the check and the write are not one step.
    const full = join(this.publicDir, path);
    const conflict = (): LogError => new LogError('IMMUTABLE_CONFLICT', `${what}: ${path} already exists with other content; published log files never change`);
    // A file larger than `bytes` is other content: it is never read whole.
    const existing = await readCappedFileIfExists(full, bytes.byteLength, { refuse: (refusal) => (refusal.code === 'TOO_LARGE' ? conflict() : refusal) });
    if (existing !== undefined) {
      if (existing.equals(bytes)) return;
      throw conflict();
    }
    await writeFileAtomic(full, bytes);
  }

  private async read(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
    // Over the cap is a format refusal, as for the same file fetched from a mirror.
    return readCappedFileIfExists(join(this.publicDir, path), maxBytes, { refuse: tooLargeIsFormatError });
  }
}
