/**
 * The D1 side of a queue batch: anonymous cast vote records, the receipts that tracking codes
 * resolve to, and station check-ins (db/schema.ts `cast_vote_records`, `receipts`, `check_ins`),
 * written by the tally consumer (workers/tally/consumer.ts) from the same messages the tally
 * shards count.
 *
 * What must stay true:
 * - One D1 batch per queue batch: D1 runs a batch as one transaction, so the batch is
 *   written whole or not at all, and the consumer retries it whole.
 * - Every statement is idempotent (INSERT OR IGNORE, upserts and UPDATEs that only move forward),
 *   so a re-delivered message writes nothing new, in any order.
 * - A retraction may come before its ballot. It leaves the receipt with its final status (and an
 *   empty commitment until the ballot fills it in); the ballot's record is then inserted already
 *   retracted, by looking that receipt up inside the INSERT. Ballots are written before
 *   retractions within a batch, so both in one batch end the same way.
 * - No statement binds more than D1's limit of parameters (lib/d1-limits.ts): each multi-row
 *   statement carries rowsPerStatement(its columns) rows, the retractions' IN list
 *   rowsPerStatement(1) = 100 ids.
 * - The cast vote record gets neither the voter key (the message has none) nor the tracking code:
 *   the tracking code is bound only to look the receipt up, never stored beside the marks.
 * - `cvr_id` is the record id the consumer derived from the tracking code under BALLOT_LINK_KEY
 *   (lib/ballot/messages.ts `recordIdOf`), an id no voter ledger holds; a retraction carries the
 *   same derived id, so it finds its record without the ledger ever naming it.
 *
 * Plain prepared statements rather than the drizzle query builder: the parameter count of each
 * statement must be exact, and multi-row upserts with a subquery per row are clearest as SQL.
 */
import {
  coarseTime,
  type BallotAccepted,
  type BallotMessage,
  type BallotRetracted,
  type CheckInRecorded,
} from "../../lib/ballot/messages.ts";
import { chunksOf, rowsPerStatement } from "../../lib/d1-limits.ts";

/** Bound parameters per row of each multi-row statement: 11, 25 and 20 rows per statement. */
const CVR_COLUMNS = 9;
const RECEIPT_COLUMNS = 4;
const CHECK_IN_COLUMNS = 5;

/**
 * A record keeps only the day it was accepted: the ledger (and the station's check-ins) know the
 * minute, and in a quiet district a minute beside the marks would join them (security review M11).
 */
function dayOf(acceptedAt: string): string {
  return `${acceptedAt.slice(0, 10)}T00:00:00.000Z`;
}

function placeholders(rows: number, row: string): string {
  return Array.from({ length: rows }, () => row).join(", ");
}

function cvrStatements(db: D1Database, ballots: readonly BallotAccepted[]): D1PreparedStatement[] {
  return chunksOf(ballots, rowsPerStatement(CVR_COLUMNS)).map((chunk) =>
    db
      .prepare(
        `INSERT OR IGNORE INTO cast_vote_records
           (cvr_id, election_id, ballot_style_id, district_id, channel, station_id, marks_json, retracted, recorded_at)
         VALUES ${placeholders(
           chunk.length,
           `(?, ?, ?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM receipts WHERE tracking_code = ? AND status <> 'recorded'), ?)`,
         )}`,
      )
      .bind(
        ...chunk.flatMap((b) => [
          b.ballotId,
          b.electionId,
          b.ballotStyleId,
          b.districtId,
          b.channel,
          b.stationId ?? null,
          JSON.stringify(b.contests),
          b.trackingCode,
          dayOf(b.acceptedAt),
        ]),
      ),
  );
}

function recordedReceiptStatements(db: D1Database, ballots: readonly BallotAccepted[]): D1PreparedStatement[] {
  return chunksOf(ballots, rowsPerStatement(RECEIPT_COLUMNS)).map((chunk) =>
    db
      .prepare(
        `INSERT INTO receipts (tracking_code, election_id, commitment, status, recorded_at)
         VALUES ${placeholders(chunk.length, `(?, ?, ?, 'recorded', ?)`)}
         ON CONFLICT (tracking_code) DO UPDATE SET commitment = excluded.commitment, recorded_at = excluded.recorded_at
         WHERE receipts.commitment = ''`,
      )
      .bind(...chunk.flatMap((b) => [b.trackingCode, b.electionId, b.commitment, coarseTime(new Date(b.acceptedAt))])),
  );
}

function retractionStatements(db: D1Database, retractions: readonly BallotRetracted[]): D1PreparedStatement[] {
  const cvrs = chunksOf(retractions, rowsPerStatement(1)).map((chunk) =>
    db
      .prepare(
        `UPDATE cast_vote_records SET retracted = 1 WHERE retracted = 0 AND cvr_id IN (${chunk.map(() => "?").join(", ")})`,
      )
      .bind(...chunk.map((r) => r.ballotId)),
  );
  const receipts = chunksOf(retractions, rowsPerStatement(RECEIPT_COLUMNS)).map((chunk) =>
    db
      .prepare(
        `INSERT INTO receipts (tracking_code, election_id, commitment, status, recorded_at)
         VALUES ${placeholders(chunk.length, `(?, ?, '', ?, ?)`)}
         ON CONFLICT (tracking_code) DO UPDATE SET status = excluded.status
         WHERE receipts.status = 'recorded'`,
      )
      .bind(
        ...chunk.flatMap((r) => [
          r.trackingCode,
          r.electionId,
          r.reason === "superseded-by-online" ? "superseded" : "cancelled",
          coarseTime(new Date(r.retractedAt)),
        ]),
      ),
  );
  return [...cvrs, ...receipts];
}

/** Station check-ins, counted per station for reconciliation; a re-delivery inserts nothing. */
function checkInStatements(db: D1Database, checkIns: readonly CheckInRecorded[]): D1PreparedStatement[] {
  return chunksOf(checkIns, rowsPerStatement(CHECK_IN_COLUMNS)).map((chunk) =>
    db
      .prepare(
        `INSERT OR IGNORE INTO check_ins (election_id, check_in_id, station_id, district_id, recorded_at)
         VALUES ${placeholders(chunk.length, `(?, ?, ?, ?, ?)`)}`,
      )
      .bind(
        ...chunk.flatMap((c) => [
          c.electionId,
          c.checkInId,
          c.stationId,
          c.districtId,
          coarseTime(new Date(c.checkedInAt)),
        ]),
      ),
  );
}

/** Writes the records of a batch's messages in one D1 batch; throws if D1 refuses it. */
export async function writeBallotRecords(db: D1Database, messages: readonly BallotMessage[]): Promise<void> {
  const ballots = messages.filter((m): m is BallotAccepted => m.kind === "ballot");
  const retractions = messages.filter((m): m is BallotRetracted => m.kind === "retraction");
  const checkIns = messages.filter((m): m is CheckInRecorded => m.kind === "check-in");
  const statements = [
    ...recordedReceiptStatements(db, ballots),
    ...cvrStatements(db, ballots),
    ...retractionStatements(db, retractions),
    ...checkInStatements(db, checkIns),
  ];
  if (statements.length === 0) return;
  await db.batch(statements);
}
