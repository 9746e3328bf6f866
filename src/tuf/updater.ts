// tuf/updater.ts: the TUF client workflow (TUF spec 1.0.x section 5; behaviour of python-tuf's
// ngclient Updater): refresh root, timestamp, snapshot and targets (5.3-5.6), search delegations
// for a target (5.6.7), and download and verify targets (5.7). The I/O shell around the pure
// TrustedSet: metadata comes from a Fetcher with a cap on every read, trusted metadata is kept
// in metadataDir byte-exact under plain names as soon as each document is verified (spec 5.3.7,
// 5.4.5, 5.5.7, 5.6.6; as python-tuf does): root, timestamp and snapshot durably through
// writeFileAtomic, targets roles atomically but without fsync (a cache: see persistTargetsRole).
// A document that fails a check is never written, so a refusal leaves the attacked role's
// trusted copy as it was.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { UsageError, short } from '../errors/index.js';
import { fetchAll, BoundedFetcher, FetchError, type Fetcher } from '../io/fetch.js';
import { writeFileAtomic, fsyncDirectory } from '../io/atomic-write.js';
import { resolveConfig, type UpdaterConfig } from './config.js';
import { TufError } from './errors.js';
import { rolesForTarget } from './delegation.js';
import { parseEnvelope, type Envelope, type TargetsEnvelope } from './metadata.js';
import { TrustedSet } from './trusted-set.js';
import { verifyThreshold } from './verify.js';

export interface UpdaterOptions {
  metadataDir: string;
  metadataBaseUrl: string;
  targetBaseUrl?: string;
  targetDir?: string;
  fetcher?: Fetcher;
  config?: Partial<UpdaterConfig>;
  now?: () => Date;
}

/** One role as accepted by a refresh. `source` says whether the local copy was still valid. */
export interface RoleReport {
  role: string;
  version: number;
  expires: string;
  source: 'cache' | 'remote';
}

/** What refresh() checked, for progress output. */
export interface RefreshReport {
  /** The reference time of every expiry check (captured once at the start). */
  referenceTime: string;
  consistentSnapshot: boolean;
  /** Root versions trusted during the refresh, from the local one to the final one. */
  rootVersions: number[];
  /** True when maxRootRotations stopped the root update before the repository ran out of roots. */
  rootRotationsCapped: boolean;
  root: RoleReport;
  timestamp: RoleReport;
  snapshot: RoleReport;
  targets: RoleReport;
  /** One line per check passed, in workflow order, for people. */
  steps: string[];
}

const SUPPORTED_TARGET_HASHES = new Set(['sha224', 'sha256', 'sha384', 'sha512']);

/** python-tuf's urllib.parse.quote(name, safe=''): everything but A-Z a-z 0-9 _ . - ~ is escaped. */
export function quoteName(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export class Updater {
  readonly config: UpdaterConfig;
  private readonly metadataDir: string;
  private readonly metadataBaseUrl: string;
  private readonly targetBaseUrl: string | undefined;
  private readonly targetDir: string | undefined;
  private readonly fetcher: Fetcher;
  private readonly now: () => Date;
  private trusted: TrustedSet | undefined;
  private refreshing: Promise<RefreshReport> | undefined;
  private readonly loadingRoles = new Map<string, Promise<TargetsEnvelope>>();

  constructor(options: UpdaterOptions) {
    if (!options.metadataDir) throw new UsageError('MISSING_ARGUMENT', 'Updater needs a metadataDir');
    if (!options.metadataBaseUrl) throw new UsageError('MISSING_ARGUMENT', 'Updater needs a metadataBaseUrl');
    this.config = resolveConfig(options.config);
    this.metadataDir = options.metadataDir;
    this.metadataBaseUrl = withSlash(options.metadataBaseUrl);
    this.targetBaseUrl = options.targetBaseUrl === undefined ? undefined : withSlash(options.targetBaseUrl);
    this.targetDir = options.targetDir;
    this.fetcher = options.fetcher ?? new BoundedFetcher(this.config.fetchLimits);
    this.now = options.now ?? (() => new Date());
  }

  /** Store rootBytes as the trusted root in metadataDir (root.json), after parsing it (and checking it is self-signed to threshold); no network. */
  static async initTrustedRoot(metadataDir: string, rootBytes: Uint8Array): Promise<void> {
    const root = parseEnvelope('root', rootBytes, 'initial root.json');
    const role = root.signed.roles.root;
    if (!role) throw new TufError('BAD_METADATA', 'initial root.json has no root role');
    verifyThreshold(root, 'root', role, root.signed.keys, `root v${root.version} itself`);
    await writeFileAtomic(join(metadataDir, 'root.json'), rootBytes);
  }

  /** Full 5.3-5.6 top-level workflow; returns what was checked. Runs once per instance; later calls return the same report. */
  refresh(): Promise<RefreshReport> {
    if (!this.refreshing) {
      this.refreshing = this.runRefresh();
      // A failed refresh may be retried from scratch.
      this.refreshing.catch(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  /** Pre-order DFS delegation search (5.6.7); undefined if no role lists the path. */
  async getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    await this.refresh();
    return this.searchDelegations(this.trusted!, targetPath);
  }

  /**
   * getTargetInfo for several paths, at most `concurrency` delegation searches at a time; a role
   * that several searches need is fetched and verified once. Results are in the order of `paths`.
   */
  async getTargetInfos(paths: readonly string[], concurrency = this.config.downloadConcurrency): Promise<Array<TargetFile | undefined>> {
    await this.refresh();
    const trusted = this.trusted!;
    const results = new Array<TargetFile | undefined>(paths.length);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < paths.length) {
        const i = next++;
        try {
          results[i] = await this.searchDelegations(trusted, paths[i]!);
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, paths.length)) }, () => worker()));
    return results;
  }

  /** Local path if already present in targetDir with matching length and hashes, else undefined. */
  async findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined> {
    const path = filePath ?? this.defaultTargetPath(info);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.size !== info.length) return undefined;
      const hashers = targetHashers(info);
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        for (const [, h] of hashers) h.update(chunk as Buffer);
      }
      return hashers.every(([algorithm, h]) => h.digest('hex') === info.hashes[algorithm]!.toLowerCase()) ? path : undefined;
    } catch {
      return undefined;
    }
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
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < infos.length) {
        const i = next++;
        try {
          results[i] = await this.fetchTarget(infos[i]!, paths[i]!, base);
          renamedInto.add(dirname(results[i]));
        } catch (e) {
          failed = true;
          throw e;
        }
      }
    };
    const workers = Array.from({ length: Math.max(1, Math.min(concurrency, infos.length)) }, () => worker());
    try {
      await Promise.all(workers);
    } finally {
      // Also after a failure: the files already in place are complete and should stay.
      const synced = Promise.all([...renamedInto].map((dir) => fsyncDirectory(dir)));
      if (failed) await synced.catch(() => undefined);
      else await synced;
    }
    return results;
  }

  private targetBase(targetBaseUrl: string | undefined): string {
    const base = targetBaseUrl === undefined ? this.targetBaseUrl : withSlash(targetBaseUrl);
    if (base === undefined) {
      throw new UsageError('MISSING_ARGUMENT', 'no target base URL: pass targetBaseUrl to the Updater or to downloadTarget');
    }
    return base;
  }

  /** 5.7 for one target: stream, cap, hash, fsync the file, rename into place (the directory is the caller's to fsync). */
  private async fetchTarget(info: TargetFile, path: string, base: string): Promise<string> {
    const hashers = targetHashers(info);
    let remotePath = info.path;
    if (this.trusted?.root.signed.consistentSnapshot && this.config.prefixTargetsWithHash) {
      const first = Object.values(info.hashes)[0]!;
      const slash = remotePath.lastIndexOf('/');
      remotePath = `${remotePath.slice(0, slash + 1)}${first}.${remotePath.slice(slash + 1)}`;
    }
    const url = base + remotePath.replace(/[?#%]/g, (c) => encodeURIComponent(c));
    const dir = dirname(path);
    const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
    let handle: FileHandle | undefined;
    let writer: BatchedWriter | undefined;
    try {
      handle = await openNew(tmp);
      writer = new BatchedWriter(handle);
      let length = 0;
      for await (const chunk of this.fetcher.stream(url, info.length)) {
        length += chunk.byteLength;
        if (length > info.length) {
          throw new TufError('LENGTH_MISMATCH', `${info.path}: more than the ${info.length} bytes its targets metadata lists`);
        }
        for (const [, h] of hashers) h.update(chunk);
        await writer.push(chunk);
      }
      await writer.finish();
      if (length !== info.length) {
        throw new TufError('LENGTH_MISMATCH', `${info.path}: received ${length} bytes, its targets metadata lists ${info.length}`);
      }
      for (const [algorithm, h] of hashers) {
        const actual = h.digest('hex');
        const expected = info.hashes[algorithm]!.toLowerCase();
        if (actual !== expected) {
          throw new TufError('HASH_MISMATCH', `${info.path}: ${algorithm} is ${short(actual)}, its targets metadata lists ${short(expected)}`, {
            hint: 'the mirror served different bytes than the repository signed; try another mirror',
          });
        }
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(tmp, path);
      return path;
    } catch (e) {
      await writer?.settle();
      await handle?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  // --- refresh (5.3-5.6) ---

  private async runRefresh(): Promise<RefreshReport> {
    const referenceTime = this.now();
    let rootBytes: Uint8Array;
    try {
      rootBytes = await readFile(join(this.metadataDir, 'root.json'));
    } catch (e) {
      throw new TufError('NOT_TRUSTED', `no trusted root.json in ${this.metadataDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: 'initialize the client with a trusted root first (Updater.initTrustedRoot)',
      });
    }
    const trusted = new TrustedSet(rootBytes, referenceTime);
    this.trusted = trusted;
    this.loadingRoles.clear();
    const rootVersions = [trusted.root.version];

    // 5.3: root rotations, N+1.root.json until the repository has no newer one.
    let rootRotationsCapped = true;
    for (let i = 0; i < this.config.maxRootRotations; i++) {
      const version = trusted.root.version + 1;
      let bytes: Uint8Array;
      try {
        bytes = await this.fetchMetadata('root', this.config.rootMaxLength, version);
      } catch (e) {
        if (e instanceof FetchError && e.code === 'NOT_FOUND') {
          rootRotationsCapped = false;
          break;
        }
        throw e;
      }
      trusted.updateRoot(bytes, `${version}.root.json`);
      rootVersions.push(version);
      await this.persist('root', bytes);
    }
    // 5.3.11: after a rotation of the timestamp or snapshot keys the local copies must not be used.
    const rotated = trusted.keysRotated('timestamp') || trusted.keysRotated('snapshot');

    // 5.4: timestamp. A valid local copy guards against rollback of the remote one.
    let timestampSource: RoleReport['source'] = 'remote';
    if (!rotated) {
      const local = await this.readLocal('timestamp', this.config.timestampMaxLength);
      if (local) {
        try {
          trusted.updateTimestamp(local, 'local timestamp.json');
        } catch {
          // an invalid or expired local timestamp is not final; the remote one decides
        }
      }
    }
    const remoteTimestamp = await this.fetchMetadata('timestamp', this.config.timestampMaxLength);
    if (trusted.updateTimestamp(remoteTimestamp) === 'updated') await this.persist('timestamp', remoteTimestamp);
    else timestampSource = 'cache';
    const timestamp = trusted.timestamp!;

    // 5.5: snapshot. The local copy is used when it is still the one timestamp names.
    let snapshotSource: RoleReport['source'] = 'cache';
    const localSnapshot = rotated ? undefined : await this.readLocal('snapshot', this.config.snapshotMaxLength);
    let snapshotOk = false;
    if (localSnapshot) {
      try {
        trusted.updateSnapshot(localSnapshot, true, 'local snapshot.json');
        snapshotOk = true;
      } catch {
        // not valid as final: fetch the one timestamp names
      }
    }
    if (!snapshotOk) {
      snapshotSource = 'remote';
      const meta = timestamp.signed.snapshotMeta;
      const version = trusted.root.signed.consistentSnapshot ? meta.version : undefined;
      const bytes = await this.fetchMetadata('snapshot', meta.length ?? this.config.snapshotMaxLength, version);
      trusted.updateSnapshot(bytes, false, version === undefined ? 'snapshot.json' : `${version}.snapshot.json`);
      await this.persist('snapshot', bytes);
    }

    // 5.6: top-level targets.
    const targetsSource = await this.loadTargets(trusted, 'targets', 'root');

    const report = (role: string, envelope: Envelope, source: RoleReport['source']): RoleReport => ({
      role,
      version: envelope.version,
      expires: envelope.signed.expires,
      source,
    });
    const rootReport = report('root', trusted.root, rootVersions.length > 1 ? 'remote' : 'cache');
    const timestampReport = report('timestamp', timestamp, timestampSource);
    const snapshotReport = report('snapshot', trusted.snapshot!, snapshotSource);
    const targetsReport = report('targets', trusted.targets!, targetsSource);
    const line = (r: RoleReport, what: string): string =>
      `${r.role} v${r.version} (expires ${r.expires}, ${r.source === 'cache' ? 'local copy still valid' : 'downloaded'}): ${what}`;
    const steps = [
      rootVersions.length > 1
        ? `root rotated v${rootVersions.join(' -> v')}: each signed by the previous root's threshold and its own (5.3)`
        : `root v${trusted.root.version}: no newer root published (5.3)`,
      line(rootReport, 'not expired (5.3.10)'),
      line(timestampReport, 'threshold of root timestamp keys, no version rollback, not expired (5.4)'),
      line(snapshotReport, 'length and hashes from timestamp, threshold, no role rollback, version matches timestamp, not expired (5.5)'),
      line(targetsReport, 'length and hashes from snapshot, threshold, version matches snapshot, not expired (5.6)'),
    ];
    return {
      steps,
      referenceTime: referenceTime.toISOString(),
      consistentSnapshot: trusted.root.signed.consistentSnapshot,
      rootVersions,
      rootRotationsCapped,
      root: rootReport,
      timestamp: timestampReport,
      snapshot: snapshotReport,
      targets: targetsReport,
    };
  }

  /** Loads `role` (local copy if still valid, else remote) into the trusted set. */
  private async loadTargets(
    trusted: TrustedSet,
    role: string,
    delegator: string,
  ): Promise<RoleReport['source']> {
    if (trusted.getTargets(role)) return 'cache';
    const local = await this.readLocal(role, this.config.targetsMaxLength);
    if (local) {
      try {
        trusted.updateDelegatedTargets(local, role, delegator, `local ${quoteName(role)}.json`);
        return 'cache';
      } catch {
        // not valid any more: fetch the version snapshot names
      }
    }
    const meta = trusted.snapshot?.signed.meta[`${role}.json`];
    if (!meta) throw new TufError('MISSING_ROLE', `${role} is delegated but the trusted snapshot does not list ${role}.json`);
    const version = trusted.root.signed.consistentSnapshot ? meta.version : undefined;
    const bytes = await this.fetchMetadata(role, meta.length ?? this.config.targetsMaxLength, version);
    trusted.updateDelegatedTargets(bytes, role, delegator, `${version === undefined ? '' : `${version}.`}${quoteName(role)}.json`);
    await this.persistTargetsRole(role, bytes);
    return 'remote';
  }

  /** Loads a delegated role once even when several searches need it at the same time. */
  private async loadRoleOnce(trusted: TrustedSet, role: string, delegator: string): Promise<TargetsEnvelope> {
    const have = trusted.getTargets(role);
    if (have) return have;
    let pending = this.loadingRoles.get(role);
    if (!pending) {
      pending = this.loadTargets(trusted, role, delegator).then(() => trusted.getTargets(role)!);
      this.loadingRoles.set(role, pending);
      pending.catch(() => this.loadingRoles.delete(role));
    }
    return pending;
  }

  /** 5.6.7: pre-order depth-first search; visited roles are skipped (cycles), terminating roles stop backtracking. */
  private async searchDelegations(trusted: TrustedSet, targetPath: string): Promise<TargetFile | undefined> {
    const toVisit: Array<[role: string, delegator: string]> = [['targets', 'root']];
    const visited = new Set<string>();
    while (toVisit.length > 0 && visited.size <= this.config.maxDelegations) {
      const [role, delegator] = toVisit.pop()!;
      if (visited.has(role)) continue;
      const envelope = await this.loadRoleOnce(trusted, role, delegator);
      const target = envelope.signed.targets[targetPath];
      if (target) return target;
      visited.add(role);
      const delegations = envelope.signed.delegations;
      if (!delegations) continue;
      const children: Array<[string, string]> = [];
      for (const match of rolesForTarget(delegations, targetPath)) {
        children.push([match.role, role]);
        if (match.terminating) {
          toVisit.length = 0;
          break;
        }
      }
      for (let i = children.length - 1; i >= 0; i--) toVisit.push(children[i]!);
    }
    return undefined;
  }

  // --- I/O helpers ---

  private fetchMetadata(role: string, maxBytes: number, version?: number): Promise<Buffer> {
    const name = `${version === undefined ? '' : `${version}.`}${quoteName(role)}.json`;
    return fetchAll(this.fetcher, this.metadataBaseUrl + name, maxBytes);
  }

  /** The local copy of a role's metadata, or undefined if absent, unreadable or over the cap. */
  private async readLocal(role: string, maxBytes: number): Promise<Uint8Array | undefined> {
    const path = join(this.metadataDir, `${quoteName(role)}.json`);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.size > maxBytes) return undefined;
      return await readFile(path);
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps a verified root, timestamp or snapshot byte-exact under its plain name, durably
   * (writeFileAtomic): these are the client's trust anchor and its memory of versions seen, which
   * stops rollback (5.3.8, 5.4.5, 5.5.7), so they must survive a crash.
   */
  private persist(role: 'root' | 'timestamp' | 'snapshot', bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(join(this.metadataDir, `${role}.json`), bytes, { mkdirs: false });
  }

  /**
   * Keeps a verified targets role (top-level or delegated) byte-exact under its plain name
   * (5.6.6), atomically (temporary file, rename) but without fsync. Its local copy is only a
   * cache: it is used again only after the same checks as a downloaded one (length, hashes and
   * version from the trusted snapshot, signatures, expiry), and the snapshot, which is durable,
   * is what stops rollback. A copy lost or torn by a crash is therefore refetched, never
   * trusted; skipping the two fsyncs per role matters when a search visits hundreds of bins.
   */
  private persistTargetsRole(role: string, bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(join(this.metadataDir, `${quoteName(role)}.json`), bytes, { mkdirs: false, durable: false });
  }

  private defaultTargetPath(info: TargetFile): string {
    if (this.targetDir === undefined) {
      throw new UsageError('MISSING_ARGUMENT', 'no target directory: pass targetDir to the Updater or a file path');
    }
    return join(this.targetDir, quoteName(info.path));
  }
}

function targetHashers(info: TargetFile): Array<[string, Hash]> {
  const algorithms = Object.keys(info.hashes);
  if (algorithms.length === 0) throw new TufError('HASH_MISMATCH', `${info.path}: its targets metadata lists no hash`);
  for (const a of algorithms) {
    if (!SUPPORTED_TARGET_HASHES.has(a)) {
      throw new TufError('HASH_MISMATCH', `${info.path}: hash algorithm "${a}" is not supported; cannot verify it`);
    }
  }
  return algorithms.map((a) => [a, createHash(a)]);
}

/**
 * Writes a download to its temporary file in batches of about 1 MiB while the next chunks are
 * received and hashed, so disk writes overlap hashing; at most a few batches wait at a time.
 */
class BatchedWriter {
  private static readonly BATCH_BYTES = 1 << 20;
  private static readonly MAX_QUEUED = 4;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private queued = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle) {}

  async push(chunk: Uint8Array): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    if (this.pendingBytes < BatchedWriter.BATCH_BYTES) return;
    this.flush();
    if (this.queued >= BatchedWriter.MAX_QUEUED) await this.queue;
  }

  /** Writes what is left and waits for every write; throws the first write error. */
  async finish(): Promise<void> {
    this.flush();
    await this.queue;
  }

  /** Waits for writes in flight, ignoring their errors (before closing after a failure). */
  async settle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const batch = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.queued++;
    this.queue = this.queue.then(async () => {
      await this.handle.write(batch);
      this.queued--;
    });
    this.queue.catch(() => undefined); // observed by finish(), push() or settle()
  }
}

/** Creates `path` exclusively, creating its directory first only if it is missing (one call per file otherwise). */
async function openNew(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx', 0o644);
  }
}
