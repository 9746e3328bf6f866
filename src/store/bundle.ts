// store/bundle.ts: offline bundles (docs/packages.md "Offline bundles"; docs/design.md "Client
// store"). A bundle is one tar archive holding bundle.json and repo/, a partial mirror of the
// remote: exactly the files a client starting from the remote's original trust anchor fetched to
// install the packages (TUF metadata, the log's blocks, forward links and head statement, the
// attestations and the package archives). It is made by running that client against the remote
// with a fetcher that records what it reads, so a bundle holds what verification needs and
// nothing is chosen by hand.
//
// Installing from a bundle runs the same witnessed client against the unpacked repo/ through
// file: URLs, with no network, from a trust anchor the user gives (--root, --log-anchor) or the
// one a configured remote of the same name was added with. bundle.json is not trusted for
// anything but its age: every byte is checked against the anchor. Staleness is explicit: expired
// metadata or an old head statement is refused unless the user accepts it, and then the
// client's clock is set to the bundle's creation time (the metadata must have been valid then).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initClientTrust } from '../client/index.js';
import { FieldReader, parseJsonObject } from '../encoding/index.js';
import { BoundedFetcher, readCappedFile, type Fetcher } from '../io/index.js';
import { extractTree, writeTreeArchive } from '../package/index.js';
import { InstallError } from './install-errors.js';
import { installPackages, parsePackageRequest, type PackageManagerOptions, type TransactionResult } from './install.js';
import { readRemote, readRemoteAnchor, type RemoteConfig } from './remotes.js';
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
  if (options.packages.length === 0) throw new InstallError('BAD_REQUEST', 'name at least one package to bundle');
  const remote = await readRemote(options.storeRoot, options.remote);
  const anchor = await readRemoteAnchor(options.storeRoot, remote.name);
  await mkdir(join(options.storeRoot, 'tmp'), { recursive: true });
  const staging = await mkdtemp(join(options.storeRoot, 'tmp', 'bundle-'));
  try {
    const repoDir = join(staging, 'tree', 'repo');
    const metadataDir = join(staging, 'metadata');
    await initClientTrust(metadataDir, anchor);
    const recorder = new RecordingFetcher(new BoundedFetcher(undefined, undefined, remoteProxy(remote, options.proxy)), [remote.url, ...remote.mirrors], repoDir);
    const client = new RemoteClient({ storeRoot: options.storeRoot, remote, metadataDir, cacheDir: join(staging, 'cache'), fetcher: recorder, ...(options.now ? { now: options.now } : {}) });
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
    await writeTreeArchive(join(staging, 'tree'), options.out);
    return description;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export interface InstallBundleOptions extends PackageManagerOptions {
  /** The trust anchor, when no remote of the bundle's name is configured. */
  rootFile?: string;
  logAnchor?: string;
  /** Accept expired metadata or an old head statement: verify as of the bundle's creation time. */
  allowStale?: boolean;
}

/** Installs every package of a bundle, verified against the pinned anchor, with no network. */
export async function installBundle(options: InstallBundleOptions, bundleFile: string): Promise<{ bundle: BundleDescription; ageSeconds: number; result: TransactionResult }> {
  await mkdir(join(options.storeRoot, 'tmp'), { recursive: true });
  const staging = await mkdtemp(join(options.storeRoot, 'tmp', 'from-bundle-'));
  try {
    const tree = join(staging, 'tree');
    await extractTree(bundleFile, tree);
    const bundle = parseBundleDescription(await readCappedFile(join(tree, 'bundle.json'), BUNDLE_JSON_MAX_BYTES), `${bundleFile}: bundle.json`);
    const now = (options.now ?? (() => new Date()))();
    const ageSeconds = Math.max(0, Math.round((now.getTime() - Date.parse(bundle.createdAt)) / 1000));
    const anchor = options.rootFile !== undefined
      ? { rootFile: options.rootFile, ...(options.logAnchor === undefined ? {} : { logAnchor: options.logAnchor }) }
      : await readRemoteAnchor(options.storeRoot, bundle.remote.name).catch(() => {
        throw new InstallError('NO_REMOTE', `no trust anchor for the bundle's remote ${bundle.remote.name}: it is not a configured remote`, {
          hint: 'give the anchor you trust: cairn install --from FILE --root ROOT_FILE --log-anchor HASH',
        });
      });
    const metadataDir = join(staging, 'metadata');
    await initClientTrust(metadataDir, anchor);
    const remote: RemoteConfig = { name: bundle.remote.name, url: pathToFileURL(join(tree, 'repo')).href, mirrors: [], witnessed: anchor.logAnchor !== undefined, addedAt: bundle.createdAt };
    const clock = options.allowStale ? () => new Date(bundle.createdAt) : options.now;
    const client = new RemoteClient({
      storeRoot: options.storeRoot, remote, metadataDir, cacheDir: join(staging, 'cache'),
      ...(clock ? { now: clock } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    try {
      await client.refresh();
    } catch (e) {
      throw new InstallError('ALL_MIRRORS_FAILED', `the bundle (made ${bundle.createdAt}, ${formatAge(ageSeconds)} ago) does not verify against the anchor: ${(e as Error).message}`, {
        hint: options.allowStale ? 'the bundle is damaged or was made for another trust anchor' : 'if it is only too old, --allow-stale installs what was valid when the bundle was made (you accept missing any later security update)',
      });
    }
    const result = await installPackages({ ...options, clients: [client] }, bundle.packages.map((p) => `${p.name}@${p.version}`));
    return { bundle, ageSeconds, result };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
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
    remote: { name: r.string(remote.name, 'remote.name', 64), url: r.string(remote.url, 'remote.url', 4096) },
    packages: r.array(o.packages, 'packages', 10_000, 1).map((p, i) => {
      const e = r.exact(p, `packages[${i}]`, ['name', 'version']);
      return { name: r.string(e.name, `packages[${i}].name`, 64), version: r.string(e.version, `packages[${i}].version`, 256) };
    }),
    files: r.integer(o.files, 'files'),
    bytes: r.integer(o.bytes, 'bytes'),
  };
}

/** A fetcher that keeps a copy of every body it read in full, at its path below the remote's base URL. */
class RecordingFetcher implements Fetcher {
  files = 0;
  bytes = 0;

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
    this.files++;
    this.bytes += body.length;
  }
}
