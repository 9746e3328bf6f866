// client/log-source.ts: reading a repository's log files (docs/protocol.md section 7) from a
// URL that names the log directory itself (`.../public/log/`), through any Fetcher, with the
// caps the caller passes (LOG_FILE_LIMITS). A missing head is the client's to judge: an anchored
// client refuses it (NO_HEAD) rather than fall back to plain TUF.
import { fetchAll, FetchError, type Fetcher } from '../io/fetch.js';
import { LOG_PATHS, type LogSource } from '../log/index.js';

/** LOG_PATHS are relative to the public directory and start with `log/`; these are relative to log/ itself. */
function withinLog(path: string): string {
  return path.startsWith('log/') ? path.slice('log/'.length) : path;
}

/** Counts what a LogSource read, for the refresh report. */
export interface SourceCounter {
  bytes: number;
  reads: number;
}

/** A LogSource over `fetcher` for the log directory at `logUrl`; `counter` adds up bytes read. */
export function logDirectorySource(fetcher: Fetcher, logUrl: string, counter?: SourceCounter): LogSource {
  const base = logUrl.endsWith('/') ? logUrl : `${logUrl}/`;
  const get = async (path: string, maxBytes: number): Promise<Uint8Array | undefined> => {
    try {
      const bytes = await fetchAll(fetcher, new URL(withinLog(path), base).href, maxBytes);
      if (counter) {
        counter.bytes += bytes.byteLength;
        counter.reads++;
      }
      return bytes;
    } catch (e) {
      if (e instanceof FetchError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  };
  return {
    getHead: (maxBytes) => get(LOG_PATHS.head, maxBytes),
    getBlock: (index, maxBytes) => get(LOG_PATHS.block(index), maxBytes),
    getLink: (fromIndex, level, maxBytes) => get(LOG_PATHS.link(fromIndex, level), maxBytes),
    getRoster: (hash, maxBytes) => get(LOG_PATHS.roster(hash), maxBytes),
  };
}

/** The default log URL of a repository: the `log/` directory beside its `metadata/` directory. */
export function defaultLogUrl(metadataBaseUrl: string): string {
  const base = metadataBaseUrl.endsWith('/') ? metadataBaseUrl : `${metadataBaseUrl}/`;
  return new URL('../log/', base).href;
}
