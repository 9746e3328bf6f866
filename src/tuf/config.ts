// tuf/config.ts: the caps and switches of the TUF updater (TUF spec 1.0.x section 5, "endless
// data", "slow retrieval" and the delegation-search bounds of 5.6.7). Every read of untrusted
// metadata from the network is capped here, each cap with the reason for its size; the values
// match python-tuf's ngclient defaults so that cairn accepts what python-tuf accepts.
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../io/fetch.js';

export interface UpdaterConfig {
  /**
   * Most root versions fetched in one refresh (5.3.3). An updater that is years behind still
   * catches up (one rotation a week for five years is 260), while a mirror that serves an
   * endless chain of "next" roots cannot keep the updater fetching forever.
   */
  maxRootRotations: number;
  /**
   * Most targets roles visited by one delegation search (5.6.7). Real delegation trees are
   * shallow; the cap bounds work and downloads when a repository delegates in circles or fans
   * out without end.
   */
  maxDelegations: number;
  /**
   * Largest root.json accepted (5.3.3). Root has no length in any other metadata, so it needs a
   * fixed cap: 512 kB holds hundreds of RSA keys, far more than any root lists.
   */
  rootMaxLength: number;
  /**
   * Largest timestamp.json accepted (5.4.1). Timestamp is fetched without a known length on
   * every refresh and lists one file, so 16 kB is generous and keeps the endless-data attack
   * against the most-fetched file cheap.
   */
  timestampMaxLength: number;
  /**
   * Largest snapshot.json accepted (5.5.1), also when the timestamp gives a larger length: the
   * timestamp is signed by an online key and is the one document a log block does not commit to
   * (docs/protocol.md "What a block commits to"), so its length must not decide how much a
   * client buffers. Snapshot lists every targets role: 2 MB holds about 14,000 roles pinned by
   * length and sha256 (about 140 bytes each).
   */
  snapshotMaxLength: number;
  /**
   * Largest targets metadata accepted (5.6.1), also when the snapshot gives a larger length. 5 MB
   * holds tens of thousands of target entries in one role.
   */
  targetsMaxLength: number;
  /** Slow-retrieval defence for every request (deadline, idle timeout, minimum average speed). */
  fetchLimits: FetchLimits;
  /**
   * With consistent snapshots, fetch targets as HASH.NAME (spec 5.7.3). Only off for
   * repositories that publish consistent metadata but plain target names.
   */
  prefixTargetsWithHash: boolean;
  /**
   * Default number of requests in flight in Updater.downloadTargets (target files) and
   * Updater.getTargetInfos (delegation searches): enough to hide the round-trip time of a mirror,
   * few enough not to open a crowd of connections to it.
   */
  downloadConcurrency: number;
}

export const DEFAULT_UPDATER_CONFIG: Readonly<UpdaterConfig> = Object.freeze({
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
  fetchLimits: DEFAULT_FETCH_LIMITS,
  prefixTargetsWithHash: true,
  downloadConcurrency: 4,
});

/** Fills `partial` with the defaults. */
export function resolveConfig(partial: Partial<UpdaterConfig> = {}): UpdaterConfig {
  const config: UpdaterConfig = { ...DEFAULT_UPDATER_CONFIG, ...partial };
  config.fetchLimits = { ...DEFAULT_FETCH_LIMITS, ...(partial.fetchLimits ?? {}) };
  return config;
}
