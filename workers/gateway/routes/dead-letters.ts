/**
 * Dead letters for the operator (administrators): what reached the ballots' dead-letter queue,
 * as stored (db/stores/dead-letters.ts). Bodies come out exactly as kept, encrypted to the
 * offline dead-letter key; only the administrator's CLI, given that private key on the operator's
 * machine (`admin dead-letters list --key <file>`), opens them. The Worker cannot.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { listDeadLetters } from "../../../db/stores/dead-letters.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, validationHook, type AppEnv } from "../http.ts";

const PAGE = 500;

const DeadLetterView = z
  .object({
    letterId: z.string(),
    electionId: z.string().nullable(),
    kind: z.string().nullable(),
    queue: z.string(),
    attempts: z.number().int(),
    parses: z.boolean(),
    deliveries: z.number().int(),
    firstSeen: z.string(),
    lastSeen: z.string(),
    bodyJwe: z.string().nullable().openapi({
      description:
        "The body as a compact JWE (ECDH-ES+A256KW, A256GCM) to the offline dead-letter key; null if none was configured",
    }),
  })
  .openapi("DeadLetter");

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/dead-letters",
  tags: ["operations"],
  summary: "Messages that reached the ballots' dead-letter queue, oldest first, bodies encrypted",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "security-officer")] as const,
  request: {
    query: z.object({
      electionId: ElectionId.optional(),
      offset: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(PAGE).default(PAGE),
    }),
  },
  responses: {
    200: {
      description: "Dead letters",
      content: { "application/json": { schema: z.object({ deadLetters: z.array(DeadLetterView) }) } },
    },
    ...errorResponses(400, 401, 403),
  },
});

export function deadLetterRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(listRoute, async (c) => {
    const { electionId, offset, limit } = c.req.valid("query");
    return c.json({ deadLetters: await listDeadLetters(c.env.DB, { electionId, offset, limit }) }, 200);
  });
  return app;
}
