// log/block.ts: blocks of the skipchain release log (docs/protocol.md section 5 "Block";
// docs/design.md "Skipchain release log"; CHAINIAC, Nikitin et al., USENIX Security 2017, section 4).
// A block records one repository state. Its height is deterministic, height(i) = 1 +
// height(i / base) when base divides i, else 1, capped at maxHeight (genesis: maxHeight), and
// backLinks[h] is the hash of block i - base^h. The roster in force changes only in a block that
// carries the new roster and the root role's authorization.
import { canonicalBytes } from '../encoding/canonical-json.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { sha256Hex } from '../crypto/hash.js';
import { parseRoster, rosterHash, type Roster } from './cosi-adapter.js';
import { LogError } from './errors.js';
import { genesisAuthorizationChain, parseAuthorization, verifyRosterAuthorization, type RootRole, type TufSignature } from './roster-authorization.js';
import type { FieldReader } from '../encoding/field-reader.js';
import { LOG_FILE_LIMITS, logReader, parseUtcTime, readUtcTime } from './schema.js';

export const BLOCK_TYPE = 'cairn/v1/block';

/** The shape of the skipchain, fixed in genesis and repeated in every block. */
export interface SkipchainParams {
  /** Distance multiplier between levels (>= 2). */
  base: number;
  /** Highest height of any block, the genesis block's height (>= 1). */
  maxHeight: number;
}

/**
 * Defaults for new chains. Base 2 rather than 4: a catch-up over d blocks needs at most about
 * 2·log2(d) links with base 2, against up to 6·log4(d) = 3·log2(d) with base 4, so fewer links,
 * fewer rosters and fewer bytes (bench/catch-up.ts measures both), for 2 forward links per block
 * on average instead of 1.33. maxHeight 32 lets one link span 2^31 blocks: no chain of a
 * repository gets near the cap, so catch-up stays logarithmic.
 */
export const DEFAULT_SKIPCHAIN_PARAMS: SkipchainParams = { base: 2, maxHeight: 32 };

/** Hashes of the exact bytes of one TUF document and its version. */
export interface VersionedHash {
  version: number;
  sha256: string;
}

/** The repository state a block records (protocol.md section 5). */
export interface BlockPayload {
  time: string;
  root: VersionedHash;
  targets: VersionedHash;
  snapshot: VersionedHash;
  /** Digest of the build attestations of new artifacts, or null. */
  attestations: string | null;
}

/** A new roster and the root role's authorization of it. */
export interface RosterChange {
  roster: Roster;
  authorization: TufSignature[];
}

export interface Block {
  type: typeof BLOCK_TYPE;
  /** Chain ID: the genesis block's hash; the empty string in the genesis block itself. */
  chain: string;
  index: number;
  height: number;
  base: number;
  maxHeight: number;
  backLinks: string[];
  /** Hash of the roster in force from this block on. */
  roster: string;
  rosterChange: RosterChange | null;
  payload: BlockPayload;
}

/** `hex(H(canonical(block)))`. */
export function blockHash(block: Block): string {
  return sha256Hex(canonicalBytes(block));
}

/** The chain a block belongs to: its own hash for genesis, else its `chain` field. */
export function chainIdOf(block: Block): string {
  return block.index === 0 ? blockHash(block) : block.chain;
}

/** Largest base accepted, and the rule that base^(maxHeight-1) stays an exact integer. */
const MAX_BASE = 1 << 16;
const MAX_HEIGHT = 64;

/** Throws unless base and maxHeight are integers with base >= 2, maxHeight >= 1 and every span exact. */
function checkSkipchainParams(base: number, maxHeight: number, reader: FieldReader<LogError> = logReader('BAD_BLOCK', 'skipchain parameters')): void {
  reader.integer(base, 'base', 2, MAX_BASE);
  reader.integer(maxHeight, 'maxHeight', 1, MAX_HEIGHT);
  if (base ** (maxHeight - 1) > Number.MAX_SAFE_INTEGER / 2) {
    throw reader.fail(`base^(maxHeight-1) = ${base}^${maxHeight - 1} exceeds the exact integer range`);
  }
}

/** base^level: the distance a forward link of that level spans. */
export function levelSpan(base: number, level: number): number {
  let span = 1;
  for (let h = 0; h < level; h++) span *= base;
  return span;
}

/** height(i): maxHeight for genesis, else 1 + height(i / base) when base divides i, else 1, capped. */
export function height(index: number, base: number, maxHeight: number): number {
  if (index === 0) return maxHeight;
  let h = 1;
  let i = index;
  while (h < maxHeight && i % base === 0) {
    i /= base;
    h++;
  }
  return h;
}

/** Indices the back links of block `index` point to: index - base^h for h < height(index). */
export function backLinkIndices(index: number, base: number, maxHeight: number): number[] {
  if (index === 0) return [];
  const out: number[] = [];
  const h = height(index, base, maxHeight);
  for (let level = 0, span = 1; level < h; level++, span *= base) out.push(index - span);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Strict parsing of untrusted blocks.

/**
 * Parses an untrusted block into a typed Block: exact fields, the height formula, the number of
 * back links, a valid roster (keys, proofs of possession) whose hash is `roster` when the block
 * changes it, and the genesis rules. Does not check the block against its predecessors
 * (validateBlock does) nor the roster authorization (it needs the root role).
 */
export function parseBlock(value: unknown, what = 'block'): Block {
  const r = logReader('BAD_BLOCK', what);
  const o = r.exact(value, '', ['type', 'chain', 'index', 'height', 'base', 'maxHeight', 'backLinks', 'roster', 'rosterChange', 'payload']);
  const type = r.literal(o.type, 'type', BLOCK_TYPE);
  const index = r.integer(o.index, 'index');
  const base = r.integer(o.base, 'base');
  const maxHeight = r.integer(o.maxHeight, 'maxHeight');
  checkSkipchainParams(base, maxHeight, r);
  const chain = index === 0 ? r.literal(o.chain, 'chain (genesis)', '') : r.hex(o.chain, 'chain');
  const links = logReader('BAD_BACK_LINK', what);
  const h = links.integer(o.height, 'height', 1, maxHeight);
  const expected = height(index, base, maxHeight);
  if (h !== expected) throw links.fail(`height is ${h}, the height of index ${index} with base ${base} is ${expected}`);
  const rawLinks = links.array(o.backLinks, 'backLinks', maxHeight);
  const count = index === 0 ? 0 : h;
  if (rawLinks.length !== count) throw links.fail(`has ${rawLinks.length} back links, a block of height ${h} at index ${index} has ${count}`);
  const backLinks = rawLinks.map((l, i) => links.hex(l, `backLinks[${i}]`));
  const roster = r.hex(o.roster, 'roster');
  let rosterChange: RosterChange | null = null;
  if (o.rosterChange !== null) {
    const rc = r.exact(o.rosterChange, 'rosterChange', ['roster', 'authorization']);
    const newRoster = parseRoster(rc.roster, `${what} rosterChange.roster`);
    if (rosterHash(newRoster) !== roster) {
      throw r.fail(`rosterChange carries roster ${rosterHash(newRoster).slice(0, 12)}, the block names ${roster.slice(0, 12)}`);
    }
    rosterChange = { roster: newRoster, authorization: parseAuthorization(rc.authorization, r) };
  } else if (index === 0) {
    throw r.fail('the genesis block must carry its roster and authorization (rosterChange)');
  }
  return { type, chain, index, height: h, base, maxHeight, backLinks, roster, rosterChange, payload: parsePayload(o.payload, r) };
}

function parsePayload(value: unknown, r: FieldReader<LogError>): BlockPayload {
  const o = r.exact(value, 'payload', ['time', 'root', 'targets', 'snapshot', 'attestations']);
  const doc = (v: unknown, name: string): VersionedHash => {
    const d = r.exact(v, `payload.${name}`, ['version', 'sha256']);
    return { version: r.integer(d.version, `payload.${name}.version`, 1), sha256: r.hex(d.sha256, `payload.${name}.sha256`) };
  };
  return {
    time: readUtcTime(r, o.time, 'payload.time'),
    root: doc(o.root, 'root'),
    targets: doc(o.targets, 'targets'),
    snapshot: doc(o.snapshot, 'snapshot'),
    attestations: o.attestations === null ? null : r.hex(o.attestations, 'payload.attestations'),
  };
}

/** Parses the bytes of a block file under the caps of LOG_FILE_LIMITS.block. */
export function parseBlockBytes(bytes: Uint8Array | string, what = 'block'): Block {
  return parseBlock(parseJsonObject(bytes, what, LOG_FILE_LIMITS.block), what);
}

// ---------------------------------------------------------------------------------------------
// Building and validating blocks.

/** What a new block needs to know about the chain it extends. */
export interface ChainView {
  /** Chain ID (hash of the genesis block). */
  readonly chain: string;
  readonly base: number;
  readonly maxHeight: number;
  /** The latest block, which the new block follows. */
  readonly head: Block;
  /** Hash of the block at `index` (at most head.index), or undefined when not known. */
  hashAt(index: number): string | undefined;
}

/** Builds the genesis block of a new chain (not yet validated: see validateGenesis). */
export function buildGenesis(params: SkipchainParams, payload: BlockPayload, rosterChange: RosterChange): Block {
  checkSkipchainParams(params.base, params.maxHeight);
  return {
    type: BLOCK_TYPE,
    chain: '',
    index: 0,
    height: params.maxHeight,
    base: params.base,
    maxHeight: params.maxHeight,
    backLinks: [],
    roster: rosterHash(rosterChange.roster),
    rosterChange,
    payload,
  };
}

/** Builds the block after `view.head`, changing the roster when `rosterChange` is given. */
export function buildBlock(view: ChainView, payload: BlockPayload, rosterChange?: RosterChange | null): Block {
  const index = view.head.index + 1;
  const backLinks = backLinkIndices(index, view.base, view.maxHeight).map((i) => {
    const hash = view.hashAt(i);
    if (hash === undefined) throw new LogError('BAD_BACK_LINK', `cannot build block ${index}: the hash of block ${i} is not known`);
    return hash;
  });
  return {
    type: BLOCK_TYPE,
    chain: view.chain,
    index,
    height: height(index, view.base, view.maxHeight),
    base: view.base,
    maxHeight: view.maxHeight,
    backLinks,
    roster: rosterChange ? rosterHash(rosterChange.roster) : view.head.roster,
    rosterChange: rosterChange ?? null,
    payload,
  };
}

/** Validates a genesis block: its shape, and its roster authorized by the initial root role. */
export function validateGenesis(block: Block, root: RootRole): Block {
  const parsed = parseBlock(block, 'genesis block');
  if (parsed.index !== 0) throw new LogError('BAD_BLOCK', `a genesis block has index 0, found ${parsed.index}`);
  const change = parsed.rosterChange!;
  verifyRosterAuthorization(change.authorization, { chain: genesisAuthorizationChain(parsed.payload.root.sha256), index: 0, roster: parsed.roster }, root);
  return parsed;
}

export interface ValidateBlockOptions {
  /** The root role in force at this block; required when the block changes the roster. */
  root?: RootRole;
}

/**
 * Validates `block` as the successor of `view.head`: its shape (parseBlock), chain ID, index,
 * parameters equal to genesis, height and every back link against the known earlier blocks,
 * time not before its predecessor's, and roster continuity: the roster stays the same unless the
 * block carries a roster change authorized by the root role in force. Returns the block as
 * parsed; throws LogError.
 */
export function validateBlock(block: Block, view: ChainView, options: ValidateBlockOptions = {}): Block {
  const b = parseBlock(block, `block ${block.index}`);
  const prev = view.head;
  if (b.index === 0) throw new LogError('BAD_BLOCK', 'a genesis block cannot follow another block');
  if (b.chain !== view.chain) throw new LogError('BAD_BLOCK', `block ${b.index} names chain ${b.chain.slice(0, 12)}, expected ${view.chain.slice(0, 12)}`);
  if (b.index !== prev.index + 1) throw new LogError('BAD_BLOCK', `block has index ${b.index}, the next index after ${prev.index} is ${prev.index + 1}`);
  if (b.base !== view.base || b.maxHeight !== view.maxHeight) {
    throw new LogError('BAD_BLOCK', `block ${b.index} has base ${b.base} and maxHeight ${b.maxHeight}, genesis fixed ${view.base} and ${view.maxHeight}`);
  }
  backLinkIndices(b.index, b.base, b.maxHeight).forEach((target, level) => {
    const known = view.hashAt(target);
    if (known === undefined) throw new LogError('BAD_BACK_LINK', `block ${b.index}: back link ${level} points to block ${target}, which is not known`);
    if (b.backLinks[level] !== known) {
      throw new LogError('BAD_BACK_LINK', `block ${b.index}: back link ${level} is ${b.backLinks[level]!.slice(0, 12)}, block ${target} is ${known.slice(0, 12)}`);
    }
  });
  if (parseUtcTime(b.payload.time)! < parseUtcTime(prev.payload.time)!) {
    throw new LogError('BAD_BLOCK', `block ${b.index} has time ${b.payload.time}, before its predecessor's ${prev.payload.time}`);
  }
  if (b.rosterChange === null) {
    if (b.roster !== prev.roster) {
      throw new LogError('ROSTER_NOT_AUTHORIZED', `block ${b.index} changes the roster to ${b.roster.slice(0, 12)} without a rosterChange`);
    }
  } else {
    if (b.roster === prev.roster) throw new LogError('BAD_BLOCK', `block ${b.index} carries a rosterChange to the roster already in force`);
    if (options.root === undefined) {
      throw new LogError('ROSTER_NOT_AUTHORIZED', `block ${b.index} changes the roster and no root role was given to check the authorization`);
    }
    verifyRosterAuthorization(b.rosterChange.authorization, { chain: b.chain, index: b.index, roster: b.roster }, options.root);
  }
  return b;
}

/**
 * A chain held in memory (tests, benchmarks, a witness's working view): blocks are appended
 * only after validateBlock, and their hashes are kept for back links.
 */
export class MemoryChain implements ChainView {
  readonly chain: string;
  readonly base: number;
  readonly maxHeight: number;
  private readonly blocks: Block[] = [];
  private readonly hashes: string[] = [];

  constructor(genesis: Block, root: RootRole) {
    const g = validateGenesis(genesis, root);
    this.chain = blockHash(g);
    this.base = g.base;
    this.maxHeight = g.maxHeight;
    this.blocks.push(g);
    this.hashes.push(this.chain);
  }

  get head(): Block {
    return this.blocks[this.blocks.length - 1]!;
  }

  get length(): number {
    return this.blocks.length;
  }

  hashAt(index: number): string | undefined {
    return this.hashes[index];
  }

  blockAt(index: number): Block | undefined {
    return this.blocks[index];
  }

  /** Validates `block` against the head and appends it; returns its hash. */
  append(block: Block, options: ValidateBlockOptions = {}): string {
    const b = validateBlock(block, this, options);
    const hash = blockHash(b);
    this.blocks.push(b);
    this.hashes.push(hash);
    return hash;
  }
}
