// tuf/refresh-report.ts: what a refresh checked (TUF spec 1.0.x 5.3-5.6), as data for progress
// output: each top-level role accepted, where it came from, and one line per check passed, in
// workflow order, each citing the spec section it implements.
import type { Envelope } from './metadata.js';
import type { RootUpdate } from './root-update.js';
import type { RoleSource } from './timestamp-snapshot-update.js';
import type { TrustedSet } from './trusted-set.js';

/** One role as accepted by a refresh. `source` says whether the local copy was still valid. */
export interface RoleReport {
  role: string;
  version: number;
  expires: string;
  source: RoleSource;
}

/** What refresh() checked, for progress output. */
export interface RefreshReport {
  /** The reference time of every expiry check (captured once at the start). */
  referenceTime: string;
  consistentSnapshot: boolean;
  /** Root versions trusted during the refresh, from the local one to the final one. */
  rootVersions: number[];
  /** True when maxRootRotations stopped the root update before the repository ran out of roots. */
  rootRotationsCapped: boolean;
  root: RoleReport;
  timestamp: RoleReport;
  snapshot: RoleReport;
  targets: RoleReport;
  /** One line per check passed, in workflow order, for people. */
  steps: string[];
}

/** Where the timestamp, snapshot and top-level targets of a refresh came from. */
export interface RoleSources {
  timestamp: RoleSource;
  snapshot: RoleSource;
  targets: RoleSource;
}

/** The report of a refresh that ended with `trusted` holding the final top-level roles. */
export function refreshReport(trusted: TrustedSet, referenceTime: Date, rootUpdate: RootUpdate, sources: RoleSources): RefreshReport {
  const { rootVersions, rootRotationsCapped } = rootUpdate;
  const report = (role: string, envelope: Envelope, source: RoleSource): RoleReport => ({
    role,
    version: envelope.version,
    expires: envelope.signed.expires,
    source,
  });
  const rootReport = report('root', trusted.root, rootVersions.length > 1 ? 'remote' : 'cache');
  const timestampReport = report('timestamp', trusted.timestamp!, sources.timestamp);
  const snapshotReport = report('snapshot', trusted.snapshot!, sources.snapshot);
  const targetsReport = report('targets', trusted.targets!, sources.targets);
  const line = (r: RoleReport, what: string): string =>
    `${r.role} v${r.version} (expires ${r.expires}, ${r.source === 'cache' ? 'local copy still valid' : 'downloaded'}): ${what}`;
  const steps = [
    rootVersions.length > 1
      ? `root rotated v${rootVersions.join(' -> v')}: each signed by the previous root's threshold and its own (5.3)`
      : `root v${trusted.root.version}: no newer root published (5.3)`,
    line(rootReport, 'not expired (5.3.10)'),
    line(timestampReport, 'threshold of root timestamp keys, no version rollback, not expired (5.4)'),
    line(snapshotReport, 'length and hashes from timestamp, threshold, no role rollback, version matches timestamp, not expired (5.5)'),
    line(targetsReport, 'length and hashes from snapshot, threshold, version matches snapshot, not expired (5.6)'),
  ];
  return {
    steps,
    referenceTime: referenceTime.toISOString(),
    consistentSnapshot: trusted.root.signed.consistentSnapshot,
    rootVersions,
    rootRotationsCapped,
    root: rootReport,
    timestamp: timestampReport,
    snapshot: snapshotReport,
    targets: targetsReport,
  };
}
