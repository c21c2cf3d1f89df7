/**
 * Station device keys have roles (security review H3): a station client key signs requests (and
 * the result sheet), a ballot-marking device's key signs marked ballots and nothing else. A
 * marked ballot signed by the client key, and a request signed by a BMD key, are refused, so a
 * stolen console key cannot print ballots and a stolen BMD key cannot talk to the API.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { paperBoxFor } from "../../durable-objects/addresses.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import {
  adminCall,
  atTime,
  clientFor,
  demoWithNorthStation,
  errorCode,
  markedBallotQr,
  refusal,
  resultSheetQr,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "key-roles";
let election: CompiledElection;
let station: TestStation;

beforeAll(async () => {
  ({ election, station } = await demoWithNorthStation(ELECTION, { first: 80_000, last: 80_099 }, 2));
});

async function used(serial: number): Promise<boolean> {
  return (await paperBoxFor(env, ELECTION, serial).serialStatus(ELECTION, serial)).used;
}

describe("station key roles", () => {
  it("registers keys with their role and lists them", async () => {
    const res = await adminCall("GET", `/v1/admin/stations/${station.stationId}`);
    const body = z.object({ keys: z.array(z.object({ kid: z.string(), role: z.string() })) }).parse(await res.json());
    expect(body.keys.map((k) => [k.kid, k.role]).sort()).toEqual([
      [`${station.stationId}-bmd1`, "marking-device"],
      [`${station.stationId}-k1`, "client"],
    ]);
    const { publicJwk } = await generateSigningKey(`${station.stationId}-bad-role`);
    const bad = await adminCall("POST", `/v1/admin/stations/${station.stationId}/keys`, { publicJwk, role: "printer" });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe("invalid_request");
  });

  it("refuses a marked ballot signed by the station's client key, and takes the BMD's", async () => {
    const byClient = await markedBallotQr(station.signer, election, "bs-north", 80_001, NORTH_BALLOT);
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr: byClient }))).toEqual({
      status: 422,
      code: "qr_signer_wrong_role",
    });
    expect(await used(80_001)).toBe(false);
    const byBmd = await markedBallotQr(station.bmd, election, "bs-north", 80_001, NORTH_BALLOT);
    expect((await station.client.scan({ electionId: ELECTION, qr: byBmd })).replayed).toBe(false);
  });

  it("refuses any request signed by a ballot-marking device's key", async () => {
    const asBmd = clientFor(station.stationId, station.bmdPrivateJwk);
    const qr = await markedBallotQr(station.bmd, election, "bs-north", 80_002, NORTH_BALLOT);
    expect(await refusal(asBmd.scan({ electionId: ELECTION, qr }))).toEqual({
      status: 401,
      code: "station_key_not_for_requests",
    });
    expect(
      await refusal(
        asBmd.checkIn({ electionId: ELECTION, nationalId: "EE-ROLE-0001", identity: { method: "id-card" } }),
      ),
    ).toEqual({ status: 401, code: "station_key_not_for_requests" });
    expect(await used(80_002)).toBe(false);
  });

  it("refuses a result sheet signed by a ballot-marking device's key", async () => {
    const sheet = await resultSheetQr(station.bmd, election, {
      stationId: station.stationId,
      sequence: 1,
      closedAt: "2030-12-31T23:59:59Z",
      votersCheckedIn: 2,
      ballotsCast: 1,
      contests: [],
    });
    const outcome = await atTime(Date.parse("2031-01-01T00:00:00Z"), () =>
      refusal(station.client.submitResultSheet({ electionId: ELECTION, qr: sheet })),
    );
    expect(outcome).toEqual({ status: 422, code: "qr_signer_wrong_role" });
  });
});
