// witness/leader.ts: the log leader (DESIGN.md "Roles": a leader holds nothing secret; "Skipchain
// release log"; docs/protocol.md sections 5-8). It proposes blocks, runs co-signing rounds over
// HTTP (cosi runCosiRound: tree aggregation, bounded retries, faults reported) and writes the
// log files of protocol.md section 7 (FileLogStore). It holds no trust: every witness checks
// every proposal against its own records, and a round that fewer than the threshold co-sign
// writes nothing.
//
// Order of writes for a block (so a mirror never serves a log that points at missing files):
// roster (when it changes), block, level-0 link, leader state; then the higher-level forward links
// that end at the new block (a missing one is not fatal: catch-up falls back to lower levels);
// then a head round and log/head.json. The caller writes the TUF files after that.
//
// Leader state: one JSON file (`stateFile`, REPO/state/log.json under the CLI):
//   { format: "cairn/log-leader/v1", chain, base, maxHeight, head: { index, hash } }
// Everything else is read back from the published log (blocks, links, rosters), so the state
// file is a pointer; when a crash left block and level-0 link files past it, open() advances it.
//
// Proposal file (`proposalFile`, REPO/state/pending-release/proposal.json under the CLI): each
// block is saved before its first round. A round that fails after a respond was sent keeps it
// (the witnesses that answered recorded the block and co-sign no other at its index), and the
// caller proposes exactly that block again (reproposeBlock) before anything else; one that fails
// before any respond drops it. The caller (cli/release-log.ts) removes it once the block's
// release is written.
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../crypto/hash.js';
import type { Signer } from '../crypto/signer.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import {
  acceptRoster,
  CosiError,
  encodeCollectiveSignature,
  runCosiRound,
  type AcceptedRoster,
  type CosiRoundResult,
  type Roster,
  type RosterWitness,
  type WitnessEndpoint,
} from '../cosi/index.js';
import {
  blockHash,
  buildBlock,
  buildForwardLink,
  buildGenesis,
  buildHeadStatement,
  createRosterAuthorization,
  DEFAULT_SKIPCHAIN_PARAMS,
  FileLogStore,
  formatUtcTime,
  forwardLinkMessage,
  headMessage,
  LOG_FILE_LIMITS,
  levelSpan,
  parseBlock,
  parseBlockBytes,
  parseLinkFile,
  parseRoster,
  parseUtcTime,
  rosterHash,
  validateBlock,
  validateGenesis,
  verifyRosterAuthorization,
  type Block,
  type BlockPayload,
  type LinkFile,
  type RosterChange,
  type SkipchainParams,
} from '../log/index.js';
import { parseEnvelope } from '../tuf/index.js';
import { LeaderError, WitnessClientError, type WitnessReport } from './errors.js';
import { httpWitnessEndpoint, WitnessClient, type HttpWitnessEndpoint } from './client.js';
import { rootRoleOf } from './service.js';
import { WIRE_LIMITS, type CatchUpEntry, type CommitRequest, type InfoAnswer, type StatementKind, type WireDocuments } from './wire.js';

export const LEADER_STATE_FORMAT = 'cairn/log-leader/v1';
export const PROPOSAL_FORMAT = 'cairn/log-proposal/v1';

/** A block proposed before its round, kept while a witness may have recorded it. */
export interface SavedProposal {
  block: Block;
  hash: string;
  /** The build attestations the proposal carried (sent again with it). */
  attestations?: ReleaseDocumentSource['attestations'];
}

export interface LeaderState {
  format: typeof LEADER_STATE_FORMAT;
  chain: string;
  base: number;
  maxHeight: number;
  head: { index: number; hash: string };
}

/** The TUF documents of the repository state a block records, read on demand. */
export interface ReleaseDocumentSource {
  /** Version of the root in force in this state. */
  rootVersion: number;
  /** Exact bytes of root version `version` (1 .. rootVersion). */
  root(version: number): Promise<Uint8Array>;
  /** Exact bytes of the snapshot of this state. */
  snapshot: Uint8Array;
  /** Exact bytes of a targets role (top-level or delegated) at the version the snapshot lists. */
  targets(role: string): Promise<Uint8Array>;
  /**
   * Rebuild attestations of the artifacts this state adds or changes (issue 4; protocol.md
   * section 8): the digest the payload records and the files sent to each witness by target
   * path (base64 of their exact bytes). Absent: the payload records null.
   */
  attestations?: { digest: string | null; files: Record<string, string[]> };
}

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
   * proposal.json under the CLI). A round that fails after some witness was asked to answer keeps
   * it: that witness may have recorded the block, and co-signs no other at its index, so the
   * next publish proposes the same block again (`savedProposal`, `reproposeBlock`).
   */
  proposalFile?: string;
  /** Wraps each endpoint of a round; tests inject faults here. */
  wrapEndpoint?: (endpoint: HttpWitnessEndpoint, witness: RosterWitness, kind: StatementKind) => WitnessEndpoint;
}

/** What one co-signing round did. */
export interface RoundReport {
  kind: StatementKind;
  what: string;
  /** Names of the co-signers. */
  cosigners: string[];
  /** Witnesses that did not co-sign, and why. */
  missing: WitnessReport[];
  attempts: number;
}

export interface BlockReport {
  index: number;
  hash: string;
  rounds: RoundReport[];
  /** Higher-level links that could not be co-signed (catch-up falls back to lower levels). */
  missingLinks: Array<{ fromIndex: number; level: number; reason: string }>;
}

export interface InitLogOptions extends LeaderOptions {
  /** Witness addresses (their /v1/info gives key, proof of possession and address). */
  witnesses: readonly string[];
  threshold: number;
  /** Root key holders' signers: the genesis roster needs the root threshold's authorization. */
  rootSigners: readonly Signer[];
  /** The repository's currently published state. */
  source: ReleaseDocumentSource;
  params?: SkipchainParams;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** The payload recording a state: versions and SHA-256 of the exact bytes (protocol.md 5). */
export async function payloadOf(source: ReleaseDocumentSource, time: string): Promise<BlockPayload> {
  const root = await source.root(source.rootVersion);
  const snapshot = parseEnvelope('snapshot', source.snapshot, 'snapshot.json');
  const targetsBytes = await source.targets('targets');
  const targets = parseEnvelope('targets', targetsBytes, 'targets.json');
  return {
    time,
    root: { version: source.rootVersion, sha256: sha256Hex(root) },
    targets: { version: targets.version, sha256: sha256Hex(targetsBytes) },
    snapshot: { version: snapshot.version, sha256: sha256Hex(source.snapshot) },
    attestations: source.attestations?.digest ?? null,
  };
}

/** Targets roles of a snapshot with their versions. */
function snapshotRoles(source: ReleaseDocumentSource): Map<string, number> {
  const snapshot = parseEnvelope('snapshot', source.snapshot, 'snapshot.json');
  const roles = new Map<string, number>();
  for (const [file, meta] of Object.entries(snapshot.signed.meta)) if (file.endsWith('.json')) roles.set(file.slice(0, -5), meta.version);
  return roles;
}

/** Documents for a witness whose recorded state is `state` (null: everything, from root `fromRoot`). */
async function documentsFor(source: ReleaseDocumentSource, state: InfoAnswer['state'], fromRoot: number): Promise<WireDocuments> {
  const roots: string[] = [];
  const firstRoot = state === null ? fromRoot : state.root + 1;
  for (let v = firstRoot; v <= source.rootVersion; v++) roots.push(b64(await source.root(v)));
  const targets: Record<string, string> = {};
  for (const [role, version] of snapshotRoles(source)) {
    if (state === null || state.roles[role] !== version) targets[role] = b64(await source.targets(role));
  }
  return { roots, snapshot: b64(source.snapshot), targets };
}

/** Memoizes a source's reads (each witness needs a subset of the same documents). */
function cachedSource(source: ReleaseDocumentSource): ReleaseDocumentSource {
  const roots = new Map<number, Promise<Uint8Array>>();
  const targets = new Map<string, Promise<Uint8Array>>();
  return {
    rootVersion: source.rootVersion,
    snapshot: source.snapshot,
    ...(source.attestations ? { attestations: source.attestations } : {}),
    root: (v) => {
      let p = roots.get(v);
      if (!p) roots.set(v, (p = source.root(v)));
      return p;
    },
    targets: (r) => {
      let p = targets.get(r);
      if (!p) targets.set(r, (p = source.targets(r)));
      return p;
    },
  };
}

function describeError(e: unknown): { status: WitnessReport['status']; code?: string; detail: string } {
  if (e instanceof WitnessClientError && e.refusal) return { status: 'refused', code: e.refusal.code, detail: e.refusal.message };
  return { status: 'absent', detail: e instanceof Error ? e.message : String(e) };
}

async function fetchInfos(addresses: readonly string[], timeoutMs: number): Promise<Array<InfoAnswer | Error>> {
  return Promise.all(addresses.map((a) => new WitnessClient(a, { timeoutMs }).info().catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
}

async function readState(stateFile: string): Promise<LeaderState | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(stateFile);
  } catch {
    return undefined;
  }
  const o = parseJsonObject(bytes, stateFile, { maxBytes: 64 * 1024, maxDepth: 4, maxEntries: 64 });
  const head = o.head as { index?: unknown; hash?: unknown } | undefined;
  if (o.format !== LEADER_STATE_FORMAT || typeof o.chain !== 'string' || typeof o.base !== 'number' || typeof o.maxHeight !== 'number'
    || typeof head?.index !== 'number' || typeof head.hash !== 'string') {
    throw new LeaderError('LOG_STATE', `${stateFile} is not a ${LEADER_STATE_FORMAT} state file`);
  }
  return { format: LEADER_STATE_FORMAT, chain: o.chain, base: o.base, maxHeight: o.maxHeight, head: { index: head.index, hash: head.hash } };
}

/** Whether a repository's leader state file exists (the repository has a log). */
export async function hasLog(stateFile: string): Promise<boolean> {
  return (await readState(stateFile)) !== undefined;
}

/**
 * Creates a log: the genesis block recording the published state, with the roster of the given
 * witnesses authorized by the root keys; sends it to every witness, runs a head round, writes
 * the log files and the leader state. Returns the leader and the genesis hash (the client's
 * trust anchor).
 */
export async function initLog(options: InitLogOptions): Promise<{ leader: LogLeader; genesis: string; report: BlockReport }> {
  if (await readState(options.stateFile)) throw new LeaderError('LOG_EXISTS', `${options.stateFile} exists: this repository already has a log`);
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const infos = await fetchInfos(options.witnesses, timeoutMs);
  const entries: RosterWitness[] = infos.map((info, i) => {
    if (info instanceof Error) throw new LeaderError('BAD_WITNESS', `witness ${options.witnesses[i]} is not reachable: ${info.message}`, { hint: 'every witness of a new roster must answer GET /v1/info' });
    return { name: info.name, key: info.key, pop: info.pop, address: info.address };
  });
  const roster: Roster = { threshold: options.threshold, witnesses: entries };
  parseRoster(roster, 'new roster'); // keys, proofs of possession, distinct keys, threshold
  const source = cachedSource(options.source);
  const now = (options.now ?? (() => new Date()))();
  const rootEnvelope = parseEnvelope('root', await source.root(source.rootVersion), 'root.json');
  const hash = rosterHash(roster);
  const authorization = createRosterAuthorization(options.rootSigners, { chain: '', index: 0, roster: hash });
  verifyRosterAuthorization(authorization, { chain: '', index: 0, roster: hash }, rootRoleOf(rootEnvelope));
  const genesis = validateGenesis(buildGenesis(options.params ?? DEFAULT_SKIPCHAIN_PARAMS, await payloadOf(source, formatUtcTime(now.getTime() / 1000)), { roster, authorization }), rootRoleOf(rootEnvelope));
  const chain = blockHash(genesis);
  const documents = await documentsFor(source, null, source.rootVersion);
  const results = await Promise.all(entries.map((w) => new WitnessClient(w.address, { timeoutMs }).genesis({ block: genesis, documents }).then(() => undefined, (e: unknown) => e)));
  const missing: WitnessReport[] = [];
  results.forEach((e, i) => {
    if (e !== undefined) missing.push({ name: entries[i]!.name, address: entries[i]!.address, ...describeError(e) });
  });
  if (entries.length - missing.length < options.threshold) {
    throw new LeaderError('ROUND_FAILED', `the genesis block was accepted by ${entries.length - missing.length} of ${entries.length} witnesses, the roster needs ${options.threshold}: ${summarize(missing)}`, { witnesses: missing });
  }
  for (const m of missing) options.progress?.(`witness ${m.name} did not accept the genesis block: ${m.code ?? m.status}: ${m.detail}`);
  const store = new FileLogStore(options.publicDir);
  await store.putRoster(roster);
  await store.putBlock(genesis);
  const state: LeaderState = { format: LEADER_STATE_FORMAT, chain, base: genesis.base, maxHeight: genesis.maxHeight, head: { index: 0, hash: chain } };
  await writeFileAtomic(options.stateFile, JSON.stringify(state, null, 2) + '\n');
  const leader = new LogLeader(options, state, genesis);
  const head = await leader.headRound();
  return { leader, genesis: chain, report: { index: 0, hash: chain, rounds: [head], missingLinks: [] } };
}

function summarize(reports: readonly WitnessReport[]): string {
  const byCode = new Map<string, string[]>();
  for (const r of reports) {
    const key = r.status === 'refused' ? `refused ${r.code}` : r.status;
    byCode.set(key, [...(byCode.get(key) ?? []), r.name]);
  }
  const first = reports.find((r) => r.status === 'refused');
  return [...byCode].map(([k, names]) => `${k} (${names.join(', ')})`).join('; ') + (first ? `; ${first.name} said: ${first.detail}` : '');
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
    const state = await readState(options.stateFile);
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
      await writeFileAtomic(options.stateFile, JSON.stringify(state, null, 2) + '\n');
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
    const now = this.now();
    const time = Math.max(now.getTime() / 1000, parseUtcTime(head.payload.time)!);
    const payload = await payloadOf(src, formatUtcTime(time));
    const hashes = new Map<number, string>();
    for (let h = 0, span = 1; h < head.maxHeight && head.index + 1 - span >= 0; h++, span *= head.base) {
      const i = head.index + 1 - span;
      hashes.set(i, blockHash(await this.block(i)));
    }
    const view = { chain: this.state.chain, base: head.base, maxHeight: head.maxHeight, head, hashAt: (i: number) => hashes.get(i) };
    const rootEnvelope = parseEnvelope('root', await src.root(src.rootVersion), 'root.json');
    const block = validateBlock(buildBlock(view, payload, rosterChange ?? null), view, { root: rootRoleOf(rootEnvelope) });
    await this.saveProposal(block, src);
    return this.cosignBlock(block, src, onPhase);
  }

  /** The proposal saved before a round that failed after witnesses answered (see `proposalFile`). */
  async savedProposal(): Promise<SavedProposal | undefined> {
    const file = this.options.proposalFile;
    if (file === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const o = parseJsonObject(bytes, file, { maxBytes: WIRE_LIMITS.maxRequestBytes, maxDepth: 16, maxEntries: 1_000_000 });
    if (o.format !== PROPOSAL_FORMAT || typeof o.hash !== 'string') throw new LeaderError('LOG_STATE', `${file} is not a ${PROPOSAL_FORMAT} file`);
    const block = parseBlock(o.block, `${file} block`);
    if (blockHash(block) !== o.hash) throw new LeaderError('LOG_STATE', `${file} holds block ${blockHash(block).slice(0, 12)}, not ${o.hash.slice(0, 12)}`);
    const attestations = o.attestations as ReleaseDocumentSource['attestations'] | undefined;
    return { block, hash: o.hash, ...(attestations ? { attestations } : {}) };
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
    const hashes = new Map<number, string>();
    for (let h = 0, span = 1; h < head.maxHeight && head.index + 1 - span >= 0; h++, span *= head.base) {
      const i = head.index + 1 - span;
      hashes.set(i, blockHash(await this.block(i)));
    }
    const view = { chain: this.state.chain, base: head.base, maxHeight: head.maxHeight, head, hashAt: (i: number) => hashes.get(i) };
    const rootEnvelope = parseEnvelope('root', await src.root(src.rootVersion), 'root.json');
    validateBlock(block, view, { root: rootRoleOf(rootEnvelope) });
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
    if (this.options.proposalFile !== undefined) await unlink(this.options.proposalFile).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Saves the proposal before its first round, when the leader has a `proposalFile`. */
  private async saveProposal(block: Block, src: ReleaseDocumentSource): Promise<void> {
    const file = this.options.proposalFile;
    if (file === undefined) return;
    const proposal = { format: PROPOSAL_FORMAT, hash: blockHash(block), block, ...(src.attestations ? { attestations: src.attestations } : {}) };
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(proposal) + '\n');
  }

  /** Runs the block's round and writes its log files (then higher-level links and a head round). */
  private async cosignBlock(block: Block, src: ReleaseDocumentSource, onPhase?: (phase: 'block') => void): Promise<BlockReport> {
    const head = this.headBlock;
    const hash = blockHash(block);
    const link = buildForwardLink(head, block);
    const signing = await this.roster(head.roster);

    // Per-witness commit: its catch-up entries and the documents its recorded state lacks.
    const infos = await fetchInfos(signing.witnesses.map((w) => w.address), this.timeout());
    const skipped = new Map<number, WitnessReport>();
    const commits = new Map<number, Omit<CommitRequest, 'session'>>();
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
      commits.set(i, { kind: 'block', statement: link, block, documents: await documentsFor(src, info.state, src.rootVersion), ...(catchUp ? { catchUp } : {}), ...(src.attestations ? { attestations: src.attestations.files } : {}) });
    }
    this.respondsSent = 0;
    let round: Awaited<ReturnType<LogLeader['round']>>;
    try {
      round = await this.round('block', `block ${block.index} ${hash.slice(0, 12)}`, signing, forwardLinkMessage(link), commits, skipped);
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
    await writeFileAtomic(this.options.stateFile, JSON.stringify(this.state, null, 2) + '\n');
    const report: BlockReport = { index: block.index, hash, rounds: [round.report], missingLinks: [] };

    if (block.rosterChange) await this.joinNewWitnesses(block, src);
    // Higher-level forward links that end at the new block, each by the roster of its source.
    for (let level = 1; level < block.height; level++) {
      const from = block.index - levelSpan(block.base, level);
      try {
        const source = await this.block(from);
        const higher = buildForwardLink(source, block);
        const roster = await this.roster(source.roster);
        const commits2 = new Map(roster.witnesses.map((_, i) => [i, { kind: 'link' as const, statement: higher }]));
        const r = await this.round('link', `link ${from}->${block.index} (level ${level})`, roster, forwardLinkMessage(higher), commits2, new Map());
        await this.store.putLink({ link: higher, cosignature: encodeCollectiveSignature(r.result.cosignature) } satisfies LinkFile);
        report.rounds.push(r.report);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        report.missingLinks.push({ fromIndex: from, level, reason });
        this.options.progress?.(`forward link ${from}->${block.index} (level ${level}) not co-signed: ${reason}`);
      }
    }
    report.rounds.push(await this.headRound());
    return report;
  }

  /** A head round when log/head.json does not name the head block (a crash came before it). */
  async ensureHeadStatement(): Promise<RoundReport | undefined> {
    const existing = await this.store.getHead(LOG_FILE_LIMITS.head.maxBytes);
    if (existing !== undefined) {
      const o = parseJsonObject(existing, 'log/head.json', LOG_FILE_LIMITS.head);
      const statement = o.statement as { index?: unknown; hash?: unknown } | undefined;
      if (statement?.index === this.state.head.index && statement.hash === this.state.head.hash) return undefined;
    }
    return this.headRound();
  }

  /** A fresh head statement for the head block, co-signed by its roster; writes log/head.json. */
  async headRound(): Promise<RoundReport> {
    const head = this.headBlock;
    const existing = await this.store.getHead(LOG_FILE_LIMITS.head.maxBytes);
    let seconds = Math.floor(this.now().getTime() / 1000);
    if (existing !== undefined) {
      const old = JSON.parse(Buffer.from(existing).toString('utf8')) as { statement?: { time?: string } };
      const oldTime = parseUtcTime(old.statement?.time ?? '');
      if (oldTime !== undefined && oldTime > seconds) seconds = oldTime;
    }
    const statement = buildHeadStatement(head, formatUtcTime(seconds));
    const roster = await this.roster(head.roster);
    const commits = new Map(roster.witnesses.map((_, i) => [i, { kind: 'head' as const, statement }]));
    const r = await this.round('head', `head ${head.index} at ${statement.time}`, roster, headMessage(statement), commits, new Map());
    await this.store.putHead({ statement, cosignature: encodeCollectiveSignature(r.result.cosignature) });
    return r.report;
  }

  /**
   * A roster change: a block recording the current state `source` with a new roster of the given
   * witnesses, authorized by the root keys; the old roster approves it. Witnesses of the new
   * roster that follow no chain yet join it (genesis plus catch-up) before the head round.
   */
  async changeRoster(options: { witnesses: readonly string[]; threshold: number; rootSigners: readonly Signer[]; source: ReleaseDocumentSource }): Promise<BlockReport> {
    const infos = await fetchInfos(options.witnesses, this.timeout());
    const entries: RosterWitness[] = infos.map((info, i) => {
      if (info instanceof Error) throw new LeaderError('BAD_WITNESS', `witness ${options.witnesses[i]} is not reachable: ${info.message}`);
      return { name: info.name, key: info.key, pop: info.pop, address: info.address };
    });
    const roster: Roster = { threshold: options.threshold, witnesses: entries };
    parseRoster(roster, 'new roster');
    const index = this.headBlock.index + 1;
    const hash = rosterHash(roster);
    const authorization = createRosterAuthorization(options.rootSigners, { chain: this.state.chain, index, roster: hash });
    return this.appendBlock(options.source, { roster, authorization });
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
    return this.options.callTimeoutMs ?? 10_000;
  }

  private async round(
    kind: StatementKind,
    what: string,
    roster: Roster,
    message: Uint8Array,
    commits: Map<number, Omit<CommitRequest, 'session'>>,
    skipped: Map<number, WitnessReport>,
  ): Promise<{ result: CosiRoundResult; report: RoundReport }> {
    const accepted: AcceptedRoster = acceptRoster(roster);
    const endpoints = new Map<number, HttpWitnessEndpoint>();
    const participants: WitnessEndpoint[] = [];
    for (const [i, body] of commits) {
      const w = roster.witnesses[i]!;
      const endpoint = httpWitnessEndpoint(new WitnessClient(w.address, { timeoutMs: this.timeout() }), i, body);
      endpoints.set(i, endpoint);
      const wrapped = this.options.wrapEndpoint ? this.options.wrapEndpoint(endpoint, w, kind) : endpoint;
      participants.push({ index: wrapped.index, commit: (session) => wrapped.commit(session), respond: (ch) => ((this.respondsSent += 1), wrapped.respond(ch)) });
    }
    const reportFor = (faulted: ReadonlySet<number>, cosigners: ReadonlySet<number>): WitnessReport[] =>
      roster.witnesses.flatMap((w, i) => {
        if (cosigners.has(i)) return [];
        const skip = skipped.get(i);
        if (skip) return [skip];
        const e = endpoints.get(i)?.lastError;
        if (e !== undefined) return [{ name: w.name, address: w.address, ...describeError(e) }];
        return faulted.has(i) ? [{ name: w.name, address: w.address, status: 'absent' as const, detail: 'no answer' }] : [];
      });
    let result: CosiRoundResult;
    try {
      result = await runCosiRound(accepted, message, participants, {
        callTimeoutMs: this.timeout(),
        maxAttempts: this.options.maxAttempts ?? 3,
        branchingFactor: this.options.branchingFactor ?? 16,
        session: `${kind}-${randomBytes(8).toString('hex')}`,
      });
    } catch (e) {
      if (!(e instanceof CosiError)) throw e;
      const missing = reportFor(new Set(e.faults.map((f) => f.index)), new Set());
      for (const f of e.faults) {
        const m = missing.find((r) => r.name === roster.witnesses[f.index]!.name);
        if (m && m.status === 'absent' && f.kind !== 'absent') m.status = 'excluded';
      }
      throw new LeaderError('ROUND_FAILED', `${what} was not co-signed: ${e.message}; ${summarize(missing)}`, {
        witnesses: missing,
        cause: e,
        hint: 'refused: the witnesses name the rule that failed; absent: check that they run and are reachable',
      });
    }
    const cosigners = new Set(result.participants);
    const missing = reportFor(new Set(result.faults.map((f) => f.index)), cosigners);
    for (const f of result.faults) {
      const m = missing.find((r) => r.name === roster.witnesses[f.index]!.name);
      if (m && f.kind !== 'absent') m.status = 'excluded';
    }
    if (missing.length > 0) this.options.progress?.(`${what}: co-signed by ${cosigners.size} of ${roster.witnesses.length}; ${summarize(missing)}`);
    return {
      result,
      report: { kind, what, cosigners: result.participants.map((i) => roster.witnesses[i]!.name), missing, attempts: result.attempts },
    };
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
    for (const [i, w] of roster.witnesses.entries()) {
      const info = infos[i]!;
      if (info instanceof Error || info.chain !== null) continue;
      if (block.index > WIRE_LIMITS.maxCatchUp) {
        this.options.progress?.(`witness ${w.name} follows no chain and the chain is longer than one join request; it cannot join`);
        continue;
      }
      try {
        const documents = await documentsFor(source, null, genesis.payload.root.version);
        await new WitnessClient(w.address, { timeoutMs: this.timeout() }).genesis({ block: genesis, documents, catchUp: await this.catchUpEntries(0, block.index) });
        this.options.progress?.(`witness ${w.name} joined the chain at block ${block.index}`);
      } catch (e) {
        this.options.progress?.(`witness ${w.name} could not join the chain: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private async block(index: number): Promise<Block> {
    const cached = this.blocks.get(index);
    if (cached) return cached;
    const bytes = await this.store.getBlock(index, LOG_FILE_LIMITS.block.maxBytes);
    if (bytes === undefined) throw new LeaderError('LOG_STATE', `log/blocks/${index}.json is missing from ${this.options.publicDir}`);
    const block = parseBlockBytes(bytes, `log/blocks/${index}.json`);
    this.blocks.set(index, block);
    return block;
  }

  private async roster(hash: string): Promise<Roster> {
    const cached = this.rosters.get(hash);
    if (cached) return cached;
    const bytes = await this.store.getRoster(hash, LOG_FILE_LIMITS.roster.maxBytes);
    if (bytes === undefined) throw new LeaderError('LOG_STATE', `log/rosters/${hash}.json is missing from ${this.options.publicDir}`);
    const roster = parseRoster(parseJsonObject(bytes, `roster ${hash.slice(0, 12)}`, LOG_FILE_LIMITS.roster), `roster ${hash.slice(0, 12)}`);
    if (rosterHash(roster) !== hash) throw new LeaderError('LOG_STATE', `log/rosters/${hash}.json holds roster ${rosterHash(roster).slice(0, 12)}`);
    this.rosters.set(hash, roster);
    return roster;
  }
}
