/**
 * The ballot queues' consumer (ballots-0..3, see wrangler.toml): counts each message in its tally
 * shard and records it in D1, then acknowledges exactly the messages whose every write succeeded.
 *
 * Durability order, per batch:
 *   1. parse every message with QueuedMessage and give each ballot and retraction its record id,
 *      derived from its tracking code under BALLOT_LINK_KEY (lib/ballot/messages.ts `recordIdOf`):
 *      the producers never see that id, and from here on the shards, D1 and the log keep the
 *      ballot under it (`ballotId`). Unparseable: logged, sent to the dead-letter queue
 *      at once (dead-letters.ts records it in D1 for the operator; retrying here could never
 *      help) and acknowledged once the dead-letter queue took it;
 *   2. in parallel: one applyBatch call per tally shard with that shard's messages, and one D1
 *      batch with the records of all parsed messages. Either failing is not fatal;
 *   3. acknowledge a message when its shard call and the D1 batch both succeeded; retry the others
 *      with a growing delay. Both writes are idempotent by ballot id, so the retried messages may
 *      be applied again in full without counting anything twice, and nothing is acknowledged
 *      before it is durable in both places.
 *   4. the messages that step 3 would acknowledge go to their election's audit log
 *      (workers/audit/log.ts), one call per election; a message is acknowledged only once its log
 *      accepted it, and retried when the log refused (log_pool_full) or failed. Not fatal: the
 *      log is idempotent by key, so a retried message is logged once.
 *   5. after the acks, the acknowledged messages are counted into `ballot`, `retraction` and
 *      `check-in` signals per election (per district, station, channel and time) and handed to
 *      the election's security monitor (workers/monitor/signal.ts), one call per election, all in
 *      parallel, after the handler returns (waitUntil). Advisory: the acks are already given, and a failure only costs the monitor those
 *      counts (monitor_signal_failed); a retried message that was not acknowledged is not counted
 *      until it is.
 */
import { QueuedMessage, withRecordId, type BallotMessage, type TallyMessage } from "../../lib/ballot/messages.ts";
import { configOf } from "../../durable-objects/config.ts";
import { logBallotMessages } from "../audit/log.ts";
import { writeBallotRecords } from "../../db/stores/records.ts";
import { tallyShardName } from "../../lib/tally/shards.ts";
import { tallyShardFor } from "../../durable-objects/addresses.ts";
import { emitEvent } from "../../lib/events.ts";
import type { MonitorSignalInput } from "../../lib/monitor/signals.ts";
import { signalMonitor } from "../monitor/signal.ts";

/**
 * Delay before a failed message comes back: 1 s doubling to 60 s. With max_retries 10
 * (wrangler.toml) a message keeps trying for about five minutes, long enough to ride out a shard
 * or D1 restart, before it goes to the dead-letter queue.
 */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(2 ** Math.max(attempts - 1, 0), 60);
}

interface Parsed {
  readonly message: Message<unknown>;
  readonly ballot: BallotMessage;
}

interface Tallied {
  readonly message: Message<unknown>;
  readonly ballot: TallyMessage;
}

export async function handleBallotBatch(
  batch: MessageBatch<unknown>,
  env: Env,
  ctx?: Pick<ExecutionContext, "waitUntil">,
): Promise<void> {
  const parsed: Parsed[] = [];
  const linkKey = configOf(env).BALLOT_LINK_KEY;
  for (const message of batch.messages) {
    const result = QueuedMessage.safeParse(message.body);
    if (result.success) {
      parsed.push({ message, ballot: await withRecordId(linkKey, result.data) });
      continue;
    }
    // The body is not logged: it may hold marks. Its id and the problems are enough to find it.
    emitEvent("ballot_message_unparseable", {
      queue: batch.queue,
      messageId: message.id,
      attempts: message.attempts,
      problems: result.error.issues
        .slice(0, 5)
        .map((i) => ({ path: i.path.map(String).join("/"), message: i.message })),
    });
    try {
      await env.BALLOTS_DLQ.send(message.body);
      message.ack();
    } catch {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
  if (parsed.length === 0) return;

  const byShard = new Map<string, Tallied[]>();
  // Check-ins are counted per station in D1 only (db/stores/records.ts); no tally shard ever sees one.
  const checkIns: Parsed[] = [];
  for (const item of parsed) {
    const ballot = item.ballot;
    if (ballot.kind === "check-in") {
      checkIns.push(item);
      continue;
    }
    const name = tallyShardName(ballot.electionId, ballot.districtId, ballot.ballotId);
    const group = byShard.get(name);
    if (group) group.push({ message: item.message, ballot });
    else byShard.set(name, [{ message: item.message, ballot }]);
  }

  const shardCalls = [...byShard].map(async ([name, group]) => {
    const shard = tallyShardFor(env, name);
    await shard.applyBatch(
      name,
      group.map((g) => g.ballot),
    );
  });
  const [shardResults, recordsWritten] = await Promise.all([
    Promise.allSettled(shardCalls),
    writeBallotRecords(
      env.DB,
      parsed.map((p) => p.ballot),
    ).then(
      () => true,
      (error: unknown) => {
        emitEvent("ballot_records_failed", { queue: batch.queue, messages: parsed.length, error: String(error) });
        return false;
      },
    ),
  ]);

  const written: { readonly message: Message<unknown>; readonly ballot: BallotMessage }[] = [];
  let index = 0;
  for (const [name, group] of byShard) {
    const result = shardResults[index];
    index += 1;
    const shardOk = result?.status === "fulfilled";
    if (result?.status === "rejected") {
      emitEvent("tally_shard_failed", {
        queue: batch.queue,
        shard: name,
        messages: group.length,
        error: String(result.reason),
      });
    }
    for (const item of group) {
      if (shardOk && recordsWritten) written.push(item);
      else item.message.retry({ delaySeconds: retryDelaySeconds(item.message.attempts) });
    }
  }
  for (const item of checkIns) {
    if (recordsWritten) written.push(item);
    else item.message.retry({ delaySeconds: retryDelaySeconds(item.message.attempts) });
  }

  const logged =
    written.length > 0
      ? await logBallotMessages(
          env,
          written.map((w) => w.ballot),
        )
      : new Set<string>();
  const acknowledged: BallotMessage[] = [];
  for (const { message, ballot } of written) {
    if (logged.has(ballot.electionId)) {
      message.ack();
      acknowledged.push(ballot);
    } else message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
  const signalled = Promise.all(
    [...monitorSignals(acknowledged, Date.now())].map(([electionId, signals]) =>
      signalMonitor(env, electionId, signals),
    ),
  );
  // The batch is done once its acks are given: the monitor's counts go on after it returns, so the
  // queue's next batch (and with it the tally and the live results) never waits for the monitor.
  if (ctx) ctx.waitUntil(signalled);
  else await signalled;
}

/**
 * The monitor's counts of acknowledged messages, per election: one signal per kind, district,
 * station, channel and time, with its count. Nothing in them names a ballot or a voter.
 *
 * The messages carry minutes only (lib/ballot/messages.ts `coarseTime`: an exact time would help
 * match a ballot to a login). A message of the current minute reached the consumer within a
 * second or two of its acceptance, so it is counted at `now`, which keeps windows shorter than a
 * minute (a drill's, a compressed test day's) meaningful; a message older than a minute (a queue
 * retry, a redelivered dead letter) is counted in its own minute, so a backlog cleared after an
 * outage is not a burst of now.
 */
export function monitorSignals(messages: readonly BallotMessage[], now: number): Map<string, MonitorSignalInput[]> {
  const groups = new Map<string, { electionId: string; signal: MonitorSignalInput & { count: number } }>();
  const second = (iso: string): number => {
    const at = Date.parse(iso);
    return now - at < 60_000 ? now : Math.floor(at / 1000) * 1000;
  };
  for (const m of messages) {
    let signal: MonitorSignalInput & { count: number };
    switch (m.kind) {
      case "ballot":
        signal = {
          kind: "ballot",
          at: second(m.acceptedAt),
          districtId: m.districtId,
          channel: m.channel,
          ...(m.stationId === undefined ? {} : { stationId: m.stationId }),
          count: 0,
        };
        break;
      case "retraction":
        signal = { kind: "retraction", at: second(m.retractedAt), districtId: m.districtId, count: 0 };
        break;
      case "check-in":
        signal = {
          kind: "check-in",
          at: second(m.checkedInAt),
          districtId: m.districtId,
          stationId: m.stationId,
          count: 0,
        };
        break;
    }
    const key = JSON.stringify([m.electionId, { ...signal, count: 0 }]);
    const group = groups.get(key) ?? { electionId: m.electionId, signal };
    group.signal.count += 1;
    groups.set(key, group);
  }
  const out = new Map<string, MonitorSignalInput[]>();
  for (const { electionId, signal } of groups.values()) {
    const list = out.get(electionId);
    if (list) list.push(signal);
    else out.set(electionId, [signal]);
  }
  return out;
}
