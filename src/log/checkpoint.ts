// log/checkpoint.ts: a cairn log's head as a C2SP checkpoint (docs/transparency.md "Checkpoints of
// a cairn log"): the origin names the chain (`cairn-log/` and its genesis hash), the size is the
// number of blocks, the root hash is the RFC 6962 tree over their hashes (merkle-tree.ts); the
// leader signs it as the log (its roster key, signature type 0x01, key name the origin) and each
// witness cosigns it (cosignature/v1, key name its roster name) only when it is its own head. A
// checkpoint is trusted when the roster's threshold of witnesses cosigned it.
import { LogError } from './errors.js';
import { leafHash, treeHash } from './merkle-tree.js';
import { acceptRoster } from '../cosi/index.js';
import { hasNoteSignature, NOTE_SIGNATURE_TYPE, parseCheckpoint, parseNote, verifyCosignature, type Checkpoint } from './signed-note.js';
import type { Roster } from './cosi-adapter.js';

/** Where a cairn log's checkpoint is published, beside head.json (docs/protocol.md section 7 layout). */
export const CHECKPOINT_PATH = 'log/checkpoint';

/** The checkpoint origin of chain `chain` (its genesis hash). */
export function logOrigin(chain: string): string {
  return `cairn-log/${chain}`;
}

/** The RFC 6962 root of the tree over block hashes (hex, in index order). */
export function blockTreeRoot(blockHashes: readonly string[]): Buffer {
  return treeHash(blockHashes.map((h) => leafHash(Buffer.from(h, 'hex'))));
}

/** What a verified cairn checkpoint says, and who vouched for it. */
export interface VerifiedCheckpoint extends Checkpoint {
  /** Names of the roster's witnesses whose cosignature verified, with its time. */
  readonly cosigners: ReadonlyArray<{ name: string; time: number }>;
}

/**
 * Verifies a cairn checkpoint note: its origin is chain `chain`'s, and at least the threshold of
 * `roster` (the roster in force at its last block, accepted as rosters are: distinct keys, a
 * threshold of at least one) cosigned it, each witness by its roster name and key; a roster
 * witness's cosignature that does not verify refuses the note (as the C2SP spec says of a known
 * key). It says nothing of freshness: the caller compares size and times with what it saw before.
 * LogError('BAD_NOTE') otherwise.
 */
export function verifyLogCheckpoint(bytes: Uint8Array | string, chain: string, roster: Roster, what = 'checkpoint'): VerifiedCheckpoint {
  acceptRoster(roster);
  if (new Set(roster.witnesses.map((w) => w.name)).size !== roster.witnesses.length) throw new LogError('BAD_NOTE', `${what}: the roster names a witness twice`);
  const note = parseNote(bytes, what);
  const checkpoint = parseCheckpoint(note.text, what);
  if (checkpoint.origin !== logOrigin(chain)) throw new LogError('BAD_NOTE', `${what} is of ${checkpoint.origin}, not of ${logOrigin(chain)}`);
  const cosigners: Array<{ name: string; time: number }> = [];
  for (const w of roster.witnesses) {
    const cosigner = { name: w.name, publicKey: Buffer.from(w.key, 'hex') };
    if (hasNoteSignature(note, cosigner, NOTE_SIGNATURE_TYPE.cosignatureV1)) cosigners.push({ name: w.name, time: verifyCosignature(note, cosigner, what) });
  }
  if (cosigners.length < roster.threshold) {
    throw new LogError('BAD_NOTE', `${what} carries ${cosigners.length} valid cosignatures of the roster's witnesses (${cosigners.map((c) => c.name).join(', ') || 'none'}); its threshold is ${roster.threshold}`);
  }
  return { ...checkpoint, cosigners };
}
