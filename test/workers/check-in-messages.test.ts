/**
 * `check-in` messages on the ballot queues: the consumer records them per station in D1, once,
 * acknowledges them with the batch, and never hands one to a tally shard.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { commitBallot, newNonce, trackingCodeOf } from "../../lib/ballot/commitment.ts";
import type { CheckInRecorded, QueuedBallot } from "../../lib/ballot/messages.ts";
import worker from "../../workers/index.ts";
import { TALLY_SHARDS } from "../../lib/tally/shards.ts";

const ELECTION = "checkin-messages";

function checkIn(stationId: string): CheckInRecorded {
  return {
    kind: "check-in",
    checkInId: `${stationId}/${crypto.randomUUID()}`,
    electionId: ELECTION,
    stationId,
    districtId: "district-north",
    checkedInAt: "2026-05-01T10:17:00.000Z",
  };
}

async function ballot(): Promise<QueuedBallot> {
  const commitment = await commitBallot("{}", newNonce());
  return {
    kind: "ballot",
    electionId: ELECTION,
    ballotStyleId: "bs-north",
    districtId: "district-north",
    channel: "paper",
    stationId: "station-q",
    contests: [{ contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] }],
    trackingCode: await trackingCodeOf(commitment),
    commitment,
    acceptedAt: "2026-05-01T10:17:00.000Z",
  };
}

async function deliver(bodies: readonly unknown[]): Promise<{ acked: string[]; retried: number; ids: string[] }> {
  const messages = bodies.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body }));
  const batch = createMessageBatch("ballots-0", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return { acked: [...result.explicitAcks], retried: result.retryMessages.length, ids: messages.map((m) => m.id) };
}

async function stationCount(stationId: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM check_ins WHERE election_id = ? AND station_id = ?`)
    .bind(ELECTION, stationId)
    .first();
  return z.object({ n: z.number() }).parse(row).n;
}

describe("check-in messages", () => {
  it("are recorded per station once, acknowledged, and never counted by a tally shard", async () => {
    const a = checkIn("station-q");
    const b = checkIn("station-q");
    const c = checkIn("station-r");
    const counted = await ballot();
    const first = await deliver([a, b, c, counted]);
    expect(first.retried).toBe(0);
    expect([...first.acked].sort()).toEqual([...first.ids].sort());
    expect(await stationCount("station-q")).toBe(2);
    expect(await stationCount("station-r")).toBe(1);

    // Delivered again (at least once): nothing new.
    const again = await deliver([a, c]);
    expect(again.acked).toHaveLength(2);
    expect(await stationCount("station-q")).toBe(2);
    expect(await stationCount("station-r")).toBe(1);

    // The district's shards hold the one ballot and nothing else.
    let ballots = 0;
    for (let k = 0; k < TALLY_SHARDS; k += 1) {
      const snapshot = await env.TALLY_SHARD.get(
        env.TALLY_SHARD.idFromName(`${ELECTION}/district-north/${k}`),
      ).snapshot();
      ballots += snapshot?.totals.ballots ?? 0;
    }
    expect(ballots).toBe(1);
  });

  it("a check-in message that does not parse is acknowledged and recorded nowhere", async () => {
    const bad = { ...checkIn("station-s"), checkedInAt: "yesterday" };
    const result = await deliver([bad]);
    expect(result.acked).toHaveLength(1);
    expect(await stationCount("station-s")).toBe(0);
  });
});
