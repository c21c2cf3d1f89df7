/**
 * Results: per contest (options with labels, write-ins, blanks, per district) and turnout against
 * the roll. The public sees them as the election's resultsVisibility says (DESIGN.md section 4):
 * `live` while polls are open as the aggregator's public snapshots (no district's figures move
 * by fewer than minBallotsPerRelease ballots, at most once a second: security review H2), and
 * exact once polls have closed; `after-close` not at all before the close, exact after it.
 * Administrators and auditors always see the exact live sums. The numbers come from the
 * election's ResultsAggregator, which tally shards keep within about a second of each accepted
 * ballot.
 *
 * Both routes hand the aggregator the election's settings (configureAggregator, once per isolate),
 * which lets it cut and publish snapshots to the live displays by itself (routes/live-results.ts).
 *
 * The public route is rate limited per client address before anything else runs, and its answer
 * is kept in the edge cache for RESULTS_CACHE_SECONDS under the path alone (a query string does
 * not make a new entry): repeated requests within that time reach neither D1 nor the aggregator
 * (security review M9).
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
import type { ResultsSnapshot } from "../../../durable-objects/results-aggregator.ts";
import { edgeCached, publicReadLimit } from "../edge.ts";
import { configureAggregator } from "../../tally/results-settings.ts";

/** How long the edge keeps a public results answer: snapshots change at most once a second. */
export const RESULTS_CACHE_SECONDS = 5;

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
    version: Count.openapi({
      description:
        "Grows with every release: for the public, the snapshot number (0 before the first); for officials, a count of the tally reports summed.",
    }),
    asOf: z
      .string()
      .nullable()
      .openapi({ description: "When these numbers were taken; null before the first release." }),
    exact: z.boolean().openapi({
      description:
        "True for the exact sums (officials, or everyone once polls have closed); false for a public snapshot in which no district moved by fewer than minBallotsPerRelease ballots.",
    }),
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
  description:
    "With resultsVisibility `after-close`, refused (403 results_not_public) until the polls close. With `live`, a snapshot while polls are open (each district's figures move only by at least the election's minBallotsPerRelease ballots, at most once a second), exact after the close. Cached at the edge for a few seconds.",
  middleware: [publicReadLimit, edgeCached] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Results", content: { "application/json": { schema: ResultsSchema } } },
    ...errorResponses(400, 403, 404, 429),
  },
});

const officialRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/results",
  tags: ["results"],
  summary: "An election's live results and turnout, for administrators, auditors and security officers",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Results", content: { "application/json": { schema: ResultsSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const aggregatorRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/results/aggregator",
  tags: ["results"],
  summary: "How many calls the election's results aggregator has served since it started",
  description:
    "Operational: the aggregator is one object per election, so its load is what to watch. Displays never reach it (results relays do), so this count does not grow with them. In memory: it starts again from 0 when the object restarts (`since`).",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: {
      description: "Calls served",
      content: {
        "application/json": {
          schema: z
            .object({
              electionId: z.string(),
              calls: Count,
              since: z.string().openapi({ description: "When the object started (this count's origin)." }),
            })
            .openapi("AggregatorStats"),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

async function resultsFrom(
  env: Env,
  election: CompiledElection,
  now: Date,
  read: Promise<ResultsSnapshot>,
  exact: boolean,
): Promise<ResultsView> {
  const [release, roll] = await Promise.all([read, countRoll(env.DB, election.id)]);
  return resultsView(election, release.totals, roll, now, { version: release.version, asOf: release.asOf, exact });
}

export function resultsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(publicRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    const now = new Date();
    const closed = now.getTime() >= election.polls.closesAtMs;
    const visibility = election.settings.resultsVisibility;
    switch (visibility) {
      case "live":
        break;
      case "after-close":
        if (!closed) fail("results_not_public");
        break;
      default:
        assertNever(visibility);
    }
    await configureAggregator(c.env, election);
    const aggregator = resultsAggregatorFor(c.env, election.id);
    const view = await resultsFrom(
      c.env,
      election,
      now,
      aggregator.publicSnapshot(election.settings.minBallotsPerRelease, closed),
      closed,
    );
    // A snapshot taken while polls are open is never served from the cache after the close.
    const maxAge = closed
      ? RESULTS_CACHE_SECONDS
      : Math.min(RESULTS_CACHE_SECONDS, Math.floor((election.polls.closesAtMs - now.getTime()) / 1000));
    c.header("cache-control", maxAge > 0 ? `public, max-age=${maxAge}` : "no-store");
    return c.json(view, 200);
  });

  app.openapi(officialRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    c.header("cache-control", "no-store");
    await configureAggregator(c.env, election);
    const aggregator = resultsAggregatorFor(c.env, election.id);
    return c.json(await resultsFrom(c.env, election, new Date(), aggregator.exact(), true), 200);
  });

  app.openapi(aggregatorRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    c.header("cache-control", "no-store");
    const stats = await resultsAggregatorFor(c.env, election.id).stats();
    return c.json({ electionId: election.id, calls: stats.calls, since: new Date(stats.since).toISOString() }, 200);
  });

  return app;
}
