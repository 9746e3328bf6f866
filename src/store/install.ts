// store/install.ts: the package manager's transactions (docs/packages.md "Installing"): install,
// update and remove. Each one, under the store's lock: reads the active generation, resolves
// the complete package set from verified metadata only (store/resolve.ts over the remotes'
// witnessed clients, store/remotes-client.ts), checks permissions against what is installed,
// downloads and verifies what is new, and commits one new generation (store/core.ts: unpack into
// the store, fsync, write the generation, one atomic switch). Any failure before the switch
// leaves the active generation as it was.
//
// Permissions (docs/packages.md "Permissions"): nothing is granted at install. An update whose
// package requests more than the installed version stops before activation with the difference
// (PERMISSION_CONSENT_NEEDED), proceeds with `acceptPermissions`, or is held (the installed
// version kept) with `holdPermissionChanges`. The permissions shown, recorded and later enforced
// are those of the verified manifest in the target's metadata; the archive's copy must be
// byte-identical to it or the unpack is refused (MANIFEST_MISMATCH).
import { extractPackage, isValidName, manifestBytes, parseManifest, permissionIncrease, type PackageManifest } from '../package/index.js';
import { openStore, storeLayout, StoreError, type Generation, type GenerationPlan, type IncomingPackage, type Store } from './core.js';
import { readStoreRecord } from './records.js';
import { InstallError } from './install-errors.js';
import { REMOTE_NAME, listRemotes, type RemoteConfig } from './remotes.js';
import { RemoteClient, type AttestationVerdict, type FetchedPackage, type RemoteEvent } from './remotes-client.js';
import semver from 'semver';
import { join } from 'node:path';
import { BoundedFetcher, readCappedFileIfExists, writeFileAtomic } from '../io/index.js';
import { isCairnError } from '../errors/index.js';
import { fetchProvenance } from '../upstream/index.js';
import { resolveDependencies, type PackageCatalog, type Requirement } from './resolve.js';

const semverCompare = (a: string, b: string): number => semver.compare(a, b);

export type InstallEvent =
  | RemoteEvent
  | { type: 'resolved'; packages: Array<{ name: string; version: string; remote: string; change: 'new' | 'update' | 'keep' }> }
  | { type: 'held'; name: string; installed: string; available: string; increase: string[] }
  | { type: 'unpacking'; name: string; version: string }
  | { type: 'unpack-progress'; name: string; version: string; written: number; total: number };

export interface PackageManagerOptions {
  /** The store's root directory (the scope's: docs/store.md "Scopes"). */
  storeRoot: string;
  /** socks5h://HOST:PORT for every remote (else each remote's own setting). */
  proxy?: string;
  now?: () => Date;
  lockTimeoutMs?: number;
  onEvent?: (event: InstallEvent) => void;
  /**
   * Go ahead with what requests more permissions: true for anything (--accept-permissions), or
   * exactly the items a person was shown and said yes to (anything else still needs consent).
   */
  acceptPermissions?: boolean | readonly ConsentItem[];
  /** Compute the transaction from the store alone, with no network (remove). */
  offline?: boolean;
  /** Keep the installed version of a package whose update requests more permissions. */
  holdPermissionChanges?: boolean;
  /** The sources to install from instead of the configured remotes (an offline bundle's). */
  clients?: readonly RemoteClient[];
}

/** What a transaction did. */
export interface TransactionResult {
  generation: Generation | undefined;
  /** Nothing to do: the active generation already is what was asked for. */
  unchanged: boolean;
  added: Array<{ name: string; version: string; permissions: string[] }>;
  updated: Array<{ name: string; from: string; to: string; increase: string[] }>;
  removed: Array<{ name: string; version: string }>;
  held: Array<{ name: string; installed: string; available: string; increase: string[] }>;
  /** Packages asked to be removed that stay as dependencies of others. */
  keptAsDependency: Array<{ name: string; neededBy: string[] }>;
}

type Installed = Generation['packages'][string];

/**
 * What needs the user's consent: a package that would enter the generation with more permission
 * requests than before, either an update (`installed` its version) or a package the user did not
 * name that an update or install pulls in (`installed` null).
 */
export interface ConsentItem {
  name: string;
  installed: string | null;
  available: string;
  increase: string[];
}

/** PERMISSION_CONSENT_NEEDED carries exactly what needs consent, for a prompt to show and accept. */
export class ConsentNeededError extends InstallError {
  constructor(readonly items: readonly ConsentItem[]) {
    super('PERMISSION_CONSENT_NEEDED', items.map(describeConsent).join('; '), {
      hint: 'nothing was changed; review them (cairn info NAME), then run again with --accept-permissions, or with --no-permission-changes to keep the installed versions',
    });
  }
}

function describeConsent(h: ConsentItem): string {
  return h.installed === null
    ? `${h.name} ${h.available} (a new dependency) requests permissions: ${h.increase.join(', ')}`
    : `${h.name} ${h.installed} -> ${h.available} requests more permissions: ${h.increase.join(', ')}`;
}

/** Whether `accepted` covers `item`: true, or an accepted entry for the same package and version whose permissions include all of it. */
function consented(accepted: PackageManagerOptions['acceptPermissions'], item: ConsentItem): boolean {
  if (accepted === true) return true;
  if (!Array.isArray(accepted)) return false;
  return (accepted as readonly ConsentItem[]).some((a) => a.name === item.name && a.available === item.available && a.installed === item.installed && item.increase.every((p) => a.increase.includes(p)));
}

/** `[REMOTE:]NAME`, `[REMOTE:]NAME@VERSION` or `[REMOTE:]NAME@RANGE` as a requirement of the user. */
export function parsePackageRequest(text: string): Requirement & { remote?: string } {
  const colon = text.indexOf(':');
  const remote = colon < 0 ? undefined : text.slice(0, colon);
  const rest = colon < 0 ? text : text.slice(colon + 1);
  const at = rest.indexOf('@', 1);
  const name = at < 0 ? rest : rest.slice(0, at);
  const range = at < 0 ? '*' : rest.slice(at + 1);
  if (!isValidName(name) || range === '' || (remote !== undefined && !REMOTE_NAME.test(remote))) {
    throw new InstallError('BAD_REQUEST', `${JSON.stringify(text)}: expected [REMOTE:]NAME, NAME@VERSION or NAME@RANGE (names are lowercase)`);
  }
  return { name, range, wantedBy: 'you', ...(remote === undefined ? {} : { remote }) };
}

/** Installs packages (and what they depend on) into a new generation. */
export function installPackages(options: PackageManagerOptions, requests: readonly string[]): Promise<TransactionResult> {
  if (requests.length === 0) throw new InstallError('BAD_REQUEST', 'name at least one package to install');
  const wanted = requests.map(parsePackageRequest);
  return transaction(options, reasonOf('install', requests), (installed) => ({
    remotes: Object.fromEntries(wanted.filter((r) => r.remote !== undefined).map((r) => [r.name, r.remote!])),
    explicit: new Set([...explicitNames(installed), ...wanted.map((r) => r.name)]),
    requirements: wanted,
    updating: new Set(wanted.filter((r) => r.range !== '*' || !installed[r.name]).map((r) => r.name)),
  }));
}

/** Updates the named packages (all when none is named) to the newest versions their dependents allow. */
export function updatePackages(options: PackageManagerOptions, names: readonly string[] = []): Promise<TransactionResult> {
  return transaction(options, names.length === 0 ? 'update' : reasonOf('update', names), (installed) => {
    for (const name of names) if (!installed[name]) throw notInstalled(name, installed);
    return { explicit: new Set(explicitNames(installed)), requirements: [], updating: new Set(names.length === 0 ? Object.keys(installed) : names) };
  });
}

/** Removes packages; what they alone needed goes with them. */
export function removePackages(options: PackageManagerOptions, names: readonly string[]): Promise<TransactionResult> {
  if (names.length === 0) throw new InstallError('BAD_REQUEST', 'name at least one package to remove');
  // From the store alone: no mirror (down, or blocked by an attacker) can keep a package installed.
  return transaction({ ...options, offline: true }, reasonOf('remove', names), (installed) => {
    for (const name of names) if (!installed[name]) throw notInstalled(name, installed);
    return { explicit: new Set(explicitNames(installed).filter((n) => !names.includes(n))), requirements: [], updating: new Set(), removing: names };
  });
}

/** A generation's reason: the command and its packages, shortened past 200 characters (a generation manifest caps its text). */
function reasonOf(verb: string, names: readonly string[]): string {
  const full = `${verb} ${names.join(' ')}`;
  return full.length <= 200 ? full : `${full.slice(0, 160).replace(/ \S*$/, '')} ... (${names.length} packages)`;
}

interface Intent {
  /** Remotes the user named for packages (REMOTE:NAME). */
  remotes?: Record<string, string>;
  explicit: Set<string>;
  requirements: Requirement[];
  updating: Set<string>;
  removing?: readonly string[];
}

async function transaction(options: PackageManagerOptions, reason: string, intentOf: (installed: Record<string, Installed>) => Intent): Promise<TransactionResult> {
  const store = await openStore(options.storeRoot, options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs });
  return store.withLock(() => runTransaction(store, options, reason, intentOf));
}

async function runTransaction(store: Store, options: PackageManagerOptions, reason: string, intentOf: (installed: Record<string, Installed>) => Intent): Promise<TransactionResult> {
  const current = await store.current();
  const installed: Record<string, Installed> = current?.packages ?? {};
  const intent = intentOf(installed);
  const catalog = await RemotesCatalog.open(options, store, installed);
  for (const [name, remote] of Object.entries(intent.remotes ?? {})) catalog.claim(name, remote, 'you');
  const prefer = Object.fromEntries(Object.entries(installed).map(([n, p]) => [n, p.version]));
  const pinned: Requirement[] = [];
  const result: TransactionResult = { generation: current, unchanged: true, added: [], updated: [], removed: [], held: [], keptAsDependency: [] };

  // Resolve; an update that needs consent the user has not given is either refused or held (pinned back, then resolved again).
  let chosen: Map<string, string>;
  for (;;) {
    const requirements = [
      ...[...intent.explicit].filter((n) => !intent.requirements.some((r) => r.name === n)).map((name) => ({ name, range: '*', wantedBy: 'you' })),
      ...intent.requirements,
      ...pinned,
    ];
    chosen = requirements.length === 0 ? new Map() : await resolveDependencies(requirements, catalog, { prefer, updating: intent.updating });
    const needsConsent: ConsentItem[] = [];
    const named = new Set(intent.requirements.map((r) => r.name));
    for (const [name, version] of chosen) {
      const before = installed[name];
      if (before?.version === version) continue;
      const requested = (await catalog.manifest(name, version)).permissions;
      // An update that asks for more, or a package nobody named entering with requests of its own.
      const increase = before ? permissionIncrease(before.permissions, requested) : named.has(name) ? [] : [...requested];
      if (increase.length > 0) needsConsent.push({ name, installed: before?.version ?? null, available: version, increase });
    }
    const waiting = needsConsent.filter((h) => !consented(options.acceptPermissions, h));
    if (waiting.length === 0) break;
    if (!options.holdPermissionChanges) throw new ConsentNeededError(waiting);
    for (const h of waiting) {
      // Hold an update at its installed version; hold a new dependency by holding what pulled it in.
      const holds = h.installed !== null ? [h.name] : (await catalog.dependents(h.name, chosen)).map((d) => d.slice(0, d.lastIndexOf('@'))).filter((n) => installed[n] !== undefined);
      if (holds.length === 0) throw new ConsentNeededError([h]);
      for (const n of holds) {
        if (pinned.some((p) => p.name === n)) continue;
        const held = { name: n, installed: installed[n]!.version, available: chosen.get(n)!, increase: h.installed !== null ? h.increase : h.increase.map((p) => `${p} (through ${h.name})`) };
        result.held.push(held);
        options.onEvent?.({ type: 'held', ...held });
        pinned.push({ name: n, range: installed[n]!.version, wantedBy: 'held (more permissions)' });
        intent.updating.delete(n);
      }
    }
  }

  for (const name of intent.removing ?? []) {
    if (chosen.has(name)) {
      const neededBy = await catalog.dependents(name, chosen);
      result.keptAsDependency.push({ name, neededBy });
    }
  }

  const plan: GenerationPlan = { reason, packages: {} };
  const resolvedEvent: Extract<InstallEvent, { type: 'resolved' }>['packages'] = [];
  for (const [name, version] of [...chosen].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const before = installed[name];
    const explicit = intent.explicit.has(name);
    if (before && before.version === version) {
      plan.packages[name] = { id: before.id, version, remote: before.remote, explicit, permissions: before.permissions };
      if (before.explicit !== explicit) result.unchanged = false;
      resolvedEvent.push({ name, version, remote: before.remote, change: 'keep' });
      continue;
    }
    result.unchanged = false;
    const fetched = await catalog.fetch(name, version);
    plan.packages[name] = { version, remote: fetched.remote, explicit, permissions: fetched.manifest.permissions, incoming: incomingPackage(fetched, options) };
    resolvedEvent.push({ name, version, remote: fetched.remote, change: before ? 'update' : 'new' });
    if (before) result.updated.push({ name, from: before.version, to: version, increase: permissionIncrease(before.permissions, fetched.manifest.permissions) });
    else result.added.push({ name, version, permissions: fetched.manifest.permissions });
  }
  for (const [name, before] of Object.entries(installed)) {
    if (!chosen.has(name)) {
      result.removed.push({ name, version: before.version });
      result.unchanged = false;
    }
  }
  options.onEvent?.({ type: 'resolved', packages: resolvedEvent });
  if (result.unchanged) return result;
  result.generation = await store.commit(plan);
  return result;
}

/** The store's unpack of a verified archive: safe extraction, then the archive's manifest must be the verified one, byte for byte. */
function incomingPackage(fetched: FetchedPackage & { remote: string }, options: PackageManagerOptions): IncomingPackage {
  const expected = manifestBytes(fetched.manifest);
  return {
    name: fetched.name,
    version: fetched.version,
    remote: fetched.remote,
    targetPath: fetched.targetPath,
    targetSha256: fetched.sha256,
    manifest: fetched.manifest as unknown as IncomingPackage['manifest'],
    unpack: async (destDir, step) => {
      options.onEvent?.({ type: 'unpacking', name: fetched.name, version: fetched.version });
      // The store flushes every new store path once it is read-only: extraction need not fsync first.
      const extracted = await extractPackage(fetched.file, destDir, {
        step, durable: false,
        onProgress: (written, total) => options.onEvent?.({ type: 'unpack-progress', name: fetched.name, version: fetched.version, written, total }),
      });
      if (!extracted.manifestBytes.equals(expected)) {
        throw new InstallError('MANIFEST_MISMATCH', `${fetched.targetPath}: the archive's cairn-package.json differs from the manifest in the verified metadata`, {
          hint: 'the publisher packed one manifest and published another; nothing was installed',
        });
      }
      return extracted.files;
    },
  };
}

/** The manifest the store recorded when it installed `id` (verified then). */
async function installedManifest(store: Store, id: string): Promise<PackageManifest> {
  const path = join(store.layout.store, `${id}.json`);
  const record = await readStoreRecord(path, id);
  if (!record) throw new StoreError('CORRUPT', `the active generation references ${id}, whose record ${path} is missing`, { hint: 'cairn verify names what is damaged; cairn rollback or a reinstall repairs it' });
  return parseManifest(record.manifest, `the store record ${path}`);
}

function explicitNames(installed: Record<string, Installed>): string[] {
  return Object.entries(installed).filter(([, p]) => p.explicit).map(([n]) => n);
}

function notInstalled(name: string, installed: Record<string, Installed>): InstallError {
  const names = Object.keys(installed);
  return new InstallError('NOT_INSTALLED', `${name} is not installed (installed: ${names.length === 0 ? 'nothing' : names.sort().join(', ')})`, { hint: 'cairn list' });
}

/**
 * The catalog the resolver reads: each package from one remote. An installed package stays with
 * the remote it came from; a dependency comes from its dependent's remote (a second remote can
 * never supply it: dependency confusion); a package the user names comes from the one remote that
 * publishes it, or from the remote named with REMOTE:NAME (two that publish it is AMBIGUOUS).
 */
class RemotesCatalog implements PackageCatalog {
  private readonly owner = new Map<string, Promise<RemoteClient>>();
  /** Package -> the remote it must come from, and who said so. */
  private readonly claims = new Map<string, { remote: string; by: string }>();

  private constructor(
    private readonly clients: RemoteClient[],
    private readonly installed: Record<string, Installed>,
    private readonly installedManifest: (id: string) => Promise<PackageManifest>,
    private readonly offline = false,
  ) {}

  static async open(options: PackageManagerOptions, store: Store, installed: Record<string, Installed>): Promise<RemotesCatalog> {
    const fromStore = (id: string): Promise<PackageManifest> => installedManifest(store, id);
    if (options.offline) return new RemotesCatalog([], installed, fromStore, true);
    if (options.clients) return new RemotesCatalog([...options.clients], installed, fromStore);
    const remotes: RemoteConfig[] = await listRemotes(options.storeRoot);
    const clients = remotes.map((remote) => new RemoteClient({
      storeRoot: options.storeRoot,
      remote,
      ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
      ...(options.now ? { now: options.now } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    }));
    return new RemotesCatalog(clients, installed, fromStore);
  }

  /** `name` must come from `remote` (`by` wants it so); a second, different claim is a conflict. */
  claim(name: string, remote: string, by: string): void {
    const earlier = this.claims.get(name) ?? (this.installed[name] ? { remote: this.installed[name]!.remote, by: `the installed ${name}` } : undefined);
    if (earlier && earlier.remote !== remote) {
      throw new InstallError('DEPENDENCY_CONFLICT', `${by} needs ${name} from remote ${remote}, but ${earlier.by} has it from ${earlier.remote}: a package is never taken from another remote than its dependent's`, {
        hint: `install them from one remote, or remove ${name} first`,
      });
    }
    if (!this.claims.has(name)) this.claims.set(name, { remote, by });
  }

  private clientFor(name: string): Promise<RemoteClient> {
    let p = this.owner.get(name);
    if (!p) this.owner.set(name, (p = this.findClient(name)));
    return p;
  }

  private async findClient(name: string): Promise<RemoteClient> {
    this.remotes();
    const from = this.claims.get(name)?.remote ?? this.installed[name]?.remote;
    if (from !== undefined) {
      const client = this.clients.find((c) => c.name === from);
      if (client) return client;
      throw new InstallError('UNKNOWN_REMOTE', `${name} must come from ${from}, which is not a configured remote (an offline bundle's, or a removed remote)`, {
        hint: `cairn remote add ${from} URL --root ROOT_FILE ..., or install a newer bundle with cairn install --from FILE`,
      });
    }
    const publishers: RemoteClient[] = [];
    for (const client of this.clients) {
      try {
        await client.versions(name);
        publishers.push(client);
      } catch (e) {
        if (!(e instanceof InstallError && e.code === 'UNKNOWN_PACKAGE')) throw e;
      }
    }
    if (publishers.length === 1) return publishers[0]!;
    if (publishers.length > 1) {
      throw new InstallError('AMBIGUOUS_PACKAGE', `${publishers.length} remotes publish a package named ${name}: ${publishers.map((c) => c.name).join(', ')}`, {
        hint: `say which: cairn install ${publishers.map((c) => `${c.name}:${name}`).join(' or ')}`,
      });
    }
    throw new InstallError('UNKNOWN_PACKAGE', `no remote publishes a package named ${name} (remotes: ${this.clients.map((c) => c.name).join(', ')})`, { hint: 'cairn search TEXT' });
  }

  /** A package installed from a remote that is not configured (an offline bundle's), or any installed package offline: only its installed version exists. */
  private fromStoreOnly(name: string): boolean {
    const from = this.installed[name]?.remote;
    return from !== undefined && (this.offline || !this.clients.some((c) => c.name === from));
  }

  async versions(name: string): Promise<readonly string[]> {
    if (this.fromStoreOnly(name)) return [this.installed[name]!.version];
    return (await this.clientFor(name)).versions(name);
  }

  /** The dependencies of name@version, each claimed for name's remote. */
  async dependencies(name: string, version: string): Promise<Readonly<Record<string, string>>> {
    const deps = (await this.manifest(name, version)).dependencies;
    const remote = this.installed[name]?.version === version ? this.installed[name]!.remote : (await this.clientFor(name)).name;
    for (const dep of Object.keys(deps)) this.claim(dep, remote, `${name}@${version} (from ${remote})`);
    return deps;
  }

  /** The verified manifest of name@version: the store's record for the installed version, else the remote's metadata. */
  async manifest(name: string, version: string): Promise<PackageManifest> {
    const installed = this.installed[name];
    if (installed && installed.version === version) return this.installedManifest(installed.id);
    return (await (await this.clientFor(name)).manifest(name, version)).manifest;
  }

  async fetch(name: string, version: string): Promise<FetchedPackage & { remote: string }> {
    const client = await this.clientFor(name);
    return { ...(await client.fetchPackage(name, version)), remote: client.name };
  }

  remotes(): readonly RemoteClient[] {
    if (this.clients.length === 0) throw new InstallError('NO_REMOTE', 'no remote is configured', { hint: 'cairn remote add NAME URL --root ROOT_FILE --log-anchor HASH, or cairn install --from BUNDLE' });
    return this.clients;
  }

  client(name: string): Promise<RemoteClient> {
    return this.clientFor(name);
  }

  /** The chosen packages whose dependencies name `name`. */
  async dependents(name: string, chosen: ReadonlyMap<string, string>): Promise<string[]> {
    const out: string[] = [];
    for (const [n, v] of chosen) if (n !== name && Object.hasOwn(await this.dependencies(n, v), name)) out.push(`${n}@${v}`);
    return out;
  }
}

/** What `cairn info` shows of a package: from verified metadata, and from the store when installed. */
export interface PackageInfo {
  name: string;
  version: string;
  remote: string;
  description?: string;
  versions: string[];
  length: number;
  sha256: string;
  dependencies: Record<string, string>;
  entryPoints: Record<string, string>;
  permissions: string[];
  /** Verifiers' verdicts on this version (store/remotes-client.ts AttestationVerdict). */
  attestations: AttestationVerdict;
  witnessed: boolean;
  block?: string;
  installed?: string;
  /** Where its source came from, when it was imported (docs/upstream.md): what the provenance the witnesses checked records. */
  upstream?: UpstreamInfo;
}

/** A package's upstream provenance as `cairn info` shows it; `unavailable` when the import's provenance.json could not be fetched. */
export type UpstreamInfo = { uri: string; unavailable: string } | {
  uri: string;
  kind: 'debian' | 'npm';
  /** Source package or npm name, and version. */
  name: string;
  version: string;
  /** The upstream file, its SHA-256 (the declared source). */
  file: string;
  sha256: string;
  /** Debian: the archive and the keys that signed its release file; npm: the registry and the key that signed. */
  archive: string;
  archiveSigners: string[];
  /** The upstream's key that signed the file, or null where it signed nothing (npm: always null). */
  upstreamSigner: string | null;
};

/**
 * The provenance of the import a package's declaration names, by its declared hash: shown only
 * when witnesses checked it (a witnessed remote: each witness verified that import's chain and
 * that the source is its upstream file) and when its upstream file is the declared source.
 */
async function upstreamInfo(declared: NonNullable<FetchedPackage['upstream']>, witnessed: boolean, proxy: string | undefined): Promise<UpstreamInfo> {
  const upstream = declared.import;
  if (!witnessed) return { uri: upstream.uri, unavailable: 'not shown: the remote has no log anchor, so no witness checked this import' };
  try {
    const { provenance: p } = await fetchProvenance(upstream.uri, upstream.sha256, new BoundedFetcher(undefined, proxy === undefined ? {} : { proxy }));
    if (p.upstream.sha256 !== declared.sourceSha256) return { uri: upstream.uri, unavailable: `its upstream file ${p.upstream.file} is not the declared source` };
    if (p.kind === 'npm') {
      return { uri: upstream.uri, kind: 'npm', name: p.name, version: p.version, file: p.upstream.file, sha256: p.upstream.sha256, archive: p.registry, archiveSigners: p.signature === null ? [] : [p.signature.keyid], upstreamSigner: null };
    }
    return {
      uri: upstream.uri, kind: 'debian', name: p.source, version: p.version, file: p.upstream.file, sha256: p.upstream.sha256,
      archive: `${p.archive.origin} ${p.archive.uri} ${p.archive.suite}`, archiveSigners: p.release.signers, upstreamSigner: 'signer' in p.signature ? p.signature.signer : null,
    };
  } catch (e) {
    if (!isCairnError(e)) throw e;
    return { uri: upstream.uri, unavailable: e.message };
  }
}

/** Describes NAME (newest version) or NAME@RANGE (newest matching) from the first remote that publishes it; downloads the archive to check the verifiers' verdicts. */
export async function describePackage(options: PackageManagerOptions, request: string): Promise<PackageInfo> {
  const wanted = parsePackageRequest(request);
  const store = await openStore(options.storeRoot);
  const installed = (await store.current())?.packages ?? {};
  const catalog = await RemotesCatalog.open(options, store, {});
  const chosen = await resolveDependencies([wanted], { versions: (n) => catalog.versions(n), dependencies: async () => ({}) });
  const version = chosen.get(wanted.name)!;
  const fetched = await catalog.fetch(wanted.name, version);
  const client = await catalog.client(wanted.name);
  const m = fetched.manifest;
  return {
    name: m.name,
    version: m.version,
    remote: fetched.remote,
    ...(m.description === undefined ? {} : { description: m.description }),
    versions: [...(await catalog.versions(wanted.name))].sort(semverCompare),
    length: fetched.length,
    sha256: fetched.sha256,
    dependencies: m.dependencies,
    entryPoints: m.entryPoints,
    permissions: m.permissions,
    attestations: fetched.attestations,
    witnessed: client.witnessed,
    ...(client.block ? { block: `${client.block.index}:${client.block.hash}` } : {}),
    ...(installed[wanted.name] ? { installed: installed[wanted.name]!.version } : {}),
    ...(fetched.upstream === undefined ? {} : { upstream: await upstreamInfo(fetched.upstream, client.witnessed, options.proxy) }),
  };
}

/** Updates held because they request more permissions, as the last background update left them. */
export interface HeldUpdates {
  checkedAt: string;
  held: TransactionResult['held'];
}

const HELD_FILE_MAX_BYTES = 1024 * 1024;

/**
 * One run of the background update of a user-scope store (docs/cli.md "Staying up to date"):
 * checks every remote, downloads and verifies, activates what needs no new permission and holds
 * what does, recording the held updates for the next time the user runs cairn. It does nothing
 * when no remote is configured (packages from offline bundles are only updated by a newer bundle).
 */
export async function backgroundUpdate(options: PackageManagerOptions): Promise<{ skipped?: string; result?: TransactionResult }> {
  if ((await listRemotes(options.storeRoot)).length === 0) return { skipped: 'no remote is configured: offline bundles are the only source, so there is nothing to check' };
  const result = await updatePackages({ ...options, acceptPermissions: false, holdPermissionChanges: true });
  const held: HeldUpdates = { checkedAt: (options.now?.() ?? new Date()).toISOString(), held: result.held };
  await writeFileAtomic(storeLayout(options.storeRoot).heldUpdates, JSON.stringify(held, null, 2) + '\n');
  return { result };
}

/** The updates the last background update held that are still held (the installed version unchanged), if any. */
export async function readHeldUpdates(storeRoot: string): Promise<HeldUpdates | undefined> {
  const bytes = await readCappedFileIfExists(storeLayout(storeRoot).heldUpdates, HELD_FILE_MAX_BYTES).catch(() => undefined);
  if (bytes === undefined) return undefined;
  let parsed: HeldUpdates;
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as HeldUpdates;
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed.held)) return undefined;
  const installed = (await (await openStore(storeRoot)).current())?.packages ?? {};
  const still = parsed.held.filter((h) => installed[h.name]?.version === h.installed);
  return still.length > 0 ? { checkedAt: parsed.checkedAt, held: still } : undefined;
}

/** One search result: a package a remote's package index lists. */
export interface SearchResult {
  name: string;
  version: string;
  description?: string;
  remote: string;
  installed?: string;
}

/**
 * Packages whose name or description contains `text` (case-insensitive), from each remote's
 * verified package index. What a search shows is only a list: an install reads each package's own
 * versions index and manifest.
 */
export async function searchPackages(options: PackageManagerOptions, text: string): Promise<SearchResult[]> {
  const store = await openStore(options.storeRoot);
  const installed = (await store.current())?.packages ?? {};
  const catalog = await RemotesCatalog.open(options, store, installed);
  const needle = text.toLowerCase();
  const results: SearchResult[] = [];
  for (const client of catalog.remotes()) {
    const index = await client.packageIndex();
    for (const [name, entry] of Object.entries(index.packages)) {
      if (!name.includes(needle) && !(entry.description ?? '').toLowerCase().includes(needle)) continue;
      results.push({ name, version: entry.version, ...(entry.description === undefined ? {} : { description: entry.description }), remote: client.name, ...(installed[name] ? { installed: installed[name]!.version } : {}) });
    }
  }
  return results.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.remote < b.remote ? -1 : 1));
}
