/**
 * What the public log shows a coercer, on the real runtime (H1, M4 and M5 of the security
 * review): a retraction names no tracking code and cannot be matched to one until the retraction
 * key is published after the close; retractions and the ballots that replace them are shuffled
 * within their sequencing step; per-contest records hold no combination across contests; a late
 * district with fewer than k records is held back and the round says so.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { retractionBlind, retractionBlindingKey, type LogEntry } from "../../lib/audit/entries.ts";
import { LogAuditor } from "../../lib/audit/recount.ts";
import type { BallotAccepted, BallotRetracted } from "../../lib/ballot/messages.ts";
import { ballotMessage, readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { adminToken, BASE, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import type { DrainEvidence } from "../../durable-objects/log-sequencer.ts";
import type { Outbox } from "../../durable-objects/outbox.ts";
import { drainEvidence } from "../../workers/audit/log.ts";

async function audit(entries: readonly LogEntry[]): Promise<string[]> {
  const auditor = new LogAuditor();
  for (const [i, e] of entries.entries()) await auditor.add(i, e);
  return [...auditor.finish().problems];
}

async function settled(electionId: string, done: (log: LogEntry[]) => boolean): Promise<LogEntry[]> {
  return waitFor(async () => {
    await sequencer(electionId).sequenceNow();
    const log = await readPublishedLog(electionId).catch(() => undefined);
    return log && done(log.decoded) ? log.decoded : undefined;
  }, 30_000);
}

const count = (log: readonly LogEntry[], type: LogEntry["type"]): number => log.filter((e) => e.type === type).length;

describe("a coercer watching the log (H1, paper-supersedes)", () => {
  const ELECTION = "privacy-close-soon";
  const CLOSES_IN_MS = 10_000;
  let closesAt = 0;
  let first: { trackingCode: string; commitment: string };
  let second: { trackingCode: string; commitment: string };

  beforeAll(async () => {
    closesAt = await loadClosingSoonDemo(ELECTION, CLOSES_IN_MS, {
      crossChannelPolicy: "paper-supersedes",
      resultsVisibility: "after-close",
    });
    await enrol(ELECTION, "EE-PRIVACY-0001", "district-north");
    const session = await voterSession(ELECTION, "EE-PRIVACY-0001");
    // The coerced ballot A (the coercer keeps its receipt), then the voter's own B.
    const a = await cast(ELECTION, session, NORTH_BALLOT);
    expect(a.status).toBe(201);
    first = await a.json();
    const b = await cast(ELECTION, session, [
      { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
      ...NORTH_BALLOT.slice(1),
    ]);
    expect(b.status).toBe(201);
    second = await b.json();
  }, 30_000);

  it("during voting no retraction names the receipt's tracking code or can be matched to it", async () => {
    const log = await settled(ELECTION, (l) => count(l, "ballot") === 2 && count(l, "retraction") === 1);
    expect(Date.now()).toBeLessThan(closesAt);
    const retraction = log.find((e) => e.type === "retraction");
    if (retraction?.type !== "retraction") throw new Error("no retraction");
    // Nothing in it is the tracking code, the commitment, or a time.
    const text = JSON.stringify(retraction);
    for (const linking of [first.trackingCode, first.commitment, second.trackingCode, second.commitment])
      expect(text).not.toContain(linking);
    expect(Object.keys(retraction).sort()).toEqual(["blindedCode", "districtId", "reason", "type"]);
    // Without the key the blinded code is no function of the tracking code a coercer can compute:
    // an unkeyed hash or a guessed key gives something else.
    const guessed = await retractionBlind(await retractionBlindingKey("00".repeat(32)), first.trackingCode);
    expect(retraction.blindedCode).not.toBe(guessed);
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(first.trackingCode))),
      (x) => x.toString(16).padStart(2, "0"),
    ).join("");
    expect(retraction.blindedCode).not.toBe(sha);
    // And no retraction key is public yet; the auditor finds nothing wrong with that.
    expect(count(log, "retraction-key")).toBe(0);
    expect(await audit(log)).toEqual([]);
  });

  it("after the close the key is published once and the auditor matches every retraction to its ballot", async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 200)));
    const log = await settled(ELECTION, (l) => count(l, "retraction-key") === 1);
    const keyEntry = log.find((e) => e.type === "retraction-key");
    const retraction = log.find((e) => e.type === "retraction");
    if (keyEntry?.type !== "retraction-key" || retraction?.type !== "retraction") throw new Error("missing entries");
    // The published key opens the retraction: it is A's.
    expect(retraction.blindedCode).toBe(
      await retractionBlind(await retractionBlindingKey(keyEntry.key), first.trackingCode),
    );
    expect(log.findIndex((e) => e.type === "retraction-key")).toBe(log.findIndex((e) => e.type === "polls-closed") + 1);
    expect(await audit(log)).toEqual([]);
    // A forged log whose retraction names a ballot that is not there is caught once the key is out.
    const forged = log.map((e) => (e.type === "retraction" ? { ...e, blindedCode: "ab".repeat(32) } : e));
    expect((await audit(forged)).join("\n")).toContain("names no earlier ballot entry");
  }, 40_000);
});

// ---------------------------------------------------------------------------------------------
// The sequencer directly: many messages in one step.

let elections = 0;
function freshElection(): string {
  elections += 1;
  return `privacy-${elections}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A ballot of `districtId` as a ledger queues it, its style named after the district. */
function message(
  electionId: string,
  n: number,
  districtId: string,
  contests: BallotAccepted["contests"],
): Promise<BallotAccepted> {
  return ballotMessage(electionId, n, districtId, contests, `style-${districtId}`);
}

function retractionOf(ballot: BallotAccepted): BallotRetracted {
  return {
    kind: "retraction",
    ballotId: ballot.ballotId,
    electionId: ballot.electionId,
    districtId: ballot.districtId,
    trackingCode: ballot.trackingCode,
    reason: "superseded-by-online",
    retractedAt: "2026-03-01T10:16:00.000Z",
  };
}

async function defineElection(
  electionId: string,
  closesAt: number,
  castVoteRecords: "per-contest" | "whole-ballot",
  minBallotsPerRelease = 25,
): Promise<void> {
  const result = await sequencer(electionId).append(electionId, [
    {
      key: "definition-loaded/1",
      entry: {
        type: "definition-loaded",
        at: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
        version: 1,
        definitionSha256: "00".repeat(32),
        opensAt: new Date(Math.floor((Date.now() - 60_000) / 1000) * 1000).toISOString(),
        closesAt: new Date(closesAt).toISOString(),
        crossChannelPolicy: "paper-supersedes",
        resultsVisibility: "after-close",
        castVoteRecords,
        minBallotsPerRelease,
      },
    },
  ]);
  expect(result.ok).toBe(true);
}

describe("retractions and their replacement ballots in one step (H1)", () => {
  it("are shuffled: the step's order is not the order they arrived in, and a retraction is not followed by its replacement", async () => {
    const orders: string[] = [];
    for (let run = 0; run < 3; run++) {
      const electionId = freshElection();
      const north = [{ contestId: "c1", optionIds: ["o-1"] }];
      const coerced = await Promise.all(Array.from({ length: 20 }, (_, i) => message(electionId, i, "north", north)));
      await sequencer(electionId).recordBallots(electionId, coerced);
      await settled(electionId, (l) => l.length === 20);
      // Each voter re-votes: the ledger queues the old ballot's retraction and the new ballot together.
      const replacements = await Promise.all(
        Array.from({ length: 20 }, (_, i) => message(electionId, 100 + i, "north", north)),
      );
      const arrived = coerced.flatMap((old, i) => [retractionOf(old), replacements[i] as BallotAccepted]);
      expect((await sequencer(electionId).recordBallots(electionId, arrived)).ok).toBe(true);
      const log = await settled(electionId, (l) => l.length === 60);
      const step = log.slice(20);
      // What arrival order would have logged: retraction, its replacement, retraction, ...
      const key = await retractionBlindingKey(await retractionKeyOf(electionId));
      const label = new Map<string, string>();
      for (const [i, old] of coerced.entries()) label.set(await retractionBlind(key, old.trackingCode), `r${i}`);
      for (const [i, b] of replacements.entries()) label.set(b.commitment, `b${i}`);
      const labels = step.map((e) =>
        e.type === "retraction" ? label.get(e.blindedCode) : e.type === "ballot" ? label.get(e.commitment) : e.type,
      );
      expect(new Set(labels).size).toBe(40);
      expect(labels).not.toEqual(arrived.map((_, j) => (j % 2 === 0 ? `r${j / 2}` : `b${(j - 1) / 2}`)));
      // How often the entry right after r_i is b_i: 20 times in arrival order, about once by chance.
      const adjacent = labels.filter((l, j) => l?.startsWith("r") && labels[j + 1] === `b${l.slice(1)}`).length;
      expect(adjacent).toBeLessThan(8);
      orders.push(labels.join(","));
    }
    // Three runs, three different orders.
    expect(new Set(orders).size).toBe(3);
  }, 60_000);
});

describe("a ballot and its own retraction in one step", () => {
  it("stay in order (the retraction after its ballot) while the step is shuffled", async () => {
    const electionId = freshElection();
    const one = [{ contestId: "c1", optionIds: ["o-1"] }];
    const ballots = await Promise.all(Array.from({ length: 30 }, (_, i) => message(electionId, i, "north", one)));
    // The retractions come first (queues keep no order) and wait; then each pools right after its ballot.
    expect((await sequencer(electionId).recordBallots(electionId, ballots.map(retractionOf))).ok).toBe(true);
    expect((await sequencer(electionId).recordBallots(electionId, ballots)).ok).toBe(true);
    const log = await settled(electionId, (l) => l.length === 60);
    const key = await retractionBlindingKey(await retractionKeyOf(electionId));
    const position = new Map(
      log.map((e, i) => [e.type === "ballot" ? e.commitment : e.type === "retraction" ? e.blindedCode : "", i]),
    );
    for (const b of ballots) {
      const retraction = position.get(await retractionBlind(key, b.trackingCode));
      expect(retraction).toBeGreaterThan(position.get(b.commitment) ?? Infinity);
    }
    // Shuffled all the same: not ballot, retraction, ballot, retraction, ...
    expect(log.map((e) => e.type)).not.toEqual(ballots.flatMap(() => ["ballot", "retraction"]));
  });
});

/** The sequencer's retraction key, as it will publish it (read from its storage for this test). */
async function retractionKeyOf(electionId: string): Promise<string> {
  return runInDurableObject(sequencer(electionId), async (_instance, state) => {
    const row = state.storage.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'retraction_blinding_key'`)
      .one();
    return row.value;
  });
}

describe("per-contest records (M5)", () => {
  /** 30 ballots whose two contests both name the ballot's own number: each combination is unique. */
  async function publishRare(mode: "per-contest" | "whole-ballot"): Promise<LogEntry[]> {
    const electionId = freshElection();
    const closesAt = Date.now() + 2_000;
    await defineElection(electionId, closesAt, mode);
    const ballots = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        message(electionId, i, "east", [
          { contestId: "c-president", optionIds: [`p-${String(i).padStart(2, "0")}`] },
          { contestId: "c-council", optionIds: [`q-${String(i).padStart(2, "0")}`] },
        ]),
      ),
    );
    await sequencer(electionId).recordBallots(electionId, ballots);
    await settled(electionId, (l) => count(l, "ballot") === 30);
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 100)));
    const published = await sequencer(electionId).publishCastVoteRecords(electionId, new Date(closesAt).toISOString(), {
      kind: "counted",
      ballots: 30,
      retractions: 0,
      pending: 0,
    });
    expect(published).toEqual({ ok: true, value: { round: 1, records: 30 } });
    const log = await settled(electionId, (l) => count(l, "cast-vote-records-published") === 1);
    expect(await audit(log)).toEqual([]);
    return log;
  }

  it("no record holds a ballot's combination across contests, and each contest comes in its own order", async () => {
    const whole = await publishRare("whole-ballot");
    // Whole ballots: the coercer finds his pattern (p-07 with q-07) as exactly one record.
    const withPattern = (log: LogEntry[]): number =>
      log.filter(
        (e) =>
          e.type === "cast-vote-record" &&
          e.contests.some((c) => c.marks.some((m) => m.optionId === "p-07")) &&
          e.contests.some((c) => c.marks.some((m) => m.optionId === "q-07")),
      ).length;
    expect(withPattern(whole)).toBe(1);

    const log = await publishRare("per-contest");
    expect(withPattern(log)).toBe(0);
    const records = log.filter((e) => e.type === "contest-vote-record");
    expect(records).toHaveLength(60);
    expect(count(log, "cast-vote-record")).toBe(0);
    // The k-th president record and the k-th council record are not the same ballot's throughout.
    const president = records.filter((e) => e.contestId === "c-president").map((e) => e.marks[0]?.optionId.slice(2));
    const council = records.filter((e) => e.contestId === "c-council").map((e) => e.marks[0]?.optionId.slice(2));
    expect(new Set(president).size).toBe(30);
    expect(president).not.toEqual(council);
    // Nor does a council record follow its own ballot's president record more than by chance.
    const flat = records.map((e) => e.marks[0]?.optionId ?? "");
    const paired = flat.filter((o, j) => o.startsWith("p-") && flat[j + 1] === `q-${o.slice(2)}`).length;
    expect(paired).toBeLessThan(6);
  }, 60_000);
});

describe("late rounds (M4)", () => {
  it("hold a district with fewer than k new records, and say how many are withheld", async () => {
    const electionId = freshElection();
    const closesAt = Date.now() + 2_000;
    await defineElection(electionId, closesAt, "whole-ballot", 3);
    const one = [{ contestId: "c1", optionIds: ["o-1"] }];
    const early = await Promise.all(Array.from({ length: 4 }, (_, i) => message(electionId, i, "north", one)));
    await sequencer(electionId).recordBallots(electionId, early);
    await settled(electionId, (l) => count(l, "ballot") === 4);
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 100)));
    expect(
      await sequencer(electionId).publishCastVoteRecords(electionId, new Date(closesAt).toISOString(), {
        kind: "counted",
        ballots: 4,
        retractions: 0,
        pending: 0,
      }),
    ).toEqual({ ok: true, value: { round: 1, records: 4 } });
    await settled(electionId, (l) => count(l, "cast-vote-records-published") === 1);
    // Late arrivals (stuck in an outbox past round 1): two in north (< k = 3), three in east.
    const late = [
      ...(await Promise.all([10, 11].map((i) => message(electionId, i, "north", one)))),
      ...(await Promise.all([20, 21, 22].map((i) => message(electionId, i, "east", one)))),
    ];
    await sequencer(electionId).recordBallots(electionId, late);
    expect(
      await sequencer(electionId).publishCastVoteRecords(electionId, new Date(closesAt).toISOString(), {
        kind: "counted",
        ballots: 9,
        retractions: 0,
        pending: 0,
      }),
    ).toEqual({ ok: true, value: { round: 2, records: 3 } });
    const log = await settled(electionId, (l) => count(l, "cast-vote-records-published") === 2);
    const rounds = log.filter((e) => e.type === "cast-vote-records-published");
    expect(rounds[1]).toEqual(
      expect.objectContaining({
        round: 2,
        districts: [
          { districtId: "east", records: 3, withheld: 0 },
          { districtId: "north", records: 0, withheld: 2 },
        ],
      }),
    );
    // The auditor accounts for the withheld records: no problem.
    expect(await audit(log)).toEqual([]);
    expect((await sequencer(electionId).status()).castVoteRecords.pending).toBe(2);
  }, 60_000);
});

describe("the automatic round (M4)", () => {
  it("waits a grace after the last ballot that arrived, not only after the close", async () => {
    const electionId = freshElection();
    const closesAt = Date.now() + 1_000;
    await defineElection(electionId, closesAt, "whole-ballot", 1);
    const one = [{ contestId: "c1", optionIds: ["o-1"] }];
    await sequencer(electionId).recordBallots(electionId, [await message(electionId, 1, "north", one)]);
    // A ballot accepted before the close reaches the log three seconds after it (an outbox retry).
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 3_000 - Date.now())));
    await sequencer(electionId).recordBallots(electionId, [await message(electionId, 2, "north", one)]);
    // The close's grace (4 s in tests) has passed, the last ballot's has not: nothing published.
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 5_000 - Date.now())));
    expect((await sequencer(electionId).status()).castVoteRecords.pending).toBe(2);
    const log = await settled(electionId, (l) => count(l, "cast-vote-records-published") === 1);
    expect(log.find((e) => e.type === "cast-vote-records-published")).toEqual(
      expect.objectContaining({ round: 1, districts: [{ districtId: "north", records: 2, withheld: 0 }] }),
    );
  }, 40_000);
});

describe("publishing records before the channels drained (M4)", () => {
  async function publish(electionId: string): Promise<{ status: number; body: unknown }> {
    const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/log/cast-vote-records`, {
      method: "POST",
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    return { status: res.status, body: await res.json() };
  }
  const notDrained = expect.objectContaining({ error: expect.objectContaining({ code: "records_not_drained" }) });

  it("a ballot cast just before the close: publishing at the close is refused, and the round after the grace holds it", async () => {
    const electionId = "privacy-last-second";
    const closesAt = await loadClosingSoonDemo(electionId, 5_000, {
      crossChannelPolicy: "first-wins",
      resultsVisibility: "after-close",
    });
    await enrol(electionId, "EE-PRIVACY-0101", "district-north");
    const session = await voterSession(electionId, "EE-PRIVACY-0101");
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - 1_000 - Date.now())));
    expect((await cast(electionId, session, NORTH_BALLOT)).status).toBe(201);
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 100 - Date.now())));
    // One ledger per voter (the test configuration): at the close nothing shows the ballot arrived.
    expect(await publish(electionId)).toEqual({ status: 409, body: notDrained });
    // After the grace the log publishes by itself, one round with that ballot's records in it.
    const log = await settled(electionId, (l) => count(l, "cast-vote-records-published") === 1);
    const round = log.find((e) => e.type === "cast-vote-records-published");
    expect(round).toEqual(
      expect.objectContaining({ round: 1, districts: [{ districtId: "district-north", records: 3, withheld: 0 }] }),
    );
    expect(await audit(log)).toEqual([]);
    // Once drained, a request is answered (and starts no empty second round).
    expect(await publish(electionId)).toEqual({ status: 200, body: { round: 1, records: 0 } });
  }, 40_000);

  it("a dead letter of the election holds publication back", async () => {
    const electionId = "privacy-dead-letter";
    const closesAt = await loadClosingSoonDemo(electionId, 1_000);
    await env.DB.prepare(
      `INSERT INTO dead_letters (letter_id, election_id, kind, queue, attempts, body_jwe, parses, deliveries, first_seen, last_seen)
       VALUES (?, ?, 'ballot', 'ballots-dlq', 10, NULL, 1, 1, ?, ?)`,
    )
      .bind("cd".repeat(32), electionId, new Date().toISOString(), new Date().toISOString())
      .run();
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 4_500 - Date.now())));
    expect(await publish(electionId)).toEqual({ status: 409, body: notDrained });
    await env.DB.prepare(`DELETE FROM dead_letters WHERE letter_id = ?`).bind("cd".repeat(32)).run();
    expect(await publish(electionId)).toEqual({ status: 200, body: { round: 1, records: 0 } });
  }, 30_000);

  it("with ledger buckets, an unsent outbox message or one the log has not received holds it back", async () => {
    const electionId = "privacy-buckets";
    const closesAt = await loadClosingSoonDemo(electionId, 1_000);
    const bucketed = { ...env, LEDGER_BUCKETS: "2" };
    const ledger = env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(`${electionId}/bucket/1`));
    const ballot = await message(electionId, 1, "district-north", [
      { contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] },
    ]);
    // A decision the ledger made: its message is in the outbox, not yet sent.
    await runInDurableObject(ledger, (instance) => {
      const { ballotId: _recordId, ...queued } = ballot;
      (instance as unknown as { outbox: Outbox }).outbox.enqueue({ ...queued, ballotStyleId: "style-north" });
    });
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt + 100 - Date.now())));
    const unsent = await drainEvidence(bucketed, electionId);
    expect(unsent).toEqual({ kind: "counted", ballots: 1, retractions: 0, pending: 1 });
    const publishWith = (evidence: DrainEvidence) =>
      sequencer(electionId).publishCastVoteRecords(electionId, new Date(closesAt).toISOString(), evidence);
    expect(await publishWith(unsent)).toEqual({ ok: false, error: "records_not_drained" });
    // Sent but not yet logged: the outbox is empty, the log has not received the ballot.
    expect(await publishWith({ kind: "counted", ballots: 1, retractions: 0, pending: 0 })).toEqual({
      ok: false,
      error: "records_not_drained",
    });
    await runInDurableObject(ledger, (instance) => (instance as unknown as { outbox: Outbox }).outbox.flush());
    const drained = await waitFor(async () => {
      const evidence = await drainEvidence(bucketed, electionId);
      const result = await publishWith(evidence);
      return result.ok ? { evidence, result } : undefined;
    }, 20_000);
    expect(drained.evidence).toEqual({ kind: "counted", ballots: 1, retractions: 0, pending: 0 });
    expect(drained.result).toEqual({ ok: true, value: { round: 1, records: 1 } });
  }, 40_000);
});
