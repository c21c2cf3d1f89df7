/**
 * The RFC 6962 / RFC 9162 Merkle tree over SHA-256 that the audit log publishes: leaf and node
 * hashes, inclusion and consistency proofs (generation and verification) and tree roots.
 *
 * No Workers or Node imports: the sequencer, the auditor CLI and the tests share this file.
 * SHA-256 is @noble/hashes: synchronous (WebCrypto digests are async, which would make every
 * proof step a promise), audited, dependency-free, and identical in workerd and Node.
 *
 * Invariants this file keeps:
 * - Every tree size and leaf index that crosses the API is checked before any arithmetic: a safe
 *   integer, not negative, an index below its size. A proof from the network cannot make the
 *   verifiers loop, allocate or index out of range; bad input is an `Err`, never an exception.
 * - All index arithmetic is on doubles with exact operations only (halving with Math.floor,
 *   parity with %, powers of two). JavaScript's bitwise operators truncate to 32 bits and would
 *   silently corrupt sizes above 2^31, so none appears here.
 * - Verifiers hash only 32-byte values; a short or long hash is refused before hashing.
 *
 * "Stored hashes": `hashAt(level, n)` is the hash of the complete subtree of 2^level leaves that
 * starts at leaf n * 2^level. Level 0 hashes are leaf hashes. Every hash a proof or root needs is
 * one of those, or is computed from them here.
 */
import { sha256 } from "../digest.ts";
import { err, ok, type Result } from "../result.ts";
import { bytesEqual } from "../bytes.ts";

/** A SHA-256 hash: always 32 bytes. */
export type Hash = Uint8Array;

/** Returns the hash of the complete subtree of 2^level leaves starting at leaf n * 2^level. */
export type HashAt = (level: number, n: number) => Hash;

export const HASH_SIZE = 32;

/**
 * A proof for a tree of at most 2^53 - 1 leaves has at most 53 hashes (inclusion) or 54
 * (consistency, counting the prepended old root); anything longer is refused before hashing.
 */
export const MAX_PROOF_LENGTH = 64;

/** The root of the empty tree: SHA-256 of the empty string (RFC 6962, section 2.1). */
export const EMPTY_ROOT: Hash = sha256(new Uint8Array(0));

/** SHA-256(0x00 || data): the hash of one log entry. */
export function leafHash(data: Uint8Array): Hash {
  const input = new Uint8Array(1 + data.length);
  input[0] = 0x00;
  input.set(data, 1);
  return sha256(input);
}

/** SHA-256(0x01 || left || right): the hash of an interior node. */
export function nodeHash(left: Hash, right: Hash): Hash {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new RangeError(`nodeHash needs two ${HASH_SIZE}-byte hashes, got ${left.length} and ${right.length} bytes`);
  }
  const input = new Uint8Array(1 + 2 * HASH_SIZE);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return sha256(input);
}

/** A tree size: a safe integer from 0 to 2^53 - 1. */
export function checkTreeSize(size: number, what = "tree size"): Result<number, string> {
  if (!Number.isSafeInteger(size) || size < 0) return err(`${what} ${size} is not an integer from 0 to 2^53 - 1`);
  return ok(size);
}

/** A leaf index in a tree of `size` leaves: a safe integer from 0 to size - 1. */
export function checkLeafIndex(index: number, size: number): Result<number, string> {
  const s = checkTreeSize(size);
  if (!s.ok) return s;
  if (!Number.isSafeInteger(index) || index < 0) return err(`leaf index ${index} is not a non-negative integer`);
  if (index >= size) return err(`leaf index ${index} is not below tree size ${size}`);
  return ok(index);
}

function isOdd(x: number): boolean {
  return x % 2 === 1;
}

function half(x: number): number {
  return Math.floor(x / 2);
}

/** The largest power of two strictly below n, for n >= 2 (RFC 6962's split point k). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2 of n when n is a power of two, else -1. */
function exactLog2(n: number): number {
  let level = 0;
  for (let p = 1; p <= n; p *= 2, level++) if (p === n) return level;
  return -1;
}

function checkHashes(proof: readonly Hash[], named: readonly [string, Hash][]): Result<void, string> {
  if (proof.length > MAX_PROOF_LENGTH)
    return err(`proof has ${proof.length} hashes; at most ${MAX_PROOF_LENGTH} are possible`);
  for (const [name, h] of named) {
    if (h.length !== HASH_SIZE) return err(`${name} is ${h.length} bytes, not ${HASH_SIZE}`);
  }
  for (const [i, h] of proof.entries()) {
    if (h.length !== HASH_SIZE) return err(`proof hash ${i} is ${h.length} bytes, not ${HASH_SIZE}`);
  }
  return ok(undefined);
}

/**
 * Checks that `proof` shows the leaf with hash `leaf` at `index` in the tree of `size` leaves whose
 * root is `root` (RFC 9162, section 2.1.3.2).
 */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): Result<void, string> {
  const i = checkLeafIndex(index, size);
  if (!i.ok) return i;
  const shapes = checkHashes(proof, [
    ["leaf hash", leaf],
    ["root", root],
  ]);
  if (!shapes.ok) return shapes;

  // fn walks the leaf's position up the tree, sn the position of the tree's last leaf; the proof
  // is complete exactly when sn reaches 0 as the last hash is used.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return err("inclusion proof is longer than the path to the root");
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node with no right sibling: climb until the leaf's subtree is a right child.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return err("inclusion proof is shorter than the path to the root");
  if (!bytesEqual(r, root)) return err("inclusion proof does not lead to the root");
  return ok(undefined);
}

/**
 * Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves with
 * root `root1` (RFC 9162, section 2.1.4.2).
 *
 * Policy beyond the RFC, matching the shared test vectors:
 * - size1 = 0 is refused: every tree extends the empty tree, so such a "proof" proves nothing
 *   and a caller asking for one has lost track of its previous checkpoint. Callers that start
 *   from an empty log skip the check explicitly.
 * - size1 = size2 needs an empty proof and byte-identical roots; nothing is hashed, so the root
 *   lengths are not checked (identical values cannot fork).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Hash[],
  root1: Hash,
  root2: Hash,
): Result<void, string> {
  const s1 = checkTreeSize(size1, "size1");
  if (!s1.ok) return s1;
  const s2 = checkTreeSize(size2, "size2");
  if (!s2.ok) return s2;
  if (size1 > size2) return err(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0) return err("a consistency proof from the empty tree proves nothing");
  if (size1 === size2) {
    if (proof.length !== 0) return err("sizes are equal but the consistency proof is not empty");
    if (!bytesEqual(root1, root2)) return err("sizes are equal but the roots differ");
    return ok(undefined);
  }
  if (proof.length === 0) return err("consistency proof is empty");
  const shapes = checkHashes(proof, [
    ["root1", root1],
    ["root2", root2],
  ]);
  if (!shapes.ok) return shapes;

  // When the old tree is a complete subtree its root is the proof's implicit first element.
  const path = exactLog2(size1) >= 0 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const [first, ...rest] = path;
  // path is non-empty: proof.length > 0 was checked above.
  let fr = first as Hash;
  let sr = first as Hash;
  for (const c of rest) {
    if (sn === 0) return err("consistency proof is longer than the path to the root");
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) return err("consistency proof is shorter than the path to the root");
  if (!bytesEqual(fr, root1)) return err("consistency proof does not lead to root1");
  if (!bytesEqual(sr, root2)) return err("consistency proof does not lead to root2");
  return ok(undefined);
}

function unwrap<T>(result: Result<T, string>): T {
  if (!result.ok) throw new RangeError(result.error);
  return result.value;
}

/**
 * MTH(D[start : start + count]) from the stored hashes. RFC 6962 splits every range at the
 * largest power of two below its length, and every left part it produces is a complete, aligned
 * subtree, so each piece is either one stored hash or split again: O(log count) lookups.
 */
function rangeHash(start: number, count: number, hashAt: HashAt): Hash {
  const level = exactLog2(count);
  if (level >= 0 && start % count === 0) return hashAt(level, start / count);
  const k = splitPoint(count);
  return nodeHash(rangeHash(start, k, hashAt), rangeHash(start + k, count - k, hashAt));
}

/**
 * The root of the tree of `size` leaves. Throws RangeError for an invalid size: generators are
 * called with sizes the caller already holds (its own tree, a verified checkpoint).
 */
export function rootAt(size: number, hashAt: HashAt): Hash {
  unwrap(checkTreeSize(size));
  return size === 0 ? EMPTY_ROOT : rangeHash(0, size, hashAt);
}

/**
 * The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), leaf's
 * sibling first. Throws RangeError for an invalid index or size (see rootAt).
 */
export function inclusionProof(index: number, size: number, hashAt: HashAt): Hash[] {
  unwrap(checkLeafIndex(index, size));
  const proof: Hash[] = [];
  // Walk down from the root; siblings are found top-down and the proof lists them bottom-up.
  let start = 0;
  let count = size;
  let m = index;
  while (count > 1) {
    const k = splitPoint(count);
    if (m < k) {
      proof.push(rangeHash(start + k, count - k, hashAt));
      count = k;
    } else {
      proof.push(rangeHash(start, k, hashAt));
      start += k;
      count -= k;
      m -= k;
    }
  }
  return proof.reverse();
}

/**
 * The consistency proof from the tree of `size1` leaves to the tree of `size2` leaves (RFC 6962
 * SUBPROOF), empty when the sizes are equal. Throws RangeError unless 0 < size1 <= size2 (see
 * verifyConsistency for why size1 = 0 is refused).
 */
export function consistencyProof(size1: number, size2: number, hashAt: HashAt): Hash[] {
  unwrap(checkTreeSize(size1, "size1"));
  unwrap(checkTreeSize(size2, "size2"));
  if (size1 === 0 || size1 > size2) throw new RangeError(`no consistency proof from size ${size1} to size ${size2}`);
  const proof: Hash[] = [];
  let start = 0;
  let count = size2;
  let m = size1;
  // `complete` is SUBPROOF's b: true while the old tree's root is still a prefix of this range.
  let complete = true;
  while (m !== count) {
    const k = splitPoint(count);
    if (m <= k) {
      proof.push(rangeHash(start + k, count - k, hashAt));
      count = k;
    } else {
      proof.push(rangeHash(start, k, hashAt));
      start += k;
      count -= k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(rangeHash(start, count, hashAt));
  return proof.reverse();
}

/**
 * A hashAt for the tree of oldSize + newLeaves.length leaves, given a hashAt for the tree of
 * oldSize leaves and the new leaves' hashes. Subtrees wholly inside the old tree come from `old`;
 * the others are computed once and remembered, so building all new tiles costs one hash per new
 * node. `old` is asked only for complete subtrees of the old tree that are left siblings of new
 * nodes or parts of the new root: all of them lie in the old tree's partial (right-edge) tiles.
 */
export function extendHashAt(oldSize: number, old: HashAt, newLeaves: readonly Hash[]): HashAt {
  unwrap(checkTreeSize(oldSize, "old size"));
  const newSize = unwrap(checkTreeSize(oldSize + newLeaves.length, "new size"));
  for (const [i, h] of newLeaves.entries()) {
    if (h.length !== HASH_SIZE) throw new RangeError(`new leaf hash ${i} is ${h.length} bytes, not ${HASH_SIZE}`);
  }
  const memo = new Map<number, Map<number, Hash>>();
  const hashAt: HashAt = (level, n) => {
    if (!Number.isSafeInteger(level) || level < 0 || level > 63 || !Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`no stored hash at level ${level}, index ${n}`);
    }
    const width = 2 ** level;
    // Division by a power of two is exact, so these comparisons are exact for safe n.
    if (n + 1 > newSize / width)
      throw new RangeError(`level ${level}, index ${n} is not a complete subtree of the tree of size ${newSize}`);
    if (n + 1 <= oldSize / width) return old(level, n);
    if (level === 0) return newLeaves[n - oldSize] as Hash;
    let atLevel = memo.get(level);
    if (atLevel === undefined) {
      atLevel = new Map();
      memo.set(level, atLevel);
    }
    const known = atLevel.get(n);
    if (known !== undefined) return known;
    const h = nodeHash(hashAt(level - 1, 2 * n), hashAt(level - 1, 2 * n + 1));
    atLevel.set(n, h);
    return h;
  };
  return hashAt;
}

/** The stored hashes of the empty tree: there are none, so every lookup is a caller's bug. */
export const noStoredHashes: HashAt = (level, n) => {
  throw new RangeError(`the empty tree has no hash at level ${level}, index ${n}`);
};

/** A hashAt over a whole tree held in memory as its leaf hashes (tests, small audits). */
export function treeHashAt(leafHashes: readonly Hash[]): HashAt {
  return extendHashAt(0, noStoredHashes, leafHashes);
}
