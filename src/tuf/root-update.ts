// tuf/root-update.ts: the first steps of the TUF client workflow (TUF spec 1.0.x 5.1-5.3):
// fix the reference time, load the trusted root, then update the root role by fetching
// N+1.root.json until the repository has no newer one, each verified by the thresholds of the
// trusted root and of its own (5.3.4), no rollback (5.3.5), and persisted at once (5.3.8). The
// final root's expiry (5.3.10) is checked by TrustedSet before the timestamp is loaded.
import { FetchError } from '../io/fetch.js';
import type { UpdaterConfig } from './config.js';
import { readTrustedRoot, type MetadataFiles } from './metadata-files.js';
import { TrustedSet } from './trusted-set.js';

/** What the root update did. */
export interface RootUpdate {
  /** Root versions trusted, from the local one to the final one. */
  rootVersions: number[];
  /** True when maxRootRotations stopped the update before the repository ran out of roots. */
  rootRotationsCapped: boolean;
}

/** 5.1-5.2: the trusted set of this refresh, starting from the local trusted root, expiry judged at `referenceTime`. */
export async function loadTrustedRoot(files: MetadataFiles, config: UpdaterConfig, referenceTime: Date): Promise<TrustedSet> {
  return new TrustedSet(await readTrustedRoot(files.metadataDir, config.rootMaxLength), referenceTime);
}

/** 5.3: root rotations, N+1.root.json until the repository has no newer one (at most maxRootRotations). */
export async function updateRoot(trusted: TrustedSet, files: MetadataFiles, config: UpdaterConfig): Promise<RootUpdate> {
  const rootVersions = [trusted.root.version];
  for (let i = 0; i < config.maxRootRotations; i++) {
    const version = trusted.root.version + 1;
    let bytes: Uint8Array;
    try {
      // 5.3.3: download N+1.root.json, up to rootMaxLength bytes.
      bytes = await files.fetch('root', config.rootMaxLength, version);
    } catch (e) {
      if (e instanceof FetchError && e.code === 'NOT_FOUND') return { rootVersions, rootRotationsCapped: false };
      throw e;
    }
    // 5.3.4-5.3.7: signed by the trusted root's threshold and its own, version N+1.
    trusted.updateRoot(bytes, `${version}.root.json`);
    rootVersions.push(version);
    // 5.3.8: persist it before fetching the next.
    await files.persist('root', bytes);
  }
  return { rootVersions, rootRotationsCapped: true };
}

/**
 * 5.3.11: after a rotation of the timestamp or snapshot keys, the local timestamp and snapshot
 * must not be used (recovery from a fast-forward attack).
 */
export function localTimestampAndSnapshotRevoked(trusted: TrustedSet): boolean {
  return trusted.keysRotated('timestamp') || trusted.keysRotated('snapshot');
}
