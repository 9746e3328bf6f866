// witness/index.ts: the public API of the witness (docs/witness.md; docs/protocol.md section 8):
// its directory and key, the checks it applies before it co-signs (WitnessService), its durable
// SQLite state, its HTTP API, the wire format of that API and the signature every request that
// makes it work carries, which the log leader (src/release) speaks. Other layers import from here only.
export { initWitness, loadWitness, loadWitnessKey, WITNESS_FILES, WITNESS_CONFIG_FORMAT, type WitnessConfig, type ChainPin } from './config.js';
export { signWitnessRequest, readRequestClaim, RequestGuard, REQUEST_HEADERS, REQUEST_AUTH_LIMITS, type RequestRate, type RequestClaim } from './request-auth.js';
export { openWitnessStateExclusively, type LockedWitnessState } from './lock.js';
export { WitnessError, type WitnessErrorCode, type RemoteRefusal } from './errors.js';
export { WitnessService, type WitnessIdentity, type WitnessServiceOptions } from './service.js';
export { describeDecision, type WitnessDecision } from './decisions.js';
export { checkBuildAttestations } from './release-documents.js';
export { WitnessStore, WitnessStoreError, type RecordedBlock, type ResponseEffects } from './store.js';
export { startWitnessServer, WITNESS_SERVER_LIMITS, type WitnessServerOptions, type RunningWitnessServer } from './http-api.js';
export { startWitness, type StartWitnessOptions, type RunningWitness } from './start.js';
export {
  WIRE_LIMITS, base64Bytes, readAttestationLists,
  parseGenesisRequest, parseCommitRequest, parseRespondRequest, parseInfoAnswer, parseCommitAnswer, parseRespondAnswer, parseGenesisAnswer, parseCheckpointRequest, parseCheckpointAnswer,
  type WireDocuments, type CatchUpEntry, type GenesisRequest, type StatementKind, type CommitRequest, type RespondRequest, type HeadRef,
  type StateSummary, type InfoAnswer, type CommitAnswer, type RespondAnswer, type GenesisAnswer, type CheckpointRequest, type CheckpointAnswer,
} from './wire.js';
export { UPSTREAM_CHECK_LIMITS, UpstreamChecker, type UpstreamTrust, type UpstreamVerdict } from './upstream-check.js';
