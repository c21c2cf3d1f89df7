/**
 * The polling-station registry in D1 (db/schema.ts `stations`, `station_districts`,
 * `station_keys`, `station_serial_ranges`, `sheet_signing_keys`): stations with the districts they
 * serve, their devices' Ed25519 public keys, the ballot serials their ballot-marking devices may
 * print, and, per election, the election authority's keys that sign pre-printed ballot sheets.
 * Written by the administrators' routes (workers/gateway/routes/stations.ts), read by the station
 * guard (workers/gateway/auth/station.ts); the paper channel's key and serial lookups are in
 * paper.ts.
 *
 * What must stay true:
 * - A refused registration changes nothing: every check runs before the one D1 batch that writes,
 *   and that batch is one transaction, so a station never exists without its districts and key.
 * - kids are unique across station and sheet keys, and so is a public key (its QR key id).
 * - Serial ranges of different unrevoked stations never overlap (serials are one namespace per
 *   election). Checked before the write; two administrators racing to hand out overlapping
 *   ranges within the same moment could both pass, which the registry accepts as an operator error.
 * - A device key has one role (security review H3): a `client` key signs requests and result
 *   sheets, a `marking-device` key signs marked ballots and nothing else. The station guard
 *   refuses a request signed by a marking-device key (stationCredential), and the QR lookup
 *   (paper.ts) answers only keys of the role a payload needs. A station's first key is its client.
 */
import { and, asc, eq, gte, inArray, isNull, lte, ne, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { err, ok, type Result } from "../../lib/result.ts";
import type { SerialRange } from "../../lib/station/ids.ts";
import { StationKeyRole } from "../../lib/vocabulary.ts";
import { sheetSigningKeys, stationDistricts, stationKeys, stations, stationSerialRanges } from "../schema.ts";

type Db = ReturnType<typeof drizzle>;

/** A public JWK with its kid, as the stations routes accepted it; stored as JSON. */
interface KidJwk {
  readonly kid: string;
}

export interface StationSummary {
  readonly id: string;
  readonly name: string;
  readonly districtIds: string[];
  readonly serialRanges: { first: number; last: number }[];
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly keys: {
    kid: string;
    qrKeyId: string;
    role: StationKeyRole;
    createdAt: string;
    revokedAt: string | null;
  }[];
}

export interface SheetKeySummary {
  readonly kid: string;
  readonly electionId: string;
  readonly qrKeyId: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** A serial range refused: it overlaps the station's own ranges, or another station's. */
export type RangeOverlap =
  | { readonly overlaps: "own" }
  | { readonly overlaps: "other"; readonly stationId: string; readonly range: SerialRange };

/** True when some of the ranges overlap each other. */
export function rangesOverlap(ranges: readonly SerialRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  return sorted.some((r, i) => i > 0 && r.first <= (sorted[i - 1]?.last ?? -1));
}

/** kids are unique across station and sheet keys, and so is a public key. */
async function refuseKnownKey(db: Db, kid: string, keyId: string): Promise<Result<undefined, "key_exists">> {
  const [byStation, bySheet] = await db.batch([
    db
      .select({ kid: stationKeys.kid })
      .from(stationKeys)
      .where(or(eq(stationKeys.kid, kid), eq(stationKeys.qrKeyId, keyId))),
    db
      .select({ kid: sheetSigningKeys.kid })
      .from(sheetSigningKeys)
      .where(or(eq(sheetSigningKeys.kid, kid), eq(sheetSigningKeys.qrKeyId, keyId))),
  ]);
  return byStation.length > 0 || bySheet.length > 0 ? err("key_exists") : ok(undefined);
}

/** Refuses a range that overlaps one held by another unrevoked station; the first found is named. */
async function refuseTakenRanges(
  db: Db,
  ranges: readonly SerialRange[],
  exceptStation?: string,
): Promise<Result<undefined, RangeOverlap>> {
  for (const range of ranges) {
    const taken = await db
      .select({ stationId: stationSerialRanges.stationId })
      .from(stationSerialRanges)
      .innerJoin(stations, eq(stations.id, stationSerialRanges.stationId))
      .where(
        and(
          isNull(stations.revokedAt),
          lte(stationSerialRanges.firstSerial, range.last),
          gte(stationSerialRanges.lastSerial, range.first),
          exceptStation === undefined ? undefined : ne(stationSerialRanges.stationId, exceptStation),
        ),
      )
      .get();
    if (taken) return err({ overlaps: "other", stationId: taken.stationId, range });
  }
  return ok(undefined);
}

/** Stations (all, or those named), by id, with their districts, serial ranges and keys. */
export async function stationSummaries(d1: D1Database, stationIds?: readonly string[]): Promise<StationSummary[]> {
  const db = drizzle(d1);
  const filter = stationIds ? inArray(stations.id, [...stationIds]) : undefined;
  const [rows, districts, keys, ranges] = await db.batch([
    db.select().from(stations).where(filter).orderBy(asc(stations.id)),
    db
      .select()
      .from(stationDistricts)
      .where(stationIds ? inArray(stationDistricts.stationId, [...stationIds]) : undefined),
    db
      .select()
      .from(stationKeys)
      .where(stationIds ? inArray(stationKeys.stationId, [...stationIds]) : undefined),
    db
      .select()
      .from(stationSerialRanges)
      .where(stationIds ? inArray(stationSerialRanges.stationId, [...stationIds]) : undefined),
  ]);
  return rows.map((s) => ({
    id: s.id,
    name: s.name,
    districtIds: districts
      .filter((d) => d.stationId === s.id)
      .map((d) => d.districtId)
      .sort(),
    serialRanges: ranges
      .filter((r) => r.stationId === s.id)
      .map((r) => ({ first: r.firstSerial, last: r.lastSerial }))
      .sort((a, b) => a.first - b.first),
    createdAt: s.createdAt,
    revokedAt: s.revokedAt,
    keys: keys
      .filter((k) => k.stationId === s.id)
      .map((k) => ({ kid: k.kid, qrKeyId: k.qrKeyId, role: k.role, createdAt: k.createdAt, revokedAt: k.revokedAt }))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)),
  }));
}

/** Whether a station with this id was ever registered (revoked or not). */
export async function stationExists(d1: D1Database, stationId: string): Promise<boolean> {
  const row = await drizzle(d1).select({ id: stations.id }).from(stations).where(eq(stations.id, stationId)).get();
  return row !== undefined;
}

async function unrevokedStation(db: Db, stationId: string): Promise<boolean> {
  const row = await db
    .select({ id: stations.id })
    .from(stations)
    .where(and(eq(stations.id, stationId), isNull(stations.revokedAt)))
    .get();
  return row !== undefined;
}

export interface NewStation {
  readonly id: string;
  readonly name: string;
  readonly districtIds: readonly string[];
  readonly publicJwk: KidJwk;
  /** The QR key id of `publicJwk` (lib/qr/keys.ts). */
  readonly qrKeyId: string;
  /** Not overlapping each other (rangesOverlap); checked here against other stations'. */
  readonly serialRanges: readonly SerialRange[];
}

/** Registers a station with its districts, first device key and serial ranges, or changes nothing. */
export async function registerStation(
  d1: D1Database,
  station: NewStation,
): Promise<Result<StationSummary, "station_exists" | "key_exists" | RangeOverlap>> {
  const db = drizzle(d1);
  if (await db.select({ id: stations.id }).from(stations).where(eq(stations.id, station.id)).get()) {
    return err("station_exists");
  }
  const known = await refuseKnownKey(db, station.publicJwk.kid, station.qrKeyId);
  if (!known.ok) return known;
  const taken = await refuseTakenRanges(db, station.serialRanges);
  if (!taken.ok) return taken;
  const districtIds = [...new Set(station.districtIds)];
  // One D1 batch is one transaction: a station never exists without its districts and key.
  await db.batch([
    db.insert(stations).values({ id: station.id, name: station.name }),
    db.insert(stationDistricts).values(districtIds.map((districtId) => ({ stationId: station.id, districtId }))),
    db.insert(stationKeys).values({
      kid: station.publicJwk.kid,
      stationId: station.id,
      publicJwk: JSON.stringify(station.publicJwk),
      qrKeyId: station.qrKeyId,
    }),
    ...station.serialRanges.map((r) =>
      db.insert(stationSerialRanges).values({ stationId: station.id, firstSerial: r.first, lastSerial: r.last }),
    ),
  ]);
  const [summary] = await stationSummaries(d1, [station.id]);
  if (!summary) throw new Error(`station ${station.id} vanished after its registration`);
  return ok(summary);
}

/** Adds a device key of `role` to an unrevoked station (a new device, or key rotation). */
export async function addStationKey(
  d1: D1Database,
  stationId: string,
  publicJwk: KidJwk,
  qrKeyId: string,
  role: StationKeyRole,
): Promise<Result<undefined, "station_not_found" | "key_exists">> {
  const db = drizzle(d1);
  if (!(await unrevokedStation(db, stationId))) return err("station_not_found");
  const known = await refuseKnownKey(db, publicJwk.kid, qrKeyId);
  if (!known.ok) return known;
  await db
    .insert(stationKeys)
    .values({ kid: publicJwk.kid, stationId, publicJwk: JSON.stringify(publicJwk), qrKeyId, role });
  return ok(undefined);
}

/** Revokes one unrevoked device key of the station at `revokedAt`. */
export async function revokeStationKey(
  d1: D1Database,
  stationId: string,
  kid: string,
  revokedAt: string,
): Promise<Result<undefined, "key_not_found">> {
  const result = await drizzle(d1)
    .update(stationKeys)
    .set({ revokedAt })
    .where(and(eq(stationKeys.kid, kid), eq(stationKeys.stationId, stationId), isNull(stationKeys.revokedAt)))
    .run();
  return result.meta.changes === 1 ? ok(undefined) : err("key_not_found");
}

/** Revokes an unrevoked station at `revokedAt`: none of its keys is accepted any more. */
export async function revokeStation(
  d1: D1Database,
  stationId: string,
  revokedAt: string,
): Promise<Result<undefined, "station_not_found">> {
  const result = await drizzle(d1)
    .update(stations)
    .set({ revokedAt })
    .where(and(eq(stations.id, stationId), isNull(stations.revokedAt)))
    .run();
  return result.meta.changes === 1 ? ok(undefined) : err("station_not_found");
}

/** Assigns a further serial range to an unrevoked station's ballot-marking devices. */
export async function addSerialRange(
  d1: D1Database,
  stationId: string,
  range: SerialRange,
): Promise<Result<undefined, "station_not_found" | RangeOverlap>> {
  const db = drizzle(d1);
  if (!(await unrevokedStation(db, stationId))) return err("station_not_found");
  const own = await db.select().from(stationSerialRanges).where(eq(stationSerialRanges.stationId, stationId));
  if (rangesOverlap([...own.map((r) => ({ first: r.firstSerial, last: r.lastSerial })), range])) {
    return err({ overlaps: "own" });
  }
  const taken = await refuseTakenRanges(db, [range], stationId);
  if (!taken.ok) return taken;
  await db.insert(stationSerialRanges).values({ stationId, firstSerial: range.first, lastSerial: range.last });
  return ok(undefined);
}

/** Registers an election authority key that signs the election's pre-printed ballot sheets. */
export async function addSheetKey(
  d1: D1Database,
  electionId: string,
  publicJwk: KidJwk,
  qrKeyId: string,
): Promise<Result<SheetKeySummary, "key_exists">> {
  const db = drizzle(d1);
  const known = await refuseKnownKey(db, publicJwk.kid, qrKeyId);
  if (!known.ok) return known;
  const [row] = await db
    .insert(sheetSigningKeys)
    .values({ kid: publicJwk.kid, electionId, publicJwk: JSON.stringify(publicJwk), qrKeyId })
    .returning();
  if (!row) throw new Error("the sheet key insert returned no row");
  return ok({
    kid: row.kid,
    electionId: row.electionId,
    qrKeyId: row.qrKeyId,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  });
}

/** The election's ballot-sheet keys, oldest first, revoked ones included. */
export async function listSheetKeys(d1: D1Database, electionId: string): Promise<SheetKeySummary[]> {
  const rows = await drizzle(d1)
    .select()
    .from(sheetSigningKeys)
    .where(eq(sheetSigningKeys.electionId, electionId))
    .orderBy(asc(sheetSigningKeys.createdAt));
  return rows.map((r) => ({
    kid: r.kid,
    electionId: r.electionId,
    qrKeyId: r.qrKeyId,
    createdAt: r.createdAt,
    revokedAt: r.revokedAt,
  }));
}

/** Revokes one unrevoked ballot-sheet key of the election at `revokedAt`. */
export async function revokeSheetKey(
  d1: D1Database,
  electionId: string,
  kid: string,
  revokedAt: string,
): Promise<Result<undefined, "key_not_found">> {
  const result = await drizzle(d1)
    .update(sheetSigningKeys)
    .set({ revokedAt })
    .where(
      and(
        eq(sheetSigningKeys.kid, kid),
        eq(sheetSigningKeys.electionId, electionId),
        isNull(sheetSigningKeys.revokedAt),
      ),
    )
    .run();
  return result.meta.changes === 1 ? ok(undefined) : err("key_not_found");
}

/** What the station guard needs of a signed request's station and key, or why it is refused. */
export interface StationCredential {
  /** The key's public JWK as stored (JSON). */
  readonly publicJwk: string;
  /** The districts the station serves, sorted. */
  readonly districtIds: string[];
}

/**
 * The station and its key `kid`, in the guard's order of refusals (station first, then key). A
 * ballot-marking device's key never signs a request (station_key_not_for_requests).
 */
export async function stationCredential(
  d1: D1Database,
  stationId: string,
  kid: string,
): Promise<
  Result<
    StationCredential,
    | "station_unknown"
    | "station_revoked"
    | "station_key_unknown"
    | "station_key_revoked"
    | "station_key_not_for_requests"
  >
> {
  const db = drizzle(d1);
  const [station, key, districts] = await db.batch([
    db.select({ revokedAt: stations.revokedAt }).from(stations).where(eq(stations.id, stationId)),
    db
      .select({ publicJwk: stationKeys.publicJwk, revokedAt: stationKeys.revokedAt, role: stationKeys.role })
      .from(stationKeys)
      .where(and(eq(stationKeys.kid, kid), eq(stationKeys.stationId, stationId))),
    db
      .select({ districtId: stationDistricts.districtId })
      .from(stationDistricts)
      .where(eq(stationDistricts.stationId, stationId)),
  ]);
  const stationRow = station[0];
  if (!stationRow) return err("station_unknown");
  if (stationRow.revokedAt !== null) return err("station_revoked");
  const keyRow = key[0];
  if (!keyRow) return err("station_key_unknown");
  if (keyRow.revokedAt !== null) return err("station_key_revoked");
  if (keyRow.role !== "client") return err("station_key_not_for_requests");
  return ok({ publicJwk: keyRow.publicJwk, districtIds: districts.map((d) => d.districtId).sort() });
}

/**
 * What an election's log must show of its signing authorities when the election is (re)loaded:
 * every unrevoked station serving one of `districtIds`, with its districts, serial ranges and
 * unrevoked device keys (public JWKs as stored), and the election's unrevoked sheet keys.
 */
export interface AuthoritySnapshot {
  readonly stations: {
    readonly id: string;
    readonly districtIds: string[];
    readonly serialRanges: { first: number; last: number }[];
    readonly keys: { kid: string; publicJwk: string; role: StationKeyRole }[];
  }[];
  readonly sheetKeys: { kid: string; publicJwk: string }[];
}

export async function authoritySnapshot(
  d1: D1Database,
  electionId: string,
  districtIds: readonly string[],
): Promise<AuthoritySnapshot> {
  const db = drizzle(d1);
  const serving =
    districtIds.length === 0
      ? []
      : await db
          .selectDistinct({ stationId: stationDistricts.stationId })
          .from(stationDistricts)
          .innerJoin(stations, eq(stations.id, stationDistricts.stationId))
          .where(and(inArray(stationDistricts.districtId, [...districtIds]), isNull(stations.revokedAt)));
  const ids = serving.map((s) => s.stationId);
  const sheetKeys = await db
    .select({ kid: sheetSigningKeys.kid, publicJwk: sheetSigningKeys.publicJwk })
    .from(sheetSigningKeys)
    .where(and(eq(sheetSigningKeys.electionId, electionId), isNull(sheetSigningKeys.revokedAt)))
    .orderBy(asc(sheetSigningKeys.createdAt));
  if (ids.length === 0) return { stations: [], sheetKeys };
  const summaries = await stationSummaries(d1, ids);
  const keys = await db
    .select({
      kid: stationKeys.kid,
      stationId: stationKeys.stationId,
      publicJwk: stationKeys.publicJwk,
      role: stationKeys.role,
    })
    .from(stationKeys)
    .where(and(inArray(stationKeys.stationId, ids), isNull(stationKeys.revokedAt)))
    .orderBy(asc(stationKeys.createdAt));
  return {
    stations: summaries.map((s) => ({
      id: s.id,
      districtIds: s.districtIds,
      serialRanges: s.serialRanges,
      keys: keys
        .filter((k) => k.stationId === s.id)
        .map((k) => ({ kid: k.kid, publicJwk: k.publicJwk, role: StationKeyRole.parse(k.role) })),
    })),
    sheetKeys,
  };
}

/** A registered key as stored, to recognise a repeated addition or revocation (the routes log it then). */
export interface StoredKey {
  /** The station (device keys) or the election (sheet keys) it belongs to. */
  readonly owner: string;
  readonly publicJwk: string;
  readonly revokedAt: string | null;
}

export async function storedStationKey(d1: D1Database, kid: string): Promise<StoredKey | undefined> {
  const row = await drizzle(d1)
    .select({ owner: stationKeys.stationId, publicJwk: stationKeys.publicJwk, revokedAt: stationKeys.revokedAt })
    .from(stationKeys)
    .where(eq(stationKeys.kid, kid))
    .get();
  return row;
}

export async function storedSheetKey(d1: D1Database, kid: string): Promise<StoredKey | undefined> {
  const row = await drizzle(d1)
    .select({
      owner: sheetSigningKeys.electionId,
      publicJwk: sheetSigningKeys.publicJwk,
      revokedAt: sheetSigningKeys.revokedAt,
    })
    .from(sheetSigningKeys)
    .where(eq(sheetSigningKeys.kid, kid))
    .get();
  return row;
}
