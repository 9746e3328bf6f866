// store/core.ts: the public API of the store core (docs/store.md): the content-addressed
// read-only store, generations, the atomic switch, rollback, gc, verify, its one lock and its
// typed errors. store/index.ts re-exports it beside install, remotes, resolve and bundles.
export { openStore, type OpenStoreOptions, type Store } from './store.js';
export { readCurrentGeneration, readInstalledRecord } from './current.js';
export type { GenerationPlan, PlannedPackage, IncomingPackage } from './commit.js';
export type { Generation } from './generations.js';
export type { GcOptions, GcResult } from './gc.js';
export type { VerifyReport, VerifyProblem, VerifyProblemKind, GarbageItem, GarbageKind } from './verify.js';
export type { GenerationManifest, GenerationPackage, StoreRecord, StoredPackageManifest } from './records.js';
export type { StoreFile } from './tree.js';
export type { StepHook } from '../io/index.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { STORE_LIMITS, storeId, storeLayout, type StoreLayout } from './layout.js';
