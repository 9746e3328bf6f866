// repo/index.ts: the publisher side of a TUF repository (TUF spec 1.0.x sections 4 and 6):
// the public API used by `cairn repo` and tests. Layout of the workspace: see layout.ts.
export { RepoError, type RepoErrorCode } from './errors.js';
export { repoLayout, CONFIG_FILE, type RepoLayout } from './layout.js';
export {
  enableMetaHashes, tufTime, DEFAULT_EXPIRY_SECONDS, TOP_LEVEL_ROLES, SPEC_VERSION, type RepoConfig, type TopLevelRole,
} from './config.js';
export { readPublicKey, readPublicKeys, writePublicKeyFile, generateKeyFiles, describeKeyFile, PUBLIC_KEY_FORMAT } from './key-files.js';
export { initRepository, type InitOptions, type RoleKeySpec } from './init.js';
export {
  addTargets, removeTargets, collectTargetSources, roleForTarget, type TargetSource, type AddTargetsOptions, type RemoveTargetsOptions, type AddedTarget,
} from './targets.js';
export { delegatePaths, delegateHashBins, delegateSuccinct, hashBinPrefixes, type DelegateOptions, type DelegationResult } from './delegations.js';
export { rotateRoot, type RotateRootOptions, type RoleKeyChange } from './rotate.js';
export { refreshRole, type RefreshOptions } from './refresh.js';
export { signRole, signDetached, writeDetachedSignature, mergeSignature, mergeSignatureFiles, parseDetachedSignature, SIGNATURE_FORMAT, type DetachedSignature } from './signing.js';
export { publish, type PendingRelease, type PublishOptions, type PublishResult } from './publish.js';
export {
  clearPendingRelease, completePendingRelease, pendingReleaseDir, readPendingRelease, savePendingRelease, PENDING_RELEASE_FORMAT,
  type CompletedRelease,
} from './pending-release.js';
export { repoStatus, formatStatus, type RepoStatus, type RoleStatus, type StatusOptions } from './status.js';
export { evaluateSignatures, addSignature, type SignatureReport, type RoleKeys } from './signatures.js';
export { buildMetadata, writeMetadataFile, stableJson, type AnyMetadata } from './metadata-file.js';
export { Workspace, type RoleChange, type PendingJournal } from './workspace.js';
export { customWithDeclaration, type DeclarationInput } from './declaration-input.js';
