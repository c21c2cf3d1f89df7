/**
 * The security monitor's alerts for officials (docs/MONITORING.md; the monitor is
 * durable-objects/security-monitor.ts, the one writer of alerts):
 *
 *   GET  /v1/admin/elections/{id}/alerts?state=&limit=          administrators, security officers
 *   GET  /v1/admin/elections/{id}/alerts/{alertId}              administrators, security officers
 *   POST /v1/admin/elections/{id}/alerts/{alertId}/acknowledge  administrators, security officers
 *   POST /v1/admin/elections/{id}/alerts/{alertId}/close        administrators, security officers
 *   GET  /v1/admin/elections/{id}/alerts/live (WebSocket)       administrators, security officers
 *   GET  /v1/admin/elections/{id}/monitor                       administrators, security officers, auditors
 *
 * Reads come from D1 (db/stores/alerts.ts), which the monitor writes as it raises and changes
 * alerts; acknowledging and closing go to the monitor, which decides (a closed alert takes
 * neither) and writes D1 before it answers, so a read after a 200 sees the change. Auditors read
 * the monitor's status (the log's health is theirs to watch) but not the alerts, whose evidence is
 * for the officials who act on it. The live channel is the monitor's own WebSocket, reached only
 * after the official's token and role are checked here.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getAlert, listAlerts } from "../../../db/stores/alerts.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { securityMonitorFor } from "../../../durable-objects/addresses.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { Alert, AlertId, ALERTS_PROTOCOL, MonitorStatus } from "../../../lib/monitor/alerts.ts";
import { assertNever } from "../../../lib/result.ts";
import { AlertState } from "../../../lib/vocabulary.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, respondError, validationHook, type AppEnv } from "../http.ts";

/** The most alerts one list answers; an election with more open ones has bigger problems. */
const MAX_LIST = 500;

const ElectionParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const AlertParam = ElectionParam.extend({
  alertId: AlertId.openapi({ param: { name: "alertId", in: "path" }, example: "al_0123456789abcdefghij" }),
});

const ListQuery = z.object({
  state: z
    .union([AlertState, z.literal("all")])
    .optional()
    .openapi({ description: "Which alerts: one state, or all. Default: open and acknowledged." }),
  limit: z.coerce.number().int().min(1).max(MAX_LIST).default(100),
});

/** An official's note on an acknowledgement or a closing: why, in their words (1-500 characters). */
const NoteBody = z.object({ note: z.string().trim().min(1).max(500) }).strict();

const AlertSchema = Alert.openapi("Alert");
const alertAnswer = {
  description: "The alert",
  content: { "application/json": { schema: AlertSchema } },
};

/** The monitor's answer to an acknowledgement or a closing, read as what it must be. */
const MonitorAnswer = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), value: Alert }),
  z.object({ ok: z.literal(false), error: z.enum(["alert_not_found", "alert_closed"]) }),
]);

const officers = requireOfficial("administrator", "security-officer");

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/alerts",
  tags: ["security"],
  summary: "An election's security alerts, the most recently seen first",
  description:
    "By default the alerts not closed (open and acknowledged). Each names its rule, severity, scope (a station, district, network, country or the election; never a voter) and evidence.",
  security: [{ officialAccess: [] }],
  middleware: [officers] as const,
  request: { params: ElectionParam, query: ListQuery },
  responses: {
    200: {
      description: "The alerts",
      content: { "application/json": { schema: z.object({ alerts: z.array(AlertSchema) }) } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const liveRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/alerts/live",
  tags: ["security"],
  summary: "Alerts as they are raised and change, over a WebSocket",
  description:
    "Subprotocol alerts.v1 when asked. First a snapshot (the alerts not closed and the monitor's status), then each alert as it is raised or changes and the status when it changes (lib/monitor/alerts.ts). Send `ping` every 20 s; the answer is `pong`.",
  security: [{ officialAccess: [] }],
  middleware: [officers] as const,
  request: { params: ElectionParam },
  responses: {
    101: { description: "Switching to a WebSocket" },
    ...errorResponses(400, 401, 403, 404, 426),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/alerts/{alertId}",
  tags: ["security"],
  summary: "One alert",
  security: [{ officialAccess: [] }],
  middleware: [officers] as const,
  request: { params: AlertParam },
  responses: { 200: alertAnswer, ...errorResponses(400, 401, 403, 404) },
});

/** Acknowledge and close: the same request (an official's note) and the same answers and refusals. */
function noteRoute(action: "acknowledge" | "close", summary: string, description: string) {
  return createRoute({
    method: "post",
    path: `/v1/admin/elections/{electionId}/alerts/{alertId}/${action}`,
    tags: ["security"],
    summary,
    description: `${description} Refusals: alert_not_found (404), alert_closed (409).`,
    security: [{ officialAccess: [] }],
    middleware: [officers] as const,
    request: {
      params: AlertParam,
      body: { required: true, content: { "application/json": { schema: NoteBody } } },
    },
    responses: { 200: alertAnswer, ...errorResponses(400, 401, 403, 404, 409) },
  });
}

const acknowledgeRoute = noteRoute(
  "acknowledge",
  "Acknowledge an alert: an official is on it",
  "The alert stays until it is closed and keeps counting its rule's firings. Acknowledging it again answers 200 with the alert unchanged.",
);

const closeRoute = noteRoute(
  "close",
  "Close an alert, with a note saying what was found or done",
  "A closed alert takes no acknowledgement or second closing (alert_closed, 409); should its rule fire again, a new alert is raised. Closing a high-severity alert is a public log entry (no evidence in it).",
);

const statusRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/monitor",
  tags: ["security"],
  summary: "The security monitor's view of the machinery: log backlog and checkpoint age, dead letters, aggregator lag",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "security-officer", "auditor")] as const,
  request: { params: ElectionParam },
  responses: {
    200: {
      description: "The monitor's status",
      content: { "application/json": { schema: MonitorStatus.openapi("MonitorStatus") } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

async function electionOrFail(env: Env, electionId: string): Promise<void> {
  if (!(await getElection(env.DB, electionId))) fail("election_not_found");
}

/** Hands the upgrade to the monitor's live channel and answers its socket as our own response. */
async function connectLive(c: Context<AppEnv>, electionId: string): Promise<Response> {
  const protocol = c.req.header("sec-websocket-protocol");
  const url = `https://security-monitor/live?election=${encodeURIComponent(electionId)}`;
  const answer = await securityMonitorFor(c.env, electionId).fetch(url, {
    headers: { upgrade: "websocket", ...(protocol ? { "sec-websocket-protocol": protocol } : {}) },
  });
  if (answer.status !== 101 || !answer.webSocket) throw new Error(`security monitor answered ${answer.status}`);
  // A response of our own, whose headers the app's middleware may still set.
  const headers = new Headers();
  if (protocol?.split(",").some((p) => p.trim() === ALERTS_PROTOCOL))
    headers.set("sec-websocket-protocol", ALERTS_PROTOCOL);
  return new Response(null, { status: 101, webSocket: answer.webSocket, headers });
}

export function alertRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(listRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { state, limit } = c.req.valid("query");
    await electionOrFail(c.env, electionId);
    const states: AlertState[] = state === undefined ? ["open", "acknowledged"] : state === "all" ? [] : [state];
    return c.json({ alerts: await listAlerts(c.env.DB, electionId, states, limit) }, 200);
  });

  // Before the route with {alertId}: "live" is not an alert id, but the order says it plainly.
  app.openapi(liveRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return respondError(c, "upgrade_required");
    await electionOrFail(c.env, electionId);
    return connectLive(c, electionId);
  });

  app.openapi(getRoute, async (c) => {
    const { electionId, alertId } = c.req.valid("param");
    await electionOrFail(c.env, electionId);
    const alert = await getAlert(c.env.DB, electionId, alertId);
    if (!alert) return fail("alert_not_found");
    return c.json(alert, 200);
  });

  for (const [route, action] of [
    [acknowledgeRoute, "acknowledge"],
    [closeRoute, "close"],
  ] as const) {
    app.openapi(route, async (c) => {
      const { electionId, alertId } = c.req.valid("param");
      const { note } = c.req.valid("json");
      await electionOrFail(c.env, electionId);
      const officialId = c.get("official").officialId;
      const monitor = securityMonitorFor(c.env, electionId);
      const outcome = MonitorAnswer.parse(
        action === "acknowledge"
          ? await monitor.acknowledge(alertId, officialId, note)
          : await monitor.close(alertId, officialId, note),
      );
      if (outcome.ok) return c.json(outcome.value, 200);
      switch (outcome.error) {
        case "alert_not_found":
        case "alert_closed":
          return fail(outcome.error);
        default:
          return assertNever(outcome.error);
      }
    });
  }

  app.openapi(statusRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    await electionOrFail(c.env, electionId);
    return c.json(MonitorStatus.parse(await securityMonitorFor(c.env, electionId).status(electionId)), 200);
  });

  return app;
}
