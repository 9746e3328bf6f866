// client/log-source.ts: reading a repository's log files (docs/protocol.md section 7) from a
// URL that names the log directory itself (`.../public/log/`), through any Fetcher, with the
// caps the caller passes (LOG_FILE_LIMITS). A missing head is the client's to judge: an anchored
// client refuses it (NO_HEAD) rather than fall back to plain TUF.
import type { Fetcher } from '../io/fetch.js';
import { logDirectorySource as readLogDirectory, type LogSource } from '../log/index.js';

/** Counts what a LogSource read, for the refresh report. */
export interface SourceCounter {
  bytes: number;
  reads: number;
}

/** A LogSource over `fetcher` for the log directory at `logUrl`; `counter` adds up bytes read. */
export function logDirectorySource(fetcher: Fetcher, logUrl: string, counter?: SourceCounter): LogSource {
  return readLogDirectory(fetcher, logUrl, counter && ((bytes) => {
    counter.bytes += bytes;
    counter.reads++;
  }));
}

/** The default log URL of a repository: the `log/` directory beside its `metadata/` directory. */
export function defaultLogUrl(metadataBaseUrl: string): string {
  const base = metadataBaseUrl.endsWith('/') ? metadataBaseUrl : `${metadataBaseUrl}/`;
  return new URL('../log/', base).href;
}
