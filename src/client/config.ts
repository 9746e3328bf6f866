// client/config.ts: the settings and caps of the witnessed client (docs/protocol.md section 6
// "Head statement" and section 9 "Clients and the log", "What a refresh checks, in order").
// Each value says why it has its size. Network reads of log files are capped by the log's
// LOG_FILE_LIMITS and of TUF files by tuf's UpdaterConfig; nothing here reads unbounded data.
import { DEFAULT_CATCH_UP_LIMITS, type CatchUpLimits } from '../log/index.js';

export interface WitnessedClientConfig {
  /**
   * Oldest head statement accepted, in seconds (protocol.md `maxHeadAge`, the freeze defence).
   * Witnesses co-sign a head statement periodically even when nothing is released; 24 hours
   * leaves room for a day of witness outage before clients stop, and bounds how long a mirror
   * can hide a release from a client.
   */
  maxHeadAgeSeconds: number;
  /** How far a head statement may be dated in the future (clock skew), in seconds: 300, as witnesses allow. */
  maxFutureSkewSeconds: number;
  /** Caps of the catch-up walk (most forward links followed: 1,024, about 2·log2 of any real chain length). */
  catchUpLimits: CatchUpLimits;
  /**
   * Anchor files read from the metadata directory (anchor.json) are at most this many bytes:
   * a handful of fields, so 4 KiB. Blocks, rosters and the last head use LOG_FILE_LIMITS.
   */
  anchorMaxBytes: number;
}

export const DEFAULT_WITNESSED_CLIENT_CONFIG: Readonly<WitnessedClientConfig> = Object.freeze({
  maxHeadAgeSeconds: 24 * 60 * 60,
  maxFutureSkewSeconds: 300,
  catchUpLimits: DEFAULT_CATCH_UP_LIMITS,
  anchorMaxBytes: 4096,
});

export function resolveWitnessedConfig(partial: Partial<WitnessedClientConfig> = {}): WitnessedClientConfig {
  return { ...DEFAULT_WITNESSED_CLIENT_CONFIG, ...partial };
}
