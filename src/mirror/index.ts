// mirror/index.ts: the public API of the mirror (docs/cli.md "Mirrors"): `cairn serve`, a
// read-only HTTP server of a repository's static files. Other layers import from here only.
export { startMirror, type MirrorOptions, type MirrorRequestEntry, type RunningMirror } from './mirror.js';
export { resolveRequestPath, requestTargetPath, REQUEST_LIMITS } from './request-path.js';
export { FILE_CACHE_LIMITS, SmallFileCache, type CachedFile, type FileCacheLimits, type FileLookup, type SmallFileCacheOptions } from './small-file-cache.js';
export { MirrorError, type MirrorErrorCode } from './errors.js';
