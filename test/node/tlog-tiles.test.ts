/**
 * The tlog-tiles layout: the spec's path examples, entry bundles, the tiles published as a log
 * grows (checked against a naive reference at every size 0..1200 and across large jumps), proofs
 * read back from tiles, and a flipped byte in any tile or bundle being caught.
 */
import { describe, expect, it } from "vitest";
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  rootAt,
  treeHashAt,
  verifyConsistency,
  verifyInclusion,
  extendHashAt,
  type Hash,
} from "../../lib/tlog/merkle.ts";
import {
  decodeEntryBundle,
  edgeTilePaths,
  encodeEntryBundle,
  entriesPath,
  entryBundlesForTree,
  MAX_ENTRY_SIZE,
  parseTilePath,
  readTileHashes,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileCoordinates,
  tileHashAt,
  tilePath,
  tilesForTree,
  verifyEntryBundle,
  verifyTiles,
  type PublishedTile,
} from "../../lib/tlog/tiles.ts";
import { entry, flips, hex, RefTree } from "./helpers/tlog.ts";

describe("tile paths", () => {
  it.each([
    [0, 0, undefined, "tile/0/000"],
    [0, 5, undefined, "tile/0/005"],
    [0, 999, undefined, "tile/0/999"],
    [0, 1000, undefined, "tile/0/x001/000"],
    // The spec's example: index 1234067 is x001/x234/067.
    [0, 1234067, undefined, "tile/0/x001/x234/067"],
    [1, 1234067, 17, "tile/1/x001/x234/067.p/17"],
    [2, 0, 1, "tile/2/000.p/1"],
    [0, 273, 112, "tile/0/273.p/112"],
    [3, 7, 256, "tile/3/007"],
    [63, Number.MAX_SAFE_INTEGER, 255, "tile/63/x009/x007/x199/x254/x740/991.p/255"],
  ])("tilePath(%d, %d, %s) = %s", (level, n, width, path) => {
    expect(tilePath(level, n, width)).toBe(path);
    expect(parseTilePath(path)).toEqual({ ok: true, value: { kind: "hash", level, n, width: width ?? 256 } });
  });

  it("entry bundle paths", () => {
    expect(entriesPath(0)).toBe("tile/entries/000");
    expect(entriesPath(1234067, 112)).toBe("tile/entries/x001/x234/067.p/112");
    expect(entriesPath(1000, 256)).toBe("tile/entries/x001/000");
    expect(parseTilePath("tile/entries/x001/x234/067.p/112")).toEqual({
      ok: true,
      value: { kind: "entries", n: 1234067, width: 112 },
    });
    expect(parseTilePath("tile/entries/000")).toEqual({ ok: true, value: { kind: "entries", n: 0, width: 256 } });
  });

  it("round-trips many indexes and widths", () => {
    for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 999_999, 1_000_000, 2 ** 31, 2 ** 40 + 17, 2 ** 53 - 1]) {
      for (const width of [1, 17, 255, 256]) {
        const parsed = parseTilePath(tilePath(5, n, width));
        expect(parsed).toEqual({ ok: true, value: { kind: "hash", level: 5, n, width } });
      }
    }
  });

  it.each([
    "tile/0/x000/005", // leading zero group: 5 has one spelling
    "tile/00/000", // leading zero in the level
    "tile/64/000", // level past 63
    "tile/0/000.p/256", // a full tile has no suffix
    "tile/0/000.p/0",
    "tile/0/000.p/05",
    "tile/0/00",
    "tile/0/0000",
    "tile/0/x001",
    "tile/0/001/002",
    "tile/0/x1000/000",
    "/tile/0/000",
    "tile/0/000/",
    "tile/0/000.p/",
    "tile/0/000.p/1/",
    "tile/-1/000",
    "tile/entries/x000/000",
    "tile/entry/000",
    "tile/0/x009/x007/x199/x254/x740/992", // 2^53
    "tile/0/x001/x009/x007/x199/x254/x740/991",
    "tile/0/x999/x999/x999/x999/x999/999",
    "",
  ])("refuses %j", (path) => {
    expect(parseTilePath(path).ok).toBe(false);
  });

  it("refuses to build paths out of range", () => {
    expect(() => tilePath(64, 0)).toThrow(RangeError);
    expect(() => tilePath(-1, 0)).toThrow(RangeError);
    expect(() => tilePath(0, -1)).toThrow(RangeError);
    expect(() => tilePath(0, 1.5)).toThrow(RangeError);
    expect(() => tilePath(0, 2 ** 53)).toThrow(RangeError);
    expect(() => tilePath(0, 0, 0)).toThrow(RangeError);
    expect(() => tilePath(0, 0, 257)).toThrow(RangeError);
    expect(() => entriesPath(0, 1.5)).toThrow(RangeError);
  });
});

describe("entry bundles", () => {
  it("are big-endian uint16 lengths and bytes", () => {
    const bundle = encodeEntryBundle([new TextEncoder().encode("a"), new Uint8Array(0), new Uint8Array(258).fill(7)]);
    expect(hex(bundle.subarray(0, 7))).toBe("00016100000102");
    expect(bundle.length).toBe(2 + 1 + 2 + 2 + 258);
    const decoded = decodeEntryBundle(bundle);
    expect(decoded.ok && decoded.value.map(hex)).toEqual(["61", "", "07".repeat(258)]);
  });

  it("round-trip full bundles and the largest entry", () => {
    const entries = Array.from({ length: TILE_WIDTH }, (_, i) => entry(i));
    expect(decodeEntryBundle(encodeEntryBundle(entries), 256)).toEqual({ ok: true, value: entries });
    const biggest = new Uint8Array(MAX_ENTRY_SIZE).fill(0xab);
    const one = encodeEntryBundle([biggest]);
    expect(hex(one.subarray(0, 2))).toBe("ffff");
    expect(decodeEntryBundle(one)).toEqual({ ok: true, value: [biggest] });
  });

  it("refuse entries over 65535 bytes and more than 256 entries", () => {
    expect(() => encodeEntryBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)])).toThrow(
      "entry 0 is 65536 bytes; at most 65535 fit an entry bundle",
    );
    expect(() => encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(1)))).toThrow(RangeError);
  });

  it.each([
    ["empty", [], "entry bundle is empty"],
    ["a lone length byte", [0x00], "entry bundle ends inside the length of entry 0"],
    ["a truncated entry", [0x00, 0x03, 1, 2], "entry 0 claims 3 bytes but only 2 remain"],
    ["a truncated second length", [0x00, 0x01, 1, 0x00], "entry bundle ends inside the length of entry 1"],
    ["a length past the end", [0xff, 0xff, 1], "entry 0 claims 65535 bytes but only 1 remain"],
  ])("refuse %s", (_name, bytes, message) => {
    expect(decodeEntryBundle(new Uint8Array(bytes))).toEqual({ ok: false, error: message });
  });

  it("refuse 257 entries and an unexpected count", () => {
    const many = new Uint8Array(257 * 2);
    expect(decodeEntryBundle(many)).toEqual({ ok: false, error: "entry bundle has more than 256 entries" });
    expect(decodeEntryBundle(encodeEntryBundle([entry(0), entry(1)]), 3)).toEqual({
      ok: false,
      error: "entry bundle has 2 entries, expected 3",
    });
  });
});

/** The tiles a reference tree has at `size`, minus those already there at `oldSize`. */
function expectedNewTiles(ref: RefTree, oldSize: number, newSize: number): Map<string, string> {
  const before = ref.tiles(oldSize);
  const out = new Map<string, string>();
  for (const [path, data] of ref.tiles(newSize)) if (!before.has(path)) out.set(path, hex(data));
  return out;
}

function asMap(tiles: readonly PublishedTile[]): Map<string, string> {
  return new Map(tiles.map((t) => [t.path, hex(t.data)]));
}

describe("tilesForTree publishes exactly the new and grown tiles", () => {
  const ref = new RefTree(1300);
  const hashAt = treeHashAt(ref.leaves);

  it("the spec's examples: sizes 70000 and 256", () => {
    const coords = tileCoordinates(70_000);
    expect(coords.filter((c) => c.level === 0 && c.width === 256)).toHaveLength(273);
    expect(coords.filter((c) => c.width < 256).map((c) => c.path)).toEqual([
      "tile/0/273.p/112",
      "tile/1/001.p/17",
      "tile/2/000.p/1",
    ]);
    expect(coords.filter((c) => c.level === 1 && c.width === 256).map((c) => c.path)).toEqual(["tile/1/000"]);
    expect(coords).toHaveLength(273 + 1 + 1 + 1 + 1);
    expect(tileCoordinates(256).map((c) => c.path)).toEqual(["tile/0/000", "tile/1/000.p/1"]);
    expect(tileCoordinates(0)).toEqual([]);
    expect(edgeTilePaths(70_000)).toEqual(["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]);
    expect(edgeTilePaths(65_536)).toEqual(["tile/2/000.p/1"]);
  });

  it("one entry at a time, every size 0..1200", () => {
    for (let size = 1; size <= 1200; size++) {
      expect(asMap(tilesForTree(size - 1, size, hashAt)), `size ${size}`).toEqual(
        expectedNewTiles(ref, size - 1, size),
      );
    }
  });

  it("from empty to every size 0..1200, and from every size to 1200", () => {
    for (let size = 0; size <= 1200; size++) {
      expect(asMap(tilesForTree(0, size, hashAt)), `0 -> ${size}`).toEqual(expectedNewTiles(ref, 0, size));
      expect(asMap(tilesForTree(size, 1200, hashAt)), `${size} -> 1200`).toEqual(expectedNewTiles(ref, size, 1200));
    }
    expect(tilesForTree(700, 700, hashAt)).toEqual([]);
  });

  it("entry bundles follow the level-0 tiles", () => {
    const bundles = entryBundlesForTree(250, 600, entry);
    expect(bundles.map((b) => b.path)).toEqual(["tile/entries/000", "tile/entries/001", "tile/entries/002.p/88"]);
    const last = decodeEntryBundle(bundles[2]?.data ?? new Uint8Array(0));
    expect(last.ok && last.value.map(hex)).toEqual(Array.from({ length: 88 }, (_, i) => hex(entry(512 + i))));
    expect(entryBundlesForTree(512, 512, entry)).toEqual([]);
    expect(() => entryBundlesForTree(3, 2, entry)).toThrow(RangeError);
    expect(() => tilesForTree(3, 2, hashAt)).toThrow(RangeError);
    expect(() => tilesForTree(-1, 2, hashAt)).toThrow(RangeError);
  });
});

/**
 * A sequencer's loop: keep only the right-edge (partial) tiles, extend them with each batch of new
 * leaves, publish what tilesForTree returns. The published set must equal the reference tree's,
 * and the roots must match, across jumps that cross every tile boundary, up to 70,000 leaves.
 */
describe("growing a log from its edge tiles alone", () => {
  it("matches the reference tree at every checkpoint, up to 70,000 leaves", () => {
    const steps = [1, 1, 254, 1, 1, 255, 256, 257, 3000, 1, 60_000, 5535 - 2 + 1, 1, 1, 255, 700, 2, 1000 - 1];
    const final = steps.reduce((a, b) => a + b, 0);
    const ref = new RefTree(final);
    const published = new Map<string, Uint8Array>();
    let size = 0;
    for (const step of steps) {
      const newSize = size + step;
      const edge = new Map(edgeTilePaths(size).map((p) => [p, published.get(p)]));
      const base = tileHashAt(size, (p) => edge.get(p));
      const grown = extendHashAt(size, base, ref.leaves.slice(size, newSize));
      const tiles = tilesForTree(size, newSize, grown);
      expect(hex(rootAt(newSize, grown)), `root at ${newSize}`).toBe(hex(ref.mth(0, newSize)));
      for (const t of tiles) {
        expect(published.has(t.path), `${t.path} published twice`).toBe(false);
        published.set(t.path, t.data);
      }
      size = newSize;
    }
    expect(size).toBe(final);
    const want = ref.tiles(final);
    for (const [path, data] of want) expect(hex(published.get(path) ?? new Uint8Array(0)), path).toBe(hex(data));
    // Everything else published is a partial tile of some earlier checkpoint, since superseded.
    for (const path of published.keys()) if (!want.has(path)) expect(path).toMatch(/\.p\/\d+$/);
  });
});

describe("reading stored hashes from tiles", () => {
  const SIZE = 70_000;
  const ref = new RefTree(SIZE);
  const tiles = asBytes(tilesForTree(0, SIZE, treeHashAt(ref.leaves)));
  const fetched: string[] = [];
  const fetchTile = async (path: string): Promise<Uint8Array | undefined> => {
    fetched.push(path);
    return tiles.get(path);
  };

  function asBytes(list: readonly PublishedTile[]): Map<string, Uint8Array> {
    return new Map(list.map((t) => [t.path, t.data]));
  }

  it("proofs computed from fetched tiles verify against the reference roots", async () => {
    const root = ref.mth(0, SIZE);
    for (const index of [0, 1, 255, 256, 65_535, 65_536, 69_887, 69_888, 69_999]) {
      fetched.length = 0;
      const proof = await readTileHashes(SIZE, fetchTile, (h) => inclusionProof(index, SIZE, h));
      expect(proof.ok).toBe(true);
      if (!proof.ok) continue;
      expect(proof.value.map(hex)).toEqual(ref.path(index, 0, SIZE).map(hex));
      expect(verifyInclusion(index, SIZE, ref.leaves[index] as Hash, proof.value, root).ok).toBe(true);
      // One fetch per tile, all known from the dry run.
      expect(new Set(fetched).size).toBe(fetched.length);
    }
    for (const old of [1, 256, 300, 65_536, 69_000]) {
      const proof = await readTileHashes(SIZE, fetchTile, (h) => consistencyProof(old, SIZE, h));
      expect(proof.ok && verifyConsistency(old, SIZE, proof.value, ref.mth(0, old), root).ok).toBe(true);
    }
    const r = await readTileHashes(SIZE, fetchTile, (h) => rootAt(SIZE, h));
    expect(r.ok && hex(r.value)).toBe(hex(root));
  });

  it("a smaller tree's proofs read its own partial tiles, which a later checkpoint superseded", async () => {
    const older = 300;
    const olderTiles = asBytes(tilesForTree(0, older, treeHashAt(ref.leaves)));
    const proof = await readTileHashes(
      older,
      async (p) => olderTiles.get(p),
      (h) => inclusionProof(290, older, h),
    );
    expect(proof.ok && verifyInclusion(290, older, ref.leaves[290] as Hash, proof.value, ref.mth(0, older)).ok).toBe(
      true,
    );
  });

  it("a missing or malformed tile is an Err naming it", async () => {
    const missing = await readTileHashes(
      SIZE,
      async (p) => (p === "tile/0/000" ? undefined : tiles.get(p)),
      (h) => inclusionProof(3, SIZE, h),
    );
    expect(missing).toEqual({ ok: false, error: "tile tile/0/000 is missing" });
    const short = await readTileHashes(
      SIZE,
      async (p) => (p === "tile/0/273.p/112" ? new Uint8Array(111 * 32) : tiles.get(p)),
      (h) => inclusionProof(69_999, SIZE, h),
    );
    expect(short).toEqual({ ok: false, error: "tile tile/0/273.p/112 is 3552 bytes, not 3584" });
    expect(await readTileHashes(-1, fetchTile, (h) => rootAt(1, h))).toMatchObject({ ok: false });
  });

  it("a computation that picks hashes by value fetches what the dry run missed", async () => {
    fetched.length = 0;
    // Which leaf to read depends on a hash: the placeholder run reads leaf 0's tile only.
    const result = await readTileHashes(SIZE, fetchTile, (h) => {
      const first = h(0, 0)[0] ?? 0;
      return h(0, 1000 + first * 100);
    });
    const pick = 1000 + (ref.leaves[0]?.[0] ?? 0) * 100;
    expect(result.ok && hex(result.value)).toBe(hex(ref.leaves[pick] as Hash));
    expect(fetched.length).toBeGreaterThanOrEqual(2);
    // A tile that stays missing on the retry is an Err too.
    const gone = await readTileHashes(
      SIZE,
      async (p) => (p === "tile/0/000" ? tiles.get(p) : undefined),
      (h) => h(0, 1000 + (h(0, 0)[0] ?? 0) * 100),
    );
    expect(gone.ok).toBe(false);
  });

  it("other exceptions from the computation propagate: they are bugs", async () => {
    await expect(readTileHashes(SIZE, fetchTile, (h) => h(0, SIZE))).rejects.toThrow(RangeError);
  });

  it("tileHashAt answers every level from 0 to 16 from the tiles", () => {
    const h = tileHashAt(SIZE, (p) => tiles.get(p));
    for (let level = 0; level <= 16; level++) {
      for (const n of [0, Math.floor(SIZE / 2 ** level) - 1]) {
        expect(hex(h(level, n)), `level ${level}, n ${n}`).toBe(hex(ref.mth(n * 2 ** level, (n + 1) * 2 ** level)));
      }
    }
    expect(() => h(17, 0)).toThrow(RangeError);
    expect(() => h(0, -1)).toThrow(RangeError);
    expect(() => tileHashAt(-1, (p) => tiles.get(p))).toThrow(RangeError);
  });
});

describe("a flipped byte in any tile or bundle is caught", () => {
  it("verifyTiles accepts the published tiles and refuses any single corrupted byte", () => {
    const SIZE = 520;
    const ref = new RefTree(SIZE);
    const tiles = new Map(tilesForTree(0, SIZE, treeHashAt(ref.leaves)).map((t) => [t.path, t.data]));
    const root = ref.mth(0, SIZE);
    expect(verifyTiles(SIZE, root, (p) => tiles.get(p))).toEqual({ ok: true, value: undefined });
    expect([...tiles.keys()]).toEqual(["tile/0/000", "tile/0/001", "tile/0/002.p/8", "tile/1/000.p/2"]);
    let checked = 0;
    for (const [path, data] of tiles) {
      // Every byte of the partial tiles and of one full tile; every hash's first and last byte elsewhere.
      const everyByte = path !== "tile/0/001";
      for (const { at, bytes } of flips(data)) {
        if (!everyByte && at % 32 !== 0 && at % 32 !== 31) continue;
        const corrupted = new Map(tiles).set(path, bytes);
        expect(verifyTiles(SIZE, root, (p) => corrupted.get(p)).ok, `${path} byte ${at}`).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(9000);
  });

  it("verifyTiles names missing, short and inconsistent tiles and a wrong root", () => {
    const SIZE = 300;
    const ref = new RefTree(SIZE);
    const tiles = new Map(tilesForTree(0, SIZE, treeHashAt(ref.leaves)).map((t) => [t.path, t.data]));
    const root = ref.mth(0, SIZE);
    const without = (path: string): Map<string, Uint8Array> => {
      const m = new Map(tiles);
      m.delete(path);
      return m;
    };
    expect(verifyTiles(SIZE, root, (p) => without("tile/0/000").get(p))).toEqual({
      ok: false,
      error: "tile tile/0/000 is missing",
    });
    expect(verifyTiles(SIZE, root, (p) => without("tile/1/000.p/1").get(p))).toEqual({
      ok: false,
      error: "tile tile/1/000.p/1 is missing",
    });
    const short = new Map(tiles).set("tile/0/001.p/44", new Uint8Array(32));
    expect(verifyTiles(SIZE, root, (p) => short.get(p))).toEqual({
      ok: false,
      error: "tile tile/0/001.p/44 is 32 bytes, not 1408",
    });
    const swapped = new Map(tiles).set("tile/1/000.p/1", ref.mth(0, 255).slice());
    expect(verifyTiles(SIZE, root, (p) => swapped.get(p))).toEqual({
      ok: false,
      error: "tile tile/0/000 does not hash to its entry in the tile above",
    });
    expect(verifyTiles(SIZE, ref.mth(0, 299), (p) => tiles.get(p))).toEqual({
      ok: false,
      error: "the tiles of the tree of size 300 do not lead to its root",
    });
    expect(verifyTiles(-3, root, (p) => tiles.get(p)).ok).toBe(false);
    expect(verifyTiles(0, rootAt(0, treeHashAt([])), () => undefined)).toEqual({ ok: true, value: undefined });
  });

  it("verifyEntryBundle binds every byte of a bundle to its level-0 tile", () => {
    const SIZE = 256 + 40;
    const ref = new RefTree(SIZE);
    const tiles = new Map(tilesForTree(0, SIZE, treeHashAt(ref.leaves)).map((t) => [t.path, t.data]));
    for (const bundle of entryBundlesForTree(0, SIZE, entry)) {
      const tile = tiles.get(bundle.path.replace("entries", "0")) ?? new Uint8Array(0);
      const good = verifyEntryBundle(bundle.data, tile);
      expect(good.ok, bundle.path).toBe(true);
      for (const { at, bytes } of flips(bundle.data))
        expect(verifyEntryBundle(bytes, tile).ok, `${bundle.path} byte ${at}`).toBe(false);
    }
    expect(verifyEntryBundle(encodeEntryBundle([entry(0)]), new Uint8Array(31))).toEqual({
      ok: false,
      error: "level-0 tile is 31 bytes, not 1 to 256 hashes",
    });
    expect(verifyEntryBundle(encodeEntryBundle([entry(0)]), new Uint8Array(0)).ok).toBe(false);
    expect(verifyEntryBundle(encodeEntryBundle([entry(0)]), new Uint8Array(257 * 32)).ok).toBe(false);
    expect(verifyEntryBundle(encodeEntryBundle([entry(0)]), leafHash(entry(1)))).toEqual({
      ok: false,
      error: "entry 0 of the bundle does not hash to the level-0 tile",
    });
  });

  it("TILE_HEIGHT and TILE_WIDTH are the spec's", () => {
    expect(TILE_HEIGHT).toBe(8);
    expect(TILE_WIDTH).toBe(2 ** TILE_HEIGHT);
  });
});
