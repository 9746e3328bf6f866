// upstream/npm-import.ts: `cairn import npm NAME[@VERSION]` (docs/upstream.md "npm"): a package
// as its author published it to the registry npm itself is configured with (never an address of
// cairn's own), proven as far as the registry lets anyone prove it:
//   1. the version's tarball has the integrity the packument lists (SHA-512, Subresource Integrity;
//      a version with only a SHA-1 shasum is refused);
//   2. the registry's ECDSA signature of `NAME@VERSION:INTEGRITY` (`dist.signatures`, npm's
//      "registry signatures"), verified with a key of the registry's key list (`/-/npm/v1/keys`)
//      that had not expired when the version was published. A registry that lists keys but did
//      not sign the version is refused (an attacker who strips signatures must not win); one that
//      lists no keys (404) cannot sign, and that is recorded; whoever answers for the registry could
//      drop its keys so, so a key list the user pinned (--keys) may be used instead.
// What comes out is a directory with the tarball, the version's document and the key list as
// served, and provenance.json naming each.
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { FieldReader, parseJsonBounded, type JsonRecord } from '../encoding/index.js';
import { UsageError } from '../errors/index.js';
import { BoundedFetcher, fetchAll, FetchError, type Fetcher } from '../io/index.js';
import { UpstreamError } from './errors.js';
import { checkNewDirectory, IMPORT_FILE_NAME, importDirectory, PROVENANCE_FORMAT, writeImportDirectory, type ChainFile, type ImportFiles } from './import-dir.js';

const run = promisify(execFile);

export const NPM_LIMITS = {
  /** A whole packument (every version's document; large packages have tens of MB). */
  maxPackumentBytes: 128 << 20,
  maxKeysBytes: 1 << 20,
  maxTarballBytes: 512 << 20,
  /** One version's document (its package.json as the registry gives it): nothing signed fixes its size, so it is capped small. */
  maxDocumentBytes: 1 << 20,
} as const;

export interface NpmImportRequest {
  name: string;
  /** The version, or the one the `latest` dist-tag names. */
  version?: string | undefined;
  /** The registry's base URL (npmRegistry() reads npm's configuration). */
  registry: string;
  out: string;
  /**
   * The registry's key list (the `/-/npm/v1/keys` document) as the user pinned it: used instead
   * of the registry's own answer, so that a registry (or whoever answers for it) cannot drop its
   * keys to have unsigned versions accepted.
   */
  keysFile?: Uint8Array;
  fetcher?: Fetcher;
  onProgress?: (line: string) => void;
}

/** One registry signature, and the key that made it. */
export interface NpmSignature {
  keyid: string;
  sig: string;
}

export interface NpmProvenance {
  format: typeof PROVENANCE_FORMAT;
  kind: 'npm';
  name: string;
  version: string;
  registry: string;
  upstream: ChainFile & { uri: string; integrity: string };
  /** The version's document as the packument gives it. */
  document: ChainFile;
  publishedAt: string | null;
  /** The registry's key list as served, or null where it serves none (it signs nothing). */
  keys: ChainFile | null;
  /** The signature that verified, with its key, or null where the registry has no keys. */
  signature: NpmSignature | null;
  importedAt: string;
}

export interface NpmImportResult {
  out: string;
  provenance: NpmProvenance;
}

/** A registry key (`/-/npm/v1/keys`). */
interface RegistryKey {
  keyid: string;
  key: string;
  expires: string | null;
}

const reader = new FieldReader((message) => new UpstreamError('MALFORMED', message));

/** An npm package name (legacy names may hold capitals), and a version: neither ever a path. */
export const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[A-Za-z0-9][A-Za-z0-9._~-]*$/;
export const NPM_VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]*$/;

/**
 * The registry npm is configured with for `name` (its user, project and global configuration and
 * environment): a scoped name's `@SCOPE:registry` first, as npm itself resolves it, else
 * `registry`.
 */
export async function npmRegistry(name: string): Promise<string> {
  const get = async (key: string): Promise<string> => (await run('npm', ['config', 'get', key], { timeout: 30_000 }).catch((e: NodeJS.ErrnoException) => {
    throw new UpstreamError('NO_SOURCE', `npm's configured registry could not be read (npm config get ${key}: ${e.code === 'ENOENT' ? 'npm is not installed' : e.message}): name one with --registry`);
  })).stdout.trim();
  const scope = /^(@[^/]+)\//.exec(name)?.[1];
  const scoped = scope === undefined ? 'undefined' : await get(`${scope}:registry`);
  const registry = scoped !== 'undefined' && scoped !== '' ? scoped : await get('registry');
  if (!/^https?:\/\//.test(registry)) throw new UpstreamError('NO_SOURCE', `npm's configured registry is ${JSON.stringify(registry.slice(0, 100))}, not an http(s) URL: name one with --registry`);
  return registry;
}

/** The registry's key list: pinned, or its own answer; null where it serves none (404). */
async function registryKeys(fetcher: Fetcher, registry: string, pinned: Uint8Array | undefined): Promise<{ bytes: Buffer; keys: RegistryKey[] } | null> {
  const url = pinned === undefined ? `${registry}/-/npm/v1/keys` : 'the pinned key list';
  let bytes: Buffer;
  try {
    bytes = pinned === undefined ? await fetchAll(fetcher, url, NPM_LIMITS.maxKeysBytes) : Buffer.from(pinned);
  } catch (e) {
    if (e instanceof FetchError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
  const o = reader.object(parseJsonBounded(bytes, url), url);
  const keys = reader.array(o.keys, `${url} keys`, 100).map((k, i) => {
    const key = reader.object(k, `${url} keys[${i}]`);
    return {
      keyid: reader.string(key.keyid, `${url} keys[${i}].keyid`, 200, { min: 1 }),
      key: reader.string(key.key, `${url} keys[${i}].key`, 4096, { min: 1 }),
      expires: key.expires === null || key.expires === undefined ? null : reader.string(key.expires, `${url} keys[${i}].expires`, 40, { valid: (t) => !Number.isNaN(Date.parse(t)), expected: 'a date' }),
    };
  });
  return { bytes, keys };
}

/** The SHA-512 digest an SRI string (`sha512-BASE64`, possibly among others) names; a version without one is refused. */
function sha512Of(integrity: string, what: string): string {
  const digest = integrity.split(/\s+/).map((part) => /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(part)?.[1]).find((d) => d !== undefined);
  if (digest === undefined) throw new UpstreamError('MALFORMED', `${what}: dist.integrity ${JSON.stringify(integrity.slice(0, 100))} names no SHA-512 digest (a SHA-1 shasum alone proves too little)`);
  return digest;
}

/**
 * Verifies the registry's signature of `NAME@VERSION:INTEGRITY` (see the header): returns the one
 * that verified, null where the registry has no keys; BAD_SIGNATURE when it has keys and none of
 * the version's signatures verifies with one that was valid when the version was published.
 */
export function verifyRegistrySignature(name: string, version: string, integrity: string, signatures: readonly NpmSignature[], keys: readonly RegistryKey[] | null, publishedAt: Date | null, what: string): NpmSignature | null {
  if (keys === null) return null;
  if (signatures.length === 0) throw new UpstreamError('BAD_SIGNATURE', `${what}: the registry lists signing keys but did not sign this version (dist.signatures is missing)`);
  const message = Buffer.from(`${name}@${version}:${integrity}`);
  const failures: string[] = [];
  for (const s of signatures) {
    const key = keys.find((k) => k.keyid === s.keyid);
    if (key === undefined) {
      failures.push(`${s.keyid}: not in the registry's key list`);
      continue;
    }
    // A key that expired before the version was published signs nothing of it (npm's rule); without a publication time, an expired key counts for nothing.
    if (key.expires !== null && (publishedAt === null || Date.parse(key.expires) <= publishedAt.getTime())) {
      failures.push(`${s.keyid}: expired ${key.expires}, before the version was published (${publishedAt?.toISOString() ?? 'unknown'})`);
      continue;
    }
    let ok = false;
    try {
      ok = verify('sha256', message, createPublicKey({ key: Buffer.from(key.key, 'base64'), format: 'der', type: 'spki' }), Buffer.from(s.sig, 'base64'));
    } catch (e) {
      failures.push(`${s.keyid}: ${(e as Error).message}`);
      continue;
    }
    if (ok) return s;
    failures.push(`${s.keyid}: does not verify`);
  }
  throw new UpstreamError('BAD_SIGNATURE', `${what}: no registry signature of ${name}@${version}:${integrity.slice(0, 24)}... verifies (${failures.join('; ')})`);
}

/** What a registry's packument lists for one version of a package. */
export interface RegistryVersion {
  version: string;
  /** The version's document as the packument gives it. */
  document: JsonRecord;
  integrity: string;
  tarballUrl: string;
  signatures: NpmSignature[];
  published: Date | null;
}

/** NAME@VERSION (the latest when no version) as `registry`'s packument lists it, read strictly. */
export async function registryVersion(fetcher: Fetcher, registry: string, name: string, wanted: string | undefined, progress: (line: string) => void = () => undefined): Promise<RegistryVersion> {
  const packumentUrl = `${registry}/${name.replace('/', '%2f')}`;
  progress(`fetching ${packumentUrl}`);
  const packument = reader.object(parseJsonBounded(await fetchAll(fetcher, packumentUrl, NPM_LIMITS.maxPackumentBytes), packumentUrl, { maxBytes: NPM_LIMITS.maxPackumentBytes, maxDepth: 64, maxEntries: 20_000_000 }), packumentUrl);
  if (packument.name !== name) throw new UpstreamError('MALFORMED', `${packumentUrl} is the packument of ${JSON.stringify(packument.name)}, not of ${name}`);
  const versions = reader.object(packument.versions, `${packumentUrl} versions`);
  const tags = packument['dist-tags'] === undefined ? {} : reader.object(packument['dist-tags'], `${packumentUrl} dist-tags`);
  const version = wanted ?? (typeof tags.latest === 'string' ? tags.latest : undefined);
  if (version === undefined || !Object.hasOwn(versions, version)) {
    throw new UpstreamError('NOT_FOUND', `${name}${wanted === undefined ? ' has no latest version' : `@${wanted} is not in the registry's packument`} (${Object.keys(versions).length} versions listed)`);
  }
  // The version may be the registry's own word (dist-tags): it names files, so it is checked like a typed one.
  if (!NPM_VERSION.test(version)) throw new UpstreamError('MALFORMED', `${packumentUrl}: the version ${JSON.stringify(version.slice(0, 100))} is not one a package has`);
  const what = `${name}@${version}`;
  const document = reader.object(versions[version], `${what}`) as JsonRecord;
  if (document.name !== name || document.version !== version) throw new UpstreamError('MALFORMED', `${what}: the version's document is of ${JSON.stringify(document.name)}@${JSON.stringify(document.version)}`);
  const dist = reader.object(document.dist, `${what} dist`);
  const integrity = reader.string(dist.integrity, `${what} dist.integrity`, 1024, { min: 1 });
  const tarballUrl = reader.string(dist.tarball, `${what} dist.tarball`, 2048, { pattern: /^https?:\/\//, expected: 'an http(s) URL' });
  const signatures = dist.signatures === undefined ? [] : reader.array(dist.signatures, `${what} dist.signatures`, 16).map((s, i) => {
    const o = reader.object(s, `${what} dist.signatures[${i}]`) as JsonRecord;
    return { keyid: reader.string(o.keyid, `${what} dist.signatures[${i}].keyid`, 200, { min: 1 }), sig: reader.string(o.sig, `${what} dist.signatures[${i}].sig`, 1024, { min: 1 }) };
  });
  const time = packument.time === undefined ? {} : reader.object(packument.time, `${packumentUrl} time`);
  const published = Object.hasOwn(time, version) && typeof time[version] === 'string' && !Number.isNaN(Date.parse(time[version] as string)) ? new Date(time[version] as string) : null;
  return { version, document, integrity, tarballUrl, signatures, published };
}

/** Imports NAME@VERSION (see the header) into `request.out`. */
export async function importNpmPackage(request: NpmImportRequest): Promise<NpmImportResult> {
  const progress = request.onProgress ?? ((): void => undefined);
  const fetcher = request.fetcher ?? new BoundedFetcher();
  const registry = request.registry.replace(/\/+$/, '');
  if (!NPM_NAME.test(request.name) || (request.version !== undefined && !NPM_VERSION.test(request.version))) throw new UsageError('BAD_ARGUMENT', `expected NAME or NAME@VERSION (an npm package name, e.g. commander@14.0.3), found ${JSON.stringify(`${request.name}${request.version === undefined ? '' : `@${request.version}`}`.slice(0, 100))}`);
  if (!/^https?:\/\//.test(registry)) throw new UsageError('BAD_ARGUMENT', `the registry ${JSON.stringify(registry.slice(0, 100))} is not an http(s) URL`);
  await checkNewDirectory(request.out);
  const { version, document, integrity, tarballUrl, signatures, published } = await registryVersion(fetcher, registry, request.name, request.version, progress);
  const what = `${request.name}@${version}`;

  if (request.keysFile === undefined) progress(`fetching ${registry}/-/npm/v1/keys`);
  const keys = await registryKeys(fetcher, registry, request.keysFile);
  const signature = verifyRegistrySignature(request.name, version, integrity, signatures, keys?.keys ?? null, published, what);
  const expected = sha512Of(integrity, what);

  progress(`fetching ${tarballUrl}`);
  const tarball = await fetchAll(fetcher, tarballUrl, NPM_LIMITS.maxTarballBytes);
  const actual = createHash('sha512').update(tarball).digest('base64');
  if (actual !== expected) throw new UpstreamError('HASH_MISMATCH', `${what}: the tarball (${tarballUrl}, ${tarball.length} bytes) has SHA-512 ${actual}; the registry's ${signature === null ? '' : 'signed '}integrity says ${expected}`);

  const base = `${request.name.replace(/^@/, '').replace('/', '-')}-${version}`;
  const provenance = await writeImportDirectory(request.out, async (write): Promise<NpmProvenance> => ({
    format: PROVENANCE_FORMAT,
    kind: 'npm',
    name: request.name,
    version,
    registry,
    upstream: { ...(await write(`${base}.tgz`, tarball)), uri: tarballUrl, integrity },
    document: await write('version.json', Buffer.from(JSON.stringify(document, null, 2) + '\n')),
    publishedAt: published?.toISOString() ?? null,
    keys: keys === null ? null : await write('registry-keys.json', keys.bytes),
    signature,
    importedAt: new Date().toISOString(),
  }));
  return { out: request.out, provenance };
}

/** A URL as a message may show it: without a user name or password. */
function withoutCredentials(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

/** provenance.json of an npm import, read strictly. */
export function parseNpmProvenance(bytes: Uint8Array, what: string): NpmProvenance {
  const o = reader.exact(parseJsonBounded(bytes, what), what, ['format', 'kind', 'name', 'version', 'registry', 'upstream', 'document', 'publishedAt', 'keys', 'signature', 'importedAt']);
  reader.literal(o.format, `${what}.format`, PROVENANCE_FORMAT);
  reader.literal(o.kind, `${what}.kind`, 'npm');
  const file = (v: unknown, field: string, maxBytes: number, extra: readonly string[] = []): ChainFile => {
    const f = reader.exact(v, field, ['file', 'size', 'sha256', ...extra]);
    return { file: reader.string(f.file, `${field}.file`, 255, { pattern: IMPORT_FILE_NAME, expected: 'a file name' }), size: reader.integer(f.size, `${field}.size`, 0, maxBytes), sha256: reader.hex(f.sha256, `${field}.sha256`) };
  };
  const upstream = reader.object(o.upstream, `${what}.upstream`);
  const signature = o.signature === null ? null : reader.exact(o.signature, `${what}.signature`, ['keyid', 'sig']);
  const text = (v: unknown, field: string, max = 2048): string => reader.string(v, `${what}.${field}`, max, { min: 1 });
  return {
    format: PROVENANCE_FORMAT, kind: 'npm',
    name: text(o.name, 'name', 214), version: text(o.version, 'version', 256), registry: text(o.registry, 'registry'),
    upstream: { ...file(upstream, `${what}.upstream`, NPM_LIMITS.maxTarballBytes, ['uri', 'integrity']), uri: text(upstream.uri, 'upstream.uri'), integrity: text(upstream.integrity, 'upstream.integrity', 1024) },
    document: file(o.document, `${what}.document`, NPM_LIMITS.maxDocumentBytes),
    publishedAt: o.publishedAt === null ? null : text(o.publishedAt, 'publishedAt', 40),
    keys: o.keys === null ? null : file(o.keys, `${what}.keys`, NPM_LIMITS.maxKeysBytes),
    signature: signature === null ? null : { keyid: text(signature.keyid, 'signature.keyid', 200), sig: text(signature.sig, 'signature.sig', 1024) },
    importedAt: text(o.importedAt, 'importedAt', 40),
  };
}

/**
 * Verifies an npm import again from its directory: the tarball has its recorded integrity (and
 * size and SHA-256), the version's document says that integrity, and the registry's signature
 * verifies with the verifier's own key list (`keysFile`, pinned, else fetched from the registry
 * now, never the one recorded). A record without a signature where there are keys is refused.
 * `signedBy` is the key whose signature verified, null where there were no keys to check with.
 */
export async function verifyNpmProvenance(source: string | ImportFiles, options: { registry: string; keysFile?: Uint8Array; fetcher?: Fetcher }): Promise<{ provenance: NpmProvenance; signedBy: string | null }> {
  const files = typeof source === 'string' ? importDirectory(source) : source;
  const p = parseNpmProvenance(await files.provenance(), `${files.where}/provenance.json`);
  const what = `the import of ${p.name}@${p.version} in ${files.where}`;
  // The registry is the verifier's (its configuration, or named), never the one the directory names: that one would answer with its own keys.
  const registry = options.registry.replace(/\/+$/, '');
  if (p.registry !== registry) throw new UpstreamError('MALFORMED', `${what}: it was imported from ${p.registry}, not from the registry this check trusts (${withoutCredentials(registry)})`);
  if (p.publishedAt !== null && Number.isNaN(Date.parse(p.publishedAt))) throw new UpstreamError('MALFORMED', `${what}: publishedAt ${JSON.stringify(p.publishedAt)} is not a date`);
  // The signature is over the recorded integrity: checked before anything large is read.
  const listed = (await registryKeys(options.fetcher ?? new BoundedFetcher(), registry, options.keysFile))?.keys ?? null;
  const verified = verifyRegistrySignature(p.name, p.version, p.upstream.integrity, p.signature === null ? [] : [p.signature], listed, p.publishedAt === null ? null : new Date(p.publishedAt), what);
  const document = reader.object(parseJsonBounded(await files.read(p.document), `${what}: ${p.document.file}`), p.document.file);
  const dist = reader.object(document.dist, `${p.document.file} dist`);
  if (document.name !== p.name || document.version !== p.version || dist.integrity !== p.upstream.integrity) throw new UpstreamError('MALFORMED', `${what}: ${p.document.file} is not the document of ${p.name}@${p.version} with that integrity`);
  const tarball = await files.read(p.upstream);
  if (createHash('sha512').update(tarball).digest('base64') !== sha512Of(p.upstream.integrity, what)) throw new UpstreamError('HASH_MISMATCH', `${what}: ${p.upstream.file} does not have the integrity ${p.upstream.integrity.slice(0, 30)}...`);
  return { provenance: p, signedBy: verified?.keyid ?? null };
}
