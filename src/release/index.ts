// release/index.ts: the public API of the publisher's release pipeline (docs/architecture.md
// "Data flow: publishing"; docs/protocol.md sections 5-8): publishing a repository state only once
// the witnesses co-signed it, the release log's life (create, head statements, roster changes,
// retry after a failed round), the log leader and its connections to witnesses. Other layers
// import from here only.
export {
  releaseLogStatus, prepareRosterChange, leaderOptions, logStateFile,
  type PublishReleaseOptions, type PublishedRelease, type CreateLogOptions, type LogOperationOptions, type ReleaseLogStatus,
  type SettledRelease, type SettleOptions,
} from './pipeline.js';
export { withReleaseAttestations } from './attestations.js';
export { parseAttestationSource, pullAttestations, writePulledAttestations, type AttestationSource, type PulledAttestation } from './attestation-sources.js';
export { authorizedRoster, defaultWitnessThreshold, rootRoleOfSource, signRosterRequestFile, type RosterAuthority, type RosterPosition } from './roster-authorization.js';
export { publishedDocuments, payloadOf, type ReleaseDocumentSource } from './documents.js';
export { initLog } from './genesis.js';
export { LogLeader, type LeaderOptions, type BlockReport, type InitLogOptions } from './leader.js';
export { LEADER_STATE_FORMAT, PROPOSAL_FORMAT, readLeaderState, readProposal, saveProposal, type LeaderState, type SavedProposal } from './leader-files.js';
export type { RoundReport } from './cosigning-round.js';
export { LeaderError, WitnessCallError, type LeaderErrorCode, type WitnessReport } from './errors.js';
export { WitnessConnection, DEFAULT_CALL_TIMEOUT_MS, type WitnessConnectionOptions } from './witness-connection.js';
export { SILENT, type ReleaseProgress } from './progress.js';

// Every operation that changes the workspace holds its lock (docs/cli.md "Concurrent commands").
import { lockedOperation } from '../repo/index.js';
import * as pipeline from './pipeline.js';
export const publishRelease = lockedOperation('cairn repo publish', pipeline.publishRelease);
export const createReleaseLog = lockedOperation('cairn log init', pipeline.createReleaseLog);
export const cosignHead = lockedOperation('cairn log head', pipeline.cosignHead);
export const writeCheckpoint = lockedOperation('cairn log checkpoint', pipeline.writeCheckpoint);
export const changeWitnessRoster = lockedOperation('cairn log roster', pipeline.changeWitnessRoster);
export const retryPendingRelease = lockedOperation('cairn log retry', pipeline.retryPendingRelease);
