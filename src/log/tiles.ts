// log/tiles.ts: the log's RFC 6962 tree (merkle-tree.ts) as static tiles, the layout of
// c2sp.org/tlog-tiles (docs/transparency.md "Tiles"), so that any mirror serves inclusion and
// consistency proofs between checkpoints as plain files and tools of that ecosystem read them.
// A hash tile at level L holds up to 256 consecutive hashes of complete subtrees of height 8·L
// (level 0: the leaf hashes), 32 bytes each; a tile with fewer than 256 is partial and named by
// its width (`.p/W`). An entries tile holds up to 256 leaves (block hashes), each as a big-endian
// uint16 length and the bytes. Paths are relative to the log directory: `tile/L/N[.p/W]` and
// `tile/entries/N[.p/W]`, N in groups of three digits, all but the last prefixed with "x".
// Full tiles never change; a reader verifies what it computes from tiles against a checkpoint's
// root, so a forged tile only makes a proof fail.
import { LogError } from './errors.js';
import { consistencyProofWith, inclusionProofWith, leafHash, nodeHash, rangeHashFromSubtrees, type RangeHash } from './merkle-tree.js';

export const TILE_HEIGHT = 8;
/** Hashes (or entries) in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 1 << TILE_HEIGHT;

/** The index path element: 1234067 is "x001/x234/067", 5 is "005". */
function indexPath(index: number): string {
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = digits.match(/\d{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

const widthSuffix = (width: number): string => (width === TILE_WIDTH ? '' : `.p/${width}`);

/** Path of hash tile `index` at `level` with `width` hashes, relative to the log directory. */
export function tilePath(level: number, index: number, width: number): string {
  return `tile/${level}/${indexPath(index)}${widthSuffix(width)}`;
}

/** Path of entries tile `index` with `width` leaves, relative to the log directory. */
export function entriesTilePath(index: number, width: number): string {
  return `tile/entries/${indexPath(index)}${widthSuffix(width)}`;
}

export interface Tile {
  /** Relative to the log directory. */
  path: string;
  bytes: Buffer;
  /** A full tile never changes once written. */
  full: boolean;
}

/** Root of a perfect tree over `hashes` (a power of two of them). */
function perfectRoot(hashes: readonly Buffer[]): Buffer {
  let level = hashes;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    level = next;
  }
  return level[0]!;
}

/** Every tile of the tree whose leaves are `blockHashes` (raw 32-byte block hashes, in index order). */
export function treeTiles(blockHashes: readonly Uint8Array[]): Tile[] {
  const tiles: Tile[] = [];
  for (let t = 0; t * TILE_WIDTH < blockHashes.length; t++) {
    const leaves = blockHashes.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH);
    const bytes = Buffer.concat(leaves.flatMap((leaf) => [Buffer.from([leaf.length >> 8, leaf.length & 0xff]), Buffer.from(leaf)]));
    tiles.push({ path: entriesTilePath(t, leaves.length), bytes, full: leaves.length === TILE_WIDTH });
  }
  let hashes = blockHashes.map(leafHash);
  for (let level = 0; hashes.length > 0; level++) {
    const next: Buffer[] = [];
    for (let t = 0; t * TILE_WIDTH < hashes.length; t++) {
      const slice = hashes.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH);
      tiles.push({ path: tilePath(level, t, slice.length), bytes: Buffer.concat(slice), full: slice.length === TILE_WIDTH });
      if (slice.length === TILE_WIDTH) next.push(perfectRoot(slice));
    }
    hashes = next;
  }
  return tiles;
}

/**
 * The hashes (hex) of blocks 0 to size - 1 for a log that published tiles before: each full
 * entries tile gives 256 at once, and the rest come from `blockHash(index)`. A tile whose length
 * is not that of 256 entries of 32 bytes, or whose last entry is not the hash of its block, is not
 * used, nor is any tile after it. (A tile altered otherwise gives another root, which the
 * witnesses refuse to cosign.)
 */
export async function blockHashesFromTiles(size: number, read: TileReader, blockHash: (index: number) => Promise<string>): Promise<string[]> {
  const hashes: string[] = [];
  const entryBytes = 2 + 32;
  while (hashes.length + TILE_WIDTH <= size) {
    const tile = hashes.length / TILE_WIDTH;
    const bytes = await read(entriesTilePath(tile, TILE_WIDTH), TILE_WIDTH * entryBytes);
    if (bytes === undefined || bytes.length !== TILE_WIDTH * entryBytes) break;
    const entries = Array.from({ length: TILE_WIDTH }, (_, i) => bytes.subarray(i * entryBytes, (i + 1) * entryBytes));
    if (!entries.every((e) => e[0] === 0 && e[1] === 32)) break;
    const hex = entries.map((e) => Buffer.from(e.subarray(2)).toString('hex'));
    if (hex[TILE_WIDTH - 1] !== (await blockHash(hashes.length + TILE_WIDTH - 1))) break;
    hashes.push(...hex);
  }
  for (let i = hashes.length; i < size; i++) hashes.push(await blockHash(i));
  return hashes;
}

/** Reads a tile (path relative to the log directory), at most `maxBytes`; undefined when absent. */
export type TileReader = (path: string, maxBytes: number) => Promise<Uint8Array | undefined>;

/** The root hash of the tree of `size` leaves, from its tiles. */
export function treeHashFromTiles(read: TileReader, size: number): Promise<Buffer> {
  if (size === 0) throw new LogError('BAD_PROOF', 'the empty tree has no tiles');
  return withTiles(read, size, (hash) => hash(0, size));
}

/** PATH(index, D[0:size]) from the tiles of the tree of `size` leaves. */
export function inclusionProofFromTiles(read: TileReader, index: number, size: number): Promise<Buffer[]> {
  return withTiles(read, size, (hash) => inclusionProofWith(hash, index, size));
}

/** PROOF(first, D[0:second]) from the tiles of the tree of `second` leaves. */
export function consistencyProofFromTiles(read: TileReader, first: number, second: number): Promise<Buffer[]> {
  return withTiles(read, second, (hash) => consistencyProofWith(hash, first, second));
}

/**
 * Runs `compute` (a proof or root over subtree hashes) on the tiles of the tree of `size`
 * leaves: first with placeholder hashes to learn which tiles it needs (the recursion depends on
 * sizes only), then reads each of them once and runs it with their hashes.
 */
async function withTiles<T>(read: TileReader, size: number, compute: (hash: RangeHash) => T): Promise<T> {
  if (!Number.isSafeInteger(size) || size < 0) throw new LogError('BAD_PROOF', `a tree of ${size} leaves`);
  const where = (level: number, index: number): { tileLevel: number; tile: number; offset: number; count: number; width: number } => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const count = 2 ** (level - tileLevel * TILE_HEIGHT);
    const first = index * count;
    const tile = Math.floor(first / TILE_WIDTH);
    const stored = Math.floor(size / 2 ** (tileLevel * TILE_HEIGHT));
    return { tileLevel, tile, offset: first % TILE_WIDTH, count, width: Math.min(TILE_WIDTH, stored - tile * TILE_WIDTH) };
  };
  const needed = new Map<string, number>();
  const placeholder = Buffer.alloc(32);
  compute((start, end) => rangeHashFromSubtrees((level, index) => {
    const w = where(level, index);
    if (w.offset + w.count > w.width) throw new LogError('BAD_PROOF', `subtree ${index} of height ${level} is not complete in a tree of ${size}`);
    needed.set(tilePath(w.tileLevel, w.tile, w.width), w.width);
    return placeholder;
  }, start, end));
  const tiles = new Map<string, Uint8Array>();
  for (const [path, width] of needed) {
    const bytes = await read(path, width * 32);
    if (bytes === undefined) throw new LogError('NOT_REACHABLE', `tile ${path} of the tree of ${size} leaves is not published`);
    if (bytes.length !== width * 32) throw new LogError('BAD_PROOF', `tile ${path} is ${bytes.length} bytes, a tile of ${width} hashes is ${width * 32}`);
    tiles.set(path, bytes);
  }
  return compute((start, end) => rangeHashFromSubtrees((level, index) => {
    const w = where(level, index);
    const bytes = tiles.get(tilePath(w.tileLevel, w.tile, w.width))!;
    const hashes = Array.from({ length: w.count }, (_, i) => Buffer.from(bytes.subarray((w.offset + i) * 32, (w.offset + i + 1) * 32)));
    return perfectRoot(hashes);
  }, start, end));
}
