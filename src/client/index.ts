// client/index.ts: the public API of cairn's client layer (docs/protocol.md section 9 "Clients
// and the log"): the witnessed client, a TUF client that accepts only releases the witness
// cothority co-signed into the skipchain, and the anchor it keeps. Other layers import from here
// only.
export { ClientError, type ClientErrorCode } from './errors.js';
export { DEFAULT_WITNESSED_CLIENT_CONFIG, type WitnessedClientConfig } from './config.js';
export {
  ANCHOR_PATHS,
  ANCHOR_TYPE,
  hasLogAnchor,
  initLogAnchor,
  parseAnchorArgument,
  prepareLogAnchor,
  readAnchor,
  readLastHead,
  type AnchorInit,
  type LogAnchor,
} from './anchor.js';
export { defaultLogUrl } from './mirror-log.js';
export { verifyCheckpoint, type CheckpointCheck, type CheckpointCheckOptions } from './checkpoint-check.js';
export {
  LOG_CROSS_CHECK_LIMITS, checkChainId, crossCheckLogs, verifyEquivocationProofFile, type LogConflict, type LogCrossCheck, type LogCrossCheckOptions, type ProofCheckOptions, type SourceReport,
} from './log-cross-check.js';
export { type CheckedDocument, type WitnessedBlock } from './witness-check.js';
export { WitnessedUpdater, createUpdater, type TargetUpdater, type WitnessedUpdaterOptions } from './witnessed-updater.js';
export { type LogReport, type WitnessedRefreshReport } from './witnessed-report.js';
export { type RootBootstrapReport } from './root-bootstrap.js';
export { ATTESTATION_CHECK_LIMITS, defaultAttestationsUrl, type AttestationCheckContext, type TargetAttestationReport } from './attestation-check.js';
export {
  initClientTrust, refreshClient, downloadVerifiedTargets, verifyTargetsAttestations, type TrustInit, type DownloadedTarget,
} from './operations.js';
