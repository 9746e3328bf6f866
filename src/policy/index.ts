// policy/index.ts: the release policy witnesses enforce (docs/witness.md "What it checks").
export { PolicyError } from './errors.js';
export {
  checkGenesisState, checkJoinState, checkSuccessorState, checkPayloadMatches, checkClockSkew, digestOf, stateDigest,
  type ReleaseState, type ReleaseDocuments, type StateDigest, type VersionedBytes,
} from './release-state.js';
// Build verification (docs/verified-builds.md): release declarations, DSSE envelopes, rebuild
// statements (in-toto Statement v1 + SLSA VSA v1), the quorum rule, where attestations are
// published, and the attestation manifest with the digest a block records.
export { DeclarationError, AttestationError } from './build-errors.js';
export {
  DECLARATION_FORMAT, DECLARATION_LIMITS, declarationFromCustom, parseReleaseDeclaration, declarationToCustom,
  parseDeclarationFile, declarationFileJson, checkOutputPath,
  type SourceDeclaration, type BuildRecipe, type ReleaseDeclaration, type DeclarationFile, type UpstreamDeclaration,
} from './declaration.js';
export { preAuthEncoding, envelopeDigest, type DsseEnvelope, type DsseSignature } from './dsse.js';
export {
  DSSE_PAYLOAD_TYPE, STATEMENT_TYPE, VSA_PREDICATE_TYPE, REBUILD_POLICY_URI, REBUILD_EXTENSION_FORMAT, VERIFIER_ID_PREFIX,
  ATTESTATION_LIMITS, createAttestation, serializeAttestation, parseAttestation, verifyAttestation, describeDifferences,
  type AttestationFields, type RebuildDetails, type RebuildStatement, type VerifiedAttestation,
  type DifferenceSummary, type FileDifference, type VerificationResult, type IsolationKind, FULL_ISOLATION,
} from './rebuild-statement.js';
export { checkAttestationQuorum, type BuildPolicy, type AttestedArtifact, type QuorumReport } from './attestation-quorum.js';
export { attestationRelativePath, attestationFilePrefix, attestationDirectory, attestationUrl } from './attestation-layout.js';
export {
  ATTESTATION_MANIFEST_TYPE, ATTESTATIONS_DIGEST_CONTEXT, ATTESTATION_MANIFEST_LIMITS, attestationsDigest, attestationManifestPath,
  attestationManifestLogPath, buildAttestationManifest, serializeAttestationManifest, parseAttestationManifest,
  type AttestationManifest, type AttestationManifestEntry,
} from './attestation-manifest.js';
// The build rule in trusted state (root's x-cairn-build-policy) and the witness check of a release.
export {
  BUILD_POLICY_FIELD, BUILD_POLICY_LIMITS, buildPolicyOf, parseBuildPolicy, buildPolicyJson, changedArtifacts, checkRecordedAttestations, checkReleaseAttestations, PACKAGE_VERSIONS_INDEX_PATH,
  releaseBuildRule, type ReleaseArtifact, type ReleaseAttestations, type ReleaseBuildRule,
} from './build-policy.js';
