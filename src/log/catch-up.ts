// log/catch-up.ts: bringing an out-of-date client to the head of the log in O(log n) links
// (docs/protocol.md section 5 "Catch-up"; CHAINIAC section 4.2, "skipchains let clients traverse
// long distances with few links"). From a trusted block, follow the highest-level forward link
// whose target does not pass the head, verifying each with the roster in force at its source
// block; rosters met on the way are fetched by hash (they are content-addressed) only when a link
// says the roster changed. The roster of the trusted block is accepted with every check; a roster
// met on the way is accepted as vouched for by the link that names it (protocol.md 5, "Vouched
// rosters": no subgroup or proof-of-possession checks, which the vouching roster's witnesses made).
// Intermediate blocks are not needed: each co-signed link binds its target's hash and roster. The
// head block is fetched and checked against the last link and the head statement.
import { height, levelSpan, parseBlockBytes, type Block } from './block.js';
import {
  acceptRoster,
  acceptVouchedRoster,
  rosterHash,
  verifyCollectiveSignature,
  type CollectiveSignature,
  type DecodedRoster,
  type Roster,
  type RosterVouch,
} from './cosi-adapter.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { LogError } from './errors.js';
import { parseLinkFile, positionOf, verifyForwardLinkStep, type ChainPosition, type ForwardLink } from './forward-link.js';
import { headMessage, parseHeadFile, verifyHeadStatement, type HeadFile, type HeadFreshnessPolicy } from './head.js';
import { LOG_FILE_LIMITS } from './schema.js';
import type { LogSource } from './static-layout.js';

/** One step of a catch-up plan: the forward link from `fromIndex` at `level`. */
export interface PlannedHop {
  fromIndex: number;
  toIndex: number;
  level: number;
}

/** Whether the link from `fromIndex` at `level` can be had (e.g. is published). */
export type LinkAvailability = (fromIndex: number, level: number) => boolean;

/**
 * The hops from `fromIndex` to `toIndex`: at each block, the highest level h < height(block)
 * with block + base^h <= toIndex whose link is available, falling back to lower levels.
 * Throws NOT_REACHABLE when toIndex is behind fromIndex or a level-0 link is unavailable.
 * With base 2 the plan has at most 2·log2(d) hops for a distance d >= 2 below 2^(maxHeight-1).
 */
export function planCatchUp(fromIndex: number, toIndex: number, base: number, maxHeight: number, isAvailable?: LinkAvailability): PlannedHop[] {
  if (toIndex < fromIndex) throw new LogError('NOT_REACHABLE', `block ${toIndex} is behind block ${fromIndex}; forward links only go forward`);
  const hops: PlannedHop[] = [];
  let at = fromIndex;
  while (at < toIndex) {
    const level = chooseLevel(at, toIndex, base, maxHeight, isAvailable);
    const next = at + levelSpan(base, level);
    hops.push({ fromIndex: at, toIndex: next, level });
    at = next;
  }
  return hops;
}

/** Highest level usable from `at` towards `target` (not passing it), given availability. */
function chooseLevel(at: number, target: number, base: number, maxHeight: number, isAvailable?: LinkAvailability): number {
  let level = topLevel(at, target, base, maxHeight);
  while (level >= 0) {
    if (isAvailable === undefined || isAvailable(at, level)) return level;
    level--;
  }
  throw new LogError('NOT_REACHABLE', `no forward link out of block ${at} is available, not even level 0`);
}

function topLevel(at: number, target: number, base: number, maxHeight: number): number {
  const h = height(at, base, maxHeight);
  let level = 0;
  while (level + 1 < h && at + levelSpan(base, level + 1) <= target) level++;
  return level;
}

/**
 * The client's starting point: a block it trusts and the roster in force at it. That roster is
 * accepted with every check (protocol.md 4): nothing vouches for it.
 */
export interface TrustedState {
  block: Block;
  roster: Roster;
}

/**
 * One verified step. `roster` is the target's roster, needed exactly when the link names a new
 * one (accepted as vouched for by the link); `block` is the target block, needed for the last hop
 * and checked when given for others.
 */
export interface CatchUpHop {
  link: ForwardLink;
  cosignature: CollectiveSignature;
  roster?: Roster;
  block?: Block;
}

export interface CatchUpPathResult {
  /** The verified block at the end of the path (the trusted block for an empty path). */
  head: Block;
  /** The roster in force at `head`. */
  roster: Roster;
}

/** Caps of a catch-up: every walk over untrusted data is bounded. */
export interface CatchUpLimits {
  /** Most forward links followed: a plan needing more is refused before anything is fetched. */
  maxHops: number;
}

/** 1,024 hops: a base-2 chain needs at most about 2·log2(d) (60 for a billion blocks). */
export const DEFAULT_CATCH_UP_LIMITS: CatchUpLimits = { maxHops: 1024 };

/** Walks forward links one at a time from a trusted state, verifying each (the shared core). */
class PathWalker {
  position: ChainPosition;
  /** The roster in force at `position`: the trusted one (checked in full) or a vouched one. */
  roster: DecodedRoster;
  hops = 0;
  private lastBlock: Block;
  private lastLevel = -1;
  private lastFrom = '';
  /** The last link's vouch for the roster it names, until that roster is installed. */
  private vouch: RosterVouch | null = null;

  constructor(trusted: TrustedState, private readonly limits: CatchUpLimits) {
    const hash = rosterHash(trusted.roster);
    if (hash !== trusted.block.roster) {
      throw new LogError('UNKNOWN_ROSTER', `the trusted roster is ${hash.slice(0, 12)}, the trusted block ${trusted.block.index} has roster ${trusted.block.roster.slice(0, 12)}`);
    }
    this.position = positionOf(trusted.block);
    // The anchor: nothing vouches for it, so every check of protocol.md 4 is made.
    this.roster = acceptRoster(trusted.roster, `the trusted roster ${hash.slice(0, 12)} of block ${trusted.block.index}`);
    this.lastBlock = trusted.block;
  }

  /** Verifies `link` from the current position; returns the roster hash it needs, if new. */
  link(link: ForwardLink, cosignature: CollectiveSignature): string | null {
    if (++this.hops > this.limits.maxHops) {
      throw new LogError('CATCH_UP_TOO_LONG', `catch-up needs more than ${this.limits.maxHops} forward links`);
    }
    const step = verifyForwardLinkStep(this.position, this.roster, link, cosignature);
    this.position = step.position;
    this.vouch = step.vouch;
    this.lastLevel = link.level;
    this.lastFrom = link.from;
    return step.vouch === null ? null : step.vouch.rosterHash;
  }

  /**
   * Installs the roster named by the last link, accepted as vouched for by that link: its hash
   * must be the one the link names (content-addressed); its keys are decoded but not
   * subgroup-checked, its proofs of possession not verified (protocol.md 5, "Vouched rosters").
   */
  newRoster(roster: unknown): void {
    const expected = this.position.roster;
    if (roster === undefined) throw new LogError('UNKNOWN_ROSTER', `roster ${expected.slice(0, 12)} in force from block ${this.position.index} is not available`);
    if (this.vouch === null || this.vouch.rosterHash !== expected) {
      throw new LogError('UNKNOWN_ROSTER', `no verified forward link vouches for roster ${expected.slice(0, 12)}`);
    }
    this.roster = acceptVouchedRoster(roster, this.vouch, `a roster file for ${expected.slice(0, 12)}`);
    this.vouch = null;
  }

  /** Checks the block reached by the last link against it. */
  block(block: Block): void {
    const at = positionOf(block);
    const p = this.position;
    if (at.hash !== p.hash || at.index !== p.index) {
      throw new LogError('BAD_FORWARD_LINK', `the link to block ${p.index} names ${p.hash.slice(0, 12)}, the block served is ${at.index} ${at.hash.slice(0, 12)}`);
    }
    if (at.chain !== p.chain || at.base !== p.base || at.maxHeight !== p.maxHeight) {
      throw new LogError('BAD_BLOCK', `block ${at.index} belongs to another chain or has other parameters`);
    }
    if (at.roster !== p.roster) throw new LogError('BAD_FORWARD_LINK', `block ${at.index} has roster ${at.roster.slice(0, 12)}, the link into it implies ${p.roster.slice(0, 12)}`);
    if (this.lastLevel >= 0 && block.backLinks[this.lastLevel] !== this.lastFrom) {
      throw new LogError('BAD_BACK_LINK', `block ${at.index}: back link ${this.lastLevel} does not point to the source of the link into it`);
    }
    this.lastBlock = block;
  }

  result(): CatchUpPathResult {
    if (positionOf(this.lastBlock).hash !== this.position.hash) {
      throw new LogError('NOT_REACHABLE', `the path ends at block ${this.position.index} but that block was not given`);
    }
    return { head: this.lastBlock, roster: this.roster.roster };
  }
}

/**
 * Verifies a catch-up path hop by hop from `trusted` (protocol.md section 5): each forward link
 * with the roster in force at its source, each new roster against the hash the link names, each
 * block given against its link. The last hop must carry its block. Returns the verified head
 * block and its roster. Throws LogError.
 */
export function verifyCatchUpPath(trusted: TrustedState, hops: readonly CatchUpHop[], limits: CatchUpLimits = DEFAULT_CATCH_UP_LIMITS): CatchUpPathResult {
  const walker = new PathWalker(trusted, limits);
  for (const hop of hops) {
    if (walker.link(hop.link, hop.cosignature) !== null) walker.newRoster(hop.roster);
    if (hop.block !== undefined) walker.block(hop.block);
  }
  return walker.result();
}

/** What a catch-up read, for the caller's accounting. */
export interface CatchUpStats {
  links: number;
  rosters: number;
  blocks: number;
  /** Links that were not available at the planned level (a lower one was used). */
  missingLinks: number;
  /** Every byte read from the source, including the head file. */
  bytes: number;
}

export interface CatchUpResult extends CatchUpPathResult {
  headFile: HeadFile;
  stats: CatchUpStats;
}

export interface CatchUpOptions {
  freshness: HeadFreshnessPolicy;
  limits?: CatchUpLimits;
  /**
   * The caller keeps the head block as its new trusted block (a client advancing its anchor,
   * protocol.md section 9): the roster in force there is then checked in full even when a link
   * only vouched for it, so that an anchor's roster is always one checked in full.
   */
  anchorAtHead?: boolean;
}

/**
 * Brings `trusted` to the head the source announces: reads log/head.json, refuses a head behind
 * the trusted block, plans the hops (CATCH_UP_TOO_LONG before any fetch if the plan exceeds the
 * cap), fetches and verifies each link (falling back to lower levels when one is missing), each
 * new roster and the head block, then verifies the head statement against that block, its roster
 * and the freshness policy. Every file read is capped (LOG_FILE_LIMITS).
 */
export async function catchUp(source: LogSource, trusted: TrustedState, options: CatchUpOptions): Promise<CatchUpResult> {
  const limits = options.limits ?? DEFAULT_CATCH_UP_LIMITS;
  const stats: CatchUpStats = { links: 0, rosters: 0, blocks: 0, missingLinks: 0, bytes: 0 };
  const headBytes = await source.getHead(LOG_FILE_LIMITS.head.maxBytes);
  if (headBytes === undefined) throw new LogError('NOT_REACHABLE', 'the source serves no head statement (log/head.json)');
  stats.bytes += headBytes.byteLength;
  const headFile = parseHeadFile(headBytes);
  const { statement } = headFile;

  const walker = new PathWalker(trusted, limits);
  const start = walker.position;
  if (statement.chain !== start.chain) {
    throw new LogError('NOT_REACHABLE', `the head statement is for chain ${statement.chain.slice(0, 12)}, the trusted block is on chain ${start.chain.slice(0, 12)}`);
  }
  if (statement.index < start.index) {
    throw new LogError('REPLAYED_HEAD', `the head statement names block ${statement.index}, behind the trusted block ${start.index}`, {
      hint: 'a mirror is replaying old log state; try another mirror',
    });
  }
  const plan = planCatchUp(start.index, statement.index, start.base, start.maxHeight);
  if (plan.length > limits.maxHops) {
    throw new LogError('CATCH_UP_TOO_LONG', `catching up from block ${start.index} to ${statement.index} needs ${plan.length} forward links, the cap is ${limits.maxHops}`);
  }

  while (walker.position.index < statement.index) {
    const at = walker.position.index;
    let level = topLevel(at, statement.index, start.base, start.maxHeight);
    let bytes: Uint8Array | undefined;
    for (; level >= 0; level--) {
      bytes = await source.getLink(at, level, LOG_FILE_LIMITS.link.maxBytes);
      if (bytes !== undefined) break;
      stats.missingLinks++;
    }
    if (bytes === undefined) throw new LogError('NOT_REACHABLE', `no forward link out of block ${at} is published, not even level 0`);
    stats.bytes += bytes.byteLength;
    stats.links++;
    const file = parseLinkFile(bytes, `link ${at}.${level}`);
    if (file.link.fromIndex !== at || file.link.level !== level) {
      throw new LogError('BAD_FORWARD_LINK', `the file for link ${at}.${level} holds link ${file.link.fromIndex}.${file.link.level}`);
    }
    const newRoster = walker.link(file.link, file.cosignature);
    if (newRoster !== null) {
      const rosterBytes = await source.getRoster(newRoster, LOG_FILE_LIMITS.roster.maxBytes);
      if (rosterBytes !== undefined) {
        stats.bytes += rosterBytes.byteLength;
        stats.rosters++;
      }
      walker.newRoster(rosterBytes === undefined ? undefined : parseJsonObject(rosterBytes, `roster ${newRoster.slice(0, 12)}`, LOG_FILE_LIMITS.roster));
    }
  }

  const reached = walker.position;
  if (reached.hash !== statement.hash) {
    // Both claims name block `index`: if the head statement is also validly co-signed, the
    // witnesses signed two blocks at one index.
    let cosigned = false;
    try {
      verifyCollectiveSignature(walker.roster, headMessage(statement), headFile.cosignature);
      cosigned = true;
    } catch {
      cosigned = false;
    }
    if (cosigned) {
      throw new LogError('EQUIVOCATION', `block ${reached.index} is ${reached.hash.slice(0, 12)} by its forward links and ${statement.hash.slice(0, 12)} by the co-signed head statement`, {
        hint: 'keep log/head.json and the forward links: together they are a proof of misbehaviour anyone can check (docs/protocol.md section 5 "Equivocation proof")',
      });
    }
    throw new LogError('BAD_HEAD', `the head statement names ${statement.hash.slice(0, 12)} at block ${reached.index}, the forward links lead to ${reached.hash.slice(0, 12)}`);
  }
  let head = trusted.block;
  if (reached.index !== start.index) {
    const blockBytes = await source.getBlock(reached.index, LOG_FILE_LIMITS.block.maxBytes);
    if (blockBytes === undefined) throw new LogError('NOT_REACHABLE', `head block ${reached.index} is not published`);
    stats.bytes += blockBytes.byteLength;
    stats.blocks++;
    head = parseBlockBytes(blockBytes, `block ${reached.index}`);
    walker.block(head);
  }
  const result = walker.result();
  verifyHeadStatement(statement, headFile.cosignature, head, walker.roster, options.freshness);
  if (options.anchorAtHead && walker.roster.acceptance === 'vouched') acceptRoster(result.roster, `roster ${head.roster.slice(0, 12)} of the new trusted block ${head.index}`);
  return { ...result, headFile, stats };
}
