// policy/index.ts: the release policy witnesses enforce (DESIGN.md "What a witness checks").
export { PolicyError } from './errors.js';
export {
  checkGenesisState, checkJoinState, checkSuccessorState, checkPayloadMatches, checkClockSkew, digestOf,
  type ReleaseState, type ReleaseDocuments, type StateDigest,
} from './release-state.js';
// Build verification (DESIGN.md "Build verification"): release declarations and rebuild
// attestations (in-toto Statement v1 + SLSA VSA v1 in DSSE), the quorum rule, the block digest.
export { DeclarationError, AttestationError } from './build-errors.js';
export {
  DECLARATION_FORMAT, DECLARATION_LIMITS, hasDeclaration, declarationFromCustom, parseReleaseDeclaration, declarationToCustom,
  parseDeclarationFile, declarationFileJson, sameDeclaration, checkOutputPath,
  type SourceDeclaration, type BuildRecipe, type ReleaseDeclaration, type DeclarationFile,
} from './declaration.js';
export {
  DSSE_PAYLOAD_TYPE, STATEMENT_TYPE, VSA_PREDICATE_TYPE, REBUILD_POLICY_URI, REBUILD_EXTENSION_FORMAT, VERIFIER_ID_PREFIX,
  ATTESTATIONS_DIGEST_CONTEXT, ATTESTATION_LIMITS, preAuthEncoding, createAttestation, serializeAttestation, parseAttestation,
  verifyAttestation, checkAttestationQuorum, envelopeDigest, attestationsDigest, attestationRelativePath, attestationFilePrefix, attestationDirectory, describeDifferences,
  type DsseEnvelope, type DsseSignature, type AttestationFields, type RebuildDetails, type RebuildStatement, type VerifiedAttestation,
  type BuildPolicy, type AttestedArtifact, type QuorumReport, type DifferenceSummary, type FileDifference, type VerificationResult,
  type IsolationKind,
} from './attestation.js';
// The build rule in trusted state (root's x-cairn-build-policy) and the witness check of a release.
export {
  BUILD_POLICY_FIELD, BUILD_POLICY_LIMITS, buildPolicyOf, parseBuildPolicy, buildPolicyJson, changedArtifacts, checkReleaseAttestations,
  type ReleaseArtifact, type ReleaseAttestations,
} from './build-policy.js';
