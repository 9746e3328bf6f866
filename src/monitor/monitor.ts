// monitor/monitor.ts: a log monitor (docs/transparency.md "Monitors"; docs/protocol.md sections 4-7;
// CHAINIAC section 4: a witness never co-signs two blocks at one index). Unlike a client, which
// catches up in O(log n) links, a monitor verifies every block of the chain from the pinned
// genesis: the level-0 forward link into it, co-signed by the roster in force; the block's back
// links, parameters and roster continuity (validateBlock); each roster change against the root
// role the block records; each root version against the one before (TUF 5.3.4); and the
// higher-level links clients follow, naming the verified blocks. It follows several mirrors and
// witnesses, keeps what it verified (state.ts), and raises an alarm, once, on:
//
// - equivocation: a co-signed claim naming another block at an index it verified (with a proof
//   anyone can check with `cairn log verify-proof`), or a fork without a common signer;
// - rollback: a source serving an older head than it served before;
// - unauthorized-roster, unauthorized-root, invalid-block: a co-signed block that breaks the rules;
// - invalid-release, no-rebuild-quorum: a co-signed release that breaks the witnesses' release
//   rules (release-replay.ts);
// - bad-data: a mirror serving files that do not verify (a forged block, link or head);
// - stale-head: a head statement older than the allowed age (or, when no source gives one this
//   poll, the newest ever verified);
// - bad-checkpoint: a checkpoint, cosigned at threshold, whose tree is not the log's blocks;
// - witness-fork: a witness reporting (unsigned, in /v1/info) another block at a verified index.
//
// Sources that cannot be reached are problems, not alarms: the stale-head alarm covers a log that
// nobody can read for long.
import { join } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { canonicalBytes } from '../encoding/canonical-json.js';
import { isCairnError, short, UsageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { BoundedFetcher, DEFAULT_FETCH_LIMITS, fetchAll, fetchIfPresent, FetchError, type Fetcher } from '../io/fetch.js';
import { sha256Hex } from '../crypto/hash.js';
import {
  CHECKPOINT_PATH,
  DEFAULT_MAX_FUTURE_SKEW_SECONDS,
  LOG_FILE_LIMITS,
  LogError,
  acceptRoster,
  blockHash,
  blockTreeRoot,
  buildEquivocationProof,
  headMessage,
  height,
  levelSpan,
  logDirectorySource,
  planCatchUp,
  parseBlockBytes,
  parseCheckpoint,
  parseHeadFile,
  parseLinkFile,
  parseNote,
  parseUtcTime,
  positionOf,
  validateBlock,
  validateGenesis,
  verifyCollectiveSignature,
  verifyEquivocationProof,
  verifyForwardLinkStep,
  verifyLogCheckpoint,
  type Block,
  type Culprit,
  type DecodedRoster,
  type HeadFile,
  type LinkFile,
  type LogSource,
  type RootRole,
  type SignedClaim,
} from '../log/index.js';
import { checkChainId } from '../client/index.js';
import { AttestationError, PolicyError } from '../policy/index.js';
import { DEFAULT_UPDATER_CONFIG, TrustedSet, directoryUrl, parseEnvelope, rootRoleOf, verifySelfSignedRoot } from '../tuf/index.js';
import { MirrorDataError, ReleaseReplay } from './release-replay.js';
import { MonitorState, type VerifiedRoot } from './state.js';

/** Caps of one poll: every walk over what sources serve is bounded. */
export const MONITOR_LIMITS = {
  /** Blocks verified from one source in one poll; a longer log is verified over several polls. */
  maxBlocksPerPoll: 10_000,
  /** Blocks whose files are fetched ahead of the one being verified (one round trip a block, not three). */
  prefetchBlocks: 16,
  /** How far ahead of this clock a head statement's time may be (as clients allow). */
  maxFutureSkewSeconds: DEFAULT_MAX_FUTURE_SKEW_SECONDS,
  /** Root versions fetched in one step (TUF's own cap on a refresh). */
  maxRootVersions: DEFAULT_UPDATER_CONFIG.maxRootRotations,
  maxInfoBytes: 64 * 1024,
  maxSources: 64,
} as const;

export type AlarmKind =
  | 'equivocation'
  | 'fork'
  | 'rollback'
  | 'unauthorized-roster'
  | 'unauthorized-root'
  | 'invalid-block'
  | 'invalid-release'
  | 'no-rebuild-quorum'
  | 'bad-data'
  | 'stale-head'
  | 'bad-checkpoint'
  | 'witness-fork';

export interface Alarm {
  kind: AlarmKind;
  /** The mirror or witness that showed it. */
  source: string;
  /** The block index it is about, when there is one. */
  index: number | null;
  message: string;
  /** The code of the refusal it comes from (LogError, TufError), when there is one. */
  code: string | null;
  /** Witnesses proven to have signed two blocks at one index. */
  culprits: Culprit[];
  /** Where the proof was written (equivocation). */
  proofFile: string | null;
}

export interface SourceStatus {
  url: string;
  head: { index: number; hash: string; time: string } | null;
  problem: { code: string; message: string } | null;
}

export interface WitnessStatus {
  url: string;
  name: string | null;
  head: { index: number; hash: string } | null;
  problem: { code: string; message: string } | null;
}

export interface PollReport {
  time: string;
  chain: string;
  /** The highest block verified so far. */
  verified: { index: number; hash: string };
  sources: SourceStatus[];
  witnesses: WitnessStatus[];
  /** Alarms raised by this poll (each alarm is raised once, ever). */
  alarms: Alarm[];
}

export interface MonitorOptions {
  /** The chain ID (genesis block hash) the monitor follows. */
  chain: string;
  /** Log directories of mirrors (http://mirror/log/); each one's TUF metadata is read from ../metadata/. */
  sources: readonly string[];
  /** Witness service URLs whose /v1/info is compared. */
  witnesses?: readonly string[];
  /** Where the monitor keeps what it has seen, and writes proofs (proofs/). */
  stateDir: string;
  /** A head statement older than this raises stale-head. */
  maxHeadAgeSeconds: number;
  fetcher?: Fetcher;
  now?: () => Date;
  maxBlocksPerPoll?: number;
  /**
   * Apply the witnesses' release rules again to each block (release-replay.ts), reading the TUF
   * documents and attestations beside each mirror's log (default true).
   */
  checkReleases?: boolean;
}

/** Stop following a source for this poll (the alarm or problem is already recorded). */
class StopSource extends Error {}

export class LogMonitor {
  private readonly state: MonitorState;
  private readonly fetcher: Fetcher;
  private readonly rosters = new Map<string, DecodedRoster>();
  private readonly releases = new ReleaseReplay();
  private alarms: Alarm[] = [];
  /** Head statements verified (and their age checked) in this poll. */
  private headsChecked = 0;

  constructor(private readonly options: MonitorOptions) {
    checkChainId(options.chain);
    if (options.sources.length === 0) throw new UsageError('MISSING_ARGUMENT', 'a monitor needs at least one --source (a mirror\'s log directory, e.g. http://mirror/log/)');
    if (options.sources.length + (options.witnesses?.length ?? 0) > MONITOR_LIMITS.maxSources) throw new UsageError('BAD_ARGUMENT', `at most ${MONITOR_LIMITS.maxSources} sources and witnesses`);
    this.fetcher = options.fetcher ?? new BoundedFetcher(DEFAULT_FETCH_LIMITS);
    this.state = new MonitorState(options.stateDir);
    const kept = this.state.chain;
    if (kept !== undefined && kept !== options.chain) {
      this.state.close();
      throw new UsageError('CONFLICT', `${options.stateDir} holds the state of chain ${kept}, not of ${options.chain}`, { hint: 'use one state directory per chain' });
    }
  }

  close(): void {
    this.state.close();
  }

  /** Alarms raised in this state directory, ever. */
  get alarmCount(): number {
    return this.state.alarmCount();
  }

  /** Reads every source and witness once; returns what it saw and the alarms it raised. */
  async poll(): Promise<PollReport> {
    this.alarms = [];
    this.headsChecked = 0;
    const sources: SourceStatus[] = [];
    for (const url of this.options.sources) sources.push(await this.followSource(url));
    if (this.headsChecked === 0) this.checkLogAge();
    const witnesses: WitnessStatus[] = [];
    for (const url of this.options.witnesses ?? []) witnesses.push(await this.askWitness(url));
    const index = this.state.verifiedIndex;
    return {
      time: this.now().toISOString(),
      chain: this.options.chain,
      verified: { index, hash: index < 0 ? '' : this.state.hashAt(index)! },
      sources,
      witnesses,
      alarms: this.alarms,
    };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /**
   * No source gave a head this poll could verify (none reachable, none served, or each withheld
   * what its head needs): the newest head ever verified is how fresh the log is known to be, and
   * a log frozen that way raises stale-head too (a monitor that never verified a head has nothing
   * to judge by, and says so through its sources' problems).
   */
  private checkLogAge(): void {
    const newest = this.state.newestHead;
    if (newest === undefined) return;
    const age = this.now().getTime() / 1000 - parseUtcTime(newest.time)!;
    if (age > this.options.maxHeadAgeSeconds) {
      this.raise({
        kind: 'stale-head', source: 'every source', index: newest.index, code: 'STALE_HEAD', culprits: [], proofFile: null,
        message: `no source served a head this monitor could verify; the newest it verified is block ${newest.index} from ${newest.time}, ${Math.round(age)} s old (allowed ${this.options.maxHeadAgeSeconds} s): the log may be frozen`,
      }, newest.time);
    }
  }

  // ---- mirrors -------------------------------------------------------------------------------

  private async followSource(url: string): Promise<SourceStatus> {
    const source = logDirectorySource(this.fetcher, url);
    let head: HeadFile | undefined;
    try {
      if (this.state.verifiedIndex < 0) await this.verifyGenesis(url, source);
      const bytes = await source.getHead(LOG_FILE_LIMITS.head.maxBytes);
      if (bytes === undefined) return { url, head: null, problem: { code: 'NOT_REACHABLE', message: `${url} serves no head statement (head.json)` } };
      head = this.parseOrAlarm(url, null, () => parseHeadFile(bytes, `head statement of ${url}`));
      const { statement } = head;
      if (statement.chain !== this.options.chain) {
        return { url, head: null, problem: { code: 'NOT_REACHABLE', message: `${url} serves chain ${short(statement.chain)}, not ${short(this.options.chain)}` } };
      }
      if (statement.index > this.state.verifiedIndex) await this.state.batch(() => this.extend(url, source, statement.index));
      if (statement.index > this.state.verifiedIndex) {
        return { url, head: null, problem: { code: 'BEHIND', message: `verified up to block ${this.state.verifiedIndex} of the ${statement.index} ${url} serves; the next poll goes on` } };
      }
      await this.checkHead(url, source, head);
      await this.checkServedPath(url, source, statement.index);
      await this.checkCheckpoint(url);
    } catch (e) {
      // The head is shown only once it verified: here something on the way to it did not.
      if (e instanceof StopSource) return { url, head: null, problem: { code: 'ALARM', message: e.message } };
      if (!isCairnError(e)) throw e;
      return { url, head: null, problem: { code: e.code, message: e.message } };
    }
    const { index, hash, time } = head.statement;
    return { url, head: { index, hash, time }, problem: null };
  }

  /** Block 0 from the first source that serves it: its hash is the chain ID, its roster authorized by the root it records. */
  private async verifyGenesis(url: string, source: LogSource): Promise<void> {
    const bytes = await source.getBlock(0, LOG_FILE_LIMITS.block.maxBytes);
    if (bytes === undefined) throw new LogError('NOT_REACHABLE', `${url}: block 0 is not published`);
    const genesis = this.parseOrAlarm(url, 0, () => parseBlockBytes(bytes, `block 0 of ${url}`));
    if (blockHash(genesis) !== this.options.chain) this.stop('bad-data', url, 0, `block 0 is ${short(blockHash(genesis))}, not the genesis block of chain ${short(this.options.chain)}`);
    const { version, sha256 } = genesis.payload.root;
    const rootBytes = await this.fetchRoot(url, version);
    if (sha256Hex(rootBytes) !== sha256) this.stop('bad-data', url, 0, `its root v${version} is not the root the genesis block records (sha256 ${short(sha256)})`);
    const root = this.parseOrAlarm(url, 0, () => {
      const envelope = parseEnvelope('root', rootBytes, `root v${version} of ${url}`);
      verifySelfSignedRoot(envelope);
      return envelope;
    });
    const valid = this.checkOrAlarm('unauthorized-roster', url, 0, () => validateGenesis(genesis, rootRoleOf(root)));
    const roster = valid.rosterChange!.roster;
    this.checkOrAlarm('invalid-block', url, 0, () => acceptRoster(roster, 'roster of the genesis block'));
    const roots = [{ version, sha256, bytes: rootBytes }];
    await this.replayRelease(url, valid, undefined, roots);
    this.state.addBlock(valid, this.options.chain, null, roster, roots);
  }

  /** Verifies every block from the last verified one up to `target` through `source`'s level-0 links. */
  private async extend(url: string, source: LogSource, target: number): Promise<void> {
    const cap = this.options.maxBlocksPerPoll ?? MONITOR_LIMITS.maxBlocksPerPoll;
    const genesis = this.state.blockAt(0)!;
    const files = new BlockFiles(source, genesis.base, genesis.maxHeight);
    const last = Math.min(target, this.state.verifiedIndex + cap);
    while (this.state.verifiedIndex < last) {
      const at = this.state.verifiedIndex;
      for (let ahead = at + 1; ahead <= Math.min(last, at + MONITOR_LIMITS.prefetchBlocks); ahead++) files.prefetch(ahead);
      const { link: linkBytes, block: blockBytes, links } = await files.take(at + 1);
      const previous = this.state.blockAt(at)!;
      if (linkBytes === undefined) throw new LogError('NOT_REACHABLE', `${url}: its head is block ${target}, but the level-0 link out of block ${at} is not published`);
      const file = this.parseOrAlarm(url, at + 1, () => parseLinkFile(linkBytes, `link ${at}.0 of ${url}`));
      if (file.link.fromIndex !== at || file.link.level !== 0) this.stop('bad-data', url, at + 1, `the file of link ${at}.0 holds link ${file.link.fromIndex}.${file.link.level}`);
      if (file.link.from !== this.state.hashAt(at)) {
        await this.raiseFork(url, source, at, `its forward link out of block ${at} starts from ${short(file.link.from)}, not the verified block ${short(this.state.hashAt(at)!)}`, file.link.from);
      }
      const step = this.checkOrAlarm('bad-data', url, at + 1, () => verifyForwardLinkStep(positionOf(previous), this.rosterAt(at), file.link, file.cosignature));
      if (blockBytes === undefined) throw new LogError('NOT_REACHABLE', `${url}: block ${at + 1} is not published`);
      const block = this.parseOrAlarm(url, at + 1, () => parseBlockBytes(blockBytes, `block ${at + 1} of ${url}`));
      const hash = blockHash(block);
      if (hash !== step.position.hash) this.stop('bad-data', url, at + 1, `the file of block ${at + 1} is ${short(hash)}, the co-signed link into it names ${short(step.position.hash)}`);
      const { role: rootRole, roots } = await this.rootRoleAt(url, block, previous);
      const view = { chain: this.options.chain, base: previous.base, maxHeight: previous.maxHeight, head: previous, hashAt: (i: number) => this.state.hashAt(i) };
      const valid = this.checkOrAlarm('invalid-block', url, at + 1, () => validateBlock(block, view, { root: rootRole }));
      if (valid.roster !== step.position.roster) this.stop('invalid-block', url, at + 1, `block ${at + 1} has roster ${short(valid.roster)}, the co-signed link into it names ${short(step.position.roster)}`);
      const roster = valid.rosterChange?.roster ?? this.state.roster(valid.roster)!;
      if (valid.rosterChange !== null) this.checkOrAlarm('invalid-block', url, at + 1, () => acceptRoster(roster, `roster of block ${at + 1}`));
      await this.replayRelease(url, valid, previous, roots);
      this.state.addBlock(valid, hash, file, roster, roots);
      for (const { from, level, bytes } of links) await this.checkServedLink(url, from, level, bytes);
    }
  }

  /**
   * The witnesses' release rules applied again to `block` (release-replay.ts) with the documents
   * beside `url`'s log: a state that breaks them is invalid-release, an artifact without its
   * rebuild quorum no-rebuild-quorum, documents that are not the recorded ones bad-data; a
   * document not served is a problem. `roots` are the root versions first recorded by `block`.
   */
  private async replayRelease(url: string, block: Block, previous: Block | undefined, roots: readonly VerifiedRoot[]): Promise<void> {
    if (this.options.checkReleases === false) return;
    const base = directoryUrl(url);
    const source = { fetcher: this.fetcher, metadataUrl: new URL('../metadata/', base).href, attestationsUrl: new URL('../attestations/', base).href, logUrl: base };
    try {
      await this.releases.check(block, previous, source, [...this.state.rootsUpTo(block.payload.root.version), ...roots]);
    } catch (e) {
      if (e instanceof MirrorDataError) this.stop('bad-data', url, block.index, `${url}: ${e.message}`, e.code);
      if (e instanceof AttestationError) this.stop('no-rebuild-quorum', url, block.index, `block ${block.index}: ${e.message}`, e.code);
      if (e instanceof PolicyError) this.stop('invalid-release', url, block.index, `block ${block.index}: ${e.message}`, e.code);
      throw e;
    }
  }

  /**
   * A forward link `source` serves, from verified block `from` at `level` into a verified block
   * (what clients catching up follow): when it is co-signed by the roster in force at `from` and
   * names another block than the verified one, that is equivocation. A link that does not verify
   * is bad data; one not published is nothing (clients fall back to lower levels).
   */
  private async checkServedLink(url: string, from: number, level: number, bytes: Uint8Array | undefined): Promise<void> {
    if (bytes === undefined) return;
    const file = this.parseOrAlarm(url, from, () => parseLinkFile(bytes, `link ${from}.${level} of ${url}`));
    if (file.link.fromIndex !== from || file.link.level !== level) this.stop('bad-data', url, from, `the file of link ${from}.${level} holds link ${file.link.fromIndex}.${file.link.level}`);
    const step = this.checkOrAlarm('bad-data', url, file.link.toIndex, () => verifyForwardLinkStep(positionOf(this.state.blockAt(from)!), this.rosterAt(from), file.link, file.cosignature));
    const to = file.link.toIndex;
    if (step.position.hash !== this.state.hashAt(to)) await this.conflict(url, to, this.linkClaim(file));
    const roster = this.state.blockAt(to)!.roster;
    if (step.position.roster !== roster) this.stop('invalid-block', url, to, `the co-signed link ${from}.${level} names roster ${short(step.position.roster)} for block ${to}, whose roster is ${short(roster)}`);
  }

  /**
   * The links a client anchored at genesis follows to `head` on this source, checked again each
   * poll (a mirror may replace a file after the monitor read it): O(log n) links.
   */
  private async checkServedPath(url: string, source: LogSource, head: number): Promise<void> {
    const genesis = this.state.blockAt(0)!;
    const hops = planCatchUp(0, head, genesis.base, genesis.maxHeight);
    const served = await Promise.all(hops.map((hop) => source.getLink(hop.fromIndex, hop.level, LOG_FILE_LIMITS.link.maxBytes)));
    for (const [i, hop] of hops.entries()) await this.checkServedLink(url, hop.fromIndex, hop.level, served[i]);
  }

  /**
   * `url` serves another block than the verified one at or before `upTo`: finds, by bisection over
   * its level-0 links (each names its target), the first index whose co-signed claim differs from
   * the verified one, and raises equivocation with a proof (or fork, when no witness signed both
   * or the source withholds the links that would show it).
   */
  private async raiseFork(url: string, source: LogSource, upTo: number, what: string, theirs: string): Promise<never> {
    let low = 1;
    let high = upTo;
    let found: { index: number; file: LinkFile } | undefined;
    while (low <= high) {
      const index = Math.floor((low + high) / 2);
      const bytes = await source.getLink(index - 1, 0, LOG_FILE_LIMITS.link.maxBytes);
      if (bytes === undefined) this.stop('fork', url, upTo, `${what}; it withholds the link into block ${index} that would show where it forked`, null, theirs);
      const file = this.parseOrAlarm(url, index, () => parseLinkFile(bytes, `link ${index - 1}.0 of ${url}`));
      if (file.link.fromIndex !== index - 1 || file.link.level !== 0) this.stop('bad-data', url, index, `the file of link ${index - 1}.0 holds link ${file.link.fromIndex}.${file.link.level}`);
      if (file.link.to === this.state.hashAt(index)) {
        low = index + 1;
      } else {
        found = { index, file };
        high = index - 1;
      }
    }
    if (found === undefined) this.stop('fork', url, upTo, `${what}, yet its links into every block up to ${upTo} name the verified blocks`, null, theirs);
    const { index, file } = found;
    this.checkOrAlarm('bad-data', url, index, () => verifyForwardLinkStep(positionOf(this.state.blockAt(index - 1)!), this.rosterAt(index - 1), file.link, file.cosignature));
    return this.conflict(url, index, this.linkClaim(file));
  }

  /** A co-signed claim from `url` about verified index `index` that names another block: proof, or fork. */
  private async conflict(url: string, index: number, theirs: SignedClaim): Promise<never> {
    const ours = this.state.claimAt(index);
    const theirHash = theirs.kind === 'head' ? theirs.statement.hash : theirs.link.to;
    const what = `block ${index} is ${short(this.state.hashAt(index)!)} by the co-signed link the monitor verified, and ${short(theirHash)} by ${url}`;
    if (ours === undefined) this.stop('fork', url, index, `${what}; the genesis block is pinned, so nothing proves who signed the other`, null, theirHash);
    try {
      const proof = buildEquivocationProof(this.linkClaim(ours), theirs);
      const { culprits } = verifyEquivocationProof(proof);
      const proofFile = join(this.options.stateDir, 'proofs', `equivocation-${index}-${theirHash.slice(0, 16)}.json`);
      await writeFileAtomic(proofFile, canonicalBytes(proof));
      this.raise({ kind: 'equivocation', source: url, index, code: 'EQUIVOCATION', message: `${what}: signed both: ${culprits.map((c) => c.name).join(', ')}`, culprits, proofFile }, theirHash);
      throw new StopSource(`equivocation at block ${index}`);
    } catch (e) {
      if (!(e instanceof LogError)) throw e;
      this.stop('fork', url, index, `${what}; no proof: ${e.message}`, e.code, theirHash);
    }
  }

  /** The claim a verified level-0 link file makes about its target, with the roster in force at its source. */
  private linkClaim(file: LinkFile): SignedClaim {
    const roster = this.state.roster(this.state.blockAt(file.link.fromIndex)!.roster)!;
    return { kind: 'forward-link', link: file.link, cosignature: file.cosignature, roster };
  }

  /**
   * Checks a head statement at a verified index: co-signed by the roster in force there (a head
   * of another block whose signature fails against it may belong to a fork that changed the
   * roster: the fork is looked for), naming the verified block, not ahead of this clock, not older
   * than the head this source served before (rollback), and not older than the allowed age.
   */
  private async checkHead(url: string, source: LogSource, head: HeadFile): Promise<void> {
    const { statement, cosignature } = head;
    const index = statement.index;
    const roster = this.rosterAt(index);
    const differs = statement.hash !== this.state.hashAt(index);
    try {
      verifyCollectiveSignature(roster, headMessage(statement), cosignature);
    } catch (e) {
      if (differs && e instanceof LogError) await this.raiseFork(url, source, index, `its head names ${short(statement.hash)} at block ${index}, not the verified block (co-signed by another roster)`, statement.hash);
      this.checkOrAlarm('bad-data', url, index, () => {
        throw e;
      });
    }
    if (differs) await this.conflict(url, index, { kind: 'head', statement, cosignature, roster: this.state.roster(this.state.blockAt(index)!.roster)! });
    const now = this.now().getTime() / 1000;
    const time = parseUtcTime(statement.time)!;
    if (time > now + MONITOR_LIMITS.maxFutureSkewSeconds) {
      this.stop('bad-data', url, index, `its head of block ${index} is dated ${statement.time}, more than ${MONITOR_LIMITS.maxFutureSkewSeconds} s ahead of this clock (${new Date(now * 1000).toISOString()})`, 'BAD_HEAD', statement.time);
    }
    this.headsChecked++;
    const seen = this.state.seenHead(url);
    const rollback = seen !== undefined && (index < seen.index || time < parseUtcTime(seen.time)!);
    if (rollback) {
      this.raise({ kind: 'rollback', source: url, index, code: 'REPLAYED_HEAD', message: `${url} serves the head of block ${index} at ${statement.time}; it served block ${seen.index} at ${seen.time} before`, culprits: [], proofFile: null }, `${index}/${statement.time}`);
    }
    const age = now - time;
    if (age > this.options.maxHeadAgeSeconds) {
      this.raise({ kind: 'stale-head', source: url, index, code: 'STALE_HEAD', message: `the newest head ${url} serves is from ${statement.time}, ${Math.round(age)} s old (allowed ${this.options.maxHeadAgeSeconds} s): the log may be frozen`, culprits: [], proofFile: null }, statement.time);
    }
    if (!rollback) this.state.setSeenHead(url, { index, hash: statement.hash, time: statement.time, checkpoint: seen?.checkpoint ?? null }); // the newer head seen stays the one remembered
  }

  /** A checkpoint (log/checkpoint) of verified blocks: cosigned at threshold, and its root the tree over their hashes. */
  private async checkCheckpoint(url: string): Promise<void> {
    const bytes = await fetchIfPresent(this.fetcher, new URL(CHECKPOINT_PATH.slice('log/'.length), directoryUrl(url)).href, LOG_FILE_LIMITS.head.maxBytes);
    if (bytes === undefined) return;
    const text = bytes.toString('utf8');
    const seen = this.state.seenHead(url);
    if (seen === undefined || seen.checkpoint === text) return;
    const { size } = this.parseOrAlarm(url, null, () => parseCheckpoint(parseNote(bytes, `checkpoint of ${url}`).text, `checkpoint of ${url}`));
    if (size === 0 || size - 1 > this.state.verifiedIndex) return;
    const roster = this.state.roster(this.state.blockAt(size - 1)!.roster)!;
    const checkpoint = this.checkOrAlarm('bad-data', url, size - 1, () => verifyLogCheckpoint(bytes, this.options.chain, roster, `checkpoint of ${url}`));
    const root = blockTreeRoot(this.state.hashes(size));
    if (!root.equals(checkpoint.rootHash)) {
      this.raise({
        kind: 'bad-checkpoint', source: url, index: size - 1, code: 'BAD_PROOF', culprits: [], proofFile: null,
        message: `the checkpoint of size ${size} cosigned by ${checkpoint.cosigners.map((c) => c.name).join(', ')} has root ${checkpoint.rootHash.toString('base64')}, the tree over the verified blocks is ${root.toString('base64')}`,
      }, text);
    }
    this.state.setSeenHead(url, { ...seen, checkpoint: text });
  }

  // ---- roots and rosters ---------------------------------------------------------------------

  /** The roster in force at verified block `index`, decoded (accepted in full) once. */
  private rosterAt(index: number): DecodedRoster {
    const hash = this.state.blockAt(index)!.roster;
    let decoded = this.rosters.get(hash);
    if (decoded === undefined) {
      decoded = acceptRoster(this.state.roster(hash)!, `roster ${short(hash)}`);
      this.rosters.set(hash, decoded);
    }
    return decoded;
  }

  /**
   * The root role in force at `block` (whose predecessor is `previous`): the root version it
   * records, never older than its predecessor's, whose bytes must hash to the recorded sha256; a
   * newer version is reached from the newest verified one through every version between, each
   * signed by its predecessor's and its own root threshold (TUF 5.3.4). Returns the roots to keep
   * with the block once it is accepted.
   */
  private async rootRoleAt(url: string, block: Block, previous: Block): Promise<{ role: RootRole; roots: VerifiedRoot[] }> {
    const { version, sha256 } = block.payload.root;
    const before = previous.payload.root.version;
    if (version < before) this.stop('invalid-block', url, block.index, `block ${block.index} records root v${version}, older than root v${before} of block ${previous.index}: a root rollback`);
    const known = this.state.root(version);
    if (known !== undefined) {
      if (known.sha256 !== sha256) this.stop('unauthorized-root', url, block.index, `block ${block.index} records root v${version} with sha256 ${short(sha256)}; the monitor verified root v${version} as ${short(known.sha256)}`);
      return { role: rootRoleOf(parseEnvelope('root', known.bytes, `root v${version}`)), roots: [] };
    }
    const newest = this.state.rootVersion;
    if (version - newest > MONITOR_LIMITS.maxRootVersions) this.stop('invalid-block', url, block.index, `block ${block.index} records root v${version}, ${version - newest} versions after v${newest} (at most ${MONITOR_LIMITS.maxRootVersions} are followed)`);
    const trusted = new TrustedSet(this.state.root(newest)!.bytes, this.now());
    const roots: VerifiedRoot[] = [];
    for (let v = newest + 1; v <= version; v++) {
      const bytes = await this.fetchRoot(url, v);
      if (v === version && sha256Hex(bytes) !== sha256) this.stop('bad-data', url, block.index, `its root v${v} is not the root block ${block.index} records (sha256 ${short(sha256)})`);
      this.checkOrAlarm('unauthorized-root', url, block.index, () => trusted.updateRoot(bytes, `root v${v} of ${url}`));
      roots.push({ version: v, sha256: sha256Hex(bytes), bytes });
    }
    return { role: rootRoleOf(trusted.root), roots };
  }

  private async fetchRoot(url: string, version: number): Promise<Buffer> {
    const metadata = new URL('../metadata/', directoryUrl(url));
    return fetchAll(this.fetcher, new URL(`${version}.root.json`, metadata).href, DEFAULT_UPDATER_CONFIG.rootMaxLength);
  }

  // ---- witnesses -----------------------------------------------------------------------------

  /** A witness's own (unsigned) account of its head, compared with the verified chain. */
  private async askWitness(url: string): Promise<WitnessStatus> {
    try {
      const bytes = await fetchAll(this.fetcher, new URL('v1/info', directoryUrl(url)).href, MONITOR_LIMITS.maxInfoBytes);
      const info = parseJsonObject(bytes, `/v1/info of ${url}`);
      const name = typeof info.name === 'string' ? info.name.slice(0, 64) : null;
      const h = info.head as { index?: unknown; hash?: unknown } | null | undefined;
      if (info.chain !== this.options.chain) {
        return { url, name, head: null, problem: { code: 'NOT_REACHABLE', message: `${url} records chain ${typeof info.chain === 'string' ? short(info.chain) : 'none'}, not ${short(this.options.chain)}` } };
      }
      if (h === null || h === undefined || !Number.isSafeInteger(h.index) || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) {
        return { url, name, head: null, problem: { code: 'BAD_ANSWER', message: `${url} reports no head (index and hash)` } };
      }
      const head = { index: h.index as number, hash: h.hash };
      const ours = this.state.hashAt(head.index);
      if (ours !== undefined && ours !== head.hash) {
        // One alarm per witness and index, whatever hash it reports next; its name is its own word.
        this.raise({ kind: 'witness-fork', source: url, index: head.index, code: null, culprits: [], proofFile: null, message: `the witness at ${url} (it says it is ${JSON.stringify(name ?? '')}) reports block ${head.index} as ${short(head.hash)}; the verified block is ${short(ours)} (an unsigned report: the proof is the co-signed link or head the mirrors serve)` });
      }
      return { url, name, head, problem: null };
    } catch (e) {
      if (!isCairnError(e)) throw e;
      return { url, name: null, head: null, problem: { code: e.code, message: e.message } };
    }
  }

  // ---- alarms --------------------------------------------------------------------------------

  private raise(alarm: Alarm, detail = ''): void {
    if (this.state.raise(`${alarm.kind}/${alarm.source}/${alarm.index ?? ''}/${detail}`, alarm, this.now().toISOString())) this.alarms.push(alarm);
  }

  /** Raises an alarm (`detail` tells it from another of its kind, source and index) and stops following the source this poll. */
  private stop(kind: AlarmKind, source: string, index: number | null, message: string, code: string | null = null, detail = ''): never {
    this.raise({ kind, source, index, message, code, culprits: [], proofFile: null }, detail);
    throw new StopSource(message);
  }

  /** Runs a parser on what a source served: a refusal is a bad-data alarm. */
  private parseOrAlarm<T>(url: string, index: number | null, parse: () => T): T {
    return this.checkOrAlarm('bad-data', url, index, parse);
  }

  /** Runs a check: a verification refusal raises `kind` (ROSTER_NOT_AUTHORIZED always raises unauthorized-roster). */
  private checkOrAlarm<T>(kind: AlarmKind, url: string, index: number | null, check: () => T): T {
    try {
      return check();
    } catch (e) {
      if (!isCairnError(e) || e instanceof FetchError) throw e;
      this.stop(e.code === 'ROSTER_NOT_AUTHORIZED' ? 'unauthorized-roster' : kind, url, index, `${url}: ${e.message}`, e.code);
    }
  }
}

/** The files one block's verification reads: the level-0 link into it, the block, the higher-level links into it. */
interface FilesOfBlock {
  link: Uint8Array | undefined;
  block: Uint8Array | undefined;
  links: Array<{ from: number; level: number; bytes: Uint8Array | undefined }>;
}

/**
 * Fetches the files of blocks ahead of the one being verified, so that a walk waits about one
 * round trip a block. Nothing fetched is trusted before it is verified in order; a fetch that
 * fails fails the block that takes it (and is never an unhandled rejection).
 */
class BlockFiles {
  private readonly pending = new Map<number, Promise<FilesOfBlock>>();

  constructor(private readonly source: LogSource, private readonly base: number, private readonly maxHeight: number) {}

  prefetch(index: number): void {
    if (this.pending.has(index)) return;
    const get = (from: number, level: number): Promise<Uint8Array | undefined> => this.source.getLink(from, level, LOG_FILE_LIMITS.link.maxBytes);
    const higher: Array<{ from: number; level: number }> = [];
    for (let level = 1; level < this.maxHeight; level++) {
      const from = index - levelSpan(this.base, level);
      if (from < 0) break;
      if (height(from, this.base, this.maxHeight) > level) higher.push({ from, level });
    }
    const files = Promise.all([get(index - 1, 0), this.source.getBlock(index, LOG_FILE_LIMITS.block.maxBytes), ...higher.map((h) => get(h.from, h.level))])
      .then(([link, block, ...rest]) => ({ link, block, links: higher.map((h, i) => ({ ...h, bytes: rest[i] })) }));
    files.catch(() => undefined);
    this.pending.set(index, files);
  }

  take(index: number): Promise<FilesOfBlock> {
    this.prefetch(index);
    const files = this.pending.get(index)!;
    this.pending.delete(index);
    return files;
  }
}
