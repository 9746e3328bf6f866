// log/index.ts: the public API of the skipchain release log (docs/protocol.md sections 4-7).
// Everything here is pure over typed values except static-layout's LogStore/LogSource shells.
export { LogError, type LogErrorCode } from './errors.js';
export {
  BLOCK_TYPE,
  DEFAULT_SKIPCHAIN_PARAMS,
  MemoryChain,
  backLinkIndices,
  blockHash,
  buildBlock,
  buildGenesis,
  chainIdOf,
  height,
  levelSpan,
  parseBlock,
  parseBlockBytes,
  validateBlock,
  validateGenesis,
  type Block,
  type BlockPayload,
  type ChainView,
  type RosterChange,
  type SkipchainParams,
  type ValidateBlockOptions,
  type VersionedHash,
} from './block.js';
export {
  OFFLINE_SIGNING_HINT,
  ROSTER_AUTHORIZATION_CONTEXT,
  ROSTER_AUTHORIZATION_REQUEST_FORMAT,
  ROSTER_AUTHORIZATION_REQUEST_MAX_BYTES,
  ROSTER_AUTHORIZATION_ROLE,
  collectRosterAuthorization,
  createRosterAuthorization,
  genesisAuthorizationChain,
  parseRosterAuthorizationRequest,
  requestStatement,
  signRosterAuthorizationRequest,
  verifyRosterAuthorization,
  type RosterAuthorizationRequest,
  type RootRole,
  type RosterAuthorizationStatement,
  type TufSignature,
} from './roster-authorization.js';
export {
  FORWARD_LINK_CONTEXT,
  FORWARD_LINK_TYPE,
  buildForwardLink,
  forwardLinkMessage,
  parseForwardLink,
  parseLinkFile,
  positionOf,
  verifyForwardLink,
  verifyForwardLinkStep,
  type ChainPosition,
  type ForwardLink,
  type LinkFile,
} from './forward-link.js';
export {
  DEFAULT_MAX_FUTURE_SKEW_SECONDS,
  HEAD_CONTEXT,
  HEAD_TYPE,
  buildHeadStatement,
  headMessage,
  parseHeadFile,
  parseHeadStatement,
  verifyHeadStatement,
  type AcceptedHead,
  type HeadFile,
  type HeadFreshnessPolicy,
  type HeadStatement,
} from './head.js';
export {
  DEFAULT_CATCH_UP_LIMITS,
  catchUp,
  planCatchUp,
  verifyCatchUpPath,
  type CatchUpHop,
  type CatchUpLimits,
  type CatchUpOptions,
  type CatchUpPathResult,
  type CatchUpResult,
  type CatchUpStats,
  type LinkAvailability,
  type PlannedHop,
  type TrustedState,
} from './catch-up.js';
export {
  EQUIVOCATION_PROOF_TYPE,
  buildEquivocationProof,
  parseEquivocationProof,
  verifyEquivocationProof,
  type Culprit,
  type EquivocationProof,
  type Misbehaviour,
  type SignedClaim,
} from './equivocation.js';
export { FileLogStore, LOG_PATHS, encodeLogFile, fetcherLogSource, logDirectorySource, type LogSource, type LogStore } from './static-layout.js';
export { fetchPredecessor } from './predecessor.js';
export { LOG_FILE_LIMITS, formatUtcTime, parseUtcTime } from './schema.js';
export { acceptRoster, parseCollectiveSignature, parseRoster, parseRosterBytes, rosterHash, verifyCollectiveSignature, type CollectiveSignature, type DecodedRoster, type Roster, type RosterWitness } from './cosi-adapter.js';
export { blockTreeRoot, CHECKPOINT_PATH, logOrigin, verifyLogCheckpoint, type VerifiedCheckpoint } from './checkpoint.js';
export { consistencyProof, inclusionProof, leafHash, MERKLE_LIMITS, nodeHash, treeHash, verifyConsistency, verifyInclusion } from './merkle-tree.js';
export { blockHashesFromTiles, consistencyProofFromTiles, entriesTilePath, inclusionProofFromTiles, TILE_WIDTH, tilePath, treeHashFromTiles, treeTiles, type Tile, type TileReader } from './tiles.js';
export {
  checkpointText, cosignCheckpoint, formatNote, hasNoteSignature, NOTE_LIMITS, NOTE_SIGNATURE_TYPE, noteKeyId, parseCheckpoint, parseNote, signNoteText, verifyCosignature, verifyNoteSignature,
  type Checkpoint, type Note, type NoteSignature, type NoteVerifier,
} from './signed-note.js';
