// log/head.ts: head statements (docs/protocol.md section 6; docs/design.md "Skipchain release log").
// The witnesses periodically co-sign (chain, index, head hash, time) with context
// `cairn/v1/head`, so a client detects a freeze even when no release happens: it refuses a
// statement older than its maximum age (STALE_HEAD), older than one it already accepted
// (REPLAYED_HEAD), or naming another block at an index it already knows (EQUIVOCATION).
import { parseJsonObject } from '../encoding/bounded-json.js';
import { blockHash, chainIdOf, type Block } from './block.js';
import { cosiMessage, parseCollectiveSignature, rosterHash, verifyCollectiveSignature, type CollectiveSignature, type DecodedRoster, type Roster } from './cosi-adapter.js';
import { LogError } from './errors.js';
import { LOG_FILE_LIMITS, logReader, parseUtcTime, readUtcTime } from './schema.js';

export const HEAD_TYPE = 'cairn/v1/head';
export const HEAD_CONTEXT = 'cairn/v1/head';

export interface HeadStatement {
  type: typeof HEAD_TYPE;
  chain: string;
  index: number;
  /** Hash of block `index`. */
  hash: string;
  time: string;
}

/** The served `log/head.json` (protocol.md section 7). */
export interface HeadFile {
  statement: HeadStatement;
  cosignature: CollectiveSignature;
}

/** The head statement for `block` at `time` (protocol form YYYY-MM-DDTHH:MM:SSZ). */
export function buildHeadStatement(block: Block, time: string): HeadStatement {
  return { type: HEAD_TYPE, chain: chainIdOf(block), index: block.index, hash: blockHash(block), time };
}

/** The bytes the roster co-signs: `cairn/v1/head` || 0x00 || canonical(statement). */
export function headMessage(statement: HeadStatement): Uint8Array {
  return cosiMessage(HEAD_CONTEXT, statement);
}

export function parseHeadStatement(value: unknown, what = 'head statement'): HeadStatement {
  const r = logReader('BAD_HEAD', what);
  const o = r.exact(value, '', ['type', 'chain', 'index', 'hash', 'time']);
  return {
    type: r.literal(o.type, 'type', HEAD_TYPE),
    chain: r.hex(o.chain, 'chain'),
    index: r.integer(o.index, 'index'),
    hash: r.hex(o.hash, 'hash'),
    time: readUtcTime(r, o.time, 'time'),
  };
}

/** Parses the bytes of `log/head.json` under LOG_FILE_LIMITS.head. */
export function parseHeadFile(bytes: Uint8Array | string, what = 'head file'): HeadFile {
  const r = logReader('BAD_HEAD', what);
  const o = r.exact(parseJsonObject(bytes, what, LOG_FILE_LIMITS.head), '', ['statement', 'cosignature']);
  return { statement: parseHeadStatement(o.statement, `${what} statement`), cosignature: parseCollectiveSignature(o.cosignature, `${what} cosignature`) };
}

/** The last head statement a client accepted, as it keeps it. */
export interface AcceptedHead {
  index: number;
  hash: string;
  time: string;
}

export interface HeadFreshnessPolicy {
  /** The client's clock. */
  now: Date;
  /** Oldest acceptable statement, in seconds before `now` (protocol.md `maxHeadAge`). */
  maxAgeSeconds: number;
  /** How far in the future a statement's time may be (clock skew), in seconds. Default 300. */
  maxFutureSkewSeconds?: number;
  /** The last statement accepted; an older one is a replay. */
  lastAccepted?: AcceptedHead;
}

/** How far ahead of the reader's clock a head statement may be dated (clock skew), in seconds. */
export const DEFAULT_MAX_FUTURE_SKEW_SECONDS = 300;

/**
 * Verifies a head statement (protocol.md section 6): it names `headBlock` (chain, index, hash),
 * `roster` is the roster in force at that block (JSON, accepted in full, or already accepted or
 * vouched for), the collective signature meets its threshold;
 * then freshness: not older than maxAgeSeconds (STALE_HEAD), not older than the last accepted
 * statement (REPLAYED_HEAD), not another block at the last accepted index (EQUIVOCATION).
 */
export function verifyHeadStatement(
  statement: HeadStatement,
  cosignature: CollectiveSignature,
  headBlock: Block,
  roster: Roster | DecodedRoster,
  policy: HeadFreshnessPolicy,
): void {
  const s = parseHeadStatement(statement);
  const bad = (why: string): LogError => new LogError('BAD_HEAD', `head statement for block ${s.index}: ${why}`);
  if (s.chain !== chainIdOf(headBlock)) throw bad(`names chain ${s.chain.slice(0, 12)}, the block's chain is ${chainIdOf(headBlock).slice(0, 12)}`);
  if (s.index !== headBlock.index || s.hash !== blockHash(headBlock)) {
    throw bad(`names ${s.index} ${s.hash.slice(0, 12)}, the block is ${headBlock.index} ${blockHash(headBlock).slice(0, 12)}`);
  }
  const signer = rosterHash(roster);
  if (signer !== headBlock.roster) {
    throw new LogError('UNKNOWN_ROSTER', `head statement for block ${s.index}: checked with roster ${signer.slice(0, 12)}, block ${s.index} has roster ${headBlock.roster.slice(0, 12)}`);
  }
  try {
    verifyCollectiveSignature(roster, headMessage(s), cosignature);
  } catch (e) {
    if (e instanceof LogError && e.code === 'THRESHOLD_NOT_MET') throw new LogError('THRESHOLD_NOT_MET', `head statement for block ${s.index}: ${e.message}`, { cause: e });
    if (e instanceof LogError) throw bad(e.message);
    throw e;
  }
  checkHeadFreshness(s, policy);
}

/** The freshness rules alone (for a statement whose signature was checked). */
function checkHeadFreshness(statement: HeadStatement, policy: HeadFreshnessPolicy): void {
  const time = parseUtcTime(statement.time)!;
  const now = policy.now.getTime() / 1000;
  const skew = policy.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS;
  if (time > now + skew) {
    throw new LogError('BAD_HEAD', `head statement time ${statement.time} is more than ${skew} s ahead of this clock (${new Date(now * 1000).toISOString()})`, {
      hint: 'check this machine\'s clock',
    });
  }
  if (now - time > policy.maxAgeSeconds) {
    throw new LogError('STALE_HEAD', `the newest head statement is from ${statement.time}, older than the allowed ${policy.maxAgeSeconds} s: the log may be frozen`, {
      hint: 'try another mirror; if every mirror serves this head, the witnesses have stopped signing',
    });
  }
  const last = policy.lastAccepted;
  if (last !== undefined) {
    if (statement.index < last.index || time < parseUtcTime(last.time)!) {
      throw new LogError('REPLAYED_HEAD', `head statement for block ${statement.index} at ${statement.time} is older than the one accepted before (block ${last.index} at ${last.time})`, {
        hint: 'a mirror is replaying old log state; try another mirror',
      });
    }
    if (statement.index === last.index && statement.hash !== last.hash) {
      throw new LogError('EQUIVOCATION', `block ${statement.index} was ${last.hash.slice(0, 12)} and is now ${statement.hash.slice(0, 12)}: the witnesses signed two blocks at one index`);
    }
  }
}
