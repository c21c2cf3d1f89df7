/**
 * Checking voters in at a polling station through the signed route: the roll, the station's
 * districts, the identity check, and the voter ledger's answer under both cross-channel policies;
 * accepted check-ins counted per station in D1 (no voter key there).
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ledgerFor } from "../../durable-objects/addresses.ts";
import { BASE, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { StationCallError } from "../../lib/station-client/client.ts";
import { refusal, registerStation, type TestStation } from "./helpers/station.ts";

const FIRST_WINS = "checkin-first-wins";
const SUPERSEDES = "checkin-supersedes";
const CLOSED = "checkin-closed";

let north: TestStation;
let northToo: TestStation;
let east: TestStation;

beforeAll(async () => {
  await loadDemoElection({ electionId: FIRST_WINS, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: SUPERSEDES, crossChannelPolicy: "paper-supersedes" });
  await loadDemoElection({
    electionId: CLOSED,
    polls: { opensAt: "2020-01-01T00:00:00Z", closesAt: "2020-01-02T00:00:00Z" },
  });
  north = await registerStation(["district-north"]);
  northToo = await registerStation(["district-north", "district-south"]);
  east = await registerStation(["district-east"]);
});

let counter = 0;
async function voter(
  electionId: string,
  district = "district-north",
): Promise<{ nationalId: string; voterKey: string }> {
  counter += 1;
  const nationalId = `EE-CHK-${String(counter).padStart(4, "0")}`;
  return { nationalId, voterKey: await enrol(electionId, nationalId, district) };
}

const ID_CARD = { method: "id-card" } as const;

describe("check-in under first-wins", () => {
  it("issues a ballot of the voter's style; a retry answers the same; a second check-in anywhere is refused", async () => {
    const v = await voter(FIRST_WINS);
    const checkInId = crypto.randomUUID();
    const first = await north.client.checkIn({
      electionId: FIRST_WINS,
      nationalId: v.nationalId,
      identity: ID_CARD,
      checkInId,
    });
    expect(first).toEqual({
      checkInId,
      electionId: FIRST_WINS,
      stationId: north.stationId,
      outcome: "issue-ballot",
      ballotStyleId: "bs-north",
      districtId: "district-north",
      replayed: false,
    });
    // The national id is normalised as on the roll: case and surrounding spaces do not matter.
    const retry = await north.client.checkIn({
      electionId: FIRST_WINS,
      nationalId: ` ${v.nationalId.toLowerCase()} `,
      identity: ID_CARD,
      checkInId,
    });
    expect(retry).toMatchObject({ ballotStyleId: "bs-north", replayed: true });
    expect(
      await refusal(northToo.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });
    expect(
      await refusal(north.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });
    // And the voter can no longer vote online.
    const session = await voterSession(FIRST_WINS, v.nationalId);
    const online = await cast(FIRST_WINS, session, NORTH_BALLOT);
    expect(online.status).toBe(409);
  });

  it("refuses a voter who voted online", async () => {
    const v = await voter(FIRST_WINS);
    expect((await cast(FIRST_WINS, await voterSession(FIRST_WINS, v.nationalId), NORTH_BALLOT)).status).toBe(201);
    expect(
      await refusal(north.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });
    expect(await ledgerFor(env, FIRST_WINS, v.voterKey).status(FIRST_WINS, v.voterKey)).toEqual({
      state: "online",
      revotes: 0,
      counted: 1,
    });
  });

  it("refuses, changing nothing: not on the roll, another district, a failed biometric match", async () => {
    expect(
      await refusal(north.client.checkIn({ electionId: FIRST_WINS, nationalId: "EE-NOBODY-01", identity: ID_CARD })),
    ).toEqual({ status: 403, code: "not_on_roll" });

    const v = await voter(FIRST_WINS, "district-north");
    expect(
      await refusal(east.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 403, code: "station_wrong_district" });
    expect(
      await refusal(
        north.client.checkIn({
          electionId: FIRST_WINS,
          nationalId: v.nationalId,
          identity: { method: "id-card+biometric", biometric: { matched: false, score: 0.31 } },
        }),
      ),
    ).toEqual({ status: 403, code: "identity_not_verified" });
    expect(await ledgerFor(env, FIRST_WINS, v.voterKey).status(FIRST_WINS, v.voterKey)).toMatchObject({
      state: "none",
    });

    const ok = await north.client.checkIn({
      electionId: FIRST_WINS,
      nationalId: v.nationalId,
      identity: { method: "id-card+biometric", biometric: { matched: true, score: 0.97 } },
    });
    expect(ok.replayed).toBe(false);
  });

  it("refuses malformed requests with 400 and unknown elections with 404", async () => {
    const v = await voter(FIRST_WINS);
    const bad = [
      {
        electionId: FIRST_WINS,
        nationalId: v.nationalId,
        identity: { method: "id-card+biometric" },
        checkInId: crypto.randomUUID(),
      },
      {
        electionId: FIRST_WINS,
        nationalId: v.nationalId,
        identity: { method: "id-card", biometric: { matched: true } },
        checkInId: crypto.randomUUID(),
      },
      {
        electionId: FIRST_WINS,
        nationalId: v.nationalId,
        identity: { method: "retina" },
        checkInId: crypto.randomUUID(),
      },
      { electionId: FIRST_WINS, nationalId: "!!", identity: ID_CARD, checkInId: crypto.randomUUID() },
      { electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD, checkInId: "short" },
      { electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD, checkInId: crypto.randomUUID(), extra: 1 },
    ];
    for (const body of bad) {
      expect(await refusal(north.client.call("POST", `/v1/stations/${north.stationId}/check-ins`, body))).toEqual({
        status: 400,
        code: "invalid_request",
      });
    }
    expect(
      await refusal(
        north.client.checkIn({ electionId: "no-such-election", nationalId: v.nationalId, identity: ID_CARD }),
      ),
    ).toEqual({ status: 404, code: "election_not_found" });
    expect(await ledgerFor(env, FIRST_WINS, v.voterKey).status(FIRST_WINS, v.voterKey)).toMatchObject({
      state: "none",
    });
  });

  it("refuses check-ins when the polls are closed", async () => {
    const v = await voter(CLOSED);
    expect(
      await refusal(north.client.checkIn({ electionId: CLOSED, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 403, code: "polls_closed" });
  });

  it("counts accepted check-ins per station in D1, once, without the voter", async () => {
    const station = await registerStation(["district-north"]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const v = await voter(FIRST_WINS);
      const checkInId = crypto.randomUUID();
      ids.push(checkInId);
      await station.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD, checkInId });
      // A retry is not counted again.
      await station.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD, checkInId });
    }
    const Row = z.object({
      check_in_id: z.string(),
      station_id: z.string(),
      district_id: z.string(),
      recorded_at: z.string(),
    });
    const rows = await waitFor(async () => {
      const result = await env.DB.prepare(`SELECT * FROM check_ins WHERE election_id = ? AND station_id = ?`)
        .bind(FIRST_WINS, station.stationId)
        .all();
      const parsed = z.array(Row.loose()).parse(result.results);
      return parsed.length >= 3 ? parsed : undefined;
    });
    expect(rows).toHaveLength(3);
    expect(rows.map((r) => r.check_in_id).sort()).toEqual(ids.map((id) => `${station.stationId}/${id}`).sort());
    for (const row of rows) {
      expect(row.district_id).toBe("district-north");
      expect(row.recorded_at).toMatch(/:00\.000Z$/);
      expect(Object.keys(row).sort()).toEqual([
        "check_in_id",
        "district_id",
        "election_id",
        "recorded_at",
        "station_id",
      ]);
    }
  });
});

describe("check-in under paper-supersedes", () => {
  it("cancels the voter's online ballot; the voter's own view says cancelled, the public receipt only recorded; online voting is closed to them", async () => {
    const v = await voter(SUPERSEDES);
    const session = await voterSession(SUPERSEDES, v.nationalId);
    const castRes = await cast(SUPERSEDES, session, NORTH_BALLOT);
    expect(castRes.status).toBe(201);
    const receipt = z.object({ trackingCode: z.string() }).parse(await castRes.json());

    const answer = await north.client.checkIn({ electionId: SUPERSEDES, nationalId: v.nationalId, identity: ID_CARD });
    expect(answer).toMatchObject({
      outcome: "issue-ballot",
      ballotStyleId: "bs-north",
      replayed: false,
    });
    expect(await ledgerFor(env, SUPERSEDES, v.voterKey).status(SUPERSEDES, v.voterKey)).toMatchObject({
      state: "paper",
      counted: 0,
    });

    // The voter sees the cancellation in their own session; the public check never tells it (H1).
    const mine = z
      .object({ state: z.string(), checkedInOnPaper: z.boolean(), ballots: z.array(z.object({ status: z.string() })) })
      .parse(
        await (
          await SELF.fetch(`${BASE}/v1/elections/${SUPERSEDES}/my-ballot`, {
            headers: { authorization: `Bearer ${session}` },
          })
        ).json(),
      );
    expect(mine).toMatchObject({ state: "paper", checkedInOnPaper: true, ballots: [{ status: "cancelled" }] });
    const publicStatus = await waitFor(async () => {
      const res = await SELF.fetch(`${BASE}/v1/receipts/${receipt.trackingCode}`);
      return res.status === 200 ? z.object({ status: z.string() }).parse(await res.json()).status : undefined;
    });
    expect(publicStatus).toBe("recorded");
    expect((await cast(SUPERSEDES, session, NORTH_BALLOT)).status).toBe(409);
    expect(
      await refusal(northToo.client.checkIn({ electionId: SUPERSEDES, nationalId: v.nationalId, identity: ID_CARD })),
    ).toEqual({ status: 409, code: "may_not_issue_ballot" });
  });

  it("checks in a voter who did not vote online, with nothing to cancel", async () => {
    const v = await voter(SUPERSEDES, "district-south");
    const answer = await northToo.client.checkIn({
      electionId: SUPERSEDES,
      nationalId: v.nationalId,
      identity: ID_CARD,
    });
    expect(answer).toMatchObject({
      ballotStyleId: "bs-south",
      districtId: "district-south",
    });
  });
});

describe("what the station learns and what the ledger keeps (security review H3, M11)", () => {
  async function rawCheckIn(station: TestStation, electionId: string, nationalId: string) {
    return station.client
      .call("POST", `/v1/stations/${station.stationId}/check-ins`, {
        electionId,
        nationalId,
        identity: ID_CARD,
        checkInId: crypto.randomUUID(),
      })
      .then(
        ({ status, body }) => ({ status, body }),
        (error: unknown) => {
          if (error instanceof StationCallError)
            return { status: error.status, body: { code: error.code, message: error.message } };
          throw error;
        },
      );
  }

  it("answers 'issue style X' with nothing about an online ballot it cancelled", async () => {
    const v = await voter(SUPERSEDES);
    expect((await cast(SUPERSEDES, await voterSession(SUPERSEDES, v.nationalId), NORTH_BALLOT)).status).toBe(201);
    const { status, body } = await rawCheckIn(north, SUPERSEDES, v.nationalId);
    expect(status).toBe(201);
    expect(Object.keys(z.record(z.string(), z.unknown()).parse(body)).sort()).toEqual([
      "ballotStyleId",
      "checkInId",
      "districtId",
      "electionId",
      "outcome",
      "replayed",
      "stationId",
    ]);
  });

  it("refuses a voter who voted online and one checked in elsewhere with the same answer; the events keep why", async () => {
    const online = await voter(FIRST_WINS);
    expect((await cast(FIRST_WINS, await voterSession(FIRST_WINS, online.nationalId), NORTH_BALLOT)).status).toBe(201);
    const elsewhere = await voter(FIRST_WINS);
    await northToo.client.checkIn({ electionId: FIRST_WINS, nationalId: elsewhere.nationalId, identity: ID_CARD });

    const votedOnline = await rawCheckIn(north, FIRST_WINS, online.nationalId);
    const checkedInElsewhere = await rawCheckIn(north, FIRST_WINS, elsewhere.nationalId);
    expect(votedOnline).toEqual(checkedInElsewhere);
    expect(votedOnline.status).toBe(409);

    const reasons = await env.DB.prepare(
      `SELECT detail_json FROM security_events WHERE election_id = ? AND kind = 'check-in-conflict'`,
    )
      .bind(FIRST_WINS)
      .all();
    const details = reasons.results.map((r) => String(r["detail_json"]));
    expect(details.some((d) => d.includes("already_voted_online") && d.includes(north.stationId))).toBe(true);
    expect(details.some((d) => d.includes("already_checked_in") && d.includes(north.stationId))).toBe(true);
  });

  it("keeps the ledger's check-in time to the minute", async () => {
    const v = await voter(FIRST_WINS);
    const checkInId = crypto.randomUUID();
    await north.client.checkIn({ electionId: FIRST_WINS, nationalId: v.nationalId, identity: ID_CARD, checkInId });
    const at = await runInDurableObject(ledgerFor(env, FIRST_WINS, v.voterKey), (_instance, state) =>
      String(
        state.storage.sql
          .exec<{ at: string }>(
            `SELECT at FROM check_ins WHERE election_id = ? AND check_in_id = ?`,
            FIRST_WINS,
            `${north.stationId}/${checkInId}`,
          )
          .one().at,
      ),
    );
    expect(at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
  });
});
