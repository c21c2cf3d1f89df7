/**
 * A station's paper ballots never outnumber its accepted check-ins, decided when the scan is
 * accepted (security review H3: the rogue station). Beyond its check-ins a scan is refused with
 * scans_exceed_check_ins and a security event naming the station, district and minute. A scan
 * the box refuses gives its place back; a check-in the station retries is counted once, and a
 * check-in whose count was lost (a crash after the ledger) is counted when the station retries.
 * Pre-printed sheets are bound to the station their serial range was issued to.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ledgerFor, paperBoxFor, stationBallotCountFor } from "../../durable-objects/addresses.ts";
import { ledgerDecision } from "../../durable-objects/voter-ledger.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import {
  ballotSheetQr,
  checkInVoters,
  compiledElection,
  markedBallotQr,
  refusal,
  registerSheetKey,
  registerStation,
} from "./helpers/station.ts";
import type { QrSigner } from "../../lib/qr/keys.ts";

const ELECTION = "per-check-in";
let election: CompiledElection;
let authority: { signer: QrSigner };

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION, crossChannelPolicy: "paper-supersedes" });
  election = await compiledElection(ELECTION);
  authority = await registerSheetKey(ELECTION);
});

const Detail = z.object({ stationId: z.string(), districtId: z.string().optional(), minute: z.string() }).loose();

async function events(kind: string, stationId: string): Promise<z.infer<typeof Detail>[]> {
  const rows = await env.DB.prepare(`SELECT detail_json FROM security_events WHERE election_id = ? AND kind = ?`)
    .bind(ELECTION, kind)
    .all();
  return rows.results
    .map((r) => Detail.parse(JSON.parse(String(r["detail_json"]))))
    .filter((d) => d.stationId === stationId);
}

async function used(serial: number): Promise<boolean> {
  return (await paperBoxFor(env, ELECTION, serial).serialStatus(ELECTION, serial)).used;
}

describe("a rogue station", () => {
  it("after N check-ins, has N ballots accepted and the N+1th refused with a stored security event", async () => {
    const station = await registerStation(["district-north"], { serialRanges: [{ first: 90_000, last: 90_099 }] });
    await checkInVoters(station, ELECTION, 3);
    // Marked ballots and pre-printed sheets draw on the same check-ins.
    for (const serial of [90_001, 90_002]) {
      const qr = await markedBallotQr(station.bmd, election, "bs-north", serial, NORTH_BALLOT);
      expect((await station.client.scan({ electionId: ELECTION, qr })).replayed).toBe(false);
    }
    const sheet = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 90_003);
    await station.client.scan({ electionId: ELECTION, qr: sheet, contests: NORTH_BALLOT });

    const extra = await markedBallotQr(station.bmd, election, "bs-north", 90_004, NORTH_BALLOT);
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr: extra }))).toEqual({
      status: 409,
      code: "scans_exceed_check_ins",
    });
    expect(await used(90_004)).toBe(false);
    const stored = await events("scans-exceed-check-ins", station.stationId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ stationId: station.stationId, districtId: "district-north" });
    expect(stored[0]?.minute).toMatch(/:00\.000Z$/);
    expect(await stationBallotCountFor(env, ELECTION, station.stationId).counts()).toEqual({
      checkIns: 3,
      scans: 3,
      closed: false,
    });

    // One more check-in, one more ballot.
    await checkInVoters(station, ELECTION, 1);
    expect((await station.client.scan({ electionId: ELECTION, qr: extra })).serial).toBe(90_004);
  });

  it("covers one ballot with one check-in, even when a scan id is reused for another serial", async () => {
    const station = await registerStation(["district-north"], { serialRanges: [{ first: 91_000, last: 91_099 }] });
    await checkInVoters(station, ELECTION, 1);
    const scanId = crypto.randomUUID();
    const first = await markedBallotQr(station.bmd, election, "bs-north", 91_001, NORTH_BALLOT);
    await station.client.scan({ electionId: ELECTION, qr: first, scanId });
    // The same scan id with another serial would otherwise ride on the first one's place.
    const second = await markedBallotQr(station.bmd, election, "bs-north", 91_002, NORTH_BALLOT);
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr: second, scanId }))).toEqual({
      status: 409,
      code: "idempotency_conflict",
    });
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr: second }))).toEqual({
      status: 409,
      code: "scans_exceed_check_ins",
    });
    expect(await used(91_002)).toBe(false);
  });
});

describe("the count stays right through refusals, repeats and crashes", () => {
  it("gives the place back when the box refuses a used serial; counts a repeated check-in once", async () => {
    const a = await registerStation(["district-north"], { serialRanges: [{ first: 92_000, last: 92_099 }] });
    const nationalId = `EE-PERCHK-${crypto.randomUUID().slice(0, 8)}`;
    await enrol(ELECTION, nationalId, "district-north");
    const checkInId = crypto.randomUUID();
    await a.client.checkIn({ electionId: ELECTION, nationalId, identity: { method: "id-card" }, checkInId });
    await a.client.checkIn({ electionId: ELECTION, nationalId, identity: { method: "id-card" }, checkInId });
    expect((await stationBallotCountFor(env, ELECTION, a.stationId).counts()).checkIns).toBe(1);

    // A serial the box already holds under another scan (here: written straight to the box, as
    // a station whose scan reached the box but whose count was lost would leave it).
    const taken = await paperBoxFor(env, ELECTION, 92_001).scan({
      electionId: ELECTION,
      serial: 92_001,
      stationId: a.stationId,
      scanId: "earlier-scan-0001",
      source: "marked-ballot",
      ballotStyleId: "bs-north",
      districtId: "district-north",
      contests: NORTH_BALLOT,
      ballotId: crypto.randomUUID(),
      commitment: "c",
      trackingCode: "t",
    });
    expect(taken.ok).toBe(true);
    const again = await markedBallotQr(a.bmd, election, "bs-north", 92_001, NORTH_BALLOT);
    expect(await refusal(a.client.scan({ electionId: ELECTION, qr: again }))).toEqual({
      status: 409,
      code: "serial_already_used",
    });
    // The refused scan holds no place: the station's one check-in still covers a ballot.
    expect((await stationBallotCountFor(env, ELECTION, a.stationId).counts()).scans).toBe(0);
    const next = await markedBallotQr(a.bmd, election, "bs-north", 92_002, NORTH_BALLOT);
    expect((await a.client.scan({ electionId: ELECTION, qr: next })).serial).toBe(92_002);
  });

  it("counts a check-in whose count was lost once the station retries it", async () => {
    const station = await registerStation(["district-north"], { serialRanges: [{ first: 93_000, last: 93_099 }] });
    const nationalId = `EE-PERCHK-${crypto.randomUUID().slice(0, 8)}`;
    const voterKey = await enrol(ELECTION, nationalId, "district-north");
    const checkInId = crypto.randomUUID();
    // The ledger accepted the check-in, then the Worker died before counting it.
    const accepted = await ledgerFor(env, ELECTION, voterKey).checkIn({
      ...ledgerDecision(election, { voterKey, ballotStyleId: "bs-north", districtId: "district-north" }),
      stationId: station.stationId,
      checkInId: `${station.stationId}/${checkInId}`,
      identity: "id-card",
    });
    expect(accepted.ok).toBe(true);
    const qr = await markedBallotQr(station.bmd, election, "bs-north", 93_001, NORTH_BALLOT);
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr }))).toEqual({
      status: 409,
      code: "scans_exceed_check_ins",
    });
    // The station's outbox retries the check-in: a repeat for the ledger, counted here now.
    const retry = await station.client.checkIn({
      electionId: ELECTION,
      nationalId,
      identity: { method: "id-card" },
      checkInId,
    });
    expect(retry.replayed).toBe(true);
    expect((await station.client.scan({ electionId: ELECTION, qr })).serial).toBe(93_001);
  });
});

describe("pre-printed sheets are bound to their station", () => {
  it("refuses station B's scan of a sheet from A's range, with a security event", async () => {
    const a = await registerStation(["district-north"], { serialRanges: [{ first: 94_000, last: 94_099 }] });
    const b = await registerStation(["district-north"], { serialRanges: [{ first: 95_000, last: 95_099 }] });
    await checkInVoters(b, ELECTION, 1);
    const sheetOfA = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 94_010);
    expect(await refusal(b.client.scan({ electionId: ELECTION, qr: sheetOfA, contests: NORTH_BALLOT }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    expect(await used(94_010)).toBe(false);
    const stored = await events("paper-foreign-serial", b.stationId);
    expect(stored).toEqual([
      expect.objectContaining({ stationId: b.stationId, serial: 94_010, source: "ballot-sheet" }),
    ]);
    // A sheet of no station's range is refused the same way.
    const stray = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 99_999_999);
    expect(await refusal(b.client.scan({ electionId: ELECTION, qr: stray, contests: NORTH_BALLOT }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    // B's own sheet is taken, on B's check-in.
    const own = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 95_010);
    expect((await b.client.scan({ electionId: ELECTION, qr: own, contests: NORTH_BALLOT })).serial).toBe(95_010);
    expect(a.stationId).not.toBe(b.stationId);
  });
});
