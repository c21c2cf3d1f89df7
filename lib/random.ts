/**
 * Uniform random choices from the platform CSPRNG (`crypto.getRandomValues`), the one
 * implementation the sequencer's step shuffle and the sheet printer's page order use. Both hide an
 * order (arrival, serial number) that would otherwise link a ballot or a sheet to a person, so a
 * biased or predictable shuffle would leak: integers come by rejection sampling (no modulo bias)
 * and the shuffle is Fisher-Yates, which makes every permutation equally likely.
 */

/** A uniform random integer in [0, bound), for 0 < bound <= 2^32 (rejection sampling). */
function randomBelow(bound: number): number {
  const limit = Math.floor(0x1_0000_0000 / bound) * bound;
  const word = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(word);
    const value = word[0] ?? 0;
    if (value < limit) return value % bound;
  }
}

/** Puts list[start..end) in a uniformly random order, in place (Fisher-Yates). */
export function shuffleRange<T>(list: T[], start = 0, end = list.length): void {
  for (let i = end - 1; i > start; i--) {
    const j = start + randomBelow(i - start + 1);
    const held = list[i] as T;
    list[i] = list[j] as T;
    list[j] = held;
  }
}

/** A copy of `items` in a uniformly random order. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  shuffleRange(out);
  return out;
}
