/**
 * Admission control inside the whole Worker (workers/gateway/admission.ts): with every place of
 * an isolate's gate taken, a cast and a voter login are refused with 503 service_overloaded and
 * Retry-After before anything is read or stored, and the same requests succeed once places are
 * free. The gate is the test's own (createApp takes one), filled by taking its places directly,
 * so nothing here depends on timing.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { configOf } from "../../durable-objects/config.ts";
import { AdmissionGate } from "../../workers/gateway/admission.ts";
import { createApp } from "../../workers/gateway/app.ts";
import { BASE, signIdToken, voterSession } from "./helpers/auth.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const ELECTION = "admission-control";

async function fetchApp(app: ReturnType<typeof createApp>, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

function castRequest(session: string, idempotencyKey: string, body?: string): Request {
  return new Request(`${BASE}/v1/elections/${ELECTION}/ballots`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${session}`,
      "cf-connecting-ip": "10.61.0.1",
    },
    body: body ?? JSON.stringify({ idempotencyKey, contests: NORTH_BALLOT }),
    cf: { country: "EE" },
  });
}

async function errorCodeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

/** Takes every place of the gate, as that many requests in flight would. */
function fill(gate: AdmissionGate): number {
  const cap = configOf(env).ADMISSION_MAX_IN_FLIGHT;
  for (let i = 0; i < cap; i++) expect(gate.tryEnter(cap)).toBe(true);
  return cap;
}

function empty(gate: AdmissionGate, cap: number): void {
  for (let i = 0; i < cap; i++) gate.leave(cap);
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION, crossChannelPolicy: "first-wins" });
});

describe("admission control in the gateway", () => {
  it("refuses a cast with 503 service_overloaded and Retry-After when the isolate is full, and the same cast is accepted once a place is free", async () => {
    await enrol(ELECTION, "EE-ADMIT-0001", "district-north");
    const session = await voterSession(ELECTION, "EE-ADMIT-0001");
    const gate = new AdmissionGate();
    const app = createApp({ admission: gate });
    const cap = fill(gate);

    const shed = await fetchApp(app, castRequest(session, "admission-cast-0001"));
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("2");
    expect(await errorCodeOf(shed)).toBe("service_overloaded");
    // Before the body is read: a malformed one is refused the same way, not as bad JSON.
    const malformed = await fetchApp(app, castRequest(session, "admission-cast-0001", "{not json"));
    expect(malformed.status).toBe(503);
    expect(await errorCodeOf(malformed)).toBe("service_overloaded");
    expect(gate.active).toBe(cap);

    // Nothing was stored: the voter has no ballot, and the results count none.
    const mine = await fetchApp(
      app,
      new Request(`${BASE}/v1/elections/${ELECTION}/my-ballot`, { headers: { authorization: `Bearer ${session}` } }),
    );
    expect(mine.status).toBe(200);
    const before = (await mine.json()) as { countedTrackingCode: string | null; ballots: unknown[] };
    expect(before).toMatchObject({ countedTrackingCode: null, ballots: [] });

    empty(gate, cap);
    const accepted = await fetchApp(app, castRequest(session, "admission-cast-0001"));
    expect(accepted.status).toBe(201);
    expect(((await accepted.json()) as { replayed: boolean }).replayed).toBe(false);
    expect(gate.active).toBe(0);
  });

  it("refuses a voter login when the isolate is full without spending its ID token", async () => {
    await enrol(ELECTION, "EE-ADMIT-0002", "district-north");
    const idToken = await signIdToken("EE-ADMIT-0002");
    const login = (): Request =>
      new Request(`${BASE}/v1/auth/voter-session`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": "10.61.0.2" },
        body: JSON.stringify({ electionId: ELECTION, idToken }),
        cf: { country: "EE" },
      });
    const gate = new AdmissionGate();
    const app = createApp({ admission: gate });
    const cap = fill(gate);

    const shed = await fetchApp(app, login());
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("2");
    expect(await errorCodeOf(shed)).toBe("service_overloaded");

    // The replay guard never saw the token: the same login succeeds once a place is free.
    empty(gate, cap);
    const res = await fetchApp(app, login());
    expect(res.status).toBe(200);
  });

  it("answers the portal's cast form with the voter's busy page, its 503 and Retry-After, when the isolate is full", async () => {
    const form = (): Request =>
      new Request(`${BASE}/elections/${ELECTION}/cast?lang=et`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "10.61.0.3" },
        body: "csrf=x&idempotencyKey=admission-form-0001",
        cf: { country: "EE" },
      });
    const gate = new AdmissionGate();
    const app = createApp({ admission: gate });
    const cap = fill(gate);

    const shed = await fetchApp(app, form());
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("2");
    expect(shed.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await shed.text();
    expect(html).toContain('data-error-code="service_overloaded"');
    // In the voter's language, and back to the ballot the review kept.
    expect(html).toContain('lang="et"');
    expect(html).toContain(`href="/elections/${ELECTION}/ballot?lang=et"`);
    expect(gate.active).toBe(cap);

    // With a place free the form reaches its route, which asks this session-less browser to log in.
    empty(gate, cap);
    const passed = await fetchApp(app, form());
    expect(passed.status).not.toBe(503);
    await passed.body?.cancel();
    expect(gate.active).toBe(0);
  });

  it("does not count or refuse the other routes when the isolate is full", async () => {
    const gate = new AdmissionGate();
    const app = createApp({ admission: gate });
    const cap = fill(gate);
    const res = await fetchApp(app, new Request(`${BASE}/v1/elections/${ELECTION}`));
    expect(res.status).toBe(200);
    expect(gate.active).toBe(cap);
  });
});
