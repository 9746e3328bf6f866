// tuf/timestamp-snapshot-update.ts: updating the timestamp and snapshot roles (TUF spec 1.0.x
// 5.4 and 5.5). A still-valid local copy is loaded first: the local timestamp guards against a
// rollback of the remote one, and the local snapshot is used as it is while it is the one the
// new timestamp names. The checks themselves are TrustedSet's; this is the I/O around them.
import type { UpdaterConfig } from './config.js';
import type { MetadataFiles } from './metadata-files.js';
import type { TrustedSet } from './trusted-set.js';

/** Where a role's accepted metadata came from: the still-valid local copy, or the mirror. */
export type RoleSource = 'cache' | 'remote';

/**
 * 5.4: timestamp. The local copy, unless `skipLocal` (5.3.11), is loaded as the trusted one when
 * it is still valid; then the remote timestamp.json (5.4.1) is checked against it and the root
 * (5.4.2-5.4.4) and persisted when newer (5.4.5).
 */
export async function updateTimestamp(trusted: TrustedSet, files: MetadataFiles, config: UpdaterConfig, skipLocal: boolean): Promise<RoleSource> {
  if (!skipLocal) {
    const local = await files.readLocal('timestamp', config.timestampMaxLength);
    if (local) {
      try {
        trusted.updateTimestamp(local, 'local timestamp.json');
      } catch {
        // an invalid or expired local timestamp is not final; the remote one decides
      }
    }
  }
  const remote = await files.fetch('timestamp', config.timestampMaxLength);
  if (trusted.updateTimestamp(remote) === 'unchanged') return 'cache';
  await files.persist('timestamp', remote);
  return 'remote';
}

/**
 * 5.5: snapshot. The local copy, unless `skipLocal` (5.3.11), is used when it is still valid as
 * final (the version the timestamp names, not expired); else the one the timestamp names is
 * fetched (5.5.1: VERSION.snapshot.json with consistent snapshots, at most the length the
 * timestamp lists and never more than snapshotMaxLength), checked (5.5.2-5.5.6) and persisted
 * (5.5.7).
 */
export async function updateSnapshot(trusted: TrustedSet, files: MetadataFiles, config: UpdaterConfig, skipLocal: boolean): Promise<RoleSource> {
  const local = skipLocal ? undefined : await files.readLocal('snapshot', config.snapshotMaxLength);
  if (local) {
    try {
      trusted.updateSnapshot(local, true, 'local snapshot.json');
      return 'cache';
    } catch {
      // not valid as final: fetch the one timestamp names
    }
  }
  const meta = trusted.timestamp!.signed.snapshotMeta;
  const version = trusted.root.signed.consistentSnapshot ? meta.version : undefined;
  // The timestamp's length is an upper bound, never a reason to read more than the configured cap.
  const bytes = await files.fetch('snapshot', Math.min(meta.length ?? config.snapshotMaxLength, config.snapshotMaxLength), version);
  trusted.updateSnapshot(bytes, false, version === undefined ? 'snapshot.json' : `${version}.snapshot.json`);
  await files.persist('snapshot', bytes);
  return 'remote';
}
