// repo/index.ts: the publisher side of a TUF repository (TUF spec 1.0.x sections 4 and 6):
// the public API used by `cairn repo` and tests. Layout of the workspace: see layout.ts.
export { RepoError, type RepoErrorCode } from './errors.js';
export { publicTargetPath, repoLayout, CONFIG_FILE, type RepoLayout } from './layout.js';
export {
  tufTime, DEFAULT_EXPIRY_SECONDS, TOP_LEVEL_ROLES, SPEC_VERSION, type RepoConfig, type TopLevelRole,
} from './config.js';
export { readPublicKey, readPublicKeys, writePublicKeyFile, generateKeyFiles, describeKeyFile, PUBLIC_KEY_FORMAT } from './key-files.js';
export { type InitOptions, type RoleKeySpec } from './init.js';
export {
  collectTargetSources, roleForTarget, type TargetSource, type AddTargetsOptions, type RemoveTargetsOptions, type AddedTarget,
} from './targets.js';
export { type AddPackageOptions } from './packages.js';
export { hashBinPrefixes, type DelegateOptions, type DelegationResult } from './delegations.js';
export { type RotateRootOptions, type RoleKeyChange } from './rotate.js';
export { type RefreshOptions } from './refresh.js';
export { signDetached, writeDetachedSignature, parseDetachedSignature, SIGNATURE_FORMAT, type DetachedSignature } from './signing.js';
export { type PendingRelease, type PublishOptions, type PublishResult } from './publish.js';
export {
  clearPendingRelease, completePendingRelease, pendingReleaseDir, readPendingRelease, savePendingRelease, PENDING_RELEASE_FORMAT,
  type CompletedRelease,
} from './pending-release.js';
export { repoStatus, formatStatus, type RepoStatus, type RoleStatus, type StatusOptions } from './status.js';
export { evaluateSignatures, addSignature, type SignatureReport, type RoleKeys } from './signatures.js';
export { buildMetadata, writeMetadataFile, stableJson, type AnyMetadata } from './metadata-file.js';
export { Workspace, type RoleChange, type PendingJournal } from './workspace.js';
export { customWithDeclaration, type DeclarationInput } from './declaration-input.js';
export { withWorkspaceLock, lockedOperation } from './workspace-lock.js';

// Every operation that changes a workspace holds its lock (workspace-lock.ts; docs/cli.md
// "Concurrent commands"): a second command waits its turn instead of interleaving.
import { lockedOperation } from './workspace-lock.js';
import { initRepository as init } from './init.js';
import { addTargets as add, removeTargets as remove } from './targets.js';
import { delegatePaths as delegateP, delegateHashBins as delegateH, delegateSuccinct as delegateS } from './delegations.js';
import { rotateRoot as rotate } from './rotate.js';
import { refreshRole as refresh } from './refresh.js';
import { signRole as sign, mergeSignature as merge, mergeSignatureFiles as mergeFiles } from './signing.js';
import { publish as publishUnlocked } from './publish.js';
import { enableMetaHashes as enable } from './config.js';
import { addPackage as addPkg } from './packages.js';
export const initRepository = lockedOperation('cairn repo init', init, { createDirectory: true });
export const addTargets = lockedOperation('cairn repo add', add);
export const addPackage = lockedOperation('cairn repo add-package', addPkg);
export const removeTargets = lockedOperation('cairn repo remove', remove);
export const delegatePaths = lockedOperation('cairn repo delegate', delegateP);
export const delegateHashBins = lockedOperation('cairn repo delegate', delegateH);
export const delegateSuccinct = lockedOperation('cairn repo delegate', delegateS);
export const rotateRoot = lockedOperation('cairn repo rotate-root', rotate);
export const refreshRole = lockedOperation('cairn repo refresh', refresh);
export const signRole = lockedOperation('cairn repo sign', sign);
export const mergeSignature = lockedOperation('cairn repo merge-signature', merge);
export const mergeSignatureFiles = lockedOperation('cairn repo merge-signature', mergeFiles);
export const publish = lockedOperation('cairn repo publish', publishUnlocked);
export const enableMetaHashes = lockedOperation('cairn repo enable-meta-hashes', enable);
