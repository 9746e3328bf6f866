// upstream/published-import.ts: an import checked by someone other than its importer
// (docs/upstream.md "Witnesses check the upstream"): read from its directory or from where its
// publisher put it (a release declaration's `upstream`: the directory's URL and its
// provenance.json's SHA-256; each recorded file fetched when the check reaches it, by its
// recorded size and SHA-256); the chain verified again with the checker's own keyring or registry
// (provenance.ts, npm-import.ts); and the upstream file fetched once more from the checker's own
// configured sources (apt's archives, npm's registry), which must serve exactly the recorded bytes.
import type { PublicKey } from 'openpgp';
import { sha256Hex } from '../crypto/index.js';
import { BoundedFetcher, fetchAll, FetchError, type Fetcher } from '../io/index.js';
import { keyringForArchive, sourceArchives } from './apt-sources.js';
import type { DebianProvenance } from './debian-source.js';
import { UpstreamError } from './errors.js';
import { checkRecorded, importDirectory, notRecorded, importKind, PROVENANCE_MAX_BYTES, type ChainFile, type ImportFiles } from './import-dir.js';
import { npmRegistry, parseNpmProvenance, registryVersion, verifyNpmProvenance, type NpmProvenance } from './npm-import.js';
import { parseDebianProvenance, verifyDebianProvenance } from './provenance.js';

/** The checker's own trust: where its keyrings, archives and registry are configured. */
export interface ImportCheckOptions {
  /** apt's configuration directory: the archive's keyring and the checker's own mirrors (default /etc/apt). */
  etcApt?: string;
  /** The keyring a Debian import's release file is checked with (default the one apt checks that archive with). */
  keyring?: readonly PublicKey[];
  /** The signed Origin a Debian import's archive must have (default "Debian"). */
  origin?: string;
  /** The npm registry an npm import must come from (default the one npm is configured with for its name). */
  npmRegistry?: string;
  /** The registry's key list as the checker pinned it (default the registry's answer now). */
  npmKeys?: Uint8Array;
  fetcher?: Fetcher;
  now?: Date;
}

/** What a verified import proves, whatever its kind. */
export interface ImportSummary {
  kind: 'debian' | 'npm';
  /** Source package (Debian) or package name (npm), and its version. */
  name: string;
  version: string;
  /** The upstream file: what a release built from the import declares as its source (npm: with its integrity). */
  upstream: ChainFile & { uri: string };
  /** Debian: fingerprints of the archive keys that signed the release file; npm: the registry key that signed, if any. */
  archiveSigners: string[];
  /** Debian: fingerprint of the upstream's key that signed the tarball; null where the upstream signed nothing (or npm). */
  upstreamSigner: string | null;
  provenance: DebianProvenance | NpmProvenance;
}

/** Verifies the import in `source` (a directory, or publishedImport's; either kind) with the checker's own trust; UpstreamError names the link that does not hold. */
export async function verifyImportDirectory(source: string | ImportFiles, options: ImportCheckOptions = {}): Promise<ImportSummary> {
  const dir = typeof source === 'string' ? importDirectory(source) : source;
  const kind = importKind(await dir.provenance(), `${dir.where}/provenance.json`);
  if (kind.kind === 'npm') {
    const registry = options.npmRegistry ?? (await npmRegistry(kind.name));
    const { provenance: p, signedBy } = await verifyNpmProvenance(dir, {
      registry, ...(options.npmKeys === undefined ? {} : { keysFile: options.npmKeys }), ...(options.fetcher === undefined ? {} : { fetcher: options.fetcher }),
    });
    return { kind: 'npm', name: p.name, version: p.version, upstream: p.upstream, archiveSigners: signedBy === null ? [] : [signedBy], upstreamSigner: null, provenance: p };
  }
  const { provenance: p, signers } = await verifyDebianProvenance(dir, {
    ...(options.origin === undefined ? {} : { origin: options.origin }),
    ...(options.now === undefined ? {} : { now: options.now }),
    // Chosen from the provenance as the check reads it (once), for the archive it names.
    keys: async (recorded) => options.keyring ?? keyringForArchive(recorded.archive.uri, recorded.archive.suite, options.etcApt === undefined ? {} : { etcApt: options.etcApt }),
  });
  return { kind: 'debian', name: p.source, version: p.version, upstream: p.upstream, archiveSigners: signers, upstreamSigner: 'signer' in p.signature ? p.signature.signer : null, provenance: p };
}

/** The provenance of either kind, read strictly. */
function parseProvenance(bytes: Uint8Array, what: string): DebianProvenance | NpmProvenance {
  return importKind(bytes, what).kind === 'npm' ? parseNpmProvenance(bytes, what) : parseDebianProvenance(bytes, what);
}

/**
 * The provenance.json of the import directory published at `uri` (which ends with "/"), refused
 * (HASH_MISMATCH) unless it has SHA-256 `sha256`; its bytes and what they record.
 */
export async function fetchProvenance(uri: string, sha256: string, fetcher: Fetcher = new BoundedFetcher()): Promise<{ bytes: Buffer; provenance: DebianProvenance | NpmProvenance }> {
  if (!uri.endsWith('/')) throw new UpstreamError('MALFORMED', `an import directory's URL ends with "/", found ${uri}`);
  const bytes = await fetchAll(fetcher, new URL('provenance.json', uri).href, PROVENANCE_MAX_BYTES);
  if (sha256Hex(bytes) !== sha256) {
    throw new UpstreamError('HASH_MISMATCH', `${uri}provenance.json is not the one the release declares (SHA-256 ${sha256})`);
  }
  return { bytes, provenance: parseProvenance(bytes, `${uri}provenance.json`) };
}

/**
 * The import published at `uri` (its directory's URL) whose provenance.json has SHA-256 `sha256`:
 * each recorded file fetched when the verification reaches it (so the chain's first links,
 * small and signed, are checked before anything large is fetched), read no further than its
 * recorded size and refused unless it has the recorded size and SHA-256. Only the names
 * provenance.json records (IMPORT_FILE_NAME) are fetched, under `uri`.
 */
export function publishedImport(uri: string, sha256: string, fetcher: Fetcher = new BoundedFetcher()): ImportFiles {
  let provenance: Promise<Buffer> | undefined;
  return {
    where: uri.replace(/\/$/, ''),
    provenance: () => (provenance ??= fetchProvenance(uri, sha256, fetcher).then((r) => r.bytes)),
    read: async (file) => {
      const url = new URL(file.file, uri).href;
      const bytes = await fetchAll(fetcher, url, file.size).catch((e: unknown) => {
        // The same words as for other bytes of the right size: a refusal says nothing of what an address answered.
        if (e instanceof FetchError && e.code === 'TOO_LARGE') throw notRecorded(file, uri.replace(/\/$/, ''));
        throw e;
      });
      return checkRecorded(bytes, file, uri.replace(/\/$/, ''), false);
    },
  };
}

/** Whether the checker fetched the upstream file itself: from which address, or why it could not. */
export type UpstreamFetch = { fetchedFrom: string } | { unreachable: string };

/**
 * Fetches the upstream file of a verified import again from the checker's own sources: for
 * Debian each archive apt names (its pool path under that archive), for npm the tarball address
 * when its registry lists exactly what the import records. One source serving exactly the
 * recorded bytes is enough; none doing so where one served other bytes is HASH_MISMATCH (that
 * source, or the import, is not what it claims); none serving it is `unreachable`, with each
 * source's reason.
 */
export async function fetchUpstreamFromOwnSources(summary: ImportSummary, options: ImportCheckOptions = {}): Promise<UpstreamFetch> {
  const fetcher = options.fetcher ?? new BoundedFetcher();
  const candidates: string[] = [];
  const p = summary.provenance;
  if (p.kind === 'debian') {
    const archives = await sourceArchives(options.etcApt === undefined ? {} : { etcApt: options.etcApt }).catch(() => []);
    for (const a of archives) {
      const url = `${a.uri}/${p.archive.directory}/${p.upstream.file}`;
      if (!candidates.includes(url)) candidates.push(url);
    }
  } else {
    // The registry's own listing of that version must be what the import records: where nothing is signed, it is the only word for it.
    const registry = (options.npmRegistry ?? (await npmRegistry(p.name))).replace(/\/+$/, '');
    let listed;
    try {
      listed = await registryVersion(fetcher, registry, p.name, p.version);
    } catch (e) {
      if (!(e instanceof FetchError)) throw e;
      return { unreachable: `${registry}: ${e.message}` };
    }
    if (listed.integrity !== p.upstream.integrity || listed.tarballUrl !== p.upstream.uri) {
      throw new UpstreamError('HASH_MISMATCH', `${registry} lists ${p.name}@${p.version} with integrity ${listed.integrity.slice(0, 30)}... at ${listed.tarballUrl}; the import records ${p.upstream.integrity.slice(0, 30)}... at ${p.upstream.uri}`);
    }
    candidates.push(listed.tarballUrl);
  }
  if (candidates.length === 0) return { unreachable: 'apt names no archive to fetch it from' };
  // Every source is asked until one serves the file: one serving other bytes (another archive apt
  // names with a file of the same name, or a bad mirror) does not stop the others; if none serves
  // it and one served other bytes, that is the answer.
  const reasons: string[] = [];
  let other: UpstreamError | undefined;
  for (const url of candidates) {
    let bytes: Buffer;
    try {
      bytes = await fetchAll(fetcher, url, summary.upstream.size);
    } catch (e) {
      if (!(e instanceof FetchError)) throw e;
      if (e.code === 'TOO_LARGE') other ??= new UpstreamError('HASH_MISMATCH', `${url} serves more than the ${summary.upstream.size} bytes of ${summary.upstream.file} the verified chain lists`);
      else reasons.push(`${url}: ${e.message}`);
      continue;
    }
    if (bytes.length === summary.upstream.size && sha256Hex(bytes) === summary.upstream.sha256) return { fetchedFrom: url };
    other ??= new UpstreamError('HASH_MISMATCH', `${url} serves ${bytes.length} bytes with SHA-256 ${sha256Hex(bytes)}; the verified chain lists ${summary.upstream.file} as ${summary.upstream.size} bytes with SHA-256 ${summary.upstream.sha256}`);
  }
  if (other !== undefined) throw other;
  return { unreachable: reasons.join('; ') };
}
