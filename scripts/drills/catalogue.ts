/**
 * The attack drills (`npm run drill -- NAME`, docs/MONITORING.md): one per monitor rule, each
 * playing its attack or fault against the running system through the same routes an attacker, a
 * rogue station or a failing part would use, in an election of its own (setup.ts). Each says when
 * its alert is due: when the attack ends, or, for a rule that waits on purpose (a grace, a stall
 * of N seconds), when that wait is over. The runner then measures how long the alert took.
 *
 * Thresholds are the election's defaults unless a drill names its own: rules whose windows are
 * minutes long (a surge over a baseline, check-ins waiting for their ballots) run with
 * one-second buckets, and the timer rules with a few seconds, so a drill takes seconds, not an
 * hour. Nothing else is relaxed.
 */
import { StationCallError } from "../../lib/station-client/client.ts";
import { newEnvelopeCode, PollbookPage, pollbookEntryId } from "../../lib/station/pollbook.ts";
import { NationalId } from "../../lib/identity/national-id.ts";
import type { Alert } from "../../lib/monitor/alerts.ts";
import type { RuleId } from "../../lib/monitor/rules.ts";
import { base64urlDecode } from "../../lib/bytes.ts";
import { z } from "zod";
import {
  cast,
  drillElection,
  forgedIdToken,
  forgedLogin,
  vote,
  voterAuth,
  type DrillContext,
  type DrillElection,
  type DrillStation,
  type DrillVoter,
} from "./setup.ts";

export interface DrillRun {
  readonly election: DrillElection;
  /** When the alert is due (epoch ms): the attack's end, plus any wait the rule has on purpose. */
  readonly dueAtMs: number;
  /** Undoes a fault the drill left in place (a stalled log); run after the alert arrived. */
  readonly cleanUp?: () => Promise<void>;
}

export interface Drill {
  readonly rule: RuleId;
  /** What the drill plays, for the operator. */
  readonly title: string;
  run(ctx: DrillContext): Promise<DrillRun>;
  /** What the alert must say; a problem, or undefined. */
  check(alert: Alert, run: DrillRun): string | undefined;
}

const ID_CARD = { method: "id-card" } as const;
const DeadLetters = z.object({ deadLetters: z.array(z.unknown()) });

function station(e: DrillElection, k = 0): DrillStation {
  const s = e.stations[k];
  if (!s) throw new Error(`the drill election has no station ${k + 1}`);
  return s;
}

async function checkIn(e: DrillElection, s: DrillStation, voter: DrillVoter): Promise<void> {
  await s.client.checkIn({ electionId: e.id, nationalId: voter.nationalId, identity: ID_CARD });
}

/** Checks in and scans `voters` at the station, one after the other; the serials used. */
async function paperVotes(
  e: DrillElection,
  s: DrillStation,
  voters: readonly DrillVoter[],
  from: number,
): Promise<number> {
  let serial = from;
  for (const voter of voters) {
    await checkIn(e, s, voter);
    await s.client.scan({ electionId: e.id, qr: await s.print(voter.district, serial) });
    serial += 1;
  }
  return serial;
}

/** Runs `f`, expecting the station call to be refused with `code`. */
async function refused(code: string, f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (error) {
    if (error instanceof StationCallError && error.code === code) return;
    throw error;
  }
  throw new Error(`expected the station call to be refused with ${code}`);
}

function expectScope(alert: Alert, scope: string): string | undefined {
  return alert.scope === scope ? undefined : `the alert's scope is ${alert.scope}, not ${scope}`;
}

/**
 * What the evidence must show: each named figure at least the number given (the attack's size),
 * or equal to the text given.
 */
function expectEvidence(alert: Alert, figures: Readonly<Record<string, number | string>>): string | undefined {
  for (const [name, want] of Object.entries(figures)) {
    const got = alert.evidence[name];
    const ok = typeof want === "number" ? typeof got === "number" && got >= want : got === want;
    if (!ok)
      return `the evidence's ${name} is ${JSON.stringify(got)}, not ${typeof want === "number" ? "at least " : ""}${want}`;
  }
  return undefined;
}

/** The first problem of several checks. */
function first(...problems: readonly (string | undefined)[]): string | undefined {
  return problems.find((p) => p !== undefined);
}

function drillFault(ctx: DrillContext, e: DrillElection, fault: string, body: unknown = {}): Promise<unknown> {
  return ctx.admin.call("POST", `/v1/admin/elections/${e.id}/drills/${fault}`, { json: body });
}

const CATALOGUE = {
  "ballot-stuffing": {
    rule: "station-rate",
    title: "A station checks in and scans 55 voters within a minute (its ceiling is 50 in five minutes).",
    async run(ctx) {
      // 600 north voters: 55 ballots stay under a tenth of the district (no district-rate).
      const e = await drillElection(ctx, { name: "stuffing", voters: { north: 600 }, stations: [["north"]] });
      const s = station(e);
      await paperVotes(e, s, e.take("north", 55), s.firstSerial);
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(
        expectScope(alert, `station:${station(run.election).id}`),
        expectEvidence(alert, { count: 51, threshold: 50 }),
      ),
  },
  "online-flood": {
    rule: "district-rate",
    title: "25 of a district's 100 voters vote online within a minute (the ceiling is a tenth in ten minutes).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "flood", voters: { south: 100 } });
      await Promise.all(e.take("south", 25).map((v) => vote(ctx, e.id, v.nationalId)));
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(
        expectScope(alert, `district:${run.election.districtIds.south}`),
        expectEvidence(alert, { count: 20, registered: 100 }),
      ),
  },
  surge: {
    rule: "rate-surge",
    title:
      "A district votes at a steady trickle, then 16 ballots arrive at once: five times its own baseline (one-second buckets).",
    async run(ctx) {
      const e = await drillElection(ctx, {
        name: "surge",
        voters: { east: 300 },
        monitoring: {
          bucketSeconds: 1,
          rules: {
            "rate-surge": { windowBuckets: 3, baselineBuckets: 20, warmupBuckets: 10, factor: 5, minCount: 10 },
          },
        },
      });
      const voters = e.take("east", 28);
      for (const v of voters.slice(0, 12)) {
        await vote(ctx, e.id, v.nationalId);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await Promise.all(voters.slice(12).map((v) => vote(ctx, e.id, v.nationalId)));
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `district:${run.election.districtIds.east}`), expectEvidence(alert, { count: 10 })),
  },
  "district-misattribution": {
    rule: "turnout-over-100",
    title:
      "A station serving two districts checks in north voters and scans their ballots as the other district's, which has 2 voters.",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "turnout", voters: { south: 2 }, stations: [["north", "south"]] });
      const s = station(e);
      let serial = s.firstSerial;
      for (const voter of e.take("north", 4)) {
        await checkIn(e, s, voter);
        await s.client.scan({ electionId: e.id, qr: await s.print("south", serial), districtId: e.districtIds.south });
        serial += 1;
      }
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(
        expectScope(alert, `district:${run.election.districtIds.south}`),
        expectEvidence(alert, { ballots: 3, registered: 2 }),
      ),
  },
  "network-burst": {
    rule: "repeated-attempts",
    title: "40 logins with forged ID tokens from one address within seconds (the ceiling is 30 in ten minutes).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "burst" });
      const forged = await forgedIdToken(ctx, e.take("north", 1)[0]?.nationalId ?? "");
      for (let i = 0; i < 40; i += 1) await forgedLogin(ctx, e.id, forged);
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert) =>
      first(
        alert.scope.startsWith("address:") ? undefined : `the scope ${alert.scope} is not an address`,
        expectEvidence(alert, { count: 30 }),
      ),
  },
  "repeat-voter": {
    rule: "repeated-attempts",
    title: "A voter who has voted keeps casting: five refused casts (first-wins allows one ballot).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "repeat" });
      const voter = e.take("north", 1)[0];
      if (!voter) throw new Error("no voter");
      const authorization = await voterAuth(ctx, e.id, voter.nationalId);
      const first = await cast(ctx, e.id, authorization);
      if (first.status !== 201) throw new Error(`the first cast failed: ${first.status}`);
      for (let i = 0; i < 5; i += 1) await (await cast(ctx, e.id, authorization)).body?.cancel();
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert) =>
      first(
        alert.scope.startsWith("voter:") ? undefined : `the scope ${alert.scope} is not one voter`,
        expectEvidence(alert, { count: 5 }),
      ),
  },
  "foreign-login": {
    rule: "flagged-country",
    title: "A voter logs in from outside the election's countries (a geofence that flags).",
    async run(ctx) {
      // Local runs all come from the local runtime's placeholder country (US), outside ["EE"].
      const e = await drillElection(ctx, { name: "country", geofence: { allowedCountries: ["EE"], outside: "flag" } });
      await vote(ctx, e.id, e.take("north", 1)[0]?.nationalId ?? "");
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert) =>
      first(
        alert.scope.startsWith("country:") ? undefined : `the scope ${alert.scope} is not a country`,
        expectEvidence(alert, { count: 1 }),
      ),
  },
  "replayed-qr": {
    rule: "qr-replay",
    title: "A station scans a ballot, then the same QR code again (a photocopied ballot).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "replay", stations: [["north"]] });
      const s = station(e);
      const [a, b] = e.take("north", 2);
      if (!a || !b) throw new Error("no voters");
      await checkIn(e, s, a);
      await checkIn(e, s, b);
      const qr = await s.print("north", s.firstSerial);
      await s.client.scan({ electionId: e.id, qr });
      await refused("serial_already_used", () => s.client.scan({ electionId: e.id, qr }));
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election).id}`), expectEvidence(alert, { reused: 1 })),
  },
  "missing-ballots": {
    rule: "check-ins-without-ballots",
    title:
      "A station checks in 8 voters and no ballot ever comes back (ballots taken away; grace: 3 one-second buckets).",
    async run(ctx) {
      const grace = 3;
      const e = await drillElection(ctx, {
        name: "missing",
        stations: [["north"]],
        monitoring: {
          bucketSeconds: 1,
          rules: { "check-ins-without-ballots": { graceBuckets: grace, minGap: 5, maxShare: 0.1 } },
        },
      });
      const s = station(e);
      for (const voter of e.take("north", 8)) await checkIn(e, s, voter);
      // The check-ins must be older than the grace, counted in whole buckets.
      return { election: e, dueAtMs: Date.now() + (grace + 1) * 1000 };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election).id}`), expectEvidence(alert, { gap: 6 })),
  },
  "unrecorded-ballot": {
    rule: "ballots-without-check-ins",
    title: "A station scans a ballot for which it checked in no voter (refused: more ballots than check-ins).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "unrecorded", stations: [["north"]] });
      const s = station(e);
      const qr = await s.print("north", s.firstSerial);
      await refused("scans_exceed_check_ins", () => s.client.scan({ electionId: e.id, qr }));
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election).id}`), expectEvidence(alert, { count: 1 })),
  },
  "sheet-mismatch": {
    rule: "result-sheet-mismatch",
    title:
      "A station checks in and scans 3 voters, and its result sheet after the close claims 5 (polls close after 12 s).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "sheet", stations: [["north"]], closesAfterMs: 12_000 });
      const s = station(e);
      await paperVotes(e, s, e.take("north", 3), s.firstSerial);
      await new Promise((r) => setTimeout(r, Math.max(0, e.closesAtMs - Date.now() + 500)));
      await s.client.submitResultSheet({ electionId: e.id, qr: await s.sheet(5, 5) });
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election).id}`), expectEvidence(alert, { mismatches: 1 })),
  },
  "cancelling-station": {
    rule: "online-ballots-cancelled",
    title:
      "Under paper-supersedes, a station checks in 6 voters who had all voted online: each check-in cancels an online ballot.",
    async run(ctx) {
      const e = await drillElection(ctx, {
        name: "cancel",
        crossChannelPolicy: "paper-supersedes",
        stations: [["north"]],
      });
      const s = station(e);
      const voters = e.take("north", 6);
      for (const v of voters) await vote(ctx, e.id, v.nationalId);
      for (const v of voters) await checkIn(e, s, v);
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(
        expectScope(alert, `station:${station(run.election).id}`),
        // Check-ins reach the monitor through the queues, on their own time after the cancellations:
        // when the alert is raised it may know none of them yet, so the evidence is checked for the
        // cancellations the rule counts, not for the check-ins beside them.
        expectEvidence(alert, { count: 5 }),
      ),
  },
  "double-check-in": {
    rule: "check-in-conflicts",
    title: "Three voters checked in at one station are checked in again at another.",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "double", stations: [["north"], ["north"]] });
      const voters = e.take("north", 3);
      for (const v of voters) await checkIn(e, station(e, 0), v);
      for (const v of voters) {
        await refused("may_not_issue_ballot", () => checkIn(e, station(e, 1), v));
      }
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election, 1).id}`), expectEvidence(alert, { count: 3 })),
  },
  "offline-conflict": {
    rule: "offline-conflicts",
    title:
      "A voter votes online; an offline station checks the same voter in from its pollbook and syncs (first-wins: a conflict).",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "offline", stations: [["north"]] });
      const s = station(e);
      const voter = e.take("north", 1)[0];
      if (!voter) throw new Error("no voter");
      await vote(ctx, e.id, voter.nationalId);
      const jws = await s.client.pollbookPage(e.id);
      const payload = base64urlDecode(jws.split(".")[1] ?? "");
      if (!payload) throw new Error("the pollbook page is not a JWS");
      const page = PollbookPage.parse(JSON.parse(new TextDecoder().decode(payload)));
      const key = page.keys[e.districtIds.north];
      if (!key) throw new Error("the pollbook has no key for the north district");
      const id = await pollbookEntryId(key, NationalId.parse(voter.nationalId));
      const entry = page.entries.find((x) => x.id === id);
      if (!entry) throw new Error("the voter is not in the pollbook");
      const answer = await s.client.checkIn({
        electionId: e.id,
        voterRef: entry.ref,
        offline: { decidedAt: new Date(), envelope: newEnvelopeCode() },
        identity: ID_CARD,
      });
      if (answer.outcome !== "held") throw new Error(`the offline check-in was not held: ${answer.outcome}`);
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert, run) =>
      first(expectScope(alert, `station:${station(run.election).id}`), expectEvidence(alert, { count: 1 })),
  },
  "stalled-log": {
    rule: "log-stalled",
    title: "The audit log stops publishing checkpoints while ballots keep coming (stall threshold: 3 s).",
    async run(ctx) {
      const stall = 3;
      const e = await drillElection(ctx, {
        name: "stall",
        monitoring: { rules: { "log-stalled": { stallSeconds: stall } } },
      });
      await drillFault(ctx, e, "log-stall");
      await vote(ctx, e.id, e.take("north", 1)[0]?.nationalId ?? "");
      return {
        election: e,
        // The ballot reaches the log's pool within a queue batch; the stall counts from then.
        dueAtMs: Date.now() + stall * 1000 + 1000,
        cleanUp: async () => void (await drillFault(ctx, e, "log-resume")),
      };
    },
    check: (alert) => first(expectScope(alert, "election"), expectEvidence(alert, { backlog: 1, threshold: 3 })),
  },
  "dead-letter": {
    rule: "dead-letters",
    title: "A broken producer puts a malformed message on a ballot queue; it ends in the dead-letter queue.",
    async run(ctx) {
      const e = await drillElection(ctx, { name: "dead" });
      await drillFault(ctx, e, "dead-letter");
      // The dead-letter queue waits up to five seconds to fill a batch; the alert is due once the
      // letter is recorded, which is what the operator would see too.
      const started = Date.now();
      for (;;) {
        const { deadLetters } = DeadLetters.parse(
          await ctx.admin.call("GET", `/v1/admin/dead-letters?electionId=${e.id}`),
        );
        if (deadLetters.length > 0) break;
        if (Date.now() - started > 30_000) throw new Error("the dead letter was not recorded within 30 s");
        await new Promise((r) => setTimeout(r, 200));
      }
      return { election: e, dueAtMs: Date.now() };
    },
    check: (alert) => first(expectScope(alert, "election"), expectEvidence(alert, { deadLetters: 1 })),
  },
  "lagging-results": {
    rule: "aggregator-lagging",
    title: "The results aggregator stops taking the tally's reports while ballots are counted (lag threshold: 3 s).",
    async run(ctx) {
      const lag = 3;
      const e = await drillElection(ctx, {
        name: "lag",
        monitoring: { rules: { "aggregator-lagging": { lagSeconds: lag } } },
      });
      // Let the aggregator learn the election first: an aggregator that never heard of it is not lagging.
      await vote(ctx, e.id, e.take("north", 1)[0]?.nationalId ?? "");
      await new Promise((r) => setTimeout(r, 2000));
      await drillFault(ctx, e, "aggregator-pause", { seconds: 30 });
      await Promise.all(e.take("north", 3).map((v) => vote(ctx, e.id, v.nationalId)));
      return { election: e, dueAtMs: Date.now() + lag * 1000 + 1000 };
    },
    check: (alert) => first(expectScope(alert, "election"), expectEvidence(alert, { behind: 1, threshold: 3 })),
  },
} satisfies Record<string, Drill>;

export type DrillName = keyof typeof CATALOGUE;
export const DRILLS: Readonly<Record<DrillName, Drill>> = CATALOGUE;
