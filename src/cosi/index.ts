// cosi/index.ts: the public API of the collective-signature layer (docs/design.md "Collective
// signatures (CoSi)"; docs/protocol.md sections 1-4). Imports only errors, encoding and crypto.
export { CosiError, type CosiErrorCode, type WitnessFault } from './errors.js';
export { COSI_CONTEXTS, COSIGNED_CONTEXTS, cosiMessage, proofOfPossessionMessage, messageContext } from './message.js';
export {
  type WitnessKey,
  witnessKeyFromSeed,
  validateWitnessPublicKey,
  createProofOfPossession,
  verifyProofOfPossession,
  expandSeed,
} from './keys.js';
// The edwards25519 group itself, for code that checks keys and points (and tests that forge them).
export { L, Point, intLE, scalarFromBytes, scalarToBytes, toHex, ed25519KeyObject, ed25519Verify } from './group.js';
export { encodeBitmap, decodeBitmap, hasParticipant, countParticipants, participantIndices } from './bitmap.js';
export {
  type Roster,
  type RosterWitness,
  type AggregateKey,
  type RosterVouch,
  ROSTER_LIMITS,
  DecodedRoster,
  AcceptedRoster,
  VouchedRoster,
  acceptRoster,
  acceptVouchedRoster,
  clearRosterCaches,
  parseRoster,
  rosterHash,
} from './roster.js';
export { type RoundChallenge, computeChallenge } from './challenge.js';
export { NonceGenerator, type NoncePair } from './nonce.js';
export {
  CosiSigner,
  type NonceStore,
  type NonceCommitment,
  type CosiChallenge,
  type CosiSignerOptions,
} from './signer.js';
export {
  type WitnessEndpoint,
  type WitnessChallenge,
  type CosiRoundOptions,
  type CosiRoundResult,
  runCosiRound,
  localWitnessEndpoint,
  COSI_ROUND_DEFAULTS,
} from './round.js';
export {
  type CollectiveSignature,
  type CollectiveSignatureJson,
  type VerifiedCollectiveSignature,
  encodeCollectiveSignature,
  parseCollectiveSignature,
  verifyCollectiveSignature,
} from './verify.js';
