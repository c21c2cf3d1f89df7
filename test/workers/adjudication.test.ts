/**
 * Adjudicating an offline check-in's conflict (workers/gateway/routes/conflicts.ts): who may list
 * and decide, the public log's `conflict-adjudicated` entry (and the conflict's check-in, counted
 * like any other), and reconciliation after `count`: the station's check-ins and its counted
 * ballots agree, with no spurious difference for the held ballot.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/audit/entries.ts";
import { newEnvelopeCode } from "../../lib/station/pollbook.ts";
import { sealVoterRef } from "../../workers/voting/pollbook-keys.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { adminCall, compiledElection, markedBallotQr, registerStation, type TestStation } from "./helpers/station.ts";

const ELECTION = "adjudication";
const REASON = "The online ballot was cast by the voter's relative; the voter's paper ballot counts.";

let station: TestStation;
let conflictId: string;
let voterKey: string;

interface StationReconciliation {
  system: { checkIns: number; ballotsScanned: number };
}

async function reconciliation(): Promise<StationReconciliation> {
  const res = await adminCall("GET", `/v1/admin/elections/${ELECTION}/reconciliation/${station.stationId}`);
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION, crossChannelPolicy: "first-wins" });
  station = await registerStation(["district-north"], { serialRanges: [{ first: 88_000, last: 88_099 }] });
  const nationalId = `EE-ADJUDICATE-${crypto.randomUUID().slice(0, 8)}`;
  voterKey = await enrol(ELECTION, nationalId, "district-north");
  expect((await cast(ELECTION, await voterSession(ELECTION, nationalId), NORTH_BALLOT)).status).toBe(201);
  const envelope = newEnvelopeCode();
  const answer = await station.client.checkIn({
    electionId: ELECTION,
    voterRef: await sealVoterRef(env, ELECTION, station.stationId, voterKey),
    offline: { decidedAt: new Date(Date.now() - 5 * 60_000), envelope },
    identity: { method: "id-card" },
  });
  if (answer.outcome !== "held") throw new Error("expected a held check-in");
  conflictId = answer.conflictId;
  const election = await compiledElection(ELECTION);
  const qr = await markedBallotQr(station.bmd, election, "bs-north", 88_001, NORTH_BALLOT);
  expect(await station.client.scan({ electionId: ELECTION, qr, scannedAt: new Date(), envelope })).toMatchObject({
    held: true,
  });
});

describe("who may see and decide conflicts", () => {
  it("auditors list them but may not decide; station officials may do neither", async () => {
    const auditor = await officialToken("auditor");
    const listed = await adminCall("GET", `/v1/admin/elections/${ELECTION}/conflicts`, undefined, auditor);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toMatchObject({ conflicts: [{ conflictId, state: "held", kind: "voted-online" }] });
    const path = `/v1/admin/elections/${ELECTION}/conflicts/${conflictId}/decision`;
    expect((await adminCall("POST", path, { decision: "count", reason: REASON }, auditor)).status).toBe(403);
    const official = await officialToken("station-official");
    expect((await adminCall("GET", `/v1/admin/elections/${ELECTION}/conflicts`, undefined, official)).status).toBe(403);
    const res = await SELF.fetch(`${BASE}/v1/admin/elections/${ELECTION}/conflicts`);
    expect(res.status).toBe(401);
  });
});

describe("count", () => {
  it("is logged as conflict-adjudicated, and reconciliation then finds the station's check-ins and ballots equal", async () => {
    // Held: the station's check-in counts, its ballot does not (yet).
    expect((await reconciliation()).system).toEqual(expect.objectContaining({ checkIns: 1, ballotsScanned: 0 }));
    const res = await adminCall("POST", `/v1/admin/elections/${ELECTION}/conflicts/${conflictId}/decision`, {
      decision: "count",
      reason: REASON,
    });
    expect(res.status).toBe(200);
    const counted = await waitFor(async () => {
      const view = await reconciliation();
      return view.system.ballotsScanned === 1 ? view : undefined;
    });
    expect(counted.system).toEqual(expect.objectContaining({ checkIns: 1, ballotsScanned: 1 }));

    const entries = await waitFor(async (): Promise<LogEntry[] | undefined> => {
      await sequencer(ELECTION).sequenceNow();
      const log = await readPublishedLog(ELECTION).catch(() => undefined);
      const found = log?.decoded.filter((e) => e.type === "conflict-adjudicated" || e.type === "check-in") ?? [];
      return found.length >= 2 ? found : undefined;
    });
    expect(entries).toEqual(
      expect.arrayContaining([
        {
          type: "conflict-adjudicated",
          at: expect.stringMatching(/:00\.000Z$/),
          conflictId,
          stationId: station.stationId,
          districtId: "district-north",
          decision: "count",
          officialId: expect.any(String),
          reason: REASON,
        },
        { type: "check-in", stationId: station.stationId, districtId: "district-north", at: expect.any(String) },
      ]),
    );
    expect(JSON.stringify(entries)).not.toContain(voterKey);
  });
});
