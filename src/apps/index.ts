// apps/index.ts: the public API of App-per-VM (docs/apps.md): what each installed app requests,
// what the user granted it, and the append-only audit trail of grants and revocations.
export { AppError, type AppErrorCode } from './errors.js';
export { GrantsDatabase, storeDatabasePath, withGrantsDatabase, type GrantAction, type GrantEvent } from './grants-database.js';
export { PERMISSION_FAMILIES, appPermissions, installedApp, type InstalledApp, auditTrail, grantPermission, revokePermission, type AppPermissions, type GrantChange, type PermissionState } from './permissions.js';
export { vmSpecFor, type SharedDirectory, type VmSpec, type VmSpecInput } from './vm-spec.js';
export { cloudHypervisorArgs, firecrackerConfig, libvirtDomainXml, qemuArgs, vmName, xlConfig, type Acceleration, type JailFile, type VirtiofsDaemon } from './vm-configs.js';
export { initramfs, type InitramfsEntry } from './initramfs.js';
export { buildRuntime, GUEST_MARKERS, RUNTIME_MODULES, type RuntimeDescription } from './runtime.js';
export { appFolderDir, appFoldersDir, appStateDir, holdingStartLock, runApp, type RunOptions, type RunResult } from './run.js';
export { APP_ID_RANGE, allocateAppId, appIdRegistryPath, appUser, recordedAppIds, subordinateRange, type AppUser, type SubordinateIds } from './app-users.js';
export { vmSandboxArgs, type VmSandbox } from './vm-sandbox.js';
export { processStartTime, recordRunning, runningApp, runningApps, stopApp, type RunningApp } from './running.js';
export { APP_NETWORK, NON_PUBLIC_RANGES, appLinkPlan, appNamespaceRuleset, inIpv4Range, uplinkRuleset, grantsNetwork, guestNetworkParameter, resolveDestinations, setUpAppNetwork, type AppLinkPlan, type AppNetwork, type ResolvedDestination } from './app-network.js';
export { collectStoreGarbage, type AppsRelease, type ReleasedApp } from './app-removal.js';
