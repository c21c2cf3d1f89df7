/**
 * Scanning paper ballots through the signed route: BMD-marked ballots (signed by the station's
 * device, serial from the station's range) and pre-printed sheets (signed by the election
 * authority) with the scanner's marks. Each serial counts once, whichever QR carries it; forged,
 * replayed, foreign and wrong-election payloads are refused and change nothing; accepted ballots
 * reach the tally as paper ballots of their station.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { encodeBase45 } from "../../lib/qr/base45.ts";
import { qrBytesOf, QR_SCHEME_PREFIX } from "../../lib/qr/payload.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { paperBoxFor } from "../../durable-objects/addresses.ts";
import { BASE, officialToken } from "./helpers/auth.ts";
import { NORTH_BALLOT, EAST_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import {
  adminCall,
  ballotSheetQr,
  checkInVoters,
  compiledElection,
  markedBallotQr,
  refusal,
  registerSheetKey,
  registerStation,
  resultSheetQr,
  signerOf,
  type TestStation,
} from "./helpers/station.ts";
import type { QrSigner } from "../../lib/qr/keys.ts";
import type { CompiledElection } from "../../lib/election/model.ts";

const ELECTION = "paper-scan";
const OTHER = "paper-scan-other";
const NOT_OPEN = "paper-scan-not-open";

let election: CompiledElection;
let other: CompiledElection;
let north: TestStation;
let northToo: TestStation;
let authority: { signer: QrSigner; kid: string };

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  await loadDemoElection({ electionId: OTHER });
  await loadDemoElection({
    electionId: NOT_OPEN,
    polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
  });
  election = await compiledElection(ELECTION);
  other = await compiledElection(OTHER);
  north = await registerStation(["district-north"], { serialRanges: [{ first: 100, last: 199 }] });
  northToo = await registerStation(["district-north"], { serialRanges: [{ first: 200, last: 299 }] });
  authority = await registerSheetKey(ELECTION);
  // Each accepted paper ballot needs an accepted check-in at its station.
  await checkInVoters(north, ELECTION, 10);
  await checkInVoters(northToo, ELECTION, 2);
});

async function used(serial: number, electionId = ELECTION): Promise<boolean> {
  return (await paperBoxFor(env, electionId, serial).serialStatus(electionId, serial)).used;
}

const Cvr = z
  .object({
    cvr_id: z.string(),
    channel: z.string(),
    station_id: z.string().nullable(),
    district_id: z.string(),
    marks_json: z.string(),
    retracted: z.number(),
  })
  .loose();

describe("scanning a BMD-marked ballot", () => {
  it("accepts it once; a retry answers the same; any other scan of the serial is refused and flagged", async () => {
    const qr = await markedBallotQr(north.bmd, election, "bs-north", 100, NORTH_BALLOT);
    const scanId = crypto.randomUUID();
    const first = await north.client.scan({ electionId: ELECTION, qr, scanId });
    expect(first).toMatchObject({
      electionId: ELECTION,
      stationId: north.stationId,
      serial: 100,
      source: "marked-ballot",
      channel: "paper",
      replayed: false,
    });
    const retry = await north.client.scan({ electionId: ELECTION, qr, scanId });
    expect(retry).toEqual({ ...first, replayed: true });

    expect(await refusal(north.client.scan({ electionId: ELECTION, qr }))).toEqual({
      status: 409,
      code: "serial_already_used",
    });
    const events = await env.DB.prepare(
      `SELECT detail_json FROM security_events WHERE election_id = ? AND kind = 'paper-serial-reused'`,
    )
      .bind(ELECTION)
      .all();
    expect(events.results.length).toBeGreaterThanOrEqual(1);

    // It reaches the tally as a paper ballot of this station, and its tracking code resolves.
    const cvr = await waitFor(async () => {
      const rows = z
        .array(Cvr)
        .parse(
          (
            await env.DB.prepare(`SELECT * FROM cast_vote_records WHERE election_id = ? AND station_id = ?`)
              .bind(ELECTION, north.stationId)
              .all()
          ).results,
        );
      return rows.length > 0 ? rows : undefined;
    });
    expect(cvr).toHaveLength(1);
    expect(cvr[0]).toMatchObject({ channel: "paper", district_id: "district-north", retracted: 0 });
    const receipt = await SELF.fetch(`${BASE}/v1/receipts/${first.trackingCode}`);
    expect(receipt.status).toBe(200);
  });
});

describe("scanning a pre-printed sheet", () => {
  it("accepts the sheet with the scanner's marks; its serial then refuses a BMD print of the same paper", async () => {
    const qr = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 150);
    const answer = await north.client.scan({ electionId: ELECTION, qr, contests: NORTH_BALLOT });
    expect(answer).toMatchObject({ serial: 150, source: "ballot-sheet", replayed: false });
    const bmd = await markedBallotQr(north.bmd, election, "bs-north", 150, NORTH_BALLOT);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: bmd }))).toEqual({
      status: 409,
      code: "serial_already_used",
    });
  });

  it("refuses the same scan id with other marks (idempotency_conflict)", async () => {
    const qr = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 151);
    const scanId = crypto.randomUUID();
    await north.client.scan({ electionId: ELECTION, qr, contests: NORTH_BALLOT, scanId });
    const otherMarks = [{ contestId: "contest-president", optionIds: ["sel-president-liis-kask"] }];
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr, contests: otherMarks, scanId }))).toEqual({
      status: 409,
      code: "idempotency_conflict",
    });
  });

  // A sheet's serial lies in one station's range only, so the race is one station's scanners.
  it("accepts exactly one of 20 concurrent scans of one serial", async () => {
    const qr = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 160);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        north.client.scan({ electionId: ELECTION, qr, contests: NORTH_BALLOT }).then(
          () => 201,
          (error: unknown) =>
            error instanceof Error && "status" in error && typeof error.status === "number" ? error.status : 0,
        ),
      ),
    );
    expect(outcomes.filter((s) => s === 201)).toHaveLength(1);
    expect(outcomes.filter((s) => s === 409)).toHaveLength(19);
  });
});

describe("refusals change nothing", () => {
  it("refuses forged, tampered, foreign and wrong-election payloads with their codes", async () => {
    const serial = 120;
    const good = await markedBallotQr(north.bmd, election, "bs-north", serial, NORTH_BALLOT);

    // Signed by a key nobody registered.
    const stranger = await signerOf((await generateSigningKey("stranger")).privateJwk);
    const forged = await markedBallotQr(stranger, election, "bs-north", serial, NORTH_BALLOT);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: forged }))).toEqual({
      status: 422,
      code: "qr_signature_invalid",
    });

    // One flipped byte, in the signature and in the body.
    const bytes = qrBytesOf(good);
    if (!bytes.ok) throw new Error("the good payload does not read");
    for (const index of [bytes.value.length - 1, 12]) {
      const flipped = bytes.value.slice();
      flipped[index] = (flipped[index] ?? 0) ^ 0x01;
      const res = await refusal(
        north.client.scan({ electionId: ELECTION, qr: QR_SCHEME_PREFIX + encodeBase45(flipped) }),
      );
      expect(res.status).toBe(422);
      expect(["qr_signature_invalid", "qr_invalid"]).toContain(res.code);
    }
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: "https://example.com/not-a-ballot" }))).toEqual({
      status: 422,
      code: "qr_invalid",
    });

    // Printed and signed by another station's device.
    expect(await refusal(northToo.client.scan({ electionId: ELECTION, qr: good }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    // A serial outside the station's ranges.
    const outside = await markedBallotQr(north.bmd, election, "bs-north", 250, NORTH_BALLOT);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: outside }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });
    // A sheet of a style this station does not serve.
    const eastSheet = await ballotSheetQr(authority.signer, ELECTION, "bs-east", 121);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: eastSheet, contests: EAST_BALLOT }))).toEqual({
      status: 422,
      code: "foreign_ballot",
    });

    // Another election's payload, submitted for this one.
    const otherBallot = await markedBallotQr(north.bmd, other, "bs-north", 122, NORTH_BALLOT);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: otherBallot }))).toEqual({
      status: 422,
      code: "wrong_election",
    });
    // A sheet signed with another election's authority key.
    const otherAuthority = await registerSheetKey(OTHER);
    const crossSigned = await ballotSheetQr(otherAuthority.signer, ELECTION, "bs-north", 123);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: crossSigned, contests: NORTH_BALLOT }))).toEqual(
      { status: 422, code: "qr_signature_invalid" },
    );

    // A sheet without marks, a BMD print with marks beside it, marks that overvote.
    const sheet = await ballotSheetQr(authority.signer, ELECTION, "bs-north", 124);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: sheet }))).toEqual({
      status: 400,
      code: "invalid_request",
    });
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: good, contests: NORTH_BALLOT }))).toEqual({
      status: 400,
      code: "invalid_request",
    });
    const overvote = [
      { contestId: "contest-president", optionIds: ["sel-president-aino-tamm", "sel-president-liis-kask"] },
    ];
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: sheet, contests: overvote }))).toEqual({
      status: 422,
      code: "invalid_ballot",
    });

    // A result sheet is not a ballot.
    const resultSheet = await resultSheetQr(north.signer, election, {
      stationId: north.stationId,
      sequence: 1,
      closedAt: "2026-05-01T20:00:00Z",
      votersCheckedIn: 0,
      ballotsCast: 0,
      contests: [],
    });
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: resultSheet }))).toEqual({
      status: 422,
      code: "qr_invalid",
    });

    // Before the polls open.
    const early = await ballotSheetQr(authority.signer, NOT_OPEN, "bs-north", 125);
    expect(await refusal(north.client.scan({ electionId: NOT_OPEN, qr: early, contests: NORTH_BALLOT }))).toEqual({
      status: 403,
      code: "polls_not_open",
    });

    for (const s of [120, 121, 122, 123, 124, 250]) expect(await used(s)).toBe(false);
    // The good ballot is still accepted afterwards.
    expect((await north.client.scan({ electionId: ELECTION, qr: good })).serial).toBe(serial);
  });

  it("refuses sheets of a revoked authority key", async () => {
    const revoked = await registerSheetKey(ELECTION);
    expect((await adminCall("DELETE", `/v1/admin/elections/${ELECTION}/sheet-keys/${revoked.kid}`)).status).toBe(200);
    const sheet = await ballotSheetQr(revoked.signer, ELECTION, "bs-north", 130);
    expect(await refusal(north.client.scan({ electionId: ELECTION, qr: sheet, contests: NORTH_BALLOT }))).toEqual({
      status: 422,
      code: "qr_signature_invalid",
    });
    expect(await used(130)).toBe(false);
  });

  it("lists sheet keys to auditors; station officials may not register them", async () => {
    const auditor = await officialToken("auditor");
    const list = z
      .object({ keys: z.array(z.object({ kid: z.string(), revokedAt: z.string().nullable() })) })
      .parse(await (await adminCall("GET", `/v1/admin/elections/${ELECTION}/sheet-keys`, undefined, auditor)).json());
    expect(list.keys.map((k) => k.kid)).toContain(authority.kid);
    const official = await officialToken("station-official");
    const { publicJwk } = await generateSigningKey("not-allowed");
    expect(
      (await adminCall("POST", `/v1/admin/elections/${ELECTION}/sheet-keys`, { publicJwk }, official)).status,
    ).toBe(403);
  });
});

describe("a ballot box once its scans are sent", () => {
  it("keeps no alarm: nothing wakes it five seconds later to find nothing to send", async () => {
    const qr = await markedBallotQr(north.bmd, election, "bs-north", 140, NORTH_BALLOT);
    await north.client.scan({ electionId: ELECTION, qr, scanId: crypto.randomUUID() });
    const box = paperBoxFor(env, ELECTION, 140);
    const { alarm, pending } = await runInDurableObject(box, async (instance, state) => {
      // Joins the flush the scan started, or runs one more: either way it has ended here.
      await (instance as unknown as { outbox: { flush(): Promise<void> } }).outbox.flush();
      return { alarm: await state.storage.getAlarm(), pending: await instance.pendingOutbox() };
    });
    expect(pending).toBe(0);
    expect(alarm).toBeNull();
  });
});
