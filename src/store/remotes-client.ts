// store/remotes-client.ts: what the package manager reads from one remote, all of it through the
// witnessed client as a library (client/WitnessedUpdater; docs/protocol.md section 9): the
// versions index of a package, the manifest in a version's target custom metadata, the package
// archive (TUF-verified, then its rebuild attestations re-checked when the root has a build
// policy). Mirrors are tried in order: one that fails or serves data that does not verify is
// skipped and reported, and the next one tried (docs/packages.md "Mirrors").
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { createUpdater, type TargetUpdater, type WitnessedUpdater, type WitnessedUpdaterOptions } from '../client/index.js';
import { BoundedFetcher, readCappedFile, type Fetcher } from '../io/index.js';
import { asCairnError, isCairnError } from '../errors/index.js';
import type { JsonObject } from '../encoding/index.js';
import { AttestationError, declarationFromCustom, type UpstreamDeclaration } from '../policy/index.js';
import type { TargetFile } from '../tuf/index.js';
import {
  CUSTOM_FIELD, PACKAGE_INDEX_LIMITS, PACKAGE_INDEX_PATH, PackageError, VERSIONS_INDEX_LIMITS, packageTargetPath, parseManifest, parsePackageIndex, parseVersionsIndex, versionsTargetPath,
  type PackageIndex, type PackageManifest,
} from '../package/index.js';
import { InstallError } from './install-errors.js';
import { remoteCacheDir, remoteMetadataDir, type RemoteConfig } from './remotes.js';
import type { PackageCatalog } from './resolve.js';

/** A target's sha256 as a cache file name: lowercase hex only, never a path. */
function sha256Of(info: TargetFile): string {
  const sha256 = info.hashes.sha256;
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new PackageError('BAD_ARCHIVE', `${info.path}: its targets metadata lists no sha256 of 64 lowercase hex digits (found ${JSON.stringify(String(sha256).slice(0, 80))})`);
  }
  return sha256;
}

export type RemoteEvent =
  | { type: 'mirror-skipped'; remote: string; url: string; code: string; message: string }
  | { type: 'refreshed'; remote: string; url: string }
  | { type: 'download-progress'; remote: string; target: string; received: number; total: number }
  | { type: 'downloaded'; remote: string; target: string; bytes: number; cached: boolean };

export interface RemoteClientOptions {
  storeRoot: string;
  remote: RemoteConfig;
  /** Overrides the remote's own proxy setting. */
  proxy?: string;
  /** Where requests go through (a recording fetcher for bundles, a fault-injecting one in tests). */
  fetcher?: Fetcher;
  /** The TUF metadata directory (default: the remote's own). */
  metadataDir?: string;
  /** Where verified downloads are kept (default: the remote's cache). */
  cacheDir?: string;
  now?: () => Date;
  onEvent?: (event: RemoteEvent) => void;
}

export type AttestationVerdict = 'checked' | 'no-policy' | 'not-witnessed';

/** A verified package archive in the remote's cache. */
export interface FetchedPackage {
  name: string;
  version: string;
  targetPath: string;
  sha256: string;
  length: number;
  file: string;
  manifest: PackageManifest;
  /**
   * Verifiers' verdicts: 'checked' when the quorum of the root's build policy was verified against
   * the witnessed block, 'no-policy' when the root has no build policy, 'not-witnessed' when the
   * remote has no log anchor (attestations are bound to a release through the log only).
   */
  attestations: AttestationVerdict;
  /** The import its source came from as its declaration names it, and the source it declares (docs/upstream.md); absent for a source not imported, or a declaration that does not read as one. */
  upstream?: { import: UpstreamDeclaration; sourceSha256: string };
}

/** The import a target's declaration names, or undefined (custom metadata is the publisher's: one that is not a declaration is no error here). */
function declaredUpstream(info: TargetFile): FetchedPackage['upstream'] {
  try {
    const declaration = declarationFromCustom(info.custom as JsonObject | undefined, `${info.path} custom metadata`);
    return declaration?.upstream === undefined ? undefined : { import: declaration.upstream, sourceSha256: declaration.source.sha256 };
  } catch (e) {
    if (isCairnError(e)) return undefined;
    throw e;
  }
}

/** A verified view of one remote, mirror by mirror. */
export class RemoteClient implements PackageCatalog {
  private updater: TargetUpdater | undefined;
  private activeUrl: string | undefined;
  private witnessedClient = false;
  private readonly bases: string[];
  private readonly fetcher: Fetcher;
  private readonly versionCache = new Map<string, Promise<Map<string, string>>>();
  /** The package archive being downloaded, for progress events. */
  private downloading: { target: string; total: number } | undefined;

  constructor(private readonly options: RemoteClientOptions) {
    this.bases = [options.remote.url, ...options.remote.mirrors];
    const proxy = options.proxy ?? options.remote.proxy;
    const inner = options.fetcher ?? new BoundedFetcher(undefined, proxy === undefined ? {} : { proxy });
    this.fetcher = { stream: (url, maxBytes) => this.observe(inner.stream(url, maxBytes)) };
  }

  /** Passes the bytes on, telling onEvent how far the download of a package archive is. */
  private async *observe(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const current = this.downloading;
    let received = 0;
    for await (const chunk of chunks) {
      received += chunk.length;
      if (current) this.options.onEvent?.({ type: 'download-progress', remote: this.name, target: current.target, received, total: current.total });
      yield chunk;
    }
  }

  private get cacheDir(): string {
    return this.options.cacheDir ?? remoteCacheDir(this.options.storeRoot, this.name);
  }

  get name(): string {
    return this.options.remote.name;
  }

  get witnessed(): boolean {
    return this.witnessedClient;
  }

  /** The head block of the witnessed log the last refresh checked (witnessed remotes only). */
  block: { index: number; hash: string; time: string } | undefined;

  /** The URL of the mirror the last successful refresh used. */
  get url(): string | undefined {
    return this.activeUrl;
  }

  /** Refreshes through the first mirror that gives a verified state; ALL_MIRRORS_FAILED lists why each failed. */
  async refresh(): Promise<void> {
    if (this.updater) return;
    const failures: string[] = [];
    for (const base of this.bases) {
      const { updater, witnessed } = await createUpdater(this.updaterOptions(base));
      try {
        const report = await updater.refresh();
        if ('log' in report) {
          const log = (report as { log: { head: { index: number; hash: string; time: string } } }).log;
          this.block = log.head;
        }
        this.updater = updater;
        this.activeUrl = base;
        this.witnessedClient = witnessed;
        this.options.onEvent?.({ type: 'refreshed', remote: this.name, url: base });
        return;
      } catch (e) {
        failures.push(this.skip(base, e));
      }
    }
    throw new InstallError('ALL_MIRRORS_FAILED', `no mirror of remote ${this.name} gave a verified state: ${failures.join('; ')}`, {
      hint: 'check the network (or --proxy), or add a working mirror; nothing was installed or changed',
    });
  }

  /** Versions published for `name`, from its verified versions index. */
  async versions(name: string): Promise<readonly string[]> {
    return [...(await this.versionIndex(name)).keys()];
  }

  async dependencies(name: string, version: string): Promise<Readonly<Record<string, string>>> {
    return (await this.manifest(name, version)).manifest.dependencies;
  }

  /** The manifest of `name@version` from its target's verified custom metadata, with the target info. */
  async manifest(name: string, version: string): Promise<{ manifest: PackageManifest; info: TargetFile }> {
    const path = (await this.versionIndex(name)).get(version);
    if (path === undefined) throw new InstallError('NO_MATCHING_VERSION', `${this.name} publishes no version ${version} of ${name}`, { hint: `cairn info ${name}` });
    const info = await this.updater!.getTargetInfo(path);
    if (!info) throw new InstallError('UNKNOWN_PACKAGE', `${name}@${version}: the versions index names ${path}, which no trusted targets role lists`);
    const custom = (info.custom ?? {}) as Record<string, unknown>;
    if (custom[CUSTOM_FIELD] === undefined) throw new PackageError('BAD_MANIFEST', `${path}: its target metadata has no ${CUSTOM_FIELD} manifest`);
    const manifest = parseManifest(custom[CUSTOM_FIELD], `${path} custom metadata`);
    if (manifest.name !== name || manifest.version !== version) {
      throw new PackageError('BAD_MANIFEST', `${path}: its manifest names ${manifest.name}@${manifest.version}, expected ${name}@${version}`);
    }
    return { manifest, info };
  }

  /** Downloads (or finds cached) and verifies the archive of `name@version`, trying each mirror for the bytes. */
  async fetchPackage(name: string, version: string): Promise<FetchedPackage> {
    const { manifest, info } = await this.manifest(name, version);
    const sha256 = sha256Of(info);
    const dir = this.cacheDir;
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${sha256}.tar`);
    const updater = this.updater!;
    const cached = (await updater.findCachedTarget(info, file)) !== undefined;
    if (!cached) {
      const failures: string[] = [];
      let done = false;
      this.downloading = { target: info.path, total: info.length };
      try {
        for (const base of this.orderedBases()) {
          try {
            await updater.downloadTarget(info, file, `${base}/targets`);
            done = true;
            break;
          } catch (e) {
            failures.push(this.skip(base, e));
          }
        }
      } finally {
        this.downloading = undefined;
      }
      if (!done) throw new InstallError('ALL_MIRRORS_FAILED', `no mirror of ${this.name} served ${info.path} with the verified length and hash: ${failures.join('; ')}`);
    }
    this.options.onEvent?.({ type: 'downloaded', remote: this.name, target: info.path, bytes: info.length, cached });
    const upstream = declaredUpstream(info);
    return { name, version, targetPath: info.path, sha256, length: info.length, file, manifest, attestations: await this.checkAttestations(info), ...(upstream === undefined ? {} : { upstream }) };
  }

  /** The witnessed client's re-check of a target's rebuild attestations (a failed check throws: the package is refused). */
  private async checkAttestations(info: TargetFile): Promise<AttestationVerdict> {
    if (!this.witnessedClient) return 'not-witnessed';
    try {
      await (this.updater as WitnessedUpdater).verifyTargetAttestations(info);
      return 'checked';
    } catch (e) {
      if (e instanceof AttestationError && e.code === 'BAD_POLICY') return 'no-policy';
      throw e;
    }
  }

  /** The repository's package index (what a search shows); an empty one when the repository publishes none. */
  async packageIndex(): Promise<PackageIndex> {
    await this.refresh();
    const info = await this.updater!.getTargetInfo(PACKAGE_INDEX_PATH);
    if (!info) return { packages: {} };
    return parsePackageIndex(await this.smallTarget(info, PACKAGE_INDEX_LIMITS.maxBytes), PACKAGE_INDEX_PATH);
  }

  /** The bytes of a small target (an index), from the cache or downloaded, verified; over `maxBytes` is BAD_VERSIONS_INDEX. */
  private async smallTarget(info: TargetFile, maxBytes: number): Promise<Buffer> {
    if (info.length > maxBytes) throw new PackageError('BAD_VERSIONS_INDEX', `${info.path} is ${info.length} bytes, over the ${maxBytes}-byte cap of an index`);
    await mkdir(this.cacheDir, { recursive: true });
    const file = join(this.cacheDir, `${sha256Of(info)}.json`);
    if ((await this.updater!.findCachedTarget(info, file)) === undefined) await this.updater!.downloadTarget(info, file);
    return readCappedFile(file, maxBytes);
  }

  private versionIndex(name: string): Promise<Map<string, string>> {
    let p = this.versionCache.get(name);
    if (!p) this.versionCache.set(name, (p = this.readVersionIndex(name)));
    return p;
  }

  private async readVersionIndex(name: string): Promise<Map<string, string>> {
    await this.refresh();
    const path = versionsTargetPath(name);
    const info = await this.updater!.getTargetInfo(path);
    if (!info) throw new InstallError('UNKNOWN_PACKAGE', `remote ${this.name} publishes no package ${name}`, { hint: 'cairn search TEXT lists what the remotes publish' });
    const index = parseVersionsIndex(await this.smallTarget(info, VERSIONS_INDEX_LIMITS.maxBytes), path);
    if (index.name !== name) throw new PackageError('BAD_MANIFEST', `${path} names package ${index.name}, expected ${name}`);
    for (const [version, target] of Object.entries(index.versions)) {
      if (target !== packageTargetPath(name, version)) throw new PackageError('BAD_MANIFEST', `${path}: version ${version} points at ${target}, expected ${packageTargetPath(name, version)}`);
    }
    return new Map(Object.entries(index.versions));
  }

  private orderedBases(): string[] {
    return [this.activeUrl!, ...this.bases.filter((b) => b !== this.activeUrl)];
  }

  private skip(url: string, e: unknown): string {
    const typed = asCairnError(e);
    const code = typed?.code ?? 'INTERNAL';
    const message = typed?.message ?? (e instanceof Error ? e.message : String(e));
    this.options.onEvent?.({ type: 'mirror-skipped', remote: this.name, url, code, message });
    return `${url}: [${code}] ${message}`;
  }

  private updaterOptions(base: string): WitnessedUpdaterOptions {
    return {
      metadataDir: this.options.metadataDir ?? remoteMetadataDir(this.options.storeRoot, this.name),
      metadataBaseUrl: `${base}/metadata`,
      targetBaseUrl: `${base}/targets`,
      targetDir: this.cacheDir,
      fetcher: this.fetcher,
      ...(this.options.now ? { now: this.options.now } : {}),
    };
  }
}
