/**
 * Officials' registry (administrators only): register an official with a role and a public key,
 * add keys (rotation), revoke a key or a whole official. Private keys never reach the server.
 * While another administrator exists, a new administrator is only proposed, and registered when a
 * second administrator approves (POST .../approval). Revoking another administrator, or another
 * administrator's key, likewise takes two: the first DELETE records a request (202), the same
 * DELETE by a second administrator completes it; oneself, one's own key and non-administrators
 * take one. Only an administrator adds keys to their own account. The last administrator cannot
 * be revoked.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { importJWK } from "jose";
import {
  activeAdministrators,
  addOfficialKey,
  approveOfficial,
  BOOTSTRAP_ADMIN_ID,
  listOfficials,
  listRevocationRequests,
  proposeOfficial,
  registerOfficial,
  requestRevocation,
  revocationNeedsSecond,
  revokeOfficial,
  revokeOfficialKey,
  type ProposedOfficial,
} from "../../../db/stores/officials.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { OfficialRole } from "../../../lib/vocabulary.ts";
import { errorResponses, fail, orFail, validationHook, type AppEnv } from "../http.ts";
import { jwkThumbprintHex, logEventEverywhere, logTime } from "../../audit/log.ts";

const OfficialId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$/, "3-64 lowercase letters, digits, dots, dashes, underscores");
const Kid = z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, "3-64 letters, digits, dots, dashes, underscores");

/** Only signature keys of the kinds assertions accept, public parts only. */
const PublicSigningJwk = z
  .union([
    z
      .object({
        kty: z.literal("OKP"),
        crv: z.literal("Ed25519"),
        x: z.string().min(40).max(50),
        kid: Kid,
        alg: z.literal("EdDSA").optional(),
        use: z.literal("sig").optional(),
      })
      .strict(),
    z
      .object({
        kty: z.literal("EC"),
        crv: z.literal("P-256"),
        x: z.string().min(40).max(50),
        y: z.string().min(40).max(50),
        kid: Kid,
        alg: z.literal("ES256").optional(),
        use: z.literal("sig").optional(),
      })
      .strict(),
  ])
  .openapi("PublicSigningJwk", {
    description: "An Ed25519 or P-256 public JWK with a kid; private parts are refused.",
  });

const OfficialSummary = z.object({
  id: z.string(),
  role: OfficialRole,
  displayName: z.string(),
  revokedAt: z.string().nullable(),
  keys: z.array(z.object({ kid: z.string(), revokedAt: z.string().nullable() })),
});

const RevocationRequest = z.object({
  officialId: z.string(),
  kid: z.string().nullable().openapi({ description: "null: the whole official" }),
  requestedBy: z.string(),
  requestedAt: z.string(),
});

/** The answer to a first administrator's revocation of another administrator or their key. */
const AwaitingRevocation = z.object({
  id: z.string(),
  kid: z.string().optional(),
  status: z.literal("awaiting-approval"),
  requestedBy: z.string(),
});

const admin = requireOfficial("administrator");

const createOfficialRoute = createRoute({
  method: "post",
  path: "/v1/admin/officials",
  tags: ["officials"],
  summary: "Register an official with a role and a public key",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              id: OfficialId,
              role: OfficialRole,
              displayName: z.string().trim().min(1).max(200),
              publicJwk: PublicSigningJwk,
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: {
      description: "Registered",
      content: { "application/json": { schema: z.object({ id: z.string(), role: OfficialRole, kid: z.string() }) } },
    },
    202: {
      description: "An administrator, proposed: another administrator must approve it",
      content: {
        "application/json": {
          schema: z.object({
            id: z.string(),
            role: OfficialRole,
            kid: z.string(),
            status: z.literal("awaiting-approval"),
          }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 409),
  },
});

const approveOfficialRoute = createRoute({
  method: "post",
  path: "/v1/admin/officials/{officialId}/approval",
  tags: ["officials"],
  summary: "Approve an administrator that another administrator proposed",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  request: { params: z.object({ officialId: OfficialId }) },
  responses: {
    201: {
      description: "Registered",
      content: { "application/json": { schema: z.object({ id: z.string(), role: OfficialRole, kid: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const listOfficialsRoute = createRoute({
  method: "get",
  path: "/v1/admin/officials",
  tags: ["officials"],
  summary: "List officials and their keys",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  responses: {
    200: {
      description: "Officials",
      content: {
        "application/json": {
          schema: z.object({
            officials: z.array(OfficialSummary),
            pendingRevocations: z
              .array(RevocationRequest)
              .openapi({ description: "Revocations of administrators or their keys awaiting a second administrator" }),
          }),
        },
      },
    },
    ...errorResponses(401, 403),
  },
});

const addKeyRoute = createRoute({
  method: "post",
  path: "/v1/admin/officials/{officialId}/keys",
  tags: ["officials"],
  summary: "Add a key to an official (key rotation)",
  description: "An administrator's keys are added by that administrator only (403 forbidden otherwise).",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  request: {
    params: z.object({ officialId: OfficialId }),
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ publicJwk: PublicSigningJwk }).strict() } },
    },
  },
  responses: {
    201: {
      description: "Key added",
      content: { "application/json": { schema: z.object({ id: z.string(), kid: z.string() }) } },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/admin/officials/{officialId}/keys/{kid}",
  tags: ["officials"],
  summary: "Revoke one key of an official",
  description:
    "Another administrator's key takes two administrators: the first call records a request (202), the same call by a second administrator revokes it.",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  request: { params: z.object({ officialId: OfficialId, kid: Kid }) },
  responses: {
    200: {
      description: "Revoked",
      content: { "application/json": { schema: z.object({ kid: z.string(), revokedAt: z.string() }) } },
    },
    202: {
      description: "Another administrator's key: requested, a second administrator must make the same call",
      content: { "application/json": { schema: AwaitingRevocation } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const revokeOfficialRoute = createRoute({
  method: "delete",
  path: "/v1/admin/officials/{officialId}",
  tags: ["officials"],
  summary: "Revoke an official: no new access tokens for any of their keys",
  description:
    "Another administrator takes two administrators: the first call records a request (202), the same call by a second administrator revokes.",
  security: [{ officialAccess: [] }],
  middleware: [admin] as const,
  request: { params: z.object({ officialId: OfficialId }) },
  responses: {
    200: {
      description: "Revoked",
      content: { "application/json": { schema: z.object({ id: z.string(), revokedAt: z.string() }) } },
    },
    202: {
      description: "Another administrator: requested, a second administrator must make the same call",
      content: { "application/json": { schema: AwaitingRevocation } },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

/** Audit log: officials serve every election, so every election's log records the key. */
async function logRegistration(env: Env, official: ProposedOfficial): Promise<void> {
  orFail(
    await logEventEverywhere(env, `official-key-added/${official.publicJwk.kid}`, {
      type: "official-key-added",
      at: logTime(),
      role: official.role,
      officialId: official.id,
      kid: official.publicJwk.kid,
      thumbprint: await jwkThumbprintHex(official.publicJwk),
    }),
  );
}

async function importable(jwk: z.infer<typeof PublicSigningJwk>): Promise<boolean> {
  try {
    await importJWK(jwk, jwk.kty === "OKP" ? "EdDSA" : "ES256");
    return true;
  } catch {
    return false;
  }
}

export function officialRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(createOfficialRoute, async (c) => {
    const body = c.req.valid("json");
    if (body.id === BOOTSTRAP_ADMIN_ID) fail("official_exists");
    if (!(await importable(body.publicJwk))) {
      fail("invalid_request", undefined, [{ path: "/publicJwk", message: "not a usable public key" }]);
    }
    const proposer = c.get("official").officialId;
    if (body.role === "administrator") {
      const others = (await activeAdministrators(c.env.DB)).filter((id) => id !== proposer);
      // Alone (setting up), an administrator makes the second; after that it takes two.
      if (others.length > 0) {
        orFail(await proposeOfficial(c.env.DB, body, proposer, new Date().toISOString()));
        return c.json(
          { id: body.id, role: body.role, kid: body.publicJwk.kid, status: "awaiting-approval" as const },
          202,
        );
      }
    }
    orFail(await registerOfficial(c.env.DB, body));
    await logRegistration(c.env, body);
    return c.json({ id: body.id, role: body.role, kid: body.publicJwk.kid }, 201);
  });

  app.openapi(approveOfficialRoute, async (c) => {
    const { officialId } = c.req.valid("param");
    const official = orFail(await approveOfficial(c.env.DB, officialId, c.get("official").officialId));
    await logRegistration(c.env, official);
    return c.json({ id: official.id, role: official.role, kid: official.publicJwk.kid }, 201);
  });

  app.openapi(listOfficialsRoute, async (c) => {
    return c.json(
      { officials: await listOfficials(c.env.DB), pendingRevocations: await listRevocationRequests(c.env.DB) },
      200,
    );
  });

  app.openapi(addKeyRoute, async (c) => {
    const { officialId } = c.req.valid("param");
    const { publicJwk } = c.req.valid("json");
    if (!(await importable(publicJwk))) {
      fail("invalid_request", undefined, [{ path: "/publicJwk", message: "not a usable public key" }]);
    }
    // A key added to another administrator would let one administrator act as two (and approve
    // their own proposals and revocation requests): administrators add keys to themselves only.
    // One who lost every key is replaced: a new administrator (two), the old one revoked (two).
    const by = c.get("official").officialId;
    if (officialId !== by && (await activeAdministrators(c.env.DB)).includes(officialId)) {
      fail("forbidden", "Only an administrator adds keys to their own account.");
    }
    const official = orFail(await addOfficialKey(c.env.DB, officialId, publicJwk));
    orFail(
      await logEventEverywhere(c.env, `official-key-added/${publicJwk.kid}`, {
        type: "official-key-added",
        at: logTime(),
        role: official.role,
        officialId,
        kid: publicJwk.kid,
        thumbprint: await jwkThumbprintHex(publicJwk),
      }),
    );
    return c.json({ id: officialId, kid: publicJwk.kid }, 201);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const { officialId, kid } = c.req.valid("param");
    const revokedAt = new Date().toISOString();
    const by = c.get("official").officialId;
    if (await revocationNeedsSecond(c.env.DB, officialId, by)) {
      const request = orFail(await requestRevocation(c.env.DB, { officialId, kid }, by, revokedAt));
      if (request.status === "awaiting-approval") {
        return c.json({ id: officialId, kid, status: request.status, requestedBy: request.requestedBy }, 202);
      }
    }
    orFail(await revokeOfficialKey(c.env.DB, officialId, kid, revokedAt));
    orFail(
      await logEventEverywhere(c.env, `official-key-revoked/${kid}`, {
        type: "official-key-revoked",
        at: logTime(new Date(revokedAt)),
        officialId,
        kid,
      }),
    );
    return c.json({ kid, revokedAt }, 200);
  });

  app.openapi(revokeOfficialRoute, async (c) => {
    const { officialId } = c.req.valid("param");
    const revokedAt = new Date().toISOString();
    const by = c.get("official").officialId;
    if (await revocationNeedsSecond(c.env.DB, officialId, by)) {
      const request = orFail(await requestRevocation(c.env.DB, { officialId }, by, revokedAt));
      if (request.status === "awaiting-approval") {
        return c.json({ id: officialId, status: request.status, requestedBy: request.requestedBy }, 202);
      }
    }
    orFail(await revokeOfficial(c.env.DB, officialId, revokedAt));
    orFail(
      await logEventEverywhere(c.env, `official-revoked/${officialId}`, {
        type: "official-revoked",
        at: logTime(new Date(revokedAt)),
        officialId,
      }),
    );
    return c.json({ id: officialId, revokedAt }, 200);
  });

  return app;
}
