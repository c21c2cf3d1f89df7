import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
  SELF,
  type QueueResult,
} from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { recordIdOf, type BallotAccepted, type BallotRetracted, type ContestMarks } from "../../lib/ballot/messages.ts";
import type { DistrictTotals, ElectionTotals } from "../../lib/tally/totals.ts";
import worker from "../../workers/index.ts";
import { parseShardName, TALLY_SHARDS, tallyShardIndex, tallyShardName } from "../../lib/tally/shards.ts";
import { handleBallotBatch } from "../../workers/tally/consumer.ts";
import { adminToken, BASE, officialToken } from "./helpers/auth.ts";
import { waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

// ---------------------------------------------------------------------------------------------
// Messages as the voter ledgers send them (lib/ballot/messages.ts), for the demo's ballot styles.

type District = "district-north" | "district-south" | "district-east";

const STYLE_CONTESTS: Record<District, string[]> = {
  "district-north": ["contest-president", "contest-parliament-north", "contest-referendum-voting-age"],
  "district-south": ["contest-president", "contest-parliament-south", "contest-referendum-voting-age"],
  "district-east": ["contest-president", "contest-parliament-east", "contest-council-east"],
};

const STYLE_OF: Record<District, string> = {
  "district-north": "style-north",
  "district-south": "style-south",
  "district-east": "style-east",
};

/**
 * A ballot as the consumer hands it on: the message a ledger queues (no record id) plus the record
 * id the consumer derives from its tracking code, so the test can find it in shards and D1. On
 * shard `onShard` of its district when given (the tracking code is drawn until it lands there).
 */
async function ballot(
  electionId: string,
  districtId: District,
  marks: Partial<Record<string, string[] | { optionIds: string[]; writeIns: Record<string, string> }>> = {},
  onShard?: number,
): Promise<BallotAccepted> {
  let trackingCode: string;
  let ballotId: string;
  do {
    trackingCode = `TC-${crypto.randomUUID()}`;
    ballotId = await recordIdOf(env.BALLOT_LINK_KEY, electionId, trackingCode);
  } while (onShard !== undefined && tallyShardIndex(ballotId) !== onShard);
  const contests: ContestMarks[] = STYLE_CONTESTS[districtId].map((contestId) => {
    const m = marks[contestId];
    if (m === undefined) return { contestId, optionIds: [] };
    if (Array.isArray(m)) return { contestId, optionIds: m };
    return { contestId, optionIds: m.optionIds, writeIns: m.writeIns };
  });
  return {
    kind: "ballot",
    ballotId,
    electionId,
    ballotStyleId: STYLE_OF[districtId],
    districtId,
    channel: "online",
    contests,
    trackingCode,
    commitment: `c-${crypto.randomUUID()}`,
    acceptedAt: "2026-05-01T10:17:00.000Z",
  };
}

function retraction(b: BallotAccepted, reason: BallotRetracted["reason"] = "superseded-by-online"): BallotRetracted {
  return {
    kind: "retraction",
    ballotId: b.ballotId,
    electionId: b.electionId,
    districtId: b.districtId,
    trackingCode: b.trackingCode,
    reason,
    retractedAt: "2026-05-01T10:21:00.000Z",
  };
}

interface Delivery {
  readonly ids: string[];
  readonly result: QueueResult;
  /** The delay each retried message asked for (the test batch's QueueResult does not keep it). */
  readonly delays: Record<string, number | undefined>;
}

/** Runs one batch through `handler` (by default the Worker's queue handler), as the platform would. */
async function deliver(
  bodies: readonly unknown[],
  attempts = 1,
  handler: (batch: MessageBatch<unknown>, ctx: ExecutionContext) => Promise<void> = (b, ctx) =>
    worker.queue(b, env, ctx),
): Promise<Delivery> {
  const messages = bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts, body }));
  const batch = createMessageBatch("ballots-0", messages);
  const delays: Record<string, number | undefined> = {};
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    vi.spyOn(message, "retry").mockImplementation((options) => {
      delays[message.id] = options?.delaySeconds;
      retry(options);
    });
  }
  const ctx = createExecutionContext();
  await handler(batch, ctx);
  return { ids: messages.map((m) => m.id), result: await getQueueResult(batch, ctx), delays };
}

function expectAllAcked({ ids, result }: Delivery): void {
  expect(result.retryBatch.retry).toBe(false);
  expect(result.retryMessages).toEqual([]);
  expect([...result.explicitAcks].sort()).toEqual([...ids].sort());
}

// ---------------------------------------------------------------------------------------------
// Reading the tally: the shards directly (consistent at once) and the aggregator (within ~1 s).

function shard(name: string) {
  return env.TALLY_SHARD.get(env.TALLY_SHARD.idFromName(name));
}

function aggregator(electionId: string) {
  return env.RESULTS.get(env.RESULTS.idFromName(electionId));
}

/** The sum over every shard of the election's districts, read from the shards themselves. */
async function shardSums(electionId: string): Promise<{
  ballots: number;
  votes: Map<string, number>;
  writeIns: Map<string, number>;
  blanks: Map<string, number>;
  versions: number[];
}> {
  const votes = new Map<string, number>();
  const writeIns = new Map<string, number>();
  const blanks = new Map<string, number>();
  const versions: number[] = [];
  let ballots = 0;
  for (const district of Object.keys(STYLE_CONTESTS)) {
    for (let k = 0; k < TALLY_SHARDS; k++) {
      const snapshot = await shard(`${electionId}/${district}/${k}`).snapshot();
      versions.push(snapshot?.version ?? 0);
      if (!snapshot) continue;
      ballots += snapshot.totals.ballots;
      for (const c of snapshot.totals.contests) {
        for (const o of c.options) votes.set(o.optionId, (votes.get(o.optionId) ?? 0) + o.votes);
        writeIns.set(c.contestId, (writeIns.get(c.contestId) ?? 0) + c.writeIns);
        blanks.set(c.contestId, (blanks.get(c.contestId) ?? 0) + c.blanks);
      }
    }
  }
  return { ballots, votes, writeIns, blanks, versions };
}

/** What the tally must hold: every ballot's marks, minus the retracted ones. */
function expectedSums(
  ballots: readonly BallotAccepted[],
  retracted: ReadonlySet<string>,
): { ballots: number; votes: Map<string, number>; writeIns: Map<string, number>; blanks: Map<string, number> } {
  const votes = new Map<string, number>();
  const writeIns = new Map<string, number>();
  const blanks = new Map<string, number>();
  let count = 0;
  for (const b of ballots) {
    if (retracted.has(b.ballotId)) continue;
    count += 1;
    for (const c of b.contests) {
      if (c.optionIds.length === 0) blanks.set(c.contestId, (blanks.get(c.contestId) ?? 0) + 1);
      for (const id of c.optionIds) {
        if (c.writeIns && id in c.writeIns) writeIns.set(c.contestId, (writeIns.get(c.contestId) ?? 0) + 1);
        else votes.set(id, (votes.get(id) ?? 0) + 1);
      }
    }
  }
  return { ballots: count, votes, writeIns, blanks };
}

function nonZero(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m].filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function expectTally(
  electionId: string,
  ballots: readonly BallotAccepted[],
  retracted: ReadonlySet<string> = new Set(),
): Promise<void> {
  const actual = await shardSums(electionId);
  const expected = expectedSums(ballots, retracted);
  expect(actual.ballots).toBe(expected.ballots);
  expect(nonZero(actual.votes)).toEqual(nonZero(expected.votes));
  expect(nonZero(actual.writeIns)).toEqual(nonZero(expected.writeIns));
  expect(nonZero(actual.blanks)).toEqual(nonZero(expected.blanks));
}

async function aggregatedBallots(electionId: string, ballots: number): Promise<ElectionTotals> {
  return waitFor(async () => {
    const r = await aggregator(electionId).results();
    return r.ballots === ballots ? r : undefined;
  });
}

// ---------------------------------------------------------------------------------------------

describe("shard routing", () => {
  it("puts a ballot and its retraction on one shard of the ballot's district, and spreads ballots over all shards", async () => {
    const b = await ballot("route-e", "district-north");
    const r = retraction(b);
    expect(tallyShardName(r.electionId, r.districtId, r.ballotId)).toBe(
      tallyShardName(b.electionId, b.districtId, b.ballotId),
    );
    const name = tallyShardName("route-e", "district-north", b.ballotId);
    expect(parseShardName(name)).toEqual({
      electionId: "route-e",
      districtId: "district-north",
      index: tallyShardIndex(b.ballotId),
    });
    const used = new Set(Array.from({ length: 200 }, () => tallyShardIndex(crypto.randomUUID())));
    expect(used.size).toBe(TALLY_SHARDS);
    expect(parseShardName("no-slashes")).toBeUndefined();
    expect(parseShardName(`e/d/${TALLY_SHARDS}`)).toBeUndefined();
  });
});

describe("the ballot queue consumer", () => {
  it("counts a batch: options, write-ins and blank contests, per shard, and reports them to the aggregator within a second", async () => {
    const e = "tally-count";
    const ballots = [
      await ballot(e, "district-north", {
        "contest-president": ["sel-president-aino-tamm"],
        "contest-parliament-north": ["sel-parliament-north-mari-saar"],
        "contest-referendum-voting-age": ["sel-referendum-voting-age-yes"],
      }),
      await ballot(e, "district-north", {
        "contest-president": ["sel-president-aino-tamm"],
        "contest-referendum-voting-age": ["sel-referendum-voting-age-no"],
      }),
      await ballot(e, "district-south"),
      await ballot(e, "district-east", {
        "contest-president": {
          optionIds: ["sel-president-write-in"],
          writeIns: { "sel-president-write-in": "Jaan Tatikas" },
        },
        "contest-council-east": [
          "sel-council-east-anna-laur",
          "sel-council-east-eva-sild",
          "sel-council-east-jaan-koiv",
        ],
      }),
    ];
    const started = Date.now();
    expectAllAcked(await deliver(ballots));
    await expectTally(e, ballots);

    const results = await aggregatedBallots(e, 4);
    expect(Date.now() - started).toBeLessThan(1_000);
    const president = results.contests.find((c) => c.contestId === "contest-president");
    expect(president).toEqual({
      contestId: "contest-president",
      options: [{ optionId: "sel-president-aino-tamm", votes: 2 }],
      writeIns: 1,
      blanks: 1,
    });
    expect(results.districts.map((d) => [d.districtId, d.ballots])).toEqual([
      ["district-east", 1],
      ["district-north", 2],
      ["district-south", 1],
    ]);
    const council = results.districts
      .find((d) => d.districtId === "district-east")
      ?.contests.find((c) => c.contestId === "contest-council-east");
    expect(council?.options.map((o) => o.votes)).toEqual([1, 1, 1]);
  });

  it("does not count a re-delivered batch twice, nor a ballot repeated inside one batch", async () => {
    const e = "tally-redeliver";
    const ballots = [
      await ballot(e, "district-north", { "contest-president": ["sel-president-liis-kask"] }),
      await ballot(e, "district-south", { "contest-president": ["sel-president-liis-kask"] }),
    ];
    expectAllAcked(await deliver([...ballots, ballots[0]]));
    const before = await shardSums(e);
    expectAllAcked(await deliver(ballots, 2));
    expectAllAcked(await deliver([...ballots].reverse(), 3));
    await expectTally(e, ballots);
    // Nothing changed, so no shard's version moved and nothing new was reported.
    expect((await shardSums(e)).versions).toEqual(before.versions);
    expect((await aggregatedBallots(e, 2)).contests.find((c) => c.contestId === "contest-president")?.options).toEqual([
      { optionId: "sel-president-liis-kask", votes: 2 },
    ]);
  });

  it("acknowledges an unparseable message without counting it, and counts the rest of its batch", async () => {
    const e = "tally-bad-message";
    const good = [
      await ballot(e, "district-north", { "contest-president": ["sel-president-juhan-mets"] }),
      await ballot(e, "district-east"),
    ];
    const { trackingCode: _dropped, ...noTrackingCode } = await ballot(e, "district-north");
    const bad: unknown[] = [
      "not a message",
      null,
      { kind: "vote", ballotId: crypto.randomUUID() },
      noTrackingCode,
      { ...(await ballot(e, "district-north")), trackingCode: "" },
      { ...(await ballot(e, "district-north")), contests: [] },
      { ...retraction(good[0]!), reason: "changed-my-mind" },
    ];
    const delivery = await deliver([bad[0], good[0], ...bad.slice(1), good[1]]);
    expectAllAcked(delivery);
    await expectTally(e, good);
  });

  it("subtracts a retracted ballot exactly once, whatever the order and however often each message comes", async () => {
    const e = "tally-retract";
    const kept = await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] });
    const superseded = await ballot(e, "district-north", {
      "contest-president": ["sel-president-juhan-mets"],
      "contest-parliament-north": ["sel-parliament-north-kadri-lepp"],
    });
    const cancelled = await ballot(e, "district-east", { "contest-council-east": ["sel-council-east-karl-tuul"] });
    const early = await ballot(e, "district-south", { "contest-president": ["sel-president-liis-kask"] });
    const together = await ballot(e, "district-south", { "contest-president": ["sel-president-liis-kask"] });
    const all = [kept, superseded, cancelled, early, together];

    expectAllAcked(await deliver([kept, superseded, cancelled]));
    await expectTally(e, all.slice(0, 3));
    // Retractions: two for counted ballots, one before its ballot, one beside its ballot.
    expectAllAcked(
      await deliver([retraction(superseded), retraction(cancelled, "cancelled-by-paper"), retraction(early)]),
    );
    expectAllAcked(await deliver([together, retraction(together)]));
    const gone = new Set([superseded.ballotId, cancelled.ballotId, early.ballotId, together.ballotId]);
    await expectTally(e, [kept, superseded, cancelled], gone);
    // The ballot that was retracted first comes now; everything comes again; nothing changes.
    expectAllAcked(await deliver([early]));
    expectAllAcked(
      await deliver(
        [retraction(superseded), retraction(cancelled, "cancelled-by-paper"), retraction(early), retraction(together)],
        2,
      ),
    );
    expectAllAcked(await deliver(all, 2));
    await expectTally(e, all, gone);
    const results = await aggregatedBallots(e, 1);
    // Subtracted options stay listed at zero.
    expect(
      results.contests.find((c) => c.contestId === "contest-president")?.options.filter((o) => o.votes > 0),
    ).toEqual([{ optionId: "sel-president-aino-tamm", votes: 1 }]);
  });

  it("retries the messages of a failing shard with a delay, acknowledges the others, and a later re-delivery counts each ballot once", async () => {
    const e = "tally-shard-fault";
    const onBroken = await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] }, 0);
    const alsoOnBroken = await ballot(e, "district-north", {}, 0);
    const onHealthy = await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] }, 1);
    const elsewhere = await ballot(e, "district-east", { "contest-president": ["sel-president-liis-kask"] });
    const broken = shard(`${e}/district-north/0`);
    // A real storage fault inside the real shard: its ballot table disappears from under it.
    await runInDurableObject(broken, (_instance, state) => {
      state.storage.sql.exec(`ALTER TABLE applied RENAME TO applied_unavailable`);
    });

    const first = await deliver([onBroken, onHealthy, alsoOnBroken, elsewhere]);
    const [brokenId, healthyId, alsoBrokenId, elsewhereId] = first.ids;
    expect([...first.result.explicitAcks].sort()).toEqual([healthyId, elsewhereId].sort());
    expect(first.result.retryMessages).toEqual([{ msgId: brokenId }, { msgId: alsoBrokenId }]);
    expect(first.delays).toEqual({ [brokenId!]: 1, [alsoBrokenId!]: 1 });
    await expectTally(e, [onHealthy, elsewhere]);
    expect(await broken.snapshot()).toBeUndefined();

    await runInDurableObject(broken, (_instance, state) => {
      state.storage.sql.exec(`ALTER TABLE applied_unavailable RENAME TO applied`);
    });
    // The platform re-delivers only the retried messages; a careless producer might resend all.
    const second = await deliver([onBroken, alsoOnBroken], 2);
    expectAllAcked(second);
    expectAllAcked(await deliver([onBroken, onHealthy, alsoOnBroken, elsewhere], 3));
    await expectTally(e, [onBroken, onHealthy, alsoOnBroken, elsewhere]);
    await aggregatedBallots(e, 4);
  });

  it("retries the whole batch when D1 refuses its records, and counts each ballot once when it comes back", async () => {
    const e = "tally-d1-fault";
    const ballots = [
      await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] }),
      await ballot(e, "district-south"),
    ];
    // D1 refusing the batch (an outage, a limit), at the binding, for this call only.
    const refusing = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") return () => Promise.reject(new Error("D1_ERROR: simulated outage"));
        const value: unknown = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const refused = await deliver(ballots, 4, (batch) => handleBallotBatch(batch, { ...env, DB: refusing }));
    expect(refused.result.explicitAcks).toEqual([]);
    expect(refused.result.retryMessages).toEqual(refused.ids.map((msgId) => ({ msgId })));
    expect(Object.values(refused.delays)).toEqual([8, 8]);
    const cvrs = await env.DB.prepare(`SELECT count(*) AS n FROM cast_vote_records WHERE election_id = ?`)
      .bind(e)
      .first<{ n: number }>();
    expect(cvrs?.n).toBe(0);

    expectAllAcked(await deliver(ballots, 5));
    await expectTally(e, ballots);
    const after = await env.DB.prepare(`SELECT count(*) AS n FROM cast_vote_records WHERE election_id = ?`)
      .bind(e)
      .first<{ n: number }>();
    expect(after?.n).toBe(2);
  });

  it("is the consumer of the real ballot queues", async () => {
    const e = "tally-real-queue";
    const ballots = [
      await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] }),
      await ballot(e, "district-east"),
    ];
    await env.BALLOTS_2.sendBatch(ballots.map((body) => ({ body })));
    await aggregatedBallots(e, 2);
    await expectTally(e, ballots);
  });
});

describe("cast vote records and receipts in D1", () => {
  it("keep no voter key and no tracking code, mark retracted ballots, and resolve tracking codes to their status", async () => {
    const e = "tally-records";
    const counted = await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] });
    const superseded = await ballot(e, "district-north", { "contest-president": ["sel-president-liis-kask"] });
    const cancelled = await ballot(e, "district-east", {
      "contest-president": {
        optionIds: ["sel-president-write-in"],
        writeIns: { "sel-president-write-in": "Mari Maasikas" },
      },
    });
    const early = await ballot(e, "district-south");
    expectAllAcked(await deliver([counted, superseded, cancelled, retraction(early, "cancelled-by-paper")]));
    expectAllAcked(await deliver([retraction(superseded), retraction(cancelled, "cancelled-by-paper"), early]));
    expectAllAcked(
      await deliver(
        [counted, superseded, cancelled, early, retraction(superseded), retraction(early, "cancelled-by-paper")],
        2,
      ),
    );

    const columns = await env.DB.prepare(`SELECT name FROM pragma_table_info('cast_vote_records')`).all<{
      name: string;
    }>();
    expect(columns.results.map((c) => c.name).sort()).toEqual(
      [
        "ballot_style_id",
        "channel",
        "cvr_id",
        "district_id",
        "election_id",
        "marks_json",
        "recorded_at",
        "retracted",
        "station_id",
      ].sort(),
    );
    const rows = await env.DB.prepare(`SELECT * FROM cast_vote_records WHERE election_id = ? ORDER BY cvr_id`)
      .bind(e)
      .all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(4);
    const text = JSON.stringify(rows.results);
    for (const b of [counted, superseded, cancelled, early]) {
      expect(text).not.toContain(b.trackingCode);
      expect(text).not.toContain(b.commitment);
    }
    const retractedOf = Object.fromEntries(rows.results.map((r) => [String(r["cvr_id"]), r["retracted"]]));
    expect(retractedOf).toEqual({
      [counted.ballotId]: 0,
      [superseded.ballotId]: 1,
      [cancelled.ballotId]: 1,
      [early.ballotId]: 1,
    });
    const cvr = rows.results.find((r) => r["cvr_id"] === cancelled.ballotId);
    expect(cvr).toMatchObject({
      ballot_style_id: "style-east",
      district_id: "district-east",
      channel: "online",
      station_id: null,
      recorded_at: "2026-05-01T00:00:00.000Z",
    });
    expect(JSON.parse(String(cvr?.["marks_json"]))).toEqual(cancelled.contests);

    const receipts = await env.DB.prepare(
      `SELECT tracking_code, commitment, status FROM receipts WHERE election_id = ?`,
    )
      .bind(e)
      .all<{ tracking_code: string; commitment: string; status: string }>();
    const byCode = Object.fromEntries(receipts.results.map((r) => [r.tracking_code, [r.status, r.commitment]]));
    expect(byCode).toEqual({
      [counted.trackingCode]: ["recorded", counted.commitment],
      [superseded.trackingCode]: ["superseded", superseded.commitment],
      [cancelled.trackingCode]: ["cancelled", cancelled.commitment],
      [early.trackingCode]: ["cancelled", early.commitment],
    });
  });
});

/** An RPC call's failure as text ("resolved" if it did not fail), awaited in one place. */
async function failureOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return String(error);
  }
  return "resolved";
}

describe("the results aggregator", () => {
  const totals = (ballots: number, votes: number): DistrictTotals => ({
    districtId: "district-north",
    ballots,
    contests: [
      {
        contestId: "contest-president",
        options: [{ optionId: "sel-president-aino-tamm", votes }],
        writeIns: 0,
        blanks: ballots - votes,
      },
    ],
  });

  it("keeps the newest version per shard and ignores older or repeated reports, in any order", async () => {
    const e = "tally-stale";
    const agg = aggregator(e);
    expect(await agg.report(`${e}/district-north/0`, 3, totals(30, 20))).toBe(true);
    expect(await agg.report(`${e}/district-north/0`, 2, totals(99, 99))).toBe(false);
    expect(await agg.report(`${e}/district-north/0`, 3, totals(98, 98))).toBe(false);
    expect(await agg.report(`${e}/district-north/1`, 1, totals(5, 5))).toBe(true);
    let results = await agg.results();
    expect(results.ballots).toBe(35);
    expect(results.contests[0]).toEqual({
      contestId: "contest-president",
      options: [{ optionId: "sel-president-aino-tamm", votes: 25 }],
      writeIns: 0,
      blanks: 10,
    });
    expect(await agg.report(`${e}/district-north/0`, 4, totals(31, 20))).toBe(true);
    results = await agg.results();
    expect(results.ballots).toBe(36);
    expect(results.shards).toBe(2);
    expect(await agg.versions()).toEqual({ [`${e}/district-north/0`]: 4, [`${e}/district-north/1`]: 1 });
  });

  it("refuses a report that does not come from a shard of the named district", async () => {
    const agg = aggregator("tally-stale-bad");
    expect(await failureOf(() => agg.report("tally-stale-bad/district-south/0", 1, totals(1, 1)))).toContain(
      "does not name a tally shard",
    );
    expect(await failureOf(() => agg.report("nonsense", 1, totals(1, 1)))).toContain("does not name a tally shard");
    expect(await failureOf(() => agg.report("tally-stale-bad/district-north/0", 0, totals(1, 1)))).toContain(
      "ZodError",
    );
    expect(await failureOf(() => agg.report("other-election/district-north/0", 1, totals(1, 1)))).toBe("resolved");
    expect(await failureOf(() => agg.report("tally-stale-bad/district-north/0", 1, totals(1, 1)))).toContain(
      "reached the aggregator of other-election",
    );
  });

  it("gets the shard's totals after the aggregator failed, through the shard's alarm", async () => {
    const e = "tally-aggregator-fault";
    const agg = aggregator(e);
    await runInDurableObject(agg, (_instance, state) => {
      state.storage.sql.exec(`ALTER TABLE shard_reports RENAME TO shard_reports_unavailable`);
    });
    const b = await ballot(e, "district-north", { "contest-president": ["sel-president-aino-tamm"] }, 2);
    expectAllAcked(await deliver([b]));
    const name = `${e}/district-north/2`;
    // The shard keeps trying: its version stays ahead of what the aggregator took.
    await new Promise((r) => setTimeout(r, 400));
    expect(await shard(name).snapshot()).toMatchObject({ version: 1, reportedVersion: 0 });
    await runInDurableObject(agg, (_instance, state) => {
      state.storage.sql.exec(`ALTER TABLE shard_reports_unavailable RENAME TO shard_reports`);
    });
    await aggregatedBallots(e, 1);
    expect(await shard(name).snapshot()).toMatchObject({ version: 1, reportedVersion: 1 });
  });
});

// ---------------------------------------------------------------------------------------------

interface ResultsBody {
  electionId: string;
  pollsClosed: boolean;
  shardsReporting: number;
  turnout: {
    ballotsCounted: number;
    registeredVoters: number;
    ratio: number | null;
    districts: {
      districtId: string;
      name: string;
      ballotsCounted: number;
      registeredVoters: number;
      ratio: number | null;
    }[];
  };
  contests: {
    id: string;
    name: string;
    votesAllowed: number;
    options: { id: string; label: string; votes: number }[];
    writeIns: number;
    blanks: number;
    districts: { districtId: string; options: { id: string; votes: number }[]; writeIns: number; blanks: number }[];
  }[];
}

async function getResults(electionId: string, token?: string): Promise<Response> {
  const path = token ? `/v1/admin/elections/${electionId}/results` : `/v1/elections/${electionId}/results`;
  return SELF.fetch(`${BASE}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

describe("the results API", () => {
  const LIVE = "tally-api-live";
  const AFTER_CLOSE = "tally-api-after-close";
  const CLOSED = "tally-api-closed";

  beforeAll(async () => {
    // k = 1: these tests are about the sums; the public snapshots' k is live-results.test.ts's.
    await loadDemoElection({ electionId: LIVE, resultsVisibility: "live", minBallotsPerRelease: 1 });
    await loadDemoElection({ electionId: AFTER_CLOSE, resultsVisibility: "after-close" });
    await loadDemoElection({
      electionId: CLOSED,
      resultsVisibility: "after-close",
      polls: { opensAt: "2020-01-01T00:00:00Z", closesAt: "2020-01-02T00:00:00Z" },
    });
  });

  it("shows the sum of accepted minus retracted ballots, per contest and district, with labels, and turnout against the roll", async () => {
    const rollSizes: Record<District, number> = { "district-north": 6, "district-south": 4, "district-east": 5 };
    let n = 0;
    for (const [district, size] of Object.entries(rollSizes)) {
      for (let i = 0; i < size; i++) await enrol(LIVE, `EE-TALLY-${String((n += 1)).padStart(4, "0")}`, district);
    }
    const presidents = ["sel-president-aino-tamm", "sel-president-juhan-mets", "sel-president-liis-kask"];
    const ballots: BallotAccepted[] = [];
    for (let i = 0; i < 12; i++) {
      const district = (["district-north", "district-south", "district-east"] as const)[i % 3]!;
      ballots.push(
        await ballot(LIVE, district, {
          ...(i % 4 === 3 ? {} : { "contest-president": [presidents[i % 3]!] }),
          ...(district === "district-east" && i % 2 === 0
            ? { "contest-council-east": ["sel-council-east-mart-parn", "sel-council-east-irina-volkova"] }
            : {}),
          ...(district === "district-north"
            ? { "contest-parliament-north": ["sel-parliament-north-toomas-kivi"] }
            : {}),
        }),
      );
    }
    ballots.push(
      await ballot(LIVE, "district-east", {
        "contest-president": {
          optionIds: ["sel-president-write-in"],
          writeIns: { "sel-president-write-in": "Kalevipoeg" },
        },
      }),
    );
    const retracted = [ballots[0]!, ballots[5]!, ballots[12]!];
    expectAllAcked(await deliver(ballots.slice(0, 7)));
    expectAllAcked(await deliver([...ballots.slice(7), ...retracted.map((b) => retraction(b))]));
    const gone = new Set(retracted.map((b) => b.ballotId));
    const expected = expectedSums(ballots, gone);
    expect(expected.ballots).toBe(10);

    const body = await waitFor(async () => {
      const res = await getResults(LIVE);
      expect(res.status).toBe(200);
      const b: ResultsBody = await res.json();
      return b.turnout.ballotsCounted === expected.ballots ? b : undefined;
    });

    const apiVotes = new Map<string, number>();
    const apiWriteIns = new Map<string, number>();
    const apiBlanks = new Map<string, number>();
    for (const contest of body.contests) {
      for (const o of contest.options) apiVotes.set(o.id, o.votes);
      apiWriteIns.set(contest.id, contest.writeIns);
      apiBlanks.set(contest.id, contest.blanks);
      // Each contest's total is the sum of its districts.
      const sum = (f: (d: ResultsBody["contests"][number]["districts"][number]) => number): number =>
        contest.districts.reduce((s, d) => s + f(d), 0);
      expect(sum((d) => d.writeIns)).toBe(contest.writeIns);
      expect(sum((d) => d.blanks)).toBe(contest.blanks);
      for (const o of contest.options)
        expect(sum((d) => d.options.find((x) => x.id === o.id)?.votes ?? 0)).toBe(o.votes);
    }
    expect(nonZero(apiVotes)).toEqual(nonZero(expected.votes));
    expect(nonZero(apiWriteIns)).toEqual(nonZero(expected.writeIns));
    expect(nonZero(apiBlanks)).toEqual(nonZero(expected.blanks));

    const president = body.contests.find((c) => c.id === "contest-president");
    expect(president?.votesAllowed).toBe(1);
    expect(president?.options.map((o) => o.id)).toEqual(presidents);
    expect(president?.options.every((o) => o.label.length > 0 && o.label !== o.id)).toBe(true);
    expect(president?.districts.map((d) => d.districtId)).toEqual([
      "district-east",
      "district-north",
      "district-south",
    ]);
    expect(body.contests.find((c) => c.id === "contest-council-east")?.districts.map((d) => d.districtId)).toEqual([
      "district-east",
    ]);
    expect(body.contests.find((c) => c.id === "contest-council-east")?.votesAllowed).toBe(3);
    // Every contest of the definition is listed, counted or not.
    expect(body.contests.map((c) => c.id)).toContain("contest-parliament-south");

    expect(body.turnout.registeredVoters).toBe(15);
    expect(body.turnout.ratio).toBeCloseTo(10 / 15);
    const counted = (d: District): number => ballots.filter((b) => b.districtId === d && !gone.has(b.ballotId)).length;
    expect(
      body.turnout.districts.map(({ districtId, ballotsCounted, registeredVoters }) => ({
        districtId,
        ballotsCounted,
        registeredVoters,
      })),
    ).toEqual([
      { districtId: "district-east", ballotsCounted: counted("district-east"), registeredVoters: 5 },
      { districtId: "district-north", ballotsCounted: counted("district-north"), registeredVoters: 6 },
      { districtId: "district-south", ballotsCounted: counted("district-south"), registeredVoters: 4 },
    ]);
    for (const d of body.turnout.districts) expect(d.ratio).toBeCloseTo(d.ballotsCounted / d.registeredVoters);

    // Officials see the same numbers.
    const official = await getResults(LIVE, await adminToken());
    expect(official.status).toBe(200);
    const officialBody: ResultsBody = await official.json();
    expect(officialBody.contests).toEqual(body.contests);
  });

  it("shows zeros and a null ratio for an election with no ballots and no roll", async () => {
    const res = await getResults(CLOSED);
    expect(res.status).toBe(200);
    const body: ResultsBody = await res.json();
    expect(body.pollsClosed).toBe(true);
    expect(body.turnout).toMatchObject({ ballotsCounted: 0, registeredVoters: 0, ratio: null });
    expect(
      body.contests.every((c) => c.options.every((o) => o.votes === 0) && c.writeIns === 0 && c.blanks === 0),
    ).toBe(true);
  });

  it("with after-close visibility refuses the public until polls close, while administrators and auditors see live results", async () => {
    expectAllAcked(
      await deliver([
        await ballot(AFTER_CLOSE, "district-north", { "contest-president": ["sel-president-aino-tamm"] }),
      ]),
    );
    const res = await getResults(AFTER_CLOSE);
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe("results_not_public");
    for (const token of [await adminToken(), await officialToken("auditor")]) {
      const body = await waitFor(async () => {
        const official = await getResults(AFTER_CLOSE, token);
        expect(official.status).toBe(200);
        const b: ResultsBody = await official.json();
        return b.turnout.ballotsCounted === 1 ? b : undefined;
      });
      expect(body.pollsClosed).toBe(false);
    }
    // After close the public sees them.
    expect((await getResults(CLOSED)).status).toBe(200);
  });

  it("refuses the official route without a token or with the wrong role, and answers 404 for an unknown election", async () => {
    expect((await getResults(LIVE, "not-a-token")).status).toBe(401);
    expect((await SELF.fetch(`${BASE}/v1/admin/elections/${LIVE}/results`)).status).toBe(401);
    const station = await getResults(LIVE, await officialToken("station-official"));
    expect(station.status).toBe(403);
    expect(await codeOf(station)).toBe("forbidden");
    const unknownPublic = await getResults("tally-no-such-election");
    expect(unknownPublic.status).toBe(404);
    expect(await codeOf(unknownPublic)).toBe("election_not_found");
    expect(await codeOf(await getResults("tally-no-such-election", await adminToken()))).toBe("election_not_found");
  });

  it("is described in the OpenAPI document", async () => {
    const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/elections/{electionId}/results", "/v1/admin/elections/{electionId}/results"]),
    );
  });
});
