/**
 * The faults that attack drills inject (`npm run drill`, docs/MONITORING.md): the attacks a voter,
 * a station or a network could play come in through the ordinary routes, but a stalled audit log,
 * a dead letter or a lagging results aggregator are faults inside the system, which an operator
 * can only rehearse if the system lets them be caused. These routes do, for administrators, and
 * only where DRILLS = "enabled" (local runs; the configuration refuses it in production):
 * anywhere else they answer 403 drills_disabled and change nothing.
 *
 * - `log-stall`: the election's log sequencer fails every step at its staging write until
 *   `log-resume`: entries pool and no checkpoint is published (log-stalled).
 * - `log-resume`: clears it; the sequencer publishes what pooled.
 * - `dead-letter`: sends a ballot queue a message no consumer can parse, naming the election; the
 *   consumer sends it to the dead-letter queue, which records it (dead-letters).
 * - `aggregator-pause`: the results aggregator refuses the tally shards' reports for `seconds`;
 *   the shards keep their totals and report again afterwards (aggregator-lagging).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { getElection } from "../../../db/stores/elections.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { ballotQueueFor, logSequencerFor, resultsAggregatorFor } from "../../../durable-objects/addresses.ts";
import { configOf } from "../../../durable-objects/config.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";

export const DrillFault = z.enum(["log-stall", "log-resume", "dead-letter", "aggregator-pause"]);
export type DrillFault = z.infer<typeof DrillFault>;

const DrillBody = z
  .object({
    /** How long an aggregator pause lasts. */
    seconds: z.number().int().min(1).max(600).default(30),
  })
  .strict();

const drillRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/drills/{fault}",
  tags: ["operations"],
  summary: "Inject an attack drill's fault (local and staging runs only)",
  description:
    'Refused with 403 drills_disabled unless the deployment runs with DRILLS = "enabled", which production refuses. log-stall / log-resume, dead-letter, aggregator-pause {seconds}.',
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: {
    params: z.object({ electionId: ElectionId, fault: DrillFault }),
    body: { required: false, content: { "application/json": { schema: DrillBody } } },
  },
  responses: {
    200: {
      description: "The fault is in place",
      content: { "application/json": { schema: z.object({ fault: DrillFault, until: z.string().nullable() }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

export function drillRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(drillRoute, async (c) => {
    if (configOf(c.env).DRILLS !== "enabled") fail("drills_disabled");
    const { electionId, fault } = c.req.valid("param");
    const { seconds } = DrillBody.parse(c.req.header("content-type") ? c.req.valid("json") : {});
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    let until: string | null = null;
    switch (fault) {
      case "log-stall":
        await logSequencerFor(c.env, electionId).injectFault("staging", "always");
        break;
      case "log-resume":
        await logSequencerFor(c.env, electionId).clearFaults();
        break;
      case "dead-letter":
        // Not a QueuedMessage (the queue's type is what producers may send; this is the point):
        // the consumer cannot parse it and dead-letters it at once.
        await (ballotQueueFor(c.env, crypto.randomUUID()) as Queue<unknown>).send(
          { kind: "attack-drill", electionId, note: "a malformed message sent by an attack drill" },
          { contentType: "json" },
        );
        break;
      case "aggregator-pause":
        await resultsAggregatorFor(c.env, electionId).pauseReports(seconds * 1000);
        until = new Date(Date.now() + seconds * 1000).toISOString();
        break;
    }
    return c.json({ fault, until }, 200);
  });
  return app;
}
