/**
 * The polling-station registry (administrators write, auditors read): stations with the districts
 * they serve, their devices' Ed25519 public keys (every station request and every marked ballot
 * and result sheet is signed by one), the ballot serials their ballot-marking devices may print,
 * and, per election, the election authority's keys that sign pre-printed ballot sheets.
 * Keys rotate by add-then-revoke; revoking a station stops all of its keys at once.
 *
 * A refused registration changes nothing: the store (db/stores/stations.ts) runs every check
 * before the one D1 batch that writes. These routes parse, call it and map its refusals.
 *
 * Every change is logged in each election it concerns, and nothing but a revocation may change
 * once such an election's polls have opened (authority_locked): workers/audit/authorities.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  addSerialRange,
  addSheetKey,
  addStationKey,
  listSheetKeys,
  rangesOverlap,
  registerStation,
  revokeSheetKey,
  revokeStation,
  revokeStationKey,
  stationSummaries,
  storedSheetKey,
  storedStationKey,
  type RangeOverlap,
  type StoredKey,
} from "../../../db/stores/stations.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import { qrKeyId } from "../../../lib/qr/keys.ts";
import { assertNever, type Result } from "../../../lib/result.ts";
import { DistrictId, Ed25519PublicJwk, KeyKid, SerialRange, StationId } from "../../../lib/station/ids.ts";
import { StationKeyRole } from "../../../lib/vocabulary.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, orFail, validationHook, type AppEnv } from "../http.ts";
import {
  electionsServing,
  logToElections,
  refuseOnceOpen,
  serialRangeIssued,
  sheetKeyAdded,
  stationKeyAdded,
  stationRegistered,
} from "../../audit/authorities.ts";
import { logTime } from "../../audit/log.ts";

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
      z.object({
        kid: z.string(),
        qrKeyId: z.string(),
        role: StationKeyRole,
        createdAt: z.string(),
        revokedAt: z.string().nullable(),
      }),
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
    ...errorResponses(400, 401, 403, 409, 429),
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
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              publicJwk: PublicJwk,
              /** client (signs requests, the default) or marking-device (signs marked ballots only). */
              role: StationKeyRole.default("client"),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: {
      description: "Key added",
      content: {
        "application/json": {
          schema: z.object({ stationId: z.string(), kid: z.string(), qrKeyId: z.string(), role: StationKeyRole }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 429),
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
    ...errorResponses(400, 401, 403, 404, 429),
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
    ...errorResponses(400, 401, 403, 404, 429),
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
    ...errorResponses(400, 401, 403, 404, 409, 429),
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
    ...errorResponses(400, 401, 403, 404, 409, 429),
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
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

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

/** A store refusal: its code, or the overlap it found as an invalid request. */
function refused(refusal: ErrorCode | RangeOverlap): never {
  if (typeof refusal === "string") return fail(refusal);
  switch (refusal.overlaps) {
    case "own":
      return fail("invalid_request", undefined, [{ path: "/", message: "overlaps one of this station's ranges" }]);
    case "other": {
      const { range, stationId } = refusal;
      return fail("invalid_request", `Serials ${range.first}-${range.last} overlap a range of station ${stationId}.`, [
        { path: "/serialRanges", message: "overlaps another station's range" },
      ]);
    }
    default:
      return assertNever(refusal);
  }
}

function orRefused<T>(result: Result<T, ErrorCode | RangeOverlap>): T {
  if (!result.ok) refused(result.error);
  return result.value;
}

/** Whether a stored key is this owner's unrevoked key with this public key (a repeated addition). */
function sameKey(stored: StoredKey | undefined, owner: string, jwk: Ed25519PublicJwk): boolean {
  if (stored?.owner !== owner || stored.revokedAt !== null) return false;
  const { x } = JSON.parse(stored.publicJwk) as { x?: unknown };
  return x === jwk.x;
}

/** The elections a registered station's changes concern: those with a district it serves. */
async function electionsConcernedBy(
  env: Env,
  stationId: string,
): Promise<Awaited<ReturnType<typeof electionsServing>>> {
  const [summary] = await stationSummaries(env.DB, [stationId]);
  return summary ? electionsServing(env, summary.districtIds) : [];
}

/**
 * Revokes as of now, or answers as the first revocation did: a repeat of a revocation already made
 * takes the time `earlier` finds (so the caller logs it with that time if the entry is missing);
 * anything else `revoke` refused is refused.
 */
async function revokedOnce(
  revoke: (revokedAt: string) => Promise<Result<undefined, ErrorCode>>,
  earlier: () => Promise<string | null | undefined>,
): Promise<string> {
  const revokedAt = new Date().toISOString();
  const revoked = await revoke(revokedAt);
  if (revoked.ok) return revokedAt;
  const before = await earlier();
  if (!before) fail(revoked.error);
  return before;
}

/** When a stored key was revoked, if it is `owner`'s (null: not revoked, or not that owner's). */
function keyRevokedAt(stored: StoredKey | undefined, owner: string): string | null {
  return stored?.owner === owner ? stored.revokedAt : null;
}

export function stationRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(createStationRoute, async (c) => {
    const body = c.req.valid("json");
    const serialRanges = body.serialRanges ?? [];
    if (rangesOverlap(serialRanges))
      fail("invalid_request", undefined, [{ path: "/serialRanges", message: "the ranges overlap each other" }]);
    const qrKeyId = await keyIdOf(body.publicJwk);
    const concerned = await electionsServing(c.env, body.districtIds);
    orFail(refuseOnceOpen(concerned));
    const summary = orRefused(await registerStation(c.env.DB, { ...body, qrKeyId, serialRanges }));
    const at = logTime();
    orFail(
      await logToElections(c.env, concerned, [
        stationRegistered(summary.id, summary.districtIds, at),
        await stationKeyAdded(summary.id, body.publicJwk, "client", at),
        ...summary.serialRanges.map((range) => serialRangeIssued(summary.id, range, at)),
      ]),
    );
    return c.json(summary, 201);
  });

  app.openapi(listStationsRoute, async (c) => c.json({ stations: await stationSummaries(c.env.DB) }, 200));

  app.openapi(getStationRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const [summary] = await stationSummaries(c.env.DB, [stationId]);
    if (!summary) fail("station_not_found");
    return c.json(summary, 200);
  });

  app.openapi(addKeyRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const { publicJwk, role } = c.req.valid("json");
    const keyId = await keyIdOf(publicJwk);
    const concerned = await electionsConcernedBy(c.env, stationId);
    // A repeat of an addition already made changes nothing and logs what may be missing.
    if (!sameKey(await storedStationKey(c.env.DB, publicJwk.kid), stationId, publicJwk)) {
      orFail(refuseOnceOpen(concerned));
      orFail(await addStationKey(c.env.DB, stationId, publicJwk, keyId, role));
    }
    orFail(await logToElections(c.env, concerned, [await stationKeyAdded(stationId, publicJwk, role)]));
    return c.json({ stationId, kid: publicJwk.kid, qrKeyId: keyId, role }, 201);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { stationId, kid } = c.req.valid("param");
    const revokedAt = await revokedOnce(
      (at) => revokeStationKey(c.env.DB, stationId, kid, at),
      async () => keyRevokedAt(await storedStationKey(c.env.DB, kid), stationId),
    );
    // Allowed at any time (a compromised key must be stoppable), and logged.
    orFail(
      await logToElections(c.env, await electionsConcernedBy(c.env, stationId), [
        {
          key: `station-key-revoked/${kid}`,
          entry: { type: "station-key-revoked", at: logTime(new Date(revokedAt)), stationId, kid },
        },
      ]),
    );
    return c.json({ kid, revokedAt }, 200);
  });

  app.openapi(revokeStationRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const revokedAt = await revokedOnce(
      (at) => revokeStation(c.env.DB, stationId, at),
      async () => (await stationSummaries(c.env.DB, [stationId]))[0]?.revokedAt,
    );
    orFail(
      await logToElections(c.env, await electionsConcernedBy(c.env, stationId), [
        {
          key: `station-revoked/${stationId}`,
          entry: { type: "station-revoked", at: logTime(new Date(revokedAt)), stationId },
        },
      ]),
    );
    return c.json({ id: stationId, revokedAt }, 200);
  });

  app.openapi(addRangeRoute, async (c) => {
    const { stationId } = c.req.valid("param");
    const range = c.req.valid("json");
    const concerned = await electionsConcernedBy(c.env, stationId);
    orFail(refuseOnceOpen(concerned));
    orRefused(await addSerialRange(c.env.DB, stationId, range));
    orFail(await logToElections(c.env, concerned, [serialRangeIssued(stationId, range)]));
    return c.json({ stationId, first: range.first, last: range.last }, 201);
  });

  app.openapi(addSheetKeyRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { publicJwk } = c.req.valid("json");
    const keyId = await keyIdOf(publicJwk);
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    // A repeat of an addition already made changes nothing and logs what may be missing.
    const repeat = sameKey(await storedSheetKey(c.env.DB, publicJwk.kid), electionId, publicJwk);
    if (!repeat) orFail(refuseOnceOpen([election]));
    const added = repeat
      ? (await listSheetKeys(c.env.DB, electionId)).find((k) => k.kid === publicJwk.kid)
      : orFail(await addSheetKey(c.env.DB, electionId, publicJwk, keyId));
    if (!added) throw new Error(`sheet key ${publicJwk.kid} vanished`);
    orFail(await logToElections(c.env, [election], [await sheetKeyAdded(publicJwk)]));
    return c.json(added, 201);
  });

  app.openapi(listSheetKeysRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    return c.json({ keys: await listSheetKeys(c.env.DB, electionId) }, 200);
  });

  app.openapi(revokeSheetKeyRoute, async (c) => {
    const { electionId, kid } = c.req.valid("param");
    const revokedAt = await revokedOnce(
      (at) => revokeSheetKey(c.env.DB, electionId, kid, at),
      async () => keyRevokedAt(await storedSheetKey(c.env.DB, kid), electionId),
    );
    // Allowed at any time (a compromised key must be stoppable), and logged.
    orFail(
      await logToElections(
        c.env,
        [{ id: electionId }],
        [
          {
            key: `sheet-key-revoked/${kid}`,
            entry: { type: "sheet-key-revoked", at: logTime(new Date(revokedAt)), kid },
          },
        ],
      ),
    );
    return c.json({ kid, revokedAt }, 200);
  });

  return app;
}
