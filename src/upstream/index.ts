// upstream/index.ts: the public API of upstream imports (docs/upstream.md).
export { UpstreamError, type UpstreamErrorCode } from './errors.js';
export { parseDeb822, checksumLines, Paragraph, type ChecksumLine } from './deb822.js';
export { archiveKeys, keyringForArchive, sourceArchives, type SourceArchive } from './apt-sources.js';
export { verifyClearsigned, readKeyring, type VerifiedText } from './clearsigned.js';
export { verifyInRelease, parseReleaseDate, CLOCK_SKEW_MS, type VerifiedRelease, type ReleaseCheck } from './release-file.js';
export { importDebianSource, type DebianImportRequest, type DebianImportResult } from './debian-import.js';
export { verifyUpstreamSignature, DEBIAN_LIMITS, type DebianProvenance } from './debian-source.js';
export { importDirectory, importKind, PROVENANCE_FORMAT, PROVENANCE_MAX_BYTES, readRecorded, type ChainFile, type ImportFiles } from './import-dir.js';
export { importNpmPackage, npmRegistry, NPM_NAME, NPM_VERSION, parseNpmProvenance, verifyNpmProvenance, verifyRegistrySignature, NPM_LIMITS, type NpmImportRequest, type NpmImportResult, type NpmProvenance } from './npm-import.js';
export { verifyDebianProvenance, parseDebianProvenance } from './provenance.js';
export { fetchProvenance, fetchUpstreamFromOwnSources, publishedImport, verifyImportDirectory, type ImportCheckOptions, type ImportSummary, type UpstreamFetch } from './published-import.js';
