// log/predecessor.ts: reading the block before a verified block (docs/protocol.md section 5,
// back links; section 7, the static layout). Back link 0 of block i is the hash of block i - 1,
// so a predecessor read from an untrusted source is verified by that one hash: nothing else about
// it needs trusting. Used where a client needs the previous repository state (a publish window,
// the release of an artifact a few blocks back).
import { short } from '../errors/index.js';
import { blockHash, parseBlockBytes, type Block } from './block.js';
import { LogError } from './errors.js';
import { LOG_FILE_LIMITS } from './schema.js';
import type { LogSource } from './static-layout.js';

/**
 * Block `block.index - 1` from `source`, checked against `block`'s back link 0 (BAD_BACK_LINK
 * when it is another block); undefined for genesis or when the source does not publish it.
 * `what` names `block` in errors.
 */
export async function fetchPredecessor(source: LogSource, block: Block, what = `block ${block.index}`): Promise<Block | undefined> {
  if (block.index === 0) return undefined;
  const index = block.index - 1;
  const bytes = await source.getBlock(index, LOG_FILE_LIMITS.block.maxBytes);
  if (bytes === undefined) return undefined;
  const predecessor = parseBlockBytes(bytes, `block ${index}`);
  const hash = blockHash(predecessor);
  const expected = block.backLinks[0]!;
  if (hash !== expected) {
    throw new LogError('BAD_BACK_LINK', `block ${index} served by the mirror has hash ${short(hash)}; ${what} names ${short(expected)} as its predecessor`);
  }
  return predecessor;
}
