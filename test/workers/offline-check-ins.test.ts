/**
 * Offline check-ins on the server (issue 12, docs/PAPER.md "Offline"): a station that could not
 * reach us checked a voter in from its pollbook and issued a ballot in an envelope; its sync sends
 * the check-in with the pollbook entry's `voterRef` and `offline: { decidedAt, envelope }`, and
 * later the ballot's scan with the envelope. Accepted: the envelope is clear and the ballot counts.
 * Conflicting (first-wins after an online vote, a second check-in, a voter no longer the
 * station's): held, one conflict row and one security event, the ballot held aside in its box.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { claimDecision } from "../../db/stores/conflicts.ts";
import { ledgerFor, paperBoxFor, stationBallotCountFor } from "../../durable-objects/addresses.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { newEnvelopeCode } from "../../lib/station/pollbook.ts";
import { sealVoterRef } from "../../workers/voting/pollbook-keys.ts";
import { adminToken, BASE, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import {
  atTime,
  compiledElection,
  ErrorBody,
  markedBallotQr,
  refusal,
  registerStation,
  type TestStation,
} from "./helpers/station.ts";

const FIRST_WINS = "offline-first-wins";
const SUPERSEDES = "offline-supersedes";
const ID_CARD = { method: "id-card" } as const;
const MINUTE = 60_000;

let election: CompiledElection;
let s1: TestStation;
let s2: TestStation;
let east: TestStation;
let voters = 0;
let serial = 71_000;

beforeAll(async () => {
  await loadDemoElection({ electionId: FIRST_WINS, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: SUPERSEDES, crossChannelPolicy: "paper-supersedes" });
  election = await compiledElection(FIRST_WINS);
  s1 = await registerStation(["district-north"], { serialRanges: [{ first: 71_000, last: 71_499 }] });
  s2 = await registerStation(["district-north"], { serialRanges: [{ first: 71_500, last: 71_999 }] });
  east = await registerStation(["district-east"]);
});

/** A fresh voter of district-north: their national id and voter key. */
async function newVoter(electionId: string): Promise<{ nationalId: string; voterKey: string }> {
  voters += 1;
  const nationalId = `EE-OFFLINE-${voters}-${crypto.randomUUID().slice(0, 6)}`;
  return { nationalId, voterKey: await enrol(electionId, nationalId, "district-north") };
}

async function refFor(electionId: string, station: TestStation, voterKey: string): Promise<string> {
  return sealVoterRef(env, electionId, station.stationId, voterKey);
}

async function offlineCheckIn(
  station: TestStation,
  electionId: string,
  voterKey: string,
  options: { envelope?: string; decidedAt?: Date; checkInId?: string } = {},
) {
  return station.client.checkIn({
    electionId,
    voterRef: await refFor(electionId, station, voterKey),
    offline: {
      decidedAt: options.decidedAt ?? new Date(Date.now() - MINUTE),
      envelope: options.envelope ?? newEnvelopeCode(),
    },
    identity: ID_CARD,
    ...(options.checkInId ? { checkInId: options.checkInId } : {}),
  });
}

async function voteOnline(electionId: string, nationalId: string): Promise<void> {
  const session = await voterSession(electionId, nationalId);
  expect((await cast(electionId, session, NORTH_BALLOT)).status).toBe(201);
}

async function ballot(station: TestStation): Promise<{ qr: string; serial: number }> {
  serial += 1;
  if (station === s2 && serial < 71_500) serial = 71_500 + (serial % 500);
  return { qr: await markedBallotQr(station.bmd, election, "bs-north", serial, NORTH_BALLOT), serial };
}

function scanOf(station: TestStation, qr: string, envelope: string, scanId: string = crypto.randomUUID()) {
  return station.client.scan({ electionId: FIRST_WINS, qr, scannedAt: new Date(), envelope, scanId });
}

async function paperRecords(stationId: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM cast_vote_records WHERE election_id = ? AND station_id = ? AND channel = 'paper'`,
  )
    .bind(FIRST_WINS, stationId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function sentEverything(s: number): Promise<void> {
  const box = paperBoxFor(env, FIRST_WINS, s);
  for (let i = 0; i < 100 && (await box.pendingOutbox()) > 0; i += 1) await new Promise((r) => setTimeout(r, 50));
  // The consumer's batch after the queue took it.
  await new Promise((r) => setTimeout(r, 300));
}

async function waitForRecords(stationId: string, n: number): Promise<void> {
  for (let i = 0; i < 150; i += 1) {
    if ((await paperRecords(stationId)) >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function decide(electionId: string, conflictId: string, decision: string, reason = "Checked the poll book.") {
  return SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/conflicts/${conflictId}/decision`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ decision, reason }),
  });
}

interface ConflictList {
  conflicts: { conflictId: string; stationId: string; kind: string; state: string; other: unknown }[];
}

async function conflicts(electionId: string): Promise<ConflictList["conflicts"]> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/conflicts`, {
    headers: { authorization: `Bearer ${await adminToken()}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as ConflictList).conflicts;
}

async function conflictEvents(electionId: string): Promise<Record<string, unknown>[]> {
  const rows = await env.DB.prepare(
    `SELECT detail_json FROM security_events WHERE election_id = ? AND kind = 'offline-check-in-conflict'`,
  )
    .bind(electionId)
    .all<{ detail_json: string }>();
  return rows.results.map((r) => JSON.parse(r.detail_json) as Record<string, unknown>);
}

/** A voter who voted online, then checked in offline at s1: the conflict's id and envelope. */
async function heldAfterOnlineVote(): Promise<{ conflictId: string; envelope: string; voterKey: string }> {
  const { nationalId, voterKey } = await newVoter(FIRST_WINS);
  await voteOnline(FIRST_WINS, nationalId);
  const envelope = newEnvelopeCode();
  const answer = await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope });
  if (answer.outcome !== "held") throw new Error(`expected held, got ${answer.outcome}`);
  return { conflictId: answer.conflictId, envelope, voterKey };
}

describe("an offline check-in after an online vote under first-wins", () => {
  it("is held: one conflict, one security event, the scan held aside; count adds it to the tally once", async () => {
    const eventsBefore = (await conflictEvents(FIRST_WINS)).length;
    const countsBefore = await stationBallotCountFor(env, FIRST_WINS, s1.stationId).counts();
    const { nationalId, voterKey } = await newVoter(FIRST_WINS);
    await voteOnline(FIRST_WINS, nationalId);
    const envelope = newEnvelopeCode();
    const checkInId = crypto.randomUUID();
    const decidedAt = new Date(Date.now() - MINUTE);
    const answer = await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope, checkInId, decidedAt });
    expect(answer).toMatchObject({ outcome: "held", ballotStyleId: "bs-north", districtId: "district-north" });
    if (answer.outcome !== "held") return;
    // The same check-in again answers the same conflict.
    const again = await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope, checkInId, decidedAt });
    expect(again).toMatchObject({ outcome: "held", conflictId: answer.conflictId, replayed: true });

    const listed = (await conflicts(FIRST_WINS)).filter((c) => c.conflictId === answer.conflictId);
    expect(listed).toEqual([
      expect.objectContaining({
        stationId: s1.stationId,
        kind: "voted-online",
        state: "held",
        other: expect.objectContaining({ channel: "online" }),
      }),
    ]);
    const events = await conflictEvents(FIRST_WINS);
    expect(events).toHaveLength(eventsBefore + 1);
    expect(events.at(-1)).toMatchObject({
      stationId: s1.stationId,
      districtId: "district-north",
      kind: "voted-online",
    });
    // The station issued a ballot: its check-in is a place for it, and counts for reconciliation.
    expect((await stationBallotCountFor(env, FIRST_WINS, s1.stationId).counts()).checkIns).toBe(
      countsBefore.checkIns + 1,
    );
    const stored = JSON.stringify([
      (await env.DB.prepare(`SELECT * FROM offline_conflicts`).all()).results,
      (await env.DB.prepare(`SELECT * FROM offline_envelopes`).all()).results,
      (await env.DB.prepare(`SELECT * FROM security_events WHERE election_id = ?`).bind(FIRST_WINS).all()).results,
    ]);
    expect(stored).not.toContain(voterKey);
    expect(stored).not.toContain(checkInId);
    expect(stored).not.toContain(envelope);

    // The scan with the envelope: the serial is used, the ballot held, the tally unchanged.
    const recordsBefore = await paperRecords(s1.stationId);
    const paper = await ballot(s1);
    const scanId = crypto.randomUUID();
    const scanned = await scanOf(s1, paper.qr, envelope, scanId);
    expect(scanned).toMatchObject({ serial: paper.serial, held: true, replayed: false });
    const box = paperBoxFor(env, FIRST_WINS, paper.serial);
    expect(await box.serialStatus(FIRST_WINS, paper.serial)).toMatchObject({ used: true, disposition: "held" });
    expect(await box.pendingOutbox()).toBe(0);
    await sentEverything(paper.serial);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore);

    // count: the tally gains it exactly once, however often the decision or the scan is repeated.
    expect((await decide(FIRST_WINS, answer.conflictId, "count")).status).toBe(200);
    await waitForRecords(s1.stationId, recordsBefore + 1);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore + 1);
    const repeated = await decide(FIRST_WINS, answer.conflictId, "count");
    expect(repeated.status).toBe(200);
    expect(await repeated.json()).toMatchObject({ state: "count", decision: { reason: "Checked the poll book." } });
    const redelivered = await scanOf(s1, paper.qr, envelope, scanId);
    expect(redelivered).toMatchObject({ serial: paper.serial, replayed: true, held: false });
    await sentEverything(paper.serial);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore + 1);
    expect(await box.serialStatus(FIRST_WINS, paper.serial)).toMatchObject({ disposition: "counted" });

    // Decided once: the other decision is refused and changes nothing.
    const other = await decide(FIRST_WINS, answer.conflictId, "do-not-count");
    expect(other.status).toBe(409);
    expect(ErrorBody.parse(await other.json()).error.code).toBe("conflict_already_decided");
    expect((await conflicts(FIRST_WINS)).find((c) => c.conflictId === answer.conflictId)?.state).toBe("count");
  });

  it("a held check-in's place is for its envelope's ballot only: a scan without the envelope is refused", async () => {
    const fresh = await registerStation(["district-north"], { serialRanges: [{ first: 72_000, last: 72_009 }] });
    const { nationalId, voterKey } = await newVoter(FIRST_WINS);
    await voteOnline(FIRST_WINS, nationalId);
    const envelope = newEnvelopeCode();
    expect(await offlineCheckIn(fresh, FIRST_WINS, voterKey, { envelope })).toMatchObject({ outcome: "held" });
    const qr = await markedBallotQr(fresh.bmd, election, "bs-north", 72_001, NORTH_BALLOT);
    expect(await refusal(fresh.client.scan({ electionId: FIRST_WINS, qr, scannedAt: new Date() }))).toEqual({
      status: 409,
      code: "scans_exceed_check_ins",
    });
    expect((await paperBoxFor(env, FIRST_WINS, 72_001).serialStatus(FIRST_WINS, 72_001)).used).toBe(false);
    expect(await scanOf(fresh, qr, envelope)).toMatchObject({ held: true });
  });

  it("do-not-count destroys the held ballot: the tally never sees it", async () => {
    const { conflictId, envelope } = await heldAfterOnlineVote();
    const recordsBefore = await paperRecords(s1.stationId);
    const paper = await ballot(s1);
    expect(await scanOf(s1, paper.qr, envelope)).toMatchObject({ held: true });
    expect((await decide(FIRST_WINS, conflictId, "do-not-count")).status).toBe(200);
    expect((await decide(FIRST_WINS, conflictId, "do-not-count")).status).toBe(200);
    const box = paperBoxFor(env, FIRST_WINS, paper.serial);
    expect(await box.serialStatus(FIRST_WINS, paper.serial)).toMatchObject({ used: true, disposition: "destroyed" });
    await sentEverything(paper.serial);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore);
  });

  it("a decision taken before the scan arrives is applied when it arrives", async () => {
    const counted = await heldAfterOnlineVote();
    expect((await decide(FIRST_WINS, counted.conflictId, "count")).status).toBe(200);
    const recordsBefore = await paperRecords(s1.stationId);
    const paper = await ballot(s1);
    expect(await scanOf(s1, paper.qr, counted.envelope)).toMatchObject({ held: false });
    await waitForRecords(s1.stationId, recordsBefore + 1);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore + 1);

    const refused = await heldAfterOnlineVote();
    expect((await decide(FIRST_WINS, refused.conflictId, "do-not-count")).status).toBe(200);
    const second = await ballot(s1);
    expect(await scanOf(s1, second.qr, refused.envelope)).toMatchObject({ held: true });
    expect(await paperBoxFor(env, FIRST_WINS, second.serial).serialStatus(FIRST_WINS, second.serial)).toMatchObject({
      disposition: "destroyed",
    });
  });
});

describe("a decision claimed but not yet in the log", () => {
  it("is not applied by a scan; the administrator's repeat logs it and applies it", async () => {
    const { conflictId, envelope } = await heldAfterOnlineVote();
    // As if the log had refused the entry (log_pool_full) right after the claim.
    await claimDecision(env.DB, FIRST_WINS, conflictId, {
      decision: "count",
      officialId: "admin",
      reason: "Checked the poll book.",
      minute: "2026-11-30T12:00:00.000Z",
    });
    const recordsBefore = await paperRecords(s1.stationId);
    const paper = await ballot(s1);
    expect(await scanOf(s1, paper.qr, envelope)).toMatchObject({ held: true });
    expect(await paperBoxFor(env, FIRST_WINS, paper.serial).serialStatus(FIRST_WINS, paper.serial)).toMatchObject({
      disposition: "held",
    });
    expect((await decide(FIRST_WINS, conflictId, "count")).status).toBe(200);
    await waitForRecords(s1.stationId, recordsBefore + 1);
    expect(await paperRecords(s1.stationId)).toBe(recordsBefore + 1);
  });
});

describe("offline check-ins that do not conflict, or conflict elsewhere", () => {
  it("two stations checking in the same voter offline: one issues the ballot, the other is held", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const first = await offlineCheckIn(s1, FIRST_WINS, voterKey);
    expect(first).toMatchObject({ outcome: "issue-ballot", stationId: s1.stationId });
    const second = await offlineCheckIn(s2, FIRST_WINS, voterKey);
    expect(second.outcome).toBe("held");
    if (second.outcome !== "held") return;
    expect((await conflicts(FIRST_WINS)).find((c) => c.conflictId === second.conflictId)).toMatchObject({
      stationId: s2.stationId,
      kind: "checked-in",
      other: { channel: "paper", stationId: s1.stationId },
    });
  });

  it("an accepted offline check-in's envelope counts its ballot as any scan, once", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const envelope = newEnvelopeCode();
    expect(await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope })).toMatchObject({ outcome: "issue-ballot" });
    const paper = await ballot(s1);
    const scanId = crypto.randomUUID();
    expect(await scanOf(s1, paper.qr, envelope, scanId)).toMatchObject({ held: false, replayed: false });
    expect(await scanOf(s1, paper.qr, envelope, scanId)).toMatchObject({ held: false, replayed: true });
    // The envelope is forgotten once its ballot counted: another ballot cannot use it.
    const other = await ballot(s1);
    expect(await refusal(scanOf(s1, other.qr, envelope))).toEqual({ status: 409, code: "envelope_unknown" });
    expect((await paperBoxFor(env, FIRST_WINS, other.serial).serialStatus(FIRST_WINS, other.serial)).used).toBe(false);
  });

  it("under paper-supersedes an offline check-in after an online vote cancels the online ballot, no conflict", async () => {
    const { nationalId, voterKey } = await newVoter(SUPERSEDES);
    await voteOnline(SUPERSEDES, nationalId);
    const before = (await conflicts(SUPERSEDES)).length;
    expect(await offlineCheckIn(s1, SUPERSEDES, voterKey)).toMatchObject({ outcome: "issue-ballot" });
    expect(await ledgerFor(env, SUPERSEDES, voterKey).status(SUPERSEDES, voterKey)).toMatchObject({
      state: "paper",
      counted: 0,
    });
    expect(await conflicts(SUPERSEDES)).toHaveLength(before);
    expect(await conflictEvents(SUPERSEDES)).toHaveLength(0);
  });

  it("a voter the roll no longer puts in the station's districts is a conflict, not a refusal", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const answer = await east.client.checkIn({
      electionId: FIRST_WINS,
      voterRef: await refFor(FIRST_WINS, east, voterKey),
      offline: { decidedAt: new Date(Date.now() - MINUTE), envelope: newEnvelopeCode() },
      identity: ID_CARD,
    });
    expect(answer.outcome).toBe("held");
    if (answer.outcome !== "held") return;
    expect((await conflicts(FIRST_WINS)).find((c) => c.conflictId === answer.conflictId)).toMatchObject({
      kind: "out-of-district",
      other: null,
    });
    // Online, the same voter at that station is refused as ever.
    expect(
      await refusal(
        east.client.checkIn({
          electionId: FIRST_WINS,
          voterRef: await refFor(FIRST_WINS, east, voterKey),
          identity: ID_CARD,
        }),
      ),
    ).toEqual({ status: 403, code: "station_wrong_district" });
  });
});

describe("an online check-in whose answer the station never got, sent again as decided offline", () => {
  it("was accepted: the repeat answers issue-ballot and its envelope counts the ballot", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const voterRef = await refFor(FIRST_WINS, s1, voterKey);
    const checkInId = crypto.randomUUID();
    // The first try reached us, and its answer was lost on the way back (the station timed out).
    await s1.client.checkIn({ electionId: FIRST_WINS, voterRef, identity: ID_CARD, checkInId });
    const envelope = newEnvelopeCode();
    expect(await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope, checkInId })).toMatchObject({
      outcome: "issue-ballot",
      replayed: true,
    });
    const paper = await ballot(s1);
    expect(await scanOf(s1, paper.qr, envelope)).toMatchObject({ held: false, replayed: false });
  });

  it("was refused: the repeat is a conflict and its ballot is held", async () => {
    const { nationalId, voterKey } = await newVoter(FIRST_WINS);
    await voteOnline(FIRST_WINS, nationalId);
    const voterRef = await refFor(FIRST_WINS, s1, voterKey);
    const checkInId = crypto.randomUUID();
    const first = await refusal(s1.client.checkIn({ electionId: FIRST_WINS, voterRef, identity: ID_CARD, checkInId }));
    expect(first).toEqual({ status: 409, code: "may_not_issue_ballot" });
    const envelope = newEnvelopeCode();
    const again = await offlineCheckIn(s1, FIRST_WINS, voterKey, { envelope, checkInId });
    expect(again).toMatchObject({ outcome: "held" });
    const paper = await ballot(s1);
    expect(await scanOf(s1, paper.qr, envelope)).toMatchObject({ held: true });
  });
});

describe("what the station is told online is unchanged", () => {
  it("an online check-in by voterRef after an online vote is may_not_issue_ballot, and makes no conflict", async () => {
    const { nationalId, voterKey } = await newVoter(FIRST_WINS);
    await voteOnline(FIRST_WINS, nationalId);
    const before = (await conflicts(FIRST_WINS)).length;
    const voterRef = await refFor(FIRST_WINS, s1, voterKey);
    const failed = await s1.client
      .checkIn({ electionId: FIRST_WINS, voterRef, identity: ID_CARD })
      .catch((error: unknown) => error);
    expect(failed).toMatchObject({ status: 409, code: "may_not_issue_ballot" });
    expect(JSON.stringify(failed)).not.toMatch(/online|conflict/i);
    expect(await conflicts(FIRST_WINS)).toHaveLength(before);
  });
});

describe("refusals change nothing", () => {
  it("a ref that does not open, or was sealed for another station, is voter_ref_invalid", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const forS2 = await refFor(FIRST_WINS, s2, voterKey);
    const bogus = "A".repeat(60);
    for (const voterRef of [forS2, bogus]) {
      expect(
        await refusal(
          s1.client.checkIn({
            electionId: FIRST_WINS,
            voterRef,
            offline: { decidedAt: new Date(Date.now() - MINUTE), envelope: newEnvelopeCode() },
            identity: ID_CARD,
          }),
        ),
      ).toEqual({ status: 422, code: "voter_ref_invalid" });
    }
    expect(await ledgerFor(env, FIRST_WINS, voterKey).status(FIRST_WINS, voterKey)).toMatchObject({ state: "none" });
  });

  it("an offline check-in decided before the opening, or synced after the grace, is refused", async () => {
    const { voterKey } = await newVoter(FIRST_WINS);
    const opens = election.polls.opensAtMs;
    expect(await refusal(offlineCheckIn(s1, FIRST_WINS, voterKey, { decidedAt: new Date(opens - MINUTE) }))).toEqual({
      status: 422,
      code: "check_in_time_outside_polls",
    });
    expect(
      await refusal(offlineCheckIn(s1, FIRST_WINS, voterKey, { decidedAt: new Date(Date.now() + 10 * MINUTE) })),
    ).toEqual({ status: 422, code: "check_in_time_outside_polls" });
    const closes = election.polls.closesAtMs;
    const grace = election.settings.paperSyncGraceMinutes * MINUTE;
    const ref = await refFor(FIRST_WINS, s1, voterKey);
    expect(
      await atTime(closes + grace + MINUTE, () =>
        refusal(
          s1.client.checkIn({
            electionId: FIRST_WINS,
            voterRef: ref,
            offline: { decidedAt: new Date(closes - MINUTE), envelope: newEnvelopeCode() },
            identity: ID_CARD,
          }),
        ),
      ),
    ).toEqual({ status: 403, code: "paper_sync_closed" });
    expect(await ledgerFor(env, FIRST_WINS, voterKey).status(FIRST_WINS, voterKey)).toMatchObject({ state: "none" });
  });

  it("a body with both or neither of nationalId and voterRef, or offline without voterRef, is invalid_request", async () => {
    const { nationalId, voterKey } = await newVoter(FIRST_WINS);
    const voterRef = await refFor(FIRST_WINS, s1, voterKey);
    const offline = { decidedAt: new Date().toISOString(), envelope: newEnvelopeCode() };
    for (const body of [
      { nationalId, voterRef },
      {},
      { nationalId, offline },
      { voterRef, offline: { ...offline, envelope: "not-a-code" } },
    ]) {
      const sent = s1.client.call("POST", `/v1/stations/${s1.stationId}/check-ins`, {
        electionId: FIRST_WINS,
        identity: ID_CARD,
        checkInId: crypto.randomUUID(),
        ...body,
      });
      expect(await refusal(sent)).toEqual({ status: 400, code: "invalid_request" });
    }
    expect(await ledgerFor(env, FIRST_WINS, voterKey).status(FIRST_WINS, voterKey)).toMatchObject({ state: "none" });
  });

  it("an unknown envelope and an envelope used by another ballot are refused; the serial stays unused", async () => {
    const unknown = await ballot(s1);
    expect(await refusal(scanOf(s1, unknown.qr, newEnvelopeCode()))).toEqual({ status: 409, code: "envelope_unknown" });
    expect((await paperBoxFor(env, FIRST_WINS, unknown.serial).serialStatus(FIRST_WINS, unknown.serial)).used).toBe(
      false,
    );

    const { envelope } = await heldAfterOnlineVote();
    const first = await ballot(s1);
    expect(await scanOf(s1, first.qr, envelope)).toMatchObject({ held: true });
    const second = await ballot(s1);
    expect(await refusal(scanOf(s1, second.qr, envelope))).toEqual({ status: 409, code: "envelope_used" });
    expect((await paperBoxFor(env, FIRST_WINS, second.serial).serialStatus(FIRST_WINS, second.serial)).used).toBe(
      false,
    );
    // Another station's envelope is not this station's.
    const atS2 = await ballot(s2);
    expect(await refusal(scanOf(s2, atS2.qr, envelope))).toEqual({ status: 409, code: "envelope_unknown" });
  });

  it("an unknown conflict, and a decision without a reason, change nothing", async () => {
    const missing = await decide(FIRST_WINS, crypto.randomUUID(), "count");
    expect(missing.status).toBe(404);
    expect(ErrorBody.parse(await missing.json()).error.code).toBe("conflict_not_found");
    const { conflictId } = await heldAfterOnlineVote();
    expect((await decide(FIRST_WINS, conflictId, "count", "")).status).toBe(400);
    expect((await decide(FIRST_WINS, conflictId, "maybe")).status).toBe(400);
    expect((await conflicts(FIRST_WINS)).find((c) => c.conflictId === conflictId)?.state).toBe("held");
  });
});
