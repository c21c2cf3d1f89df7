/**
 * The paper channel's time windows (security review M3). A scan carries the device's signed scan
 * time: it must lie in the polling hours and not ahead of our clock; an offline station may sync
 * ballots scanned before the close until the close plus the election's paperSyncGraceMinutes, and
 * no station adds a ballot after its own result sheet. Result sheets are taken only after the
 * close, so no station's totals reach the public log while voting goes on.
 *
 * The demo's polls close at 2030-12-31T23:59:59Z with a 720-minute grace; the tests move the
 * isolate's clock (routes, objects and signatures alike) past the close with atTime.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { paperBoxFor } from "../../durable-objects/addresses.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import {
  atTime,
  checkInVoters,
  demoWithNorthStation,
  markedBallotQr,
  refusal,
  registerStation,
  resultSheetQr,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "paper-windows";
const OPENS = Date.parse("2026-01-01T00:00:00Z");
const CLOSES = Date.parse("2030-12-31T23:59:59Z");
const GRACE_MS = 720 * 60_000;
const MINUTE = 60_000;

let election: CompiledElection;
let station: TestStation;
let serial = 96_000;

beforeAll(async () => {
  ({ election, station } = await demoWithNorthStation(ELECTION, { first: 96_000, last: 96_999 }, 4));
});

async function nextBallot(by: TestStation = station): Promise<{ qr: string; serial: number }> {
  serial += 1;
  return { qr: await markedBallotQr(by.bmd, election, "bs-north", serial, NORTH_BALLOT), serial };
}

async function used(s: number): Promise<boolean> {
  return (await paperBoxFor(env, ELECTION, s).serialStatus(ELECTION, s)).used;
}

describe("scan times", () => {
  it("takes a ballot scanned before the close and synced after it, within the grace", async () => {
    const { qr, serial: s } = await nextBallot();
    const answer = await atTime(CLOSES + 30 * MINUTE, () =>
      station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(CLOSES - MINUTE) }),
    );
    expect(answer).toMatchObject({ serial: s, replayed: false });
  });

  it("refuses a scan time outside the polling hours", async () => {
    const late = await nextBallot();
    expect(
      await atTime(CLOSES + 30 * MINUTE, () =>
        refusal(station.client.scan({ electionId: ELECTION, qr: late.qr, scannedAt: new Date(CLOSES + MINUTE) })),
      ),
    ).toEqual({ status: 422, code: "scan_time_outside_polls" });
    const early = await nextBallot();
    expect(
      await refusal(station.client.scan({ electionId: ELECTION, qr: early.qr, scannedAt: new Date(OPENS - MINUTE) })),
    ).toEqual({ status: 422, code: "scan_time_outside_polls" });
    expect(await used(late.serial)).toBe(false);
    expect(await used(early.serial)).toBe(false);
  });

  it("refuses a scan time ahead of our clock by more than a station request may be", async () => {
    const { qr, serial: s } = await nextBallot();
    expect(
      await refusal(station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(Date.now() + 10 * MINUTE) })),
    ).toEqual({ status: 422, code: "scan_time_in_future" });
    expect(await used(s)).toBe(false);
  });

  it("refuses every scan once the close plus the grace has passed, whatever its signed time", async () => {
    const { qr, serial: s } = await nextBallot();
    expect(
      await atTime(CLOSES + GRACE_MS + MINUTE, () =>
        refusal(station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(CLOSES - MINUTE) })),
      ),
    ).toEqual({ status: 403, code: "paper_sync_closed" });
    expect(await used(s)).toBe(false);
  });
});

describe("result sheets", () => {
  it("are refused before the close, and nothing is stored", async () => {
    const sheet = await resultSheetQr(station.signer, election, {
      stationId: station.stationId,
      sequence: 1,
      closedAt: "2030-12-31T23:59:59Z",
      votersCheckedIn: 4,
      ballotsCast: 1,
      contests: [],
    });
    expect(await refusal(station.client.submitResultSheet({ electionId: ELECTION, qr: sheet }))).toEqual({
      status: 409,
      code: "polls_not_closed",
    });
    const stored = await env.DB.prepare(`SELECT COUNT(*) AS n FROM result_sheets WHERE election_id = ?`)
      .bind(ELECTION)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
  });

  it("close the station: after its sheet, it adds no ballot, even one scanned before the close", async () => {
    const closing = await registerStation(["district-north"], { serialRanges: [{ first: 97_000, last: 97_099 }] });
    await checkInVoters(closing, ELECTION, 2);
    const before = await markedBallotQr(closing.bmd, election, "bs-north", 97_001, NORTH_BALLOT);
    await closing.client.scan({ electionId: ELECTION, qr: before });
    const sheet = await resultSheetQr(closing.signer, election, {
      stationId: closing.stationId,
      sequence: 1,
      closedAt: "2030-12-31T23:59:59Z",
      votersCheckedIn: 2,
      ballotsCast: 1,
      contests: [],
    });
    const late = await markedBallotQr(closing.bmd, election, "bs-north", 97_002, NORTH_BALLOT);
    const outcome = await atTime(CLOSES + MINUTE, async () => {
      await closing.client.submitResultSheet({ electionId: ELECTION, qr: sheet });
      return refusal(closing.client.scan({ electionId: ELECTION, qr: late, scannedAt: new Date(CLOSES - MINUTE) }));
    });
    expect(outcome).toEqual({ status: 409, code: "result_sheet_already_accepted" });
    expect(await used(97_002)).toBe(false);
  });
});
