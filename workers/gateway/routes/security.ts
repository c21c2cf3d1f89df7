/**
 * An election's security events for administrators and auditors (lib/events.ts names every kind):
 * geofence flags, reused paper serials, conflicting result sheets, check-in conflicts, check-ins
 * that cancelled online ballots, uses of the first administrator's key. Read in pages by id, so a
 * console can follow them; the security monitor will raise alerts from the same stream.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listSecurityEvents } from "../../../db/stores/security-events.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, validationHook, type AppEnv } from "../http.ts";

const PAGE = 500;

const SecurityEventSchema = z.object({
  id: z.number().int(),
  kind: z.string(),
  at: z.string(),
  detail: z.record(z.string(), z.unknown()),
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/security-events",
  tags: ["security"],
  summary: "An election's security events, oldest first, after a given id",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: {
    params: z.object({ electionId: ElectionId }),
    query: z.object({
      after: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(PAGE).default(PAGE),
    }),
  },
  responses: {
    200: {
      description: "Events, and the id to ask after for the next page",
      content: {
        "application/json": {
          schema: z.object({ events: z.array(SecurityEventSchema), next: z.number().int() }),
        },
      },
    },
    ...errorResponses(400, 401, 403),
  },
});

export function securityRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(listRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { after, limit } = c.req.valid("query");
    const events = await listSecurityEvents(c.env.DB, electionId, after, limit);
    return c.json({ events, next: events.at(-1)?.id ?? after }, 200);
  });
  return app;
}
