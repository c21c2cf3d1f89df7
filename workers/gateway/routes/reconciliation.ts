/**
 * Station reconciliation for administrators and auditors: every station of an election, or one,
 * compared as of now (workers/voting/reconciliation.ts). Asking (GET) writes nothing, so the
 * read-only auditor role stays read-only; an administrator's POST to the election's
 * reconciliation (and every result sheet's submission) stores the differences found for the
 * security monitor.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { stationExists } from "../../../db/stores/stations.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { StationId } from "../../../lib/station/ids.ts";
import { computeReconciliation, reconcileStations } from "../../voting/reconciliation.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";
import { DifferenceKind } from "../../../lib/vocabulary.ts";

const Count = z.number().int().min(0);
const Totals = z.object({
  contestId: z.string(),
  options: z.array(z.object({ optionId: z.string(), votes: Count })),
  writeIns: Count,
  blanks: Count,
});

export const ReconciliationSchema = z
  .object({
    electionId: z.string(),
    stationId: z.string(),
    computedAt: z.string(),
    consistent: z.boolean().openapi({ description: "A result sheet was received and nothing differs." }),
    sheet: z
      .object({
        sequence: z.number().int(),
        closedAt: z.string(),
        votersCheckedIn: Count,
        ballotsCast: Count,
        contests: z.array(Totals),
        submittedAt: z.string(),
        payloadSha256: z.string(),
      })
      .nullable(),
    system: z.object({ checkIns: Count, ballotsScanned: Count, contests: z.array(Totals) }),
    differences: z.array(
      z.object({
        kind: DifferenceKind,
        contestId: z.string().optional(),
        optionId: z.string().optional(),
        system: z.number().int(),
        station: z.number().int().nullable(),
        message: z.string(),
      }),
    ),
  })
  .openapi("StationReconciliation");

const ElectionParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const ElectionReconciliation = z.object({
  electionId: z.string(),
  computedAt: z.string(),
  stations: z.array(ReconciliationSchema),
});

const electionRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/reconciliation",
  tags: ["stations"],
  summary: "Every station's reconciliation: result sheet against scanned ballots and check-ins",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionParam },
  responses: {
    200: {
      description: "Per station, as of now",
      content: { "application/json": { schema: ElectionReconciliation } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** The same report, and its differences stored for the security monitor: a write, so a POST. */
const recordRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/reconciliation",
  tags: ["stations"],
  summary: "Reconcile every station and record the differences for the security monitor",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: { params: ElectionParam },
  responses: {
    200: {
      description: "Per station, as of now; the differences are stored (resolved ones marked)",
      content: { "application/json": { schema: ElectionReconciliation } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const stationRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/reconciliation/{stationId}",
  tags: ["stations"],
  summary: "One station's reconciliation",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionParam.extend({ stationId: StationId }) },
  responses: {
    200: { description: "As of now", content: { "application/json": { schema: ReconciliationSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

/** Every station of the election reconciled by `reconcile` as of now; null when there is no such election. */
async function electionReconciliation(
  db: D1Database,
  electionId: string,
  reconcile: typeof computeReconciliation,
): Promise<z.infer<typeof ElectionReconciliation> | null> {
  const election = await getElection(db, electionId);
  if (!election) return null;
  const now = new Date();
  return { electionId, computedAt: now.toISOString(), stations: await reconcile(db, election, undefined, now) };
}

export function reconciliationRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Asking and recording answer the same report; only recording stores the differences.
  app.openapi(electionRoute, async (c) => {
    const report = await electionReconciliation(c.env.DB, c.req.valid("param").electionId, computeReconciliation);
    if (!report) return fail("election_not_found");
    c.header("cache-control", "no-store");
    return c.json(report, 200);
  });

  app.openapi(recordRoute, async (c) => {
    const report = await electionReconciliation(c.env.DB, c.req.valid("param").electionId, reconcileStations);
    if (!report) return fail("election_not_found");
    c.header("cache-control", "no-store");
    return c.json(report, 200);
  });

  app.openapi(stationRoute, async (c) => {
    const { electionId, stationId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) return fail("election_not_found");
    if (!(await stationExists(c.env.DB, stationId))) return fail("station_not_found");
    const [report] = await computeReconciliation(c.env.DB, election, stationId);
    if (!report) throw new Error("reconciling one station answered nothing");
    c.header("cache-control", "no-store");
    return c.json(report, 200);
  });

  return app;
}
