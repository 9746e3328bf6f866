// tuf/metadata-files.ts: where the updater's metadata documents live (TUF spec 1.0.x 5.2-5.6).
// Remotely, ROLE.json or, with consistent snapshots, VERSION.ROLE.json under the metadata URL,
// each fetched whole within a cap; locally, the trusted copies kept in the metadata directory
// byte-exact under their plain names, each read back within a cap and persisted as soon as it is
// verified (5.3.8, 5.4.5, 5.5.7, 5.6.6; as python-tuf does): root, timestamp and snapshot
// durably through writeFileAtomic, targets roles atomically but without fsync (a cache: see
// persistTargetsRole). A document that fails a check is never written, so a refusal leaves the
// attacked role's trusted copy as it was.
import { join } from 'node:path';
import { StorageError } from '../errors/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { CappedFileError, readCappedFile, readCappedFileIfExists } from '../io/capped-file.js';
import { fetchAll, type Fetcher } from '../io/fetch.js';
import { TufError } from './errors.js';

/** python-tuf's urllib.parse.quote(name, safe=''): everything but A-Z a-z 0-9 _ . - ~ is escaped. */
export function quoteName(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `url` as a directory URL (ending in '/'), so that names resolve inside it. */
export function directoryUrl(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The file name of a role's metadata: `ROLE.json`, or `VERSION.ROLE.json` with consistent snapshots (the role name quoted). */
export function metadataFileName(role: string, version?: number): string {
  return `${version === undefined ? '' : `${version}.`}${quoteName(role)}.json`;
}

/**
 * The trusted root of `metadataDir` (root.json), at most `maxBytes`. Throws NOT_TRUSTED when
 * there is none (5.2: an update starts from a root shipped out of band).
 */
export async function readTrustedRoot(metadataDir: string, maxBytes: number): Promise<Uint8Array> {
  const path = join(metadataDir, 'root.json');
  try {
    return await readCappedFile(path, maxBytes);
  } catch (e) {
    if (e instanceof CappedFileError && e.code === 'TOO_LARGE') throw new TufError('BAD_METADATA', e.message, { cause: e });
    const errno = e instanceof StorageError ? (e.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
    throw new TufError('NOT_TRUSTED', `no trusted root.json in ${metadataDir}: ${errno ?? (e as Error).message}`, {
      cause: e,
      hint: 'initialize the client with a trusted root first (cairn tuf --metadata-dir DIR init ROOT_FILE)',
    });
  }
}

/** The metadata documents of one repository: the remote ones under `metadataBaseUrl`, the trusted copies in `metadataDir`. */
export class MetadataFiles {
  readonly metadataBaseUrl: string;

  constructor(
    readonly metadataDir: string,
    metadataBaseUrl: string,
    private readonly fetcher: Fetcher,
  ) {
    this.metadataBaseUrl = directoryUrl(metadataBaseUrl);
  }

  /** Fetches `ROLE.json` (or `VERSION.ROLE.json`) whole, at most `maxBytes` (5.3.3, 5.4.1, 5.5.1, 5.6.1). */
  fetch(role: string, maxBytes: number, version?: number): Promise<Buffer> {
    return fetchAll(this.fetcher, this.metadataBaseUrl + metadataFileName(role, version), maxBytes);
  }

  /** The local copy of a role's metadata, or undefined if absent, unreadable, not a regular file or over the cap. */
  readLocal(role: string, maxBytes: number): Promise<Uint8Array | undefined> {
    return readCappedFileIfExists(join(this.metadataDir, metadataFileName(role)), maxBytes).catch(() => undefined);
  }

  /**
   * Keeps a verified root, timestamp or snapshot byte-exact under its plain name, durably
   * (writeFileAtomic): these are the updater's trust anchor and its memory of versions seen, which
   * stops rollback (5.3.8, 5.4.5, 5.5.7), so they must survive a crash.
   */
  persist(role: 'root' | 'timestamp' | 'snapshot', bytes: Uint8Array): Promise<void> {
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
  persistTargetsRole(role: string, bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(join(this.metadataDir, metadataFileName(role)), bytes, { mkdirs: false, durable: false });
  }
}
