/**
 * The polling-station registry (administrators write, auditors read): stations with the districts
 * they serve, their devices' Ed25519 public keys (every station request and every marked ballot
 * and result sheet is signed by one), the ballot serials their ballot-marking devices may print,
 * and, per election, the election authority's keys that sign pre-printed ballot sheets.
 * Keys rotate by add-then-revoke; revoking a station stops all of its keys at once.
 *
 * A refused registration changes nothing: every check runs before the one D1 batch that writes.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, eq, gte, inArray, isNull, lte, ne, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { sheetSigningKeys, stationDistricts, stationKeys, stations, stationSerialRanges } from "../../../db/schema.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { qrKeyId } from "../../../lib/qr/keys.ts";
import { DistrictId, Ed25519PublicJwk, KeyKid, SerialRange, StationId } from "../../../lib/station/ids.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";

const PublicJwk = Ed25519PublicJwk.openapi("StationPublicJwk", {
  description: "An Ed25519 public JWK with a kid; private parts are refused.",
});

const StationSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    districtIds: z.array(z.string()),
    serialRanges: z.array(z.object({ first: z.number().int(), last: z.number().int() })),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    keys: z.array(
      z.object({ kid: z.string(), qrKeyId: z.string(), createdAt: z.string(), revokedAt: z.string().nullable() }),
    ),
  })
  .openapi("Station");

const SheetKeySummary = z
  .object({
    kid: z.string(),
    electionId: z.string(),
    qrKeyId: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi("SheetSigningKey");

const admin = requireOfficial("administrator");
const readers = requireOfficial("administrator", "auditor");
const security = [{ officialAccess: [] }];

const StationParam = z.object({
  stationId: StationId.openapi({ param: { name: "stationId", in: "path" }, example: "tallinn-001" }),
});
const ElectionParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const createStationRoute = createRoute({
  method: "post",
  path: "/v1/admin/stations",
  tags: ["stations"],
  summary: "Register a polling station: its districts, its first device key, its BMD serial ranges",
  security,
  middleware: [admin] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              id: StationId,
              name: z.string().trim().min(1).max(200),
              districtIds: z.array(DistrictId).min(1).max(64),
              publicJwk: PublicJwk,
              serialRanges: z.array(SerialRange).max(64).optional(),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: { description: "Registered", content: { "application/json": { schema: StationSummary } } },
    ...errorResponses(400, 401, 403, 409),
  },
});

const listStationsRoute = createRoute({
  method: "get",
  path: "/v1/admin/stations",
  tags: ["stations"],
  summary: "List stations, their districts, keys and serial ranges",
  security,
  middleware: [readers] as const,
  responses: {
    200: {
      description: "Stations",
      content: { "application/json": { schema: z.object({ stations: z.array(StationSummary) }) } },
    },
    ...errorResponses(401, 403),
  },
});

const getStationRoute = createRoute({
  method: "get",
  path: "/v1/admin/stations/{stationId}",
  tags: ["stations"],
  summary: "One station",
  security,
  middleware: [readers] as const,
  request: { params: StationParam },
  responses: {
    200: { description: "The station", content: { "application/json": { schema: StationSummary } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const addKeyRoute = createRoute({
  method: "post",
  path: "/v1/admin/stations/{stationId}/keys",
  tags: ["stations"],
  summary: "Add a device key to a station (a new device, or key rotation)",
  security,
  middleware: [admin] as const,
  request: {
    params: StationParam,
    body: { required: true, content: { "application/json": { schema: z.object({ publicJwk: PublicJwk }).strict() } } },
  },
  responses: {
    201: {
      description: "Key added",
      content: {
        "application/json": { schema: z.object({ stationId: z.string(), kid: z.string(), qrKeyId: z.string() }) },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/admin/stations/{stationId}/keys/{kid}",
  tags: ["stations"],
  summary: "Revoke one device key of a station",
  security,
  middleware: [admin] as const,
  request: { params: StationParam.extend({ kid: KeyKid }) },
  responses: {
    200: {
      description: "Revoked",
      content: { "application/json": { schema: z.object({ kid: z.string(), revokedAt: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const revokeStationRoute = createRoute({
  method: "delete",
  path: "/v1/admin/stations/{stationId}",
  tags: ["stations"],
  summary: "Revoke a station: none of its keys is accepted any more",
  security,
  middleware: [admin] as const,
  request: { params: StationParam },
  responses: {
    200: {
      description: "Revoked",
      content: { "application/json": { schema: z.object({ id: z.string(), revokedAt: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const addRangeRoute = createRoute({
  method: "post",
  path: "/v1/admin/stations/{stationId}/serial-ranges",
  tags: ["stations"],
  summary: "Assign a further range of ballot serials to a station's ballot-marking devices",
  security,
  middleware: [admin] as const,
  request: {
    params: StationParam,
    body: { required: true, content: { "application/json": { schema: SerialRange } } },
  },
  responses: {
    201: {
      description: "Assigned",
      content: {
        "application/json": { schema: z.object({ stationId: z.string(), first: z.number(), last: z.number() }) },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const addSheetKeyRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/sheet-keys",
  tags: ["stations"],
  summary: "Register an election authority key that signs this election's pre-printed ballot sheets",
  security,
  middleware: [admin] as const,
  request: {
    params: ElectionParam,
    body: { required: true, content: { "application/json": { schema: z.object({ publicJwk: PublicJwk }).strict() } } },
  },
  responses: {
    201: { description: "Registered", content: { "application/json": { schema: SheetKeySummary } } },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const listSheetKeysRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/sheet-keys",
  tags: ["stations"],
  summary: "The election authority's ballot-sheet keys for this election",
  security,
  middleware: [readers] as const,
  request: { params: ElectionParam },
  responses: {
    200: {
      description: "Keys",
      content: { "application/json": { schema: z.object({ keys: z.array(SheetKeySummary) }) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

const revokeSheetKeyRoute = createRoute({
  method: "delete",
  path: "/v1/admin/elections/{electionId}/sheet-keys/{kid}",
  tags: ["stations"],
  summary: "Revoke a ballot-sheet key: sheets it signed are no longer accepted",
  security,
  middleware: [admin] as const,
  request: { params: ElectionParam.extend({ kid: KeyKid }) },
  responses: {
    200: {
      description: "Revoked",
      content: { "application/json": { schema: z.object({ kid: z.string(), revokedAt: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

type Db = ReturnType<typeof drizzle>;

/** The QR key id of a JWK the schema already accepted; a key that fails here is refused (400). */
async function keyIdOf(jwk: Ed25519PublicJwk): Promise<string> {
  const id = await qrKeyId(jwk);
  if (!id.ok) fail("invalid_request", undefined, [{ path: "/publicJwk", message: id.error.message }]);
  try {
    await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch {
    fail("invalid_request", undefined, [{ path: "/publicJwk", message: "not a usable Ed25519 public key" }]);
  }
  return id.value;
}

/** kids are unique across station and sheet keys, and so is a public key. */
async function refuseKnownKey(db: Db, kid: string, keyId: string): Promise<void> {
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
  if (byStation.length > 0 || bySheet.length > 0) fail("key_exists");
}

function overlapping(ranges: readonly SerialRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  return sorted.some((r, i) => i > 0 && r.first <= (sorted[i - 1]?.last ?? -1));
}

/**
 * Refuses a range that overlaps one held by another unrevoked station (serials are one namespace
 * per election). Checked before the write; two administrators racing to hand out overlapping
 * ranges within the same moment could both pass, which the registry accepts as an operator error.
 */
async function refuseTakenRanges(db: Db, ranges: readonly SerialRange[], exceptStation?: string): Promise<void> {
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
    if (taken)
      fail("invalid_request", `Serials ${range.first}-${range.last} overlap a range of station ${taken.stationId}.`, [
        { path: "/serialRanges", message: "overlaps another station's range" },
      ]);
  }
}

async function stationSummaries(db: Db, stationIds?: readonly string[]): Promise<z.infer<typeof StationSummary>[]> {
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
      .map((k) => ({ kid: k.kid, qrKeyId: k.qrKeyId, createdAt: k.createdAt, revokedAt: k.revokedAt }))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)),
  }));
}

export function stationRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(createStationRoute, async (c) => {
    const body = c.req.valid("json");
    const ranges = body.serialRanges ?? [];
    if (overlapping(ranges))
      fail("invalid_request", undefined, [{ path: "/serialRanges", message: "the ranges overlap each other" }]);
    const keyId = await keyIdOf(body.publicJwk);
    const db = drizzle(c.env.DB);
    if (await db.select({ id: stations.id }).from(stations).where(eq(stations.id, body.id)).get())
      fail("station_exists");
    await refuseKnownKey(db, body.publicJwk.kid, keyId);
    await refuseTakenRanges(db, ranges);
    const districtIds = [...new Set(body.districtIds)];
    // One D1 batch is one transaction: a station never exists without its districts and key.
    await db.batch([
      db.insert(stations).values({ id: body.id, name: body.name }),
      db.insert(stationDistricts).values(districtIds.map((districtId) => ({ stationId: body.id, districtId }))),
      db
        .insert(stationKeys)
        .values({
          kid: body.publicJwk.kid,
          stationId: body.id,
          publicJwk: JSON.stringify(body.publicJwk),
          qrKeyId: keyId,
        }),
      ...ranges.map((r) =>
        db.insert(stationSerialRanges).values({ stationId: body.id, firstSerial: r.first, lastSerial: r.last }),
      ),
    ]);
    const [summary] = await stationSummaries(db, [body.id]);
    if (!summary) throw new Error(`station ${body.id} vanished after its registration`);
    return c.json(summary, 201);
  });

  app.openapi(listStationsRoute, async (c) => c.json({ stations: await stationSummaries(drizzle(c.env.DB)) }, 200));

  app.openapi(getStationRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const [summary] = await stationSummaries(drizzle(c.env.DB), [stationId]);
    if (!summary) fail("station_not_found");
    return c.json(summary, 200);
  });

  app.openapi(addKeyRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const { publicJwk } = c.req.valid("json");
    const keyId = await keyIdOf(publicJwk);
    const db = drizzle(c.env.DB);
    const station = await db
      .select({ id: stations.id })
      .from(stations)
      .where(and(eq(stations.id, stationId), isNull(stations.revokedAt)))
      .get();
    if (!station) fail("station_not_found");
    await refuseKnownKey(db, publicJwk.kid, keyId);
    await db
      .insert(stationKeys)
      .values({ kid: publicJwk.kid, stationId, publicJwk: JSON.stringify(publicJwk), qrKeyId: keyId });
    return c.json({ stationId, kid: publicJwk.kid, qrKeyId: keyId }, 201);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { stationId, kid } = c.req.valid("param");
    const revokedAt = new Date().toISOString();
    const result = await drizzle(c.env.DB)
      .update(stationKeys)
      .set({ revokedAt })
      .where(and(eq(stationKeys.kid, kid), eq(stationKeys.stationId, stationId), isNull(stationKeys.revokedAt)))
      .run();
    if (result.meta.changes !== 1) fail("key_not_found");
    return c.json({ kid, revokedAt }, 200);
  });

  app.openapi(revokeStationRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const revokedAt = new Date().toISOString();
    const result = await drizzle(c.env.DB)
      .update(stations)
      .set({ revokedAt })
      .where(and(eq(stations.id, stationId), isNull(stations.revokedAt)))
      .run();
    if (result.meta.changes !== 1) fail("station_not_found");
    return c.json({ id: stationId, revokedAt }, 200);
  });

  app.openapi(addRangeRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const range = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const station = await db
      .select({ id: stations.id })
      .from(stations)
      .where(and(eq(stations.id, stationId), isNull(stations.revokedAt)))
      .get();
    if (!station) fail("station_not_found");
    const own = await db.select().from(stationSerialRanges).where(eq(stationSerialRanges.stationId, stationId));
    if (overlapping([...own.map((r) => ({ first: r.firstSerial, last: r.lastSerial })), range])) {
      fail("invalid_request", undefined, [{ path: "/", message: "overlaps one of this station's ranges" }]);
    }
    await refuseTakenRanges(db, [range], stationId);
    await db.insert(stationSerialRanges).values({ stationId, firstSerial: range.first, lastSerial: range.last });
    return c.json({ stationId, first: range.first, last: range.last }, 201);
  });

  app.openapi(addSheetKeyRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { publicJwk } = c.req.valid("json");
    const keyId = await keyIdOf(publicJwk);
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const db = drizzle(c.env.DB);
    await refuseKnownKey(db, publicJwk.kid, keyId);
    const [row] = await db
      .insert(sheetSigningKeys)
      .values({ kid: publicJwk.kid, electionId, publicJwk: JSON.stringify(publicJwk), qrKeyId: keyId })
      .returning();
    if (!row) throw new Error("the sheet key insert returned no row");
    return c.json(
      {
        kid: row.kid,
        electionId: row.electionId,
        qrKeyId: row.qrKeyId,
        createdAt: row.createdAt,
        revokedAt: row.revokedAt,
      },
      201,
    );
  });

  app.openapi(listSheetKeysRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const rows = await drizzle(c.env.DB)
      .select()
      .from(sheetSigningKeys)
      .where(eq(sheetSigningKeys.electionId, electionId))
      .orderBy(asc(sheetSigningKeys.createdAt));
    return c.json(
      {
        keys: rows.map((r) => ({
          kid: r.kid,
          electionId: r.electionId,
          qrKeyId: r.qrKeyId,
          createdAt: r.createdAt,
          revokedAt: r.revokedAt,
        })),
      },
      200,
    );
  });

  app.openapi(revokeSheetKeyRoute, async (c) => {
    const { electionId, kid } = c.req.valid("param");
    const revokedAt = new Date().toISOString();
    const result = await drizzle(c.env.DB)
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
    if (result.meta.changes !== 1) fail("key_not_found");
    return c.json({ kid, revokedAt }, 200);
  });

  return app;
}
