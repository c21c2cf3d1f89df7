/**
 * VoterLedger: the single point of truth for "has this person voted, how, where" in an election.
 * It is the only place that links a voter to a ballot, and it links them only to the ballot's
 * tracking code and commitment: it never holds the id that the marks are stored under in D1, the
 * tally shards, the log pool or the dead letters (the queue consumer derives that id from the
 * tracking code under BALLOT_LINK_KEY, which no ledger reader holds; lib/ballot/messages.ts).
 *
 * One object holds one voter or one hash bucket of voters (durable-objects/addresses.ts): the
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
 * - A cast repeated with the same idempotency key changes nothing and answers the original
 *   ballot's receipt fields with its stored nonce and status; the gateway recomputes the
 *   commitment from the repeated marks with that nonce and refuses the request when it differs
 *   (same key, other content), and tells the voter when that ballot no longer counts.
 * - checkIn decides in the same way: under first-wins an online ballot refuses the check-in and a
 *   check-in blocks any later online ballot; under paper-supersedes the check-in cancels the
 *   online ballot (retraction queued in the same transaction). A second check-in is refused and
 *   recorded (a conflict for adjudication), never silently accepted. An accepted check-in queues
 *   a `check-in` message (no voter key) in the same transaction, so check-ins are counted per
 *   station for reconciliation exactly when the ledger accepted them.
 * - An offline check-in (decidedAtMs, the station's signed time) is decided as of that time: the
 *   polls window and the stored minute are its. A refusal of one also answers what the ledger knows
 *   of the voter's other channel (the minute of the counted online ballot, or the station and
 *   minute of the accepted check-in) for the gateway's conflict row; an online check-in's refusal
 *   answers its code only, as ever.
 * - At `forgetLinksAtMs` (after polls close) the alarm deletes the election's ballot rows (with
 *   their nonces) and the voters' online_ballot_id: from then on nothing links a voter to a
 *   ballot, not even its tracking code, and no commitment can be opened. It waits for an empty
 *   outbox, whose rows hold the ballots' messages (never the voter key, since schema 4).
 * - The outbox (outbox.ts) is flushed right after each decision and by alarm until empty
 *   (at-least-once; consumers dedupe by ballot id).
 *
 * Storage schema (SQLite, version 4):
 *   voters(election_id, voter_key, state 'online'|'paper', online_ballot_id, revotes,
 *          updated_at; PRIMARY KEY (election_id, voter_key))       -- absent row: not voted
 *     -- online_ballot_id holds the tracking code of the voter's counted online ballot (the
 *     -- column kept its name in version 4, when ballots lost their ballot id)
 *   ballots(election_id, voter_key, tracking_code, ballot_style_id, district_id, channel,
 *           commitment, nonce, idempotency_key, accepted_at,
 *           status 'counted'|'superseded'|'cancelled'; PRIMARY KEY (election_id, tracking_code),
 *           UNIQUE (election_id, voter_key, idempotency_key))
 *     -- no marks: the ledger links a voter to a commitment, never to a choice. The nonce (32
 *     -- random bytes per cast) lets a repeated request be checked against the original marks
 *     -- and is deleted with the row; it is NULL for rows written before version 4, whose
 *     -- nonce was derived, and a repeat of such a request is refused as a conflict. Version 2
 *     -- dropped the columns version 1 had for marks, nonce and a request hash; version 4
 *     -- dropped ballot_id and keyed the outbox by the message instead of the voter.
 *   check_ins(check_in_id, election_id, voter_key, station_id, identity, at, request_hash,
 *             outcome 'accepted'|refusal code; PRIMARY KEY (election_id, check_in_id))
 *   forget_links(election_id PK, at INTEGER, done INTEGER)  -- version 3
 *   outbox: see outbox.ts
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import {
  ContestMarks,
  coarseTime,
  type CheckInRecorded,
  type QueuedBallot,
  type QueuedRetraction,
} from "../lib/ballot/messages.ts";
import type { CompiledElection } from "../lib/election/model.ts";
import { votingEndsAtMs } from "../lib/election/polls.ts";
import { err, ok, type Err, type Ok, type Result } from "../lib/result.ts";
import { Outbox, OUTBOX_TABLE_SQL, type OutboxCounts } from "./outbox.ts";
import { ensureSchema } from "./schema.ts";
import { CheckInIdentity, CrossChannelPolicy } from "../lib/vocabulary.ts";

/** What every ledger decision is told: whose, where, under which policy, and the poll times. */
const LedgerDecision = z.object({
  electionId: z.string().min(1),
  voterKey: z.string().min(1),
  ballotStyleId: z.string().min(1),
  districtId: z.string().min(1),
  policy: CrossChannelPolicy,
  opensAtMs: z.number(),
  /** When voting ends: the scheduled close, or an administrator's early close (votingEndsAtMs). */
  closesAtMs: z.number(),
});

type LedgerDecision = z.infer<typeof LedgerDecision>;

/** The voter a ledger request is about, as the session or the roll knows them. */
interface LedgerVoter {
  readonly voterKey: string;
  readonly ballotStyleId: string;
  readonly districtId: string;
}

/**
 * The fields every ledger request carries: who, under which policy, within which poll times. The
 * ledger refuses from the instant voting ends, which an early close brings forward; forgetting
 * the links stays on the scheduled close (forgetLinksAtMs), since a reopen must stay possible.
 */
export function ledgerDecision(election: CompiledElection, voter: LedgerVoter): LedgerDecision {
  return {
    electionId: election.id,
    voterKey: voter.voterKey,
    ballotStyleId: voter.ballotStyleId,
    districtId: voter.districtId,
    policy: election.settings.crossChannelPolicy,
    opensAtMs: election.polls.opensAtMs,
    closesAtMs: votingEndsAtMs(election),
  };
}

/** The ballots table; schema 4's upgrade builds it under another name and renames it. */
const BALLOTS_TABLE_SQL = (name: string): string => `CREATE TABLE ${name} (
  election_id TEXT NOT NULL, voter_key TEXT NOT NULL, tracking_code TEXT NOT NULL,
  ballot_style_id TEXT NOT NULL, district_id TEXT NOT NULL, channel TEXT NOT NULL,
  commitment TEXT NOT NULL, nonce TEXT, idempotency_key TEXT NOT NULL,
  accepted_at TEXT NOT NULL, status TEXT NOT NULL,
  PRIMARY KEY (election_id, tracking_code), UNIQUE (election_id, voter_key, idempotency_key))`;

const BALLOT_COLUMNS = "tracking_code, commitment, nonce, accepted_at, district_id, status";

/**
 * How long after close the ledgers keep voter-ballot links: long enough for a voter whose cast was
 * accepted just before close to retry and get the same receipt, short next to the count.
 */
const FORGET_LINKS_AFTER_CLOSE_MS = 15 * 60_000;

/** When an election's ledgers destroy the links from voters to their online ballots. */
export function forgetLinksAtMs(election: CompiledElection): number {
  return election.polls.closesAtMs + FORGET_LINKS_AFTER_CLOSE_MS;
}

export const CastOnlineRequest = LedgerDecision.extend({
  /**
   * When the links from voters to their online ballots are destroyed (DESIGN.md section 4): after
   * close, once retries of late casts had time to get their receipts: forgetLinksAtMs(election).
   */
  forgetLinksAtMs: z.number(),
  idempotencyKey: z.string().min(8).max(128),
  contests: z.array(ContestMarks).min(1),
  /** The random nonce the commitment was made with (lib/ballot/commitment.ts `newNonce`). */
  nonce: z.string().min(32).max(64),
  commitment: z.string().min(1),
  trackingCode: z.string().min(1),
});
export type CastOnlineRequest = z.infer<typeof CastOnlineRequest>;

export type CastRefusal =
  "already_voted" | "already_voted_on_paper" | "polls_not_open" | "polls_closed" | "idempotency_conflict";

/** What the ledger keeps of an online ballot's standing (the voter's own truth, never public). */
export type LedgerBallotStatus = "counted" | "superseded" | "cancelled";

export interface CastAccepted {
  readonly trackingCode: string;
  readonly commitment: string;
  /** The nonce of the stored commitment; null for a ballot stored before schema 4. */
  readonly nonce: string | null;
  readonly acceptedAt: string;
  /** Whether this ballot still counts: a repeat may name a ballot replaced since. */
  readonly status: LedgerBallotStatus;
  /** How many online ballots this voter cast before this one (paper-supersedes re-votes). */
  readonly revotes: number;
  /** True when this answers a repeat of an earlier request (same idempotency key). */
  readonly replayed: boolean;
}

export type CastOutcome = Result<CastAccepted, CastRefusal>;

export const CheckInRequest = LedgerDecision.extend({
  stationId: z.string().min(1),
  /** Chosen by the station (its outbox key): a replay returns the original answer. */
  checkInId: z.string().min(8).max(128),
  /** How the official verified identity: the ID card, and a biometric match where available. */
  identity: CheckInIdentity,
  /**
   * An offline check-in: when the station decided it (its signed clock, checked by the gateway).
   * The ledger decides as of then (the polls window on it, the minute stored), and a refusal
   * carries what it knows of the voter's other channel, for the conflict's row.
   */
  decidedAtMs: z.number().optional(),
});
export type CheckInRequest = z.infer<typeof CheckInRequest>;

const CheckInRefusal = z.enum([
  "already_voted_online",
  "already_checked_in",
  "polls_not_open",
  "polls_closed",
  "idempotency_conflict",
]);
export type CheckInRefusal = z.infer<typeof CheckInRefusal>;

export interface CheckInAccepted {
  /** The station issues a paper ballot of this style. */
  readonly issueBallotStyleId: string;
  /** Under paper-supersedes: the voter's online ballot was cancelled by this check-in. */
  readonly cancelledOnlineBallot: boolean;
  readonly replayed: boolean;
}

/**
 * The voter's other channel, as the ledger knows it when it refuses an offline check-in: the
 * minute of the counted online ballot (null once the links were forgotten), or the station and
 * minute of the accepted check-in. Only ever returned for offline check-ins: an online check-in's
 * refusal says nothing more than its code.
 */
export type OtherChannel =
  | { readonly channel: "online"; readonly minute: string | null }
  | { readonly channel: "paper"; readonly stationId: string; readonly minute: string };

export type CheckInOutcome = Ok<CheckInAccepted> | (Err<CheckInRefusal> & { readonly other?: OtherChannel });

interface VoterRow {
  state: "online" | "paper";
  online_ballot_id: string | null;
  revotes: number;
  [key: string]: SqlStorageValue;
}

interface BallotRow {
  tracking_code: string;
  commitment: string;
  nonce: string | null;
  accepted_at: string;
  district_id: string;
  status: LedgerBallotStatus;
  [key: string]: SqlStorageValue;
}

/** The voter's own view of their ballots (GET /v1/elections/{id}/my-ballot), never public. */
export interface MyBallot {
  /** How the voter voted: not at all, online (latest ballot counts), or checked in on paper. */
  readonly state: "none" | "online" | "paper";
  /** Whether a station checked the voter in for a paper ballot. */
  readonly checkedInOnPaper: boolean;
  /** The voter's online ballots, oldest first, each with whether it still counts. */
  readonly ballots: readonly { trackingCode: string; acceptedAt: string; status: LedgerBallotStatus }[];
  /** False once the forget time passed: the ballots above are then no longer known. */
  readonly linksKept: boolean;
}

export class VoterLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly outbox: Outbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Once its messages are sent, the ledger's alarm is needed only to forget voter-ballot links.
    this.outbox = new Outbox(ctx, env, { nextAlarm: () => this.nextForgetAt() });
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 4,
      create: (sql) => {
        sql.exec(`CREATE TABLE voters (
          election_id TEXT NOT NULL, voter_key TEXT NOT NULL, state TEXT NOT NULL,
          online_ballot_id TEXT, revotes INTEGER NOT NULL DEFAULT 0, updated_at TEXT NOT NULL,
          PRIMARY KEY (election_id, voter_key))`);
        sql.exec(BALLOTS_TABLE_SQL("ballots"));
        sql.exec(`CREATE TABLE check_ins (
          election_id TEXT NOT NULL, check_in_id TEXT NOT NULL, voter_key TEXT NOT NULL,
          station_id TEXT NOT NULL, identity TEXT NOT NULL, at TEXT NOT NULL,
          request_hash TEXT NOT NULL, outcome TEXT NOT NULL, cancelled_online INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (election_id, check_in_id))`);
        sql.exec(
          `CREATE TABLE forget_links (election_id TEXT PRIMARY KEY, at INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0)`,
        );
        sql.exec(OUTBOX_TABLE_SQL);
      },
      upgrades: [
        // 1 -> 2: the ledger keeps no marks and no nonce (see the schema above).
        (sql) => {
          sql.exec(`ALTER TABLE ballots DROP COLUMN marks_json`);
          sql.exec(`ALTER TABLE ballots DROP COLUMN nonce`);
          sql.exec(`ALTER TABLE ballots DROP COLUMN request_hash`);
        },
        // 2 -> 3: when each election's voter-ballot links are destroyed.
        (sql) => {
          sql.exec(
            `CREATE TABLE forget_links (election_id TEXT PRIMARY KEY, at INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0)`,
          );
        },
        // 3 -> 4: no ballot id here (it was the marks' id downstream), a nonce per ballot, voters
        // pointing at their counted ballot by tracking code, and outbox rows keyed by their
        // message rather than by the voter. The queued messages lose their ballot id when the
        // outbox parses them (QueuedMessage strips it).
        (sql) => {
          sql.exec(BALLOTS_TABLE_SQL("ballots_v4"));
          sql.exec(`INSERT INTO ballots_v4 (election_id, voter_key, tracking_code, ballot_style_id, district_id,
              channel, commitment, nonce, idempotency_key, accepted_at, status)
            SELECT election_id, voter_key, tracking_code, ballot_style_id, district_id,
              channel, commitment, NULL, idempotency_key, accepted_at, status FROM ballots`);
          sql.exec(`UPDATE voters SET online_ballot_id =
              (SELECT tracking_code FROM ballots WHERE ballots.ballot_id = voters.online_ballot_id)
            WHERE online_ballot_id IS NOT NULL`);
          sql.exec(`DROP TABLE ballots`);
          sql.exec(`ALTER TABLE ballots_v4 RENAME TO ballots`);
          sql.exec(`UPDATE outbox SET queue_key = COALESCE(json_extract(message_json, '$.trackingCode'),
              json_extract(message_json, '$.checkInId'), queue_key)`);
        },
      ],
    });
  }

  /** Decides an online cast under the election's cross-channel policy. */
  async castOnline(input: CastOnlineRequest): Promise<CastOutcome> {
    const req = CastOnlineRequest.parse(input);
    const outcome = this.ctx.storage.transactionSync((): CastOutcome => {
      const earlier = this.sql
        .exec<BallotRow>(
          `SELECT ${BALLOT_COLUMNS} FROM ballots WHERE election_id = ? AND voter_key = ? AND idempotency_key = ?`,
          req.electionId,
          req.voterKey,
          req.idempotencyKey,
        )
        .toArray()[0];
      if (earlier) {
        // The gateway checks the repeated marks against this commitment and nonce; a row from
        // before schema 4 has no nonce to check with, so its key cannot be answered for.
        if (earlier.nonce === null) return err("idempotency_conflict");
        const voter = this.voterRow(req.electionId, req.voterKey);
        return ok({
          trackingCode: earlier.tracking_code,
          commitment: earlier.commitment,
          nonce: earlier.nonce,
          acceptedAt: earlier.accepted_at,
          status: earlier.status,
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
      let revotes = 0;
      if (voter?.state === "online" && voter.online_ballot_id) {
        // paper-supersedes: the latest online ballot counts; the earlier one is retracted.
        revotes = voter.revotes + 1;
        this.retractOnline(req.electionId, req.voterKey, voter.online_ballot_id, "superseded-by-online", acceptedAt);
      }

      this.sql.exec(
        `INSERT INTO ballots (election_id, voter_key, tracking_code, ballot_style_id, district_id, channel,
           commitment, nonce, idempotency_key, accepted_at, status)
         VALUES (?, ?, ?, ?, ?, 'online', ?, ?, ?, ?, 'counted')`,
        req.electionId,
        req.voterKey,
        req.trackingCode,
        req.ballotStyleId,
        req.districtId,
        req.commitment,
        req.nonce,
        req.idempotencyKey,
        acceptedAt,
      );
      this.setVoterState(req.electionId, req.voterKey, "online", req.trackingCode, revotes, now);
      const accepted: QueuedBallot = {
        kind: "ballot",
        electionId: req.electionId,
        ballotStyleId: req.ballotStyleId,
        districtId: req.districtId,
        channel: "online",
        contests: req.contests,
        trackingCode: req.trackingCode,
        commitment: req.commitment,
        acceptedAt,
      };
      this.outbox.enqueue(accepted);
      this.sql.exec(
        `INSERT OR IGNORE INTO forget_links (election_id, at) VALUES (?, ?)`,
        req.electionId,
        req.forgetLinksAtMs,
      );
      return ok({
        trackingCode: req.trackingCode,
        commitment: req.commitment,
        nonce: req.nonce,
        acceptedAt,
        status: "counted",
        revotes,
        replayed: false,
      });
    });

    if (outcome.ok && !outcome.value.replayed) {
      await this.outbox.afterCommit();
      await this.outbox.ensureAlarm(req.forgetLinksAtMs);
    }
    return outcome;
  }

  /** Decides a station's check-in under the election's cross-channel policy. */
  async checkIn(input: CheckInRequest): Promise<CheckInOutcome> {
    const req = CheckInRequest.parse(input);
    // Who, where and how, not when nor whether it was decided offline: a station whose online
    // request timed out after we had answered decides offline and sends the same check-in again,
    // with its time and an envelope; that is a repeat of the first, answered as it was.
    const hash = JSON.stringify([req.voterKey, req.stationId, req.identity]);
    let cancelled = false;
    const outcome = this.ctx.storage.transactionSync((): CheckInOutcome => {
      const earlier = this.sql
        .exec<{ request_hash: string; outcome: string; cancelled_online: number }>(
          `SELECT request_hash, outcome, cancelled_online FROM check_ins WHERE election_id = ? AND check_in_id = ?`,
          req.electionId,
          req.checkInId,
        )
        .toArray()[0];
      if (earlier) {
        if (earlier.request_hash !== hash) return err("idempotency_conflict");
        if (earlier.outcome !== "accepted") return this.refusal(req, CheckInRefusal.parse(earlier.outcome));
        return ok({
          issueBallotStyleId: req.ballotStyleId,
          cancelledOnlineBallot: earlier.cancelled_online === 1,
          replayed: true,
        });
      }
      const now = req.decidedAtMs ?? Date.now();
      if (now < req.opensAtMs) return err("polls_not_open");
      if (now >= req.closesAtMs) return err("polls_closed");

      // To the minute, as every other stored time of a ballot or check-in: a millisecond time
      // beside the scans' minutes would order a quiet station's voters (security review M11).
      const at = coarseTime(new Date(now));
      const record = (result: "accepted" | CheckInRefusal, cancelledOnline: boolean): void => {
        this.sql.exec(
          `INSERT INTO check_ins (election_id, check_in_id, voter_key, station_id, identity, at, request_hash, outcome, cancelled_online)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          req.electionId,
          req.checkInId,
          req.voterKey,
          req.stationId,
          req.identity,
          at,
          hash,
          result,
          cancelledOnline ? 1 : 0,
        );
      };
      const voter = this.voterRow(req.electionId, req.voterKey);
      if (voter?.state === "paper") {
        // A second check-in is a conflict: recorded for adjudication, never accepted.
        const refused = this.refusal(req, "already_checked_in");
        record("already_checked_in", false);
        return refused;
      }
      if (voter?.state === "online") {
        if (req.policy === "first-wins") {
          record("already_voted_online", false);
          return this.refusal(req, "already_voted_online");
        }
        if (voter.online_ballot_id) {
          this.retractOnline(
            req.electionId,
            req.voterKey,
            voter.online_ballot_id,
            "cancelled-by-paper",
            coarseTime(new Date(now)),
          );
          cancelled = true;
        }
      }
      this.setVoterState(req.electionId, req.voterKey, "paper", null, voter?.revotes ?? 0, now);
      record("accepted", cancelled);
      const counted: CheckInRecorded = {
        kind: "check-in",
        checkInId: req.checkInId,
        electionId: req.electionId,
        stationId: req.stationId,
        districtId: req.districtId,
        checkedInAt: coarseTime(new Date(now)),
      };
      this.outbox.enqueue(counted);
      return ok({ issueBallotStyleId: req.ballotStyleId, cancelledOnlineBallot: cancelled, replayed: false });
    });
    // Every accepted check-in queued at least its check-in message (and maybe a retraction).
    if (outcome.ok && !outcome.value.replayed) await this.outbox.afterCommit();
    return outcome;
  }

  /**
   * A refusal; for an offline check-in, with what the ledger knows of the voter's other channel
   * (read before this check-in's own row is written). Inside the caller's transaction.
   */
  private refusal(req: CheckInRequest, code: CheckInRefusal): CheckInOutcome {
    if (req.decidedAtMs === undefined) return err(code);
    if (code === "already_voted_online") {
      const minute =
        this.sql
          .exec<{ accepted_at: string }>(
            `SELECT b.accepted_at FROM voters v JOIN ballots b
               ON b.election_id = v.election_id AND b.tracking_code = v.online_ballot_id
             WHERE v.election_id = ? AND v.voter_key = ?`,
            req.electionId,
            req.voterKey,
          )
          .toArray()[0]?.accepted_at ?? null;
      return { ...err(code), other: { channel: "online", minute } };
    }
    if (code === "already_checked_in") {
      const accepted = this.sql
        .exec<{ station_id: string; at: string }>(
          `SELECT station_id, at FROM check_ins WHERE election_id = ? AND voter_key = ? AND outcome = 'accepted'`,
          req.electionId,
          req.voterKey,
        )
        .toArray()[0];
      if (accepted)
        return { ...err(code), other: { channel: "paper", stationId: accepted.station_id, minute: accepted.at } };
    }
    return err(code);
  }

  /** What the ledger knows of a voter: for officials and the tests, never public. */
  async status(
    electionId: string,
    voterKey: string,
  ): Promise<{ state: "none" | "online" | "paper"; revotes: number; counted: number }> {
    const voter = this.voterRow(electionId, voterKey);
    const counted =
      this.sql
        .exec<{ n: number }>(
          `SELECT COUNT(*) AS n FROM ballots WHERE election_id = ? AND voter_key = ? AND status = 'counted'`,
          electionId,
          voterKey,
        )
        .toArray()[0]?.n ?? 0;
    return { state: voter?.state ?? "none", revotes: voter?.revotes ?? 0, counted };
  }

  /** The voter's own view: their online ballots and whether each counts, and any paper check-in. */
  async myBallot(electionId: string, voterKey: string): Promise<MyBallot> {
    const voter = this.voterRow(electionId, voterKey);
    const checkedIn =
      (this.sql
        .exec<{ n: number }>(
          `SELECT COUNT(*) AS n FROM check_ins WHERE election_id = ? AND voter_key = ? AND outcome = 'accepted'`,
          electionId,
          voterKey,
        )
        .toArray()[0]?.n ?? 0) > 0;
    const ballots = this.sql
      .exec<BallotRow>(
        `SELECT ${BALLOT_COLUMNS} FROM ballots WHERE election_id = ? AND voter_key = ? ORDER BY accepted_at, rowid`,
        electionId,
        voterKey,
      )
      .toArray()
      .map((b) => ({ trackingCode: b.tracking_code, acceptedAt: b.accepted_at, status: b.status }));
    const forgotten =
      this.sql.exec<{ done: number }>(`SELECT done FROM forget_links WHERE election_id = ?`, electionId).toArray()[0]
        ?.done === 1;
    return { state: voter?.state ?? "none", checkedInOnPaper: checkedIn, ballots, linksKept: !forgotten };
  }

  /** Outbox records not yet accepted by a queue (for tests and monitoring). */
  async pendingOutbox(): Promise<number> {
    return this.outbox.pending();
  }

  /** What this object queued for an election, and what is unsent (the log's drain check). */
  async outboxCounts(electionId: string): Promise<OutboxCounts> {
    return this.outbox.counts(electionId);
  }

  override async alarm(): Promise<void> {
    await this.outbox.onAlarm();
    await this.forgetDueLinks();
  }

  /** When the next election's voter-ballot links are to be forgotten (undefined: none left). */
  private nextForgetAt(): number | undefined {
    return (
      this.sql.exec<{ at: number | null }>(`SELECT MIN(at) AS at FROM forget_links WHERE done = 0`).toArray()[0]?.at ??
      undefined
    );
  }

  /** Destroys the voter-ballot links of every election whose time has come; re-arms for the rest. */
  private async forgetDueLinks(): Promise<void> {
    const now = Date.now();
    const waiting = this.sql
      .exec<{ election_id: string; at: number }>(`SELECT election_id, at FROM forget_links WHERE done = 0`)
      .toArray();
    if (waiting.length === 0) return;
    // The outbox names voter and ballot together; forget only once it has been delivered.
    const outboxEmpty = this.outbox.pending() === 0;
    let next: number | undefined;
    for (const { election_id: electionId, at } of waiting) {
      if (now >= at && outboxEmpty) {
        this.ctx.storage.transactionSync(() => {
          this.sql.exec(`DELETE FROM ballots WHERE election_id = ?`, electionId);
          this.sql.exec(`UPDATE voters SET online_ballot_id = NULL WHERE election_id = ?`, electionId);
          this.sql.exec(`UPDATE forget_links SET done = 1 WHERE election_id = ?`, electionId);
        });
      } else {
        const due = now >= at ? now + 5_000 : at;
        next = next === undefined ? due : Math.min(next, due);
      }
    }
    if (next !== undefined) await this.outbox.ensureAlarm(next);
  }

  /** Whether any ballot row of the election remains (for tests and officials). */
  async linksRemain(electionId: string): Promise<boolean> {
    return (
      (this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ballots WHERE election_id = ?`, electionId).toArray()[0]
        ?.n ?? 0) > 0
    );
  }

  private voterRow(electionId: string, voterKey: string): VoterRow | undefined {
    return this.sql
      .exec<VoterRow>(
        `SELECT state, online_ballot_id, revotes FROM voters WHERE election_id = ? AND voter_key = ?`,
        electionId,
        voterKey,
      )
      .toArray()[0];
  }

  private setVoterState(
    electionId: string,
    voterKey: string,
    state: "online" | "paper",
    onlineBallotId: string | null,
    revotes: number,
    now: number,
  ): void {
    this.sql.exec(
      `INSERT INTO voters (election_id, voter_key, state, online_ballot_id, revotes, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (election_id, voter_key) DO UPDATE SET state = excluded.state,
         online_ballot_id = excluded.online_ballot_id, revotes = excluded.revotes, updated_at = excluded.updated_at`,
      electionId,
      voterKey,
      state,
      onlineBallotId,
      revotes,
      new Date(now).toISOString(),
    );
  }

  /**
   * Synchronous; inside the caller's transaction. Marks the voter's ballot with this tracking code
   * and queues its retraction, which names it by tracking code only (the consumer derives its id).
   */
  private retractOnline(
    electionId: string,
    voterKey: string,
    trackingCode: string,
    reason: QueuedRetraction["reason"],
    at: string,
  ): void {
    const previous = this.sql
      .exec<BallotRow>(
        `SELECT ${BALLOT_COLUMNS} FROM ballots WHERE election_id = ? AND voter_key = ? AND tracking_code = ?`,
        electionId,
        voterKey,
        trackingCode,
      )
      .toArray()[0];
    if (!previous) return;
    this.sql.exec(
      `UPDATE ballots SET status = ? WHERE election_id = ? AND tracking_code = ?`,
      reason === "superseded-by-online" ? "superseded" : "cancelled",
      electionId,
      trackingCode,
    );
    const retraction: QueuedRetraction = {
      kind: "retraction",
      electionId,
      districtId: previous.district_id,
      trackingCode: previous.tracking_code,
      reason,
      retractedAt: at,
    };
    this.outbox.enqueue(retraction);
  }
}
