/**
 * Results: per contest (options with labels, write-ins, blanks, per district) and turnout against
 * the roll. The public sees them as the election's resultsVisibility says (DESIGN.md section 4):
 * `live` always, `after-close` only once polls have closed; administrators and auditors always
 * see them live. The numbers come from the election's ResultsAggregator, which tally shards keep
 * within about a second of each accepted ballot.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { assertNever } from "../../../lib/result.ts";
import { resultsView, type ResultsView } from "../../tally/results-view.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";
import { countRoll } from "../../../db/stores/roll.ts";
import { resultsAggregatorFor } from "../../../durable-objects/addresses.ts";

const ElectionIdParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const Count = z.number().int().min(0);
const Ratio = z
  .number()
  .min(0)
  .nullable()
  .openapi({ description: "Ballots counted over registered voters; null when nobody is registered." });

const TurnoutRow = z.object({ ballotsCounted: Count, registeredVoters: Count, ratio: Ratio });

const ResultsSchema = z
  .object({
    electionId: z.string(),
    name: z.string(),
    pollsClosed: z.boolean(),
    generatedAt: z.string(),
    shardsReporting: Count.openapi({ description: "How many tally shards have reported so far." }),
    turnout: TurnoutRow.extend({
      districts: z.array(TurnoutRow.extend({ districtId: z.string(), name: z.string() })),
    }),
    contests: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        votesAllowed: z.number().int(),
        options: z.array(z.object({ id: z.string(), label: z.string(), votes: Count })),
        writeIns: Count.openapi({
          description: "Marks on write-in options; the names are adjudicated from the cast vote records.",
        }),
        blanks: Count.openapi({ description: "Ballots that left this contest unmarked." }),
        districts: z.array(
          z.object({
            districtId: z.string(),
            name: z.string(),
            options: z.array(z.object({ id: z.string(), votes: Count })),
            writeIns: Count,
            blanks: Count,
          }),
        ),
      }),
    ),
  })
  .openapi("Results");

const publicRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/results",
  tags: ["results"],
  summary: "An election's results and turnout, as its results visibility allows",
  description: "With resultsVisibility `after-close`, refused (403 results_not_public) until the polls close.",
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Results", content: { "application/json": { schema: ResultsSchema } } },
    ...errorResponses(400, 403, 404),
  },
});

const officialRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/results",
  tags: ["results"],
  summary: "An election's live results and turnout, for administrators and auditors",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Results", content: { "application/json": { schema: ResultsSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

async function currentResults(env: Env, election: CompiledElection, now: Date): Promise<ResultsView> {
  const aggregator = resultsAggregatorFor(env, election.id);
  const [totals, roll] = await Promise.all([aggregator.results(), countRoll(env.DB, election.id)]);
  return resultsView(election, totals, roll, now);
}

export function resultsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(publicRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    const now = new Date();
    const visibility = election.settings.resultsVisibility;
    switch (visibility) {
      case "live":
        break;
      case "after-close":
        if (now.getTime() < election.polls.closesAtMs) fail("results_not_public");
        break;
      default:
        assertNever(visibility);
    }
    return c.json(await currentResults(c.env, election, now), 200);
  });

  app.openapi(officialRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    c.header("cache-control", "no-store");
    return c.json(await currentResults(c.env, election, new Date()), 200);
  });

  return app;
}
