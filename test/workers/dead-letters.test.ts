/**
 * The ballots' dead-letter queue: nothing that reaches it is dropped, and nothing of it is kept in
 * clear. Every body is stored only encrypted to the offline dead-letter key, beside what an
 * operator triages by; ballots go back to their queue and are counted.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DeadLetterRow } from "../../db/stores/dead-letters.ts";
import worker from "../../workers/index.ts";
import { handleDeadLetters } from "../../workers/tally/dead-letters.ts";
import { DeadLetterPrivateJwk, openDeadLetter } from "../../lib/ballot/dead-letter-seal.ts";
import { recordIdOf, type QueuedBallot } from "../../lib/ballot/messages.ts";
import { ballotMessage } from "./helpers/audit-log.ts";
import { adminToken, BASE } from "./helpers/auth.ts";
import { waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";

const ELECTION = "dead-letters";

async function deadLetters(): Promise<DeadLetterRow[]> {
  return (await env.DB.prepare(`SELECT * FROM dead_letters ORDER BY first_seen, letter_id`).all<DeadLetterRow>())
    .results;
}

const operatorKey = () => DeadLetterPrivateJwk.parse(JSON.parse(env.TEST_DEAD_LETTER_PRIVATE_JWK));

/** What a row's body was, opened with the operator's offline key. */
async function opened(row: DeadLetterRow): Promise<unknown> {
  if (row.body_jwe === null) throw new Error("no body kept");
  return JSON.parse(await openDeadLetter(operatorKey(), row.body_jwe));
}

/** A ballot as a ledger queues it (no record id), with a write-in. */
async function queuedBallot(n: number): Promise<QueuedBallot> {
  const { ballotId: _none, ...ballot } = await ballotMessage(ELECTION, n);
  return ballot;
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
});

describe("the dead-letter queue", () => {
  it("keeps no tracking code, commitment, option id or write-in in D1, only a body the offline key opens", async () => {
    const ballot = await queuedBallot(1);
    const garbage = { kind: "vote", what: `garbage-${crypto.randomUUID()}` };
    const messages: { id: string; timestamp: Date; attempts: number; body: unknown }[] = [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 10, body: ballot },
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: garbage },
    ];
    const batch = createMessageBatch<unknown>("ballots-dlq", messages);
    const ctx = createExecutionContext();
    await handleDeadLetters(batch, env, 0);
    const result = await getQueueResult(batch, ctx);
    expect([...result.explicitAcks].sort()).toEqual(messages.map((m) => m.id).sort());

    const rows = await deadLetters();
    const everything = JSON.stringify(rows);
    for (const secret of [
      ballot.trackingCode,
      ballot.commitment,
      "sel-president-write-in",
      "Someone",
      "contest-president",
      garbage.what,
    ]) {
      expect(everything).not.toContain(secret);
    }
    const ballotRow = rows.find((r) => r.kind === "ballot" && r.election_id === ELECTION);
    const garbageRow = rows.find((r) => r.kind === "vote");
    expect(ballotRow).toMatchObject({ queue: "ballots-dlq", attempts: 10, parses: 1, deliveries: 1 });
    expect(garbageRow).toMatchObject({ election_id: null, queue: "ballots-dlq", attempts: 1, parses: 0 });
    // The operator's key opens both, exactly.
    expect(await opened(ballotRow!)).toEqual(ballot);
    expect(await opened(garbageRow!)).toEqual(garbage);

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
    expect((await deadLetters()).find((r) => r.kind === "vote")?.deliveries).toBe(2);
  });

  it("lists dead letters for administrators with their bodies still encrypted", async () => {
    const ballot = await queuedBallot(3);
    await handleDeadLetters(
      createMessageBatch<unknown>("ballots-dlq", [
        { id: crypto.randomUUID(), timestamp: new Date(), attempts: 10, body: ballot },
      ]),
      env,
      0,
    );
    expect((await SELF.fetch(`${BASE}/v1/admin/dead-letters`)).status).toBe(401);
    const res = await SELF.fetch(`${BASE}/v1/admin/dead-letters?electionId=${ELECTION}`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(ballot.trackingCode);
    const list = JSON.parse(text) as { deadLetters: { electionId: string; bodyJwe: string }[] };
    expect(list.deadLetters.every((d) => d.electionId === ELECTION)).toBe(true);
    const bodies = await Promise.all(
      list.deadLetters.map(async (d) => JSON.parse(await openDeadLetter(operatorKey(), d.bodyJwe)) as unknown),
    );
    expect(bodies).toContainEqual(ballot);
  });

  it("receives what the ballot consumer cannot parse, through the real queue", async () => {
    const body = { kind: "ballot", electionId: ELECTION, marker: crypto.randomUUID() };
    const batch = createMessageBatch<unknown>("ballots-1", [
      { id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toHaveLength(1);
    const row = await waitFor(async () => {
      for (const r of await deadLetters()) {
        if (r.parses === 0 && r.kind === "ballot" && JSON.stringify(await opened(r)).includes(body.marker)) return r;
      }
      return undefined;
    });
    expect(row).toMatchObject({ parses: 0, election_id: ELECTION });
  }, 30_000);
});
