/**
 * A result sheet that the QR format accepts but the public log cannot hold is refused before
 * anything is stored (security review M8): before, it was stored in D1, then every submission
 * answered 500 and a corrected sheet was refused as a conflict, stuck for good.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { CompiledElection } from "../../lib/election/model.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { compiledElection, refusal, registerStation, resultSheetQr, type TestStation } from "./helpers/station.ts";

const ELECTION = "sheet-ranges";
let election: CompiledElection;
let station: TestStation;

beforeAll(async () => {
  // Closed already: result sheets are taken after the close only.
  await loadDemoElection({
    electionId: ELECTION,
    polls: { opensAt: "2020-01-01T00:00:00Z", closesAt: "2020-01-02T00:00:00Z" },
  });
  election = await compiledElection(ELECTION);
  station = await registerStation(["district-north"]);
});

const EMPTY_COUNT = [
  { contestId: "contest-president", options: [], writeIns: 0, blanks: 0 },
  { contestId: "contest-parliament-north", options: [], writeIns: 0, blanks: 0 },
  { contestId: "contest-referendum-voting-age", options: [], writeIns: 0, blanks: 0 },
];

function sheet(overrides: { sequence?: number; closedAt?: string; ballotsCast?: number; votersCheckedIn?: number }) {
  return {
    stationId: station.stationId,
    sequence: 1,
    closedAt: "2026-05-01T20:00:00Z",
    votersCheckedIn: 0,
    ballotsCast: 0,
    contests: EMPTY_COUNT,
    ...overrides,
  };
}

async function storedSheets(): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM result_sheets WHERE station_id = ?")
    .bind(station.stationId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("result sheets the log cannot hold", () => {
  it.each([
    ["a sequence of 0", { sequence: 0 }],
    ["a sequence above 65,535", { sequence: 70_000 }],
    ["2^32 ballots", { ballotsCast: 2 ** 32 }],
    ["2^32 check-ins", { votersCheckedIn: 2 ** 32 }],
    ["a close in 2200", { closedAt: "2200-01-01T00:00:00Z" }],
  ])("are refused with a 422 before anything is stored: %s", async (_, overrides) => {
    const qr = await resultSheetQr(station.signer, election, sheet(overrides));
    expect(await refusal(station.client.submitResultSheet({ electionId: ELECTION, qr }))).toEqual({
      status: 422,
      code: "result_sheet_out_of_range",
    });
    expect(await storedSheets()).toBe(0);
  });

  it("leave the station free to send its corrected sheet, which is stored and answered", async () => {
    const qr = await resultSheetQr(station.signer, election, sheet({}));
    const answer = await station.client.submitResultSheet({ electionId: ELECTION, qr });
    expect(answer).toMatchObject({ stationId: station.stationId, sequence: 1, replayed: false });
    expect(await storedSheets()).toBe(1);
  });
});
