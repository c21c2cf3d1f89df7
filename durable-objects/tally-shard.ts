/**
 * TallyShard: the running count of one slice of one district's ballots, for every contest of the
 * district's ballot style. One object per name `${electionId}/${districtId}/${k}`
 * (lib/tally/shards.ts): k depends only on the ballot id, so a ballot and its retraction
 * always meet here. The ballot id is the record id the queue consumer derives from the tracking
 * code under BALLOT_LINK_KEY (lib/ballot/messages.ts `recordIdOf`); no voter ledger ever holds it. The queue consumer calls applyBatch once per queue batch with this shard's
 * messages; the shard reports its absolute totals to the election's ResultsAggregator.
 *
 * Invariants:
 * - Each ballot id has at most one row in `applied`. The totals hold a ballot's marks exactly when
 *   its row is 'counted'; a row never goes back from 'retracted' to 'counted'. So a re-delivered
 *   ballot or retraction is a no-op, a retraction subtracts the marks stored with the ballot
 *   exactly once, and a retraction that arrives first leaves a 'retracted' row without marks (a
 *   tombstone) that keeps the later ballot out of the totals.
 * - applyBatch reads and writes inside one transactionSync with no await: a batch is applied whole
 *   or not at all, so a consumer that retries after any failure can never count a ballot twice.
 *   CHECK constraints keep every count at zero or above; a violation (a bug) aborts the batch.
 * - `version` grows by one in the same transaction as every change to the totals, so a version
 *   names exactly one set of totals. `reported_version` is the last version the aggregator took.
 * - While version > reported_version an alarm is pending: it is set after every change and, should
 *   the object restart between the commit and setAlarm, again by the constructor. Reports are
 *   absolute and versioned, so a lost, repeated or reordered report never skews the results.
 * - Reports are coalesced: at most one per REPORT_INTERVAL_MS while the aggregator answers, with
 *   a growing pause while it does not.
 *
 * Storage schema (SQLite, version 1):
 *   meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)            -- 'schema'
 *   shard(id INTEGER PRIMARY KEY CHECK (id = 1), name, election_id, district_id,
 *         ballots INTEGER >= 0, version INTEGER, reported_version INTEGER)
 *                                                 -- one row, written by the first applyBatch
 *   applied(ballot_id TEXT PRIMARY KEY, state 'counted'|'retracted', marks_json TEXT NULL)
 *                                                 -- marks (ContestTotals[]) only while counted
 *   contest_totals(contest_id TEXT PRIMARY KEY, write_ins INTEGER >= 0, blanks INTEGER >= 0)
 *   option_totals(contest_id, option_id, votes INTEGER >= 0, PRIMARY KEY (contest_id, option_id))
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { TallyMessage, type BallotAccepted } from "../lib/ballot/messages.ts";
import { assertNever } from "../lib/result.ts";
import {
  addContest,
  ContestTotals,
  contestList,
  newContestCounter,
  type ContestCounter,
  type DistrictTotals,
} from "../lib/tally/totals.ts";
import { parseShardName, tallyShardIndex } from "../lib/tally/shards.ts";
import { ensureSchema } from "./schema.ts";
import { resultsAggregatorFor } from "./addresses.ts";
import { emitEvent } from "../lib/events.ts";

/**
 * Results reach displays within a second of acceptance (DESIGN.md 3.5): queue wait (up to 1 s
 * batch timeout in the worst case, usually far less under load) plus this coalescing delay plus
 * the aggregator's fan-out. 200 ms keeps the shard's share small while capping its reports at
 * 5 per second, whatever the ballot rate.
 */
export const REPORT_INTERVAL_MS = 200;
/** After a failed report: 1 s, doubling, at most 30 s. The aggregator being down loses nothing. */
const REPORT_RETRY_BASE_MS = 1_000;
const REPORT_RETRY_MAX_MS = 30_000;
/** A queue batch holds at most 100 messages; anything far above is a caller's bug. */
const MAX_MESSAGES = 1_000;

const ShardName = z.string().min(1).max(512);
const Messages = z.array(TallyMessage).max(MAX_MESSAGES);
const StoredMarks = z.array(ContestTotals);

export interface ApplyOutcome {
  /** Ballots added to the totals by this call. */
  readonly counted: number;
  /** Ballots taken out of the totals by this call. */
  readonly retracted: number;
  /** Retractions recorded before their ballot (tombstones). */
  readonly tombstones: number;
  /** Messages that changed nothing: re-deliveries, ballots already retracted, repeat retractions. */
  readonly unchanged: number;
  /** The totals' version after this call. */
  readonly version: number;
}

export interface ShardSnapshot {
  readonly name: string;
  readonly version: number;
  readonly reportedVersion: number;
  readonly totals: DistrictTotals;
}

interface ShardRow {
  name: string;
  election_id: string;
  district_id: string;
  ballots: number;
  version: number;
  reported_version: number;
  [key: string]: SqlStorageValue;
}

interface AppliedRow {
  state: "counted" | "retracted";
  marks_json: string | null;
  [key: string]: SqlStorageValue;
}

/** What one ballot adds to the totals: one per marked option, write-in or blank contest. */
export function marksOf(ballot: BallotAccepted): ContestTotals[] {
  return ballot.contests.map((contest) => {
    const writeIns = contest.writeIns ?? {};
    const marked = [...new Set(contest.optionIds)];
    const named = marked.filter((id) => !Object.hasOwn(writeIns, id));
    return {
      contestId: contest.contestId,
      options: named.map((optionId) => ({ optionId, votes: 1 })),
      writeIns: marked.length - named.length,
      blanks: marked.length === 0 ? 1 : 0,
    };
  });
}

export class TallyShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** When the next report may go out: REPORT_INTERVAL_MS after the last, later after failures. */
  private nextReportAt = 0;
  private failedReports = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      const shard = this.shardRow();
      if (shard && shard.version > shard.reported_version && (await ctx.storage.getAlarm()) === null) {
        await ctx.storage.setAlarm(Date.now());
      }
    });
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 1,
      create: (sql) => {
        sql.exec(`CREATE TABLE shard (
          id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, election_id TEXT NOT NULL,
          district_id TEXT NOT NULL, ballots INTEGER NOT NULL CHECK (ballots >= 0),
          version INTEGER NOT NULL, reported_version INTEGER NOT NULL)`);
        sql.exec(`CREATE TABLE applied (
          ballot_id TEXT PRIMARY KEY, state TEXT NOT NULL CHECK (state IN ('counted', 'retracted')),
          marks_json TEXT)`);
        sql.exec(`CREATE TABLE contest_totals (
          contest_id TEXT PRIMARY KEY, write_ins INTEGER NOT NULL CHECK (write_ins >= 0),
          blanks INTEGER NOT NULL CHECK (blanks >= 0))`);
        sql.exec(`CREATE TABLE option_totals (
          contest_id TEXT NOT NULL, option_id TEXT NOT NULL, votes INTEGER NOT NULL CHECK (votes >= 0),
          PRIMARY KEY (contest_id, option_id))`);
      },
    });
  }

  /**
   * Applies one queue batch's messages for this shard, idempotently by ballot id. A message for
   * another election, district or shard is a routing bug: the whole call fails and changes
   * nothing, so the consumer retries it and, failing that, it lands in the dead-letter queue.
   */
  async applyBatch(shardName: string, messages: readonly TallyMessage[]): Promise<ApplyOutcome> {
    const name = ShardName.parse(shardName);
    const batch = Messages.parse(messages);
    const address = parseShardName(name);
    if (!address) throw new Error(`not a tally shard name: ${name}`);
    for (const message of batch) {
      if (
        message.electionId !== address.electionId ||
        message.districtId !== address.districtId ||
        tallyShardIndex(message.ballotId) !== address.index
      ) {
        throw new Error(`ballot ${message.ballotId} does not belong to tally shard ${name}`);
      }
    }

    const outcome = this.ctx.storage.transactionSync((): ApplyOutcome => {
      this.sql.exec(
        `INSERT OR IGNORE INTO shard (id, name, election_id, district_id, ballots, version, reported_version)
         VALUES (1, ?, ?, ?, 0, 0, 0)`,
        name,
        address.electionId,
        address.districtId,
      );
      const shard = this.shardRow();
      if (shard?.name !== name) throw new Error(`tally shard ${shard?.name ?? "?"} was called as ${name}`);

      const delta = new Map<string, ContestCounter>();
      let ballots = 0;
      let counted = 0;
      let retracted = 0;
      let tombstones = 0;
      let unchanged = 0;
      for (const message of batch) {
        const row = this.sql
          .exec<AppliedRow>(`SELECT state, marks_json FROM applied WHERE ballot_id = ?`, message.ballotId)
          .toArray()[0];
        switch (message.kind) {
          case "ballot": {
            if (row) {
              unchanged += 1;
              break;
            }
            const marks = marksOf(message);
            this.sql.exec(
              `INSERT INTO applied (ballot_id, state, marks_json) VALUES (?, 'counted', ?)`,
              message.ballotId,
              JSON.stringify(marks),
            );
            for (const contest of marks) addContest(delta, contest, 1);
            ballots += 1;
            counted += 1;
            break;
          }
          case "retraction": {
            if (!row) {
              this.sql.exec(
                `INSERT INTO applied (ballot_id, state, marks_json) VALUES (?, 'retracted', NULL)`,
                message.ballotId,
              );
              tombstones += 1;
              break;
            }
            if (row.state === "retracted") {
              unchanged += 1;
              break;
            }
            // Only this object wrote marks_json, from marksOf; a failure here is a bug and aborts
            // the whole batch (the transaction rolls back).
            const marks = StoredMarks.parse(JSON.parse(row.marks_json ?? "null"));
            this.sql.exec(
              `UPDATE applied SET state = 'retracted', marks_json = NULL WHERE ballot_id = ?`,
              message.ballotId,
            );
            for (const contest of marks) addContest(delta, contest, -1);
            ballots -= 1;
            retracted += 1;
            break;
          }
          default:
            assertNever(message);
        }
      }

      if (counted + retracted === 0) {
        return { counted, retracted, tombstones, unchanged, version: shard.version };
      }
      // Zero rows first, then relative updates: SQLite checks CHECK constraints on the row an
      // upsert would insert, so a negative delta cannot go through INSERT ... ON CONFLICT.
      for (const [contestId, c] of delta) {
        this.sql.exec(
          `INSERT OR IGNORE INTO contest_totals (contest_id, write_ins, blanks) VALUES (?, 0, 0)`,
          contestId,
        );
        this.sql.exec(
          `UPDATE contest_totals SET write_ins = write_ins + ?, blanks = blanks + ? WHERE contest_id = ?`,
          c.writeIns,
          c.blanks,
          contestId,
        );
        for (const [optionId, votes] of c.options) {
          this.sql.exec(
            `INSERT OR IGNORE INTO option_totals (contest_id, option_id, votes) VALUES (?, ?, 0)`,
            contestId,
            optionId,
          );
          this.sql.exec(
            `UPDATE option_totals SET votes = votes + ? WHERE contest_id = ? AND option_id = ?`,
            votes,
            contestId,
            optionId,
          );
        }
      }
      this.sql.exec(`UPDATE shard SET ballots = ballots + ?, version = version + 1 WHERE id = 1`, ballots);
      return { counted, retracted, tombstones, unchanged, version: shard.version + 1 };
    });

    if (outcome.counted + outcome.retracted > 0) await this.scheduleReport();
    return outcome;
  }

  /** The shard's current totals and versions; undefined before its first batch. */
  async snapshot(): Promise<ShardSnapshot | undefined> {
    const shard = this.shardRow();
    if (!shard) return undefined;
    return {
      name: shard.name,
      version: shard.version,
      reportedVersion: shard.reported_version,
      totals: this.totalsOf(shard),
    };
  }

  /** Sends the current totals to the aggregator; a failure reschedules with a growing pause. */
  override async alarm(): Promise<void> {
    const shard = this.shardRow();
    if (!shard || shard.version <= shard.reported_version) return;
    // Read together with no await between: the totals are exactly those of `shard.version`.
    const totals = this.totalsOf(shard);
    const aggregator = resultsAggregatorFor(this.env, shard.election_id);
    try {
      await aggregator.report(shard.name, shard.version, totals);
    } catch (error) {
      // Not fatal: the totals stay here and the next report carries them (they are absolute).
      this.failedReports += 1;
      const pause = Math.min(REPORT_RETRY_BASE_MS * 2 ** (this.failedReports - 1), REPORT_RETRY_MAX_MS);
      this.nextReportAt = Date.now() + pause;
      emitEvent("tally_report_failed", {
        shard: shard.name,
        version: shard.version,
        retryInMs: pause,
        error: String(error),
      });
      await this.ctx.storage.setAlarm(this.nextReportAt);
      return;
    }
    this.failedReports = 0;
    this.nextReportAt = Date.now() + REPORT_INTERVAL_MS;
    this.sql.exec(`UPDATE shard SET reported_version = MAX(reported_version, ?) WHERE id = 1`, shard.version);
    const now = this.shardRow();
    if (now && now.version > shard.version) await this.scheduleReport();
  }

  private scheduleReport(): Promise<void> {
    return this.ctx.storage.setAlarm(Math.max(Date.now(), this.nextReportAt));
  }

  private shardRow(): ShardRow | undefined {
    return this.sql
      .exec<ShardRow>(
        `SELECT name, election_id, district_id, ballots, version, reported_version FROM shard WHERE id = 1`,
      )
      .toArray()[0];
  }

  private totalsOf(shard: ShardRow): DistrictTotals {
    const counters = new Map<string, ContestCounter>();
    for (const row of this.sql.exec<{ contest_id: string; write_ins: number; blanks: number }>(
      `SELECT contest_id, write_ins, blanks FROM contest_totals`,
    )) {
      counters.set(row.contest_id, { ...newContestCounter(), writeIns: row.write_ins, blanks: row.blanks });
    }
    for (const row of this.sql.exec<{ contest_id: string; option_id: string; votes: number }>(
      `SELECT contest_id, option_id, votes FROM option_totals`,
    )) {
      let counter = counters.get(row.contest_id);
      if (!counter) {
        counter = newContestCounter();
        counters.set(row.contest_id, counter);
      }
      counter.options.set(row.option_id, row.votes);
    }
    return { districtId: shard.district_id, ballots: shard.ballots, contests: contestList(counters) };
  }
}
