/**
 * The transactional outbox that Durable Objects use to hand messages to the ballot queues: a
 * message is written in the same storage transaction as the decision that produced it, then sent,
 * then deleted once a queue accepted it. Sending is at least once; consumers dedupe.
 *
 * Invariants (for the object that owns it):
 * - `enqueue` is synchronous SQL: call it inside the decision's transactionSync.
 * - Rows are deleted only after `sendBatch` resolved for them; a failed send leaves them and
 *   schedules the owner's alarm with backoff (the owner's alarm() must call `onAlarm`).
 * - One flush at a time per object; a flush requested while one runs triggers another round
 *   instead of racing it (no await between the loop's check and the reset of `flushing`).
 * - The safety net (an alarm SAFETY_NET_MS after a decision) stands while anything is unsent. An
 *   owner that gives `nextAlarm` has its alarm moved, once a flush left nothing unsent, to the
 *   next time it needs one (none: no alarm), so a sent message costs no wake-up five seconds
 *   later: with one ledger per voter that wake-up was one more invocation per ballot. After the
 *   move the outbox looks again: a row committed meanwhile puts the safety net back (a decision
 *   committed after that look arms it itself, in afterCommit).
 *
 * - A row names the message, never a voter: `queue_key` is the message's own key (queueKeyOf:
 *   the ballot's tracking code or the check-in's id), so an outbox read beside the marks it holds
 *   says nothing about whose they are. (Until ledger schema 4 it was the voter key.)
 * - Every message enqueued is also counted, per election and kind, in `outbox_counts`, in the same
 *   transaction, and the count is never lowered (it outlives the sent rows and the ledger's forget
 *   step): with the pending rows it tells the log whether everything this object accepted was
 *   handed on (`counts`, docs/AUDIT-LOG.md "Rounds").
 *
 * Storage: outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, queue_key, message_json, attempts)
 *          outbox_counts(election_id, kind, enqueued, PRIMARY KEY (election_id, kind)) WITHOUT ROWID
 */
import { QueuedMessage, queueKeyOf } from "../lib/ballot/messages.ts";
import { ballotQueueFor } from "./addresses.ts";
import { emitEvent } from "../lib/events.ts";

/** One sendBatch carries at most 100 messages (the Queues limit). */
const FLUSH_BATCH = 100;
/** Backoff for a failed flush: 1 s doubling to 60 s. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** The alarm set with every decision: a safety net should the immediate flush not finish. */
const SAFETY_NET_MS = 5_000;

export const OUTBOX_TABLE_SQL = `CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, queue_key TEXT NOT NULL,
  message_json TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)`;

/** Created by the Outbox itself when its owner loads (a table of its own, beside any schema version). */
const OUTBOX_COUNTS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS outbox_counts (
  election_id TEXT NOT NULL, kind TEXT NOT NULL, enqueued INTEGER NOT NULL,
  PRIMARY KEY (election_id, kind)) WITHOUT ROWID`;

/** What an object's outbox has taken for one election, and how many of its rows are still unsent. */
export interface OutboxCounts {
  readonly enqueued: { readonly ballot: number; readonly retraction: number; readonly "check-in": number };
  /** Rows not yet accepted by a queue (of every election the object serves). */
  readonly pending: number;
}

export interface OutboxOptions {
  /** When the owner next needs its alarm for its own work (undefined: it needs none). */
  readonly nextAlarm?: () => number | undefined;
}

export class Outbox {
  private readonly ctx: DurableObjectState;
  private readonly env: Env;
  private readonly nextAlarm: (() => number | undefined) | undefined;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  constructor(ctx: DurableObjectState, env: Env, options: OutboxOptions = {}) {
    this.ctx = ctx;
    this.env = env;
    this.nextAlarm = options.nextAlarm;
    ctx.storage.sql.exec(OUTBOX_COUNTS_TABLE_SQL);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** Synchronous: call inside the transaction that made the decision. */
  enqueue(message: QueuedMessage): void {
    this.sql.exec(
      `INSERT INTO outbox (queue_key, message_json) VALUES (?, ?)`,
      queueKeyOf(message),
      JSON.stringify(message),
    );
    this.countEnqueued(message);
  }

  /** Counts one more message of its election and kind; synchronous, in the enqueue's transaction. */
  private countEnqueued(message: QueuedMessage): void {
    this.sql.exec(
      `INSERT INTO outbox_counts (election_id, kind, enqueued) VALUES (?, ?, 1)
         ON CONFLICT (election_id, kind) DO UPDATE SET enqueued = enqueued + 1`,
      message.electionId,
      message.kind,
    );
  }

  counts(electionId: string): OutboxCounts {
    const by = new Map(
      this.sql
        .exec<{ kind: string; enqueued: number }>(
          `SELECT kind, enqueued FROM outbox_counts WHERE election_id = ?`,
          electionId,
        )
        .toArray()
        .map((r) => [r.kind, r.enqueued]),
    );
    return {
      enqueued: {
        ballot: by.get("ballot") ?? 0,
        retraction: by.get("retraction") ?? 0,
        "check-in": by.get("check-in") ?? 0,
      },
      pending: this.pending(),
    };
  }

  pending(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).toArray()[0]?.n ?? 0;
  }

  /** After a decision committed: arm the safety net, then flush in the background. */
  async afterCommit(): Promise<void> {
    await this.ensureAlarm(Date.now() + SAFETY_NET_MS);
    this.ctx.waitUntil(this.flush());
  }

  /** The owner's alarm(): flush, and reschedule with backoff while anything is left. */
  async onAlarm(): Promise<void> {
    await this.flush();
    if (this.pending() > 0) {
      const attempts = this.sql.exec<{ a: number }>(`SELECT MAX(attempts) AS a FROM outbox`).toArray()[0]?.a ?? 1;
      await this.ctx.storage.setAlarm(Date.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts, 6)));
    }
  }

  /** Arms the owner's alarm for `at` unless it is already due sooner. */
  async ensureAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.flushAgain = false;
          await this.flushOnce();
          if (!this.flushAgain) await this.standDownSafetyNet();
        } while (this.flushAgain);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /** With nothing unsent, moves the owner's alarm to its own next need (file header). */
  private async standDownSafetyNet(): Promise<void> {
    if (!this.nextAlarm || this.pending() > 0) return;
    const next = this.nextAlarm();
    const current = await this.ctx.storage.getAlarm();
    if (current === (next ?? null)) return;
    if (next === undefined) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    // A row committed while the alarm moved: its decision may have seen the safety net standing.
    if (this.pending() > 0) await this.ensureAlarm(Date.now() + SAFETY_NET_MS);
  }

  private async flushOnce(): Promise<void> {
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; queue_key: string; message_json: string }>(
          `SELECT seq, queue_key, message_json FROM outbox ORDER BY seq LIMIT ?`,
          FLUSH_BATCH,
        )
        .toArray();
      if (rows.length === 0) return;
      const byQueue = new Map<Queue<QueuedMessage>, { seqs: number[]; bodies: QueuedMessage[] }>();
      for (const row of rows) {
        const queue = ballotQueueFor(this.env, row.queue_key);
        const group = byQueue.get(queue) ?? { seqs: [], bodies: [] };
        group.seqs.push(row.seq);
        // Parsing strips what older rows carried and the queues must not (a ballot id).
        group.bodies.push(QueuedMessage.parse(JSON.parse(row.message_json)));
        byQueue.set(queue, group);
      }
      for (const [queue, group] of byQueue) {
        const placeholders = group.seqs.map(() => "?").join(",");
        try {
          await queue.sendBatch(group.bodies.map((body) => ({ body, contentType: "json" as const })));
        } catch (error) {
          // Not fatal: the rows stay and the alarm retries with backoff.
          this.sql.exec(`UPDATE outbox SET attempts = attempts + 1 WHERE seq IN (${placeholders})`, ...group.seqs);
          emitEvent("outbox_flush_failed", { error: String(error) });
          await this.ensureAlarm(Date.now() + RETRY_BASE_MS);
          return;
        }
        this.sql.exec(`DELETE FROM outbox WHERE seq IN (${placeholders})`, ...group.seqs);
      }
    }
  }
}
