/**
 * The polling station's client through a network cut: a TCP proxy in front of the running system
 * that the test cuts and restores. While cut, check-ins are decided from the station's pollbook
 * (each with an envelope) and scans wait in the outbox; once restored, everything is synced in
 * order and the server counts each exactly once. A voter who voted online and is then checked in
 * offline has their paper ballot held for adjudication.
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { CompiledElection } from "../../lib/election/model.ts";
import { Station } from "../../station/station.ts";
import { DEMO_ELECTION_ID, demoVoters } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { eventually } from "./helpers/run.ts";
import {
  printed as printedFor,
  Proxy,
  reconciliation as reconciliationOf,
  northVoters,
  registerStations,
  storedElection,
  runNode,
  setupOf,
  storedRows,
  testStation,
  type TestStation,
  voteOnline,
} from "./helpers/station.ts";

const cutStation = await testStation("stc-cut-1", 610_000);
const otherStation = await testStation("stc-cut-2", 612_000);
const system = withRunningSystem({
  name: "station-offline",
  demo: true,
  beforePollsOpen: (admin) => registerStations(admin, [cutStation, otherStation]),
});

let election: CompiledElection;
const pool = await northVoters();
const voters = pool.all;
const takeVoters = pool.take;
const south = (await demoVoters(200)).find((v) => v.districtId === "district-south");

beforeAll(async () => {
  election = await storedElection(system.admin, DEMO_ELECTION_ID);
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
      const countedBefore = await ballotsCounted();
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
      // Everything is done but the three check-ins refused on the station (written, then refused).
      expect(await station.status()).toMatchObject({ online: true, pending: 0, failed: 3 });
      expect((await station.outbox()).map((i) => [i.kind, i.state, i.error?.code])).toEqual([
        ["scan", "done", undefined],
        ["scan", "done", undefined],
        ["scan", "done", undefined],
        ["check-in", "failed", "not_in_pollbook"],
        ["check-in", "failed", "may_not_issue_ballot"],
        ["check-in", "failed", "may_not_issue_ballot"],
        ["check-in", "done", undefined],
        ["check-in", "done", undefined],
        ["check-in", "done", undefined],
        ["scan", "done", undefined],
        ["check-in", "done", undefined],
      ]);
      // Nothing is sent twice: another pass finds nothing, the server counts each once.
      await station.syncNow();
      await eventually(async () => {
        const r = await reconciliation(cutStation.id);
        return r.system.checkIns === 4 && r.system.ballotsScanned === 4 ? r : undefined;
      });
      // The tally counts the four ballots, once each.
      await eventually(async () => ((await ballotsCounted()) === countedBefore + 4 ? true : undefined));
      for (const row of storedRows(dataDir)) expect(row.body).toBeNull();
    } finally {
      await station.close();
      await proxy.stop();
    }
  });
});

const Results = z.object({ turnout: z.object({ ballotsCounted: z.number() }) }).loose();
async function ballotsCounted(): Promise<number> {
  return Results.parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/results`)).turnout
    .ballotsCounted;
}

describe("a conflict", () => {
  it("holds the ballot of a voter who voted online and was checked in offline, until adjudicated", async () => {
    const [voter] = takeVoters(1);
    const before = await ballotsCounted();
    // The voter votes online first (the demo is first-wins).
    await voteOnline(system, voter!.nationalId);

    // Then, at a station that is offline, the pollbook lets them in: the station cannot know.
    const proxy = new Proxy(new URL(system.baseUrl));
    await proxy.start();
    const station = await Station.open(
      setupOf(cutStation, proxy.origin),
      await mkdtemp(join(system.stateDir, "stc-conflict-")),
    );
    try {
      expect(await station.refreshPollbook()).toMatchObject({ entries: voters.length });
      proxy.cut();
      const checkIn = await station.checkIn({ nationalId: voter!.nationalId, identity: { method: "id-card" } });
      expect(checkIn).toMatchObject({ outcome: "issue-ballot", decidedOffline: true });
      const envelope = checkIn.outcome === "issue-ballot" ? checkIn.envelope : undefined;
      const serial = cutStation.firstSerial + 20;
      expect(await station.scan({ qr: await printed(cutStation, serial), ...(envelope ? { envelope } : {}) })).toEqual({
        outcome: "queued",
        serial,
        held: false,
      });
      proxy.restore();
      await station.syncNow();
      expect(await station.status()).toMatchObject({ online: true, pending: 0, failed: 0 });
      const outbox = await station.outbox(2);
      expect(outbox.map((i) => [i.kind, i.state])).toEqual([
        ["scan", "done"],
        ["check-in", "done"],
      ]);
      // Both answers said "held": the official sees it, and the ballot is not counted.
      for (const item of outbox) expect(item.summary).toContain("held for adjudication");
    } finally {
      await station.close();
      await proxy.stop();
    }
    const conflicts = z
      .object({ conflicts: z.array(z.object({ stationId: z.string(), kind: z.string(), state: z.string() }).loose()) })
      .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts`));
    expect(conflicts.conflicts).toEqual([
      expect.objectContaining({ stationId: cutStation.id, kind: "voted-online", state: "held" }),
    ]);
    // The online ballot is counted; the held paper ballot is not.
    await eventually(async () => ((await ballotsCounted()) === before + 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await ballotsCounted()).toBe(before + 1);

    // The administrator decides it does not count: its marks are destroyed, the tally stays.
    const held = z
      .object({ conflicts: z.array(z.object({ conflictId: z.string() }).loose()) })
      .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts`)).conflicts[0];
    await system.admin.call("POST", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts/${held!.conflictId}/decision`, {
      json: { decision: "do-not-count", reason: "The voter voted online first; the station was offline." },
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await ballotsCounted()).toBe(before + 1);
  });
});

const Conflicts = z.object({
  conflicts: z.array(
    z.object({ conflictId: z.string(), stationId: z.string(), kind: z.string(), state: z.string() }).loose(),
  ),
});
const SecurityEvents = z.object({ events: z.array(z.object({ kind: z.string() }).loose()) }).loose();

describe("two offline stations checking in the same voter", () => {
  it("make one conflict, one held ballot and one security event; the administrator's decision counts it once", async () => {
    const [voter] = takeVoters(1);
    const before = await ballotsCounted();
    const conflictsBefore = Conflicts.parse(
      await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts`),
    ).conflicts.map((c) => c.conflictId);
    const eventsOf = async (): Promise<number> =>
      SecurityEvents.parse(
        await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/security-events?after=0`),
      ).events.filter((e) => e.kind === "offline-check-in-conflict").length;
    const eventsBefore = await eventsOf();

    // Both stations lose the network, each lets the voter in from its pollbook and scans a ballot.
    const opened: { station: Station; proxy: Proxy }[] = [];
    try {
      for (const [i, s] of [cutStation, otherStation].entries()) {
        const proxy = new Proxy(new URL(system.baseUrl));
        await proxy.start();
        const station = await Station.open(setupOf(s, proxy.origin), await mkdtemp(join(system.stateDir, "stc-two-")));
        opened.push({ station, proxy });
        expect(await station.refreshPollbook()).toMatchObject({ entries: voters.length });
        proxy.cut();
        const checkIn = await station.checkIn({ nationalId: voter!.nationalId, identity: { method: "id-card" } });
        expect(checkIn).toMatchObject({ outcome: "issue-ballot", decidedOffline: true });
        const envelope = checkIn.outcome === "issue-ballot" ? checkIn.envelope : undefined;
        expect(envelope).toBeDefined();
        const serial = s.firstSerial + 40 + i;
        expect(await station.scan({ qr: await printed(s, serial), envelope: envelope! })).toMatchObject({
          outcome: "queued",
        });
      }
      // Back online, both sync: the first to arrive counts, the second is held.
      for (const { station, proxy } of opened) {
        proxy.restore();
        await station.syncNow();
        expect(await station.status()).toMatchObject({ online: true, pending: 0, failed: 0 });
      }
    } finally {
      for (const { station, proxy } of opened) {
        await station.close();
        await proxy.stop();
      }
    }
    const fresh = Conflicts.parse(
      await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts`),
    ).conflicts.filter((c) => !conflictsBefore.includes(c.conflictId));
    expect(fresh).toEqual([expect.objectContaining({ stationId: otherStation.id, kind: "checked-in", state: "held" })]);
    expect(await eventsOf()).toBe(eventsBefore + 1);
    await eventually(async () => ((await ballotsCounted()) === before + 1 ? true : undefined));

    // The administrator decides through the CLI: the held ballot is counted, exactly once.
    const adjudicate = await runNode(
      [
        join(ROOT, "cli", "admin.ts"),
        "election",
        "adjudicate",
        DEMO_ELECTION_ID,
        fresh[0]!.conflictId,
        "--count",
        "--reason",
        "Two people: the national id was mistyped at the second station.",
      ],
      system.cliEnv,
    );
    expect(adjudicate.stderr).toBe("");
    expect(adjudicate.code).toBe(0);
    await eventually(async () => ((await ballotsCounted()) === before + 2 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await ballotsCounted()).toBe(before + 2);
  });
});
