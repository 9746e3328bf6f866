// store/index.ts: the public API of the package manager (docs/packages.md, docs/store.md; the
// "Client store" of docs/design.md): remotes pinned by their trust anchor, dependency resolution
// from verified metadata, install, update, remove and rollback into the immutable store, bundles
// for machines with no network. Other layers and tests import from here only.
export { InstallError } from './install-errors.js';
export { resolveDependencies, type PackageCatalog, type Requirement, type ResolveOptions } from './resolve.js';
