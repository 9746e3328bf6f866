// release/leader.ts: the log leader (docs/protocol.md sections 5-8; docs/witness.md). It
// proposes blocks, runs co-signing rounds over HTTP (cosigning-round.ts) and writes the log files
// of protocol.md section 7 (FileLogStore). It holds no trust, and no secret but the witness key
// of the roster member it leads as (docs/witness.md "Who may lead"), which signs its requests:
// every witness checks every proposal against its own records, and a round that fewer than the
// threshold co-sign writes nothing.
//
// Order of writes for a block (so a mirror never serves a log that points at missing files):
// roster (when it changes), block, level-0 link, leader state; then the higher-level forward links
// that end at the new block (a missing one is not fatal: catch-up falls back to lower levels);
// then a head round and log/head.json. The caller writes the TUF files after that.
//
// The leader state file is a pointer to the head (leader-files.ts); when a crash left block and
// level-0 link files past it, open() advances it. Each block is saved as a proposal before its
// first round (leader-files.ts): a round that fails after a respond was sent keeps it, and the
// caller (pipeline.ts) proposes exactly that block again (reproposeBlock) before anything else.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ed25519Signer } from '../crypto/index.js';
import { CappedFileError, readCappedFileIfExists, writeFileAtomic } from '../io/index.js';
import { COSI_ROUND_DEFAULTS, encodeCollectiveSignature, type Roster, type RosterWitness, type WitnessEndpoint, type WitnessKey } from '../cosi/index.js';
import {
  backLinkIndices, blockHash, buildBlock, buildForwardLink, buildHeadStatement, FileLogStore, formatUtcTime, forwardLinkMessage, headMessage, LOG_FILE_LIMITS, levelSpan, parseBlockBytes, parseHeadFile, parseLinkFile, parseRosterBytes,
  parseUtcTime, rosterHash, validateBlock, CHECKPOINT_PATH, checkpointText, treeTiles, treeHashFromTiles, blockHashesFromTiles, type Tile, formatNote, logOrigin, signNoteText, verifyCosignature, type NoteSignature,
  type Block, type ChainView, type LinkFile, type RosterChange, type SkipchainParams, type TufSignature,
} from '../log/index.js';
import { parseEnvelope, rootRoleOf } from '../tuf/index.js';
import { WIRE_LIMITS, type CatchUpEntry, type StatementKind } from '../witness/index.js';
import { describeWitnessError, requireLeaderKey, runCosigningRound, summarizeWitnesses, type CommitBodies, type RoundReport, type RoundSettings } from './cosigning-round.js';
import { cachedSource, documentsFor, payloadOf, type ReleaseDocumentSource } from './documents.js';
import { LeaderError, type WitnessReport } from './errors.js';
import {
  discardProposal, readLeaderState, readProposal, saveProposal, writeLeaderState, type LeaderState, type SavedProposal,
} from './leader-files.js';
import { DEFAULT_CALL_TIMEOUT_MS, fetchInfos, WitnessConnection, type HttpWitnessEndpoint } from './witness-connection.js';

export interface LeaderOptions {
  /** The directory mirrors serve (REPO/public): the log goes to its log/ folder. */
  publicDir: string;
  /** The leader's state file (REPO/state/log.json). */
  stateFile: string;
  /** Deadline of each call to a witness, in ms; default 10,000. */
  callTimeoutMs?: number;
  /** Attempts of a co-signing round; default 3. */
  maxAttempts?: number;
  /** Children per node of the aggregation tree; default 16. */
  branchingFactor?: number;
  now?: () => Date;
  /** Progress lines for people (absent and excluded witnesses, skipped links). */
  progress?: (line: string) => void;
  /**
   * Where a proposed block is saved before its first round (REPO/state/pending-release/
   * proposal.json in a repository). A round that fails after some witness was asked to answer
   * keeps it: that witness may have recorded the block, and co-signs no other at its index, so
   * the next publish proposes the same block again (`savedProposal`, `reproposeBlock`).
   */
  proposalFile?: string;
  /** Wraps each endpoint of a round; tests inject faults here. */
  wrapEndpoint?: (endpoint: HttpWitnessEndpoint, witness: RosterWitness, kind: StatementKind) => WitnessEndpoint;
  /**
   * The leader's witness key (`--leader-key`): a member of the roster, which signs every request
   * that makes a witness work (docs/witness.md "Who may lead"). Rounds refuse to start without it.
   */
  leaderKey?: WitnessKey;
}

export interface BlockReport {
  index: number;
  hash: string;
  rounds: RoundReport[];
  /** Higher-level links that could not be co-signed (catch-up falls back to lower levels). */
  missingLinks: Array<{ fromIndex: number; level: number; reason: string }>;
}

export interface InitLogOptions extends LeaderOptions {
  /** The first roster (roster-authorization.ts rosterRequest: as its witnesses describe themselves). */
  roster: Roster;
  /** The root keys' authorization of it (at least the root threshold; roster-authorization.ts). */
  authorization: readonly TufSignature[];
  /** The repository's currently published state. */
  source: ReleaseDocumentSource;
  params?: SkipchainParams;
}

export class LogLeader {
  private readonly options: LeaderOptions;
  private readonly store: FileLogStore;
  private state: LeaderState;
  private headBlock: Block;
  private readonly rosters = new Map<string, Roster>();
  private readonly blocks = new Map<number, Block>();
  /** Respond requests sent in the current block round (a witness may have recorded the block). */
  private respondsSent = 0;

  constructor(options: LeaderOptions, state: LeaderState, head: Block) {
    this.options = options;
    this.store = new FileLogStore(options.publicDir);
    this.state = state;
    this.headBlock = head;
  }

  /** Opens the log of a repository (NO_LOG when it has none). */
  static async open(options: LeaderOptions): Promise<LogLeader> {
    const state = await readLeaderState(options.stateFile);
    if (!state) throw new LeaderError('NO_LOG', `${options.stateFile} does not exist: this repository has no log`, { hint: 'create one with: cairn log init REPO --witness URL... --threshold N --key ROOTKEY' });
    const store = new FileLogStore(options.publicDir);
    const read = async (i: number): Promise<Block | undefined> => {
      const bytes = await store.getBlock(i, LOG_FILE_LIMITS.block.maxBytes);
      return bytes === undefined ? undefined : parseBlockBytes(bytes, `log/blocks/${i}.json`);
    };
    let head = await read(state.head.index);
    if (!head || blockHash(head) !== state.head.hash) throw new LeaderError('LOG_STATE', `log/blocks/${state.head.index}.json does not hold the head ${state.head.hash.slice(0, 12)} named by ${options.stateFile}`);
    // A crash after the block and its level-0 link were written, before the state was: advance.
    for (;;) {
      const next = await read(head.index + 1);
      if (!next || (await store.getLink(head.index, 0, LOG_FILE_LIMITS.link.maxBytes)) === undefined) break;
      head = next;
      state.head = { index: head.index, hash: blockHash(head) };
      await writeLeaderState(options.stateFile, state);
    }
    return new LogLeader(options, state, head);
  }

  get chain(): string {
    return this.state.chain;
  }

  /** The directory mirrors serve (holding log/). */
  get publicDir(): string {
    return this.options.publicDir;
  }

  get head(): { index: number; hash: string; block: Block } {
    return { ...this.state.head, block: this.headBlock };
  }

  /** The roster in force at the head. */
  async headRoster(): Promise<Roster> {
    return this.roster(this.headBlock.roster);
  }

  /**
   * Proposes the block recording `source` (a new release), runs its round and writes its log
   * files. Throws LeaderError('ROUND_FAILED') naming what each witness said; then nothing is
   * written. `rosterChange` makes it a roster change (authorized by the root keys). `onPhase` is
   * told when the block's collective signature is complete (benchmarks time it).
   */
  async appendBlock(source: ReleaseDocumentSource, rosterChange?: RosterChange, onPhase?: (phase: 'block') => void): Promise<BlockReport> {
    const src = cachedSource(source);
    const head = this.headBlock;
    const time = Math.max(this.now().getTime() / 1000, parseUtcTime(head.payload.time)!);
    const payload = await payloadOf(src, formatUtcTime(time));
    const view = await this.successorView();
    const rootRole = rootRoleOf(parseEnvelope('root', await src.root(src.rootVersion), 'root.json'));
    const block = validateBlock(buildBlock(view, payload, rosterChange ?? null), view, { root: rootRole });
    // Before the proposal is saved: without a member's key no witness would be asked.
    requireLeaderKey(this.options.leaderKey, await this.roster(head.roster), `block ${block.index}`);
    if (this.options.proposalFile !== undefined) await saveProposal(this.options.proposalFile, block, src.attestations);
    return this.cosignBlock(block, src, onPhase);
  }

  /** The proposal saved before a round that failed after witnesses answered (see `proposalFile`). */
  async savedProposal(): Promise<SavedProposal | undefined> {
    return this.options.proposalFile === undefined ? undefined : readProposal(this.options.proposalFile);
  }

  /**
   * Proposes again exactly the block a failed round proposed (the witnesses that answered it
   * recorded it and co-sign no other block at its index), recording `source`, and writes its log
   * files once co-signed. Refuses (LOG_STATE) a block that does not extend the head or does not
   * record `source`: a different state at that index would be a conflicting proposal.
   */
  async reproposeBlock(source: ReleaseDocumentSource, saved: SavedProposal): Promise<BlockReport> {
    const src = cachedSource(saved.attestations && !source.attestations ? { ...source, attestations: saved.attestations } : source);
    const head = this.headBlock;
    const { block } = saved;
    if (block.chain !== this.state.chain || block.index !== head.index + 1) {
      throw new LeaderError('LOG_STATE', `the saved proposal is block ${block.index} of chain ${block.chain.slice(0, 12)}; the head is block ${head.index} of ${this.state.chain.slice(0, 12)}`, { hint: 'a proposal is re-proposed only as the successor of the head' });
    }
    const rootRole = rootRoleOf(parseEnvelope('root', await src.root(src.rootVersion), 'root.json'));
    validateBlock(block, await this.successorView(), { root: rootRole });
    const payload = await payloadOf(src, block.payload.time);
    for (const field of ['root', 'targets', 'snapshot'] as const) {
      if (payload[field].version !== block.payload[field].version || payload[field].sha256 !== block.payload[field].sha256) {
        throw new LeaderError('LOG_STATE', `the saved proposal records ${field} v${block.payload[field].version} ${block.payload[field].sha256.slice(0, 12)}; the saved release has v${payload[field].version} ${payload[field].sha256.slice(0, 12)}`);
      }
    }
    if (payload.attestations !== block.payload.attestations) throw new LeaderError('LOG_STATE', 'the saved proposal records other build attestations than the saved release');
    return this.cosignBlock(block, src);
  }

  /** Forgets the saved proposal (its release was written, or no witness can have recorded it). */
  async discardProposal(): Promise<void> {
    if (this.options.proposalFile !== undefined) await discardProposal(this.options.proposalFile);
  }

  /** A head round when log/head.json does not name the head block (a crash came before it). */
  async ensureHeadStatement(): Promise<RoundReport | undefined> {
    const existing = await this.store.getHead(LOG_FILE_LIMITS.head.maxBytes);
    if (existing !== undefined) {
      const { statement } = parseHeadFile(existing, 'log/head.json');
      if (statement.index === this.state.head.index && statement.hash === this.state.head.hash) return undefined;
    }
    return this.headRound();
  }

  /** A fresh head statement for the head block, co-signed by its roster; writes log/head.json. */
  async headRound(): Promise<RoundReport> {
    const head = this.headBlock;
    const existing = await this.store.getHead(LOG_FILE_LIMITS.head.maxBytes);
    let seconds = Math.floor(this.now().getTime() / 1000);
    if (existing !== undefined) {
      // Never older than the statement published: clients refuse a head that goes back in time.
      const oldTime = parseUtcTime(parseHeadFile(existing, 'log/head.json').statement.time);
      if (oldTime !== undefined && oldTime > seconds) seconds = oldTime;
    }
    const statement = buildHeadStatement(head, formatUtcTime(seconds));
    const roster = await this.roster(head.roster);
    const commits: CommitBodies = new Map(roster.witnesses.map((_, i) => [i, { kind: 'head' as const, statement }]));
    const r = await runCosigningRound(this.roundSettings(), 'head', `head ${head.index} at ${statement.time}`, roster, headMessage(statement), commits, new Map());
    await this.store.putHead({ statement, cosignature: encodeCollectiveSignature(r.result.cosignature) });
    return r.report;
  }

  /**
   * The head as a C2SP checkpoint (docs/transparency.md "Checkpoints of a cairn log"): the RFC 6962
   * root over the hashes of every block, signed by the leader's key as the log, cosigned by each
   * witness of the head roster that recorded the same head (each cosignature verified before it
   * is kept); written to log/checkpoint once the roster's threshold cosigned. ROUND_FAILED, and
   * nothing written, below the threshold.
   */
  async checkpoint(): Promise<{ size: number; rootHash: string; cosigners: string[]; missing: WitnessReport[] }> {
    const head = this.headBlock;
    const roster = await this.roster(head.roster);
    const leaderKey = requireLeaderKey(this.options.leaderKey, roster, 'the checkpoint');
    // The full entries tiles a checkpoint wrote before give 256 block hashes a file.
    const logDir = dirname(join(this.publicDir, CHECKPOINT_PATH));
    const hashes = await blockHashesFromTiles(head.index + 1, (path, maxBytes) => readTileFile(join(logDir, path), maxBytes), async (i) => blockHash(await this.block(i)));
    const origin = logOrigin(this.chain);
    // The tree is hashed once, into its tiles; the root is read from the few tiles it needs.
    const tiles = treeTiles(hashes.map((h) => Buffer.from(h, 'hex')));
    const byPath = new Map(tiles.map((t) => [t.path, t.bytes]));
    const rootHash = await treeHashFromTiles(async (path) => byPath.get(path), head.index + 1);
    const text = checkpointText({ origin, size: head.index + 1, rootHash, extensions: [] });
    // In roster order (Promise.all keeps it): each witness's cosignature line, or why there is none.
    const answers = await Promise.all(roster.witnesses.map(async (w): Promise<{ name: string; line: NoteSignature } | WitnessReport> => {
      try {
        const a = await new WitnessConnection(w.address, { timeoutMs: this.timeout(), signer: { leaderKey, witnessKey: w.key } }).checkpoint({ checkpoint: text });
        const decoded = Buffer.from(a.signature, 'base64');
        const line: NoteSignature = { name: a.name, keyId: decoded.subarray(0, 4), signature: decoded.subarray(4) };
        // Kept only when it verifies for that witness's roster name and key.
        verifyCosignature({ text, signatures: [line] }, { name: w.name, publicKey: Buffer.from(w.key, 'hex') }, `${w.name}'s cosignature`);
        return { name: w.name, line };
      } catch (e) {
        return { name: w.name, address: w.address, ...describeWitnessError(e) };
      }
    }));
    const cosigned = answers.flatMap((a) => ('line' in a ? [a] : []));
    const missing = answers.flatMap((a) => ('line' in a ? [] : [a]));
    if (cosigned.length < roster.threshold) {
      throw new LeaderError('ROUND_FAILED', `the checkpoint of ${head.index + 1} blocks was cosigned by ${cosigned.length} witnesses; the roster's threshold is ${roster.threshold}; ${summarizeWitnesses(missing)}`, { witnesses: missing });
    }
    const note = formatNote({ text, signatures: [signNoteText(text, origin, ed25519Signer(leaderKey.privateKey)), ...cosigned.map((c) => c.line)] });
    await this.writeTiles(tiles);
    await writeFileAtomic(join(this.publicDir, CHECKPOINT_PATH), note);
    return { size: head.index + 1, rootHash: rootHash.toString('base64'), cosigners: cosigned.map((c) => c.name), missing };
  }

  /**
   * The tiles of the tree (log/tiles.ts), before the checkpoint that names it: full tiles already
   * written are left as they are (they never change), partial ones are written.
   */
  private async writeTiles(tiles: readonly Tile[]): Promise<void> {
    const logDir = dirname(join(this.publicDir, CHECKPOINT_PATH));
    for (const tile of tiles) {
      const path = join(logDir, tile.path);
      if (tile.full && existsSync(path)) continue;
      await writeFileAtomic(path, tile.bytes);
    }
  }

  /**
   * A roster change: a block recording the current state `source` with a new roster, authorized
   * by the root keys (roster-authorization.ts); the old roster approves it. Witnesses of the new
   * roster that follow no chain yet join it (genesis plus catch-up) before the head round.
   */
  async changeRoster(options: { roster: Roster; authorization: readonly TufSignature[]; source: ReleaseDocumentSource }): Promise<BlockReport> {
    // The leader leads the new roster's rounds too (its head round, at once).
    requireLeaderKey(this.options.leaderKey, options.roster, 'the new roster');
    return this.appendBlock(options.source, { roster: options.roster, authorization: [...options.authorization] });
  }

  /** Status of each witness of the head roster, as its /v1/info says. */
  async witnessStatus(): Promise<Array<{ name: string; address: string; reachable: boolean; head: number | null; behind: number | null; detail?: string }>> {
    const roster = await this.roster(this.headBlock.roster);
    const infos = await fetchInfos(roster.witnesses.map((w) => w.address), Math.min(this.timeout(), 5_000));
    return roster.witnesses.map((w, i) => {
      const info = infos[i]!;
      if (info instanceof Error) return { name: w.name, address: w.address, reachable: false, head: null, behind: null, detail: info.message };
      const head = info.chain === this.state.chain ? (info.head?.index ?? null) : null;
      return {
        name: w.name, address: w.address, reachable: true, head, behind: head === null ? null : this.headBlock.index - head,
        ...(info.chain !== this.state.chain ? { detail: info.chain === null ? 'follows no chain' : `follows chain ${info.chain.slice(0, 12)}` } : {}),
      };
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private timeout(): number {
    return this.options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  private roundSettings(): RoundSettings {
    return {
      callTimeoutMs: this.timeout(),
      maxAttempts: this.options.maxAttempts ?? COSI_ROUND_DEFAULTS.maxAttempts,
      branchingFactor: this.options.branchingFactor ?? COSI_ROUND_DEFAULTS.branchingFactor,
      ...(this.options.wrapEndpoint ? { wrapEndpoint: this.options.wrapEndpoint } : {}),
      ...(this.options.leaderKey ? { leaderKey: this.options.leaderKey } : {}),
      onRespondSent: () => {
        this.respondsSent += 1;
      },
    };
  }

  /** What a successor of the head needs of the chain: the hashes of the blocks its back links name. */
  private async successorView(): Promise<ChainView> {
    const head = this.headBlock;
    const hashes = new Map<number, string>();
    for (const i of backLinkIndices(head.index + 1, head.base, head.maxHeight)) hashes.set(i, blockHash(await this.block(i)));
    return { chain: this.state.chain, base: head.base, maxHeight: head.maxHeight, head, hashAt: (i) => hashes.get(i) };
  }

  /** Runs the block's round and writes its log files (then higher-level links and a head round). */
  private async cosignBlock(block: Block, src: ReleaseDocumentSource, onPhase?: (phase: 'block') => void): Promise<BlockReport> {
    const head = this.headBlock;
    const hash = blockHash(block);
    const link = buildForwardLink(head, block);
    const signing = await this.roster(head.roster);
    const { commits, skipped } = await this.blockCommits(signing, block, link, src);
    this.respondsSent = 0;
    let round: Awaited<ReturnType<typeof runCosigningRound>>;
    try {
      round = await runCosigningRound(this.roundSettings(), 'block', `block ${block.index} ${hash.slice(0, 12)}`, signing, forwardLinkMessage(link), commits, skipped);
    } catch (e) {
      if (!(e instanceof LeaderError) || e.code !== 'ROUND_FAILED' || this.options.proposalFile === undefined) throw e;
      if (this.respondsSent === 0) {
        // No witness was asked to answer, so none recorded the block: nothing binds the next proposal.
        await this.discardProposal();
        throw e;
      }
      throw new LeaderError('ROUND_FAILED', `${e.message}; witnesses that answered recorded block ${block.index} ${hash.slice(0, 12)} and co-sign no other block there, so the proposal is kept in ${this.options.proposalFile}`, {
        witnesses: e.witnesses,
        cause: e,
        hint: 'bring the witnesses back, then run cairn log retry REPO --key TIMESTAMPKEY (or cairn repo publish, which re-proposes it first)',
      });
    }
    const cosignature = encodeCollectiveSignature(round.result.cosignature);
    onPhase?.('block');

    if (block.rosterChange) await this.store.putRoster(block.rosterChange.roster);
    await this.store.putBlock(block);
    await this.store.putLink({ link, cosignature });
    this.state = { ...this.state, head: { index: block.index, hash } };
    this.headBlock = block;
    this.blocks.set(block.index, block);
    await writeLeaderState(this.options.stateFile, this.state);
    const report: BlockReport = { index: block.index, hash, rounds: [round.report], missingLinks: [] };

    if (block.rosterChange) await this.joinNewWitnesses(block, src);
    await this.cosignHigherLinks(block, report);
    report.rounds.push(await this.headRound());
    return report;
  }

  /** Per witness of the signing roster: its catch-up entries and the documents its recorded state lacks. */
  private async blockCommits(signing: Roster, block: Block, link: ReturnType<typeof buildForwardLink>, src: ReleaseDocumentSource): Promise<{ commits: CommitBodies; skipped: Map<number, WitnessReport> }> {
    const head = this.headBlock;
    const infos = await fetchInfos(signing.witnesses.map((w) => w.address), this.timeout());
    const skipped = new Map<number, WitnessReport>();
    const commits: CommitBodies = new Map();
    for (const [i, w] of signing.witnesses.entries()) {
      const info = infos[i]!;
      const skip = (detail: string, status: WitnessReport['status'] = 'absent'): void => {
        skipped.set(i, { name: w.name, address: w.address, status, detail });
      };
      if (info instanceof Error) {
        skip(info.message);
        continue;
      }
      if (info.key !== w.key) {
        skip(`answers with key ${info.key.slice(0, 12)}, the roster has ${w.key.slice(0, 12)}`, 'excluded');
        continue;
      }
      if (info.chain !== this.state.chain || info.head === null) {
        skip(info.chain === null ? 'follows no chain' : `follows chain ${info.chain.slice(0, 12)}`, 'excluded');
        continue;
      }
      let catchUp: CatchUpEntry[] | undefined;
      if (info.head.index < head.index) {
        if (head.index - info.head.index > WIRE_LIMITS.maxCatchUp) {
          skip(`is ${head.index - info.head.index} blocks behind, more than one request catches up (${WIRE_LIMITS.maxCatchUp})`);
          continue;
        }
        catchUp = await this.catchUpEntries(info.head.index, head.index);
      }
      commits.set(i, {
        kind: 'block', statement: link, block, documents: await documentsFor(src, info.state, src.rootVersion),
        ...(catchUp ? { catchUp } : {}), ...(src.attestations ? { attestations: src.attestations.files } : {}),
      });
    }
    return { commits, skipped };
  }

  /** Higher-level forward links that end at the new block, each co-signed by the roster of its source. */
  private async cosignHigherLinks(block: Block, report: BlockReport): Promise<void> {
    for (let level = 1; level < block.height; level++) {
      const from = block.index - levelSpan(block.base, level);
      try {
        const source = await this.block(from);
        const higher = buildForwardLink(source, block);
        const roster = await this.roster(source.roster);
        const commits: CommitBodies = new Map(roster.witnesses.map((_, i) => [i, { kind: 'link' as const, statement: higher }]));
        const r = await runCosigningRound(this.roundSettings(), 'link', `link ${from}->${block.index} (level ${level})`, roster, forwardLinkMessage(higher), commits, new Map());
        await this.store.putLink({ link: higher, cosignature: encodeCollectiveSignature(r.result.cosignature) } satisfies LinkFile);
        report.rounds.push(r.report);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        // Reported with the block (BlockReport.missingLinks); catch-up falls back to lower levels.
        report.missingLinks.push({ fromIndex: from, level, reason });
      }
    }
  }

  /** Level-0 links and blocks from `fromIndex` (exclusive) to `toIndex` (inclusive). */
  private async catchUpEntries(fromIndex: number, toIndex: number): Promise<CatchUpEntry[]> {
    const out: CatchUpEntry[] = [];
    for (let i = fromIndex + 1; i <= toIndex; i++) {
      const bytes = await this.store.getLink(i - 1, 0, LOG_FILE_LIMITS.link.maxBytes);
      if (bytes === undefined) throw new LeaderError('LOG_STATE', `log/links/${i - 1}.0.json is missing`);
      const file = parseLinkFile(bytes, `log/links/${i - 1}.0.json`);
      out.push({ block: await this.block(i), link: file.link, cosignature: file.cosignature });
    }
    return out;
  }

  /** Brings witnesses of a new roster that follow no chain onto this one (genesis + catch-up). */
  private async joinNewWitnesses(block: Block, source: ReleaseDocumentSource): Promise<void> {
    const roster = block.rosterChange!.roster;
    const infos = await fetchInfos(roster.witnesses.map((w) => w.address), this.timeout());
    const genesis = await this.block(0);
    const leaderKey = requireLeaderKey(this.options.leaderKey, roster, `joining the roster of block ${block.index}`);
    for (const [i, w] of roster.witnesses.entries()) {
      const info = infos[i]!;
      if (info instanceof Error || info.chain !== null) continue;
      if (block.index > WIRE_LIMITS.maxCatchUp) {
        this.options.progress?.(`witness ${w.name} follows no chain and the chain is longer than one join request; it cannot join`);
        continue;
      }
      try {
        const documents = await documentsFor(source, null, genesis.payload.root.version);
        await new WitnessConnection(w.address, { timeoutMs: this.timeout(), signer: { leaderKey, witnessKey: w.key } }).genesis({ block: genesis, documents, catchUp: await this.catchUpEntries(0, block.index) });
        this.options.progress?.(`witness ${w.name} joined the chain at block ${block.index}`);
      } catch (e) {
        this.options.progress?.(`witness ${w.name} could not join the chain: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /** Block `index` of the published log, read once. */
  private async block(index: number): Promise<Block> {
    const cached = this.blocks.get(index);
    if (cached) return cached;
    const bytes = await this.store.getBlock(index, LOG_FILE_LIMITS.block.maxBytes);
    if (bytes === undefined) throw new LeaderError('LOG_STATE', `log/blocks/${index}.json is missing from ${this.options.publicDir}`);
    const block = parseBlockBytes(bytes, `log/blocks/${index}.json`);
    this.blocks.set(index, block);
    return block;
  }

  /** The roster of hash `hash` of the published log, read once. */
  private async roster(hash: string): Promise<Roster> {
    const cached = this.rosters.get(hash);
    if (cached) return cached;
    const bytes = await this.store.getRoster(hash, LOG_FILE_LIMITS.roster.maxBytes);
    if (bytes === undefined) throw new LeaderError('LOG_STATE', `log/rosters/${hash}.json is missing from ${this.options.publicDir}`);
    const roster = parseRosterBytes(bytes, `roster ${hash.slice(0, 12)}`);
    if (rosterHash(roster) !== hash) throw new LeaderError('LOG_STATE', `log/rosters/${hash}.json holds roster ${rosterHash(roster).slice(0, 12)}`);
    this.rosters.set(hash, roster);
    return roster;
  }
}

/** A tile file of this log's public directory, at most `maxBytes`; undefined when there is none or it is larger (then it is not used). */
async function readTileFile(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
  try {
    return await readCappedFileIfExists(path, maxBytes);
  } catch (e) {
    if (e instanceof CappedFileError) return undefined;
    throw e;
  }
}
