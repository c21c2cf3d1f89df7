/**
 * The alerts API (workers/gateway/routes/alerts.ts) against the real security monitor: an alert
 * raised by refused casts is listed, read, acknowledged and closed by officials with a note, and
 * pushed on the live channel; roles are enforced; bad ids and bodies are 4xx and change nothing.
 * Also the security officer's reach over the other admin routes (read, never act).
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { Alert, MonitorStatus } from "../../lib/monitor/alerts.ts";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { acceptAlertsLive } from "./helpers/alerts.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const E = "alerts-routes";
const VOTER = "EE-ALERTS-0001";
const VOTER_IP = "10.71.4.20";

let admin: string;
let officer: string;
let auditor: string;
let stationOfficial: string;
let alertId: string;

function get(path: string, token?: string): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

function post(path: string, token: string, body: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

async function alertOf(res: Response): Promise<Alert> {
  return Alert.parse(await res.json());
}

const alertsPath = `/v1/admin/elections/${E}/alerts`;

async function d1State(id: string): Promise<string | undefined> {
  const row = await env.DB.prepare("SELECT state FROM alerts WHERE id = ?").bind(id).first<{ state: string }>();
  return row?.state;
}

beforeAll(async () => {
  await loadDemoElection({ electionId: E, crossChannelPolicy: "first-wins" });
  await enrol(E, VOTER, "district-north");
  [admin, officer, auditor, stationOfficial] = await Promise.all([
    adminToken(),
    officialToken("security-officer"),
    officialToken("auditor"),
    officialToken("station-official"),
  ]);
  // One voter's ballot, then five refused casts of the same voter: repeated-attempts for one voter.
  const session = await voterSession(E, VOTER);
  expect((await cast(E, session, NORTH_BALLOT, crypto.randomUUID(), VOTER_IP)).status).toBe(201);
  for (let i = 0; i < 5; i += 1) {
    const refused = await cast(E, session, NORTH_BALLOT, crypto.randomUUID(), VOTER_IP);
    expect([refused.status, await codeOf(refused)]).toEqual([409, "already_voted"]);
  }
});

describe("reading alerts", () => {
  it("lists the alert five refused casts of one voter raised, scoped to a numbered voter, naming no one", async () => {
    const res = await get(alertsPath, officer);
    expect(res.status).toBe(200);
    const body: { alerts: unknown[] } = await res.json();
    const alerts = body.alerts.map((a) => Alert.parse(a));
    const repeated = alerts.filter((a) => a.rule === "repeated-attempts");
    expect(repeated).toHaveLength(1);
    const [alert] = repeated;
    expect(alert?.scope).toMatch(/^voter:\d+$/);
    expect(alert?.state).toBe("open");
    expect(JSON.stringify(alert)).not.toContain(VOTER_IP);
    expect(JSON.stringify(alert)).not.toContain(VOTER);
    alertId = alert!.id;
  });

  it("reads one alert, and answers 404 for an unknown one and 400 for a malformed id", async () => {
    const one = await get(`${alertsPath}/${alertId}`, admin);
    expect(one.status).toBe(200);
    expect((await alertOf(one)).id).toBe(alertId);
    const unknown = await get(`${alertsPath}/al_${"0".repeat(24)}`, officer);
    expect([unknown.status, await codeOf(unknown)]).toEqual([404, "alert_not_found"]);
    const malformed = await get(`${alertsPath}/not-an-alert`, officer);
    expect([malformed.status, await codeOf(malformed)]).toEqual([400, "invalid_request"]);
    const otherElection = await get(`/v1/admin/elections/no-such-election/alerts/${alertId}`, officer);
    expect([otherElection.status, await codeOf(otherElection)]).toEqual([404, "election_not_found"]);
  });

  it("refuses a bad state filter, and refuses auditors, station officials and the anonymous", async () => {
    const bad = await get(`${alertsPath}?state=everything`, officer);
    expect([bad.status, await codeOf(bad)]).toEqual([400, "invalid_request"]);
    for (const [token, status] of [
      [auditor, 403],
      [stationOfficial, 403],
      [undefined, 401],
    ] as const) {
      expect((await get(alertsPath, token)).status).toBe(status);
      expect((await get(`${alertsPath}/${alertId}`, token)).status).toBe(status);
    }
  });

  it("answers the monitor's status to administrators, security officers and auditors, not station officials", async () => {
    for (const token of [admin, officer, auditor]) {
      const res = await get(`/v1/admin/elections/${E}/monitor`, token);
      expect(res.status).toBe(200);
      const status = MonitorStatus.parse(await res.json());
      expect(status.electionId).toBe(E);
      expect(status.openAlerts).toBeGreaterThanOrEqual(1);
    }
    expect((await get(`/v1/admin/elections/${E}/monitor`, stationOfficial)).status).toBe(403);
  });
});

describe("acknowledging and closing", () => {
  it("refuses bad notes and the wrong roles without changing the alert", async () => {
    const ack = `${alertsPath}/${alertId}/acknowledge`;
    for (const body of [{}, { note: "" }, { note: "   " }, { note: "x".repeat(501) }, { note: "ok", extra: 1 }, "{"]) {
      const res = await post(ack, officer, body);
      expect(res.status).toBe(400);
    }
    expect((await post(ack, auditor, { note: "seen" })).status).toBe(403);
    expect((await post(ack, stationOfficial, { note: "seen" })).status).toBe(403);
    expect((await post(`${alertsPath}/${alertId}/close`, auditor, { note: "done" })).status).toBe(403);
    const unknown = await post(`${alertsPath}/al_${"1".repeat(24)}/acknowledge`, officer, { note: "seen" });
    expect([unknown.status, await codeOf(unknown)]).toEqual([404, "alert_not_found"]);
    expect((await alertOf(await get(`${alertsPath}/${alertId}`, officer))).state).toBe("open");
    expect(await d1State(alertId)).toBe("open");
  });

  it("acknowledges with a note; the same official again answers the alert unchanged", async () => {
    const ack = `${alertsPath}/${alertId}/acknowledge`;
    const first = await post(ack, officer, { note: "Looking at the voter's device reports." });
    expect(first.status).toBe(200);
    const acknowledged = await alertOf(first);
    expect(acknowledged.state).toBe("acknowledged");
    expect(acknowledged.acknowledged?.note).toBe("Looking at the voter's device reports.");
    const again = await post(ack, officer, { note: "Still looking." });
    expect(again.status).toBe(200);
    expect(await alertOf(again)).toEqual(acknowledged);
    // D1 follows before the answer: a read after the 200 sees it.
    expect((await alertOf(await get(`${alertsPath}/${alertId}`, admin))).state).toBe("acknowledged");
  });

  it("closes with a note; a closed alert takes no acknowledgement or second closing", async () => {
    const close = `${alertsPath}/${alertId}/close`;
    expect((await post(close, admin, {})).status).toBe(400);
    const closed = await post(close, admin, { note: "A voter retrying on a slow phone; no action." });
    expect(closed.status).toBe(200);
    const alert = await alertOf(closed);
    expect(alert.state).toBe("closed");
    expect(alert.closed?.officialId).toBe("bootstrap-admin");
    const twice = await post(close, officer, { note: "again" });
    expect([twice.status, await codeOf(twice)]).toEqual([409, "alert_closed"]);
    const ack = await post(`${alertsPath}/${alertId}/acknowledge`, officer, { note: "late" });
    expect([ack.status, await codeOf(ack)]).toEqual([409, "alert_closed"]);
    // Gone from the default list, there under state=closed and state=all.
    const open: { alerts: { id: string }[] } = await (await get(alertsPath, officer)).json();
    expect(open.alerts.map((a) => a.id)).not.toContain(alertId);
    for (const state of ["closed", "all"]) {
      const listed: { alerts: { id: string }[] } = await (await get(`${alertsPath}?state=${state}`, officer)).json();
      expect(listed.alerts.map((a) => a.id)).toContain(alertId);
    }
    expect(await d1State(alertId)).toBe("closed");
  });
});

describe("the live channel", () => {
  function upgrade(token: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
    return SELF.fetch(`${BASE}${alertsPath}/live`, {
      headers: { upgrade: "websocket", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
  }

  it("refuses the anonymous, auditors and station officials before any upgrade, and a plain GET", async () => {
    expect((await upgrade(undefined)).status).toBe(401);
    expect((await upgrade(auditor)).status).toBe(403);
    expect((await upgrade(stationOfficial)).status).toBe(403);
    const plain = await get(`${alertsPath}/live`, officer);
    expect([plain.status, await codeOf(plain)]).toEqual([426, "upgrade_required"]);
  });

  it("sends a snapshot, then an alert raised by more refused casts", async () => {
    const res = await upgrade(officer, { "sec-websocket-protocol": "alerts.v1" });
    const { ws, messages } = await acceptAlertsLive(res);
    // The first alert is closed: the voter's next refused cast opens a new one, pushed live.
    const session = await voterSession(E, VOTER);
    const refused = await cast(E, session, NORTH_BALLOT, crypto.randomUUID(), VOTER_IP);
    expect(refused.status).toBe(409);
    const raised = await waitFor(async () =>
      messages.find((m) => m.type === "alert" && m.alert.rule === "repeated-attempts" && m.alert.id !== alertId),
    );
    expect(raised).toMatchObject({ alert: { state: "open" } });
    ws.close(1000, "done");
  });
});

describe("the OpenAPI document", () => {
  it("describes the alerts routes and the monitor's status", async () => {
    const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/admin/elections/{electionId}/alerts",
        "/v1/admin/elections/{electionId}/alerts/live",
        "/v1/admin/elections/{electionId}/alerts/{alertId}",
        "/v1/admin/elections/{electionId}/alerts/{alertId}/acknowledge",
        "/v1/admin/elections/{electionId}/alerts/{alertId}/close",
        "/v1/admin/elections/{electionId}/monitor",
      ]),
    );
  });
});

describe("the security officer's reach", () => {
  it("reads security events, the log's status, dead letters, reconciliation and exact results", async () => {
    for (const path of [
      `/v1/admin/elections/${E}/security-events`,
      `/v1/admin/elections/${E}/log`,
      `/v1/admin/dead-letters`,
      `/v1/admin/elections/${E}/reconciliation`,
      `/v1/admin/elections/${E}/results`,
      `/v1/admin/elections/${E}`,
    ]) {
      const res = await get(path, officer);
      expect([path, res.status]).toEqual([path, 200]);
    }
  });

  it("does not close polls, adjudicate, certify, reconcile or manage officials and stations", async () => {
    const refusals: [string, unknown][] = [
      [`/v1/admin/elections/${E}/polls/close`, { reason: "test" }],
      [`/v1/admin/elections/${E}/conflicts/${crypto.randomUUID()}/decision`, { decision: "count", reason: "x" }],
      [`/v1/admin/elections/${E}/results/certify`, {}],
      [`/v1/admin/elections/${E}/reconciliation`, {}],
      [`/v1/admin/officials`, {}],
      [`/v1/admin/stations`, {}],
    ];
    for (const [path, body] of refusals) {
      const res = await post(path, officer, body);
      expect([path, res.status]).toEqual([path, 403]);
    }
  });
});
