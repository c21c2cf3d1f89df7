/**
 * A small seeded generator (mulberry32) for drills and tests, so a simulated day or a fuzz run can
 * be replayed from its seed. It is predictable by design: never use it for secrets, shuffles that
 * hide an order, or anything a voter relies on (lib/random.ts is the one for those).
 */

/** Numbers in [0, 1), the same sequence for the same seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
