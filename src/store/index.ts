// store/index.ts: the public API of the package manager (docs/packages.md, docs/store.md; the
// "Client store" of docs/design.md): remotes pinned by their trust anchor, dependency resolution
// from verified metadata, install, update, remove and rollback into the immutable store, bundles
// for machines with no network. Other layers and tests import from here only.
export * from './core.js';
export { InstallError } from './install-errors.js';
export { resolveDependencies, type PackageCatalog, type Requirement, type ResolveOptions } from './resolve.js';
export { defaultStoreRoot, SYSTEM_STORE_ROOT, type StoreScope } from './install-scope.js';
export { addRemote, listRemotes, readRemote, removeRemote, type AddRemoteOptions, type RemoteConfig } from './remotes.js';
export { RemoteClient, type FetchedPackage, type RemoteClientOptions, type RemoteEvent } from './remotes-client.js';
export {
  backgroundUpdate, readHeldUpdates, type HeldUpdates,
  ConsentNeededError, describePackage, installPackages, searchPackages, type ConsentItem, type SearchResult, parsePackageRequest, removePackages, updatePackages,
  type InstallEvent, type PackageInfo, type PackageManagerOptions, type TransactionResult,
} from './install.js';
export { BUNDLE_FORMAT, createBundle, formatAge, installBundle, type BundleDescription, type BundleInstallResult, type CreateBundleOptions, type InstallBundleOptions } from './bundle.js';
