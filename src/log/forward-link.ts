// log/forward-link.ts: forward links of the skipchain (docs/protocol.md section 5 "Forward link";
// CHAINIAC section 4.2). A link from block i at level h (h < height(i)) points to block
// i + base^h and is valid when a threshold of block i's roster co-signed it (context
// `cairn/v1/forward-link`). When the roster changes between i and the target, the link names the
// new roster's hash, so the old roster vouches for the new one: this is how a client crosses
// roster changes without reading every block (protocol.md 5, "Vouched rosters";
// verifyForwardLinkStep hands out that vouch).
import { parseJsonObject } from '../encoding/bounded-json.js';
import { blockHash, chainIdOf, height, levelSpan, type Block } from './block.js';
import {
  cosiMessage,
  parseCollectiveSignature,
  rosterHash,
  verifyCollectiveSignature,
  type CollectiveSignature,
  type DecodedRoster,
  type Roster,
  type RosterVouch,
  type VerifiedCollectiveSignature,
} from './cosi-adapter.js';
import { LogError } from './errors.js';
import { LOG_FILE_LIMITS, logReader } from './schema.js';

export const FORWARD_LINK_TYPE = 'cairn/v1/forward-link';
export const FORWARD_LINK_CONTEXT = 'cairn/v1/forward-link';

export interface ForwardLink {
  type: typeof FORWARD_LINK_TYPE;
  chain: string;
  /** Hash of the source block i. */
  from: string;
  /** Hash of the target block i + base^level. */
  to: string;
  fromIndex: number;
  toIndex: number;
  level: number;
  /** Roster hash of the target block when it differs from the source block's, else null. */
  newRoster: string | null;
}

/** A served link file (protocol.md section 7): the link and its collective signature. */
export interface LinkFile {
  link: ForwardLink;
  cosignature: CollectiveSignature;
}

/**
 * Where a verified walk along the chain stands: enough to verify the next forward link without
 * the block itself (the link binds the target's hash and, when it changes, its roster hash).
 */
export interface ChainPosition {
  chain: string;
  base: number;
  maxHeight: number;
  index: number;
  /** Hash of the block at `index`. */
  hash: string;
  /** Hash of the roster in force at `index`. */
  roster: string;
}

export function positionOf(block: Block): ChainPosition {
  return { chain: chainIdOf(block), base: block.base, maxHeight: block.maxHeight, index: block.index, hash: blockHash(block), roster: block.roster };
}

/** The link from `source` to `target`; throws BAD_FORWARD_LINK unless target is i + base^h, h < height(i). */
export function buildForwardLink(source: Block, target: Block): ForwardLink {
  const distance = target.index - source.index;
  let level = 0;
  while (level < source.height && levelSpan(source.base, level) < distance) level++;
  if (level >= source.height || levelSpan(source.base, level) !== distance) {
    throw new LogError('BAD_FORWARD_LINK', `no forward link joins block ${source.index} (height ${source.height}) to block ${target.index}`);
  }
  return {
    type: FORWARD_LINK_TYPE,
    chain: chainIdOf(source),
    from: blockHash(source),
    to: blockHash(target),
    fromIndex: source.index,
    toIndex: target.index,
    level,
    newRoster: target.roster === source.roster ? null : target.roster,
  };
}

/** The bytes the source roster co-signs: `cairn/v1/forward-link` || 0x00 || canonical(link). */
export function forwardLinkMessage(link: ForwardLink): Uint8Array {
  return cosiMessage(FORWARD_LINK_CONTEXT, link);
}

/** Parses an untrusted forward link (shape only; verifyForwardLink* check its meaning). */
export function parseForwardLink(value: unknown, what = 'forward link'): ForwardLink {
  const r = logReader('BAD_FORWARD_LINK', what);
  const o = r.exact(value, '', ['type', 'chain', 'from', 'to', 'fromIndex', 'toIndex', 'level', 'newRoster']);
  return {
    type: r.literal(o.type, 'type', FORWARD_LINK_TYPE),
    chain: r.hex(o.chain, 'chain'),
    from: r.hex(o.from, 'from'),
    to: r.hex(o.to, 'to'),
    fromIndex: r.integer(o.fromIndex, 'fromIndex'),
    toIndex: r.integer(o.toIndex, 'toIndex', 1),
    level: r.integer(o.level, 'level', 0, 63),
    newRoster: o.newRoster === null ? null : r.hex(o.newRoster, 'newRoster'),
  };
}

/** Parses the bytes of `log/links/INDEX.LEVEL.json` under LOG_FILE_LIMITS.link. */
export function parseLinkFile(bytes: Uint8Array | string, what = 'link file'): LinkFile {
  const r = logReader('BAD_FORWARD_LINK', what);
  const o = r.exact(parseJsonObject(bytes, what, LOG_FILE_LIMITS.link), '', ['link', 'cosignature']);
  return { link: parseForwardLink(o.link, `${what} link`), cosignature: parseCollectiveSignature(o.cosignature, `${what} cosignature`) };
}

/**
 * Verifies `link` as a forward link out of `from` (a verified position) co-signed by `roster`,
 * the roster in force at `from` (JSON, accepted in full, or already accepted or vouched for);
 * returns the position it leads to. Checks: chain, source hash and index, level <
 * height(fromIndex), toIndex = fromIndex + base^level, newRoster never names the roster already
 * in force, and a collective signature by `roster` at its threshold.
 * Throws LogError: BAD_FORWARD_LINK, UNKNOWN_ROSTER, THRESHOLD_NOT_MET.
 */
function verifyForwardLinkFrom(from: ChainPosition, roster: Roster | DecodedRoster, link: ForwardLink, cosignature: CollectiveSignature): ChainPosition {
  return checkForwardLink(from, roster, link, cosignature).position;
}

/** One verified step along the chain. */
export interface ForwardLinkStep {
  /** Where the link leads. */
  position: ChainPosition;
  /**
   * When the link changes the roster: the source roster's vouch for the roster hash it names
   * (protocol.md 5, "Vouched rosters"), for acceptVouchedRoster; else null.
   */
  vouch: RosterVouch | null;
}

/**
 * verifyForwardLinkFrom with a decoded roster, also handing out the vouch a roster-changing link
 * carries: the source roster co-signed, at its threshold, a link naming the new roster's hash.
 * This is the only place a RosterVouch is made. Throws as verifyForwardLinkFrom.
 */
export function verifyForwardLinkStep(from: ChainPosition, roster: DecodedRoster, link: ForwardLink, cosignature: CollectiveSignature): ForwardLinkStep {
  const { position, newRoster, verified } = checkForwardLink(from, roster, link, cosignature);
  return { position, vouch: newRoster === null ? null : { rosterHash: newRoster, voucher: roster, cosignature: verified } };
}

function checkForwardLink(
  from: ChainPosition,
  roster: Roster | DecodedRoster,
  link: ForwardLink,
  cosignature: CollectiveSignature,
): { position: ChainPosition; newRoster: string | null; verified: VerifiedCollectiveSignature } {
  const l = parseForwardLink(link);
  const what = `forward link ${l.fromIndex}->${l.toIndex} (level ${l.level})`;
  const bad = (why: string): LogError => new LogError('BAD_FORWARD_LINK', `${what}: ${why}`);
  if (l.chain !== from.chain) throw bad(`names chain ${l.chain.slice(0, 12)}, expected ${from.chain.slice(0, 12)}`);
  if (l.fromIndex !== from.index || l.from !== from.hash) {
    throw bad(`starts at block ${l.fromIndex} ${l.from.slice(0, 12)}, expected block ${from.index} ${from.hash.slice(0, 12)}`);
  }
  const sourceHeight = height(from.index, from.base, from.maxHeight);
  if (l.level >= sourceHeight) throw bad(`level ${l.level} is not below the height ${sourceHeight} of block ${from.index}`);
  const expectedTo = from.index + levelSpan(from.base, l.level);
  if (l.toIndex !== expectedTo) throw bad(`points to index ${l.toIndex}; level ${l.level} from ${from.index} reaches ${expectedTo}`);
  if (l.newRoster !== null && l.newRoster === from.roster) throw bad('newRoster names the roster already in force (it must be null)');
  const signer = rosterHash(roster);
  if (signer !== from.roster) {
    throw new LogError('UNKNOWN_ROSTER', `${what}: checked with roster ${signer.slice(0, 12)}, but roster ${from.roster.slice(0, 12)} is in force at block ${from.index}`);
  }
  const verified = requireCosignature(roster, forwardLinkMessage(l), cosignature, what);
  const position = { chain: from.chain, base: from.base, maxHeight: from.maxHeight, index: l.toIndex, hash: l.to, roster: l.newRoster ?? from.roster };
  return { position, newRoster: l.newRoster, verified };
}

/**
 * Verifies a forward link between two blocks in full (protocol.md section 5): every check of
 * verifyForwardLinkFrom with `sourceRoster` as the roster in force at `sourceBlock`, plus the
 * target: its hash is `to`, same chain and parameters, its back link at `level` points back to
 * the source, and newRoster equals the target's roster hash exactly when it differs from the
 * source's. Throws LogError.
 */
export function verifyForwardLink(
  link: ForwardLink,
  cosignature: CollectiveSignature,
  sourceBlock: Block,
  sourceRoster: Roster,
  targetBlock: Block,
): void {
  const reached = verifyForwardLinkFrom(positionOf(sourceBlock), sourceRoster, link, cosignature);
  const what = `forward link ${link.fromIndex}->${link.toIndex} (level ${link.level})`;
  const bad = (why: string): LogError => new LogError('BAD_FORWARD_LINK', `${what}: ${why}`);
  const target = positionOf(targetBlock);
  if (target.hash !== reached.hash) throw bad(`points to ${reached.hash.slice(0, 12)}, the target block is ${target.hash.slice(0, 12)}`);
  if (target.index !== reached.index) throw bad(`points to index ${reached.index}, the target block has index ${target.index}`);
  if (target.chain !== reached.chain || target.base !== reached.base || target.maxHeight !== reached.maxHeight) {
    throw bad('the target block belongs to another chain or has other parameters');
  }
  if (targetBlock.backLinks[link.level] !== link.from) throw bad(`the target's back link ${link.level} does not point to the source block`);
  if (target.roster !== reached.roster) {
    throw bad(`newRoster is ${String(link.newRoster).slice(0, 12)}, the target's roster is ${target.roster.slice(0, 12)} and the source's ${sourceBlock.roster.slice(0, 12)}`);
  }
}

/** Verifies a collective signature, naming the link in errors. THRESHOLD_NOT_MET passes through. */
function requireCosignature(roster: Roster | DecodedRoster, message: Uint8Array, cosignature: CollectiveSignature, what: string): VerifiedCollectiveSignature {
  try {
    return verifyCollectiveSignature(roster, message, cosignature);
  } catch (e) {
    if (e instanceof LogError && e.code === 'THRESHOLD_NOT_MET') throw new LogError('THRESHOLD_NOT_MET', `${what}: ${e.message}`, { cause: e });
    if (e instanceof LogError) throw new LogError('BAD_FORWARD_LINK', `${what}: ${e.message}`, { cause: e });
    throw e;
  }
}
