// store/remotes.ts: the remotes a store installs from (docs/packages.md "Remotes"). A remote is
// a repository URL, its mirrors, an optional SOCKS5h proxy, and its trust anchor: a root.json
// given by the user (never taken on first use) and, for a witnessed repository, a pinned log
// block. Each remote lives in STORE_ROOT/remotes/NAME/: remote.json, and metadata/, the TUF
// client directory holding the anchor (client/operations.ts initClientTrust). Adding a remote is
// atomic: the directory is built under tmp/ and renamed into place, so a refused anchor or a crash
// leaves no half-made remote.
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hasLogAnchor, initClientTrust } from '../client/index.js';
import { FieldReader, parseJsonObject } from '../encoding/index.js';
import { FormatError } from '../errors/index.js';
import { readCappedFile, readCappedFileIfExists, writeFileAtomic } from '../io/index.js';
import { NAME_PATTERN } from '../package/index.js';
import { openStore, storeLayout } from './core.js';
import { InstallError } from './install-errors.js';

/** Remote names follow the package name grammar (they become directory names). */
export const REMOTE_NAME = NAME_PATTERN;
const REMOTE_FILE_MAX_BYTES = 64 * 1024;
const MAX_MIRRORS = 32;
/** Largest root.json kept as a remote's anchor (the TUF client's own cap). */
const ROOT_MAX_BYTES = 512 * 1024;

/** The trust anchor a remote was added with. */
export async function readRemoteAnchor(storeRoot: string, name: string): Promise<{ rootFile: string; logAnchor?: string }> {
  const dir = remoteAnchorDir(storeRoot, name);
  const path = join(dir, 'anchor.json');
  const r = new FieldReader((m) => new FormatError('SCHEMA', m), path);
  const o = r.exact(parseJsonObject(await readCappedFile(path, REMOTE_FILE_MAX_BYTES), path), '', [], ['logAnchor']);
  return { rootFile: join(dir, 'root.json'), ...(o.logAnchor === undefined ? {} : { logAnchor: r.string(o.logAnchor, 'logAnchor', 200) }) };
}

export interface RemoteConfig {
  name: string;
  /** Base URL of the repository: metadata/, targets/, log/ and attestations/ beneath it. */
  url: string;
  /** Other base URLs serving the same repository, tried in order after `url`. */
  mirrors: string[];
  /** socks5h://HOST:PORT through which every request to this remote goes (onion mirrors). */
  proxy?: string;
  /** A log block is pinned: only witnessed releases are accepted. */
  witnessed: boolean;
  addedAt: string;
}

export interface AddRemoteOptions {
  name: string;
  url: string;
  /** The root.json to trust, from the publisher by a channel you trust. */
  rootFile: string;
  /** The log block to pin: HASH or INDEX:HASH. */
  logAnchor?: string;
  mirrors?: readonly string[];
  proxy?: string;
  now?: Date;
}

export function remotesDir(storeRoot: string): string {
  return storeLayout(storeRoot).remotes;
}

export function remoteMetadataDir(storeRoot: string, name: string): string {
  return join(remotesDir(storeRoot), checkRemoteName(name), 'metadata');
}

/** The anchor the remote was added with (root.json and anchor.json), kept to make bundles a new machine can check. */
export function remoteAnchorDir(storeRoot: string, name: string): string {
  return join(remotesDir(storeRoot), checkRemoteName(name), 'anchor');
}

export function remoteCacheDir(storeRoot: string, name: string): string {
  return join(remotesDir(storeRoot), checkRemoteName(name), 'cache');
}

/** A base URL a remote may use: http, https or file (TLS is never what makes bytes trustworthy). */
export function checkRepositoryUrl(url: string, what = 'repository URL'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InstallError('BAD_REQUEST', `${what} ${JSON.stringify(url)} is not a URL`, { hint: 'e.g. http://127.0.0.1:8080 (the directory cairn serve serves)' });
  }
  if (!['http:', 'https:', 'file:'].includes(parsed.protocol)) {
    throw new InstallError('BAD_REQUEST', `${what} ${url}: expected http, https or file, found ${parsed.protocol.replace(':', '')}`);
  }
  return parsed.href.replace(/\/+$/, '');
}

export function checkRemoteName(name: string): string {
  if (!REMOTE_NAME.test(name)) {
    throw new InstallError('BAD_REMOTE_NAME', `remote name ${JSON.stringify(name)}: expected lowercase letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)`);
  }
  return name;
}

/** Pins a new remote's trust anchor and writes its configuration; nothing is left behind if the anchor is refused. */
export async function addRemote(storeRoot: string, options: AddRemoteOptions): Promise<RemoteConfig> {
  // Under the store's lock: its staging directory in tmp/ is never taken for an interrupted operation's leftover by gc.
  return (await openStore(storeRoot, { command: 'cairn remote add' })).withLock(() => addRemoteLocked(storeRoot, options));
}

async function addRemoteLocked(storeRoot: string, options: AddRemoteOptions): Promise<RemoteConfig> {
  const name = checkRemoteName(options.name);
  const remote: RemoteConfig = {
    name,
    url: checkRepositoryUrl(options.url),
    mirrors: (options.mirrors ?? []).map((m) => checkRepositoryUrl(m, 'mirror URL')),
    ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
    witnessed: options.logAnchor !== undefined,
    addedAt: (options.now ?? new Date()).toISOString(),
  };
  if (remote.mirrors.length > MAX_MIRRORS) throw new InstallError('BAD_REQUEST', `at most ${MAX_MIRRORS} mirrors per remote, found ${remote.mirrors.length}`);
  const final = join(remotesDir(storeRoot), name);
  if ((await readRemoteIfExists(storeRoot, name)) !== undefined) {
    throw new InstallError('REMOTE_EXISTS', `a remote named ${name} exists`, { hint: `cairn remote remove ${name} first, or choose another name` });
  }
  const staging = join(storeRoot, 'tmp', `remote-${name}-${randomBytes(6).toString('hex')}`);
  try {
    await initClientTrust(join(staging, 'metadata'), { rootFile: options.rootFile, ...(options.logAnchor === undefined ? {} : { logAnchor: options.logAnchor }) });
    await writeFileAtomic(join(staging, 'anchor', 'root.json'), await readCappedFile(join(staging, 'metadata', 'root.json'), ROOT_MAX_BYTES));
    await writeFileAtomic(join(staging, 'anchor', 'anchor.json'), JSON.stringify(options.logAnchor === undefined ? {} : { logAnchor: options.logAnchor }) + '\n');
    await writeFileAtomic(join(staging, 'remote.json'), JSON.stringify(remote, null, 2) + '\n');
    await mkdir(remotesDir(storeRoot), { recursive: true });
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return remote;
}

export async function removeRemote(storeRoot: string, name: string): Promise<void> {
  return (await openStore(storeRoot, { command: 'cairn remote remove' })).withLock(() => removeRemoteLocked(storeRoot, name));
}

async function removeRemoteLocked(storeRoot: string, name: string): Promise<void> {
  await readRemote(storeRoot, name);
  const doomed = join(storeRoot, 'tmp', `removed-${name}-${randomBytes(6).toString('hex')}`);
  await rename(join(remotesDir(storeRoot), name), doomed);
  await rm(doomed, { recursive: true, force: true });
}

export async function listRemotes(storeRoot: string): Promise<RemoteConfig[]> {
  let names: string[];
  try {
    names = await readdir(remotesDir(storeRoot));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const remotes: RemoteConfig[] = [];
  for (const name of names.sort()) {
    if (!REMOTE_NAME.test(name)) continue;
    const remote = await readRemoteIfExists(storeRoot, name);
    if (remote) remotes.push(remote);
  }
  return remotes;
}

export async function readRemote(storeRoot: string, name: string): Promise<RemoteConfig> {
  const remote = await readRemoteIfExists(storeRoot, checkRemoteName(name));
  if (!remote) {
    const known = (await listRemotes(storeRoot)).map((r) => r.name);
    throw new InstallError('UNKNOWN_REMOTE', `no remote named ${name} (known: ${known.length === 0 ? 'none' : known.join(', ')})`, {
      hint: 'cairn remote add NAME URL --root ROOT_FILE [--log-anchor HASH]',
    });
  }
  return remote;
}

async function readRemoteIfExists(storeRoot: string, name: string): Promise<RemoteConfig | undefined> {
  const path = join(remotesDir(storeRoot), name, 'remote.json');
  const bytes = await readCappedFileIfExists(path, REMOTE_FILE_MAX_BYTES);
  if (bytes === undefined) return undefined;
  const r = new FieldReader((m) => new FormatError('SCHEMA', m), path);
  const o = r.exact(parseJsonObject(bytes, path), '', ['name', 'url', 'mirrors', 'witnessed', 'addedAt'], ['proxy']);
  const remote: RemoteConfig = {
    name: r.string(o.name, 'name', 64, { pattern: REMOTE_NAME, expected: 'a remote name' }),
    url: r.string(o.url, 'url', 4096),
    mirrors: r.array(o.mirrors, 'mirrors', MAX_MIRRORS).map((m, i) => r.string(m, `mirrors[${i}]`, 4096)),
    witnessed: r.boolean(o.witnessed, 'witnessed'),
    addedAt: r.string(o.addedAt, 'addedAt', 64),
    ...(o.proxy === undefined ? {} : { proxy: r.string(o.proxy, 'proxy', 4096) }),
  };
  // The anchor, not the file, says whether the remote is witnessed: a hand-edited remote.json cannot switch the log off.
  remote.witnessed = await hasLogAnchor(remoteMetadataDir(storeRoot, name));
  return remote;
}
