/**
 * Result sheets and station reconciliation: a station whose signed sheet agrees with what was
 * scanned and checked in is consistent; one whose sheet disagrees has every difference listed and
 * stored for the monitor; a sheet is stored once (the same again is harmless, a different one is
 * refused and recorded); differences that vanish as the queue catches up are marked resolved.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ContestMarks } from "../../lib/ballot/messages.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { Reconciliation } from "../../lib/station-client/client.ts";
import type { ContestTotals } from "../../lib/tally/totals.ts";
import { adminToken, officialToken } from "./helpers/auth.ts";
import { NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import {
  adminCall,
  atTime,
  checkInVoters,
  compiledElection,
  markedBallotQr,
  refusal,
  registerStation,
  resultSheetQr,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "recon";
let election: CompiledElection;

/** Result sheets are taken after the close only: the demo's polls close at the end of 2030. */
function afterClose<T>(fn: () => Promise<T>): Promise<T> {
  return atTime(Date.parse("2031-01-01T00:00:00Z"), fn);
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  election = await compiledElection(ELECTION);
});

type Ballot = ContestMarks[];

/** The station's result-sheet-mismatch security events' details. */
async function mismatchEvents(stationId: string): Promise<Record<string, unknown>[]> {
  const rows = await env.DB.prepare(
    "SELECT detail_json FROM security_events WHERE election_id = ? AND kind = 'result-sheet-mismatch'",
  )
    .bind(ELECTION)
    .all<{ detail_json: string }>();
  return rows.results
    .map((r) => JSON.parse(r.detail_json) as Record<string, unknown>)
    .filter((d) => d["stationId"] === stationId);
}

let serials = 0;

/** Checks `ballots.length + extraCheckIns` voters in at the station and scans `ballots`. */
async function vote(station: TestStation, ballots: readonly Ballot[], extraCheckIns = 0): Promise<void> {
  await checkInVoters(station, ELECTION, ballots.length + extraCheckIns);
  for (const marks of ballots) {
    serials += 1;
    const qr = await markedBallotQr(station.bmd, election, "bs-north", rangeOf(station).first + serials, marks);
    await station.client.scan({ electionId: ELECTION, qr });
  }
}

const ranges = new Map<string, { first: number; last: number }>();
function rangeOf(station: TestStation): { first: number; last: number } {
  const range = ranges.get(station.stationId);
  if (!range) throw new Error("no range");
  return range;
}

async function newStation(): Promise<TestStation> {
  const first = (ranges.size + 1) * 10_000;
  const station = await registerStation(["district-north"], { serialRanges: [{ first, last: first + 9_999 }] });
  ranges.set(station.stationId, { first, last: first + 9_999 });
  return station;
}

/** What a station's own count of these ballots says, in the result sheet's shape. */
function countOf(ballots: readonly Ballot[]): ContestTotals[] {
  const out = new Map<string, ContestTotals>();
  for (const ballot of ballots) {
    for (const c of ballot) {
      const contest = election.contests.get(c.contestId);
      const totals = out.get(c.contestId) ?? { contestId: c.contestId, options: [], writeIns: 0, blanks: 0 };
      if (c.optionIds.length === 0) totals.blanks += 1;
      for (const optionId of c.optionIds) {
        if (contest?.options.find((o) => o.id === optionId)?.isWriteIn) totals.writeIns += 1;
        else {
          const row = totals.options.find((o) => o.optionId === optionId);
          if (row) row.votes += 1;
          else totals.options.push({ optionId, votes: 1 });
        }
      }
      out.set(c.contestId, totals);
    }
  }
  return [...out.values()];
}

async function report(stationId: string): Promise<Reconciliation> {
  const res = await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation/${stationId}`);
  expect(res.status).toBe(200);
  return Reconciliation.parse(await res.json());
}

/** Waits until the queue has delivered the station's check-ins and ballots to D1. */
async function settled(stationId: string, checkIns: number, ballots: number): Promise<Reconciliation> {
  return waitFor(async () => {
    const r = await report(stationId);
    return r.system.checkIns === checkIns && r.system.ballotsScanned === ballots ? r : undefined;
  });
}

const Difference = z.object({
  kind: z.string(),
  contest_id: z.string(),
  option_id: z.string(),
  system_count: z.number(),
  station_count: z.number().nullable(),
  resolved_at: z.string().nullable(),
});

/** The station's stored differences; with `open`, only those not resolved since. */
let recorder: string | undefined;
async function storedDifferences(stationId: string, open = false): Promise<z.infer<typeof Difference>[]> {
  // Reading writes nothing: an administrator records the differences (security review L12).
  recorder ??= await adminToken();
  expect((await adminCall("POST", `/v1/admin/elections/${ELECTION}/reconciliation`, undefined, recorder)).status).toBe(
    200,
  );
  return storedRows(stationId, open);
}

async function storedRows(stationId: string, open = false): Promise<z.infer<typeof Difference>[]> {
  const rows = await env.DB.prepare(
    `SELECT * FROM reconciliation_differences WHERE election_id = ? AND station_id = ? ORDER BY kind, contest_id, option_id`,
  )
    .bind(ELECTION, stationId)
    .all();
  return z
    .array(Difference.loose())
    .parse(rows.results)
    .filter((d) => !open || d.resolved_at === null);
}

const AINO: Ballot = NORTH_BALLOT;
const JUHAN: Ballot = [
  { contestId: "contest-president", optionIds: ["sel-president-juhan-mets"] },
  { contestId: "contest-parliament-north", optionIds: [] },
  { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
];

describe("a station whose sheet agrees", () => {
  it("is consistent: no difference, nothing stored; the same sheet again answers the same", async () => {
    const station = await newStation();
    const ballots = [AINO, AINO, JUHAN];
    await vote(station, ballots);
    await settled(station.stationId, 3, 3);
    const qr = await resultSheetQr(station.signer, election, {
      stationId: station.stationId,
      sequence: 1,
      closedAt: "2026-05-01T20:00:00Z",
      votersCheckedIn: 3,
      ballotsCast: 3,
      contests: countOf(ballots),
    });
    const answer = await afterClose(() => station.client.submitResultSheet({ electionId: ELECTION, qr }));
    expect(answer).toMatchObject({ stationId: station.stationId, sequence: 1, replayed: false });
    expect(answer.reconciliation).toMatchObject({
      consistent: true,
      differences: [],
      system: { checkIns: 3, ballotsScanned: 3 },
    });
    expect(answer.reconciliation.sheet).toMatchObject({ votersCheckedIn: 3, ballotsCast: 3 });

    const again = await afterClose(() => station.client.submitResultSheet({ electionId: ELECTION, qr }));
    expect(again).toMatchObject({
      replayed: true,
      payloadSha256: answer.payloadSha256,
      reconciliation: { consistent: true },
    });
    // Differences seen while the queue was catching up are resolved; none is open.
    expect(await storedDifferences(station.stationId, true)).toEqual([]);
    expect(await mismatchEvents(station.stationId)).toEqual([]);

    // The sheet, as signed, is in the public audit log once (the repeat added nothing).
    const entries = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const log = await readPublishedLog(ELECTION).catch(() => undefined);
      const mine = (log?.decoded ?? []).filter(
        (e) => e.type === "station-results" && e.stationId === station.stationId,
      );
      return mine.length > 0 ? mine : undefined;
    });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ sequence: 1, votersCheckedIn: 3, ballotsCast: 3, sheet: qr });
  });
});

describe("a station whose sheet disagrees", () => {
  it("has every difference listed and stored for the monitor; a different sheet is refused and recorded", async () => {
    const station = await newStation();
    await vote(station, [AINO, JUHAN]);
    await settled(station.stationId, 2, 2);
    // The sheet claims three ballots, all for Aino Tamm.
    const claimed = countOf([AINO, AINO, AINO]);
    const qr = await resultSheetQr(station.signer, election, {
      stationId: station.stationId,
      sequence: 1,
      closedAt: "2026-05-01T20:00:00Z",
      votersCheckedIn: 2,
      ballotsCast: 3,
      contests: claimed,
    });
    const answer = await afterClose(() => station.client.submitResultSheet({ electionId: ELECTION, qr }));
    const differences = answer.reconciliation.differences;
    expect(answer.reconciliation.consistent).toBe(false);
    // A result-sheet-mismatch security event, its figures the sheet's numbers less the system's.
    const mismatch = await mismatchEvents(station.stationId);
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]).toMatchObject({
      stationId: station.stationId,
      differences: differences.length,
      figures: { "ballots-cast": 1, "option-votes:contest-president:sel-president-aino-tamm": 2 },
    });
    expect(differences).toContainEqual(expect.objectContaining({ kind: "ballots-cast", system: 2, station: 3 }));
    expect(differences).toContainEqual(
      expect.objectContaining({
        kind: "option-votes",
        contestId: "contest-president",
        optionId: "sel-president-aino-tamm",
        system: 1,
        station: 3,
      }),
    );
    expect(differences).toContainEqual(
      expect.objectContaining({
        kind: "option-votes",
        contestId: "contest-president",
        optionId: "sel-president-juhan-mets",
        system: 1,
        station: 0,
      }),
    );
    expect(differences).toContainEqual(
      expect.objectContaining({ kind: "blanks", contestId: "contest-parliament-north", system: 1, station: 0 }),
    );
    expect(differences.find((d) => d.kind === "voters-checked-in")).toBeUndefined();

    const stored = await storedDifferences(station.stationId, true);
    expect(stored).toHaveLength(differences.length);
    expect(stored).toContainEqual(
      expect.objectContaining({
        kind: "ballots-cast",
        contest_id: "",
        option_id: "",
        system_count: 2,
        station_count: 3,
        resolved_at: null,
      }),
    );

    // A corrected sheet is not taken: the first one stands, the attempt is recorded.
    const corrected = await resultSheetQr(station.signer, election, {
      stationId: station.stationId,
      sequence: 2,
      closedAt: "2026-05-01T20:05:00Z",
      votersCheckedIn: 2,
      ballotsCast: 2,
      contests: countOf([AINO, JUHAN]),
    });
    expect(
      await refusal(afterClose(() => station.client.submitResultSheet({ electionId: ELECTION, qr: corrected }))),
    ).toEqual({
      status: 409,
      code: "result_sheet_conflict",
    });
    const events = await env.DB.prepare(
      `SELECT detail_json FROM security_events WHERE election_id = ? AND kind = 'result-sheet-conflict'`,
    )
      .bind(ELECTION)
      .all();
    expect(events.results.some((e) => String(e["detail_json"]).includes(station.stationId))).toBe(true);
    expect((await report(station.stationId)).sheet?.payloadSha256).toBe(answer.payloadSha256);
  });

  it("refuses another station's sheet and sheets that are not result sheets", async () => {
    const a = await newStation();
    const b = await newStation();
    const sheetOfA = await resultSheetQr(a.signer, election, {
      stationId: a.stationId,
      sequence: 1,
      closedAt: "2026-05-01T20:00:00Z",
      votersCheckedIn: 0,
      ballotsCast: 0,
      contests: [],
    });
    expect(
      await refusal(afterClose(() => b.client.submitResultSheet({ electionId: ELECTION, qr: sheetOfA }))),
    ).toMatchObject({
      status: 422,
    });
    const claimingB = await resultSheetQr(a.signer, election, {
      stationId: b.stationId,
      sequence: 1,
      closedAt: "2026-05-01T20:00:00Z",
      votersCheckedIn: 0,
      ballotsCast: 0,
      contests: [],
    });
    expect(
      await refusal(afterClose(() => b.client.submitResultSheet({ electionId: ELECTION, qr: claimingB }))),
    ).toMatchObject({
      status: 422,
    });
    const ballot = await markedBallotQr(b.bmd, election, "bs-north", rangeOf(b).first, AINO);
    expect(await refusal(afterClose(() => b.client.submitResultSheet({ electionId: ELECTION, qr: ballot })))).toEqual({
      status: 422,
      code: "qr_invalid",
    });
    expect((await report(b.stationId)).sheet).toBeNull();
  });
});

describe("check-ins against ballots", () => {
  it("flags a check-in without a ballot, and marks it resolved once the ballot is scanned", async () => {
    const station = await newStation();
    await vote(station, [], 1);
    const before = await settled(station.stationId, 1, 0);
    expect(before.differences).toEqual([
      expect.objectContaining({ kind: "check-ins-vs-ballots", system: 1, station: 0 }),
    ]);
    expect(await storedDifferences(station.stationId, true)).toEqual([
      expect.objectContaining({ kind: "check-ins-vs-ballots", resolved_at: null }),
    ]);

    serials += 1;
    await station.client.scan({
      electionId: ELECTION,
      qr: await markedBallotQr(station.bmd, election, "bs-north", rangeOf(station).first + serials, AINO),
    });
    const after = await settled(station.stationId, 1, 1);
    expect(after.differences).toEqual([]);
    const [row] = await storedDifferences(station.stationId);
    expect(row?.resolved_at).not.toBeNull();
  });
});

describe("reading a reconciliation (L12)", () => {
  it("writes nothing on GET, for an auditor or an administrator; an administrator's POST records the differences", async () => {
    const station = await newStation();
    await vote(station, [], 1);
    const seen = await settled(station.stationId, 1, 0);
    expect(seen.differences).toHaveLength(1);
    const auditor = await officialToken("auditor");
    for (const token of [auditor, undefined]) {
      expect((await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation`, undefined, token)).status).toBe(
        200,
      );
      expect(
        (
          await adminCall(
            "GET",
            `/v1/admin/elections/${ELECTION}/reconciliation/${station.stationId}`,
            undefined,
            token,
          )
        ).status,
      ).toBe(200);
    }
    expect(await storedRows(station.stationId)).toEqual([]);
    // Recording is a write, for administrators only.
    expect((await adminCall("POST", `/v1/admin/elections/${ELECTION}/reconciliation`, undefined, auditor)).status).toBe(
      403,
    );
    expect(await storedRows(station.stationId)).toEqual([]);
    expect((await adminCall("POST", `/v1/admin/elections/${ELECTION}/reconciliation`)).status).toBe(200);
    expect(await storedRows(station.stationId, true)).toEqual([
      expect.objectContaining({ kind: "check-ins-vs-ballots", resolved_at: null }),
    ]);
  });
});

describe("the election's reconciliation report", () => {
  it("lists every station serving its districts, for administrators and auditors only", async () => {
    const idle = await newStation();
    const auditor = await officialToken("auditor");
    const res = await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation`, undefined, auditor);
    expect(res.status).toBe(200);
    const body = z.object({ electionId: z.string(), stations: z.array(Reconciliation) }).parse(await res.json());
    const idleReport = body.stations.find((s) => s.stationId === idle.stationId);
    expect(idleReport).toMatchObject({
      consistent: false,
      sheet: null,
      differences: [],
      system: { checkIns: 0, ballotsScanned: 0 },
    });
    expect(body.stations.length).toBeGreaterThanOrEqual(4);

    const official = await officialToken("station-official");
    expect((await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation`, undefined, official)).status).toBe(
      403,
    );
    expect((await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation/no-such-station`)).status).toBe(404);
    expect((await adminCall("GET", `/v1/admin/elections/no-such-election/reconciliation`)).status).toBe(404);
  });
});
