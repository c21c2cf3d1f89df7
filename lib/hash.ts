/**
 * FNV-1a, 32 bits: cheap, stable across isolates and runtimes, and spreads short keys evenly
 * enough to pick a bucket, a queue or a shard. Not a cryptographic hash: never use it where an
 * adversary choosing keys could matter beyond load balance.
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
