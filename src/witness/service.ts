// witness/service.ts: what a witness decides (docs/design.md "What a witness checks before it
// co-signs a block"; docs/protocol.md section 8; CHAINIAC section 4). Transport-free: the HTTP
// API (http-api.ts) parses requests and hands typed values here.
//
// Before it commits a nonce pair for a block, the witness checks: the catch-up blocks it missed,
// each by its co-signed level-0 link (roster of its source block); the block extends the head it
// recorded itself (index, back links) and no other block is recorded at that index; the
// statement is exactly the level-0 link from that head; the block time is within its clock skew;
// the documents are a valid successor of the TUF state it recorded (src/policy: root chain,
// developer thresholds, versions, hashes, expiry) and the payload describes them; a roster
// change carries the authorization of the root threshold in force at the block; every artifact
// the block adds or changes has the build policy's quorum of rebuild attestations (policy of the
// root in the new state) and the payload records their digest. Links are
// co-signed only between blocks it recorded, head statements only for its own head.
//
// A response leaves only after WitnessStore.commitResponse recorded, in one durable transaction,
// the nonce's use and, for a block, the new head and TUF state: the NonceStore the CosiSigner
// calls before it releases s_i is that transaction.
//
// Every request comes from a peer: the roster member whose signature the HTTP API verified
// (request-auth.ts; docs/protocol.md section 8 "Who may ask"). A nonce answers only the peer it
// was committed to, and each peer holds at most REQUEST_AUTH_LIMITS.maxPendingPerPeer pending
// nonces (more drops its own oldest), so one member's flood cannot evict another's rounds. A
// fresh witness accepts only the genesis of the chain its operator named (docs/witness.md "The
// chain a witness serves"), sent by a member of that chain's roster.
import { canonicalBytes } from '../encoding/canonical-json.js';
import {
  acceptRoster,
  createProofOfPossession,
  CosiSigner,
  type AcceptedRoster,
  type NonceStore,
  type Roster,
  type WitnessKey,
} from '../cosi/index.js';
import {
  blockHash,
  buildForwardLink,
  forwardLinkMessage,
  headMessage,
  LogError,
  parseBlock,
  parseCollectiveSignature,
  parseForwardLink,
  parseHeadStatement,
  validateBlock,
  validateGenesis,
  verifyForwardLink,
  genesisAuthorizationChain,
  verifyRosterAuthorization,
  blockTreeRoot,
  cosignCheckpoint,
  logOrigin,
  parseCheckpoint,
  type Block,
  type ChainView,
} from '../log/index.js';
import { buildPolicyOf, changedArtifacts, checkClockSkew, checkGenesisState, checkJoinState, checkPayloadMatches, checkSuccessorState, PolicyError, type ReleaseState } from '../policy/index.js';
import { parseEnvelope, rootRoleOf, type RootEnvelope, type TargetsEnvelope } from '../tuf/index.js';
import { sha256Hex } from '../crypto/hash.js';
import { keyMaterialId, type TufPublicKey } from '../crypto/public-key.js';
import { ed25519Signer } from '../crypto/signer.js';
import { refusal, type WitnessDecision } from './decisions.js';
import { WitnessError } from './errors.js';
import { pinnedRootRole, type ChainPin } from './config.js';
import { checkBuildAttestations, decodeDocuments, stateDocuments, TARGETS_PREFIX } from './release-documents.js';
import { REQUEST_AUTH_LIMITS } from './request-auth.js';
import { UpstreamChecker, type UpstreamTrust, type UpstreamVerdict } from './upstream-check.js';
import type { RecordedBlock, ResponseEffects, WitnessStore } from './store.js';
import { WIRE_LIMITS, type CatchUpEntry, type CheckpointAnswer, type CheckpointRequest, type CommitAnswer, type CommitRequest, type GenesisAnswer, type GenesisRequest, type InfoAnswer, type RespondAnswer, type RespondRequest } from './wire.js';

export interface WitnessIdentity {
  name: string;
  /** The URL other parties reach this witness at (as in its roster entry). */
  address: string;
  key: WitnessKey;
}

export interface WitnessServiceOptions {
  identity: WitnessIdentity;
  store: WitnessStore;
  /** The one chain this witness serves (its operator's choice); without it, no genesis is accepted. */
  chain?: ChainPin;
  /** Largest distance between a block's (or head statement's) time and this clock; default 300 s. */
  clockSkewSeconds?: number;
  /** This witness's clock (tests drive it). */
  now?: () => Date;
  /** Told of every decision: what was asked, accepted or refused, and the rule's code. */
  onDecision?: (decision: WitnessDecision) => void;
  /** Most commitments awaiting their respond; the oldest of the peer holding most are dropped. Default 1,024. */
  maxPending?: number;
  /** Most commitments one peer may hold; its own oldest are dropped. Default REQUEST_AUTH_LIMITS.maxPendingPerPeer. */
  maxPendingPerPeer?: number;
  /** A commitment not answered within this time is dropped. Default 120 s. */
  pendingTtlMs?: number;
  /** This witness's own trust for imported sources (witness.json "upstream"). */
  upstream?: UpstreamTrust;
}

/** A committed nonce pair: what it may sign, and what answering records. */
interface Pending {
  /** The roster member that asked for it: only it may have it answered. */
  peer: string;
  kind: string;
  what: string;
  message: Buffer;
  roster: AcceptedRoster;
  effects: ResponseEffects;
  expiresAt: number;
  /** What it says to the asker about what it checked (commit answer `notes`). */
  notes?: string[];
}

/** What prepareUpstream found for a block request: the verdicts on its imports, and the successor state when nothing had to be fetched. */
interface PreparedBlock {
  stateIndex: number;
  next?: ReleaseState;
  upstream: ReadonlyMap<string, UpstreamVerdict>;
}

const canonicalText = (value: unknown): string => canonicalBytes(value).toString('utf8');
const recorded = (block: Block): RecordedBlock => ({ index: block.index, hash: blockHash(block), body: canonicalText(block) });

export class WitnessService {
  readonly identity: WitnessIdentity;
  readonly pop: string;
  private readonly store: WitnessStore;
  private readonly signer: CosiSigner;
  private readonly skew: number;
  private readonly now: () => Date;
  private readonly onDecision: (decision: WitnessDecision) => void;
  private readonly maxPending: number;
  private readonly maxPendingPerPeer: number;
  private readonly ttl: number;
  private readonly pin: ChainPin | undefined;
  private readonly upstream: UpstreamChecker;
  private readonly pending = new Map<string, Pending>();
  /** Pending nonce IDs by peer (insertion order = age). */
  private readonly pendingByPeer = new Map<string, Set<string>>();
  /** Effects of the response being answered, by nonce ID (read by the NonceStore). */
  private readonly answering = new Map<string, ResponseEffects>();
  private cachedState: { index: number; state: ReleaseState } | undefined;
  private cachedHead: { hash: string; block: Block } | undefined;
  private cachedMembers: { hash: string; keys: ReadonlySet<string> } | undefined;
  private cachedTree: { head: string; root: Buffer } | undefined;

  constructor(options: WitnessServiceOptions) {
    this.identity = options.identity;
    this.pop = Buffer.from(createProofOfPossession(options.identity.key)).toString('hex');
    this.store = options.store;
    this.skew = options.clockSkewSeconds ?? 300;
    this.now = options.now ?? (() => new Date());
    this.onDecision = options.onDecision ?? (() => undefined);
    this.maxPending = options.maxPending ?? 1024;
    this.maxPendingPerPeer = options.maxPendingPerPeer ?? REQUEST_AUTH_LIMITS.maxPendingPerPeer;
    this.pin = options.chain;
    this.upstream = new UpstreamChecker(options.upstream);
    this.ttl = options.pendingTtlMs ?? 120_000;
    const nonceStore: NonceStore = {
      markUsed: async (id) => {
        this.store.commitResponse(id, this.answering.get(id) ?? {});
      },
    };
    this.signer = new CosiSigner(options.identity.key, { store: nonceStore });
  }

  /**
   * The keys that may ask this witness to work: the members of the roster in force at its head;
   * undefined while it follows no chain (then only a genesis is accepted, checked by genesis()).
   */
  members(): ReadonlySet<string> | undefined {
    const head = this.store.head();
    if (!head) return undefined;
    if (this.cachedMembers?.hash !== head.hash) {
      const json = this.store.roster(this.headBlock().roster);
      const roster = json === undefined ? { witnesses: [] } : (JSON.parse(json) as Roster);
      this.cachedMembers = { hash: head.hash, keys: new Set(roster.witnesses.map((w) => w.key)) };
    }
    return this.cachedMembers.keys;
  }

  /** Logs a request refused before it reached a decision (malformed, over a cap). */
  noteRefused(label: string, e: unknown): void {
    this.onDecision(refusal(label, e));
  }

  // ---- GET /v1/info ----------------------------------------------------------------------

  info(): InfoAnswer {
    const { name, address, key } = this.identity;
    const head = this.store.head();
    const chain = this.store.chain ?? null;
    let state: InfoAnswer['state'] = null;
    const stateIndex = this.store.stateIndex;
    if (chain !== null && stateIndex !== undefined) {
      const roles: Record<string, number> = {};
      let root = 0;
      let snapshot = 0;
      for (const [role, d] of this.store.documents()) {
        if (role === 'root') root = d.version;
        else if (role === 'snapshot') snapshot = d.version;
        else if (role.startsWith(TARGETS_PREFIX)) roles[role.slice(TARGETS_PREFIX.length)] = d.version;
      }
      state = { index: stateIndex, root, snapshot, roles };
    }
    return { name, key: key.publicKeyHex, pop: this.pop, address, chain, head: head ? { index: head.index, hash: head.hash } : null, state };
  }

  // ---- POST /v1/genesis ------------------------------------------------------------------

  genesis(request: GenesisRequest, peer: string): GenesisAnswer {
    return this.decide(`genesis (from ${peer.slice(0, 12)})`, () => {
      const genesis = parseBlock(request.block, 'genesis block');
      if (genesis.index !== 0) throw new LogError('BAD_BLOCK', `a genesis block has index 0, found ${genesis.index}`);
      const chain = blockHash(genesis);
      const what = `genesis ${chain.slice(0, 12)}${request.catchUp?.length ? ` + ${request.catchUp.length} blocks (join)` : ''}`;
      const followed = this.store.chain;
      if (followed !== undefined) {
        if (followed !== chain) throw new WitnessError('CHAIN_MISMATCH', `this witness follows chain ${followed.slice(0, 12)}, not ${chain.slice(0, 12)}`);
        const head = this.store.head()!;
        return { what: `${what}: already following`, result: { head: { index: head.index, hash: head.hash } } };
      }
      if (!genesis.rosterChange) throw new LogError('BAD_BLOCK', 'a genesis block carries its roster (rosterChange)');
      this.requirePinnedChain(genesis, chain, what);
      const entries = request.catchUp ?? [];
      // Cheap before the expensive checks: the sender is in a roster this chain brings.
      const named = [genesis.rosterChange.roster, ...entries.map((e, i) => parseBlock(e.block, `catchUp[${i}] block`).rosterChange?.roster)];
      if (!named.some((r) => r?.witnesses.some((w) => w.key === peer))) {
        throw new WitnessError('NOT_A_MEMBER', `${what}: the sender ${peer.slice(0, 12)} is in no roster of this chain`);
      }
      const now = this.now();
      const docs = decodeDocuments(request.documents);
      let state: ReleaseState;
      let rosters = new Map<string, string>([[genesis.roster, canonicalText(genesis.rosterChange!.roster)]]);
      let blocks: Block[] = [];
      if (entries.length === 0) {
        state = checkGenesisState(docs, now);
        this.requirePinnedRoot(state.root, what);
        checkPayloadMatches(genesis.payload, state);
        validateGenesis(genesis, rootRoleOf(state.root));
      } else {
        // Joining a running chain: roots[0] is the genesis root, the blocks come with their
        // co-signed level-0 links, the documents describe the last block's state.
        const genesisRoot = parseEnvelope('root', docs.roots[0] ?? new Uint8Array(), 'genesis root');
        this.requirePinnedRoot(genesisRoot, what);
        validateGenesis(genesis, rootRoleOf(genesisRoot));
        const walk = this.verifyCatchUp(genesis, entries, (hash) => (hash === genesis.roster ? genesis.rosterChange!.roster : undefined));
        blocks = walk.blocks;
        rosters = new Map([...rosters, ...walk.rosters]);
        state = checkJoinState(docs, now);
        const recordedRoot = genesis.payload.root;
        if (genesisRoot.version !== recordedRoot.version || sha256Hex(docs.roots[0]!) !== recordedRoot.sha256) {
          throw new PolicyError('PAYLOAD_MISMATCH', `documents.roots[0] is not the genesis root v${recordedRoot.version} ${recordedRoot.sha256.slice(0, 12)}`);
        }
        checkPayloadMatches(blocks[blocks.length - 1]!.payload, state);
      }
      const last = blocks.length > 0 ? blocks[blocks.length - 1]! : genesis;
      const roster = acceptRoster(JSON.parse(rosters.get(last.roster)!) as Roster);
      if (roster.indexOf(this.identity.key.publicKeyHex) < 0) {
        throw new WitnessError('NOT_IN_ROSTER', `this witness (${this.identity.name}) is not in roster ${roster.hash.slice(0, 12)} in force at block ${last.index}`);
      }
      if (roster.indexOf(peer) < 0) throw new WitnessError('NOT_A_MEMBER', `${what}: the sender ${peer.slice(0, 12)} is not in roster ${roster.hash.slice(0, 12)} in force at block ${last.index}`);
      this.store.initChain(chain, recorded(genesis), stateDocuments(state), rosters, blocks.map(recorded));
      this.invalidate();
      return { what, result: { head: { index: last.index, hash: blockHash(last) } } };
    });
  }

  // ---- POST /v1/commit -------------------------------------------------------------------

  async commit(request: CommitRequest, peer: string): Promise<CommitAnswer> {
    const prepared = request.kind === 'block' ? await this.prepareUpstream(request) : undefined;
    return this.decide(`commit ${request.kind} (session ${request.session.slice(0, 16)})`, () => {
      this.expire();
      const p = request.kind === 'block' ? this.checkBlock(request, prepared) : request.kind === 'link' ? this.checkLink(request.statement) : this.checkHead(request.statement);
      this.makeRoomFor(peer);
      const c = this.signer.commit();
      this.pending.set(c.nonceId, { ...p, peer, expiresAt: Date.now() + this.ttl });
      const mine = this.pendingByPeer.get(peer) ?? new Set<string>();
      mine.add(c.nonceId);
      this.pendingByPeer.set(peer, mine);
      return { what: p.what, result: { nonceId: c.nonceId, R1: Buffer.from(c.R1).toString('hex'), R2: Buffer.from(c.R2).toString('hex'), ...(p.notes?.length ? { notes: p.notes } : {}) } };
    });
  }

  // ---- POST /v1/respond ------------------------------------------------------------------

  async respond(request: RespondRequest, peer: string): Promise<RespondAnswer> {
    const label = `respond (session ${request.session.slice(0, 16)}, nonce ${request.nonceId})`;
    let what = label;
    try {
      this.expire();
      const p = this.pending.get(request.nonceId);
      // Another member's nonce is refused as unknown, and stays theirs.
      if (!p || p.peer !== peer) {
        if (this.store.isNonceUsed(request.nonceId)) throw new WitnessError('NONCE_REUSED', `nonce ${request.nonceId} was already used; a nonce answers at most once`);
        throw new WitnessError('UNKNOWN_NONCE', `nonce ${request.nonceId} was not committed by this witness to ${peer.slice(0, 12)} (or its commitment expired)`);
      }
      this.forget(request.nonceId, false);
      what = `${label} for ${p.what}`;
      const message = Buffer.from(request.message, 'hex');
      if (!message.equals(p.message) || request.rosterHash !== p.roster.hash) {
        // The first challenge naming a nonce pair consumes it whatever its outcome.
        this.signer.discard(request.nonceId);
        this.store.commitResponse(request.nonceId);
        throw new WitnessError('STATEMENT_CHANGED', `the challenge names ${request.rosterHash === p.roster.hash ? 'another message' : `roster ${request.rosterHash.slice(0, 12)}`} than the ${p.kind} statement nonce ${request.nonceId} was committed to; it is consumed and will not answer`);
      }
      this.answering.set(request.nonceId, p.effects);
      let s: Uint8Array;
      try {
        s = await this.signer.respond({
          nonceId: request.nonceId,
          R1: Buffer.from(request.R1, 'hex'),
          R2: Buffer.from(request.R2, 'hex'),
          bitmap: Buffer.from(request.bitmap, 'hex'),
          roster: p.roster,
          message,
        });
      } finally {
        this.answering.delete(request.nonceId);
        this.invalidate();
      }
      const recorded = p.effects.blocks?.length ? p.effects.blocks[p.effects.blocks.length - 1]!.index : undefined;
      this.onDecision({ request: label, outcome: 'accepted', what: p.what, ...(recorded !== undefined ? { head: recorded } : {}) });
      return { s: Buffer.from(s).toString('hex') };
    } catch (e) {
      this.onDecision(refusal(what, e));
      throw e;
    }
  }

  // ---- POST /v1/checkpoint ---------------------------------------------------------------

  /**
   * A cosignature/v1 of a C2SP checkpoint of this witness's own head (docs/transparency.md): its
   * chain's origin, the number of blocks it recorded, and the RFC 6962 root over their hashes;
   * anything else (another size, another root: a fork) is refused with NOT_OWN_HEAD.
   */
  cosignCheckpoint(request: CheckpointRequest, peer: string): CheckpointAnswer {
    return this.decide(`checkpoint (from ${peer.slice(0, 12)})`, () => {
      const chain = this.requireChain();
      const checkpoint = parseCheckpoint(request.checkpoint, 'checkpoint');
      const head = this.store.head()!;
      const what = `checkpoint ${checkpoint.size} ${checkpoint.rootHash.toString('base64').slice(0, 12)}`;
      if (checkpoint.origin !== logOrigin(chain)) throw new WitnessError('CHAIN_MISMATCH', `${what} is of ${checkpoint.origin}; this witness follows ${logOrigin(chain)}`);
      if (checkpoint.extensions.length > 0) throw new WitnessError('BAD_STATEMENT', `${what} has extension lines; this witness cosigns origin, size and root hash only`);
      if (checkpoint.size !== head.index + 1) throw new WitnessError('NOT_OWN_HEAD', `${what} names a tree of ${checkpoint.size} blocks; this witness recorded ${head.index + 1}`);
      if (!checkpoint.rootHash.equals(this.treeRoot(head.index, head.hash))) throw new WitnessError('NOT_OWN_HEAD', `${what} is not the root of the tree over the ${head.index + 1} blocks this witness recorded`);
      const line = cosignCheckpoint(request.checkpoint, this.identity.name, ed25519Signer(this.identity.key.privateKey), Math.floor(this.now().getTime() / 1000));
      return { what, result: { name: line.name, signature: Buffer.concat([line.keyId, line.signature]).toString('base64') } };
    });
  }

  /** The RFC 6962 root over the hashes of blocks 0..index (kept for the head it was made for). */
  private treeRoot(index: number, headHash: string): Buffer {
    if (this.cachedTree?.head !== headHash) {
      const hashes: string[] = [];
      for (let i = 0; i <= index; i++) hashes.push(this.store.block(i)!.hash);
      this.cachedTree = { head: headHash, root: blockTreeRoot(hashes) };
    }
    return this.cachedTree.root;
  }

  // ---- the checks --------------------------------------------------------------------------

  /**
   * Before deciding on a block: checks the imports its new or changed artifacts name (fetching,
   * so asynchronous; upstream-check.ts). Anything else wrong with the request is left to
   * checkBlock, which decides from the state as it is then; it reuses the successor state
   * computed here when nothing was fetched and the recorded state is still the same.
   */
  private async prepareUpstream(request: CommitRequest): Promise<PreparedBlock | undefined> {
    let stateIndex;
    let next;
    let artifacts;
    try {
      stateIndex = this.store.stateIndex;
      if (stateIndex === undefined || request.documents === undefined) return undefined;
      const previous = this.recordedState();
      next = checkSuccessorState(previous, decodeDocuments(request.documents), this.now());
      artifacts = changedArtifacts(previous.targets, next.targets, { lenient: true }).filter((a) => a.declaration?.upstream !== undefined);
    } catch {
      return undefined;
    }
    if (artifacts.length === 0) return { stateIndex, next, upstream: new Map() };
    return { stateIndex, upstream: await this.upstream.prepare(artifacts) };
  }

  private checkBlock(request: CommitRequest, prepared: PreparedBlock | undefined): Omit<Pending, 'expiresAt' | 'peer'> {
    const chain = this.requireChain();
    const block = parseBlock(request.block, 'proposed block');
    const hash = blockHash(block);
    const what = `block ${block.index} ${hash.slice(0, 12)}`;
    if (block.chain !== chain) throw new WitnessError('CHAIN_MISMATCH', `${what} is on chain ${block.chain.slice(0, 12)}, this witness follows ${chain.slice(0, 12)}`);
    const statement = parseForwardLink(request.statement, 'statement');
    const recordedThere = this.store.block(block.index);
    if (recordedThere) {
      if (recordedThere.hash !== hash) {
        throw new WitnessError('EQUIVOCATION', `this witness recorded block ${recordedThere.hash.slice(0, 12)} at index ${block.index}; it never co-signs another (${hash.slice(0, 12)})`);
      }
      // The same block again (a retried round): the same level-0 link may be signed again.
      const previous = this.blockAt(block.index - 1);
      this.requireSameStatement(statement, buildForwardLink(previous, block), what);
      return { kind: 'block', what: `${what} (already recorded)`, message: Buffer.from(forwardLinkMessage(statement)), roster: this.signingRoster(previous.roster, what), effects: {} };
    }

    // Blocks this witness missed, each approved by its co-signed level-0 link.
    const head = this.headBlock();
    const walk = this.verifyCatchUp(head, request.catchUp ?? [], (h) => this.rosterJson(h));
    const tip = walk.blocks.length > 0 ? walk.blocks[walk.blocks.length - 1]! : head;
    if (block.index !== tip.index + 1) {
      throw new WitnessError('DOES_NOT_EXTEND_HEAD', `${what} does not extend this witness's head ${tip.index} ${blockHash(tip).slice(0, 12)}${block.index > tip.index + 1 ? '; send the missing blocks as catchUp' : ''}`);
    }
    const catchUpHashes = new Map(walk.blocks.map((b) => [b.index, blockHash(b)]));
    const view: ChainView = {
      chain,
      base: head.base,
      maxHeight: head.maxHeight,
      head: tip,
      hashAt: (i) => catchUpHashes.get(i) ?? this.store.block(i)?.hash,
    };
    this.requireSameStatement(statement, buildForwardLink(tip, block), what);
    const roster = this.signingRoster(tip.roster, what, walk.rosters);
    const now = this.now();
    checkClockSkew(block.payload.time, now, this.skew);
    const previous = this.recordedState();
    // Computed already when nothing had to be fetched and the recorded state is the same: then no artifact names an import either.
    const reused = prepared?.next !== undefined && prepared.stateIndex === this.store.stateIndex ? prepared.next : undefined;
    const next = reused ?? checkSuccessorState(previous, decodeDocuments(request.documents!), now);
    checkPayloadMatches(block.payload, next);
    // The source first: a rebuild of a source that is not the upstream's proves nothing about it.
    // Only what names an import: other custom metadata is the build rule's business (under a build policy), not this one's.
    const upstreamNotes = reused !== undefined ? [] : this.upstream.check(changedArtifacts(previous.targets, next.targets, { lenient: true }), prepared?.upstream ?? new Map(), buildPolicyOf(next.root));
    checkBuildAttestations(block.payload.attestations, previous, next, request.attestations ?? {}, what);
    const valid = validateBlock(block, view, { root: rootRoleOf(next.root) });
    const rosters = new Map(walk.rosters);
    if (valid.rosterChange) rosters.set(valid.roster, canonicalText(valid.rosterChange.roster));
    return {
      kind: 'block',
      what: (walk.blocks.length > 0 ? `${what} (after catching up ${walk.blocks.length})` : what) + upstreamNotes.map((n) => `; ${n}`).join(''),
      message: Buffer.from(forwardLinkMessage(statement)),
      roster,
      effects: { blocks: [...walk.blocks.map(recorded), recorded(valid)], documents: stateDocuments(next), stateIndex: valid.index, rosters },
      ...(upstreamNotes.length > 0 ? { notes: upstreamNotes.map((n) => n.slice(0, WIRE_LIMITS.maxNoteChars)) } : {}),
    };
  }

  private checkLink(value: unknown): Omit<Pending, 'expiresAt' | 'peer'> {
    const chain = this.requireChain();
    const link = parseForwardLink(value, 'statement');
    const what = `link ${link.fromIndex}->${link.toIndex} (level ${link.level})`;
    if (link.chain !== chain) throw new WitnessError('CHAIN_MISMATCH', `${what} is on chain ${link.chain.slice(0, 12)}, this witness follows ${chain.slice(0, 12)}`);
    if (link.level < 1) throw new WitnessError('BAD_STATEMENT', `${what}: level-0 links are co-signed as the block's approval (kind "block")`);
    const from = this.store.block(link.fromIndex);
    const to = this.store.block(link.toIndex);
    if (!from || !to) throw new WitnessError('UNKNOWN_BLOCK', `${what}: this witness did not record block ${from ? link.toIndex : link.fromIndex}`);
    const source = this.blockAt(link.fromIndex);
    this.requireSameStatement(link, buildForwardLink(source, this.blockAt(link.toIndex)), what);
    return { kind: 'link', what, message: Buffer.from(forwardLinkMessage(link)), roster: this.signingRoster(source.roster, what), effects: {} };
  }

  private checkHead(value: unknown): Omit<Pending, 'expiresAt' | 'peer'> {
    const chain = this.requireChain();
    const statement = parseHeadStatement(value, 'statement');
    const head = this.store.head()!;
    const what = `head ${statement.index} ${statement.hash.slice(0, 12)} at ${statement.time}`;
    if (statement.chain !== chain || statement.index !== head.index || statement.hash !== head.hash) {
      throw new WitnessError('NOT_OWN_HEAD', `${what} is not this witness's recorded head (${head.index} ${head.hash.slice(0, 12)})`);
    }
    checkClockSkew(statement.time, this.now(), this.skew);
    return { kind: 'head', what, message: Buffer.from(headMessage(statement)), roster: this.signingRoster(this.headBlock().roster, what), effects: {} };
  }

  /**
   * Verifies catch-up entries from `start`: each block is the successor of the one before,
   * approved by a level-0 link co-signed at the threshold of the roster in force at its source.
   */
  private verifyCatchUp(start: Block, entries: readonly CatchUpEntry[], rosterOf: (hash: string) => Roster | string | undefined): { blocks: Block[]; rosters: Map<string, string> } {
    const blocks: Block[] = [];
    const rosters = new Map<string, string>();
    let at = start;
    for (const [i, entry] of entries.entries()) {
      const block = parseBlock(entry.block, `catchUp[${i}] block`);
      const link = parseForwardLink(entry.link, `catchUp[${i}] link`);
      const cosignature = parseCollectiveSignature(entry.cosignature, `catchUp[${i}] cosignature`);
      if (block.index !== at.index + 1 || link.level !== 0) {
        throw new WitnessError('DOES_NOT_EXTEND_HEAD', `catchUp[${i}] is block ${block.index} by a level-${link.level} link; the next block after ${at.index} by its level-0 link was expected`);
      }
      const known = rosters.get(at.roster) ?? rosterOf(at.roster);
      if (known === undefined) throw new LogError('UNKNOWN_ROSTER', `roster ${at.roster.slice(0, 12)} of block ${at.index} is not known to this witness`);
      const roster = typeof known === 'string' ? (JSON.parse(known) as Roster) : known;
      verifyForwardLink(link, cosignature, at, roster, block);
      if (block.rosterChange) rosters.set(block.roster, canonicalText(block.rosterChange.roster));
      blocks.push(block);
      at = block;
    }
    return { blocks, rosters };
  }

  // ---- helpers ---------------------------------------------------------------------------

  /**
   * With a root-key pin, the genesis TUF root's root role must be the named keys (no other key,
   * a threshold at least the named one): its self-signature then proves the named keys signed the
   * genesis state. The roster authorization alone would not: it names the roster, not the state,
   * and could be replayed with an attacker's root that lists a named key at threshold 1.
   */
  private requirePinnedRoot(root: RootEnvelope, what: string): void {
    const pin = this.pin;
    if (!pin || 'genesis' in pin) return;
    // By key material (docs/protocol.md "Distinct keys"): the same key spelled otherwise is the same key.
    const named = new Set(pin.rootKeys.map(keyMaterialId));
    const role = rootRoleOf(root);
    const isNamed = (k: TufPublicKey): boolean => {
      try {
        return named.has(keyMaterialId(k));
      } catch {
        return false; // a key that cannot be decoded is not one of the named keys
      }
    };
    const others = Object.values(role.keys).filter((k) => !isNamed(k)).length;
    if (others > 0 || role.threshold < pin.threshold) {
      throw new WitnessError('CHAIN_MISMATCH', `${what}: its root v${root.version} has ${others} root keys besides the ${pin.rootKeys.length} this witness's operator named, and threshold ${role.threshold} (the operator named ${pin.threshold})`);
    }
  }

  /** CHAIN_MISMATCH unless `genesis` is the chain this witness's operator named (by hash or root keys). */
  private requirePinnedChain(genesis: Block, chain: string, what: string): void {
    const pin = this.pin;
    if (!pin) {
      throw new WitnessError('CHAIN_MISMATCH', `${what}: this witness's operator named no chain for it to serve, so it follows none`, {
        hint: 'add "chain": { "genesis": HASH } (or the root keys: { "rootKeys": [...], "threshold": N }) to witness.json, as cairn witness init --chain / --root-key writes it',
      });
    }
    if ('genesis' in pin) {
      if (chain !== pin.genesis) throw new WitnessError('CHAIN_MISMATCH', `${what}: this witness serves only chain ${pin.genesis.slice(0, 12)}, as its operator named`);
      return;
    }
    try {
      verifyRosterAuthorization(genesis.rosterChange!.authorization, { chain: genesisAuthorizationChain(genesis.payload.root.sha256), index: 0, roster: genesis.roster }, pinnedRootRole(pin));
    } catch (e) {
      throw new WitnessError('CHAIN_MISMATCH', `${what}: its roster is not authorized by ${pin.threshold} of the ${pin.rootKeys.length} root keys this witness's operator named (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
  }

  /** Runs a decision, logging it as accepted or refused with the rule's code. */
  private decide<T>(label: string, run: () => { what: string; result: T }): T {
    try {
      const { what, result } = run();
      this.onDecision({ request: label, outcome: 'accepted', what });
      return result;
    } catch (e) {
      this.onDecision(refusal(label, e));
      throw e;
    }
  }

  /** The chain this witness follows; NOT_FOLLOWING before its genesis. */
  requireChain(): string {
    const chain = this.store.chain;
    if (chain === undefined) throw new WitnessError('NOT_FOLLOWING', 'this witness follows no chain yet', { hint: 'the leader sends the genesis block first (POST /v1/genesis)' });
    return chain;
  }

  private requireSameStatement(statement: unknown, expected: unknown, what: string): void {
    if (!canonicalBytes(statement).equals(canonicalBytes(expected))) {
      throw new WitnessError('BAD_STATEMENT', `the statement is not the forward link this witness derives for ${what}`);
    }
  }

  /** The roster with `hash` (recorded or brought by catch-up), which must hold this witness. */
  private signingRoster(hash: string, what: string, extra?: Map<string, string>): AcceptedRoster {
    const json = extra?.get(hash) ?? this.store.roster(hash);
    if (json === undefined) throw new LogError('UNKNOWN_ROSTER', `${what}: roster ${hash.slice(0, 12)} is not known to this witness`);
    const roster = acceptRoster(JSON.parse(json) as Roster);
    if (roster.indexOf(this.identity.key.publicKeyHex) < 0) {
      throw new WitnessError('NOT_IN_ROSTER', `${what}: this witness (${this.identity.name}) is not in the signing roster ${hash.slice(0, 12)}`);
    }
    return roster;
  }

  private rosterJson(hash: string): string | undefined {
    return this.store.roster(hash);
  }

  private blockAt(index: number): Block {
    const r = this.store.block(index);
    if (!r) throw new WitnessError('UNKNOWN_BLOCK', `this witness did not record block ${index}`);
    return parseBlock(JSON.parse(r.body) as unknown, `recorded block ${index}`);
  }

  private headBlock(): Block {
    const head = this.store.head();
    if (!head) throw new WitnessError('NOT_FOLLOWING', 'this witness follows no chain yet');
    if (this.cachedHead?.hash !== head.hash) this.cachedHead = { hash: head.hash, block: parseBlock(JSON.parse(head.body) as unknown, 'recorded head') };
    return this.cachedHead.block;
  }

  /** The TUF state this witness recorded (verified when it was recorded; parsed again only). */
  private recordedState(): ReleaseState {
    const index = this.store.stateIndex;
    if (index === undefined) throw new WitnessError('NOT_FOLLOWING', 'this witness has no recorded TUF state');
    if (this.cachedState?.index === index) return this.cachedState.state;
    let root: RootEnvelope | undefined;
    let snapshot: ReleaseState['snapshot'] | undefined;
    const targets = new Map<string, TargetsEnvelope>();
    for (const [role, d] of this.store.documents()) {
      if (role === 'root') root = parseEnvelope('root', d.bytes, 'recorded root');
      else if (role === 'snapshot') snapshot = parseEnvelope('snapshot', d.bytes, 'recorded snapshot');
      else targets.set(role.slice(TARGETS_PREFIX.length), parseEnvelope('targets', d.bytes, `recorded ${role}`));
    }
    if (!root || !snapshot) throw new WitnessError('BAD_CONFIG', 'the recorded TUF state lacks root or snapshot');
    const state: ReleaseState = { root, snapshot, targets };
    this.cachedState = { index, state };
    return state;
  }

  private invalidate(): void {
    this.cachedState = undefined;
    this.cachedHead = undefined;
  }

  /** Drops expired commitments (and their nonce secrets). */
  private expire(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) if (p.expiresAt < now) this.forget(id);
  }

  /** Below both caps before `peer` gets one more: its own oldest first, else the oldest of the peer holding most. */
  private makeRoomFor(peer: string): void {
    const mine = this.pendingByPeer.get(peer);
    while (mine && mine.size >= this.maxPendingPerPeer) this.forget(mine.values().next().value!);
    while (this.pending.size >= this.maxPending) {
      let largest: Set<string> | undefined;
      for (const ids of this.pendingByPeer.values()) if (!largest || ids.size > largest.size) largest = ids;
      this.forget(largest!.values().next().value!);
    }
  }

  /** Removes a commitment; `wipe`: also drop its nonce secrets (a respond hands them to the signer instead). */
  private forget(nonceId: string, wipe = true): void {
    const p = this.pending.get(nonceId);
    if (!p) return;
    this.pending.delete(nonceId);
    const ids = this.pendingByPeer.get(p.peer);
    ids?.delete(nonceId);
    if (ids?.size === 0) this.pendingByPeer.delete(p.peer);
    if (wipe) this.signer.discard(nonceId);
  }
}
