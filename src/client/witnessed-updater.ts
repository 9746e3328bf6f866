// client/witnessed-updater.ts: the witnessed client, a TUF client that accepts only witnessed
// releases (docs/protocol.md sections 5-7 and 9 "Clients and the log"; CHAINIAC section 4: no
// client accepts a release before it is publicly logged). The trust anchor is root.json plus a
// trusted log block (client/anchor.ts). refresh() loads the anchor, then runs the steps of
// docs/protocol.md section 9 "What a refresh checks, in order", each from its own module:
//
// 1. log: catch up from the trusted block to the head block through verified forward links
//    (O(log n) links, each co-signed by its source block's roster) and check the head statement:
//    co-signed by the head block's roster, fresh (maxHeadAge), not older than the last accepted
//    one (client/mirror-log.ts);
// 2. root bootstrap: when the head block records a root newer than the trusted one, install it
//    from the block (client/root-bootstrap.ts), so a client many rotations behind fetches one root;
// 3. TUF: the TUF workflow (tuf.Updater) through WitnessCheckingFetcher, which refuses a root,
//    timestamp, snapshot or top-level targets that the head block (or, in a publish window, its
//    predecessor) does not record before the updater can verify and persist it
//    (client/witness-check.ts);
// 4. accepted state: the snapshot and targets TUF accepted (downloaded or still-valid local
//    copies) are checked against the witnessed payload once more, and the snapshot must pin
//    every role by length and sha256; delegated roles and hash bins, fetched later by target
//    searches, then pass the same fetcher only with exactly the pinned bytes;
// 5. commit: only then the anchor advances to the head block and the head statement is kept.
//
// Any failure throws a typed error (ClientError, LogError, TufError, FetchError) and leaves the
// anchor as it was; TUF files change only for documents that both TUF and the log accepted.
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { UsageError } from '../errors/index.js';
import { BoundedFetcher, type Fetcher } from '../io/fetch.js';
import type { Block } from '../log/index.js';
import { MetadataFiles, RefreshOnce, Updater, directoryUrl, resolveConfig, type RefreshReport, type UpdaterConfig, type UpdaterOptions } from '../tuf/index.js';
import { commitAnchor, hasLogAnchor, readAnchor, type LogAnchor } from './anchor.js';
import { resolveWitnessedConfig, type WitnessedClientConfig } from './config.js';
import { ClientError } from './errors.js';
import { AttestationChecker, defaultAttestationsUrl, type TargetAttestationReport } from './attestation-check.js';
import { AttestationError, BUILD_POLICY_FIELD, buildPolicyOf, declarationFromCustom } from '../policy/index.js';
import type { JsonObject } from '../encoding/canonical-json.js';
import { MirrorLog, defaultLogUrl } from './mirror-log.js';
import { bootstrapRoot } from './root-bootstrap.js';
import { WitnessChecker, WitnessCheckingFetcher } from './witness-check.js';
import { witnessedRefreshReport, type WitnessedRefreshReport } from './witnessed-report.js';

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

/** What both updaters offer, the witnessed client and the plain TUF Updater; the command line drives either through it. */
export interface TargetUpdater {
  refresh(): Promise<RefreshReport>;
  getTargetInfo(targetPath: string): Promise<TargetFile | undefined>;
  findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined>;
  downloadTarget(info: TargetFile, filePath?: string, targetBaseUrl?: string): Promise<string>;
  downloadTargets(infos: readonly TargetFile[], concurrency?: number, targetBaseUrl?: string): Promise<string[]>;
}

/** The options of the TUF Updater among the witnessed client's. */
function tufOptionsOf(options: WitnessedUpdaterOptions): UpdaterOptions {
  const { logUrl: _logUrl, witness: _witness, verifyAttestations: _v, attestationsUrl: _a, proxy: _proxy, ...tufOptions } = options;
  return tufOptions;
}

export class WitnessedUpdater implements TargetUpdater {
  readonly config: UpdaterConfig;
  readonly witnessConfig: WitnessedClientConfig;
  readonly logUrl: string;
  readonly attestationsUrl: string;
  private readonly options: UpdaterOptions;
  private readonly metadataDir: string;
  private readonly metadataBaseUrl: string;
  private readonly fetcher: Fetcher;
  private readonly now: () => Date;
  private readonly verifyAttestationsOnDownload: boolean;
  private readonly refreshOnce = new RefreshOnce(() => this.runRefresh());
  /** The TUF updater of the last successful refresh (a failed one is never reused). */
  private inner: Updater | undefined;
  /** The witnessed block the last successful refresh matched. */
  private matchedBlock: Block | undefined;
  private attestationChecker: AttestationChecker | undefined;

  constructor(options: WitnessedUpdaterOptions) {
    if (!options.metadataDir) throw new UsageError('MISSING_ARGUMENT', 'WitnessedUpdater needs a metadataDir');
    if (!options.metadataBaseUrl) throw new UsageError('MISSING_ARGUMENT', 'WitnessedUpdater needs a metadataBaseUrl');
    this.config = resolveConfig(options.config);
    this.witnessConfig = resolveWitnessedConfig(options.witness);
    this.metadataDir = options.metadataDir;
    this.metadataBaseUrl = directoryUrl(options.metadataBaseUrl);
    this.logUrl = directoryUrl(options.logUrl ?? defaultLogUrl(this.metadataBaseUrl));
    // One fetcher for every request of the client (log, TUF, targets, attestations): with a proxy, all of them go through it.
    if (options.fetcher !== undefined && options.proxy !== undefined) throw new UsageError('CONFLICT', 'WitnessedUpdater takes a fetcher or a proxy, not both: give the fetcher the proxy');
    this.fetcher = options.fetcher ?? new BoundedFetcher(this.config.fetchLimits, { proxy: options.proxy });
    this.now = options.now ?? (() => new Date());
    this.verifyAttestationsOnDownload = options.verifyAttestations ?? false;
    this.attestationsUrl = directoryUrl(options.attestationsUrl ?? defaultAttestationsUrl(this.metadataBaseUrl));
    this.options = { ...tufOptionsOf(options), fetcher: this.fetcher, now: this.now };
  }

  /** The log check, the root bootstrap and the TUF workflow; once per instance, retried from scratch after a failure. */
  refresh(): Promise<WitnessedRefreshReport> {
    return this.refreshOnce.run();
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
      const { root } = await this.inner!.trustedMetadata();
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
    const anchor = await this.loadAnchor();
    const log = new MirrorLog(this.fetcher, this.logUrl, this.metadataDir, anchor);

    // 1. Log: from the trusted block (and the roster in force at it) to the head, and the head statement.
    const trustedBlock = await log.trustedBlock();
    const caught = await log.catchUp(trustedBlock, await log.rosterAt(trustedBlock), now, this.witnessConfig);
    const loadPredecessor = log.predecessorOf(caught.head, trustedBlock);
    const checker = new WitnessChecker(caught.head, loadPredecessor);

    // 2. Root bootstrap from the witnessed head block.
    const rootBootstrap = await bootstrapRoot(new MetadataFiles(this.metadataDir, this.metadataBaseUrl, this.fetcher), this.config, caught.head, loadPredecessor);

    // 3. TUF, every root, timestamp, snapshot and top-level targets matched against the log first.
    const inner = new Updater({ ...this.options, fetcher: new WitnessCheckingFetcher(this.fetcher, this.metadataBaseUrl, checker) });
    const tuf = await inner.refresh();

    // 4. Accepted state: what TUF accepted, local copies included, is the witnessed state.
    const accepted = await inner.trustedMetadata();
    const matched = checker.checkAccepted(accepted);

    // 5. Commit: advance the anchor to the head block and keep the head statement.
    await commitAnchor(this.metadataDir, { previous: anchor, block: caught.head, roster: caught.roster, headBytes: caught.headBytes });
    this.inner = inner;
    this.matchedBlock = matched.block;
    this.attestationChecker = undefined;

    return witnessedRefreshReport({
      now, logUrl: this.logUrl, config: this.witnessConfig, trustedBlock, caught, mirrorLog: log, rootBootstrap, tuf, matched, tufRootsFetched: checker.rootsFetched,
    });
  }

  /** The pinned trusted block (NOT_ANCHORED without one: this client never falls back to plain TUF). */
  private async loadAnchor(): Promise<LogAnchor> {
    const anchor = await readAnchor(this.metadataDir, this.witnessConfig.anchorMaxBytes);
    if (anchor === undefined) {
      throw new ClientError('NOT_ANCHORED', `${this.metadataDir} has no log anchor (${join('log', 'anchor.json')})`, {
        hint: 'pin a trusted block: cairn tuf --metadata-dir DIR init ROOT_FILE --log-anchor HASH',
      });
    }
    return anchor;
  }
}

/** Creates the updater `metadataDir` calls for: the witnessed client when it holds a log anchor, else the plain TUF Updater. */
export async function createUpdater(options: WitnessedUpdaterOptions): Promise<{ updater: TargetUpdater; witnessed: boolean }> {
  if (await hasLogAnchor(options.metadataDir)) return { updater: new WitnessedUpdater(options), witnessed: true };
  return { updater: new Updater(tufOptionsOf(options)), witnessed: false };
}
