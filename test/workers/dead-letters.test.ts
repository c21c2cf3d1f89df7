/**
 * The ballots' dead-letter queue: nothing that reaches it is dropped. Unparseable messages are
 * kept in D1 for the operator; ballots go back to their queue and are counted.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../workers/index.ts";
import { handleDeadLetters } from "../../workers/tally/dead-letters.ts";
import { recordIdOf } from "../../lib/ballot/messages.ts";
import { ballotMessage } from "./helpers/audit-log.ts";
import { waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";

const ELECTION = "dead-letters";

interface DeadLetter {
  body_json: string;
  parses: number;
  deliveries: number;
}

async function deadLetters(): Promise<DeadLetter[]> {
  return (
    await env.DB.prepare(
      `SELECT body_json, parses, deliveries FROM dead_letters ORDER BY first_seen, body_json`,
    ).all<DeadLetter>()
  ).results;
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
});

describe("the dead-letter queue", () => {
  it("keeps what cannot parse, and sends a ballot back to be counted", async () => {
    const ballot = await ballotMessage(ELECTION, 2);
    const messages: { id: string; timestamp: Date; attempts: number; body: unknown }[] = [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: ballot },
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { kind: "vote", what: "garbage" } },
    ];
    const batch = createMessageBatch<unknown>("ballots-dlq", messages);
    const ctx = createExecutionContext();
    await handleDeadLetters(batch, env, 0);
    const result = await getQueueResult(batch, ctx);
    expect([...result.explicitAcks].sort()).toEqual(messages.map((m) => m.id).sort());

    const rows = await deadLetters();
    expect(rows.map((r) => [JSON.parse(r.body_json), r.parses, r.deliveries])).toEqual(
      expect.arrayContaining([
        [ballot, 1, 1],
        [{ kind: "vote", what: "garbage" }, 0, 1],
      ]),
    );
    // The ballot went back to its queue and was recorded like any other.
    await waitFor(async () => {
      const row = await env.DB.prepare(`SELECT cvr_id FROM cast_vote_records WHERE cvr_id = ?`)
        .bind(await recordIdOf(env.BALLOT_LINK_KEY, ELECTION, ballot.trackingCode))
        .first();
      return row ?? undefined;
    });

    // The same body again counts a further delivery, not a new row.
    await handleDeadLetters(
      createMessageBatch<unknown>("ballots-dlq", [{ ...messages[1]!, id: crypto.randomUUID() }]),
      env,
      0,
    );
    expect((await deadLetters()).find((r) => r.parses === 0)?.deliveries).toBe(2);
  });

  it("receives what the ballot consumer cannot parse, through the real queue", async () => {
    const body = { kind: "ballot", ballotId: "not-a-uuid", marker: crypto.randomUUID() };
    const batch = createMessageBatch<unknown>("ballots-1", [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toHaveLength(1);
    const row = await waitFor(async () => (await deadLetters()).find((r) => r.body_json.includes(body.marker)));
    expect(row).toMatchObject({ parses: 0 });
  }, 30_000);
});
