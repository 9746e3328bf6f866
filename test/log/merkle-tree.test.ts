// test/log/merkle-tree.test.ts: the RFC 6962 tree beside the skipchain (src/log/merkle-tree.ts):
// root hashes against the RFC's definition computed here independently (a plain recursion over
// SHA-256), every inclusion and consistency proof of trees up to 33 leaves verified, and each
// proof tampered with (a hash changed, dropped, added, another index or size, another root) refused
// with BAD_PROOF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { consistencyProof, inclusionProof, leafHash, LogError, MERKLE_LIMITS, nodeHash, treeHash, verifyConsistency, verifyInclusion } from '../../src/log/index.js';

const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const blocks = Array.from({ length: 33 }, (_, i) => sha(Buffer.from(`block ${i}`)));
const leaves = blocks.map(leafHash);

/** MTH as RFC 6962 section 2.1 defines it, over the leaf data. */
function mth(data: Buffer[]): Buffer {
  if (data.length === 0) return sha();
  if (data.length === 1) return sha(Buffer.from([0]), data[0]!);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return sha(Buffer.from([1]), mth(data.slice(0, k)), mth(data.slice(k)));
}

const badProof = (fn: () => void, why: string): void => {
  assert.throws(fn, (e: unknown) => e instanceof LogError && e.code === 'BAD_PROOF', why);
};

test('root hashes are RFC 6962\'s MTH of the block hashes, for every size from 0 to 33', () => {
  assert.equal(treeHash([]).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 0; n <= blocks.length; n++) assert.ok(treeHash(leaves, 0, n).equals(mth(blocks.slice(0, n))), `size ${n}`);
});

test('every inclusion proof verifies; one changed in any way is refused (BAD_PROOF)', () => {
  for (let n = 1; n <= blocks.length; n++) {
    const root = treeHash(leaves, 0, n);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(leaves, i, n);
      verifyInclusion(leaves[i]!, i, n, proof, root);
      if (n > 1) {
        badProof(() => verifyInclusion(leaves[i]!, (i + 1) % n, n, proof, root), `leaf ${i} of ${n} at another index`);
        badProof(() => verifyInclusion(leaves[(i + 1) % n]!, i, n, proof, root), `another leaf at ${i} of ${n}`);
        badProof(() => verifyInclusion(leaves[i]!, i, n, proof.slice(1), root), `a hash dropped (${i} of ${n})`);
        const changed = proof.map((h) => Buffer.from(h));
        changed[0]![0] = changed[0]![0]! ^ 1;
        badProof(() => verifyInclusion(leaves[i]!, i, n, changed, root), `a hash changed (${i} of ${n})`);
      }
      badProof(() => verifyInclusion(leaves[i]!, i, n, [...proof, leaves[0]!], root), `a hash added (${i} of ${n})`);
    }
  }
  badProof(() => verifyInclusion(leaves[0]!, 1, 1, [], treeHash(leaves, 0, 1)), 'an index past the size');
  badProof(() => verifyInclusion(leaves[0]!, 0, 2, Array(MERKLE_LIMITS.maxProofHashes + 1).fill(leaves[0]), treeHash(leaves, 0, 2)), 'too many hashes');
});

test('every consistency proof verifies; one changed in any way is refused (BAD_PROOF)', () => {
  for (let n = 1; n <= blocks.length; n++) {
    const second = treeHash(leaves, 0, n);
    for (let m = 0; m <= n; m++) {
      const first = treeHash(leaves, 0, m);
      const proof = consistencyProof(leaves, m, n);
      verifyConsistency(m, n, first, second, proof);
      if (m > 0 && m < n) {
        const other = treeHash(leaves.map((l, i) => (i === 0 ? leafHash(Buffer.from('forked')) : l)), 0, m);
        badProof(() => verifyConsistency(m, n, other, second, proof), `a forked first tree (${m} to ${n})`);
        badProof(() => verifyConsistency(m, n, first, treeHash(leaves, 0, n - 1), proof), `another second root (${m} to ${n})`);
        badProof(() => verifyConsistency(m, n, first, second, proof.slice(0, -1)), `a hash dropped (${m} to ${n})`);
        badProof(() => verifyConsistency(m, n, first, second, [...proof, leaves[0]!]), `a hash added (${m} to ${n})`);
        const changed = proof.map((h) => Buffer.from(h));
        changed[changed.length - 1]![5] = changed[changed.length - 1]![5]! ^ 1;
        badProof(() => verifyConsistency(m, n, first, second, changed), `a hash changed (${m} to ${n})`);
      }
    }
  }
  badProof(() => verifyConsistency(3, 3, treeHash(leaves, 0, 3), treeHash(leaves, 0, 4), []), 'the same size, other roots');
  // Past 2^32 leaves: 3·2^31 is no power of two (a 32-bit test would take it for one). X, Y: the
  // subtrees of its first 2^32 and next 2^31 leaves; Z: one more leaf. PROOF is [Y, Z, X].
  const [x, y, z] = [sha(Buffer.from('x')), sha(Buffer.from('y')), sha(Buffer.from('z'))];
  verifyConsistency(3 * 2 ** 31, 3 * 2 ** 31 + 1, nodeHash(x, y), nodeHash(x, nodeHash(y, z)), [y, z, x]);
  badProof(() => verifyConsistency(4, 3, treeHash(leaves, 0, 4), treeHash(leaves, 0, 3), []), 'a tree that shrinks');
});
