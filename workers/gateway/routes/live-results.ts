/**
 * Live results (docs/ARCHITECTURE.md, "Live results"; wire format in lib/results/live.ts):
 * - `GET /v1/elections/{id}/results/live` with `Upgrade: websocket`: the public channel. Rate
 *   limited per client address like every public read, 404 for an unknown election. With
 *   resultsVisibility `after-close`, open before the close too, carrying turnout only (the
 *   aggregator strips choices before anything leaves it).
 * - `GET /v1/admin/elections/{id}/results/live`: the official channel (exact sums), for security officers,
 *   administrators and auditors; any other token, or none, is refused before any upgrade.
 * - `GET /v1/elections/{id}/results/latest`: the LatestPointer, cached for a second.
 * - `GET /v1/elections/{id}/results/snapshots/{version}`: a public snapshot from R2, immutable.
 *
 * A socket is placed on a results relay by a stable hash of the display's id (`display`), or of
 * its client address when it names none, so a reconnecting display finds the relay that holds
 * the versions it needs; a full relay (503) or one that fails to answer is passed over for the
 * next ones, up to RELAY_TRIES. The gateway only places sockets: the relay owns them
 * (hibernatable) and the updates never pass through here.
 *
 * The aggregator learns the settings its cuts need (k, visibility, scheduled close) from here
 * and from the results routes (configureAggregator), once per isolate and election: its load
 * does not grow with the number of displays.
 *
 * The WebSocket routes are described in the OpenAPI document with createRoute like the others;
 * OpenAPI has no word for the messages that follow the 101, which lib/results/live.ts defines.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { LatestPointer, LIVE_PROTOCOL, LiveSnapshot, type LiveChannel } from "../../../lib/results/live.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { relayIndexFor, resultsAggregatorFor, resultsRelayFor } from "../../../durable-objects/addresses.ts";
import { configOf } from "../../../durable-objects/config.ts";
import { snapshotKey } from "../../../durable-objects/results-aggregator.ts";
import { configureAggregator } from "../../tally/results-settings.ts";
import { RELAY_FULL_RETRY_AFTER_SECONDS, relayConnectUrl } from "../../../durable-objects/results-relay.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, respondError, validationHook, type AppEnv } from "../http.ts";
import { clientAddress, edgeCached, publicReadLimit } from "../edge.ts";

/** How many relays a connect tries, from the hashed one on, before it says all are full. */
export const RELAY_TRIES = 8;

/**
 * How long a shared cache may keep the latest pointer: a client that cannot hold a socket is at
 * most a second behind, and each edge location asks the Worker at most once a second.
 */
export const LATEST_CACHE_SECONDS = 1;

/** The path of a public snapshot, as the latest pointer names it. */
export function snapshotPath(electionId: string, version: number): string {
  return `/v1/elections/${electionId}/results/snapshots/${version}`;
}

const ElectionIdParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const Since = z.coerce
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .optional()
  .openapi({ description: "The version the display holds; it then gets only what changed since." });

const PublicLiveQuery = z.object({
  since: Since,
  display: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "a display id is 1-64 letters, digits, dots, dashes and underscores")
    .optional()
    .openapi({ description: "A stable id of the display, so that it reconnects to the same relay." }),
});

const OfficialLiveQuery = z.object({ since: Since });

const switching = {
  101: {
    description:
      "Switching to a WebSocket (subprotocol results.v1 when asked): a LiveSnapshot, LiveUpdate or LiveCurrent first, then LiveUpdates (lib/results/live.ts). Send `ping` every 20 s; the answer is `pong`.",
  },
};

const publicLiveRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/results/live",
  tags: ["results"],
  summary: "Live results over a WebSocket, as the election's results visibility allows",
  description:
    "Public snapshots (no district moves by fewer than minBallotsPerRelease ballots, at most four a second); with resultsVisibility `after-close`, turnout only until the polls close. 503 results_relays_full with Retry-After when no connection is free: read /results/latest then.",
  middleware: [publicReadLimit] as const,
  request: { params: ElectionIdParam, query: PublicLiveQuery },
  responses: { ...switching, ...errorResponses(400, 404, 426, 429, 503) },
});

const officialLiveRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/results/live",
  tags: ["results"],
  summary: "Exact live results over a WebSocket, for administrators, auditors and security officers",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionIdParam, query: OfficialLiveQuery },
  responses: { ...switching, ...errorResponses(400, 401, 403, 404, 426, 503) },
});

const latestRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/results/latest",
  tags: ["results"],
  summary: "The latest public results snapshot's version and where to get it",
  description:
    "For clients that cannot hold a WebSocket: poll this (cached for a second), then get the snapshot it names.",
  middleware: [publicReadLimit, edgeCached] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: {
      description: "The pointer",
      content: { "application/json": { schema: LatestPointer.openapi("LatestPointer") } },
    },
    ...errorResponses(400, 404, 429),
  },
});

const snapshotRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/results/snapshots/{version}",
  tags: ["results"],
  summary: "A public results snapshot by version (immutable)",
  description:
    "The LiveSnapshot of the public channel at this version, exactly as the displays received it; it never changes, so it is cached for a year.",
  middleware: [publicReadLimit, edgeCached] as const,
  request: {
    params: ElectionIdParam.extend({
      version: z.coerce
        .number()
        .int()
        .min(1)
        .max(Number.MAX_SAFE_INTEGER)
        .openapi({ param: { name: "version", in: "path" }, example: 3 }),
    }),
  },
  responses: {
    200: {
      description: "The snapshot (lib/results/live.ts)",
      content: { "application/json": { schema: LiveSnapshot.openapi("LiveSnapshot") } },
    },
    ...errorResponses(400, 404, 429),
  },
});

function wantsWebSocket(c: Context<AppEnv>): boolean {
  return c.req.header("upgrade")?.toLowerCase() === "websocket";
}

/** Places the socket on the hashed relay, or the next ones when it is full (file header). */
async function connect(
  c: Context<AppEnv>,
  electionId: string,
  channel: LiveChannel,
  key: string,
  since: number | undefined,
): Promise<Response> {
  const relays = configOf(c.env).RESULTS_RELAYS;
  const start = relayIndexFor(key, relays);
  const protocol = c.req.header("sec-websocket-protocol");
  for (let k = 0; k < Math.min(relays, RELAY_TRIES); k += 1) {
    const index = (start + k) % relays;
    let answer: Response;
    try {
      answer = await resultsRelayFor(c.env, electionId, channel, index).fetch(
        relayConnectUrl({ electionId, channel, index }, since),
        { headers: { upgrade: "websocket", ...(protocol ? { "sec-websocket-protocol": protocol } : {}) } },
      );
    } catch {
      // A relay being reset or overloaded: the next one takes the display (it reconnects home later).
      continue;
    }
    if (answer.status === 503) continue;
    if (answer.status !== 101 || !answer.webSocket) throw new Error(`results relay ${index} answered ${answer.status}`);
    // A response of our own, whose headers the app's middleware may still set.
    const headers = new Headers();
    if (protocol?.split(",").some((p) => p.trim() === LIVE_PROTOCOL))
      headers.set("sec-websocket-protocol", LIVE_PROTOCOL);
    return new Response(null, { status: 101, webSocket: answer.webSocket, headers });
  }
  c.header("retry-after", String(RELAY_FULL_RETRY_AFTER_SECONDS));
  return respondError(c, "results_relays_full");
}

async function electionOrFail(env: Env, electionId: string): Promise<CompiledElection> {
  const election = await getElection(env.DB, electionId);
  if (!election) fail("election_not_found");
  return election;
}

export function liveResultsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(publicLiveRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { since, display } = c.req.valid("query");
    if (!wantsWebSocket(c)) return respondError(c, "upgrade_required");
    const election = await electionOrFail(c.env, electionId);
    await configureAggregator(c.env, election);
    return connect(c, election.id, "public", display ?? `address:${clientAddress(c)}`, since);
  });

  app.openapi(officialLiveRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { since } = c.req.valid("query");
    if (!wantsWebSocket(c)) return respondError(c, "upgrade_required");
    const election = await electionOrFail(c.env, electionId);
    await configureAggregator(c.env, election);
    return connect(c, election.id, "official", `official:${c.get("official").officialId}`, since);
  });

  app.openapi(latestRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await electionOrFail(c.env, electionId);
    await configureAggregator(c.env, election);
    const latest = await resultsAggregatorFor(c.env, election.id).latestRelease();
    const pointer: LatestPointer = {
      electionId: election.id,
      version: latest.version,
      asOf: latest.asOf,
      snapshot: latest.version > 0 ? snapshotPath(election.id, latest.version) : null,
    };
    c.header("cache-control", `public, max-age=${LATEST_CACHE_SECONDS}`);
    return c.json(pointer, 200);
  });

  app.openapi(snapshotRoute, async (c) => {
    const { electionId, version } = c.req.valid("param");
    const object = await c.env.RESULTS_SNAPSHOTS.get(snapshotKey(electionId, version));
    if (!object) fail("snapshot_not_found");
    // Written only by the aggregator from a LiveSnapshot: a failure to parse is a bug (a 500).
    const snapshot = LiveSnapshot.parse(await object.json());
    c.header("cache-control", "public, max-age=31536000, immutable");
    return c.json(snapshot, 200);
  });

  return app;
}
