/**
 * A paper ballot counts in the district the scan names (security review L8): when its style
 * serves several of the station's districts, the scan must name one of them, and a scan that
 * names none is refused rather than counted in the first. A style serving one of the station's
 * districts needs no name.
 *
 * The election is the demo with a fourth district, west, that shares ballot style bs-north.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { CompiledElection } from "../../lib/election/model.ts";
import { adminToken, BASE } from "./helpers/auth.ts";
import { NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { demoDefinition } from "./helpers/election.ts";
import {
  checkInVoters,
  compiledElection,
  markedBallotQr,
  refusal,
  registerStation,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "paper-districts";
let election: CompiledElection;
let both: TestStation;
let northOnly: TestStation;

const Definition = z
  .object({
    settings: z.looseObject({}),
    electionReport: z.looseObject({
      GpUnit: z.array(z.looseObject({ "@id": z.string(), ComposingGpUnitIds: z.array(z.string()).optional() })),
      Election: z.array(
        z.looseObject({
          BallotStyle: z.array(
            z.looseObject({ GpUnitIds: z.array(z.string()), ExternalIdentifier: z.array(z.looseObject({})) }),
          ),
        }),
      ),
    }),
  })
  .loose();

/** The demo, with district-west added and served by ballot style bs-north. */
function withWest(): unknown {
  const definition = Definition.parse(demoDefinition());
  definition.settings["electionId"] = ELECTION;
  const report = definition.electionReport;
  const north = report.GpUnit.find((g) => g["@id"] === "district-north");
  const country = report.GpUnit.find((g) => g.ComposingGpUnitIds !== undefined);
  if (!north || !country?.ComposingGpUnitIds) throw new Error("the demo has changed");
  report.GpUnit.push({ ...structuredClone(north), "@id": "district-west", Number: "4" });
  country.ComposingGpUnitIds.push("district-west");
  const style = report.Election[0]?.BallotStyle.find((b) => b.GpUnitIds.includes("district-north"));
  if (!style) throw new Error("the demo has no north style");
  style.GpUnitIds.push("district-west");
  return definition;
}

beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify(withWest()),
  });
  if (res.status !== 201) throw new Error(`loading the election failed: ${res.status} ${await res.text()}`);
  election = await compiledElection(ELECTION);
  both = await registerStation(["district-north", "district-west"], {
    serialRanges: [{ first: 98_000, last: 98_099 }],
  });
  northOnly = await registerStation(["district-north"], { serialRanges: [{ first: 98_100, last: 98_199 }] });
  await checkInVoters(both, ELECTION, 2, "district-west");
  await checkInVoters(northOnly, ELECTION, 1);
});

async function districtOfRecords(stationId: string, count: number): Promise<string[]> {
  return waitFor(async () => {
    const rows = await env.DB.prepare(
      `SELECT district_id FROM cast_vote_records WHERE election_id = ? AND station_id = ? ORDER BY district_id`,
    )
      .bind(ELECTION, stationId)
      .all<{ district_id: string }>();
    return rows.results.length === count ? rows.results.map((r) => r.district_id) : undefined;
  });
}

describe("a style serving several of the station's districts", () => {
  it("is refused without a district, counted in the district named, refused in one it does not serve", async () => {
    expect(election.ballotStyles.get("bs-north")?.districtIds).toEqual(["district-north", "district-west"]);
    const qr = await markedBallotQr(both.bmd, election, "bs-north", 98_001, NORTH_BALLOT);
    const ambiguous = await refusal(both.client.scan({ electionId: ELECTION, qr }));
    expect(ambiguous).toEqual({ status: 422, code: "district_ambiguous" });
    expect(await refusal(both.client.scan({ electionId: ELECTION, qr, districtId: "district-south" }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    await both.client.scan({ electionId: ELECTION, qr, districtId: "district-west" });
    expect(await districtOfRecords(both.stationId, 1)).toEqual(["district-west"]);
  });

  it("needs no district where the station serves only one of the style's districts", async () => {
    const qr = await markedBallotQr(northOnly.bmd, election, "bs-north", 98_101, NORTH_BALLOT);
    await northOnly.client.scan({ electionId: ELECTION, qr });
    expect(await districtOfRecords(northOnly.stationId, 1)).toEqual(["district-north"]);
  });
});
