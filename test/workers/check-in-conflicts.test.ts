/**
 * Check-in conflicts and check-ins that cancel online ballots are security events (security
 * review M12, and H3's "counted per station, for the monitor"), readable by administrators and
 * auditors, with the station, district and minute but never the voter.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { refusal, registerStation, type TestStation } from "./helpers/station.ts";

const FIRST_WINS = "conflicts-first-wins";
const SUPERSEDES = "conflicts-supersedes";
const ID_CARD = { method: "id-card" } as const;

let s1: TestStation;
let s2: TestStation;

beforeAll(async () => {
  await loadDemoElection({ electionId: FIRST_WINS, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: SUPERSEDES, crossChannelPolicy: "paper-supersedes" });
  s1 = await registerStation(["district-north"]);
  s2 = await registerStation(["district-north"]);
});

interface EventsPage {
  events: { id: number; kind: string; at: string; detail: Record<string, unknown> }[];
  next: number;
}

async function securityEvents(electionId: string, token?: string, after = 0): Promise<EventsPage> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/security-events?after=${after}`, {
    headers: { authorization: `Bearer ${token ?? (await adminToken())}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe("check-in conflicts", () => {
  it("a second check-in of a voter is refused and recorded with the station and minute, not the voter", async () => {
    const voterKey = await enrol(FIRST_WINS, "EE-CONFLICT-0001", "district-north");
    await s1.client.checkIn({ electionId: FIRST_WINS, nationalId: "EE-CONFLICT-0001", identity: ID_CARD });
    const before = await securityEvents(FIRST_WINS);
    expect(
      await refusal(s2.client.checkIn({ electionId: FIRST_WINS, nationalId: "EE-CONFLICT-0001", identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });

    const after = await securityEvents(FIRST_WINS, await officialToken("auditor"), before.next);
    expect(after.events).toHaveLength(1);
    const [event] = after.events;
    expect(event).toMatchObject({
      kind: "check-in-conflict",
      detail: { stationId: s2.stationId, districtId: "district-north", reason: "already_checked_in" },
    });
    expect(String(event?.detail["minute"])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    const stored = JSON.stringify(
      (await env.DB.prepare("SELECT * FROM security_events WHERE election_id = ?").bind(FIRST_WINS).all()).results,
    );
    expect(stored).not.toContain(voterKey);
    expect(stored).not.toContain("EE-CONFLICT-0001");
  });

  it("a check-in after an online vote under first-wins is refused and recorded", async () => {
    await enrol(FIRST_WINS, "EE-CONFLICT-0002", "district-north");
    const session = await voterSession(FIRST_WINS, "EE-CONFLICT-0002");
    expect((await cast(FIRST_WINS, session, NORTH_BALLOT)).status).toBe(201);
    const before = await securityEvents(FIRST_WINS);
    expect(
      await refusal(s1.client.checkIn({ electionId: FIRST_WINS, nationalId: "EE-CONFLICT-0002", identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });
    const after = await securityEvents(FIRST_WINS, undefined, before.next);
    expect(after.events.map((e) => [e.kind, e.detail["reason"], e.detail["stationId"]])).toEqual([
      ["check-in-conflict", "already_voted_online", s1.stationId],
    ]);
  });

  it("a check-in that cancels an online ballot under paper-supersedes is recorded once, not on its retry", async () => {
    await enrol(SUPERSEDES, "EE-CONFLICT-0003", "district-north");
    const session = await voterSession(SUPERSEDES, "EE-CONFLICT-0003");
    expect((await cast(SUPERSEDES, session, NORTH_BALLOT)).status).toBe(201);
    const checkInId = crypto.randomUUID();
    const request = { electionId: SUPERSEDES, nationalId: "EE-CONFLICT-0003", identity: ID_CARD, checkInId };
    expect(await s1.client.checkIn(request)).toMatchObject({ outcome: "issue-ballot", replayed: false });
    expect(await s1.client.checkIn(request)).toMatchObject({ outcome: "issue-ballot", replayed: true });
    const page = await securityEvents(SUPERSEDES);
    expect(page.events.map((e) => [e.kind, e.detail["stationId"]])).toEqual([
      ["check-in-cancelled-online-ballot", s1.stationId],
    ]);
  });

  it("are for administrators and auditors only", async () => {
    const res = await SELF.fetch(`${BASE}/v1/admin/elections/${FIRST_WINS}/security-events`, {
      headers: { authorization: `Bearer ${await officialToken("station-official")}` },
    });
    expect(res.status).toBe(403);
  });
});
