// client/checkpoint-check.ts: checking a cairn log's C2SP checkpoint as a tool of that ecosystem
// would (docs/transparency.md "Checkpoints of a cairn log", "Tiles"): cosigned by at least the
// threshold of one of the chain's rosters given, and, given a checkpoint seen before, consistent with it by a
// consistency proof computed from the log's tiles (RFC 9162 section 2.1.4.2). Files and tiles are
// read with caps.
import { UsageError } from '../errors/index.js';
import { readCappedFile, tooLargeIsFormatError } from '../io/capped-file.js';
import { BoundedFetcher, DEFAULT_FETCH_LIMITS, fetchAll, fetchIfPresent, type Fetcher } from '../io/fetch.js';
import { directoryUrl } from '../tuf/index.js';
import {
  consistencyProofFromTiles, LOG_FILE_LIMITS, LogError, NOTE_LIMITS, parseRosterBytes, verifyConsistency, verifyLogCheckpoint, type VerifiedCheckpoint,
} from '../log/index.js';

export interface CheckpointCheckOptions {
  /** The chain (genesis hash) the checkpoint must be of. */
  chain: string;
  /** Roster files of the chain (log/rosters/HASH.json): each checkpoint must be cosigned at the threshold of one of them. */
  rosterFiles: readonly string[];
  /** A checkpoint of the same log seen before: the new one must be consistent with it. */
  previousFile?: string;
  /** The log directory whose tiles prove consistency (http://mirror/log/). */
  logUrl?: string;
  fetcher?: Fetcher;
}

export interface CheckpointCheck {
  size: number;
  rootHash: string;
  cosigners: VerifiedCheckpoint['cosigners'];
  /** The previous checkpoint's size and the proof's hashes, when one was given. */
  consistency: { previousSize: number; proof: string[] } | null;
}

/**
 * Verifies the checkpoint `file` (a path, or an http(s) URL) for `options.chain` against the
 * roster; with a previous checkpoint, proves from the tiles under `options.logUrl` that the new
 * tree extends the old one. Throws LogError: BAD_NOTE (cosignatures), BAD_PROOF (not consistent),
 * NOT_REACHABLE (a tile missing).
 */
export async function verifyCheckpoint(file: string, options: CheckpointCheckOptions): Promise<CheckpointCheck> {
  const fetcher = options.fetcher ?? new BoundedFetcher(DEFAULT_FETCH_LIMITS);
  if (options.rosterFiles.length === 0) throw new UsageError('MISSING_ARGUMENT', 'a checkpoint is checked against the roster that cosigned it: pass --roster FILE (log/rosters/HASH.json of the chain)');
  const rosters = await Promise.all(options.rosterFiles.map(async (f) => parseRosterBytes(await readCappedFile(f, LOG_FILE_LIMITS.roster.maxBytes, { refuse: tooLargeIsFormatError }), f)));
  const read = (what: string): Promise<Uint8Array> => (/^https?:\/\//.test(what) ? fetchAll(fetcher, what, NOTE_LIMITS.maxNoteBytes) : readCappedFile(what, NOTE_LIMITS.maxNoteBytes, { refuse: tooLargeIsFormatError }));
  /** The checkpoint verified with the first roster given that cosigned it at threshold (the last refusal otherwise). */
  const verify = (bytes: Uint8Array, what: string): VerifiedCheckpoint => {
    let refusal: unknown;
    for (const roster of rosters) {
      try {
        return verifyLogCheckpoint(bytes, options.chain, roster, what);
      } catch (e) {
        if (!(e instanceof LogError)) throw e;
        refusal = e;
      }
    }
    throw refusal;
  };
  const checkpoint = verify(await read(file), file);
  let consistency: CheckpointCheck['consistency'] = null;
  if (options.previousFile !== undefined) {
    // The old checkpoint was checked when it was taken; here it only names a size and root.
    const previous = verify(await read(options.previousFile), options.previousFile);
    if (previous.size > checkpoint.size) throw new LogError('BAD_PROOF', `${file} is of ${checkpoint.size} blocks, fewer than the ${previous.size} of ${options.previousFile}: the log cannot shrink`);
    if (options.logUrl === undefined) throw new LogError('NOT_REACHABLE', 'a consistency proof needs the log\'s tiles: pass the log directory (--log URL)');
    const base = directoryUrl(options.logUrl);
    const tile = (path: string, maxBytes: number): Promise<Uint8Array | undefined> => fetchIfPresent(fetcher, new URL(path, base).href, maxBytes);
    const proof = previous.size === 0 ? [] : await consistencyProofFromTiles(tile, previous.size, checkpoint.size);
    verifyConsistency(previous.size, checkpoint.size, previous.rootHash, checkpoint.rootHash, proof);
    consistency = { previousSize: previous.size, proof: proof.map((h) => h.toString('base64')) };
  }
  return { size: checkpoint.size, rootHash: checkpoint.rootHash.toString('base64'), cosigners: checkpoint.cosigners, consistency };
}
