// tuf/index.ts: public API of cairn's TUF updater (TUF spec 1.0.x section 5). Other layers import
// from here only.
export { Updater, type UpdaterOptions, type TrustedMetadata } from './updater.js';
export { type RefreshReport, type RefreshStep, type RoleReport } from './refresh-report.js';
export { directoryUrl, metadataFileName, readTrustedRoot, MetadataFiles } from './metadata-files.js';
export { RefreshOnce } from './refresh-once.js';
export { DEFAULT_UPDATER_CONFIG, resolveConfig, type UpdaterConfig } from './config.js';
export { TufError } from './errors.js';
export { TrustedSet, checkLengthAndHashes, describeUnpinnedRoles, verifySelfSignedRoot, type TimestampUpdate, type FileExpectation } from './trusted-set.js';
export {
  parseEnvelope,
  isExpired,
  type Envelope,
  type RoleType,
  type RootEnvelope,
  type TimestampEnvelope,
  type SnapshotEnvelope,
  type TargetsEnvelope,
} from './metadata.js';
export { verifyThreshold, rootRoleOf, type RoleKeys } from './verify.js';
export { rolesOf, globToRegExp, type DelegationMatch } from './delegation.js';
export type { TargetFile } from '@tufjs/models';
