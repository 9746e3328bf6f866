// client/index.ts: the public API of cairn's client layer (DESIGN.md "What a client checks, in
// order"; docs/protocol.md section 9 "Clients and the log"): a TUF client that accepts only releases the
// witness cothority co-signed into the skipchain, and the anchor it keeps. Other layers import
// from here only.
export { ClientError, type ClientErrorCode } from './errors.js';
export { DEFAULT_WITNESSED_CLIENT_CONFIG, resolveWitnessedConfig, type WitnessedClientConfig } from './config.js';
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
export { defaultLogUrl, logDirectorySource } from './log-source.js';
export { WitnessChecker, WitnessCheckingFetcher, classifyMetadataName, type CheckedDocument, type WitnessedBlock } from './witness-check.js';
export {
  WitnessedUpdater,
  createUpdater,
  type LogReport,
  type RootBootstrapReport,
  type TargetUpdater,
  type WitnessedRefreshReport,
  type WitnessedUpdaterOptions,
} from './witnessed-updater.js';
export { AttestationChecker, ATTESTATION_CHECK_LIMITS, defaultAttestationsUrl, type AttestationCheckContext, type TargetAttestationReport } from './attestation-check.js';
