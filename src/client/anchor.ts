// client/anchor.ts: the client's log trust anchor on disk (docs/protocol.md section 9 "Clients
// and the log", "Anchor files": a client pins root.json plus a trusted log block hash). Beside
// the TUF files of the metadata directory, under log/:
//
//   log/anchor.json        { "type": "cairn/v1/client-anchor", "chain", "index", "hash" }: the
//                          trusted block (chain is null until a block given only by its hash at
//                          a later index has been fetched once)
//   log/blocks/HASH.json   the trusted block, canonical JSON, so its sha256 is HASH
//   log/rosters/HASH.json  rosters by hash (the one in force at the trusted block)
//   log/head.json          the last accepted head file, byte for byte as served (replay defence)
//
// anchor.json is the commit point: it is written last, after the block, its roster and the head
// it was accepted with, each through writeFileAtomic, so a crash leaves the old anchor or the new
// one, never an anchor without its block. Everything read back is capped and re-checked against
// the hashes that name it.
import { rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { UsageError, short } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists } from '../io/capped-file.js';
import {
  LOG_FILE_LIMITS,
  blockHash,
  chainIdOf,
  encodeLogFile,
  parseBlockBytes,
  parseHeadFile,
  parseRosterBytes,
  rosterHash,
  type Block,
  type HeadFile,
  type Roster,
} from '../log/index.js';
import { ClientError } from './errors.js';

export const ANCHOR_TYPE = 'cairn/v1/client-anchor';

/** Paths of the anchor files, relative to the metadata directory. */
export const ANCHOR_PATHS = {
  dir: 'log',
  anchor: 'log/anchor.json',
  block: (hash: string): string => `log/blocks/${checkHash(hash, 'block hash')}.json`,
  roster: (hash: string): string => `log/rosters/${checkHash(hash, 'roster hash')}.json`,
  head: 'log/head.json',
} as const;

/** The pinned trusted block. */
export interface LogAnchor {
  type: typeof ANCHOR_TYPE;
  /** Chain ID (genesis hash); null when only a later block's index and hash are known yet. */
  chain: string | null;
  index: number;
  hash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkHash(hash: string, what: string): string {
  if (!HEX64.test(hash)) throw new UsageError('BAD_ARGUMENT', `${what} must be 64 lowercase hex characters, found ${JSON.stringify(hash).slice(0, 80)}`);
  return hash;
}

/**
 * Parses an anchor given on a command line: `HASH` (the genesis block, whose hash is the chain
 * ID) or `INDEX:HASH` (a later checkpoint block).
 */
export function parseAnchorArgument(text: string): { index: number; hash: string } {
  const m = /^(?:(\d{1,15}):)?([0-9a-f]{64})$/.exec(text.trim().toLowerCase());
  if (!m) throw new UsageError('BAD_ARGUMENT', `a log anchor is HASH or INDEX:HASH (64 hex characters), found ${JSON.stringify(text).slice(0, 80)}`);
  return { index: m[1] === undefined ? 0 : Number(m[1]), hash: m[2]! };
}

/** Reads a local anchor file of at most `maxBytes`; undefined when it does not exist. */
async function readCapped(path: string, maxBytes: number, what: string): Promise<Buffer | undefined> {
  return readCappedFileIfExists(path, maxBytes, { what: `${what} (${path})`, refuse: (refusal) => new ClientError('BAD_ANCHOR', refusal.message, { cause: refusal }) });
}

/** Wraps a parse failure of a local anchor file into BAD_ANCHOR. */
function local<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new ClientError('BAD_ANCHOR', `${path} is damaged: ${(e as Error).message}`, {
      cause: e,
      hint: 'initialize the client again (cairn tuf --metadata-dir DIR init ROOT_FILE --log-anchor HASH)',
    });
  }
}

/** The anchor of `metadataDir`, or undefined when it has none (a plain TUF client). */
export async function readAnchor(metadataDir: string, maxBytes = 4096): Promise<LogAnchor | undefined> {
  const path = join(metadataDir, ANCHOR_PATHS.anchor);
  const bytes = await readCapped(path, maxBytes, 'log anchor');
  if (bytes === undefined) return undefined;
  return local(path, () => {
    const r = new FieldReader((message) => new Error(message));
    const o = r.exact(parseJsonObject(bytes, 'log anchor', { maxBytes, maxDepth: 2, maxEntries: 16 }), '', ['type', 'chain', 'index', 'hash']);
    const type = r.literal(o.type, 'type', ANCHOR_TYPE);
    const hash = r.hex(o.hash, 'hash');
    const chain = o.chain === null ? null : r.hex(o.chain, 'chain');
    const index = r.integer(o.index, 'index');
    if (index === 0 && chain !== null && chain !== hash) throw r.fail('a genesis anchor has chain = hash');
    return { type, chain, index, hash };
  });
}

/** True when `metadataDir` holds a log anchor. */
export async function hasLogAnchor(metadataDir: string): Promise<boolean> {
  try {
    await stat(join(metadataDir, ANCHOR_PATHS.anchor));
    return true;
  } catch {
    return false;
  }
}

/** Checks that `block` is the anchored block (hash, index, chain). */
export function checkAnchoredBlock(anchor: Pick<LogAnchor, 'chain' | 'index' | 'hash'>, block: Block, what: string): void {
  const hash = blockHash(block);
  if (hash !== anchor.hash) {
    throw new ClientError('BAD_ANCHOR', `${what} has hash ${short(hash)}, the pinned trusted block is ${short(anchor.hash)}`, {
      hint: 'check the anchor hash against the one the repository publishes out of band',
    });
  }
  if (block.index !== anchor.index) throw new ClientError('BAD_ANCHOR', `${what} is block ${block.index}, the anchor names block ${anchor.index}`);
  if (anchor.chain !== null && chainIdOf(block) !== anchor.chain) {
    throw new ClientError('BAD_ANCHOR', `${what} belongs to chain ${short(chainIdOf(block))}, the anchor names chain ${short(anchor.chain)}`);
  }
}

/** The trusted block stored beside the anchor, or undefined when it has not been fetched yet. */
export async function readTrustedBlock(metadataDir: string, anchor: LogAnchor): Promise<Block | undefined> {
  const path = join(metadataDir, ANCHOR_PATHS.block(anchor.hash));
  const bytes = await readCapped(path, LOG_FILE_LIMITS.block.maxBytes, 'trusted block');
  if (bytes === undefined) return undefined;
  const block = local(path, () => parseBlockBytes(bytes, 'trusted block'));
  checkAnchoredBlock(anchor, block, `the trusted block in ${path}`);
  return block;
}

/** A cached roster by hash, or undefined when not cached. */
export async function readCachedRoster(metadataDir: string, hash: string): Promise<Roster | undefined> {
  const path = join(metadataDir, ANCHOR_PATHS.roster(hash));
  const bytes = await readCapped(path, LOG_FILE_LIMITS.roster.maxBytes, 'cached roster');
  if (bytes === undefined) return undefined;
  const roster = local(path, () => parseRosterBytes(bytes, 'cached roster'));
  if (rosterHash(roster) !== hash) throw new ClientError('BAD_ANCHOR', `${path} holds roster ${short(rosterHash(roster))}, not ${short(hash)}`);
  return roster;
}

/** The last head file this client accepted, or undefined before the first witnessed refresh. */
export async function readLastHead(metadataDir: string): Promise<HeadFile | undefined> {
  const path = join(metadataDir, ANCHOR_PATHS.head);
  const bytes = await readCapped(path, LOG_FILE_LIMITS.head.maxBytes, 'last accepted head');
  if (bytes === undefined) return undefined;
  return local(path, () => parseHeadFile(bytes, 'last accepted head'));
}

export interface AnchorInit {
  /** Hash of the trusted block. */
  hash: string;
  /** Its index (default 0: the genesis block, whose hash is the chain ID). */
  index?: number;
  /** The block's bytes, checked against `hash` now (offline); without them the first refresh fetches and checks it. */
  block?: Uint8Array;
}

/**
 * Checks an anchor offline without writing anything: the hash, and with the block's bytes, that
 * they parse as a block with that hash (and index, when given). Returns the anchor and the block.
 */
export function prepareLogAnchor(init: AnchorInit): { anchor: LogAnchor; block: Block | undefined } {
  const hash = checkHash(init.hash.toLowerCase(), 'log anchor');
  let anchor: LogAnchor = { type: ANCHOR_TYPE, chain: (init.index ?? 0) === 0 ? hash : null, index: init.index ?? 0, hash };
  if (init.block === undefined) return { anchor, block: undefined };
  const block = local('the given log block', () => parseBlockBytes(init.block!, 'log block'));
  if (init.index === undefined) anchor = { ...anchor, index: block.index, chain: block.index === 0 ? hash : null };
  checkAnchoredBlock(anchor, block, 'the given log block');
  return { anchor: { ...anchor, chain: chainIdOf(block) }, block };
}

/**
 * Pins a trusted block in `metadataDir` (no network). With the block's bytes, checks its hash
 * and index offline and stores it (and the roster it carries). Replaces any earlier anchor and
 * forgets the last accepted head of the earlier one.
 */
export async function initLogAnchor(metadataDir: string, init: AnchorInit): Promise<LogAnchor> {
  const { anchor, block } = prepareLogAnchor(init);
  if (block !== undefined) {
    await writeFileAtomic(join(metadataDir, ANCHOR_PATHS.block(anchor.hash)), encodeLogFile(block));
    if (block.rosterChange !== null) {
      await writeFileAtomic(join(metadataDir, ANCHOR_PATHS.roster(block.roster)), encodeLogFile(block.rosterChange.roster));
    }
  }
  await rm(join(metadataDir, ANCHOR_PATHS.head), { force: true });
  await writeFileAtomic(join(metadataDir, ANCHOR_PATHS.anchor), canonicalBytes(anchor));
  return anchor;
}

export interface AnchorAdvance {
  /** The anchor in force before (its block file is removed once the new one is committed). */
  previous: LogAnchor;
  /** The new trusted block (verified) and the roster in force at it. */
  block: Block;
  roster: Roster;
  /** The head file accepted, byte for byte as served. */
  headBytes: Uint8Array;
}

/**
 * Advances the anchor to a verified block: block, roster and last head first, anchor.json last
 * (the commit point). Returns the new anchor.
 */
export async function commitAnchor(metadataDir: string, advance: AnchorAdvance): Promise<LogAnchor> {
  const hash = blockHash(advance.block);
  const anchor: LogAnchor = { type: ANCHOR_TYPE, chain: chainIdOf(advance.block), index: advance.block.index, hash };
  await writeIfAbsent(join(metadataDir, ANCHOR_PATHS.block(hash)), encodeLogFile(advance.block));
  await writeIfAbsent(join(metadataDir, ANCHOR_PATHS.roster(advance.block.roster)), encodeLogFile(advance.roster));
  await writeFileAtomic(join(metadataDir, ANCHOR_PATHS.head), advance.headBytes);
  await writeFileAtomic(join(metadataDir, ANCHOR_PATHS.anchor), canonicalBytes(anchor));
  if (advance.previous.hash !== hash) {
    // The old block is no longer trusted state; a leftover file is harmless (content-addressed).
    await unlink(join(metadataDir, ANCHOR_PATHS.block(advance.previous.hash))).catch(() => undefined);
  }
  return anchor;
}

/** Writes a content-addressed file unless it already holds exactly these bytes (saves two fsyncs per refresh). */
async function writeIfAbsent(path: string, bytes: Uint8Array): Promise<void> {
  // Anything larger than `bytes` (or unreadable) is not them: it is replaced.
  const existing = await readCappedFileIfExists(path, bytes.byteLength).catch(() => undefined);
  if (existing !== undefined && existing.equals(bytes)) return;
  await writeFileAtomic(path, bytes);
}
