// store/bundle.ts: offline bundles (docs/packages.md "Offline bundles"; docs/design.md "Client
// store"). A bundle is one tar archive holding bundle.json and repo/, a partial mirror of the
// remote: exactly the files a client starting from the remote's original trust anchor fetched to
// install the packages (TUF metadata, the log's blocks, forward links and head statement, the
// attestations and the package archives). It is made by running that client against the remote
// with a fetcher that records what it reads, so a bundle holds what verification needs and
// nothing is chosen by hand.
//
// Installing from a bundle runs the same witnessed client against the bundle itself, with no
// network and nothing unpacked: a fetcher serves each URL below the bundle's base from the entry of
// that name (BundleFetcher; the archive is read with package/'s strict ustar reader, capped), from a trust anchor the user gives (--root, --log-anchor) or the
// one a configured remote of the same name was added with. bundle.json is not trusted for
// anything but its claimed age: every byte is checked against the anchor. Staleness is explicit:
// expired metadata or an old head statement is refused unless the user accepts it, and then the
// client's clock is set to the last moment the bundle's signed data was valid (signedValidityEnd).
import { createReadStream, constants } from 'node:fs';
import { cp, mkdir, mkdtemp, open, readdir, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DEFAULT_WITNESSED_CLIENT_CONFIG, initClientTrust } from '../client/index.js';
import { LOG_FILE_LIMITS, LOG_PATHS, parseHeadFile, parseUtcTime } from '../log/index.js';
import { DEFAULT_UPDATER_CONFIG } from '../tuf/index.js';
import { FieldReader, parseJsonObject } from '../encoding/index.js';
import { BoundedFetcher, FetchError, fsyncDirectory, type Fetcher } from '../io/index.js';
import { DeterministicUstarWriter, UstarReader, isStrictVersion, isValidName } from '../package/index.js';
import { InstallError } from './install-errors.js';
import semver from 'semver';
import { openStore } from './core.js';
import { installPackages, parsePackageRequest, type PackageManagerOptions, type TransactionResult } from './install.js';
import { REMOTE_NAME, readRemote, readRemoteAnchor, remoteMetadataDir, type RemoteConfig } from './remotes.js';
import { RemoteClient } from './remotes-client.js';
import { resolveDependencies } from './resolve.js';

export const BUNDLE_FORMAT = 'cairn-bundle/1';
const BUNDLE_JSON_MAX_BYTES = 1024 * 1024;

export interface BundleDescription {
  format: typeof BUNDLE_FORMAT;
  createdAt: string;
  remote: { name: string; url: string };
  packages: Array<{ name: string; version: string }>;
  files: number;
  bytes: number;
}

export interface CreateBundleOptions {
  storeRoot: string;
  remote: string;
  packages: readonly string[];
  out: string;
  proxy?: string;
  now?: () => Date;
}

/** Writes a bundle of `packages` (and their dependencies) from a configured remote. */
export async function createBundle(options: CreateBundleOptions): Promise<BundleDescription> {
  // Under the store's lock: the staging directory in tmp/ is never taken for a leftover by gc.
  return (await openStore(options.storeRoot, { command: 'cairn bundle create' })).withLock(() => createBundleLocked(options));
}

async function createBundleLocked(options: CreateBundleOptions): Promise<BundleDescription> {
  if (options.packages.length === 0) throw new InstallError('BAD_REQUEST', 'name at least one package to bundle');
  const remote = await readRemote(options.storeRoot, options.remote);
  const anchor = await readRemoteAnchor(options.storeRoot, remote.name);
  const staging = await mkdtemp(join(options.storeRoot, 'tmp', 'bundle-'));
  try {
    const repoDir = join(staging, 'tree', 'repo');
    const metadataDir = join(staging, 'metadata');
    await initClientTrust(metadataDir, anchor);
    const recorder = new RecordingFetcher(new BoundedFetcher(undefined, remoteProxy(remote, options.proxy)), [remote.url, ...remote.mirrors], repoDir);
    // What a mirror served before it was skipped is not what verified: it stays out of the bundle.
    const client = new RemoteClient({
      storeRoot: options.storeRoot, remote, metadataDir, cacheDir: join(staging, 'cache'), fetcher: recorder, ...(options.now ? { now: options.now } : {}),
      onEvent: (e) => void (e.type === 'mirror-skipped' && recorder.forget(e.url)),
    });
    const chosen = await resolveDependencies(options.packages.map(parsePackageRequest), client);
    for (const [name, version] of chosen) await client.fetchPackage(name, version);
    const description: BundleDescription = {
      format: BUNDLE_FORMAT,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      remote: { name: remote.name, url: remote.url },
      packages: [...chosen].map(([name, version]) => ({ name, version })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      files: recorder.files,
      bytes: recorder.bytes,
    };
    await writeFile(join(staging, 'tree', 'bundle.json'), JSON.stringify(description, null, 2) + '\n');
    await writeBundleArchive(join(staging, 'tree'), options.out, Math.floor(Date.parse(description.createdAt) / 1000));
    return description;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export interface InstallBundleOptions extends PackageManagerOptions {
  /** The trust anchor, when no remote of the bundle's name is configured. */
  rootFile?: string;
  logAnchor?: string;
  /**
   * Accept expired metadata or an old head statement: verify as of the last moment the bundle's
   * signed data was valid (signedValidityEnd), never as of its unsigned creation time.
   */
  allowStale?: boolean;
}

/** What installing a bundle did; `ageSeconds` is counted from the bundle's own (unsigned) creation time. */
export interface BundleInstallResult {
  bundle: BundleDescription;
  ageSeconds: number;
  /** With allowStale, when the bundle was stale: the signed time it was verified as of. */
  verifiedAsOf?: string;
  result: TransactionResult;
}

/**
 * The last moment the bundle's signed data is valid: one second before the first expiry among its
 * metadata (timestamp, snapshot, every targets role, and the newest root: older roots of the
 * chain are meant to have expired) and, for a witnessed remote, before its head statement is
 * older than maxHeadAge. Read here before verification, only to set the clock of the refresh
 * that then checks every signature: a changed date fails that check. (bundle.json's createdAt is
 * the maker's word, so an old bundle could claim any age; these dates are the repository's and
 * the witnesses'.)
 */
async function signedValidityEnd(fetcher: BundleFetcher, witnessed: boolean): Promise<Date> {
  let end = Number.POSITIVE_INFINITY;
  let newestRoot: { version: number; expires: number } | undefined;
  for (const path of fetcher.paths().filter((p) => p.startsWith('repo/metadata/') && p.endsWith('.json'))) {
    const what = `the bundle's ${path.slice('repo/'.length)}`;
    const document = parseJsonObject(await fetcher.entry(path, DEFAULT_UPDATER_CONFIG.targetsMaxLength), what, { maxBytes: DEFAULT_UPDATER_CONFIG.targetsMaxLength, maxDepth: 16, maxEntries: 2_000_000 });
    const reader = new FieldReader((m) => new InstallError('BAD_REQUEST', m), what);
    const signed = reader.object(document.signed, 'signed');
    const expires = Date.parse(reader.string(signed.expires, 'signed.expires', 64));
    if (Number.isNaN(expires)) throw new InstallError('BAD_REQUEST', `${what} has no valid signed.expires`);
    if (signed._type === 'root') {
      const version = reader.integer(signed.version, 'signed.version', 1);
      if (newestRoot === undefined || version > newestRoot.version) newestRoot = { version, expires };
    } else {
      end = Math.min(end, expires);
    }
  }
  if (newestRoot !== undefined) end = Math.min(end, newestRoot.expires);
  if (witnessed) {
    const head = parseHeadFile(await fetcher.entry(`repo/${LOG_PATHS.head}`, LOG_FILE_LIMITS.head.maxBytes), `the bundle's ${LOG_PATHS.head}`);
    end = Math.min(end, (parseUtcTime(head.statement.time)! + DEFAULT_WITNESSED_CLIENT_CONFIG.maxHeadAgeSeconds) * 1000);
  }
  if (!Number.isFinite(end)) throw new InstallError('BAD_REQUEST', 'the bundle holds no signed metadata: not a cairn bundle');
  return new Date(end - 1000);
}

/** Installs every package of a bundle, verified against the pinned anchor, with no network. */
export async function installBundle(options: InstallBundleOptions, bundleFile: string): Promise<BundleInstallResult> {
  return (await openStore(options.storeRoot, { command: 'cairn install --from' })).withLock(() => installBundleLocked(options, bundleFile));
}

async function installBundleLocked(options: InstallBundleOptions, bundleFile: string): Promise<BundleInstallResult> {
  const staging = await mkdtemp(join(options.storeRoot, 'tmp', 'from-bundle-'));
  const fetcher = await BundleFetcher.open(bundleFile);
  try {
    const bundle = parseBundleDescription(await fetcher.entry('bundle.json', BUNDLE_JSON_MAX_BYTES), `${bundleFile}: bundle.json`);
    const now = (options.now ?? (() => new Date()))();
    const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(bundle.createdAt)) / 1000));
    const configured = await readRemote(options.storeRoot, bundle.remote.name).catch(() => undefined);
    const metadataDir = join(staging, 'metadata');
    let anchorLogged: boolean;
    if (configured !== undefined) {
      // A configured remote's bundle is checked from what the store already trusts for it (its
      // current metadata and log anchor), so TUF's rollback checks and the log's "not older than
      // the last head" apply: an old bundle cannot take the remote back in time.
      if (options.rootFile !== undefined) {
        throw new InstallError('BAD_REQUEST', `a remote named ${bundle.remote.name} is configured: its bundle is checked against that remote's trust, not another --root`, {
          hint: `cairn install --from ${bundleFile} (without --root), or remove the remote first`,
        });
      }
      await cp(remoteMetadataDir(options.storeRoot, configured.name), metadataDir, { recursive: true });
      anchorLogged = configured.witnessed;
    } else {
      if (options.rootFile === undefined) {
        throw new InstallError('NO_REMOTE', `no trust anchor for the bundle's remote ${bundle.remote.name}: it is not a configured remote`, {
          hint: 'give the anchor you trust: cairn install --from FILE --root ROOT_FILE --log-anchor HASH',
        });
      }
      await initClientTrust(metadataDir, { rootFile: options.rootFile, ...(options.logAnchor === undefined ? {} : { logAnchor: options.logAnchor }) });
      anchorLogged = options.logAnchor !== undefined;
    }
    const remote: RemoteConfig = { name: bundle.remote.name, url: BUNDLE_BASE_URL, mirrors: [], witnessed: anchorLogged, addedAt: bundle.createdAt };
    let verifiedAsOf: Date | undefined;
    if (options.allowStale) {
      const validUntil = await signedValidityEnd(fetcher, anchorLogged);
      if (validUntil.getTime() < now.getTime()) verifiedAsOf = validUntil;
    }
    const clock = verifiedAsOf !== undefined ? () => verifiedAsOf : options.now;
    const client = new RemoteClient({
      storeRoot: options.storeRoot, remote, metadataDir, cacheDir: join(staging, 'cache'), fetcher,
      ...(clock ? { now: clock } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    try {
      await client.refresh();
    } catch (e) {
      throw new InstallError('ALL_MIRRORS_FAILED', `the bundle (made ${bundle.createdAt}, ${formatAge(ageSeconds)} ago) does not verify against the anchor: ${(e as Error).message}`, {
        hint: options.allowStale ? 'the bundle is damaged or was made for another trust anchor' : 'if it is only too old, --allow-stale installs what was valid when the bundle was made (you accept missing any later security update)',
      });
    }
    const installed = (await (await openStore(options.storeRoot)).current())?.packages ?? {};
    for (const p of bundle.packages) {
      const have = installed[p.name];
      if (have !== undefined && semver.lt(p.version, have.version)) {
        throw new InstallError('DOWNGRADE', `the bundle would take ${p.name} back from ${have.version} to ${p.version}`, {
          hint: `a bundle never downgrades; to go back to an earlier generation, cairn rollback`,
        });
      }
    }
    const result = await installPackages({ ...options, clients: [client] }, bundle.packages.map((p) => `${p.name}@${p.version}`));
    return { bundle, ageSeconds, ...(verifiedAsOf === undefined ? {} : { verifiedAsOf: verifiedAsOf.toISOString() }), result };
  } finally {
    await fetcher.close();
    await rm(staging, { recursive: true, force: true });
  }
}

/** The base URL a bundle's files are served under to the client (never resolved: BundleFetcher answers it). */
const BUNDLE_BASE_URL = 'http://bundle.invalid';

export const BUNDLE_LIMITS = {
  /** Files in one bundle. */
  maxEntries: 100_000,
} as const;

/** Serves the files of a bundle archive to the client by URL, from the archive itself. */
class BundleFetcher implements Fetcher {
  private constructor(
    private readonly handle: FileHandle,
    private readonly reader: UstarReader,
    private readonly files: ReadonlyMap<string, { offset: number; size: number }>,
    private readonly what: string,
  ) {}

  static async open(file: string): Promise<BundleFetcher> {
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const status = await handle.stat();
      if (!status.isFile()) throw new InstallError('BAD_REQUEST', `${file} is not a regular file`);
      const reader = new UstarReader(handle, status.size);
      const files = new Map<string, { offset: number; size: number }>();
      for await (const entry of reader.entries()) {
        if (files.size >= BUNDLE_LIMITS.maxEntries) throw new InstallError('BAD_REQUEST', `${file} has more than ${BUNDLE_LIMITS.maxEntries} entries: not a cairn bundle`);
        if (entry.typeFlag !== '0' && entry.typeFlag !== '\0') continue;
        if (!Number.isSafeInteger(entry.size) || entry.dataOffset + entry.size > status.size) throw new InstallError('BAD_REQUEST', `${file}: entry ${entry.path} claims more bytes than the file has`);
        files.set(entry.path, { offset: entry.dataOffset, size: entry.size });
      }
      return new BundleFetcher(handle, reader, files, file);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** The paths of the bundle's files. */
  paths(): string[] {
    return [...this.files.keys()];
  }

  /** The bytes of entry `path` (at most `maxBytes`). */
  async entry(path: string, maxBytes: number): Promise<Buffer> {
    const e = this.files.get(path);
    if (!e) throw new InstallError('BAD_REQUEST', `${this.what} has no ${path}: not a cairn bundle`);
    if (e.size > maxBytes) throw new InstallError('BAD_REQUEST', `${this.what}: ${path} is ${e.size} bytes, over the ${maxBytes}-byte cap`);
    return Buffer.from(await this.reader.bytes(e.offset, e.size));
  }

  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    return this.read(url, maxBytes);
  }

  private async *read(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    if (!url.startsWith(`${BUNDLE_BASE_URL}/`)) throw new FetchError('NOT_FOUND', `${url} is not in the bundle (an offline install makes no other request)`);
    const path = `repo/${decodeURIComponent(url.slice(BUNDLE_BASE_URL.length + 1).split(/[?#]/)[0]!)}`;
    const e = this.files.get(path);
    if (!e) throw new FetchError('NOT_FOUND', `${path} is not in the bundle ${this.what}`);
    if (e.size > maxBytes) throw new FetchError('TOO_LARGE', `${path} in the bundle is ${e.size} bytes, over the ${maxBytes}-byte cap`);
    const chunk = Buffer.alloc(Math.min(e.size, 1024 * 1024));
    for (let done = 0; done < e.size;) {
      const got = await this.reader.read(chunk, Math.min(chunk.length, e.size - done), e.offset + done);
      if (got <= 0) throw new FetchError('NOT_FOUND', `${this.what} ended inside ${path}`);
      done += got;
      yield Buffer.from(chunk.subarray(0, got));
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Writes the tree `dir` as a deterministic ustar archive at `out` (temporary file, fsync, rename). */
async function writeBundleArchive(dir: string, out: string, mtime: number): Promise<void> {
  const tmp = `${out}.${process.pid}.tmp`;
  const handle = await open(tmp, 'wx', 0o644);
  try {
    const writer = new DeterministicUstarWriter(async (chunk) => void (await handle.write(chunk)), mtime);
    for (const path of await listFiles(dir)) {
      const size = (await stat(join(dir, path))).size;
      await writer.file(path, false, size, createReadStream(join(dir, path), { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>);
    }
    await writer.end();
    await handle.sync();
    await handle.close();
    await rename(tmp, out);
    await fsyncDirectory(join(out, '..'));
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Every regular file below `dir`, by relative path, sorted. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

export function formatAge(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function remoteProxy(remote: RemoteConfig, proxy: string | undefined): { proxy?: string } {
  const p = proxy ?? remote.proxy;
  return p === undefined ? {} : { proxy: p };
}

function parseBundleDescription(bytes: Buffer, what: string): BundleDescription {
  const r = new FieldReader((m) => new InstallError('BAD_REQUEST', `not a cairn bundle: ${m}`), what);
  const o = r.exact(parseJsonObject(bytes, what), '', ['format', 'createdAt', 'remote', 'packages', 'files', 'bytes']);
  if (o.format !== BUNDLE_FORMAT) throw r.fail(`format must be ${BUNDLE_FORMAT}, found ${JSON.stringify(o.format)}`);
  const remote = r.exact(o.remote, 'remote', ['name', 'url']);
  return {
    format: BUNDLE_FORMAT,
    createdAt: r.string(o.createdAt, 'createdAt', 64, { valid: (t) => !Number.isNaN(Date.parse(t)), expected: 'an ISO date' }),
    // The name is a file name in the store (remotes/NAME): the remote-name grammar, never a path.
    remote: { name: r.string(remote.name, 'remote.name', 64, { pattern: REMOTE_NAME, expected: 'a remote name' }), url: r.string(remote.url, 'remote.url', 4096) },
    packages: r.array(o.packages, 'packages', 10_000, 1).map((p, i) => {
      const e = r.exact(p, `packages[${i}]`, ['name', 'version']);
      return {
        name: r.string(e.name, `packages[${i}].name`, 64, { valid: isValidName, expected: 'a package name' }),
        version: r.string(e.version, `packages[${i}].version`, 256, { valid: isStrictVersion, expected: 'a strict semver version' }),
      };
    }),
    files: r.integer(o.files, 'files'),
    bytes: r.integer(o.bytes, 'bytes'),
  };
}

/** A fetcher that keeps a copy of every body it read in full, at its path below the remote's base URL. */
class RecordingFetcher implements Fetcher {
  /** Recorded files by relative path, with the base URL that served each and its size. */
  private readonly recorded = new Map<string, { base: string; bytes: number }>();

  get files(): number {
    return this.recorded.size;
  }

  get bytes(): number {
    let n = 0;
    for (const r of this.recorded.values()) n += r.bytes;
    return n;
  }

  /** Drops what the mirror at `base` served (it was skipped: its bytes did not verify). */
  async forget(base: string): Promise<void> {
    for (const [rel, r] of [...this.recorded]) {
      if (r.base !== base) continue;
      this.recorded.delete(rel);
      await rm(join(this.dir, rel), { force: true });
    }
  }

  constructor(
    private readonly inner: Fetcher,
    private readonly bases: readonly string[],
    private readonly dir: string,
  ) {}

  stream(url: string, maxBytes: number): AsyncIterable<Uint8Array> {
    return this.record(url, this.inner.stream(url, maxBytes));
  }

  private async *record(url: string, chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const base = this.bases.find((b) => url.startsWith(`${b}/`));
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) {
      parts.push(chunk);
      yield chunk;
    }
    if (base === undefined) return;
    const rel = decodeURIComponent(url.slice(base.length + 1).split(/[?#]/)[0]!);
    const path = join(this.dir, rel);
    if (rel.split('/').some((p) => p === '..' || p === '') || relative(this.dir, path).startsWith('..')) return;
    await mkdir(join(path, '..'), { recursive: true });
    const body = Buffer.concat(parts);
    await writeFile(path, body);
    this.recorded.set(rel, { base, bytes: body.length });
  }
}
