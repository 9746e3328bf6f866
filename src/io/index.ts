// io/index.ts: the public API of cairn's input and output (docs/architecture.md "Untrusted
// input"): the one crash-safe write, the one capped local-file read, bounded retrieval over HTTP
// and files, and the one way to open a durable SQLite database.
export { writeFileAtomic, fsyncDirectory, type AtomicWriteOptions } from './atomic-write.js';
export { CappedFileError, readCappedFile, readCappedFileIfExists, tooLargeIsFormatError, type CappedReadOptions } from './capped-file.js';
export { FetchError, DEFAULT_FETCH_LIMITS, fetchAll, BoundedFetcher, type Fetcher, type FetchLimits } from './fetch.js';
export { openDurableDatabase } from './sqlite.js';
