// package/index.ts: the public API of packages (docs/packages.md): the manifest and its target
// paths, the versions index, the permission vocabulary, reproducible pack, safe extraction, and
// the one deterministic ustar writer (also used by rebuild/ for source archives).
export { PackageError, type PackageErrorCode } from './errors.js';
export {
  MANIFEST_FILE, CUSTOM_FIELD, MANIFEST_LIMITS, parseManifest, manifestBytes, packageTargetPath, versionsTargetPath, isStrictVersion,
  type PackageManifest,
} from './manifest.js';
export { parseVersionsIndex, versionsIndexBytes, VERSIONS_INDEX_LIMITS, type VersionsIndex } from './versions-index.js';
export {
  parsePermission, permissionIncrease, describePermission, isValidName, DEVICE_NAMES, NAME_PATTERN,
  type Permission, type DeviceName,
} from './permissions.js';
export { packDirectory, readManifestFile, PACK_EXCLUDES, type PackOptions, type PackResult } from './pack.js';
export { extractPackage, type ExtractedFile, type ExtractedPackage, type ExtractOptions } from './extract.js';
export { DEFAULT_EXTRACT_LIMITS, type ExtractLimits } from './archive-scan.js';
export { DeterministicUstarWriter, USTAR_MAX_LINK_BYTES } from './ustar-writer.js';
export { compareArchivePaths } from './archive-paths.js';
export { UstarReader, type UstarEntryHeader } from './ustar-reader.js';
export {
  PACKAGE_INDEX_PATH, PACKAGE_INDEX_LIMITS, packageIndexBytes, parsePackageIndex, withPackage, type PackageIndex, type PackageIndexEntry,
} from './package-index.js';
