// log/merkle-tree.ts: an RFC 6962 Merkle tree over the log's block hashes (RFC 6962 section 2.1,
// as RFC 9162 section 2.1 restates it; docs/transparency.md "The tree beside the skipchain"). The
// skipchain has no such tree; this one is what a C2SP checkpoint names by size and root hash
// (checkpoint.ts), so that tools and witnesses of that ecosystem can check a cairn log: leaf i is
// block i's hash (32 bytes). Inclusion and consistency proofs are made and verified as the RFC
// says. Pure: hashes only.
import { createHash } from 'node:crypto';
import { LogError } from './errors.js';

/** Caps on proofs read from anywhere (a proof of a tree of 2^64 leaves has at most 64 hashes). */
export const MERKLE_LIMITS = { maxProofHashes: 64 } as const;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

/** MTH of one leaf: SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Buffer {
  return sha256(LEAF, leaf);
}

/** An interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(NODE, left, right);
}

/** Whether n (a positive safe integer) is a power of two; exact where Math.log2 rounds (n just below 2^49 and up). */
function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** The largest power of two smaller than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[start:end]) over leaf hashes (the empty tree's is SHA-256 of nothing). */
export function treeHash(leaves: readonly Uint8Array[], start = 0, end = leaves.length): Buffer {
  const n = end - start;
  if (n === 0) return sha256();
  if (n === 1) return Buffer.from(leaves[start]!);
  const k = split(n);
  return nodeHash(treeHash(leaves, start, start + k), treeHash(leaves, start + k, end));
}

/**
 * MTH(D[start:end]) for a range the RFC's recursion reaches (`start` a multiple of the largest
 * power of two below end - start, as in every PATH and PROOF), from the hashes of complete
 * subtrees: `subtree(level, index)` is the root of leaves [index·2^level, (index+1)·2^level).
 */
export function rangeHashFromSubtrees(subtree: (level: number, index: number) => Buffer, start: number, end: number): Buffer {
  const n = end - start;
  if (n <= 0) throw new LogError('BAD_PROOF', `no subtree of leaves ${start} to ${end}`);
  if (isPowerOfTwo(n) && start % n === 0) return subtree(Math.round(Math.log2(n)), start / n);
  const k = split(n);
  return nodeHash(rangeHashFromSubtrees(subtree, start, start + k), rangeHashFromSubtrees(subtree, start + k, end));
}

/** MTH(D[start:end]) of a tree held anywhere (leaf hashes in memory, tiles: tiles.ts). */
export type RangeHash = (start: number, end: number) => Buffer;

/** PATH(index, D[0:size]): the inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, size = leaves.length): Buffer[] {
  if (!(size <= leaves.length)) throw new LogError('BAD_PROOF', `no leaf ${index} in a tree of ${size}`);
  return inclusionProofWith((start, end) => treeHash(leaves, start, end), index, size);
}

/** PATH(index, D[0:size]) with the subtree hashes `hash` gives. */
export function inclusionProofWith(hash: RangeHash, index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size)) throw new LogError('BAD_PROOF', `no leaf ${index} in a tree of ${size}`);
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = split(n);
    return m < k ? [...path(m, start, start + k), hash(start + k, end)] : [...path(m - k, start + k, end), hash(start, start + k)];
  };
  return path(index, 0, size);
}

/** PROOF(first, D[0:second]): the consistency proof of the tree of `first` leaves with that of `second`. */
export function consistencyProof(leaves: readonly Uint8Array[], first: number, second = leaves.length): Buffer[] {
  if (!(second <= leaves.length)) throw new LogError('BAD_PROOF', `no consistency proof from a tree of ${first} to one of ${second}`);
  return consistencyProofWith((start, end) => treeHash(leaves, start, end), first, second);
}

/** PROOF(first, D[0:second]) with the subtree hashes `hash` gives. */
export function consistencyProofWith(hash: RangeHash, first: number, second: number): Buffer[] {
  if (!(first >= 0 && first <= second)) throw new LogError('BAD_PROOF', `no consistency proof from a tree of ${first} to one of ${second}`);
  if (first === 0 || first === second) return [];
  const subproof = (m: number, start: number, end: number, whole: boolean): Buffer[] => {
    const n = end - start;
    if (m === n) return whole ? [] : [hash(start, end)];
    const k = split(n);
    return m <= k ? [...subproof(m, start, start + k, whole), hash(start + k, end)] : [...subproof(m - k, start + k, end, false), hash(start, start + k)];
  };
  return subproof(first, 0, second, true);
}

function checkProofShape(proof: readonly Uint8Array[], what: string): void {
  if (proof.length > MERKLE_LIMITS.maxProofHashes) throw new LogError('BAD_PROOF', `${what} has ${proof.length} hashes, at most ${MERKLE_LIMITS.maxProofHashes}`);
  for (const [i, h] of proof.entries()) if (h.length !== 32) throw new LogError('BAD_PROOF', `${what}: hash ${i} is ${h.length} bytes, not 32`);
}

/** RFC 9162's "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0". */
function shiftToOdd(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** RFC 9162 section 2.1.3.2: LogError('BAD_PROOF') unless `proof` proves leaf hash `leaf` at `index` in the tree of `size` with root `root`. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  const what = `the inclusion proof of leaf ${index} in a tree of ${size}`;
  checkProofShape(proof, what);
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) throw new LogError('BAD_PROOF', `${what}: no such leaf`);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) throw new LogError('BAD_PROOF', `${what} has more hashes than the tree has levels`);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      [fn, sn] = shiftToOdd(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0 || !equal(r, root)) throw new LogError('BAD_PROOF', `${what} does not lead to the root`);
}

/**
 * RFC 9162 section 2.1.4.2: LogError('BAD_PROOF') unless `proof` proves that the tree of `first`
 * leaves with root `firstRoot` is a prefix of the tree of `second` leaves with root `secondRoot`
 * (equal sizes: equal roots and an empty proof; a first tree of no leaves: any, with an empty proof).
 */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, proof: readonly Uint8Array[]): void {
  const what = `the consistency proof from a tree of ${first} to one of ${second}`;
  checkProofShape(proof, what);
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) throw new LogError('BAD_PROOF', `${what}: a tree does not shrink`);
  if (first === second) {
    if (proof.length !== 0 || !equal(firstRoot, secondRoot)) throw new LogError('BAD_PROOF', `${what}: the same size with ${proof.length === 0 ? 'other roots' : 'a proof'}`);
    return;
  }
  if (first === 0) {
    if (proof.length !== 0) throw new LogError('BAD_PROOF', `${what}: an empty tree needs no proof`);
    return;
  }
  if (proof.length === 0) throw new LogError('BAD_PROOF', `${what} is empty`);
  // A power of two (not with `&`: it would take only the low 32 bits of a larger size).
  const path = isPowerOfTwo(first) ? [Buffer.from(firstRoot), ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) throw new LogError('BAD_PROOF', `${what} has more hashes than the tree has levels`);
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      [fn, sn] = shiftToOdd(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0 || !equal(fr, firstRoot) || !equal(sr, secondRoot)) throw new LogError('BAD_PROOF', `${what} does not lead to both roots`);
}
