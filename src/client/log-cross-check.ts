// client/log-cross-check.ts: comparing the release log as several mirrors serve it, and checking
// an equivocation proof offline (docs/witness.md "Checking mirrors for equivocation";
// docs/protocol.md section 5 "Equivocation proof", section 7 "Static files"). A witness co-signs
// one block per index of a chain, so two co-signed claims about one index that name different
// blocks (two head statements, or a head statement and a forward link into its block) prove that
// the witnesses in both signatures misbehaved. Each source is read through the log layer's reader
// with the caps of LOG_FILE_LIMITS and caught up from the pinned genesis block (section 5
// "Catch-up"), so every head compared is signed by the chain's own roster; every proof is checked
// (verifyEquivocationProof: rosters accepted in full, collective signatures at threshold) before
// it is reported, so a mirror cannot frame a witness with a made-up proof.
import { parseJsonObject } from '../encoding/bounded-json.js';
import { isCairnError, short, UsageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { BoundedFetcher, DEFAULT_FETCH_LIMITS, type Fetcher, type FetchLimits } from '../io/fetch.js';
import {
  LOG_FILE_LIMITS,
  LogError,
  blockHash,
  buildEquivocationProof,
  catchUp,
  levelSpan,
  logDirectorySource,
  parseBlockBytes,
  parseEquivocationProof,
  parseLinkFile,
  parseRosterBytes,
  rosterHash,
  verifyEquivocationProof,
  type Block,
  type EquivocationProof,
  type HeadFile,
  type LogSource,
  type Misbehaviour,
  type Roster,
  type SignedClaim,
} from '../log/index.js';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { LOWER_HEX } from '../encoding/field-reader.js';

/** Caps of a cross-check: sources compared, and the size of a proof file read back. */
export const LOG_CROSS_CHECK_LIMITS = {
  /** Sources compared pairwise: 64 is far above any deployment's mirrors and keeps the pairs at 2,016. */
  maxSources: 64,
  /** A proof holds two claims (link or head files) and two rosters. */
  maxProofBytes: 2 * LOG_FILE_LIMITS.roster.maxBytes + 4 * LOG_FILE_LIMITS.link.maxBytes,
} as const;

/** The signed head one source serves, verified from the pinned genesis block. */
export interface SourceHead {
  readonly chain: string;
  readonly index: number;
  readonly hash: string;
  readonly time: string;
}

export interface SourceReport {
  readonly url: string;
  /** The head it serves, when it could be read and its co-signature verifies. */
  readonly head: SourceHead | null;
  /** Why the source could not be compared (its error's code and message). */
  readonly problem: { readonly code: string; readonly message: string } | null;
}

/** Two sources naming different blocks at one index. */
export interface LogConflict {
  readonly index: number;
  readonly sources: readonly [string, string];
  /** The block each source names there; null when the higher source has no valid claim about that index. */
  readonly hashes: readonly [string, string | null];
  /** The proof anyone can check (`cairn log verify-proof`), or null (no claim, or the claims share no signer). */
  readonly proof: EquivocationProof | null;
  /** Witnesses who signed both claims (empty without a proof). */
  readonly culprits: Misbehaviour['culprits'];
  /** Why there is no proof, when there is none. */
  readonly reason: string | null;
}

export interface LogCrossCheck {
  /** The chain the sources were checked against. */
  readonly chain: string;
  readonly sources: readonly SourceReport[];
  readonly conflicts: readonly LogConflict[];
  /** Every source read and verified, all on one chain, and no two disagree. */
  readonly consistent: boolean;
  /** Where the first proof was written, when asked. */
  readonly proofFile: string | null;
}

export interface LogCrossCheckOptions {
  /** The chain ID (genesis hash) every source must serve: each is caught up from its genesis block. */
  chain: string;
  /** Write the first proof found here (an atomic write), for `cairn log verify-proof`. */
  proofOut?: string;
  fetcher?: Fetcher;
  fetchLimits?: FetchLimits;
}

/** One source's verified head with what a claim about it needs. */
interface ReadHead {
  url: string;
  source: LogSource;
  file: HeadFile;
  roster: Roster;
  block: Block;
}

/**
 * Reads the head of each log URL (its `log/` directory), caught up from the genesis block of
 * `options.chain` through co-signed forward links, compares every pair, and builds a checked equivocation proof for each pair that
 * names two blocks at one index: same index, two head statements; different indices, the lower
 * head against the forward link into that index that the higher source serves.
 */
export async function crossCheckLogs(urls: readonly string[], options: LogCrossCheckOptions): Promise<LogCrossCheck> {
  if (urls.length < 2) throw new UsageError('MISSING_ARGUMENT', `a cross-check needs at least two sources, ${urls.length} given`, { hint: 'pass --source URL once per mirror log (for example http://mirror/log/)' });
  if (urls.length > LOG_CROSS_CHECK_LIMITS.maxSources) throw new UsageError('BAD_ARGUMENT', `at most ${LOG_CROSS_CHECK_LIMITS.maxSources} sources, ${urls.length} given`);
  checkChainId(options.chain);
  const fetcher = options.fetcher ?? new BoundedFetcher(options.fetchLimits ?? DEFAULT_FETCH_LIMITS);
  const reports: SourceReport[] = [];
  const heads: ReadHead[] = [];
  for (const url of urls) {
    try {
      const head = await readSourceHead(url, logDirectorySource(fetcher, url), options.chain);
      const { chain, index, hash, time } = head.file.statement;
      heads.push(head);
      reports.push({ url, head: { chain, index, hash, time }, problem: null });
    } catch (e) {
      if (!isCairnError(e)) throw e;
      reports.push({ url, head: null, problem: { code: e.code, message: e.message } });
    }
  }
  const conflicts: LogConflict[] = [];
  for (let i = 0; i < heads.length; i++) {
    for (let j = i + 1; j < heads.length; j++) {
      const [low, high] = heads[i]!.file.statement.index <= heads[j]!.file.statement.index ? [heads[i]!, heads[j]!] : [heads[j]!, heads[i]!];
      const conflict = await compare(low, high);
      if (conflict !== undefined) conflicts.push(conflict);
    }
  }
  const proof = conflicts.find((c) => c.proof !== null)?.proof;
  let proofFile: string | null = null;
  if (proof !== undefined && options.proofOut !== undefined) {
    await writeFileAtomic(options.proofOut, canonicalBytes(proof));
    proofFile = options.proofOut;
  }
  const consistent = conflicts.length === 0 && reports.every((r) => r.problem === null);
  return { chain: options.chain, sources: reports, conflicts, consistent, proofFile };
}

/**
 * The head a source serves, verified from the genesis block of `chain` (its hash is the chain ID;
 * its roster is accepted in full) through forward links to the co-signed head statement. Any age
 * is accepted: an old signed head is still a claim about its index.
 */
async function readSourceHead(url: string, source: LogSource, chain: string): Promise<ReadHead> {
  const { block: genesis, roster } = await blockWithRoster(url, source, 0);
  if (blockHash(genesis) !== chain) throw new LogError('NOT_REACHABLE', `${url}: block 0 is ${short(blockHash(genesis))}, not the genesis block of chain ${short(chain)}`);
  const anyAge = { now: new Date(), maxAgeSeconds: Number.MAX_SAFE_INTEGER, maxFutureSkewSeconds: Number.MAX_SAFE_INTEGER };
  const caught = await catchUp(source, { block: genesis, roster }, { freshness: anyAge });
  return { url, source, file: caught.headFile, roster: caught.roster, block: caught.head };
}

/** Block `index` of a source and the roster in force at it (carried by the block, or the roster file with its hash). */
async function blockWithRoster(url: string, source: LogSource, index: number): Promise<{ block: Block; roster: Roster }> {
  const bytes = await source.getBlock(index, LOG_FILE_LIMITS.block.maxBytes);
  if (bytes === undefined) throw new LogError('NOT_REACHABLE', `${url}: block ${index} is not published`);
  const block = parseBlockBytes(bytes, `block ${index} of ${url}`);
  if (block.index !== index) throw new LogError('BAD_BLOCK', `${url}: the file of block ${index} holds block ${block.index}`);
  if (block.rosterChange !== null) return { block, roster: block.rosterChange.roster };
  const rosterBytes = await source.getRoster(block.roster, LOG_FILE_LIMITS.roster.maxBytes);
  if (rosterBytes === undefined) throw new LogError('UNKNOWN_ROSTER', `${url}: roster ${short(block.roster)} of block ${index} is not published`);
  const roster = parseRosterBytes(rosterBytes, `roster ${short(block.roster)} of ${url}`);
  if (rosterHash(roster) !== block.roster) throw new LogError('UNKNOWN_ROSTER', `${url}: the file of roster ${short(block.roster)} holds roster ${short(rosterHash(roster))}`);
  return { block, roster };
}

function headClaim(head: ReadHead): SignedClaim {
  return { kind: 'head', statement: head.file.statement, cosignature: head.file.cosignature, roster: head.roster };
}

/**
 * The claim `high` makes about block `index`: its head statement at that index, else a forward
 * link into it (level 0 first; a higher level when the lower is not published), with the roster
 * in force at the link's source block.
 */
async function claimAt(high: ReadHead, index: number): Promise<SignedClaim | undefined> {
  if (high.file.statement.index === index) return headClaim(high);
  const { base, maxHeight } = high.block;
  for (let level = 0; level < maxHeight && levelSpan(base, level) <= index; level++) {
    const from = index - levelSpan(base, level);
    const bytes = await high.source.getLink(from, level, LOG_FILE_LIMITS.link.maxBytes);
    if (bytes === undefined) continue;
    const file = parseLinkFile(bytes, `link ${from}.${level} of ${high.url}`);
    if (file.link.fromIndex !== from || file.link.level !== level || file.link.toIndex !== index) {
      throw new LogError('BAD_FORWARD_LINK', `${high.url}: the file of link ${from}.${level} holds link ${file.link.fromIndex}.${file.link.level} to ${file.link.toIndex}`);
    }
    const { roster } = await blockWithRoster(high.url, high.source, from);
    return { kind: 'forward-link', link: file.link, cosignature: file.cosignature, roster };
  }
  return undefined;
}

function claimedHash(claim: SignedClaim): string {
  return claim.kind === 'head' ? claim.statement.hash : claim.link.to;
}

/** Compares the lower head with what the higher source says about its index. */
async function compare(low: ReadHead, high: ReadHead): Promise<LogConflict | undefined> {
  const index = low.file.statement.index;
  if (index === 0) return undefined; // both were caught up from the pinned genesis block
  const sources = [low.url, high.url] as const;
  let theirs: SignedClaim | undefined;
  try {
    theirs = await claimAt(high, index);
  } catch (e) {
    if (!isCairnError(e)) throw e;
    return { index, sources, hashes: [low.file.statement.hash, null], proof: null, culprits: [], reason: `${high.url} has no valid claim about block ${index}: ${e.message}` };
  }
  if (theirs === undefined) {
    return { index, sources, hashes: [low.file.statement.hash, null], proof: null, culprits: [], reason: `${high.url} publishes no forward link into block ${index}` };
  }
  const hashes = [low.file.statement.hash, claimedHash(theirs)] as const;
  if (hashes[0] === hashes[1]) return undefined;
  try {
    const proof = buildEquivocationProof(headClaim(low), theirs);
    return { index, sources, hashes, proof, culprits: verifyEquivocationProof(proof).culprits, reason: null };
  } catch (e) {
    if (!(e instanceof LogError)) throw e;
    return { index, sources, hashes, proof: null, culprits: [], reason: e.message };
  }
}

export interface ProofCheckOptions {
  /** The chain the proof must be about. */
  chain?: string;
  /** Roster files of the chain: both claims must be signed by one of them. */
  rosterFiles?: readonly string[];
}

/**
 * Checks an equivocation proof file offline (docs/protocol.md section 5 "Equivocation proof"):
 * read with a cap, parsed strictly, both claims about one index of one chain naming different
 * blocks, each co-signed at its roster's threshold, at least one witness in both; about `chain`
 * and signed by the given rosters when given. Returns what it proves; throws LogError
 * NOT_EQUIVOCATION (or UNKNOWN_ROSTER) otherwise.
 */
export async function verifyEquivocationProofFile(path: string, options: ProofCheckOptions = {}): Promise<Misbehaviour & { rostersChecked: boolean }> {
  if (options.chain !== undefined) checkChainId(options.chain);
  const bytes = await readCappedFile(path, LOG_CROSS_CHECK_LIMITS.maxProofBytes, { refuse: tooLargeIsFormatError });
  const limits = { maxBytes: LOG_CROSS_CHECK_LIMITS.maxProofBytes, maxDepth: 8, maxEntries: 2 * LOG_FILE_LIMITS.roster.maxEntries + 256 };
  const proof = parseEquivocationProof(parseJsonObject(bytes, path, limits), path);
  let knownRosters: Set<string> | undefined;
  if (options.rosterFiles !== undefined && options.rosterFiles.length > 0) {
    knownRosters = new Set();
    for (const file of options.rosterFiles) {
      knownRosters.add(rosterHash(parseRosterBytes(await readCappedFile(file, LOG_FILE_LIMITS.roster.maxBytes, { refuse: tooLargeIsFormatError }), file)));
    }
  }
  const proven = verifyEquivocationProof(proof, knownRosters === undefined ? {} : { knownRosters });
  if (options.chain !== undefined && proven.chain !== options.chain) {
    throw new LogError('NOT_EQUIVOCATION', `${path} proves equivocation on chain ${short(proven.chain)}, not on chain ${short(options.chain)}`);
  }
  return { ...proven, rostersChecked: knownRosters !== undefined };
}

/** UsageError BAD_ARGUMENT unless `chain` is a chain ID: 64 lowercase hex characters. */
export function checkChainId(chain: string): void {
  if (chain.length !== 64 || !LOWER_HEX.test(chain)) {
    throw new UsageError('BAD_ARGUMENT', `the chain ID must be 64 lowercase hex characters (the genesis block's hash), found ${JSON.stringify(chain.slice(0, 80))}`, {
      hint: 'cairn log init prints it; clients pin it with cairn tuf init --log-anchor',
    });
  }
}
