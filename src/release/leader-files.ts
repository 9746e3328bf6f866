// release/leader-files.ts: what the log leader keeps on disk besides the published log
// (docs/witness.md "Failure handling and recovery").
//
// Leader state (REPO/state/log.json): a pointer to the head of the repository's log,
//   { format: "cairn/log-leader/v1", chain, base, maxHeight, head: { index, hash } }.
// Everything else is read back from the published log (blocks, links, rosters).
//
// Proposal (REPO/state/pending-release/proposal.json): each block is saved before its first round.
// A round that fails after a respond was sent keeps it (the witnesses that answered recorded the
// block and co-sign no other at its index), and the next publish proposes exactly that block again
// before anything else; one that fails before any respond drops it.
import { mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseJsonObject } from '../encoding/bounded-json.js';
import { FieldReader } from '../encoding/field-reader.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { readCappedFileIfExists, tooLargeIsFormatError } from '../io/capped-file.js';
import { blockHash, parseBlock, type Block } from '../log/index.js';
import { readAttestationLists, WIRE_LIMITS } from '../witness/index.js';
import type { ReleaseDocumentSource } from './documents.js';
import { LeaderError } from './errors.js';

export const LEADER_STATE_FORMAT = 'cairn/log-leader/v1';
export const PROPOSAL_FORMAT = 'cairn/log-proposal/v1';

/** The leader state is a few short fields. */
const LEADER_STATE_LIMITS = { maxBytes: 64 * 1024, maxDepth: 4, maxEntries: 64 };
/** A proposal is sent to witnesses with its attestations: it is bounded as a witness request is. */
const PROPOSAL_LIMITS = { maxBytes: WIRE_LIMITS.maxRequestBytes, maxDepth: 16, maxEntries: 1_000_000 };

export interface LeaderState {
  format: typeof LEADER_STATE_FORMAT;
  chain: string;
  base: number;
  maxHeight: number;
  head: { index: number; hash: string };
}

/** A block proposed before its round, kept while a witness may have recorded it. */
export interface SavedProposal {
  block: Block;
  hash: string;
  /** The build attestations the proposal carried (sent again with it). */
  attestations?: ReleaseDocumentSource['attestations'];
}

/** The leader state in `stateFile`, or undefined when there is none (the repository has no log). */
export async function readLeaderState(stateFile: string): Promise<LeaderState | undefined> {
  const bytes = await readCappedFileIfExists(stateFile, LEADER_STATE_LIMITS.maxBytes, { refuse: tooLargeIsFormatError });
  if (bytes === undefined) return undefined;
  const r = new FieldReader((message) => new LeaderError('LOG_STATE', `${stateFile} is not a ${LEADER_STATE_FORMAT} state file: ${message}`));
  const o = r.exact(parseJsonObject(bytes, stateFile, LEADER_STATE_LIMITS), '', ['format', 'chain', 'base', 'maxHeight', 'head']);
  const head = r.exact(o.head, 'head', ['index', 'hash']);
  return {
    format: r.literal(o.format, 'format', LEADER_STATE_FORMAT), chain: r.hex(o.chain, 'chain'), base: r.integer(o.base, 'base', 2), maxHeight: r.integer(o.maxHeight, 'maxHeight', 1),
    head: { index: r.integer(head.index, 'head.index'), hash: r.hex(head.hash, 'head.hash') },
  };
}

export async function writeLeaderState(stateFile: string, state: LeaderState): Promise<void> {
  await writeFileAtomic(stateFile, JSON.stringify(state, null, 2) + '\n');
}

/** Whether a repository's leader state file exists (the repository has a log). */
export async function hasLog(stateFile: string): Promise<boolean> {
  return (await readLeaderState(stateFile)) !== undefined;
}

/** The proposal saved in `file`, or undefined when there is none. */
export async function readProposal(file: string): Promise<SavedProposal | undefined> {
  const bytes = await readCappedFileIfExists(file, PROPOSAL_LIMITS.maxBytes, { refuse: tooLargeIsFormatError });
  if (bytes === undefined) return undefined;
  const r = new FieldReader((message) => new LeaderError('LOG_STATE', `${file} is not a ${PROPOSAL_FORMAT} file: ${message}`));
  const o = r.exact(parseJsonObject(bytes, file, PROPOSAL_LIMITS), '', ['format', 'hash', 'block'], ['attestations']);
  r.literal(o.format, 'format', PROPOSAL_FORMAT);
  const hash = r.hex(o.hash, 'hash');
  const block = parseBlock(o.block, `${file} block`);
  if (blockHash(block) !== hash) throw new LeaderError('LOG_STATE', `${file} holds block ${blockHash(block).slice(0, 12)}, not ${hash.slice(0, 12)}`);
  if (o.attestations === undefined) return { block, hash };
  const a = r.exact(o.attestations, 'attestations', ['digest', 'files']);
  const digest = a.digest === null ? null : r.hex(a.digest, 'attestations.digest');
  return { block, hash, attestations: { digest, files: readAttestationLists(r, a.files, 'attestations.files') } };
}

/** Saves `block` (with the attestations it carries) as the proposal before its first round. */
export async function saveProposal(file: string, block: Block, attestations: ReleaseDocumentSource['attestations']): Promise<void> {
  const proposal = { format: PROPOSAL_FORMAT, hash: blockHash(block), block, ...(attestations ? { attestations } : {}) };
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(proposal) + '\n');
}

/** Forgets the saved proposal (its release was written, or no witness can have recorded it). */
export async function discardProposal(file: string): Promise<void> {
  await unlink(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}
