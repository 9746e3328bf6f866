// test/log/tiles.test.ts: the tree as C2SP tlog-tiles (src/log/tiles.ts): tile paths as the spec
// spells them, entries tiles holding the block hashes, and proofs computed from tiles equal to
// those computed from the leaves and verified against the roots; each tile read once per proof;
// full tiles unchanged as the tree grows; a forged, truncated or missing tile refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  blockHashesFromTiles, consistencyProof, consistencyProofFromTiles, entriesTilePath, inclusionProof, inclusionProofFromTiles, leafHash, LogError, tilePath, treeHash,
  treeHashFromTiles, treeTiles, verifyConsistency, verifyInclusion, type TileReader,
} from '../../src/log/index.js';

const blocks = (n: number, tag = 'block'): Buffer[] => Array.from({ length: n }, (_, i) => createHash('sha256').update(`${tag} ${i}`).digest());

function reader(n: number, reads: string[] = []): { read: TileReader; files: Map<string, Buffer> } {
  const files = new Map(treeTiles(blocks(n)).map((t) => [t.path, t.bytes]));
  return {
    files,
    read: async (path, maxBytes) => {
      reads.push(path);
      const bytes = files.get(path);
      assert.ok(bytes === undefined || bytes.length <= maxBytes, `${path} read with a cap below its size`);
      return bytes;
    },
  };
}

test('tile paths follow c2sp.org/tlog-tiles', () => {
  assert.equal(tilePath(0, 0, 256), 'tile/0/000');
  assert.equal(tilePath(0, 5, 7), 'tile/0/005.p/7');
  assert.equal(tilePath(1, 1000, 256), 'tile/1/x001/000');
  assert.equal(tilePath(2, 1234067, 256), 'tile/2/x001/x234/067');
  assert.equal(entriesTilePath(3, 255), 'tile/entries/003.p/255');
});

test('tiles: the entries are the block hashes; level 0 the leaf hashes; level 1 the roots of full level-0 tiles', () => {
  const leaves = blocks(531);
  const tiles = new Map(treeTiles(leaves).map((t) => [t.path, t]));
  assert.deepEqual([...tiles.keys()].sort(), ['tile/0/000', 'tile/0/001', 'tile/0/002.p/19', 'tile/1/000.p/2', 'tile/entries/000', 'tile/entries/001', 'tile/entries/002.p/19'].sort());
  const entries = tiles.get('tile/entries/002.p/19')!.bytes;
  assert.equal(entries.length, 19 * 34);
  assert.deepEqual(entries.subarray(0, 2), Buffer.from([0, 32]));
  assert.deepEqual(entries.subarray(2, 34), leaves[512]);
  assert.deepEqual(tiles.get('tile/0/001')!.bytes.subarray(0, 32), leafHash(leaves[256]!));
  const hashes = leaves.map(leafHash);
  assert.deepEqual(tiles.get('tile/1/000.p/2')!.bytes, Buffer.concat([treeHash(hashes, 0, 256), treeHash(hashes, 256, 512)]));
  assert.equal(tiles.get('tile/0/000')!.full, true);
  assert.equal(tiles.get('tile/0/002.p/19')!.full, false);
});

test('tiles: proofs from tiles are the RFC 6962 proofs, verify against the roots, and read each tile once', async () => {
  const n = 531;
  const leaves = blocks(n).map(leafHash);
  const reads: string[] = [];
  const { read } = reader(n, reads);
  assert.deepEqual(await treeHashFromTiles(read, n), treeHash(leaves));
  for (const size of [1, 2, 255, 256, 257, 300, 512, 513, 531]) {
    const { read: sized } = reader(size);
    const root = treeHash(leaves, 0, size);
    assert.deepEqual(await treeHashFromTiles(sized, size), root, `root of ${size}`);
    for (const first of [1, 3, 128, 255, 256, 257, 511, size - 1].filter((m) => m >= 1 && m < size)) {
      reads.length = 0;
      const proof = await consistencyProofFromTiles(sized, first, size);
      assert.deepEqual(proof, consistencyProof(leaves, first, size), `consistency ${first} -> ${size}`);
      verifyConsistency(first, size, treeHash(leaves, 0, first), root, proof);
    }
    for (const index of [0, 1, 255, 256, size - 1].filter((i) => i < size)) {
      const proof = await inclusionProofFromTiles(sized, index, size);
      assert.deepEqual(proof, inclusionProof(leaves, index, size), `inclusion ${index} in ${size}`);
      verifyInclusion(leaves[index]!, index, size, proof, root);
    }
  }
  reads.length = 0;
  await consistencyProofFromTiles(read, 300, 531);
  assert.equal(new Set(reads).size, reads.length, `a tile was read twice: ${reads.join(', ')}`);
});

test('tiles: full tiles stay as they were when the tree grows', () => {
  const before = new Map(treeTiles(blocks(300)).map((t) => [t.path, t]));
  const after = new Map(treeTiles(blocks(800)).map((t) => [t.path, t]));
  for (const [path, tile] of before) if (tile.full) assert.deepEqual(after.get(path)!.bytes, tile.bytes, path);
});

test('tiles: a forged tile makes the proof fail against the root; a truncated or missing tile is refused', async () => {
  const n = 531;
  const leaves = blocks(n).map(leafHash);
  const { read, files } = reader(n);
  const forged = Buffer.from(files.get('tile/0/001')!);
  forged[5] = forged[5]! ^ 1;
  files.set('tile/0/001', forged);
  // Leaf 300's path takes the subtree of leaves 256-287 from tile/0/001.
  const proof = await inclusionProofFromTiles(read, 300, n);
  assert.throws(() => verifyInclusion(leaves[300]!, 300, n, proof, treeHash(leaves)), (e: unknown) => e instanceof LogError && e.code === 'BAD_PROOF');
  files.set('tile/0/001', forged.subarray(0, 100));
  await assert.rejects(consistencyProofFromTiles(read, 300, n), (e: unknown) => e instanceof LogError && e.code === 'BAD_PROOF' && /tile\/0\/001 is 100 bytes/.test(e.message));
  files.delete('tile/1/000.p/2');
  await assert.rejects(treeHashFromTiles(read, n), (e: unknown) => e instanceof LogError && e.code === 'NOT_REACHABLE');
});

test('tiles: block hashes come 256 at a time from full entries tiles, checked against the last block of each; a tile that is not this log\'s is not used', async () => {
  const n = 600;
  const hashes = blocks(n).map((b) => b.toString('hex'));
  const { read, files } = reader(n);
  const asked: number[] = [];
  const blockHash = async (i: number): Promise<string> => {
    asked.push(i);
    return hashes[i]!;
  };
  assert.deepEqual(await blockHashesFromTiles(n, read, blockHash), hashes);
  // Two full tiles: their last blocks checked, then the 88 blocks of the partial one read.
  assert.deepEqual(asked, [255, 511, ...Array.from({ length: 88 }, (_, i) => 512 + i)]);

  // Tile 1's last entry is not block 511's hash: it and what follows come from the blocks.
  const altered = Buffer.from(files.get('tile/entries/001')!);
  altered[altered.length - 1] = altered[altered.length - 1]! ^ 1;
  files.set('tile/entries/001', altered);
  asked.length = 0;
  assert.deepEqual(await blockHashesFromTiles(n, read, blockHash), hashes);
  assert.equal(asked.length, 2 + (n - 256), 'the two checks, then blocks 256 on');
  // A truncated tile, or none at all: every hash from the blocks.
  files.set('tile/entries/000', files.get('tile/entries/000')!.subarray(0, 100));
  asked.length = 0;
  assert.deepEqual(await blockHashesFromTiles(n, read, blockHash), hashes);
  assert.equal(asked.length, n);
  assert.deepEqual(await blockHashesFromTiles(100, async () => undefined, blockHash), hashes.slice(0, 100));
});
