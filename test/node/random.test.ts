import { afterEach, describe, expect, it, vi } from "vitest";
import { shuffleRange, shuffled } from "../../lib/random.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Makes crypto.getRandomValues hand out `words` in turn (one 32-bit word per call). */
function feed(words: number[]): void {
  const queue = [...words];
  vi.spyOn(crypto, "getRandomValues").mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
    const next = queue.shift();
    if (next === undefined) throw new Error("ran out of words");
    (array as unknown as Uint32Array)[0] = next;
    return array;
  });
}

describe("shuffled", () => {
  it("returns every item once and leaves the input alone", () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const out = shuffled(items);
    expect(items).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...out].sort((a, b) => a - b)).toEqual(items);
  });

  it("draws every order of three items about equally often", () => {
    const counts = new Map<string, number>();
    const rounds = 60_000;
    for (let i = 0; i < rounds; i++) {
      const key = shuffled(["a", "b", "c"]).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // Expected 10 000 each; the standard deviation is about 91, so 600 is over six of them.
    for (const count of counts.values()) expect(Math.abs(count - rounds / 6)).toBeLessThan(600);
  });

  it("throws away a draw from the incomplete top range instead of folding it (no modulo bias)", () => {
    // Three items: first a draw below 3. 2^32 - 1 lies above the largest multiple of 3 that fits
    // in 32 bits, so a modulo would map it to 0 and favour the low indices; it must be redrawn.
    feed([0xffff_ffff, 1, 0]);
    // i = 2 swaps with 1, then i = 1 swaps with 0: [a, b, c] -> [a, c, b] -> [c, a, b].
    expect(shuffled(["a", "b", "c"])).toEqual(["c", "a", "b"]);
  });
});

describe("shuffleRange", () => {
  it("moves only the items in [start, end)", () => {
    const list = Array.from({ length: 20 }, (_, i) => i);
    shuffleRange(list, 5, 12);
    expect(list.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(list.slice(12)).toEqual(Array.from({ length: 8 }, (_, i) => i + 12));
    expect(list.slice(5, 12).sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9, 10, 11]);
  });

  it("draws each position's index from the run only", () => {
    // Run [2, 5): draws below 3 then below 2; a draw of 0 always picks the run's first item.
    feed([0, 0]);
    const list = ["x", "y", "a", "b", "c", "z"];
    shuffleRange(list, 2, 5);
    // i = 4 swaps with 2: [c, b, a]; i = 3 swaps with 2: [b, c, a].
    expect(list).toEqual(["x", "y", "b", "c", "a", "z"]);
  });
});
