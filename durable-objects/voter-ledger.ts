/**
 * VoterLedger: the single point of truth for "has this person voted, how, where" in an election.
 * It is the only place that links a voter to a ballot.
 *
 * One object holds one voter or one hash bucket of voters (workers/voting/ledger-routing.ts): the
 * tables are keyed by (election_id, voter_key) either way, so the guarantee is the same.
 *
 * Invariants:
 * - Every decision (castOnline) reads the voter's row and writes the ballot, the voter's new state
 *   and the outbox records inside one transactionSync with no await: concurrent casts for one
 *   voter are serialised by the object and each sees the previous one's effect. Under first-wins
 *   exactly one ballot is ever accepted per voter.
 * - The RPC answers only after that transaction is durable (output gate), so an acknowledged
 *   ballot is never lost; its outbox records stay until the queue accepted them.
 * - Under paper-supersedes an online re-vote marks the previous ballot superseded and queues its
 *   retraction in the same transaction as the new ballot: the tally never counts two ballots of
 *   one voter once both messages are applied, whatever their order.
 * - A cast repeated with the same idempotency key returns the original outcome and changes
 *   nothing; the same key with different content is refused.
 * - The outbox is flushed right after each decision and by alarm until empty; a failed send
 *   leaves the rows in place and reschedules (at-least-once; consumers dedupe by ballot id).
 *
 * Storage schema (SQLite, version 1):
 *   voters(election_id, voter_key, state 'online'|'paper', online_ballot_id, revotes,
 *          updated_at; PRIMARY KEY (election_id, voter_key))       -- absent row: not voted
 *   ballots(ballot_id PK, election_id, voter_key, ballot_style_id, district_id, channel,
 *           marks_json, commitment, tracking_code, nonce, idempotency_key, request_hash,
 *           accepted_at, status 'counted'|'superseded'|'cancelled';
 *           UNIQUE (election_id, voter_key, idempotency_key))
 *   outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, queue_key, message_json, attempts)
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { BallotMessage, ContestMarks, coarseTime, type BallotAccepted, type BallotRetracted } from "../lib/ballot/messages.ts";
import { err, ok, type Result } from "../lib/result.ts";
import { ballotQueueFor } from "../workers/voting/queues.ts";

const SCHEMA_VERSION = 1;
/** One sendBatch carries at most 100 messages (the Queues limit). */
const FLUSH_BATCH = 100;
/** Backoff for a failed flush: 1 s doubling to 60 s. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export const CastOnlineRequest = z.object({
  electionId: z.string().min(1),
  voterKey: z.string().min(1),
  ballotStyleId: z.string().min(1),
  districtId: z.string().min(1),
  policy: z.enum(["first-wins", "paper-supersedes"]),
  opensAtMs: z.number(),
  closesAtMs: z.number(),
  idempotencyKey: z.string().min(8).max(128),
  ballotId: z.uuid(),
  contests: z.array(ContestMarks).min(1),
  commitment: z.string().min(1),
  trackingCode: z.string().min(1),
  nonce: z.string().min(1),
});
export type CastOnlineRequest = z.infer<typeof CastOnlineRequest>;

export type CastRefusal = "already_voted" | "already_voted_on_paper" | "polls_not_open" | "polls_closed" | "idempotency_conflict";

export interface CastAccepted {
  readonly ballotId: string;
  readonly trackingCode: string;
  readonly commitment: string;
  readonly acceptedAt: string;
  /** How many online ballots this voter cast before this one (paper-supersedes re-votes). */
  readonly revotes: number;
  /** True when this answers a repeat of an earlier request (same idempotency key). */
  readonly replayed: boolean;
}

export type CastOutcome = Result<CastAccepted, CastRefusal>;

interface VoterRow {
  state: "online" | "paper";
  online_ballot_id: string | null;
  revotes: number;
  [key: string]: SqlStorageValue;
}

interface BallotRow {
  ballot_id: string;
  tracking_code: string;
  commitment: string;
  accepted_at: string;
  request_hash: string;
  district_id: string;
  [key: string]: SqlStorageValue;
}

/** What identifies the content of a cast request, to tell a true repeat from a reused key. */
function requestHash(req: CastOnlineRequest): string {
  return JSON.stringify([req.ballotStyleId, req.contests]);
}

export class VoterLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
    const version = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'schema'`).toArray()[0]?.value ?? 0;
    if (version >= SCHEMA_VERSION) return;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`CREATE TABLE voters (
        election_id TEXT NOT NULL, voter_key TEXT NOT NULL, state TEXT NOT NULL,
        online_ballot_id TEXT, revotes INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
        PRIMARY KEY (election_id, voter_key))`);
      this.sql.exec(`CREATE TABLE ballots (
        ballot_id TEXT PRIMARY KEY, election_id TEXT NOT NULL, voter_key TEXT NOT NULL,
        ballot_style_id TEXT NOT NULL, district_id TEXT NOT NULL, channel TEXT NOT NULL,
        marks_json TEXT NOT NULL, commitment TEXT NOT NULL, tracking_code TEXT NOT NULL,
        nonce TEXT NOT NULL, idempotency_key TEXT NOT NULL, request_hash TEXT NOT NULL,
        accepted_at TEXT NOT NULL, status TEXT NOT NULL,
        UNIQUE (election_id, voter_key, idempotency_key))`);
      this.sql.exec(`CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, queue_key TEXT NOT NULL,
        message_json TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0)`);
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)`, SCHEMA_VERSION);
    });
  }

  /** Decides an online cast under the election's cross-channel policy. */
  async castOnline(input: CastOnlineRequest): Promise<CastOutcome> {
    const req = CastOnlineRequest.parse(input);
    const outcome = this.ctx.storage.transactionSync((): CastOutcome => {
      const earlier = this.sql
        .exec<BallotRow>(
          `SELECT ballot_id, tracking_code, commitment, accepted_at, request_hash, district_id FROM ballots
           WHERE election_id = ? AND voter_key = ? AND idempotency_key = ?`,
          req.electionId,
          req.voterKey,
          req.idempotencyKey,
        )
        .toArray()[0];
      if (earlier) {
        if (earlier.request_hash !== requestHash(req)) return err("idempotency_conflict");
        const voter = this.voterRow(req.electionId, req.voterKey);
        return ok({
          ballotId: earlier.ballot_id,
          trackingCode: earlier.tracking_code,
          commitment: earlier.commitment,
          acceptedAt: earlier.accepted_at,
          revotes: voter?.revotes ?? 0,
          replayed: true,
        });
      }

      const now = Date.now();
      if (now < req.opensAtMs) return err("polls_not_open");
      if (now >= req.closesAtMs) return err("polls_closed");

      const voter = this.voterRow(req.electionId, req.voterKey);
      if (voter?.state === "paper") return err("already_voted_on_paper");
      if (voter?.state === "online" && req.policy === "first-wins") return err("already_voted");

      const acceptedAt = coarseTime(new Date(now));
      const stamp = new Date(now).toISOString();
      let revotes = 0;
      if (voter?.state === "online" && voter.online_ballot_id) {
        // paper-supersedes: the latest online ballot counts; the earlier one is retracted.
        revotes = voter.revotes + 1;
        const previous = this.sql
          .exec<BallotRow>(`SELECT ballot_id, tracking_code, commitment, accepted_at, request_hash, district_id FROM ballots WHERE ballot_id = ?`, voter.online_ballot_id)
          .toArray()[0];
        if (previous) {
          this.sql.exec(`UPDATE ballots SET status = 'superseded' WHERE ballot_id = ?`, previous.ballot_id);
          const retraction: BallotRetracted = {
            kind: "retraction",
            ballotId: previous.ballot_id,
            electionId: req.electionId,
            districtId: previous.district_id,
            trackingCode: previous.tracking_code,
            reason: "superseded-by-online",
            retractedAt: acceptedAt,
          };
          this.enqueue(req.voterKey, retraction);
        }
      }

      this.sql.exec(
        `INSERT INTO ballots (ballot_id, election_id, voter_key, ballot_style_id, district_id, channel, marks_json,
           commitment, tracking_code, nonce, idempotency_key, request_hash, accepted_at, status)
         VALUES (?, ?, ?, ?, ?, 'online', ?, ?, ?, ?, ?, ?, ?, 'counted')`,
        req.ballotId,
        req.electionId,
        req.voterKey,
        req.ballotStyleId,
        req.districtId,
        JSON.stringify(req.contests),
        req.commitment,
        req.trackingCode,
        req.nonce,
        req.idempotencyKey,
        requestHash(req),
        acceptedAt,
      );
      this.sql.exec(
        `INSERT INTO voters (election_id, voter_key, state, online_ballot_id, revotes, updated_at)
         VALUES (?, ?, 'online', ?, ?, ?)
         ON CONFLICT (election_id, voter_key) DO UPDATE SET state = 'online',
           online_ballot_id = excluded.online_ballot_id, revotes = excluded.revotes, updated_at = excluded.updated_at`,
        req.electionId,
        req.voterKey,
        req.ballotId,
        revotes,
        stamp,
      );
      const accepted: BallotAccepted = {
        kind: "ballot",
        ballotId: req.ballotId,
        electionId: req.electionId,
        ballotStyleId: req.ballotStyleId,
        districtId: req.districtId,
        channel: "online",
        contests: req.contests,
        trackingCode: req.trackingCode,
        commitment: req.commitment,
        acceptedAt,
      };
      this.enqueue(req.voterKey, accepted);
      return ok({ ballotId: req.ballotId, trackingCode: req.trackingCode, commitment: req.commitment, acceptedAt, revotes, replayed: false });
    });

    if (outcome.ok && !outcome.value.replayed) {
      // A safety net first (durable with the decision), then the fast path.
      await this.ensureAlarm(Date.now() + RETRY_BASE_MS * 5);
      this.ctx.waitUntil(this.flush());
    }
    return outcome;
  }

  /** What the ledger knows of a voter: for officials and the tests, never public. */
  async status(electionId: string, voterKey: string): Promise<{ state: "none" | "online" | "paper"; revotes: number; counted: number }> {
    const voter = this.voterRow(electionId, voterKey);
    const counted = this.sql
      .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ballots WHERE election_id = ? AND voter_key = ? AND status = 'counted'`, electionId, voterKey)
      .toArray()[0]?.n ?? 0;
    return { state: voter?.state ?? "none", revotes: voter?.revotes ?? 0, counted };
  }

  /** Outbox records not yet accepted by a queue (for tests and monitoring). */
  async pendingOutbox(): Promise<number> {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM outbox`).toArray()[0]?.n ?? 0;
  }

  override async alarm(): Promise<void> {
    await this.flush();
    const left = await this.pendingOutbox();
    if (left > 0) {
      const attempts = this.sql.exec<{ a: number }>(`SELECT MAX(attempts) AS a FROM outbox`).toArray()[0]?.a ?? 1;
      await this.ctx.storage.setAlarm(Date.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts, 6)));
    }
  }

  private voterRow(electionId: string, voterKey: string): VoterRow | undefined {
    return this.sql
      .exec<VoterRow>(`SELECT state, online_ballot_id, revotes FROM voters WHERE election_id = ? AND voter_key = ?`, electionId, voterKey)
      .toArray()[0];
  }

  private enqueue(queueKey: string, message: BallotMessage): void {
    this.sql.exec(`INSERT INTO outbox (queue_key, message_json) VALUES (?, ?)`, queueKey, JSON.stringify(message));
  }

  private async ensureAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Sends the outbox to the queues and deletes what they accepted. One flush at a time per
   * object; a request arriving during a flush asks for another round instead of racing it.
   */
  private flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      try {
        do {
          this.flushAgain = false;
          await this.flushOnce();
        } while (this.flushAgain);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; queue_key: string; message_json: string }>(`SELECT seq, queue_key, message_json FROM outbox ORDER BY seq LIMIT ?`, FLUSH_BATCH)
        .toArray();
      if (rows.length === 0) return;
      const byQueue = new Map<Queue<BallotMessage>, { seqs: number[]; messages: { body: BallotMessage }[] }>();
      for (const row of rows) {
        const queue = ballotQueueFor(this.env, row.queue_key);
        const group = byQueue.get(queue) ?? { seqs: [], messages: [] };
        group.seqs.push(row.seq);
        group.messages.push({ body: BallotMessage.parse(JSON.parse(row.message_json)) });
        byQueue.set(queue, group);
      }
      for (const [queue, group] of byQueue) {
        try {
          await queue.sendBatch(group.messages.map((m) => ({ body: m.body, contentType: "json" as const })));
        } catch (error) {
          // Not fatal: the rows stay and the alarm retries with backoff.
          this.sql.exec(`UPDATE outbox SET attempts = attempts + 1 WHERE seq IN (${group.seqs.map(() => "?").join(",")})`, ...group.seqs);
          console.warn(JSON.stringify({ level: "warn", message: "outbox flush failed", error: String(error) }));
          await this.ensureAlarm(Date.now() + RETRY_BASE_MS);
          return;
        }
        this.sql.exec(`DELETE FROM outbox WHERE seq IN (${group.seqs.map(() => "?").join(",")})`, ...group.seqs);
      }
    }
  }
}
