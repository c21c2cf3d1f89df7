/**
 * The audit log's sequencer under faults: each commit step (staging, checkpoint swap, each tile
 * upload, public checkpoint, acknowledgement) fails in turn, or the object crashes there, and
 * the log must then resume with no fork (every checkpoint consistent with the final tree), no
 * lost entry and no duplicate (the entries are exactly those appended, in order, once each).
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { FaultPoint, LogStatus } from "../../durable-objects/log-sequencer.ts";
import { MAX_POOL } from "../../durable-objects/log-sequencer.ts";
import { CHECKPOINT_PATH, logObjectKey } from "../../lib/audit/layout.ts";
import type { BallotAccepted } from "../../lib/ballot/messages.ts";
import { assertConsistent, ballotMessage, readPublishedLog, sequencer } from "./helpers/audit-log.ts";

let elections = 0;
function freshElection(): string {
  elections += 1;
  return `log-test-${elections}-${crypto.randomUUID().slice(0, 8)}`;
}

async function ballots(electionId: string, from: number, count: number): Promise<BallotAccepted[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => ballotMessage(electionId, from + i)));
}

/** Runs steps (through a fresh stub each time: a crash breaks the old one) until all is published. */
async function settle(electionId: string, size: number): Promise<{ status: LogStatus; errors: string[] }> {
  const errors: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const { status, failed } = await sequencer(electionId).sequenceNow();
      if (failed) errors.push(failed);
      else if (
        status.size === size &&
        status.publishedSize === size &&
        status.acknowledgedSize === size &&
        status.pooled === 0
      )
        return { status, errors };
    } catch (error) {
      // A crash resets the object and breaks the call that was running in it.
      errors.push(String(error));
    }
  }
  throw new Error(
    `the log of ${electionId} did not settle at ${size}: ${JSON.stringify(await sequencer(electionId).status())}; errors: ${errors.join(" | ")}`,
  );
}

/** Why a step run now fails (undefined if it does not, or the call itself broke in a crash). */
async function stepFailure(electionId: string): Promise<string | undefined> {
  try {
    return (await sequencer(electionId).sequenceNow()).failed ?? undefined;
  } catch (error) {
    return String(error);
  }
}

async function trackingCodesInD1(electionId: string): Promise<Map<string, number>> {
  const rows = await env.DB.prepare(`SELECT tracking_code, leaf_index FROM log_receipts WHERE election_id = ?`)
    .bind(electionId)
    .all<{ tracking_code: string; leaf_index: number }>();
  return new Map(rows.results.map((r) => [r.tracking_code, r.leaf_index]));
}

async function stagingLeft(electionId: string): Promise<number> {
  return (await env.AUDIT_STAGING.list({ prefix: `staging/${electionId}/` })).objects.length;
}

// 200 entries, then 100 more: the second step completes tile 0 and bundle 0 and starts tile 1,
// so it publishes five objects: tile/0/000, tile/0/001.p/44, tile/1/000.p/1, tile/entries/000
// and tile/entries/001.p/44 (tile:0 .. tile:4, in that order).
const FAULTS: FaultPoint[] = ["staging", "swap", "tile:0", "tile:1", "tile:2", "tile:3", "tile:4", "checkpoint", "ack"];

describe("fault injection: each commit step fails or crashes in turn", () => {
  it.each(FAULTS.flatMap((point) => (["fail", "crash"] as const).map((mode) => [point, mode] as const)))(
    "%s (%s): resumes with no fork, no loss, no duplicate",
    async (point, mode) => {
      const electionId = freshElection();
      const first = await ballots(electionId, 0, 200);
      const second = await ballots(electionId, 200, 100);

      expect(await sequencer(electionId).recordBallots(electionId, first)).toEqual({
        ok: true,
        value: { pooled: 200, duplicates: 0 },
      });
      await settle(electionId, 200);
      const before = await readPublishedLog(electionId);
      const instance = (await sequencer(electionId).faultState()).instance;

      await sequencer(electionId).injectFault(point, mode);
      expect((await sequencer(electionId).recordBallots(electionId, second)).ok).toBe(true);
      // A producer's retry of the same messages while the step is failing adds nothing. A failed
      // step leaves the object up, so the retry must be answered; a crash may break the call.
      const retry = sequencer(electionId).recordBallots(electionId, second.slice(0, 10));
      if (mode === "fail") {
        expect(await retry).toEqual({ ok: true, value: { pooled: 0, duplicates: 10 } });
      } else {
        const retried = await retry.catch(() => undefined);
        if (retried) expect(retried).toEqual({ ok: true, value: { pooled: 0, duplicates: 10 } });
      }

      await settle(electionId, 300);
      // The fault was hit (by this test's step or by the alarm's), and a crash made a new instance.
      const after = await sequencer(electionId).faultState();
      expect(after.pending).toEqual([]);
      if (mode === "crash") expect(after.instance).not.toBe(instance);

      const log = await readPublishedLog(electionId);
      expect(log.checkpoint.size).toBe(300);
      assertConsistent(before.checkpoint, log);
      // Exactly the appended ballots, once each; each batch's in its own (shuffled) step.
      const logged = log.decoded.map((e) => (e.type === "ballot" ? e.commitment : e.type));
      expect(new Set(logged.slice(0, 200))).toEqual(new Set(first.map((b) => b.commitment)));
      expect(new Set(logged.slice(200))).toEqual(new Set(second.map((b) => b.commitment)));
      expect(new Set(logged).size).toBe(300);
      // Every receipt resolves to its own leaf.
      const indexes = await trackingCodesInD1(electionId);
      expect(indexes.size).toBe(300);
      [...first, ...second].forEach((b) => expect(indexes.get(b.trackingCode)).toBe(logged.indexOf(b.commitment)));
      expect(await stagingLeft(electionId)).toBe(0);
      expect((await sequencer(electionId).status()).halted).toBeNull();
    },
  );
});

describe("the sequencer", () => {
  it("logs a re-delivered batch once", async () => {
    const electionId = freshElection();
    const batch = await ballots(electionId, 0, 20);
    await sequencer(electionId).recordBallots(electionId, batch);
    await settle(electionId, 20);
    expect(await sequencer(electionId).recordBallots(electionId, batch)).toEqual({
      ok: true,
      value: { pooled: 0, duplicates: 20 },
    });
    expect((await settle(electionId, 20)).status.size).toBe(20);
  });

  it("acknowledges a whole peak step's receipts in that step", async () => {
    const electionId = freshElection();
    // More than a second of peak (8,000 ballots/s) would leave behind if a step acknowledged less.
    const all = await ballots(electionId, 0, 5_000);
    for (let i = 0; i < all.length; i += 1_000)
      await sequencer(electionId).recordBallots(electionId, all.slice(i, i + 1_000));
    const { status, failed } = await sequencer(electionId).sequenceNow();
    expect(failed).toBeNull();
    expect(status.publishedSize).toBe(5_000);
    expect(status.acknowledgedSize).toBe(5_000);
    const indexes = await trackingCodesInD1(electionId);
    expect(indexes.size).toBe(5_000);
    expect(new Set(indexes.values()).size).toBe(5_000);
    expect(Math.max(...indexes.values())).toBe(4_999);
  });

  it("logs a batch that repeats a ballot, or holds one already logged, once per ballot and keeps one record each", async () => {
    const electionId = freshElection();
    const [logged, fresh] = await Promise.all([ballots(electionId, 0, 1), ballots(electionId, 1, 2)]);
    await sequencer(electionId).recordBallots(electionId, logged);
    await settle(electionId, 1);
    const [a, b] = fresh;
    if (!a || !b || !logged[0]) throw new Error("no ballots");
    // Ballots only (the queue's usual batch): the repeat and the logged ballot are duplicates.
    expect(await sequencer(electionId).recordBallots(electionId, [a, logged[0], a, b])).toEqual({
      ok: true,
      value: { pooled: 2, duplicates: 2 },
    });
    await settle(electionId, 3);
    const log = await readPublishedLog(electionId);
    expect(log.decoded.map((e) => (e.type === "ballot" ? e.commitment : e.type)).sort()).toEqual(
      [logged[0].commitment, a.commitment, b.commitment].sort(),
    );
    expect((await sequencer(electionId).status()).castVoteRecords).toEqual(
      expect.objectContaining({ pending: 3, retracted: 0, awaitingBallot: 0 }),
    );
  });

  it("logs a retraction that came before its ballot right after the ballot, and never publishes that ballot's record", async () => {
    const electionId = freshElection();
    const [early, other] = await ballots(electionId, 0, 2);
    if (!early || !other) throw new Error("no ballots");
    const retraction = {
      kind: "retraction" as const,
      ballotId: early.ballotId,
      electionId,
      districtId: early.districtId,
      trackingCode: early.trackingCode,
      reason: "cancelled-by-paper" as const,
      retractedAt: "2026-03-01T10:16:00.000Z",
    };
    expect(await sequencer(electionId).recordBallots(electionId, [retraction])).toEqual({
      ok: true,
      value: { pooled: 1, duplicates: 0 },
    });
    expect(await sequencer(electionId).recordBallots(electionId, [retraction])).toEqual({
      ok: true,
      value: { pooled: 0, duplicates: 1 },
    });
    expect((await sequencer(electionId).status()).castVoteRecords.awaitingBallot).toBe(1);
    await settle(electionId, 0);
    await sequencer(electionId).recordBallots(electionId, [other, early]);
    await settle(electionId, 3);
    const log = await readPublishedLog(electionId);
    // The step is shuffled, but the retraction always comes after the ballot it retracts.
    const order = log.decoded.map((e) => (e.type === "ballot" ? `ballot ${e.commitment}` : e.type));
    expect(order).toHaveLength(3);
    expect(order.indexOf("retraction")).toBeGreaterThan(order.indexOf(`ballot ${early.commitment}`));
    expect(order).toContain(`ballot ${other.commitment}`);
    expect((await sequencer(electionId).status()).castVoteRecords).toEqual(
      expect.objectContaining({ pending: 1, retracted: 1, awaitingBallot: 0 }),
    );
    // After the close only the other ballot's record is published.
    expect(
      await sequencer(electionId).publishCastVoteRecords(electionId, "2020-01-01T00:00:00Z", {
        kind: "counted",
        ballots: 2,
        retractions: 1,
        pending: 0,
      }),
    ).toEqual({
      ok: true,
      value: { round: 1, records: 1 },
    });
    await settle(electionId, 7);
    const closed = await readPublishedLog(electionId);
    expect(closed.decoded.slice(3).map((e) => e.type)).toEqual([
      "polls-closed",
      "retraction-key",
      "contest-vote-record",
      "cast-vote-records-published",
    ]);
  });

  it("answers log_pool_full when the pool is full, still takes election events, and drains", async () => {
    const electionId = freshElection();
    await sequencer(electionId).injectFault("staging", "always");
    let refused = false;
    let appended = 0;
    for (let i = 0; !refused && i < 40; i++) {
      const batch = await ballots(electionId, i * 1000, 1000);
      const result = await sequencer(electionId).recordBallots(electionId, batch);
      if (result.ok) appended += result.value.pooled;
      else {
        expect(result.error).toBe("log_pool_full");
        refused = true;
      }
    }
    expect(refused).toBe(true);
    expect(appended).toBeGreaterThanOrEqual(MAX_POOL);
    const event = await sequencer(electionId).append(electionId, [
      {
        key: "official-revoked/x",
        entry: { type: "official-revoked", at: "2026-01-01T00:00:00.000Z", officialId: "x" },
      },
    ]);
    expect(event.ok).toBe(true);
    await sequencer(electionId).clearFaults();
    await settle(electionId, appended + 1);
    const log = await readPublishedLog(electionId);
    expect(log.checkpoint.size).toBe(appended + 1);
  }, 120_000);

  it("halts rather than sign on when the public checkpoint is not its own", async () => {
    const electionId = freshElection();
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 0, 5));
    await settle(electionId, 5);
    // Someone else's checkpoint appears in the bucket, and the object restarts.
    await env.AUDIT_LOG.put(
      logObjectKey(electionId, CHECKPOINT_PATH),
      "example.com/other\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/other AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    );
    await sequencer(electionId).injectFault("staging", "crash");
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 5, 5));
    await stepFailure(electionId);
    expect(await stepFailure(electionId)).toMatch(/halted/);
    const status = await sequencer(electionId).status();
    expect(status.halted).toMatch(/public checkpoint/);
    expect(status.size).toBe(5);
  });

  it("halts when the staging bundle of a swapped checkpoint is gone", async () => {
    const electionId = freshElection();
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 0, 5));
    await settle(electionId, 5);
    // The checkpoint is swapped in, but no tile upload gets through.
    await sequencer(electionId).injectFault("tile:0", "always");
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 5, 5));
    expect(await stepFailure(electionId)).toMatch(/injected failure at tile:0/);
    expect(await sequencer(electionId).status()).toEqual(expect.objectContaining({ size: 10, publishedSize: 5 }));
    // The bundle waiting to be published is in the staging bucket, none in the public one (L5).
    expect(await stagingLeft(electionId)).toBe(1);
    expect((await env.AUDIT_LOG.list({ prefix: "staging/" })).objects).toEqual([]);
    for (const o of (await env.AUDIT_STAGING.list({ prefix: `staging/${electionId}/` })).objects)
      await env.AUDIT_STAGING.delete(o.key);
    expect(await stepFailure(electionId)).toMatch(/halted: staging bundle .* is gone/);
    const status = await sequencer(electionId).status();
    expect(status.halted).toMatch(/staging bundle .* is gone/);
    expect(status.publishedSize).toBe(5);
    // Nothing new is signed while halted.
    await sequencer(electionId).clearFaults();
    expect(await stepFailure(electionId)).toMatch(/halted/);
    expect((await readPublishedLog(electionId)).checkpoint.size).toBe(5);
  });
});

describe("storage version 2", () => {
  it("an object stored at version 1 is upgraded when it loads, keeps its log and sequences on", async () => {
    const electionId = freshElection();
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 0, 5));
    await settle(electionId, 5);
    // Put the object back to version 1's tables (no shuffle columns, no release tables).
    await runInDurableObject(sequencer(electionId), (_instance, state) => {
      const sql = state.storage.sql;
      for (const column of ["sealed", "retracts", "shuffle"]) sql.exec(`ALTER TABLE pool DROP COLUMN ${column}`);
      sql.exec(`DROP TABLE cvr_release`);
      sql.exec(`DROP TABLE cvr_round_counts`);
      sql.exec(`UPDATE meta SET value = 1 WHERE key = 'schema'`);
    });
    // A reset makes a new instance, whose constructor upgrades the storage.
    const before = (await sequencer(electionId).faultState()).instance;
    await runInDurableObject(sequencer(electionId), (_instance, state) => state.abort("reset to load version 1")).catch(
      () => undefined,
    );
    await sequencer(electionId).recordBallots(electionId, await ballots(electionId, 5, 5));
    const { status } = await settle(electionId, 10);
    expect((await sequencer(electionId).faultState()).instance).not.toBe(before);
    expect(status.halted).toBeNull();
    await runInDurableObject(sequencer(electionId), (_instance, state) => {
      expect(state.storage.sql.exec(`SELECT value FROM meta WHERE key = 'schema'`).one().value).toBe(2);
      expect(
        state.storage.sql
          .exec<{ name: string }>(`SELECT name FROM pragma_table_info('pool')`)
          .toArray()
          .map((r) => r.name),
      ).toEqual(expect.arrayContaining(["shuffle", "retracts", "sealed"]));
    });
    const log = await readPublishedLog(electionId);
    expect(log.decoded.filter((e) => e.type === "ballot")).toHaveLength(10);
  });
});
