/**
 * The polling station's client through a network cut: a TCP proxy in front of the running system
 * that the test cuts and restores. While cut, check-ins are decided from the station's pollbook
 * (each with an envelope) and scans wait in the outbox; once restored, everything is synced in
 * order and the server counts each exactly once. Needs the server's offline check-ins and
 * envelopes (issue 12 part A).
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { Station } from "../../station/station.ts";
import { DEMO_ELECTION_ID, demoVoters } from "../../scripts/demo.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { eventually } from "./helpers/run.ts";
import {
  printed as printedFor,
  Proxy,
  reconciliation as reconciliationOf,
  registerStations,
  setupOf,
  storedRows,
  testStation,
  type TestStation,
} from "./helpers/station.ts";

const cutStation = await testStation("stc-cut-1", 610_000);
const system = withRunningSystem({
  name: "station-offline",
  demo: true,
  beforePollsOpen: (admin) => registerStations(admin, [cutStation]),
});

let election: CompiledElection;
const voters = (await demoVoters(1000)).filter((v) => v.districtId === "district-north");
const south = (await demoVoters(200)).find((v) => v.districtId === "district-south");
let nextVoter = 0;
function takeVoters(n: number): { nationalId: string }[] {
  const taken = voters.slice(nextVoter, nextVoter + n);
  nextVoter += n;
  if (taken.length < n) throw new Error("the demo roll has too few north voters");
  return taken;
}

beforeAll(async () => {
  const stored = z
    .object({ definition: z.unknown() })
    .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}`));
  const parsed = parseDefinition(stored.definition);
  if (!parsed.ok) throw new Error("the demo definition does not parse");
  election = parsed.value.election;
});

const printed = (s: TestStation, serial: number): Promise<string> => printedFor(election, s, serial);
const reconciliation = (stationId: string): ReturnType<typeof reconciliationOf> =>
  reconciliationOf(system.admin, stationId);

describe("a network cut", () => {
  it("decides check-ins from the pollbook and queues scans while cut, then syncs each exactly once", async () => {
    const proxy = new Proxy(new URL(system.baseUrl));
    await proxy.start();
    const dataDir = await mkdtemp(join(system.stateDir, "stc-cut-"));
    const station = await Station.open(setupOf(cutStation, proxy.origin), dataDir);
    try {
      const pollbook = await station.refreshPollbook();
      expect(pollbook).toMatchObject({ entries: voters.length });
      const [online, ...cut] = takeVoters(4);

      // Online, a voter of the pollbook is checked in by their ref; the server decides.
      expect(await station.checkIn({ nationalId: online!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "issue-ballot",
        decidedOffline: false,
      });
      expect(await station.scan({ qr: await printed(cutStation, cutStation.firstSerial) })).toMatchObject({
        outcome: "accepted",
      });

      proxy.cut();
      const envelopes: string[] = [];
      for (const voter of cut) {
        const result = await station.checkIn({ nationalId: voter.nationalId, identity: { method: "id-card" } });
        expect(result).toMatchObject({ outcome: "issue-ballot", ballotStyleId: "bs-north", decidedOffline: true });
        envelopes.push(result.outcome === "issue-ballot" ? (result.envelope ?? "") : "");
      }
      // Offline, the station refuses what only the server could decide, and a second check-in here.
      expect(await station.checkIn({ nationalId: cut[0]!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "refused",
        code: "may_not_issue_ballot",
      });
      expect(await station.checkIn({ nationalId: online!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "refused",
        code: "may_not_issue_ballot",
      });
      expect(await station.checkIn({ nationalId: south!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "refused",
        code: "not_in_pollbook",
      });
      expect((await station.status()).openEnvelopes).toEqual([...envelopes].sort());
      for (const [i, envelope] of envelopes.entries()) {
        expect(await station.scan({ qr: await printed(cutStation, cutStation.firstSerial + 1 + i), envelope })).toEqual(
          {
            outcome: "queued",
            serial: cutStation.firstSerial + 1 + i,
            held: false,
          },
        );
      }
      // An envelope names one ballot.
      expect(
        await station.scan({ qr: await printed(cutStation, cutStation.firstSerial + 9), envelope: envelopes[0]! }),
      ).toMatchObject({ outcome: "refused", code: "envelope_used" });
      expect(await station.status()).toMatchObject({
        online: false,
        pending: 6,
        openEnvelopes: [],
        checkIns: 4,
        scans: 4,
      });

      proxy.restore();
      await station.syncNow();
      expect(await station.status()).toMatchObject({ online: true, pending: 0, failed: 0 });
      expect((await station.outbox()).every((i) => i.state === "done")).toBe(true);
      // Nothing is sent twice: another pass finds nothing, the server counts each once.
      await station.syncNow();
      await eventually(async () => {
        const r = await reconciliation(cutStation.id);
        return r.system.checkIns === 4 && r.system.ballotsScanned === 4 ? r : undefined;
      });
      for (const row of storedRows(dataDir)) expect(row.body).toBeNull();
    } finally {
      await station.close();
      await proxy.stop();
    }
  });
});
