// client/witnessed-updater.ts: a TUF client that accepts only witnessed releases (DESIGN.md
// "What a client checks, in order", steps 1 and 2; docs/protocol.md sections 5-7 and 9 "Clients
// and the log"; CHAINIAC section 4: no client accepts a release before it is publicly logged).
// The trust anchor is root.json plus a trusted log block (client/anchor.ts). refresh():
//
// 1. reads log/head.json, catches up from the trusted block to the head block through verified
//    forward links (log.catchUp: O(log n) links, each co-signed by its source block's roster),
//    and verifies the head statement: co-signed by the head block's roster, fresh (maxHeadAge),
//    not older than the last accepted one (replay);
// 2. when the head block records a root newer than the trusted one, installs that root directly
//    (its sha256 is in the co-signed block and the witnesses checked the root chain before
//    co-signing), so a client many rotations behind fetches one root instead of every one;
// 3. runs the TUF workflow (tuf.Updater) through WitnessCheckingFetcher, which refuses a root,
//    timestamp, snapshot or top-level targets that the head block (or, in a publish window, its
//    predecessor) does not record before the updater can verify and persist it;
// 4. checks the snapshot and targets TUF accepted (downloaded or still-valid local copies)
//    against the witnessed payload once more;
// 5. only then advances the anchor to the head block and remembers the head statement.
//
// Any failure throws a typed error (ClientError, LogError, TufError, FetchError) and leaves the
// anchor as it was; TUF files change only for documents that both TUF and the log accepted.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { decodeBitmap, countParticipants } from '../cosi/index.js';
import { sha256Hex } from '../crypto/hash.js';
import { UsageError, short } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { BoundedFetcher, FetchError, fetchAll, type Fetcher } from '../io/fetch.js';
import {
  LOG_FILE_LIMITS,
  LogError,
  blockHash,
  catchUp,
  chainIdOf,
  parseBlockBytes,
  parseRoster,
  parseUtcTime,
  rosterHash,
  type Block,
  type LogSource,
  type Roster,
} from '../log/index.js';
import { parseJsonObject } from '../encoding/bounded-json.js';
import {
  TufError,
  Updater,
  parseEnvelope,
  resolveConfig,
  verifyThreshold,
  type RefreshReport,
  type UpdaterConfig,
  type UpdaterOptions,
} from '../tuf/index.js';
import {
  checkAnchoredBlock,
  commitAnchor,
  hasLogAnchor,
  initLogAnchor,
  readAnchor,
  readCachedRoster,
  readLastHead,
  readTrustedBlock,
  type AnchorInit,
  type LogAnchor,
} from './anchor.js';
import { resolveWitnessedConfig, type WitnessedClientConfig } from './config.js';
import { ClientError } from './errors.js';
import { AttestationChecker, defaultAttestationsUrl, type TargetAttestationReport } from './attestation-check.js';
import { AttestationError, BUILD_POLICY_FIELD, buildPolicyOf, declarationFromCustom } from '../policy/index.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { defaultLogUrl, logDirectorySource, type SourceCounter } from './log-source.js';
import { WitnessChecker, WitnessCheckingFetcher, type WitnessedBlock } from './witness-check.js';

export interface WitnessedUpdaterOptions extends UpdaterOptions {
  /** URL of the repository's log directory; default: `../log/` beside the metadata URL. */
  logUrl?: string;
  /** maxHeadAgeSeconds and the other log caps (client/config.ts). */
  witness?: Partial<WitnessedClientConfig>;
  /**
   * Re-check the rebuild attestations of each downloaded target (client/attestation-check.ts):
   * the quorum under the trusted root's build policy, and that they are the ones the witnessed
   * block relied on. A target that fails is refused after download (its file is not returned).
   */
  verifyAttestations?: boolean;
  /** URL of the attestations/ directory; default: `../attestations/` beside the metadata URL. */
  attestationsUrl?: string;
}

/** What the log check did, for progress output. */
export interface LogReport {
  logUrl: string;
  chain: string;
  /** The trusted block the catch-up started from. */
  from: { index: number; hash: string };
  head: {
    index: number;
    hash: string;
    /** Time of the head statement. */
    time: string;
    /** Seconds between the head statement and this refresh's reference time. */
    ageSeconds: number;
    maxAgeSeconds: number;
    /** Witnesses that co-signed the head statement, the head roster's size and threshold. */
    signers: number;
    witnesses: number;
    threshold: number;
  };
  /** head.index - from.index. */
  blocksCaughtUp: number;
  /** Forward links fetched and verified, and planned ones that were not published. */
  links: number;
  missingLinks: number;
  /** New rosters met on the way (fetched by hash). */
  rosters: number;
  /** Blocks fetched: the head block, the predecessor in a publish window, an anchor block not yet stored. */
  blocksFetched: number;
  /** Every byte of the log read from the mirror, head.json included. */
  bytes: number;
  /** The witnessed block whose state TUF accepted. */
  matched: { index: number; which: WitnessedBlock['which']; root: number; snapshot: number; targets: number };
}

/** A root installed straight from the witnessed head block (step 2). */
export interface RootBootstrapReport {
  from: number;
  to: number;
  /** Root documents fetched for the bootstrap (1: the one the block names). */
  rootsFetched: number;
}

/** The TUF report plus the log check; `steps` lists both, log first. */
export interface WitnessedRefreshReport extends RefreshReport {
  log: LogReport;
  rootBootstrap: RootBootstrapReport | null;
  /** Root documents fetched in this refresh: the bootstrap's and the TUF workflow's together. */
  rootsFetched: number;
}

/** What both clients offer; the command line drives either through it. */
export interface TargetUpdater {
  refresh(): Promise<RefreshReport>;
  getTargetInfo(targetPath: string): Promise<TargetFile | undefined>;
  findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined>;
  downloadTarget(info: TargetFile, filePath?: string, targetBaseUrl?: string): Promise<string>;
  downloadTargets(infos: readonly TargetFile[], concurrency?: number, targetBaseUrl?: string): Promise<string[]>;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export class WitnessedUpdater implements TargetUpdater {
  readonly config: UpdaterConfig;
  readonly witnessConfig: WitnessedClientConfig;
  readonly logUrl: string;
  private readonly options: UpdaterOptions;
  private readonly metadataDir: string;
  private readonly metadataBaseUrl: string;
  private readonly fetcher: Fetcher;
  private readonly now: () => Date;
  /** The TUF updater of the last successful refresh (a failed one is never reused). */
  private inner: Updater | undefined;
  private refreshing: Promise<WitnessedRefreshReport> | undefined;
  /** The witnessed block the last successful refresh matched. */
  private matchedBlock: Block | undefined;
  private attestationChecker: AttestationChecker | undefined;
  private readonly verifyAttestationsOnDownload: boolean;
  readonly attestationsUrl: string;

  constructor(options: WitnessedUpdaterOptions) {
    if (!options.metadataDir) throw new UsageError('MISSING_ARGUMENT', 'WitnessedUpdater needs a metadataDir');
    if (!options.metadataBaseUrl) throw new UsageError('MISSING_ARGUMENT', 'WitnessedUpdater needs a metadataBaseUrl');
    this.config = resolveConfig(options.config);
    this.witnessConfig = resolveWitnessedConfig(options.witness);
    this.metadataDir = options.metadataDir;
    this.metadataBaseUrl = withSlash(options.metadataBaseUrl);
    this.logUrl = withSlash(options.logUrl ?? defaultLogUrl(this.metadataBaseUrl));
    this.fetcher = options.fetcher ?? new BoundedFetcher(this.config.fetchLimits);
    this.now = options.now ?? (() => new Date());
    this.verifyAttestationsOnDownload = options.verifyAttestations ?? false;
    this.attestationsUrl = withSlash(options.attestationsUrl ?? defaultAttestationsUrl(this.metadataBaseUrl));
    const { logUrl: _logUrl, witness: _witness, verifyAttestations: _v, attestationsUrl: _a, ...tufOptions } = options;
    this.options = { ...tufOptions, fetcher: this.fetcher, now: this.now };
  }

  /** Stores the trusted root (as Updater.initTrustedRoot: self-signed to threshold; no network). */
  static initTrustedRoot(metadataDir: string, rootBytes: Uint8Array): Promise<void> {
    return Updater.initTrustedRoot(metadataDir, rootBytes);
  }

  /** Pins the trusted log block (client/anchor.ts initLogAnchor; no network). */
  static initLogAnchor(metadataDir: string, init: AnchorInit): Promise<LogAnchor> {
    return initLogAnchor(metadataDir, init);
  }

  /** True when `metadataDir` holds a log anchor, so that only witnessed releases may be accepted. */
  static hasLogAnchor(metadataDir: string): Promise<boolean> {
    return hasLogAnchor(metadataDir);
  }

  /** The log check, the root bootstrap and the TUF workflow; once per instance, retried from scratch after a failure. */
  refresh(): Promise<WitnessedRefreshReport> {
    if (!this.refreshing) {
      this.refreshing = this.runRefresh();
      this.refreshing.catch(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  async getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    await this.refresh();
    return this.inner!.getTargetInfo(targetPath);
  }

  /** Local path if already present with matching length and hashes (no network, no refresh). */
  findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined> {
    return (this.inner ?? new Updater(this.options)).findCachedTarget(info, filePath);
  }

  async downloadTarget(info: TargetFile, filePath?: string, targetBaseUrl?: string): Promise<string> {
    await this.refresh();
    const path = await this.inner!.downloadTarget(info, filePath, targetBaseUrl);
    if (this.verifyAttestationsOnDownload) await this.verifyTargetAttestations(info);
    return path;
  }

  async downloadTargets(infos: readonly TargetFile[], concurrency?: number, targetBaseUrl?: string): Promise<string[]> {
    await this.refresh();
    const paths = await this.inner!.downloadTargets(infos, concurrency, targetBaseUrl);
    if (this.verifyAttestationsOnDownload) for (const info of infos) await this.verifyTargetAttestations(info);
    return paths;
  }

  /**
   * Re-checks a target's rebuild attestations (client/attestation-check.ts) under the build
   * policy of the trusted root, against the witnessed block the accepted state matched. Throws
   * AttestationError (BAD_POLICY when the root has none, QUORUM_NOT_MET, REBUILD_FAILED) or
   * ClientError('NOT_WITNESSED').
   */
  async verifyTargetAttestations(info: TargetFile): Promise<TargetAttestationReport> {
    await this.refresh();
    if (!this.attestationChecker) {
      const root = parseEnvelope('root', await this.readAccepted('root.json', this.config.rootMaxLength), 'trusted root.json');
      const policy = buildPolicyOf(root);
      if (!policy) throw new AttestationError('BAD_POLICY', `the trusted root v${root.version} has no build policy (${BUILD_POLICY_FIELD}): there is no verifier quorum to check`);
      this.attestationChecker = new AttestationChecker({ fetcher: this.fetcher, attestationsUrl: this.attestationsUrl, logUrl: this.logUrl, policy, matched: this.matchedBlock! });
    }
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined) throw new AttestationError('NO_DECLARATION', `${info.path} lists no sha256; attestations name one`);
    const declaration = declarationFromCustom(info.custom as JsonObject, `${info.path} custom metadata`);
    return this.attestationChecker.check({ name: info.path, sha256, ...(declaration ? { declaration } : {}) });
  }

  // --- refresh ---

  private async runRefresh(): Promise<WitnessedRefreshReport> {
    const now = this.now();
    const anchor = await readAnchor(this.metadataDir, this.witnessConfig.anchorMaxBytes);
    if (anchor === undefined) {
      throw new ClientError('NOT_ANCHORED', `${this.metadataDir} has no log anchor (${join('log', 'anchor.json')})`, {
        hint: 'pin a trusted block: cairn tuf init ROOT_FILE --log-anchor HASH',
      });
    }
    const counter: SourceCounter = { bytes: 0, reads: 0 };
    const raw = logDirectorySource(this.fetcher, this.logUrl, counter);
    let headBytes: Uint8Array | undefined;
    const source: LogSource = {
      ...raw,
      getHead: async (maxBytes) => {
        const bytes = await raw.getHead(maxBytes);
        if (bytes === undefined) {
          throw new ClientError('NO_HEAD', `this client trusts log block ${anchor.index} (${short(anchor.hash)}) but ${this.logUrl}head.json does not exist`, {
            hint: 'a client with a log anchor accepts only witnessed releases and never falls back to plain TUF; use a mirror that serves the log, or check --log-url',
          });
        }
        headBytes = bytes;
        return bytes;
      },
    };
    let blocksFetched = 0;

    // 1. The trusted block and its roster, then the catch-up to the head.
    let trusted = await readTrustedBlock(this.metadataDir, anchor);
    if (trusted === undefined) {
      const bytes = await raw.getBlock(anchor.index, LOG_FILE_LIMITS.block.maxBytes);
      if (bytes === undefined) {
        throw new ClientError('BAD_ANCHOR', `the trusted block ${anchor.index} (${short(anchor.hash)}) is not stored locally and ${this.logUrl} does not publish it`, {
          hint: 'initialize with --log-block FILE, or check --log-url',
        });
      }
      trusted = parseBlockBytes(bytes, `block ${anchor.index} from ${this.logUrl}`);
      checkAnchoredBlock(anchor, trusted, `block ${anchor.index} from ${this.logUrl}`);
      blocksFetched++;
    }
    const trustedBlock = trusted;
    const roster = await this.rosterOf(trustedBlock, raw);
    const last = await readLastHead(this.metadataDir);
    const caught = await catchUp(source, { block: trustedBlock, roster }, {
      freshness: {
        now,
        maxAgeSeconds: this.witnessConfig.maxHeadAgeSeconds,
        maxFutureSkewSeconds: this.witnessConfig.maxFutureSkewSeconds,
        ...(last === undefined ? {} : { lastAccepted: { index: last.statement.index, hash: last.statement.hash, time: last.statement.time } }),
      },
      limits: this.witnessConfig.catchUpLimits,
    });
    blocksFetched += caught.stats.blocks;
    const head = caught.head;

    // The predecessor, only when a publish window needs it, verified by the head's back link 0.
    let predecessor: Promise<Block | undefined> | undefined;
    const loadPredecessor = (): Promise<Block | undefined> =>
      (predecessor ??= (async () => {
        if (head.index === 0) return undefined;
        const expected = head.backLinks[0]!;
        if (trustedBlock.index === head.index - 1 && blockHash(trustedBlock) === expected) return trustedBlock;
        const bytes = await raw.getBlock(head.index - 1, LOG_FILE_LIMITS.block.maxBytes);
        if (bytes === undefined) return undefined;
        blocksFetched++;
        const block = parseBlockBytes(bytes, `block ${head.index - 1}`);
        const hash = blockHash(block);
        if (hash !== expected) {
          throw new LogError('BAD_BACK_LINK', `block ${head.index - 1} served by the mirror has hash ${short(hash)}; the witnessed head block ${head.index} names ${short(expected)} as its predecessor`);
        }
        return block;
      })());
    const checker = new WitnessChecker(head, loadPredecessor);

    // 2. Root bootstrap from the witnessed head block.
    const rootBootstrap = await this.bootstrapRoot(head, loadPredecessor);

    // 3. TUF, every root, timestamp, snapshot and top-level targets matched against the log first.
    const inner = new Updater({ ...this.options, fetcher: new WitnessCheckingFetcher(this.fetcher, this.metadataBaseUrl, checker) });
    const tuf = await inner.refresh();

    // 4. What TUF accepted, local copies included, is the witnessed state.
    const matched = checker.checkAccepted({
      root: tuf.root.version,
      snapshot: await this.readAccepted('snapshot.json', this.config.snapshotMaxLength),
      targets: await this.readAccepted('targets.json', this.config.targetsMaxLength),
    });

    // 5. Advance the anchor and remember the head statement.
    await commitAnchor(this.metadataDir, { previous: anchor, block: head, roster: caught.roster, headBytes: headBytes! });
    this.inner = inner;
    this.matchedBlock = matched.block;
    this.attestationChecker = undefined;

    const statement = caught.headFile.statement;
    const ageSeconds = Math.max(0, Math.round(now.getTime() / 1000 - parseUtcTime(statement.time)!));
    const signers = countParticipants(decodeBitmap(caught.headFile.cosignature.bitmap, caught.roster.witnesses.length));
    const log: LogReport = {
      logUrl: this.logUrl,
      chain: chainIdOf(head),
      from: { index: trustedBlock.index, hash: blockHash(trustedBlock) },
      head: {
        index: head.index,
        hash: statement.hash,
        time: statement.time,
        ageSeconds,
        maxAgeSeconds: this.witnessConfig.maxHeadAgeSeconds,
        signers,
        witnesses: caught.roster.witnesses.length,
        threshold: caught.roster.threshold,
      },
      blocksCaughtUp: head.index - trustedBlock.index,
      links: caught.stats.links,
      missingLinks: caught.stats.missingLinks,
      rosters: caught.stats.rosters,
      blocksFetched,
      bytes: counter.bytes,
      matched: {
        index: matched.block.index,
        which: matched.which,
        root: matched.block.payload.root.version,
        snapshot: matched.block.payload.snapshot.version,
        targets: matched.block.payload.targets.version,
      },
    };
    const steps = [
      `log: caught up ${log.blocksCaughtUp} block${log.blocksCaughtUp === 1 ? '' : 's'} (${log.from.index} -> ${head.index}) via ${log.links} forward link${log.links === 1 ? '' : 's'}, ` +
        `each co-signed by its source block's roster threshold; ${log.rosters} roster change${log.rosters === 1 ? '' : 's'} crossed, ${log.bytes} bytes`,
      `log: head block ${head.index} signed by ${signers} of ${log.head.witnesses} witnesses (threshold ${log.head.threshold}) at ${statement.time}, ` +
        `${formatAge(ageSeconds)} old (max ${formatAge(log.head.maxAgeSeconds)}), not older than the last accepted head`,
      ...(rootBootstrap === null
        ? []
        : [`root bootstrap: root v${rootBootstrap.from} -> v${rootBootstrap.to} installed from the witnessed block (sha256 matches, ${rootBootstrap.rootsFetched} root fetched)`]),
      ...tuf.steps,
      `witnessed: root v${tuf.root.version}, snapshot v${log.matched.snapshot} and targets v${log.matched.targets} are those block ${matched.block.index} (${matched.which}) records`,
    ];
    return {
      ...tuf,
      steps,
      log,
      rootBootstrap,
      rootsFetched: (rootBootstrap?.rootsFetched ?? 0) + checker.rootsFetched,
    };
  }

  /** The roster in force at `block`: carried by it, cached locally, or fetched by its hash. */
  private async rosterOf(block: Block, source: LogSource): Promise<Roster> {
    if (block.rosterChange !== null) return block.rosterChange.roster;
    const cached = await readCachedRoster(this.metadataDir, block.roster);
    if (cached !== undefined) return cached;
    const bytes = await source.getRoster(block.roster, LOG_FILE_LIMITS.roster.maxBytes);
    if (bytes === undefined) throw new LogError('UNKNOWN_ROSTER', `roster ${short(block.roster)} in force at the trusted block ${block.index} is neither cached nor published`);
    const roster = parseRoster(parseJsonObject(bytes, `roster ${short(block.roster)}`, LOG_FILE_LIMITS.roster), `roster ${short(block.roster)}`);
    if (rosterHash(roster) !== block.roster) throw new LogError('UNKNOWN_ROSTER', `the file for roster ${short(block.roster)} holds roster ${short(rosterHash(roster))}`);
    return roster;
  }

  /**
   * Step 2: when the witnessed head block records a root newer than the trusted one, fetch that
   * N.root.json (in a publish window, when it is not there yet, the predecessor's, if newer than
   * ours), check its sha256 against the block and that it is a root signed by its own threshold,
   * and install it. Returns null when no root was installed.
   */
  private async bootstrapRoot(head: Block, loadPredecessor: () => Promise<Block | undefined>): Promise<RootBootstrapReport | null> {
    const path = join(this.metadataDir, 'root.json');
    let localBytes: Uint8Array;
    try {
      const st = await stat(path);
      if (st.size > this.config.rootMaxLength) throw new TufError('BAD_METADATA', `${path} is ${st.size} bytes, the limit is ${this.config.rootMaxLength}`);
      localBytes = await readFile(path);
    } catch (e) {
      if (e instanceof TufError) throw e;
      throw new TufError('NOT_TRUSTED', `no trusted root.json in ${this.metadataDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: 'initialize the client with a trusted root first (cairn tuf init ROOT_FILE)',
      });
    }
    const from = parseEnvelope('root', localBytes, 'trusted root.json').version;
    if (head.payload.root.version <= from) return null;
    let block = head;
    let bytes: Buffer;
    try {
      bytes = await fetchAll(this.fetcher, `${this.metadataBaseUrl}${head.payload.root.version}.root.json`, this.config.rootMaxLength);
    } catch (e) {
      // In a publish window the head's root may not be published yet: install the predecessor's
      // when it is newer than ours, else leave the root to TUF (the checker still refuses any
      // root the two blocks do not record, and the accepted state must match one of them).
      if (!(e instanceof FetchError && e.code === 'NOT_FOUND')) throw e;
      const pred = await this.predecessorWithNewerRoot(head, from, loadPredecessor);
      if (pred === undefined) return null;
      block = pred;
      bytes = await fetchAll(this.fetcher, `${this.metadataBaseUrl}${pred.payload.root.version}.root.json`, this.config.rootMaxLength);
    }
    const { version, sha256 } = block.payload.root;
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new ClientError('NOT_WITNESSED', `${version}.root.json has sha256 ${short(actual)}; the witnessed block ${block.index} records root v${version} with ${short(sha256)}`, {
        hint: 'the mirror serves a root the witnesses did not co-sign; try another mirror and report it',
      });
    }
    const root = parseEnvelope('root', bytes, `${version}.root.json`);
    if (root.version !== version) throw new TufError('BAD_VERSION', `${version}.root.json holds root v${root.version}`);
    const role = root.signed.roles.root;
    if (!role) throw new TufError('BAD_METADATA', `${version}.root.json has no root role`);
    verifyThreshold(root, 'root', role, root.signed.keys, `root v${version} itself`);
    await writeFileAtomic(path, bytes, { mkdirs: false });
    return { from, to: version, rootsFetched: 1 };
  }

  /** The predecessor of `head` when its root is newer than `from` and older than the head's (the publish-window fallback). */
  private async predecessorWithNewerRoot(head: Block, from: number, loadPredecessor: () => Promise<Block | undefined>): Promise<Block | undefined> {
    if (head.index === 0) return undefined;
    const pred = await loadPredecessor().catch(() => undefined);
    if (pred === undefined) return undefined;
    const v = pred.payload.root.version;
    return v > from && v < head.payload.root.version ? pred : undefined;
  }

  /** A document the TUF workflow just accepted, read back from metadataDir (capped). */
  private async readAccepted(name: string, maxBytes: number): Promise<Uint8Array> {
    const path = join(this.metadataDir, name);
    const st = await stat(path);
    if (st.size > maxBytes) throw new TufError('LENGTH_MISMATCH', `${path} is ${st.size} bytes, the limit is ${maxBytes}`);
    return readFile(path);
  }
}

/** Creates the client `metadataDir` calls for: a WitnessedUpdater when it holds a log anchor, else the plain TUF Updater. */
export async function createUpdater(options: WitnessedUpdaterOptions): Promise<{ updater: TargetUpdater; witnessed: boolean }> {
  if (await hasLogAnchor(options.metadataDir)) return { updater: new WitnessedUpdater(options), witnessed: true };
  const { logUrl: _logUrl, witness: _witness, verifyAttestations: _v, attestationsUrl: _a, ...tufOptions } = options;
  return { updater: new Updater(tufOptions), witnessed: false };
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
