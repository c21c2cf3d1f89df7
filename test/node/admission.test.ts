/**
 * Admission control (workers/gateway/admission.ts) on a small app: requests are held in flight by
 * promises the test resolves, so which request is refused never depends on timing.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { admissionControl, AdmissionGate, isGuarded } from "../../workers/gateway/admission.ts";
import type { AppEnv } from "../../workers/gateway/http.ts";

const CAP = 2;

interface Held {
  readonly release: () => void;
}

/** An app whose guarded routes wait until the test releases them, counting the handlers entered. */
function heldApp(gate: AdmissionGate) {
  const app = new Hono<AppEnv>();
  app.use(
    admissionControl(
      gate,
      () => CAP,
      (c) => c.html("<p>busy</p>", 503),
    ),
  );
  const waiting: Held[] = [];
  let entered = 0;
  const hold = async (): Promise<void> => {
    entered += 1;
    await new Promise<void>((release) => waiting.push({ release }));
  };
  app.post("/v1/elections/:id/ballots", async (c) => {
    await hold();
    return c.json({ ok: true }, 201);
  });
  app.post("/v1/stations/:id/check-ins", async (c) => {
    await hold();
    return c.json({ ok: true }, 201);
  });
  app.post("/v1/auth/voter-session", () => {
    throw new Error("a bug behind a guarded path");
  });
  app.get("/v1/receipts/:code", (c) => c.json({ ok: true }));
  app.onError((_, c) => c.json({ error: { code: "internal_error" } }, 500));
  return {
    app,
    entered: () => entered,
    /** Lets the oldest held request finish. */
    releaseOne: async () => {
      const next = waiting.shift();
      if (!next) throw new Error("nothing held");
      next.release();
      // The released handler's continuation and the middleware's finally run before this settles.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    /** Waits until `n` handlers have been entered (their requests hold places). */
    enteredBy: async (n: number) => {
      while (entered < n) await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

function cast(app: Hono<AppEnv>, body = "{}"): Promise<Response> {
  return Promise.resolve(
    app.request("/v1/elections/e1/ballots", { method: "POST", body, headers: { "content-type": "application/json" } }),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("admission control on the peak write paths", () => {
  it("answers the request past the cap at once with 503 service_overloaded and Retry-After, without entering the route", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const gate = new AdmissionGate();
    const { app, entered, enteredBy, releaseOne } = heldApp(gate);
    const first = cast(app);
    const second = app.request("/v1/stations/s1/check-ins", { method: "POST", body: "{}" });
    await enteredBy(2);
    expect(gate.active).toBe(2);

    const shed = await cast(app, "not even JSON");
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("2");
    expect(((await shed.json()) as { error: { code: string } }).error.code).toBe("service_overloaded");
    expect(entered()).toBe(2);
    expect(gate.active).toBe(2);

    // A path that is not guarded is not counted and not refused.
    expect((await app.request("/v1/receipts/ABCD")).status).toBe(200);

    // A place given back admits the next request (an idempotent retry is an ordinary request).
    await releaseOne();
    expect((await first).status).toBe(201);
    expect(gate.active).toBe(1);
    const third = cast(app);
    await enteredBy(3);
    expect(gate.active).toBe(2);
    await releaseOne();
    await releaseOne();
    expect((await second).status).toBe(201);
    expect((await third).status).toBe(201);
    expect(gate.active).toBe(0);
  });

  it("gives the place back when the route throws", async () => {
    const gate = new AdmissionGate();
    const { app } = heldApp(gate);
    for (let i = 0; i < CAP + 3; i++) {
      const res = await app.request("/v1/auth/voter-session", { method: "POST", body: "{}" });
      expect(res.status).toBe(500);
    }
    expect(gate.active).toBe(0);
  });

  it("counts the refusals in at most one requests_shed event a second, naming no request", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((line: string) => void lines.push(line));
    let now = 1_000_000;
    const gate = new AdmissionGate(() => now);
    const { app, enteredBy, releaseOne } = heldApp(gate);
    const held = [cast(app), cast(app)];
    await enteredBy(2);

    for (let i = 0; i < 5; i++) expect((await cast(app)).status).toBe(503);
    // The first refusal is reported at once, the next four wait for a second to pass.
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { level: "warn", event: "requests_shed", shed: 1, inFlight: 2, cap: CAP },
    ]);
    now += 1_000;
    // The next request to finish reports what was left.
    await releaseOne();
    expect(lines.map((l) => JSON.parse(l) as unknown).at(-1)).toEqual({
      level: "warn",
      event: "requests_shed",
      shed: 4,
      inFlight: 1,
      cap: CAP,
    });
    await releaseOne();
    await Promise.all(held);
    expect(lines).toHaveLength(2);
  });

  it("guards the cast (the API's and the portal form's), the check-in, the scan and the voter login, and nothing else", () => {
    expect(isGuarded("POST", "/v1/elections/demo-2026/ballots")).toBe(true);
    expect(isGuarded("POST", "/elections/demo-2026/cast")).toBe(true);
    expect(isGuarded("POST", "/elections/demo-2026/review")).toBe(false);
    expect(isGuarded("POST", "/v1/stations/st-1/check-ins")).toBe(true);
    expect(isGuarded("POST", "/v1/stations/st-1/ballots")).toBe(true);
    expect(isGuarded("POST", "/v1/auth/voter-session")).toBe(true);
    expect(isGuarded("GET", "/v1/elections/demo-2026/ballots")).toBe(false);
    expect(isGuarded("POST", "/v1/stations/st-1/result-sheet")).toBe(false);
    expect(isGuarded("POST", "/v1/auth/token")).toBe(false);
    expect(isGuarded("POST", "/v1/elections/demo-2026/ballots/extra")).toBe(false);
  });
});
