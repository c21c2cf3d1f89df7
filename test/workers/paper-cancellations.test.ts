/**
 * Spoiled and void paper ballots (POST /v1/stations/{id}/cancellations) inside workerd: the
 * serial's PaperBallotBox cancels an unscanned serial of the station once, a later scan of it is
 * refused, repeats answer as the first time, and the public log holds one paper-cancellation entry
 * per cancelled serial and none for a refused call.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { paperBoxFor, stationBallotCountFor } from "../../durable-objects/addresses.ts";
import type { LogEntry } from "../../lib/audit/entries.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import {
  atTime,
  checkInVoters,
  demoWithNorthStation,
  markedBallotQr,
  refusal,
  registerStation,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "paper-cancellations";
const OPENS = Date.parse("2026-01-01T00:00:00Z");
const CLOSES = Date.parse("2030-12-31T23:59:59Z");
const GRACE_MS = 720 * 60_000;
const MINUTE = 60_000;

let election: CompiledElection;
let station: TestStation;
let neighbour: TestStation;
let twoDistricts: TestStation;

beforeAll(async () => {
  ({ election, station } = await demoWithNorthStation(ELECTION, { first: 97_000, last: 97_099 }, 4));
  neighbour = await registerStation(["district-north"], { serialRanges: [{ first: 97_100, last: 97_199 }] });
  twoDistricts = await registerStation(["district-north", "district-south"], {
    serialRanges: [{ first: 97_200, last: 97_299 }],
  });
});

async function scan(serial: number, by: TestStation = station): ReturnType<TestStation["client"]["scan"]> {
  return by.client.scan({
    electionId: ELECTION,
    qr: await markedBallotQr(by.bmd, election, "bs-north", serial, NORTH_BALLOT),
  });
}

async function used(serial: number): Promise<boolean> {
  return (await paperBoxFor(env, ELECTION, serial).serialStatus(ELECTION, serial)).used;
}

/** The published log's paper-cancellation entries, once everything appended so far is sequenced. */
async function loggedCancellations(): Promise<Extract<LogEntry, { type: "paper-cancellation" }>[]> {
  await sequencer(ELECTION).sequenceNow();
  const log = await readPublishedLog(ELECTION);
  return log.decoded.filter(
    (e): e is Extract<LogEntry, { type: "paper-cancellation" }> => e.type === "paper-cancellation",
  );
}

describe("cancelling a spoiled ballot", () => {
  it("cancels once, answers a repeat as the first time, and refuses another body for the same id", async () => {
    const first = { electionId: ELECTION, serial: 97_001, reason: "spoiled", cancellationId: "cancel-97001" } as const;
    expect(await station.client.cancelBallot(first)).toEqual({
      electionId: ELECTION,
      stationId: station.stationId,
      cancellationId: "cancel-97001",
      serial: 97_001,
      reason: "spoiled",
      replayed: false,
    });
    expect(await station.client.cancelBallot(first)).toMatchObject({ serial: 97_001, replayed: true });
    expect(await refusal(station.client.cancelBallot({ ...first, reason: "void" }))).toEqual({
      status: 409,
      code: "cancellation_conflict",
    });
    expect(await refusal(station.client.cancelBallot({ ...first, cancellationId: "cancel-97001-again" }))).toEqual({
      status: 409,
      code: "serial_cancelled",
    });
    // The same id for another serial is another body too, and cancels nothing.
    expect(await refusal(station.client.cancelBallot({ ...first, serial: 97_002 }))).toEqual({
      status: 409,
      code: "cancellation_conflict",
    });
    await checkInVoters(station, ELECTION, 1);
    expect(await scan(97_002)).toMatchObject({ serial: 97_002, replayed: false });
  });

  it("refuses a later scan of the cancelled serial, which takes no place among the check-ins", async () => {
    // A station with one voter checked in: one place for one ballot.
    const one = await registerStation(["district-north"], { serialRanges: [{ first: 97_300, last: 97_399 }] });
    await checkInVoters(one, ELECTION, 1);
    await one.client.cancelBallot({ electionId: ELECTION, serial: 97_310, reason: "void" });
    expect(await refusal(scan(97_310, one))).toEqual({ status: 409, code: "serial_cancelled" });
    expect(await used(97_310)).toBe(false);
    // The refused scan released its place: the voter's replacement ballot takes it.
    expect(await scan(97_311, one)).toMatchObject({ serial: 97_311, replayed: false });
    expect(await refusal(scan(97_312, one))).toEqual({ status: 409, code: "scans_exceed_check_ins" });
  });

  it("refuses a new cancellation once the station's result sheet closed its paper; a repeat still answers", async () => {
    const closing = await registerStation(["district-north"], { serialRanges: [{ first: 97_500, last: 97_599 }] });
    const cancellationId = crypto.randomUUID();
    const first = { electionId: ELECTION, serial: 97_500, reason: "spoiled", cancellationId } as const;
    expect(await closing.client.cancelBallot(first)).toMatchObject({ replayed: false });
    await stationBallotCountFor(env, ELECTION, closing.stationId).closeForSheet();
    expect(
      await refusal(closing.client.cancelBallot({ electionId: ELECTION, serial: 97_501, reason: "spoiled" })),
    ).toEqual({ status: 409, code: "result_sheet_already_accepted" });
    const stored = await env.DB.prepare(
      `SELECT serial FROM paper_cancellations WHERE election_id = ? AND station_id = ?`,
    )
      .bind(ELECTION, closing.stationId)
      .all<{ serial: number }>();
    expect(stored.results.map((r) => r.serial)).toEqual([97_500]);
    expect(await closing.client.cancelBallot(first)).toMatchObject({ replayed: true });
  });

  it("refuses a serial already scanned, or not issued to this station", async () => {
    await scan(97_020);
    expect(
      await refusal(station.client.cancelBallot({ electionId: ELECTION, serial: 97_020, reason: "spoiled" })),
    ).toEqual({ status: 409, code: "serial_already_used" });
    for (const serial of [97_150, 5])
      expect(await refusal(station.client.cancelBallot({ electionId: ELECTION, serial, reason: "spoiled" }))).toEqual({
        status: 422,
        code: "foreign_ballot",
      });
    // The neighbour's serial is still its own to scan.
    await checkInVoters(neighbour, ELECTION, 1);
    expect(await scan(97_150, neighbour)).toMatchObject({ serial: 97_150 });
  });

  it("changes nothing on bad input", async () => {
    const serial = 97_030;
    const base = { electionId: ELECTION, cancellationId: "cancel-97030", serial, reason: "spoiled" };
    const path = `/v1/stations/${station.stationId}/cancellations`;
    for (const body of [
      { ...base, reason: "lost" },
      { ...base, serial: -1 },
      { ...base, serial: 1.5 },
      { ...base, extra: true },
      { ...base, cancellationId: "short" },
      { electionId: ELECTION, serial, reason: "spoiled" },
    ])
      expect(await refusal(station.client.call("POST", path, body)), JSON.stringify(body)).toEqual({
        status: 400,
        code: "invalid_request",
      });
    expect(await refusal(station.client.call("POST", path, { ...base, districtId: "district-south" }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    expect(await refusal(station.client.call("POST", path, { ...base, electionId: "no-such-election" }))).toEqual({
      status: 404,
      code: "election_not_found",
    });
    // None of it cancelled the serial: it scans, and the log names no cancellation of it.
    await checkInVoters(station, ELECTION, 1);
    expect(await scan(serial)).toMatchObject({ serial, replayed: false });
    expect((await loggedCancellations()).filter((e) => e.serial === String(serial))).toEqual([]);
    const remembered = await env.DB.prepare("SELECT serial FROM paper_cancellations WHERE cancellation_id = ?")
      .bind("cancel-97030")
      .all();
    expect(remembered.results).toEqual([]);
  });

  it("needs the district at a station of several, and logs the one named", async () => {
    const input = { electionId: ELECTION, serial: 97_201, reason: "void", cancellationId: "cancel-97201" } as const;
    expect(await refusal(twoDistricts.client.cancelBallot(input))).toEqual({ status: 422, code: "district_ambiguous" });
    expect(await twoDistricts.client.cancelBallot({ ...input, districtId: "district-south" })).toMatchObject({
      replayed: false,
    });
    expect(await refusal(twoDistricts.client.cancelBallot({ ...input, districtId: "district-north" }))).toEqual({
      status: 409,
      code: "cancellation_conflict",
    });
    const [entry] = (await loggedCancellations()).filter((e) => e.serial === "97201");
    expect(entry).toMatchObject({ stationId: twoDistricts.stationId, districtId: "district-south", reason: "void" });
  });

  it("follows the scans' sync window", async () => {
    expect(
      await atTime(OPENS - MINUTE, () =>
        refusal(station.client.cancelBallot({ electionId: ELECTION, serial: 97_040, reason: "spoiled" })),
      ),
    ).toEqual({ status: 403, code: "polls_not_open" });
    expect(
      await atTime(CLOSES + GRACE_MS + MINUTE, () =>
        refusal(station.client.cancelBallot({ electionId: ELECTION, serial: 97_040, reason: "spoiled" })),
      ),
    ).toEqual({ status: 403, code: "paper_sync_closed" });
    expect(
      await atTime(CLOSES + 30 * MINUTE, () =>
        station.client.cancelBallot({ electionId: ELECTION, serial: 97_040, reason: "spoiled" }),
      ),
    ).toMatchObject({ serial: 97_040, replayed: false });
  });

  it("logs each cancelled serial exactly once, with its station, district and reason", async () => {
    const entries = await loggedCancellations();
    const bySerial = new Map<string, number>();
    for (const e of entries) bySerial.set(e.serial, (bySerial.get(e.serial) ?? 0) + 1);
    // 97001 was cancelled once and answered four more times; refused serials are absent.
    expect(Object.fromEntries(bySerial)).toEqual({ "97001": 1, "97310": 1, "97500": 1, "97201": 1, "97040": 1 });
    expect(entries.find((e) => e.serial === "97001")).toMatchObject({
      stationId: station.stationId,
      districtId: "district-north",
      reason: "spoiled",
    });
  });
});
