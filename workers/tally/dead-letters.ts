/**
 * The dead-letter queue's consumer (ballots-dlq). A ballot queue sends a message here when it ran
 * out of retries (the tally, D1 or the audit log refused it for about five minutes), and the
 * ballot consumer sends here what it cannot parse. Nothing that reaches this queue is dropped:
 *
 *   1. every message is recorded in D1 `dead_letters` (db/stores/dead-letters.ts: its body as
 *      JSON, keyed by the body's SHA-256, with how often it came back), so an operator sees it and
 *      can replay it;
 *   2. a message that parses as a BallotMessage goes back to its ballot queue after
 *      REDELIVERY_DELAY_SECONDS: the consumers are idempotent, so a late delivery counts once, and
 *      a ballot whose shard or log was down for a while is counted when they are back;
 *   3. a message is acknowledged only after both; otherwise it is retried here.
 *
 * A message that can never succeed (unparseable, or refused every time) stays visible in
 * `dead_letters` with its growing `deliveries` count; it costs one delivery every few minutes.
 */
import { recordDeadLetter } from "../../db/stores/dead-letters.ts";
import { QueuedMessage, queueKeyOf } from "../../lib/ballot/messages.ts";
import { sha256Hex } from "../../lib/digest.ts";
import { ballotQueueFor } from "../../durable-objects/addresses.ts";
import { emitEvent } from "../../lib/events.ts";

/** Long enough for a restarted shard, D1 or log to come back; short next to an election day. */
export const REDELIVERY_DELAY_SECONDS = 300;

export async function handleDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  redeliveryDelaySeconds = REDELIVERY_DELAY_SECONDS,
): Promise<void> {
  for (const message of batch.messages) {
    try {
      const bodyJson = JSON.stringify(message.body) ?? "null";
      const parsed = QueuedMessage.safeParse(message.body);
      await recordDeadLetter(env.DB, {
        bodySha256: sha256Hex(bodyJson),
        bodyJson,
        parses: parsed.success,
        at: new Date().toISOString(),
      });
      if (parsed.success) {
        await ballotQueueFor(env, queueKeyOf(parsed.data)).send(parsed.data, {
          contentType: "json",
          delaySeconds: redeliveryDelaySeconds,
        });
      }
      message.ack();
    } catch (error) {
      emitEvent("dead_letter_failed", { messageId: message.id, error: String(error) });
      message.retry({ delaySeconds: 60 });
    }
  }
}
