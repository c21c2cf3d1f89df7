/**
 * An administrator closes voting early (an emergency, with a reason) and reopens it before the
 * scheduled close: the API says from which instant, every path that accepts ballots, check-ins or
 * scans refuses from that instant on, both changes are in the audit log, and every refusal leaves
 * the state as it was.
 *
 * An early close takes effect CACHE_MS and a second after it is made; the tests move the
 * isolate's clock (routes, objects and signatures alike) past that instant with atTime rather than
 * waiting for it.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/audit/entries.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo, loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import {
  adminCall,
  atTime,
  compiledElection,
  markedBallotQr,
  refusal,
  registerStation,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "polls-control";
const CLOSING_SOON = "polls-control-soon";
const NOT_OPEN = "polls-control-future";
const BAD_BODIES = "polls-control-bodies";
const PORTAL = "polls-control-portal";
const INTERRUPTED = "polls-control-interrupted";
const RACE = "polls-control-race";

interface PollsView {
  state: string;
  opensAt: string;
  closesAt: string;
  votingEndsAt: string;
  closedEarly?: { effectiveAt: string; reason: string };
  changePending: boolean;
}

const path = (id: string, action = ""): string => `/v1/admin/elections/${id}/polls${action}`;

async function polls(id: string): Promise<PollsView> {
  const res = await adminCall("GET", path(id));
  expect(res.status).toBe(200);
  return res.json();
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body: { error: { code: string } } = await res.json();
  return { status: res.status, code: body.error.code };
}

let voters = 0;
async function newVoter(electionId: string): Promise<string> {
  voters += 1;
  const nationalId = `EE-POLLS-${voters}-${crypto.randomUUID().slice(0, 6)}`;
  await enrol(electionId, nationalId, "district-north");
  return voterSession(electionId, nationalId);
}

async function enrolled(electionId: string): Promise<string> {
  voters += 1;
  const nationalId = `EE-POLLS-CHECKIN-${voters}-${crypto.randomUUID().slice(0, 6)}`;
  await enrol(electionId, nationalId, "district-north");
  return nationalId;
}

/** The published log's poll entries, once it holds at least `atLeast` of them. */
async function pollEntries(electionId: string, atLeast: number): Promise<LogEntry[]> {
  return waitFor(async () => {
    await sequencer(electionId).sequenceNow();
    const log = await readPublishedLog(electionId).catch(() => undefined);
    const found = log?.decoded.filter((e) => e.type === "polls-closed-early" || e.type === "polls-reopened") ?? [];
    return found.length >= atLeast ? found : undefined;
  });
}

describe("closing voting early and reopening it", () => {
  let station: TestStation;
  let election: CompiledElection;
  let effectiveAtMs = 0;
  let serial = 61_000;
  const REASON = "Flooding at the counting centre; power is out in two districts.";

  beforeAll(async () => {
    await loadClosingSoonDemo(ELECTION, 6 * 3600_000);
    station = await registerStation(["district-north"], { serialRanges: [{ first: 61_000, last: 61_999 }] });
    election = await compiledElection(ELECTION);
  });

  it("says the polls are open, as scheduled, before anything happens", async () => {
    const view = await polls(ELECTION);
    expect(view).toMatchObject({ state: "open", changePending: false });
    expect(view.closedEarly).toBeUndefined();
    expect(view.votingEndsAt).toBe(view.closesAt);
  });

  it("closes from an instant after every isolate reloaded the election, and says which", async () => {
    const before = Date.now();
    const res = await adminCall("POST", path(ELECTION, "/close"), { reason: REASON });
    expect(res.status).toBe(200);
    const view: PollsView = await res.json();
    effectiveAtMs = Date.parse(view.votingEndsAt);
    // CACHE_MS (10 s) and a second, rounded up to a whole second.
    expect(effectiveAtMs % 1000).toBe(0);
    expect(effectiveAtMs).toBeGreaterThanOrEqual(before + 11_000);
    expect(effectiveAtMs).toBeLessThanOrEqual(Date.now() + 12_000);
    expect(view.closedEarly).toEqual({ effectiveAt: view.votingEndsAt, reason: REASON });
    expect(view.closesAt).toBe(new Date(election.polls.closesAtMs).toISOString());
    expect(view.state).toBe("open"); // not yet: the close is ahead
    expect(await polls(ELECTION)).toMatchObject({ votingEndsAt: view.votingEndsAt, changePending: false });
  });

  it("still accepts ballots, check-ins and scans before that instant", async () => {
    const session = await newVoter(ELECTION);
    expect((await cast(ELECTION, session, NORTH_BALLOT)).status).toBe(201);
    const nationalId = await enrolled(ELECTION);
    await atTime(effectiveAtMs - 1000, () =>
      station.client.checkIn({ electionId: ELECTION, nationalId, identity: { method: "id-card" } }),
    );
    serial += 1;
    const qr = await markedBallotQr(station.bmd, election, "bs-north", serial, NORTH_BALLOT);
    const scanned = await atTime(effectiveAtMs - 500, () =>
      station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(effectiveAtMs - 1000) }),
    );
    expect(scanned).toMatchObject({ serial, replayed: false });
  });

  it("refuses ballots, check-ins and scans from that instant on", async () => {
    const session = await newVoter(ELECTION);
    const nationalId = await enrolled(ELECTION);
    serial += 1;
    const qr = await markedBallotQr(station.bmd, election, "bs-north", serial, NORTH_BALLOT);
    const outcome = await atTime(effectiveAtMs + 1000, async () => ({
      cast: await errorOf(await cast(ELECTION, session, NORTH_BALLOT)),
      checkIn: await refusal(
        station.client.checkIn({ electionId: ELECTION, nationalId, identity: { method: "id-card" } }),
      ),
      scan: await refusal(station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(effectiveAtMs) })),
      view: await polls(ELECTION),
    }));
    expect(outcome.cast).toEqual({ status: 403, code: "polls_closed" });
    expect(outcome.checkIn).toEqual({ status: 403, code: "polls_closed" });
    expect(outcome.scan).toEqual({ status: 422, code: "scan_time_outside_polls" });
    expect(outcome.view.state).toBe("closed-early");
  });

  it("refuses a second close while voting is closed early, and changes nothing", async () => {
    const before = await polls(ELECTION);
    const res = await adminCall("POST", path(ELECTION, "/close"), { reason: "Again." });
    expect(await errorOf(res)).toEqual({ status: 409, code: "polls_already_closed_early" });
    expect(await polls(ELECTION)).toEqual(before);
  });

  it("logs the early close with its instant, the administrator and the reason", async () => {
    const [entry] = await pollEntries(ELECTION, 1);
    expect(entry).toMatchObject({
      type: "polls-closed-early",
      effectiveAt: new Date(effectiveAtMs).toISOString(),
      officialId: "bootstrap-admin",
      reason: REASON,
    });
  });

  it("reopens: ballots are accepted again, and the reopening is logged", async () => {
    const res = await adminCall("POST", path(ELECTION, "/reopen"), { reason: "Power is back in both districts." });
    expect(res.status).toBe(200);
    const view: PollsView = await res.json();
    expect(view).toMatchObject({ state: "open", votingEndsAt: view.closesAt, changePending: false });
    expect(view.closedEarly).toBeUndefined();
    const session = await newVoter(ELECTION);
    const accepted = await atTime(
      effectiveAtMs + 2000,
      async () => (await cast(ELECTION, session, NORTH_BALLOT)).status,
    );
    expect(accepted).toBe(201);
    const entries = await pollEntries(ELECTION, 2);
    expect(entries.map((e) => e.type)).toEqual(["polls-closed-early", "polls-reopened"]);
    expect(entries[1]).toMatchObject({ officialId: "bootstrap-admin", reason: "Power is back in both districts." });
  });

  it("refuses a reopen when voting is open", async () => {
    const res = await adminCall("POST", path(ELECTION, "/reopen"), { reason: "Once more." });
    expect(await errorOf(res)).toEqual({ status: 409, code: "polls_not_closed_early" });
  });

  it("is for administrators only: a station official's, an auditor's or a voter's token is refused", async () => {
    for (const role of ["station-official", "auditor"] as const) {
      const token = await officialToken(role);
      expect(await errorOf(await adminCall("POST", path(ELECTION, "/close"), { reason: "No." }, token))).toEqual({
        status: 403,
        code: "forbidden",
      });
      expect(await errorOf(await adminCall("GET", path(ELECTION), undefined, token))).toEqual({
        status: 403,
        code: "forbidden",
      });
    }
    const voter = await newVoter(ELECTION);
    const res = await adminCall("POST", path(ELECTION, "/close"), { reason: "No." }, voter);
    expect(res.status).toBe(401);
    expect((await polls(ELECTION)).closedEarly).toBeUndefined();
  });
});

describe("what cannot be closed early or reopened", () => {
  it("an election whose polls have not opened: change its definition instead", async () => {
    await loadDemoElection({
      electionId: NOT_OPEN,
      polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
    });
    for (const action of ["/close", "/reopen"]) {
      const res = await adminCall("POST", path(NOT_OPEN, action), { reason: "Too soon." });
      expect(await errorOf(res)).toEqual({ status: 409, code: "polls_control_not_open" });
    }
    expect((await polls(NOT_OPEN)).state).toBe("not-open");
  });

  it("a close that could only take effect at or after the scheduled close, and anything after it", async () => {
    const closesAt = await loadClosingSoonDemo(CLOSING_SOON, 5_000);
    const res = await adminCall("POST", path(CLOSING_SOON, "/close"), { reason: "Too late." });
    expect(await errorOf(res)).toEqual({ status: 409, code: "polls_close_too_late" });
    const after = await atTime(closesAt + 1000, async () => ({
      close: await errorOf(await adminCall("POST", path(CLOSING_SOON, "/close"), { reason: "Later." })),
      reopen: await errorOf(await adminCall("POST", path(CLOSING_SOON, "/reopen"), { reason: "Later." })),
      state: (await polls(CLOSING_SOON)).state,
    }));
    expect(after).toEqual({
      close: { status: 409, code: "polls_control_after_close" },
      reopen: { status: 409, code: "polls_control_after_close" },
      state: "closed",
    });
    expect((await polls(CLOSING_SOON)).closedEarly).toBeUndefined();
  });

  it("a request without a plain-text reason, which changes nothing", async () => {
    await loadClosingSoonDemo(BAD_BODIES, 6 * 3600_000);
    const bodies: unknown[] = [
      {},
      { reason: "" },
      { reason: "   " },
      { reason: "x".repeat(501) },
      { reason: "line one\nline two" },
      { reason: "bell\u0007" },
      { reason: 42 },
      { reason: "Fine.", extra: true },
    ];
    for (const body of bodies) {
      const res = await adminCall("POST", path(BAD_BODIES, "/close"), body);
      expect({ body, ...(await errorOf(res)) }).toEqual({ body, status: 400, code: "invalid_request" });
    }
    const notJson = await SELF.fetch(`${BASE}${path(BAD_BODIES, "/close")}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await adminToken()}`,
      },
      body: "{reason:",
    });
    expect(notJson.status).toBe(400);
    const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM election_polls WHERE election_id = ?`)
      .bind(BAD_BODIES)
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
    expect(await polls(BAD_BODIES)).toMatchObject({ state: "open", changePending: false });
  });
});

describe("the portal after an early close", () => {
  let effectiveAtMs = 0;

  /** The home page's card of an election (the page lists every open or coming election). */
  async function homeCard(electionId: string): Promise<string> {
    const res = await SELF.fetch(`${BASE}/`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const start = html.indexOf(`aria-labelledby="election-${electionId}"`);
    expect(start).toBeGreaterThan(-1);
    return html.slice(start, html.indexOf("</section>", start));
  }

  async function ballotPage(): Promise<Response> {
    return SELF.fetch(`${BASE}/elections/${PORTAL}/ballot`, { headers: { accept: "text/html" }, redirect: "manual" });
  }

  beforeAll(async () => {
    await loadClosingSoonDemo(PORTAL, 6 * 3600_000);
  });

  it("before the instant: the home page offers voting and the ballot page asks for a login", async () => {
    const card = await homeCard(PORTAL);
    expect(card).toContain(`/v1/auth/login?electionId=${PORTAL}`);
    expect(card).not.toContain("Voting has ended");
    const res = await adminCall("POST", path(PORTAL, "/close"), { reason: "A storm." });
    effectiveAtMs = Date.parse(((await res.json()) as PollsView).votingEndsAt);
    expect((await ballotPage()).status).toBe(303);
  });

  it("from the instant: the home page says voting has ended, and the ballot page says the polls are closed", async () => {
    const { card, ballot } = await atTime(effectiveAtMs + 1000, async () => {
      const page = await ballotPage();
      return { card: await homeCard(PORTAL), ballot: { status: page.status, html: await page.text() } };
    });
    expect(card).toContain("Voting has ended");
    expect(card).toContain("Voting was closed early on");
    expect(card).not.toContain("/v1/auth/login");
    expect(ballot.status).toBe(403);
    expect(ballot.html).toContain('data-error-code="polls_closed"');
  });
});

describe("a change interrupted, and two at once", () => {
  it("a close claimed but never logged is not in force; the next request logs it and puts it in force", async () => {
    await loadClosingSoonDemo(INTERRUPTED, 6 * 3600_000);
    // What a request that failed between claiming and logging leaves behind.
    const entry = {
      type: "polls-closed-early",
      at: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      effectiveAt: new Date(Math.ceil((Date.now() + 11_000) / 1000) * 1000).toISOString(),
      officialId: "bootstrap-admin",
      reason: "Interrupted.",
    };
    await env.DB.prepare(`INSERT INTO election_polls (election_id, generation, pending) VALUES (?, 0, ?)`)
      .bind(INTERRUPTED, JSON.stringify({ key: "polls/1", entry }))
      .run();
    const before = await polls(INTERRUPTED);
    expect(before).toMatchObject({ state: "open", changePending: true });
    expect(before.closedEarly).toBeUndefined();
    const session = await newVoter(INTERRUPTED);
    const accepted = await atTime(
      Date.parse(entry.effectiveAt) + 1000,
      async () => (await cast(INTERRUPTED, session, NORTH_BALLOT)).status,
    );
    expect(accepted).toBe(201);

    // The administrator repeats the close: the stored one is completed, not a second one made.
    const res = await adminCall("POST", path(INTERRUPTED, "/close"), { reason: "Interrupted." });
    expect(res.status).toBe(200);
    const view: PollsView = await res.json();
    expect(view).toMatchObject({
      votingEndsAt: entry.effectiveAt,
      closedEarly: { effectiveAt: entry.effectiveAt, reason: "Interrupted." },
      changePending: false,
    });
    const [logged] = await pollEntries(INTERRUPTED, 1);
    expect(logged).toEqual(entry);
    // Anyone else's close now meets the close in force.
    const again = await adminCall("POST", path(INTERRUPTED, "/close"), { reason: "Interrupted." });
    expect(await errorOf(again)).toEqual({ status: 409, code: "polls_already_closed_early" });
  });

  it("another administrator's request completes a pending change, then is decided against it", async () => {
    const electionId = `${INTERRUPTED}-other`;
    await loadClosingSoonDemo(electionId, 6 * 3600_000);
    const entry = {
      type: "polls-closed-early",
      at: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      effectiveAt: new Date(Math.ceil((Date.now() + 11_000) / 1000) * 1000).toISOString(),
      officialId: "admin-elsewhere",
      reason: "Theirs.",
    };
    await env.DB.prepare(`INSERT INTO election_polls (election_id, generation, pending) VALUES (?, 0, ?)`)
      .bind(electionId, JSON.stringify({ key: "polls/1", entry }))
      .run();
    const res = await adminCall("POST", path(electionId, "/close"), { reason: "Mine." });
    expect(await errorOf(res)).toEqual({ status: 409, code: "polls_already_closed_early" });
    expect(await polls(electionId)).toMatchObject({ closedEarly: { reason: "Theirs." }, changePending: false });
    expect(await pollEntries(electionId, 1)).toEqual([entry]);
  });

  it("two administrators closing at once: one close is in force, and the log has exactly that one", async () => {
    await loadClosingSoonDemo(RACE, 6 * 3600_000);
    const answers = await Promise.all(
      ["First.", "Second."].map(async (reason) => {
        const res = await adminCall("POST", path(RACE, "/close"), { reason });
        return res.status === 200 ? { status: 200, code: reason } : errorOf(res);
      }),
    );
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    const lost = answers.find((a) => a.status !== 200);
    expect(["polls_change_in_progress", "polls_already_closed_early"]).toContain(lost?.code);
    const view = await polls(RACE);
    expect(view.closedEarly?.reason).toBe(won[0]?.code);
    const entries = await pollEntries(RACE, 1);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ type: "polls-closed-early", reason: won[0]?.code });
  });
});
