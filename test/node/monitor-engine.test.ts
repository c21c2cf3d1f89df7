/**
 * The security monitor's rules (lib/monitor/engine.ts) over the in-memory store with a simulated
 * clock: each fires at its threshold and not one below, with its figures in the evidence; a
 * window forgets what fell out of it; rate-surge waits for its warm-up; a voter tag never appears.
 */
import { describe, expect, it } from "vitest";
import {
  evaluateTimer,
  heardBallots,
  MemoryStore,
  observe,
  type ElectionFacts,
  type Firing,
  type TimerFacts,
} from "../../lib/monitor/engine.ts";
import { MonitoringSettings } from "../../lib/monitor/rules.ts";
import { MonitorSignal, type MonitorSignalInput } from "../../lib/monitor/signals.ts";

const T0 = Date.parse("2026-05-01T08:00:00.000Z");
const MIN = 60_000;

function facts(monitoring: unknown = {}, registered: Record<string, number> = {}): ElectionFacts {
  const settings = MonitoringSettings.parse(monitoring);
  return { settings, registered: (d) => registered[d] };
}

function run(store: MemoryStore, f: ElectionFacts, signals: readonly MonitorSignalInput[], now: number): Firing[] {
  return observe(
    store,
    f,
    signals.map((s) => MonitorSignal.parse(s)),
    now,
  );
}

function ruleOf(firings: readonly Firing[], rule: string): Firing | undefined {
  return firings.find((f) => f.rule === rule);
}

const checkIn = (stationId: string, count: number, at = T0): MonitorSignalInput => ({
  kind: "check-in",
  at,
  districtId: "d-1",
  stationId,
  count,
});
const ballot = (count: number, at = T0, channel: "online" | "paper" = "online", stationId?: string) =>
  ({ kind: "ballot", at, districtId: "d-1", channel, count, ...(stationId ? { stationId } : {}) }) as const;
const event = (e: string, extra: Record<string, unknown> = {}, at = T0): MonitorSignalInput =>
  ({ kind: "security", at, event: e, count: 1, ...extra }) as MonitorSignalInput;

describe("station-rate", () => {
  it("fires above maxPerWindow within the window, not at it, and forgets what left the window", () => {
    const f = facts();
    const store = new MemoryStore();
    expect(ruleOf(run(store, f, [checkIn("S-12", 50)], T0), "station-rate")).toBeUndefined();
    const fired = ruleOf(run(store, f, [checkIn("S-12", 1, T0 + MIN)], T0 + MIN), "station-rate");
    expect(fired).toMatchObject({
      scope: "station:S-12",
      severity: "high",
      summary: "Station S-12 checked in or scanned 51 voters in 5 minutes; the threshold is 50.",
      evidence: { stationId: "S-12", count: 51, checkIns: 51, paperBallots: 0, threshold: 50, windowBuckets: 5 },
    });
    // Five minutes later the first 50 are out of the window.
    const later = new MemoryStore();
    run(later, f, [checkIn("S-12", 50)], T0);
    expect(ruleOf(run(later, f, [checkIn("S-12", 1, T0 + 5 * MIN)], T0 + 5 * MIN), "station-rate")).toBeUndefined();
  });

  it("counts paper ballots with check-ins", () => {
    const store = new MemoryStore();
    const fired = run(store, facts(), [checkIn("S-1", 30), ballot(21, T0, "paper", "S-1")], T0);
    expect(ruleOf(fired, "station-rate")?.evidence).toMatchObject({ count: 51, checkIns: 30, paperBallots: 21 });
  });
});

describe("district-rate", () => {
  it("fires above the share of registered voters and at least minBallots", () => {
    const f = facts({}, { "d-1": 300 });
    expect(ruleOf(run(new MemoryStore(), f, [ballot(30)], T0), "district-rate")).toBeUndefined();
    const fired = ruleOf(run(new MemoryStore(), f, [ballot(31)], T0), "district-rate");
    expect(fired).toMatchObject({ scope: "district:d-1", evidence: { count: 31, registered: 300, threshold: 30 } });
    // A small district: over the share but under minBallots (20).
    const small = facts({}, { "d-1": 50 });
    expect(ruleOf(run(new MemoryStore(), small, [ballot(19)], T0), "district-rate")).toBeUndefined();
    expect(ruleOf(run(new MemoryStore(), small, [ballot(20)], T0), "district-rate")).toBeDefined();
  });
});

describe("rate-surge", () => {
  const f = facts({ rules: { "station-rate": { enabled: false } } });

  it("does not fire during the warm-up, however sharp the opening burst", () => {
    const store = new MemoryStore();
    run(store, f, [checkIn("S-1", 1)], T0);
    const fired = run(store, f, [checkIn("S-1", 500, T0 + 29 * MIN)], T0 + 29 * MIN);
    expect(ruleOf(fired, "rate-surge")).toBeUndefined();
  });

  it("fires above factor times its own average after the warm-up, not at it", () => {
    const base = (): MemoryStore => {
      const store = new MemoryStore();
      // 2 a minute for 40 minutes: 10 per 5-minute window.
      for (let m = 0; m < 40; m++) run(store, f, [checkIn("S-1", 2, T0 + m * MIN)], T0 + m * MIN);
      return store;
    };
    const at = (m: number) => T0 + m * MIN;
    const level = base();
    for (let m = 40; m < 44; m++) run(level, f, [checkIn("S-1", 2, at(m))], at(m));
    // Window 40..44: 8 + 42 = 50 = 5 x 10: not above.
    expect(ruleOf(run(level, f, [checkIn("S-1", 42, at(44))], at(44)), "rate-surge")).toBeUndefined();
    const surge = base();
    for (let m = 40; m < 44; m++) run(surge, f, [checkIn("S-1", 2, at(m))], at(m));
    const fired = ruleOf(run(surge, f, [checkIn("S-1", 43, at(44))], at(44)), "rate-surge");
    expect(fired).toMatchObject({ scope: "station:S-1", evidence: { count: 51, average: 10, factor: 5 } });
  });
});

describe("turnout-over-100", () => {
  it("fires when net ballots exceed registered voters, on arrival and from the aggregator", () => {
    const f = facts({}, { "d-1": 3 });
    const store = new MemoryStore();
    expect(ruleOf(run(store, f, [ballot(3)], T0), "turnout-over-100")).toBeUndefined();
    const withRetraction = run(store, f, [{ kind: "retraction", at: T0, districtId: "d-1", count: 1 }, ballot(1)], T0);
    expect(ruleOf(withRetraction, "turnout-over-100")).toBeUndefined();
    expect(ruleOf(run(store, f, [ballot(1)], T0), "turnout-over-100")?.evidence).toMatchObject({
      ballots: 4,
      registered: 3,
      source: "monitor",
    });
    const timer = evaluateTimer(
      new MemoryStore(),
      f,
      { aggregator: { behind: 0, laggingSeconds: 0, districts: [{ districtId: "d-1", ballots: 4 }] } },
      T0,
    );
    expect(ruleOf(timer, "turnout-over-100")?.evidence).toMatchObject({ source: "aggregator", ballots: 4 });
  });
});

describe("repeated-attempts", () => {
  const tag = "0123456789abcdef0123456789abcdef";
  const attempt = (extra: Record<string, unknown> = {}) =>
    event("voter-login-failed", {
      voterTag: tag,
      districtId: "d-1",
      network: "203.0.113.0/24",
      address: "203.0.113.9",
      reason: "eid_refused",
      ...extra,
    });

  it("fires per voter at perVoter under a number, never the tag", () => {
    const store = new MemoryStore();
    const f = facts();
    const four = run(
      store,
      f,
      [1, 2, 3, 4].map(() => attempt()),
      T0,
    );
    expect(ruleOf(four, "repeated-attempts")).toBeUndefined();
    const fired = run(store, f, [attempt({ reason: "rate_limited" })], T0);
    const voter = fired.find((x) => x.scope.startsWith("voter:"));
    expect(voter).toMatchObject({
      scope: "voter:1",
      evidence: {
        count: 5,
        threshold: 5,
        districts: ["d-1"],
        networks: ["203.0.113.0/24"],
        reasons: { eid_refused: 4, rate_limited: 1 },
      },
    });
    expect(JSON.stringify(fired)).not.toContain(tag);
  });

  it("fires per address and per network at their thresholds", () => {
    const f = facts({ rules: { "repeated-attempts": { perAddress: 3, perNetwork: 4, perVoter: 100 } } });
    const store = new MemoryStore();
    const two = run(store, f, [attempt(), attempt()], T0);
    expect(two).toEqual([]);
    const three = run(store, f, [attempt()], T0);
    expect(three.map((x) => x.scope)).toEqual(["address:203.0.113.9"]);
    const four = run(store, f, [attempt({ address: "203.0.113.10" })], T0);
    // Only the scopes this signal touched are evaluated: the new address is under its threshold.
    expect(four.map((x) => x.scope)).toEqual(["network:203.0.113.0/24"]);
  });
});

describe("station events", () => {
  it("flagged-country fires per country at minCount, and for countries the settings flag", () => {
    const f = facts({ flaggedCountries: ["ZZ"], rules: { "flagged-country": { minCount: 2 } } });
    const store = new MemoryStore();
    expect(run(store, f, [event("geofence-flagged-login", { country: "XX" })], T0)).toEqual([]);
    const fired = run(store, f, [event("flagged-country-ballot", { country: "XX" })], T0);
    expect(ruleOf(fired, "flagged-country")).toMatchObject({ scope: "country:XX", evidence: { count: 2 } });
    run(store, f, [event("voter-login-failed", { country: "ZZ" })], T0);
    expect(ruleOf(run(store, f, [event("cast-refused", { country: "ZZ" })], T0), "flagged-country")?.scope).toBe(
      "country:ZZ",
    );
    expect(
      run(store, f, [event("voter-login-failed", { country: "YY" }), event("cast-refused", { country: "YY" })], T0),
    ).toEqual([]);
  });

  it.each([
    ["qr-replay", "paper-serial-reused", { "qr-replay": { minCount: 2 } }],
    ["qr-replay", "paper-foreign-serial", { "qr-replay": { minCount: 2 } }],
    ["ballots-without-check-ins", "scans-exceed-check-ins", { "ballots-without-check-ins": { minCount: 2 } }],
    ["check-in-conflicts", "check-in-conflict", { "check-in-conflicts": { minCount: 2 } }],
    ["offline-conflicts", "offline-check-in-conflict", { "offline-conflicts": { minCount: 2 } }],
  ])("%s fires on %s at minCount, not one below", (rule, name, rules) => {
    const f = facts({ rules });
    const store = new MemoryStore();
    expect(ruleOf(run(store, f, [event(name, { stationId: "S-3" })], T0), rule)).toBeUndefined();
    const fired = ruleOf(run(store, f, [event(name, { stationId: "S-3" })], T0), rule);
    expect(fired).toMatchObject({ scope: "station:S-3", evidence: { stationId: "S-3", count: 2, threshold: 2 } });
  });

  it("result-sheet-mismatch fires on the first mismatch or conflict", () => {
    const fired = run(new MemoryStore(), facts(), [event("result-sheet-conflict", { stationId: "S-4" })], T0);
    expect(ruleOf(fired, "result-sheet-mismatch")).toMatchObject({
      scope: "station:S-4",
      evidence: { mismatches: 0, conflicts: 1 },
    });
  });

  it("online-ballots-cancelled needs minCount and the share of the window's check-ins", () => {
    const f = facts({ rules: { "online-ballots-cancelled": { minCount: 2, maxShare: 0.5 } } });
    const store = new MemoryStore();
    run(store, f, [checkIn("S-5", 6)], T0);
    const cancel = () => event("check-in-cancelled-online-ballot", { stationId: "S-5" });
    expect(ruleOf(run(store, f, [cancel(), cancel()], T0), "online-ballots-cancelled")).toBeUndefined();
    const fired = ruleOf(run(store, f, [cancel()], T0), "online-ballots-cancelled");
    expect(fired?.evidence).toMatchObject({ count: 3, checkIns: 6 });
  });
});

describe("check-ins-without-ballots", () => {
  it("counts only check-ins past the grace, less paper, held and spoiled ballots", () => {
    const f = facts({ rules: { "station-rate": { enabled: false } } });
    const store = new MemoryStore();
    run(store, f, [checkIn("S-6", 100)], T0);
    // Within the grace: nothing.
    expect(evaluateTimer(store, f, {}, T0 + 9 * MIN)).toEqual([]);
    run(
      store,
      f,
      [
        ballot(85, T0, "paper", "S-6"),
        { kind: "held", at: T0, stationId: "S-6", count: 2 },
        { kind: "spoiled", at: T0, stationId: "S-6", count: 3 },
      ],
      T0,
    );
    // Gap 10 = max(minGap 10, 10% of 100): not above.
    expect(evaluateTimer(store, f, {}, T0 + 10 * MIN)).toEqual([]);
    run(store, f, [checkIn("S-6", 1)], T0);
    const fired = ruleOf(evaluateTimer(store, f, {}, T0 + 10 * MIN), "check-ins-without-ballots");
    expect(fired?.evidence).toMatchObject({ gap: 11, checkInsPastGrace: 101, paperBallots: 85, held: 2, spoiled: 3 });
  });
});

describe("timer rules", () => {
  const f = facts();
  const log = (over: Partial<NonNullable<TimerFacts["log"]>>): TimerFacts => ({
    log: { size: 10, publishedSize: 8, pooled: 0, halted: null, unchangedSeconds: 0, ...over },
  });

  it("log-stalled: a backlog unpublished for stallSeconds, or a halted log", () => {
    expect(evaluateTimer(new MemoryStore(), f, log({ unchangedSeconds: 29 }), T0)).toEqual([]);
    expect(evaluateTimer(new MemoryStore(), f, log({ size: 8, unchangedSeconds: 300 }), T0)).toEqual([]);
    expect(
      ruleOf(evaluateTimer(new MemoryStore(), f, log({ unchangedSeconds: 30 }), T0), "log-stalled")?.evidence,
    ).toMatchObject({
      backlog: 2,
      unchangedSeconds: 30,
    });
    expect(
      ruleOf(evaluateTimer(new MemoryStore(), f, log({ halted: "tile write failed" }), T0), "log-stalled")?.summary,
    ).toBe("The audit log halted: tile write failed.");
  });

  it("dead-letters at minCount; aggregator-lagging after lagSeconds", () => {
    expect(evaluateTimer(new MemoryStore(), f, { deadLetters: 0 }, T0)).toEqual([]);
    expect(ruleOf(evaluateTimer(new MemoryStore(), f, { deadLetters: 1 }, T0), "dead-letters")).toBeDefined();
    const agg = (laggingSeconds: number): TimerFacts => ({ aggregator: { behind: 4, laggingSeconds, districts: [] } });
    expect(evaluateTimer(new MemoryStore(), f, agg(14), T0)).toEqual([]);
    expect(ruleOf(evaluateTimer(new MemoryStore(), f, agg(15), T0), "aggregator-lagging")?.evidence).toMatchObject({
      behind: 4,
    });
  });

  it("heardBallots is the net of ballots and retractions", () => {
    const store = new MemoryStore();
    run(store, f, [ballot(5), { kind: "retraction", at: T0, districtId: "d-1", count: 2 }], T0);
    expect(heardBallots(store)).toBe(3);
  });
});

describe("a rule switched off", () => {
  it("never fires", () => {
    const f = facts({ rules: { "station-rate": { enabled: false } } });
    expect(ruleOf(run(new MemoryStore(), f, [checkIn("S-1", 1000)], T0), "station-rate")).toBeUndefined();
  });
});

describe("the in-memory store", () => {
  it("forgets buckets and voter numbers past the pruned bucket, keeps totals, never reuses a number", () => {
    const store = new MemoryStore();
    expect(store.voterNumber("aa".repeat(16), 10)).toBe(1);
    expect(store.voterNumber("bb".repeat(16), 20)).toBe(2);
    store.add("attempt", "voter:1", 10, 3);
    store.add("attempt", "voter:1", 20, 4);
    store.addTotal("check-in", "station:S", 7);
    store.prune(15);
    expect(store.count("attempt", "voter:1", 0, 100)).toBe(4);
    expect(store.total("check-in", "station:S")).toBe(7);
    expect(store.voterNumber("bb".repeat(16), 21)).toBe(2);
    expect(store.voterNumber("aa".repeat(16), 21)).toBe(3);
  });
});

describe("a simulated election day", () => {
  it("twelve hours of ordinary traffic raise nothing; one station's burst raises its own rules only", () => {
    const districts = ["d-1", "d-2", "d-3", "d-4"];
    const f = facts({}, Object.fromEntries(districts.map((d) => [d, 50_000])));
    const store = new MemoryStore();
    const raised = new Map<string, Firing>();
    const retained = 66;
    for (let minute = 0; minute < 12 * 60; minute++) {
      const now = T0 + minute * MIN + 59_000;
      const signals: MonitorSignalInput[] = [];
      for (let s = 0; s < 40; s++) {
        const stationId = `S-${s}`;
        const districtId = districts[s % 4] ?? "d-1";
        const at = T0 + minute * MIN + s * 1000;
        const burst = stationId === "S-7" && minute === 360 ? 60 : 0;
        signals.push({ kind: "check-in", at, districtId, stationId, count: 1 + burst });
        signals.push({ kind: "ballot", at: at + 500, districtId, channel: "paper", stationId, count: 1 });
        signals.push({ kind: "ballot", at: at + 700, districtId, channel: "online", count: 1 });
      }
      for (const firing of run(store, f, signals, now)) raised.set(`${firing.rule} ${firing.scope}`, firing);
      for (const firing of evaluateTimer(store, f, {}, now)) raised.set(`${firing.rule} ${firing.scope}`, firing);
      store.prune(Math.floor(now / MIN) - retained);
    }
    expect([...raised.keys()].sort()).toEqual([
      "check-ins-without-ballots station:S-7",
      "rate-surge station:S-7",
      "station-rate station:S-7",
    ]);
    expect(raised.get("station-rate station:S-7")?.evidence).toMatchObject({
      count: 70,
      checkIns: 65,
      paperBallots: 5,
    });
    expect(heardBallots(store)).toBe(12 * 60 * 40 * 2);
  });
});
