// rebuild/index.ts: build verification, the verifier and publisher side (docs/design.md "Build
// verification"; docs/verified-builds.md): deterministic source archives, isolated recipe runs,
// `cairn build`, one rebuild with a signed verdict, and the watching verifier with its queue.
// The attestation format and the quorum rule are in policy/ (witnesses and clients use them).
export { RebuildError } from './errors.js';
export {
  writeSourceArchive, readTarEntries, checkSourceArchive, ARCHIVE_LIMITS, DEFAULT_EXCLUDES,
  type SourceArchiveResult, type TarEntryInfo, type TarListing,
} from './archive.js';
export {
  builderEnvironment, BUILD_LIMITS, DEFAULT_BUILD_USER, ISOLATION_PREFERENCES, chooseIsolation, runRecipe,
  type Isolation, type IsolationPreference, type RecipeRun, type RecipeResult, type SandboxOptions,
} from './isolation.js';
export { compareArtifacts, MAX_LISTED_DIFFERENCES } from './compare.js';
export { rebuildAndAttest, SOURCE_LIMITS, type RebuildRequest, type RebuildOutcome } from './verify.js';
export { buildArtifact, type BuildRequest, type BuildOutcome } from './build.js';
export { findDeclaredArtifact, SCAN_LIMITS, type DeclaredArtifact, type ScanResult } from './repo-scan.js';
export { RebuildQueue, type RebuildJob, type JobState } from './queue.js';
export { runVerifierService, type VerifierServiceOptions, type VerifierEvent } from './verifier-service.js';
export { runRebuild, type RebuildSubject, type RunRebuildRequest, type RunRebuildResult } from './run.js';
export {
  attestationFile, readPublishedAttestations, checkAttestationFiles, type AttestationCheckRequest,
} from './attestation-files.js';
export { readRecipe, type RecipeInput } from './recipe-input.js';
export { importedSource, type ImportedSource } from './imported-source.js';
