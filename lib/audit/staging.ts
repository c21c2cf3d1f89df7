/**
 * The sequencer's staging bundle: everything one sequencing step publishes (the new tiles and
 * entry bundles, and the signed checkpoint), written to R2 before the checkpoint swap so that a
 * crash after the swap can finish publishing from it (durable-objects/log-sequencer.ts).
 * Runtime-free.
 *
 * Format, version 1 (integers big-endian):
 *   "mixed-election/log-staging/v1\n"
 *   size:u64 (the tree size the bundle publishes)
 *   u32 count ‖ (u16 path length ‖ path UTF-8 ‖ u32 data length ‖ data) * count
 *   u32 checkpoint length ‖ checkpoint note UTF-8
 * The sequencer keeps the SHA-256 of the whole bundle with the checkpoint it swaps in, and reads
 * a bundle back only if that digest matches.
 */
import { sha256 } from "../digest.ts";
import { err, ok, type Result } from "../result.ts";
import { concatBytes, utf8 } from "../bytes.ts";
import type { PublishedTile } from "../tlog/tiles.ts";

const MAGIC = utf8("mixed-election/log-staging/v1\n");

export interface StagingBundle {
  readonly size: number;
  readonly tiles: readonly PublishedTile[];
  readonly checkpoint: string;
}

function u16(v: number): Uint8Array {
  return new Uint8Array([v >>> 8, v & 0xff]);
}

function u32(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

function u64(v: number): Uint8Array {
  return concatBytes(u32(Math.floor(v / 2 ** 32)), u32(v % 2 ** 32));
}

export function encodeStaging(bundle: StagingBundle): Uint8Array {
  const parts: Uint8Array[] = [MAGIC, u64(bundle.size), u32(bundle.tiles.length)];
  for (const tile of bundle.tiles) {
    const path = utf8(tile.path);
    parts.push(u16(path.length), path, u32(tile.data.length), tile.data);
  }
  const checkpoint = utf8(bundle.checkpoint);
  parts.push(u32(checkpoint.length), checkpoint);
  return concatBytes(...parts);
}

export function stagingDigest(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

export function decodeStaging(bytes: Uint8Array): Result<StagingBundle, string> {
  let offset = 0;
  const take = (n: number): Uint8Array | undefined => {
    if (offset + n > bytes.length) return undefined;
    const out = bytes.subarray(offset, offset + n);
    offset += n;
    return out;
  };
  const num = (n: 2 | 4 | 8): number | undefined => {
    const b = take(n);
    if (!b) return undefined;
    let v = 0;
    for (const byte of b) v = v * 256 + byte;
    return v;
  };
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const magic = take(MAGIC.length);
  if (!magic || !magic.every((b, i) => b === MAGIC[i])) return err("not a staging bundle (bad magic)");
  const size = num(8);
  const count = num(4);
  if (size === undefined || count === undefined || !Number.isSafeInteger(size))
    return err("staging bundle header is truncated");
  const tiles: PublishedTile[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const pathLength = num(2);
      const path = pathLength === undefined ? undefined : take(pathLength);
      const dataLength = path === undefined ? undefined : num(4);
      const data = dataLength === undefined ? undefined : take(dataLength);
      if (!path || !data) return err(`staging bundle is truncated in tile ${i}`);
      tiles.push({ path: decoder.decode(path), data: data.slice() });
    }
    const checkpointLength = num(4);
    const checkpoint = checkpointLength === undefined ? undefined : take(checkpointLength);
    if (!checkpoint) return err("staging bundle is truncated in its checkpoint");
    if (offset !== bytes.length) return err("staging bundle has trailing bytes");
    return ok({ size, tiles, checkpoint: decoder.decode(checkpoint) });
  } catch {
    return err("staging bundle holds text that is not UTF-8");
  }
}
