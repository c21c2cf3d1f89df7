/**
 * The dead-letter queue's consumer (ballots-dlq). A ballot queue sends a message here when it ran
 * out of retries (the tally, D1 or the audit log refused it for about five minutes), and the
 * ballot consumer sends here what it cannot parse. Nothing that reaches this queue is dropped:
 *
 *   1. every message is recorded in D1 `dead_letters` (db/stores/dead-letters.ts) for the
 *      operator: its body encrypted to the offline dead-letter key (DEAD_LETTER_PUBLIC_JWK,
 *      lib/ballot/dead-letter-seal.ts), never in clear, since it may hold marks, write-ins, a
 *      tracking code and a commitment; in clear only election, kind, queue, attempts and times;
 *      named by an HMAC of the body, with how often it came back;
 *   2. a message that parses as a QueuedMessage goes back to its ballot queue after
 *      REDELIVERY_DELAY_SECONDS: the consumers are idempotent, so a late delivery counts once, and
 *      a ballot whose shard or log was down for a while is counted when they are back;
 *   3. a message is acknowledged only after both; otherwise it is retried here.
 *
 * A message that can never succeed (unparseable, or refused every time) stays visible in
 * `dead_letters` with its growing `deliveries` count; it costs one delivery every few minutes.
 * Without a configured key (development only; production refuses to start without one) the body
 * is not kept at all.
 */
import { recordDeadLetter } from "../../db/stores/dead-letters.ts";
import { sealDeadLetter } from "../../lib/ballot/dead-letter-seal.ts";
import { QueuedMessage, queueKeyOf } from "../../lib/ballot/messages.ts";
import { keyedDigestHex, purposeKey } from "../../lib/keys.ts";
import { ballotQueueFor } from "../../durable-objects/addresses.ts";
import { configOf } from "../../durable-objects/config.ts";
import { emitEvent } from "../../lib/events.ts";
import { ElectionId } from "../../lib/election/settings.ts";
import { wakeMonitor } from "../monitor/signal.ts";

/** Long enough for a restarted shard, D1 or log to come back; short next to an election day. */
export const REDELIVERY_DELAY_SECONDS = 300;

/** A text field of an unknown body, for triage: only short text, never anything else. */
function textField(body: unknown, name: string, max: number): string | null {
  if (typeof body !== "object" || body === null || !(name in body)) return null;
  const value: unknown = (body as Record<string, unknown>)[name];
  return typeof value === "string" && value.length > 0 ? value.slice(0, max) : null;
}

export async function handleDeadLetters(
  batch: MessageBatch<unknown>,
  env: Env,
  redeliveryDelaySeconds = REDELIVERY_DELAY_SECONDS,
): Promise<void> {
  const config = configOf(env);
  const letterKey = await purposeKey(config.BALLOT_LINK_KEY, "dead-letter");
  for (const message of batch.messages) {
    try {
      const bodyJson = JSON.stringify(message.body) ?? "null";
      const parsed = QueuedMessage.safeParse(message.body);
      await recordDeadLetter(env.DB, {
        letterId: await keyedDigestHex(letterKey, bodyJson),
        electionId: textField(message.body, "electionId", 128),
        kind: textField(message.body, "kind", 32),
        queue: batch.queue,
        attempts: message.attempts,
        bodyJwe: config.DEAD_LETTER_PUBLIC_JWK ? await sealDeadLetter(config.DEAD_LETTER_PUBLIC_JWK, bodyJson) : null,
        parses: parsed.success,
        at: new Date().toISOString(),
      });
      // The monitor's dead-letters rule reads the recorded letters: it looks now, not at its next tick.
      const electionId = textField(message.body, "electionId", 128);
      if (electionId !== null && ElectionId.safeParse(electionId).success) await wakeMonitor(env, electionId);
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
