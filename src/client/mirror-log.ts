// client/mirror-log.ts: the repository's log as one witnessed refresh reads it from a mirror
// (docs/protocol.md sections 5-7 and 9 "Clients and the log"): the files under the log URL,
// through the log layer's one reader (logDirectorySource) with the caps of LOG_FILE_LIMITS, and
// the trusted state the walk starts from, kept beside the anchor (client/anchor.ts) or fetched
// and checked against the pinned hash. A missing head is the client's to judge: an anchored
// client refuses it (NO_HEAD) rather than fall back to plain TUF. Counts what it reads, for the
// refresh report.
import { short } from '../errors/index.js';
import type { Fetcher } from '../io/fetch.js';
import {
  LOG_FILE_LIMITS,
  LogError,
  blockHash,
  catchUp,
  fetchPredecessor,
  logDirectorySource,
  parseBlockBytes,
  parseRosterBytes,
  rosterHash,
  type Block,
  type CatchUpResult,
  type HeadFreshnessPolicy,
  type LogSource,
  type Roster,
} from '../log/index.js';
import { directoryUrl } from '../tuf/index.js';
import { checkAnchoredBlock, readCachedRoster, readLastHead, readTrustedBlock, type LogAnchor } from './anchor.js';
import type { WitnessedClientConfig } from './config.js';
import { ClientError } from './errors.js';

/** The default log URL of a repository: the `log/` directory beside its `metadata/` directory. */
export function defaultLogUrl(metadataBaseUrl: string): string {
  return new URL('../log/', directoryUrl(metadataBaseUrl)).href;
}

/** The log under `logUrl`, read for a client anchored at `anchor` whose files are in `metadataDir`. */
export class MirrorLog {
  /** Every byte of the log read from the mirror, head.json included. */
  bytes = 0;
  /** Blocks fetched besides the catch-up's: an anchor block not stored yet, the head's predecessor. */
  blocksFetched = 0;
  private readonly files: LogSource;

  constructor(
    fetcher: Fetcher,
    readonly logUrl: string,
    private readonly metadataDir: string,
    private readonly anchor: LogAnchor,
  ) {
    this.files = logDirectorySource(fetcher, logUrl, (bytes) => {
      this.bytes += bytes;
    });
  }

  /** The pinned trusted block: stored beside the anchor, or fetched from the mirror and checked against the pinned hash. */
  async trustedBlock(): Promise<Block> {
    const stored = await readTrustedBlock(this.metadataDir, this.anchor);
    if (stored !== undefined) return stored;
    const { index, hash } = this.anchor;
    const bytes = await this.files.getBlock(index, LOG_FILE_LIMITS.block.maxBytes);
    if (bytes === undefined) {
      throw new ClientError('BAD_ANCHOR', `the trusted block ${index} (${short(hash)}) is not stored locally and ${this.logUrl} does not publish it`, {
        hint: 'initialize with --log-block FILE, or check --log-url',
      });
    }
    const block = parseBlockBytes(bytes, `block ${index} from ${this.logUrl}`);
    checkAnchoredBlock(this.anchor, block, `block ${index} from ${this.logUrl}`);
    this.blocksFetched++;
    return block;
  }

  /** The roster in force at `block`: carried by it, cached beside the anchor, or fetched by its hash. */
  async rosterAt(block: Block): Promise<Roster> {
    if (block.rosterChange !== null) return block.rosterChange.roster;
    const cached = await readCachedRoster(this.metadataDir, block.roster);
    if (cached !== undefined) return cached;
    const bytes = await this.files.getRoster(block.roster, LOG_FILE_LIMITS.roster.maxBytes);
    if (bytes === undefined) throw new LogError('UNKNOWN_ROSTER', `roster ${short(block.roster)} in force at the trusted block ${block.index} is neither cached nor published`);
    const roster = parseRosterBytes(bytes, `roster ${short(block.roster)}`);
    if (rosterHash(roster) !== block.roster) throw new LogError('UNKNOWN_ROSTER', `the file for roster ${short(block.roster)} holds roster ${short(rosterHash(roster))}`);
    return roster;
  }

  /**
   * From the trusted block to the head through verified forward links (log.catchUp), and the
   * head statement: co-signed by the head block's roster, fresh (maxHeadAge), not older than the
   * last one this client accepted (replay). Returns the catch-up with head.json exactly as served.
   */
  async catchUp(trusted: Block, roster: Roster, now: Date, config: WitnessedClientConfig): Promise<CatchUpResult & { headBytes: Uint8Array }> {
    const last = await readLastHead(this.metadataDir);
    const freshness: HeadFreshnessPolicy = {
      now,
      maxAgeSeconds: config.maxHeadAgeSeconds,
      maxFutureSkewSeconds: config.maxFutureSkewSeconds,
      ...(last === undefined ? {} : { lastAccepted: { index: last.statement.index, hash: last.statement.hash, time: last.statement.time } }),
    };
    let headBytes: Uint8Array | undefined;
    // The head becomes the anchor: its roster is checked in full even when a link only vouched for it.
    const caught = await catchUp(this.sourceRefusingNoHead((bytes) => (headBytes = bytes)), { block: trusted, roster }, { freshness, limits: config.catchUpLimits, anchorAtHead: true });
    return { ...caught, headBytes: headBytes! };
  }

  /**
   * The head's predecessor, read once and only when asked for (a publish window), verified by the
   * head's back link 0; the trusted block itself when it is that block. Undefined for genesis or
   * when the mirror does not publish it.
   */
  predecessorOf(head: Block, trusted: Block): () => Promise<Block | undefined> {
    let predecessor: Promise<Block | undefined> | undefined;
    return () =>
      (predecessor ??= (async () => {
        if (head.index === 0) return undefined;
        if (trusted.index === head.index - 1 && blockHash(trusted) === head.backLinks[0]) return trusted;
        const block = await fetchPredecessor(this.files, head, `the witnessed head block ${head.index}`);
        if (block !== undefined) this.blocksFetched++;
        return block;
      })());
  }

  /** The log files, with a missing head.json refused (NO_HEAD); `onHead` is given the head read. */
  private sourceRefusingNoHead(onHead: (bytes: Uint8Array) => void): LogSource {
    return {
      ...this.files,
      getHead: async (maxBytes) => {
        const bytes = await this.files.getHead(maxBytes);
        if (bytes === undefined) {
          throw new ClientError('NO_HEAD', `this client trusts log block ${this.anchor.index} (${short(this.anchor.hash)}) but ${this.logUrl}head.json does not exist`, {
            hint: 'a client with a log anchor accepts only witnessed releases and never falls back to plain TUF; use a mirror that serves the log, or check --log-url',
          });
        }
        onHead(bytes);
        return bytes;
      },
    };
  }
}
