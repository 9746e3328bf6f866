// io/index.ts: the public API of cairn's input and output (docs/architecture.md "Untrusted
// input"): the one crash-safe write, the one capped local-file read, bounded retrieval over HTTP
// (directly or through a socks5h:// proxy) and files, (the durable SQLite opener, io/sqlite.ts, is for the layers that keep state).
export { crashPoint, stepHookFromEnvironment, type StepHook } from './crash-points.js';
export { fsyncDirectory, writeFileAtomic, type AtomicWriteOptions } from './atomic-write.js';
export { CappedFileError, readCappedFile, readCappedFileIfExists, tooLargeIsFormatError, type CappedReadOptions } from './capped-file.js';
export { FetchError, fetchAll, fetchIfPresent, BoundedFetcher, parseProxyUrl, type BoundedFetcherOptions, type Fetcher, type FetchLimits } from './fetch.js';
export { isOnionHost, SOCKS_PROXY_LIMITS, type SocksProxy } from './socks-proxy.js';
export { withLockFile, lockTimeoutFromEnvironment, DEFAULT_LOCK_TIMEOUT_MS, type LockOptions } from './lock-file.js';
