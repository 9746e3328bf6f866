// tuf/updater.ts: the TUF client workflow (TUF spec 1.0.x section 5; behaviour of python-tuf's
// ngclient Updater and tuf-js's Updater): refresh() runs the update cycle as its named steps, fix
// the reference time and load the trusted root (5.1-5.2, tuf/root-update.ts), update the root
// (5.3), the timestamp (5.4) and the snapshot (5.5, tuf/timestamp-snapshot-update.ts) and the
// top-level targets (5.6, tuf/targets-update.ts); getTargetInfo searches the delegations for a
// target (5.6.7, tuf/delegation-search.ts); downloadTarget fetches and verifies it (5.7,
// tuf/target-download.ts). Every check is TrustedSet's (tuf/trusted-set.ts); metadata comes from
// a Fetcher with a cap on every read and is kept byte-exact in metadataDir as soon as it is
// verified (tuf/metadata-files.ts). A document that fails a check is never written, so a refusal
// leaves the attacked role's trusted copy as it was.
import { dirname, join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { UsageError } from '../errors/index.js';
import { BoundedFetcher, type Fetcher } from '../io/fetch.js';
import { fsyncDirectory, writeFileAtomic } from '../io/atomic-write.js';
import { resolveConfig, type UpdaterConfig } from './config.js';
import { searchDelegations } from './delegation-search.js';
import { parseEnvelope, type RootEnvelope, type SnapshotEnvelope, type TargetsEnvelope, type TimestampEnvelope } from './metadata.js';
import { directoryUrl, MetadataFiles, quoteName } from './metadata-files.js';
import { RefreshOnce } from './refresh-once.js';
import { refreshReport, type RefreshReport } from './refresh-report.js';
import { loadTrustedRoot, localTimestampAndSnapshotRevoked, updateRoot } from './root-update.js';
import { downloadTargetFile, findCachedTarget, targetUrl } from './target-download.js';
import { TargetsRoles } from './targets-update.js';
import { updateSnapshot, updateTimestamp } from './timestamp-snapshot-update.js';
import { verifySelfSignedRoot, type TrustedSet } from './trusted-set.js';
import { runWithConcurrency } from './worker-pool.js';

export interface UpdaterOptions {
  metadataDir: string;
  metadataBaseUrl: string;
  targetBaseUrl?: string;
  targetDir?: string;
  fetcher?: Fetcher;
  /**
   * `socks5h://HOST:PORT`: the default fetcher sends every request through this SOCKS5 proxy,
   * names resolved at the proxy (io/socks-proxy.ts, docs/onion.md). Not with `fetcher`.
   */
  proxy?: string;
  config?: Partial<UpdaterConfig>;
  now?: () => Date;
}

/** The top-level metadata a successful refresh accepted, exactly as verified (each envelope keeps its raw bytes). */
export interface TrustedMetadata {
  root: RootEnvelope;
  timestamp: TimestampEnvelope;
  snapshot: SnapshotEnvelope;
  targets: TargetsEnvelope;
}

export class Updater {
  readonly config: UpdaterConfig;
  private readonly files: MetadataFiles;
  private readonly targetBaseUrl: string | undefined;
  private readonly targetDir: string | undefined;
  private readonly fetcher: Fetcher;
  private readonly now: () => Date;
  private readonly refreshOnce = new RefreshOnce(() => this.runRefresh());
  /** The trusted set of the latest refresh (also a failed one: downloads follow its root's consistent-snapshot setting). */
  private trusted: TrustedSet | undefined;
  /** The targets roles of the latest refresh, loaded on demand by delegation searches. */
  private roles: TargetsRoles | undefined;

  constructor(options: UpdaterOptions) {
    if (!options.metadataDir) throw new UsageError('MISSING_ARGUMENT', 'Updater needs a metadataDir');
    if (!options.metadataBaseUrl) throw new UsageError('MISSING_ARGUMENT', 'Updater needs a metadataBaseUrl');
    this.config = resolveConfig(options.config);
    this.targetBaseUrl = options.targetBaseUrl === undefined ? undefined : directoryUrl(options.targetBaseUrl);
    this.targetDir = options.targetDir;
    if (options.fetcher !== undefined && options.proxy !== undefined) throw new UsageError('CONFLICT', 'Updater takes a fetcher or a proxy, not both: give the fetcher the proxy');
    this.fetcher = options.fetcher ?? new BoundedFetcher(this.config.fetchLimits, { proxy: options.proxy });
    this.files = new MetadataFiles(options.metadataDir, options.metadataBaseUrl, this.fetcher);
    this.now = options.now ?? (() => new Date());
  }

  /** Store rootBytes as the trusted root in metadataDir (root.json), after parsing it (and checking it is self-signed to threshold); no network. */
  static async initTrustedRoot(metadataDir: string, rootBytes: Uint8Array): Promise<void> {
    verifySelfSignedRoot(parseEnvelope('root', rootBytes, 'initial root.json'), 'initial root.json');
    await writeFileAtomic(join(metadataDir, 'root.json'), rootBytes);
  }

  /** Full 5.3-5.6 top-level workflow; returns what was checked. Runs once per instance; later calls return the same report. */
  refresh(): Promise<RefreshReport> {
    return this.refreshOnce.run();
  }

  /** The top-level metadata the refresh accepted (refreshes first if needed). */
  async trustedMetadata(): Promise<TrustedMetadata> {
    await this.refresh();
    const trusted = this.roles!.trusted;
    return { root: trusted.root, timestamp: trusted.timestamp!, snapshot: trusted.snapshot!, targets: trusted.targets! };
  }

  /** Pre-order DFS delegation search (5.6.7); undefined if no role lists the path. */
  async getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    await this.refresh();
    return searchDelegations(this.roles!, targetPath, this.config.maxDelegations);
  }

  /**
   * getTargetInfo for several paths, at most `concurrency` delegation searches at a time; a role
   * that several searches need is fetched and verified once. Results are in the order of `paths`.
   */
  async getTargetInfos(paths: readonly string[], concurrency = this.config.downloadConcurrency): Promise<Array<TargetFile | undefined>> {
    await this.refresh();
    const roles = this.roles!;
    const results = new Array<TargetFile | undefined>(paths.length);
    await runWithConcurrency(paths.length, concurrency, async (i) => {
      results[i] = await searchDelegations(roles, paths[i]!, this.config.maxDelegations);
    });
    return results;
  }

  /** Local path if already present in targetDir with matching length and hashes, else undefined. */
  async findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined> {
    return findCachedTarget(info, filePath ?? this.defaultTargetPath(info));
  }

  /**
   * Downloads a target (5.7): at most info.length bytes, hashed while written to a temporary file
   * in the destination directory, checked, fsynced and renamed into place, and the directory
   * fsynced so that the file is durable when this returns. With consistent snapshots the URL is
   * DIR/HASH.NAME (first hash listed). Returns the local path.
   */
  async downloadTarget(info: TargetFile, filePath?: string, targetBaseUrl?: string): Promise<string> {
    const base = this.targetBase(targetBaseUrl);
    const path = await this.fetchTarget(info, filePath ?? this.defaultTargetPath(info), base);
    await fsyncDirectory(dirname(path));
    return path;
  }

  /**
   * Downloads several targets, at most `concurrency` at a time; returns local paths in order.
   * Each file is verified, fsynced and renamed into place exactly as by downloadTarget; the
   * directories are fsynced once each at the end instead of once per file, so every file is
   * durable when this returns (a crash before then leaves each file absent or complete).
   */
  async downloadTargets(infos: readonly TargetFile[], concurrency = this.config.downloadConcurrency, targetBaseUrl?: string): Promise<string[]> {
    const base = this.targetBase(targetBaseUrl);
    const paths = infos.map((info) => this.defaultTargetPath(info));
    const results: string[] = new Array<string>(infos.length);
    const renamedInto = new Set<string>();
    let failed = false;
    try {
      await runWithConcurrency(infos.length, concurrency, async (i) => {
        results[i] = await this.fetchTarget(infos[i]!, paths[i]!, base);
        renamedInto.add(dirname(results[i]));
      });
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // Also after a failure: the files already in place are complete and should stay.
      const synced = Promise.all([...renamedInto].map((dir) => fsyncDirectory(dir)));
      if (failed) await synced.catch(() => undefined);
      else await synced;
    }
    return results;
  }

  // --- the update cycle (5.1-5.6) ---

  private async runRefresh(): Promise<RefreshReport> {
    // 5.1: the fixed update start time; 5.2: the trusted root.
    const referenceTime = this.now();
    const trusted = await loadTrustedRoot(this.files, this.config, referenceTime);
    this.trusted = trusted;
    this.roles = new TargetsRoles(trusted, this.files, this.config);
    // 5.3: root rotations; 5.3.11: local timestamp and snapshot unusable after a key rotation.
    const rootUpdate = await updateRoot(trusted, this.files, this.config);
    const skipLocal = localTimestampAndSnapshotRevoked(trusted);
    // 5.4: timestamp.
    const timestamp = await updateTimestamp(trusted, this.files, this.config, skipLocal);
    // 5.5: snapshot.
    const snapshot = await updateSnapshot(trusted, this.files, this.config, skipLocal);
    // 5.6: top-level targets.
    const targets = await this.roles.update('targets', 'root');
    return refreshReport(trusted, referenceTime, rootUpdate, { timestamp, snapshot, targets });
  }

  // --- targets (5.7) ---

  private targetBase(targetBaseUrl: string | undefined): string {
    const base = targetBaseUrl === undefined ? this.targetBaseUrl : directoryUrl(targetBaseUrl);
    if (base === undefined) {
      throw new UsageError('MISSING_ARGUMENT', 'no target base URL: pass targetBaseUrl to the Updater or to downloadTarget');
    }
    return base;
  }

  /** 5.7.3 for one target (the directory is the caller's to fsync). */
  private fetchTarget(info: TargetFile, path: string, base: string): Promise<string> {
    const hashPrefixed = (this.trusted?.root.signed.consistentSnapshot ?? false) && this.config.prefixTargetsWithHash;
    return downloadTargetFile(this.fetcher, info, targetUrl(base, info, hashPrefixed), path);
  }

  private defaultTargetPath(info: TargetFile): string {
    if (this.targetDir === undefined) {
      throw new UsageError('MISSING_ARGUMENT', 'no target directory: pass targetDir to the Updater or a file path');
    }
    return join(this.targetDir, quoteName(info.path));
  }
}
