/**
 * The c2sp.org/tlog-tiles layout of the audit log: tile and entry-bundle paths, entry bundles,
 * the set of tiles a log publishes when it grows, and reading stored hashes back out of tiles.
 *
 * No Workers or Node imports: the sequencer, the auditor CLI and the tests share this file.
 *
 * Layout (paths are relative to the log's prefix):
 *   tile/<L>/<N>[.p/<W>]      hash tiles: level L (0..63), index N, partial width W (1..255)
 *   tile/entries/<N>[.p/<W>]  entry bundles, aligned with the level-0 tiles
 * N is written in zero-padded 3-digit path elements, all but the last prefixed with "x":
 * 1234067 -> x001/x234/067, 5 -> 005.
 *
 * A tile at level L holds, for i in 0..255, MTH(D[(N*256 + i) * 256^L : (N*256 + i + 1) * 256^L]):
 * in this module's terms, hashAt(8 * L, N * 256 + i). With a tree of size s, level L holds
 * floor(s / 256^L) hashes; all tiles but the last of a level are full (256 hashes, 8192 bytes),
 * the last has floor(s / 256^L) mod 256 hashes and is published as a partial tile, unless empty.
 *
 * Invariant: tile bytes and paths read back from storage or the network are untrusted. Every
 * length is checked against the width the tree size implies before a hash is sliced out, and
 * every parsed number is a safe integer in its range. Hashes read from tiles are not
 * authenticated by this module: a proof built from them is checked against a signed root by
 * verifyInclusion/verifyConsistency, and verifyTiles checks a whole tree against its root.
 */
import { err, ok, type Result } from "../result.ts";
import { bytesEqual, concatBytes } from "../bytes.ts";
import {
  checkTreeSize,
  consistencyProof,
  HASH_SIZE,
  leafHash,
  nodeHash,
  rootAt,
  verifyConsistency,
  type Hash,
  type HashAt,
} from "./merkle.ts";

/** Each tile covers 8 levels of the tree: the height tlog-tiles fixes. */
export const TILE_HEIGHT = 8;
/** 2^TILE_HEIGHT hashes in a full tile, and entries in a full bundle. */
export const TILE_WIDTH = 256;
/** tlog-tiles levels are "between 0 and 63". */
export const MAX_TILE_LEVEL = 63;
/** Entry bundles prefix each entry with a big-endian uint16 length. */
export const MAX_ENTRY_SIZE = 65_535;

export type TilePath =
  | { readonly kind: "hash"; readonly level: number; readonly n: number; readonly width: number }
  | { readonly kind: "entries"; readonly n: number; readonly width: number };

export interface PublishedTile {
  readonly path: string;
  readonly data: Uint8Array;
}

function checkTileIndex(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`tile index ${n} is not a non-negative safe integer`);
}

function widthSuffix(width: number | undefined): string {
  if (width === undefined || width === TILE_WIDTH) return "";
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw new RangeError(`tile width ${width} is not from 1 to ${TILE_WIDTH}`);
  return `.p/${width}`;
}

function encodeIndex(n: number): string {
  checkTileIndex(n);
  let s = String(n % 1000).padStart(3, "0");
  for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    s = `x${String(rest % 1000).padStart(3, "0")}/${s}`;
  }
  return s;
}

/**
 * The path of hash tile N at level L: `tile/<L>/<N>[.p/<W>]`. `width` omitted or 256 names the
 * full tile. Throws RangeError for values out of range (paths are built from our own sizes).
 */
export function tilePath(level: number, n: number, width?: number): string {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL)
    throw new RangeError(`tile level ${level} is not from 0 to ${MAX_TILE_LEVEL}`);
  return `tile/${level}/${encodeIndex(n)}${widthSuffix(width)}`;
}

/** The path of entry bundle N: `tile/entries/<N>[.p/<W>]`. */
export function entriesPath(n: number, width?: number): string {
  return `tile/entries/${encodeIndex(n)}${widthSuffix(width)}`;
}

const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * Parses a tile or entry-bundle path in its one canonical form: no leading zero groups
 * (x000/005 is not 5), level 0..63, width 1..255 (a full tile has no suffix).
 */
export function parseTilePath(path: string): Result<TilePath, string> {
  const m = TILE_PATH.exec(path);
  if (m === null) return err(`"${path}" is not a tile path`);
  const [, levelText = "", indexText = "", widthText] = m;
  const groups = indexText.split("/").map((g) => g.replace("x", ""));
  if (groups.length > 1 && groups[0] === "000") return err(`"${path}" has a leading zero group in its index`);
  // 6 groups of 3 digits reach 10^18 - 1, past every safe integer; longer indexes cannot be valid.
  if (groups.length > 6) return err(`"${path}" has a tile index larger than 2^53 - 1`);
  const n = Number(groups.join(""));
  if (!Number.isSafeInteger(n)) return err(`"${path}" has a tile index larger than 2^53 - 1`);
  let width = TILE_WIDTH;
  if (widthText !== undefined) {
    width = Number(widthText);
    if (width >= TILE_WIDTH) return err(`"${path}" has partial width ${width}; a partial tile has 1 to 255 hashes`);
  }
  if (levelText === "entries") return ok({ kind: "entries", n, width });
  const level = Number(levelText);
  if (level > MAX_TILE_LEVEL) return err(`"${path}" has level ${level}; levels go from 0 to ${MAX_TILE_LEVEL}`);
  return ok({ kind: "hash", level, n, width });
}

/** Each entry as a big-endian uint16 length and its bytes. Throws RangeError for an entry over 65535 bytes or more than 256 entries. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH)
    throw new RangeError(`an entry bundle holds at most ${TILE_WIDTH} entries, got ${entries.length}`);
  const parts: Uint8Array[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry.length > MAX_ENTRY_SIZE)
      throw new RangeError(`entry ${i} is ${entry.length} bytes; at most ${MAX_ENTRY_SIZE} fit an entry bundle`);
    parts.push(new Uint8Array([entry.length >> 8, entry.length & 0xff]), entry);
  }
  return concatBytes(...parts);
}

/**
 * Splits an entry bundle into its entries. Refuses a truncated length or entry, an empty bundle
 * (tlog-tiles never serves empty tiles), more than 256 entries, and, when `expectedCount` is
 * given, any other number of entries.
 */
export function decodeEntryBundle(bytes: Uint8Array, expectedCount?: number): Result<Uint8Array[], string> {
  const entries: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (entries.length === TILE_WIDTH) return err(`entry bundle has more than ${TILE_WIDTH} entries`);
    if (offset + 2 > bytes.length) return err(`entry bundle ends inside the length of entry ${entries.length}`);
    const length = ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
    offset += 2;
    if (offset + length > bytes.length)
      return err(`entry ${entries.length} claims ${length} bytes but only ${bytes.length - offset} remain`);
    entries.push(bytes.slice(offset, offset + length));
    offset += length;
  }
  if (entries.length === 0) return err("entry bundle is empty");
  if (expectedCount !== undefined && entries.length !== expectedCount)
    return err(`entry bundle has ${entries.length} entries, expected ${expectedCount}`);
  return ok(entries);
}

/** How many hashes level L of a tree of `size` leaves holds: floor(size / 256^L). */
function hashesAtLevel(size: number, level: number): number {
  // 256^L is a power of two, so this division and floor are exact for every safe size.
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * Every hash tile, at every level, that is new or grew when the tree goes from `oldSize` to
 * `newSize` leaves: full tiles, and the partial tiles of the right edge at `newSize`. This is
 * exactly what a tlog-tiles log must publish for a checkpoint at `newSize` (entry bundles aside,
 * see entryBundlesForTree). Ordered by level, then index.
 */
export function tilesForTree(oldSize: number, newSize: number, hashAt: HashAt): PublishedTile[] {
  const o = checkTreeSize(oldSize, "old size");
  const s = checkTreeSize(newSize, "new size");
  if (!o.ok || !s.ok || oldSize > newSize)
    throw new RangeError(`cannot grow a tree from size ${oldSize} to size ${newSize}`);
  const tiles: PublishedTile[] = [];
  for (let level = 0; hashesAtLevel(newSize, level) > 0; level++) {
    const before = hashesAtLevel(oldSize, level);
    const after = hashesAtLevel(newSize, level);
    // A level that did not change means no level above it changed either.
    if (before === after) break;
    for (let n = Math.floor(before / TILE_WIDTH); n * TILE_WIDTH < after; n++) {
      const start = n * TILE_WIDTH;
      const width = Math.min(TILE_WIDTH, after - start);
      const hashes: Hash[] = [];
      for (let i = 0; i < width; i++) hashes.push(hashAt(TILE_HEIGHT * level, start + i));
      tiles.push({ path: tilePath(level, n, width), data: concatBytes(...hashes) });
    }
  }
  return tiles;
}

/**
 * The entry bundles that are new or grew when the tree goes from `oldSize` to `newSize`,
 * the bundle-side twin of tilesForTree. `entryAt(i)` returns entry i's bytes.
 */
export function entryBundlesForTree(
  oldSize: number,
  newSize: number,
  entryAt: (index: number) => Uint8Array,
): PublishedTile[] {
  const o = checkTreeSize(oldSize, "old size");
  const s = checkTreeSize(newSize, "new size");
  if (!o.ok || !s.ok || oldSize > newSize)
    throw new RangeError(`cannot grow a tree from size ${oldSize} to size ${newSize}`);
  const bundles: PublishedTile[] = [];
  for (let n = Math.floor(oldSize / TILE_WIDTH); n * TILE_WIDTH < newSize; n++) {
    const start = n * TILE_WIDTH;
    const width = Math.min(TILE_WIDTH, newSize - start);
    const entries: Uint8Array[] = [];
    for (let i = 0; i < width; i++) entries.push(entryAt(start + i));
    bundles.push({ path: entriesPath(n, width), data: encodeEntryBundle(entries) });
  }
  return bundles;
}

/** Every hash tile of the tree of `size` leaves, as {level, n, width, path}: full tiles and right-edge partials. */
export function tileCoordinates(size: number): { level: number; n: number; width: number; path: string }[] {
  const s = checkTreeSize(size);
  if (!s.ok) throw new RangeError(s.error);
  const out: { level: number; n: number; width: number; path: string }[] = [];
  for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
    const count = hashesAtLevel(size, level);
    for (let n = 0; n * TILE_WIDTH < count; n++) {
      const width = Math.min(TILE_WIDTH, count - n * TILE_WIDTH);
      out.push({ level, n, width, path: tilePath(level, n, width) });
    }
  }
  return out;
}

/**
 * The partial tiles of the tree of `size` leaves, lowest level first: all a sequencer must keep
 * (with the new leaves) to extend the tree, see extendHashAt.
 */
export function edgeTilePaths(size: number): string[] {
  const s = checkTreeSize(size);
  if (!s.ok) throw new RangeError(s.error);
  const paths: string[] = [];
  for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
    const count = hashesAtLevel(size, level);
    if (count % TILE_WIDTH !== 0) paths.push(tilePath(level, Math.floor(count / TILE_WIDTH), count % TILE_WIDTH));
  }
  return paths;
}

/** A tile needed by a hashAt over tiles is absent or malformed. Caught by readTileHashes. */
export class TileError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = "TileError";
    this.path = path;
  }
}

/** Where stored hash (level, n) of a tree of `size` leaves lives: which tile, which slots. */
function locate(size: number, level: number, n: number): { path: string; width: number; first: number; count: number } {
  // A complete subtree needs 2^level <= size <= 2^53 - 1, so the second test bounds level too.
  if (!Number.isSafeInteger(level) || level < 0 || !Number.isSafeInteger(n) || n < 0 || n + 1 > size / 2 ** level) {
    throw new RangeError(`level ${level}, index ${n} is not a complete subtree of the tree of size ${size}`);
  }
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const count = 2 ** (level % TILE_HEIGHT);
  // The subtree is `count` consecutive hashes of tile level `tileLevel`, all inside one tile
  // because count divides 256 and the subtree is aligned.
  const start = n * count;
  const tileIndex = Math.floor(start / TILE_WIDTH);
  const available = hashesAtLevel(size, tileLevel);
  const width = Math.min(TILE_WIDTH, available - tileIndex * TILE_WIDTH);
  return { path: tilePath(tileLevel, tileIndex, width), width, first: start - tileIndex * TILE_WIDTH, count };
}

/**
 * A hashAt for the tree of `size` leaves that reads tiles through `getTile(path)` (already in
 * memory: a Map, a cache, files read beforehand). Hashes below tile levels are computed from
 * the tile (at most 127 hashes). Throws TileError when a tile is missing or has the wrong
 * length for the width its path and the tree size imply.
 */
export function tileHashAt(size: number, getTile: (path: string) => Uint8Array | undefined): HashAt {
  const s = checkTreeSize(size);
  if (!s.ok) throw new RangeError(s.error);
  return (level, n) => {
    const { path, width, first, count } = locate(size, level, n);
    const tile = getTile(path);
    if (tile === undefined) throw new TileError(path, `tile ${path} is missing`);
    if (tile.length !== width * HASH_SIZE)
      throw new TileError(path, `tile ${path} is ${tile.length} bytes, not ${width * HASH_SIZE}`);
    return foldHashes(tile.subarray(first * HASH_SIZE, (first + count) * HASH_SIZE));
  };
}

/** Fetches a tile's bytes by path; undefined when there is no such object. */
export type TileFetcher = (path: string) => Promise<Uint8Array | undefined>;

const PLACEHOLDER: Hash = new Uint8Array(HASH_SIZE);

/**
 * Runs `compute` (a proof, a root, an extension of the tree) against the tiles of the tree of
 * `size` leaves, fetched through `fetchTile`.
 *
 * `hashAt` must be synchronous, fetching is not, so this runs `compute` twice: first with
 * placeholder hashes, only to record which tiles it reads (proofs, roots and tiles depend on
 * sizes and indexes, never on hash values), then, with those tiles fetched in parallel, for real.
 * Should a computation still miss a tile on the real run, the tile is fetched and the run
 * repeated, at most once per tile of the tree's height.
 *
 * A missing or malformed tile is an Err naming its path. The hashes are as the tiles say: check
 * the result (a proof against a signed root) before trusting it.
 */
export async function readTileHashes<T>(
  size: number,
  fetchTile: TileFetcher,
  compute: (hashAt: HashAt) => T,
): Promise<Result<T, string>> {
  const s = checkTreeSize(size);
  if (!s.ok) return s;
  const wanted = new Set<string>();
  compute((level, n) => {
    wanted.add(locate(size, level, n).path);
    return PLACEHOLDER;
  });
  const tiles = new Map<string, Uint8Array>();
  const fetchAll = async (paths: Iterable<string>): Promise<Result<void, string>> => {
    const fetched = await Promise.all([...paths].map(async (path) => [path, await fetchTile(path)] as const));
    for (const [path, data] of fetched) {
      if (data === undefined) return err(`tile ${path} is missing`);
      tiles.set(path, data);
    }
    return ok(undefined);
  };
  const first = await fetchAll(wanted);
  if (!first.ok) return first;
  // Each retry adds a tile; a computation's tiles number at most a few per level.
  for (let attempt = 0; ; attempt++) {
    try {
      return ok(compute(tileHashAt(size, (path) => tiles.get(path))));
    } catch (e) {
      if (!(e instanceof TileError)) throw e;
      if (tiles.has(e.path) || attempt >= 2 * MAX_TILE_LEVEL) return err(e.message);
      const more = await fetchAll([e.path]);
      if (!more.ok) return more;
    }
  }
}

/**
 * Checks every byte of a tree's hash tiles against its signed root: each full tile's Merkle
 * root must be the matching hash one level up, and the root computed from the tiles must equal
 * `root`. Together these bind every hash in every tile to the root. `getTile` supplies the
 * tiles (see tileCoordinates for the list).
 */
export function verifyTiles(
  size: number,
  root: Hash,
  getTile: (path: string) => Uint8Array | undefined,
): Result<void, string> {
  const s = checkTreeSize(size);
  if (!s.ok) return s;
  const hashAt = tileHashAt(size, getTile);
  try {
    for (const { level, n, width, path } of tileCoordinates(size)) {
      const tile = getTile(path);
      if (tile === undefined) return err(`tile ${path} is missing`);
      if (tile.length !== width * HASH_SIZE)
        return err(`tile ${path} is ${tile.length} bytes, not ${width * HASH_SIZE}`);
      // A full tile's subtree root is stored one level up; partial tiles are bound via the root.
      if (width === TILE_WIDTH && !bytesEqual(hashAt(TILE_HEIGHT * (level + 1), n), foldHashes(tile))) {
        return err(`tile ${path} does not hash to its entry in the tile above`);
      }
    }
    if (!bytesEqual(rootAt(size, hashAt), root))
      return err(`the tiles of the tree of size ${size} do not lead to its root`);
  } catch (e) {
    if (e instanceof TileError) return err(e.message);
    throw e;
  }
  return ok(undefined);
}

/** MTH of a power-of-two run of concatenated hashes (one hash: a copy of it). */
function foldHashes(hashes: Uint8Array): Hash {
  let layer: Hash[] = [];
  for (let i = 0; i < hashes.length; i += HASH_SIZE) layer.push(hashes.slice(i, i + HASH_SIZE));
  while (layer.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(nodeHash(layer[i] as Hash, layer[i + 1] as Hash));
    layer = next;
  }
  return layer[0] as Hash;
}

/** Checks that an entry bundle's entries hash to the matching level-0 tile, hash for hash. */
export function verifyEntryBundle(bundle: Uint8Array, levelZeroTile: Uint8Array): Result<Uint8Array[], string> {
  if (
    levelZeroTile.length === 0 ||
    levelZeroTile.length % HASH_SIZE !== 0 ||
    levelZeroTile.length > TILE_WIDTH * HASH_SIZE
  ) {
    return err(`level-0 tile is ${levelZeroTile.length} bytes, not 1 to ${TILE_WIDTH} hashes`);
  }
  const entries = decodeEntryBundle(bundle, levelZeroTile.length / HASH_SIZE);
  if (!entries.ok) return entries;
  for (const [i, entry] of entries.value.entries()) {
    if (!bytesEqual(leafHash(entry), levelZeroTile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
      return err(`entry ${i} of the bundle does not hash to the level-0 tile`);
    }
  }
  return entries;
}

/**
 * Proves that the tree of checkpoint `newer` extends the tree of checkpoint `older`: at equal
 * sizes the roots must be equal; a larger tree is checked with a consistency proof built from the
 * tiles of the newer tree that `fetchTile` reads (untrusted: the proof is checked against both
 * signed roots). The auditor CLI runs it between checkpoints it saw, the portal's receipt check
 * between a proof's checkpoint and the log's latest one. `names` say which is which in the error;
 * `source` names where the tiles came from.
 */
export async function proveExtends(
  older: { readonly size: number; readonly root: Hash },
  newer: { readonly size: number; readonly root: Hash },
  fetchTile: TileFetcher,
  names: { readonly older: string; readonly newer: string; readonly source: string },
): Promise<Result<void, string>> {
  if (older.size > newer.size) {
    return err(
      `${names.newer} (size ${newer.size}) is older than ${names.older} (size ${older.size}): the log went back (a rollback, or a stale copy)`,
    );
  }
  if (older.size === newer.size) {
    if (!bytesEqual(older.root, newer.root))
      return err(`${names.older} and ${names.newer} both have size ${older.size} but different roots: the log forked`);
    return ok(undefined);
  }
  if (older.size === 0) return ok(undefined);
  const proof = await readTileHashes(newer.size, fetchTile, (hashAt) =>
    consistencyProof(older.size, newer.size, hashAt),
  );
  if (!proof.ok) return err(`cannot build the consistency proof from ${names.source}: ${proof.error}`);
  const checked = verifyConsistency(older.size, newer.size, proof.value, older.root, newer.root);
  if (!checked.ok)
    return err(
      `${names.newer} (size ${newer.size}) does not extend ${names.older} (size ${older.size}): ${checked.error} — the log forked or was rewritten`,
    );
  return ok(undefined);
}
