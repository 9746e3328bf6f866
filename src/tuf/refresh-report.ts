// tuf/refresh-report.ts: what a refresh checked (TUF spec 1.0.x 5.3-5.6), as data: each top-level
// role accepted and where it came from, and the steps in workflow order, each naming the spec
// section it implements and the checks that passed (with a line for people beside the data).
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
  /** The steps in workflow order. */
  steps: RefreshStep[];
}

/** One step of a refresh: what was checked, under which rule, and what passed. */
export interface RefreshStep {
  /** `root-update`, `root`, `timestamp`, `snapshot`, `targets`; the witnessed client adds `log-catch-up`, `log-head`, `root-bootstrap`, `witnessed`. */
  check: string;
  /** Where the rule comes from: a TUF spec section (`5.4`) or a docs/protocol.md section (`protocol 9`). */
  spec: string;
  /** The checks that passed, each a short phrase. */
  passed: string[];
  /** The role the step accepted, when it accepted one. */
  role?: RoleReport;
  /** The step as one line for people. */
  text: string;
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
  const roleStep = (check: string, spec: string, r: RoleReport, passed: string[]): RefreshStep => ({
    check, spec, passed, role: r,
    text: `${r.role} v${r.version} (expires ${r.expires}, ${r.source === 'cache' ? 'local copy still valid' : 'downloaded'}): ${passed.join(', ')} (${spec})`,
  });
  const steps: RefreshStep[] = [
    rootVersions.length > 1
      ? { check: 'root-update', spec: '5.3', passed: ['each new root signed by the previous root\'s threshold and its own'], text: `root rotated v${rootVersions.join(' -> v')}: each signed by the previous root's threshold and its own (5.3)` }
      : { check: 'root-update', spec: '5.3', passed: ['no newer root published'], text: `root v${trusted.root.version}: no newer root published (5.3)` },
    roleStep('root', '5.3.10', rootReport, ['not expired']),
    roleStep('timestamp', '5.4', timestampReport, ['threshold of root timestamp keys', 'no version rollback', 'not expired']),
    roleStep('snapshot', '5.5', snapshotReport, ['length and hashes from timestamp', 'threshold', 'no role rollback', 'version matches timestamp', 'not expired']),
    roleStep('targets', '5.6', targetsReport, ['length and hashes from snapshot', 'threshold', 'version matches snapshot', 'not expired']),
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
