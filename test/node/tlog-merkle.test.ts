/**
 * The RFC 6962 Merkle tree: every shared proof vector (transparency-dev/merkle), proofs generated
 * from stored hashes against the RFC's recursive definitions, huge trees near 2^53, and the
 * refusals of attacker-controlled sizes, indexes and hash lengths.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  checkLeafIndex,
  checkTreeSize,
  consistencyProof,
  EMPTY_ROOT,
  extendHashAt,
  HASH_SIZE,
  inclusionProof,
  leafHash,
  MAX_PROOF_LENGTH,
  nodeHash,
  noStoredHashes,
  rootAt,
  treeHashAt,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type HashAt,
} from "../../lib/tlog/merkle.ts";
import { entry, hex, refLeafHash, refNodeHash, RefTree } from "./helpers/tlog.ts";
import { sharedPath } from "./helpers/shared.ts";

const VECTORS = sharedPath("testdata/merkle");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const B64 = z.string().transform((s) => new Uint8Array(Buffer.from(s, "base64")));
// JSON numbers past 2^53 arrive rounded (18446744073709551615 -> 2^64); the verifier must refuse them.
const InclusionVector = z.object({
  leafIdx: z.number(),
  treeSize: z.number(),
  root: B64,
  leafHash: B64,
  proof: z.array(B64).nullable(),
  desc: z.string(),
  wantErr: z.boolean(),
});
const ConsistencyVector = z.object({
  size1: z.number(),
  size2: z.number(),
  root1: B64,
  root2: B64,
  proof: z.array(B64).nullable(),
  desc: z.string(),
  wantErr: z.boolean(),
});

function load<T>(kind: "inclusion" | "consistency", schema: z.ZodType<T>): { name: string; vector: T }[] {
  return filesUnder(join(VECTORS, kind))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: relative(VECTORS, f), vector: schema.parse(JSON.parse(readFileSync(f, "utf8"))) }));
}

const inclusionVectors = load("inclusion", InclusionVector);
const consistencyVectors = load("consistency", ConsistencyVector);

describe("shared proof vectors (testdata/merkle)", () => {
  it("are all found: every .json file under inclusion/ and consistency/", () => {
    const all = filesUnder(VECTORS).filter((f) => f.endsWith(".json"));
    expect(inclusionVectors.length + consistencyVectors.length).toBe(all.length);
    expect(inclusionVectors.length).toBeGreaterThan(50);
    expect(consistencyVectors.length).toBeGreaterThan(50);
    // The vectors include both outcomes; a loader that dropped one kind would pass vacuously.
    expect(inclusionVectors.filter((v) => !v.vector.wantErr).length).toBeGreaterThan(5);
    expect(consistencyVectors.filter((v) => !v.vector.wantErr).length).toBeGreaterThan(5);
  });

  it.each(inclusionVectors)("inclusion $name", ({ vector: v }) => {
    const result = verifyInclusion(v.leafIdx, v.treeSize, v.leafHash, v.proof ?? [], v.root);
    expect(result.ok, `${v.desc}: ${result.ok ? "accepted" : result.error}`).toBe(!v.wantErr);
  });

  it.each(consistencyVectors)("consistency $name", ({ vector: v }) => {
    const result = verifyConsistency(v.size1, v.size2, v.proof ?? [], v.root1, v.root2);
    expect(result.ok, `${v.desc}: ${result.ok ? "accepted" : result.error}`).toBe(!v.wantErr);
  });
});

describe("hashes", () => {
  it("leafHash and nodeHash are RFC 6962's domain-separated SHA-256", () => {
    expect(hex(EMPTY_ROOT)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    // RFC 6962 test vector: the leaf hash of the empty entry.
    expect(hex(leafHash(new Uint8Array(0)))).toBe("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    const a = leafHash(entry(0));
    const b = leafHash(entry(1));
    expect(hex(a)).toBe(hex(refLeafHash(entry(0))));
    expect(hex(nodeHash(a, b))).toBe(hex(refNodeHash(a, b)));
  });

  it("nodeHash refuses anything but two 32-byte hashes", () => {
    expect(() => nodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(RangeError);
    expect(() => nodeHash(new Uint8Array(32), new Uint8Array(33))).toThrow(RangeError);
  });
});

describe("proofs generated from stored hashes match RFC 6962's definitions and verify", () => {
  const MAX = 140;
  const ref = new RefTree(MAX);
  const hashAt = treeHashAt(ref.leaves);

  it("roots of every size 0..140", () => {
    for (let n = 0; n <= MAX; n++) expect(hex(rootAt(n, treeHashAt(ref.leaves.slice(0, n))))).toBe(hex(ref.mth(0, n)));
    // A hashAt over a bigger tree serves every smaller root too: stored hashes never change.
    for (let n = 0; n <= MAX; n++) expect(hex(rootAt(n, hashAt))).toBe(hex(ref.mth(0, n)));
  });

  it("inclusion proofs for every leaf of every size 1..140", () => {
    for (let n = 1; n <= MAX; n++) {
      const root = ref.mth(0, n);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, n, hashAt);
        expect(proof.map(hex)).toEqual(ref.path(i, 0, n).map(hex));
        expect(verifyInclusion(i, n, ref.leaves[i] as Hash, proof, root)).toEqual({ ok: true, value: undefined });
      }
    }
  });

  it("consistency proofs for every pair 1 <= m <= n <= 140", () => {
    for (let n = 1; n <= MAX; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, n, hashAt);
        expect(proof.map(hex)).toEqual(ref.subproof(m, 0, n, true).map(hex));
        expect(verifyConsistency(m, n, proof, ref.mth(0, m), ref.mth(0, n)).ok).toBe(true);
      }
    }
  });

  it("every altered inclusion proof is refused (sizes 1..40)", () => {
    for (let n = 1; n <= 40; n++) {
      const root = ref.mth(0, n);
      for (let i = 0; i < n; i++) {
        const leaf = ref.leaves[i] as Hash;
        const proof = inclusionProof(i, n, hashAt);
        for (const [k, h] of proof.entries()) {
          const bad = [...proof];
          const flipped = h.slice();
          flipped[k % HASH_SIZE] = (flipped[k % HASH_SIZE] ?? 0) ^ 0x80;
          bad[k] = flipped;
          expect(verifyInclusion(i, n, leaf, bad, root).ok).toBe(false);
        }
        if (proof.length > 0) expect(verifyInclusion(i, n, leaf, proof.slice(1), root).ok).toBe(false);
        expect(verifyInclusion(i, n, leaf, [...proof, root], root).ok).toBe(false);
        expect(verifyInclusion(i, n, leaf, [root, ...proof], root).ok).toBe(false);
        if (n > 1) expect(verifyInclusion((i + 1) % n, n, leaf, proof, root).ok).toBe(false);
        // (Not tested: the same proof at size n + 1, which can verify when the path has the same
        // shape; the size is bound by the signed checkpoint, not by the proof.)
        expect(verifyInclusion(i, n, ref.leaves[n] as Hash, proof, root).ok).toBe(false);
      }
    }
  });

  it("every altered consistency proof is refused (sizes 1..40)", () => {
    for (let n = 2; n <= 40; n++) {
      for (let m = 1; m < n; m++) {
        const r1 = ref.mth(0, m);
        const r2 = ref.mth(0, n);
        const proof = consistencyProof(m, n, hashAt);
        for (const [k, h] of proof.entries()) {
          const bad = [...proof];
          const flipped = h.slice();
          flipped[k % HASH_SIZE] = (flipped[k % HASH_SIZE] ?? 0) ^ 0x01;
          bad[k] = flipped;
          expect(verifyConsistency(m, n, bad, r1, r2).ok).toBe(false);
        }
        expect(verifyConsistency(m, n, proof.slice(0, -1), r1, r2).ok).toBe(false);
        expect(verifyConsistency(m, n, [...proof, r2], r1, r2).ok).toBe(false);
        expect(verifyConsistency(m, n, proof, r2, r1).ok).toBe(false);
        if (m + 1 < n) expect(verifyConsistency(m + 1, n, proof, r1, r2).ok).toBe(false);
        if (m > 1) expect(verifyConsistency(m - 1, n, proof, r1, r2).ok).toBe(false);
        // (Not tested: the same proof at a larger size2. The verifier cannot tell a tree of n
        // leaves from one of n + 1 whose last subtree hashes alike; the signed size binds it.)
      }
    }
  });
});

describe("huge trees: index arithmetic stays exact up to 2^53 - 1", () => {
  const sizes = [2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32 + 5, 2 ** 52 + 3, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER];
  const indexesFor = (size: number): number[] => [0, 1, 2 ** 31, Math.floor(size / 2), size - 2, size - 1];

  /**
   * The stored hashes of a tree whose leaves all hash to one value except a few "special" leaves:
   * a subtree without special leaves has a hash that depends only on its level, so any stored
   * hash costs O(level) to compute, yet the tree is a real one and every special leaf is unique.
   */
  function sparseTree(specials: readonly number[]): {
    hashAt: HashAt;
    leafAt: (i: number) => Hash;
    asked: [number, number][];
  } {
    const plain = [leafHash(new TextEncoder().encode("plain"))];
    for (let level = 1; level <= 53; level++) plain.push(nodeHash(plain[level - 1] as Hash, plain[level - 1] as Hash));
    const leafAt = (i: number): Hash =>
      specials.includes(i) ? leafHash(new TextEncoder().encode(`special ${i}`)) : (plain[0] as Hash);
    const asked: [number, number][] = [];
    const inner = (level: number, n: number): Hash => {
      const lo = n * 2 ** level;
      const hi = lo + 2 ** level;
      if (!specials.some((i) => i >= lo && i < hi)) return plain[level] as Hash;
      if (level === 0) return leafAt(n);
      return nodeHash(inner(level - 1, 2 * n), inner(level - 1, 2 * n + 1));
    };
    const hashAt: HashAt = (level, n) => {
      asked.push([level, n]);
      return inner(level, n);
    };
    return { hashAt, leafAt, asked };
  }

  it("inclusion proofs at the start, middle and end", () => {
    for (const size of sizes) {
      const tree = sparseTree(indexesFor(size));
      const root = rootAt(size, tree.hashAt);
      for (const index of indexesFor(size)) {
        const proof = inclusionProof(index, size, tree.hashAt);
        expect(proof.length).toBeLessThanOrEqual(53);
        expect(verifyInclusion(index, size, tree.leafAt(index), proof, root)).toEqual({ ok: true, value: undefined });
        expect(verifyInclusion(index, size, leafHash(new TextEncoder().encode("plain")), proof, root).ok).toBe(false);
        expect(verifyInclusion(index === 0 ? 1 : index - 1, size, tree.leafAt(index), proof, root).ok).toBe(false);
      }
    }
  });

  it("consistency proofs between huge sizes", () => {
    for (const size2 of sizes) {
      const size1s = [1, 2 ** 31, 2 ** 31 + 7, Math.floor(size2 / 3), size2 - 1, size2].filter((s) => s <= size2);
      const tree = sparseTree([...indexesFor(size2), ...size1s.map((s) => s - 1)]);
      const root2 = rootAt(size2, tree.hashAt);
      for (const size1 of size1s) {
        const proof = consistencyProof(size1, size2, tree.hashAt);
        const root1 = rootAt(size1, tree.hashAt);
        expect(verifyConsistency(size1, size2, proof, root1, root2)).toEqual({ ok: true, value: undefined });
        if (size1 < size2) expect(verifyConsistency(size1 + 1, size2, proof, root1, root2).ok).toBe(false);
      }
    }
  });

  it("asks only for complete subtrees inside the tree", () => {
    const size = Number.MAX_SAFE_INTEGER;
    const tree = sparseTree([size - 2]);
    inclusionProof(size - 2, size, tree.hashAt);
    consistencyProof(2 ** 52 + 3, size, tree.hashAt);
    rootAt(size, tree.hashAt);
    expect(tree.asked.length).toBeGreaterThan(100);
    for (const [level, n] of tree.asked) expect((n + 1) * 2 ** level).toBeLessThanOrEqual(size);
  });
});

describe("attacker-controlled sizes, indexes and hashes are refused as values, not exceptions", () => {
  const ref = new RefTree(8);
  const hashAt = treeHashAt(ref.leaves);
  const root = ref.mth(0, 8);
  const leaf = ref.leaves[3] as Hash;
  const proof = inclusionProof(3, 8, hashAt);

  it.each([
    ["negative index", -1, 8],
    ["fractional index", 1.5, 8],
    ["NaN index", Number.NaN, 8],
    ["index equal to size", 8, 8],
    ["index past 2^53", 2 ** 64, 8],
    ["negative size", 3, -8],
    ["fractional size", 3, 8.5],
    ["infinite size", 3, Number.POSITIVE_INFINITY],
    ["size 2^53", 3, 2 ** 53],
    ["empty tree", 0, 0],
  ])("inclusion: %s", (_name, index, size) => {
    const result = verifyInclusion(index, size, leaf, proof, root);
    expect(result.ok).toBe(false);
  });

  it("inclusion: wrong-length leaf, root or proof hash, and over-long proofs", () => {
    expect(verifyInclusion(3, 8, leaf.slice(1), proof, root)).toMatchObject({
      ok: false,
      error: "leaf hash is 31 bytes, not 32",
    });
    expect(verifyInclusion(3, 8, leaf, proof, new Uint8Array(33))).toMatchObject({
      ok: false,
      error: "root is 33 bytes, not 32",
    });
    expect(verifyInclusion(3, 8, leaf, [proof[0] as Hash, new Uint8Array(0), proof[2] as Hash], root)).toMatchObject({
      ok: false,
      error: "proof hash 1 is 0 bytes, not 32",
    });
    const long = Array.from({ length: MAX_PROOF_LENGTH + 1 }, () => leaf);
    expect(verifyInclusion(3, 8, leaf, long, root)).toMatchObject({
      ok: false,
      error: "proof has 65 hashes; at most 64 are possible",
    });
    expect(verifyInclusion(3, 8, leaf, [...proof, leaf], root)).toMatchObject({
      ok: false,
      error: "inclusion proof is longer than the path to the root",
    });
    expect(verifyInclusion(3, 8, leaf, proof.slice(0, 2), root)).toMatchObject({
      ok: false,
      error: "inclusion proof is shorter than the path to the root",
    });
    expect(verifyInclusion(2, 8, leaf, proof, root)).toMatchObject({
      ok: false,
      error: "inclusion proof does not lead to the root",
    });
  });

  it("consistency: sizes and hashes", () => {
    const r4 = ref.mth(0, 4);
    const r6 = ref.mth(0, 6);
    const c = consistencyProof(6, 8, hashAt);
    expect(verifyConsistency(6, 8, c, r6, root).ok).toBe(true);
    expect(verifyConsistency(-1, 8, c, r6, root)).toMatchObject({
      ok: false,
      error: "size1 -1 is not an integer from 0 to 2^53 - 1",
    });
    expect(verifyConsistency(6, 2 ** 53, c, r6, root)).toMatchObject({
      ok: false,
      error: "size2 9007199254740992 is not an integer from 0 to 2^53 - 1",
    });
    expect(verifyConsistency(8, 6, c, root, r6)).toMatchObject({ ok: false, error: "size1 8 is larger than size2 6" });
    expect(verifyConsistency(0, 8, c, EMPTY_ROOT, root)).toMatchObject({
      ok: false,
      error: "a consistency proof from the empty tree proves nothing",
    });
    expect(verifyConsistency(8, 8, c, root, root)).toMatchObject({
      ok: false,
      error: "sizes are equal but the consistency proof is not empty",
    });
    expect(verifyConsistency(8, 8, [], root, r6)).toMatchObject({
      ok: false,
      error: "sizes are equal but the roots differ",
    });
    expect(verifyConsistency(8, 8, [], root, root).ok).toBe(true);
    expect(verifyConsistency(6, 8, [], r6, root)).toMatchObject({ ok: false, error: "consistency proof is empty" });
    expect(verifyConsistency(6, 8, c, r6.slice(2), root)).toMatchObject({
      ok: false,
      error: "root1 is 30 bytes, not 32",
    });
    expect(verifyConsistency(6, 8, c, r6, root.slice(1))).toMatchObject({
      ok: false,
      error: "root2 is 31 bytes, not 32",
    });
    expect(verifyConsistency(6, 8, [new Uint8Array(1)], r6, root)).toMatchObject({
      ok: false,
      error: "proof hash 0 is 1 bytes, not 32",
    });
    expect(verifyConsistency(6, 8, [...c, root], r6, root)).toMatchObject({
      ok: false,
      error: "consistency proof is longer than the path to the root",
    });
    expect(verifyConsistency(6, 8, c.slice(0, 1), r6, root)).toMatchObject({
      ok: false,
      error: "consistency proof is shorter than the path to the root",
    });
    expect(verifyConsistency(6, 8, c, r4, root)).toMatchObject({
      ok: false,
      error: "consistency proof does not lead to root1",
    });
    expect(verifyConsistency(6, 8, c, r6, r6)).toMatchObject({
      ok: false,
      error: "consistency proof does not lead to root2",
    });
    // A power-of-two old size: the old root is the proof's implicit first element.
    expect(verifyConsistency(4, 8, consistencyProof(4, 8, hashAt), r4, root).ok).toBe(true);
  });

  it("checkTreeSize and checkLeafIndex", () => {
    expect(checkTreeSize(0)).toEqual({ ok: true, value: 0 });
    expect(checkTreeSize(Number.MAX_SAFE_INTEGER).ok).toBe(true);
    expect(checkTreeSize(Number.MAX_SAFE_INTEGER + 1).ok).toBe(false);
    expect(checkLeafIndex(0, 1)).toEqual({ ok: true, value: 0 });
    expect(checkLeafIndex(0, -1)).toMatchObject({
      ok: false,
      error: "tree size -1 is not an integer from 0 to 2^53 - 1",
    });
    expect(checkLeafIndex(-0.5, 3)).toMatchObject({
      ok: false,
      error: "leaf index -0.5 is not a non-negative integer",
    });
  });
});

describe("generators refuse sizes no caller should pass, by throwing", () => {
  const ref = new RefTree(8);
  const hashAt = treeHashAt(ref.leaves);

  it("rootAt, inclusionProof, consistencyProof", () => {
    expect(rootAt(0, hashAt)).toEqual(EMPTY_ROOT);
    expect(() => rootAt(-1, hashAt)).toThrow(RangeError);
    expect(() => inclusionProof(8, 8, hashAt)).toThrow("leaf index 8 is not below tree size 8");
    expect(() => consistencyProof(0, 8, hashAt)).toThrow("no consistency proof from size 0 to size 8");
    expect(() => consistencyProof(9, 8, hashAt)).toThrow(RangeError);
    expect(() => consistencyProof(1, 2 ** 53, hashAt)).toThrow(RangeError);
    expect(consistencyProof(8, 8, hashAt)).toEqual([]);
  });

  it("extendHashAt and treeHashAt", () => {
    expect(() => hashAt(0, 8)).toThrow("level 0, index 8 is not a complete subtree of the tree of size 8");
    expect(() => hashAt(3, 1)).toThrow(RangeError);
    expect(() => hashAt(-1, 0)).toThrow("no stored hash at level -1, index 0");
    expect(() => hashAt(64, 0)).toThrow(RangeError);
    expect(() => hashAt(0, -1)).toThrow(RangeError);
    expect(() => hashAt(0, 0.5)).toThrow(RangeError);
    expect(() => noStoredHashes(0, 0)).toThrow("the empty tree has no hash at level 0, index 0");
    expect(() => treeHashAt([new Uint8Array(31)])).toThrow("new leaf hash 0 is 31 bytes, not 32");
    expect(() => extendHashAt(-1, hashAt, [])).toThrow(RangeError);
    expect(() => extendHashAt(Number.MAX_SAFE_INTEGER, hashAt, [leafHash(entry(0))])).toThrow(RangeError);
    // Remembered hashes come back identical.
    expect(hashAt(3, 0)).toBe(hashAt(3, 0));
    // Extending an 5-leaf tree by 3 gives the 8-leaf tree, asking the old tree only for old subtrees.
    const asked: [number, number][] = [];
    const five = treeHashAt(ref.leaves.slice(0, 5));
    const extended = extendHashAt(
      5,
      (level, n) => {
        asked.push([level, n]);
        return five(level, n);
      },
      ref.leaves.slice(5),
    );
    expect(hex(rootAt(8, extended))).toBe(hex(ref.mth(0, 8)));
    expect(asked).toEqual([
      [2, 0],
      [0, 4],
    ]);
  });
});
