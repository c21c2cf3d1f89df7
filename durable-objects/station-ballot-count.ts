/**
 * StationBallotCount: a station may have at most as many accepted paper ballots as accepted
 * check-ins (security review H3), decided here, strongly consistently, when a scan is accepted.
 * One object per (election, station), named by durable-objects/addresses.ts.
 *
 * The check-in route records each check-in the voter's ledger accepted (recordCheckIn, by the
 * ledger's station-scoped check-in id); the scan route reserves a place for each scan
 * (reserveScan, by scan id and serial) before it asks the serial's PaperBallotBox, and settles
 * the reservation with the box's answer (settleScan). A result sheet closes the station
 * (closeForSheet) before it is stored, and a closed station takes no new scan (the retry of a
 * scan that already held its place still finds it, so a crash never strands an accepted ballot).
 *
 * Invariants:
 * - Reserved and accepted scans together never outnumber recorded check-ins: the count and the
 *   insert share one transactionSync with no await, so concurrent scans of one station are
 *   serialised here and each sees the others' places.
 * - Both calls are idempotent: a check-in id counts once however often it is recorded (a replayed
 *   check-in re-records it, so a crash between the ledger's answer and this record heals when the
 *   station retries); a scan id holds one place for one serial however often it is reserved, and
 *   the same scan id with another serial is refused (idempotency_conflict), so a reused scan id
 *   cannot slip a second ballot in on the first one's place. A serial holds one place: another
 *   scan id of a serial this station already holds is refused (serial_already_used).
 * - A reservation is released only when the box refused the serial as used by another scan
 *   (serial_already_used): then no ballot of this scan exists. Any other outcome keeps it
 *   (accepted, or idempotency_conflict, which means the box holds this scan id's ballot).
 *
 * What a crash can cost: between the ledger and recordCheckIn, one check-in not counted here
 * until the station retries it (a ballot refused, never an extra one); between reserveScan and
 * the box, or between the box and settleScan, a place held by a scan that may not have been
 * accepted, until the station retries that scan (the retry finds its place and goes on). Either
 * way the station can lose a place, never gain one: paper ballots never exceed check-ins.
 *
 * Sizing: one object per station is enough, since a station's scanners take a ballot every few
 * seconds at most; the counts read the two tables whole, which at a few thousand rows per station
 * and election costs far less than the RPC around it.
 *
 * A conflicting offline check-in (its ballot held for an administrator's decision) is a `held`
 * place: only a scan with that check-in's held envelope may take it, so a station cannot count
 * the held ballot by scanning it without its envelope. Held and ordinary places are bounded
 * separately (held scans <= held check-ins, other scans <= other check-ins).
 *
 * Nothing here names a voter, a time or marks. Both tables are WITHOUT ROWID, keyed by the
 * stations' random ids, so they keep no order of arrival that could pair the n-th check-in with
 * the n-th scan (security review M11).
 *
 * Storage schema (SQLite, version 2):
 *   meta(key TEXT PRIMARY KEY, value)                       -- 'schema'
 *   check_ins(check_in_id TEXT PRIMARY KEY, held INTEGER 0|1 (version 2)) WITHOUT ROWID
 *   scans(scan_id TEXT PRIMARY KEY, serial INTEGER NOT NULL UNIQUE,
 *         state 'reserved'|'accepted', held INTEGER 0|1 (version 2)) WITHOUT ROWID
 *   closed(sheet INTEGER PRIMARY KEY)                       -- one row once a result sheet came
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { err, ok, type Result } from "../lib/result.ts";
import { ensureSchema } from "./schema.ts";

const Station = z.object({ electionId: z.string().min(1), stationId: z.string().min(1) });

export const RecordCheckIn = Station.extend({
  checkInId: z.string().min(8).max(200),
  /** A conflicting offline check-in: its place is for the scan with its held envelope only. */
  held: z.boolean().optional(),
});
export type RecordCheckIn = z.infer<typeof RecordCheckIn>;

export const ReserveScan = Station.extend({
  scanId: z.string().min(8).max(128),
  serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** A scan with a held envelope: it takes a held check-in's place. */
  held: z.boolean().optional(),
});
export type ReserveScan = z.infer<typeof ReserveScan>;

export const SettleScan = ReserveScan.omit({ held: true }).extend({
  /** accepted: the box accepted (or holds) this scan's ballot; released: it refused the serial. */
  outcome: z.enum(["accepted", "released"]),
});
export type SettleScan = z.infer<typeof SettleScan>;

export type ReserveRefusal =
  "scans_exceed_check_ins" | "result_sheet_already_accepted" | "idempotency_conflict" | "serial_already_used";

export interface StationCounts {
  readonly checkIns: number;
  /** Reserved and accepted scans. */
  readonly scans: number;
  readonly closed: boolean;
}

export class StationBallotCount extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // The runtime delivers no request until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => this.migrate());
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 2,
      create: (sql) => {
        sql.exec(
          `CREATE TABLE check_ins (check_in_id TEXT PRIMARY KEY, held INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`,
        );
        sql.exec(`CREATE TABLE scans (
          scan_id TEXT PRIMARY KEY, serial INTEGER NOT NULL UNIQUE, state TEXT NOT NULL,
          held INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID`);
        sql.exec(`CREATE TABLE closed (sheet INTEGER PRIMARY KEY)`);
      },
      upgrades: [
        // 1 -> 2: held places, for conflicting offline check-ins and their envelopes' scans.
        (sql) => {
          sql.exec(`ALTER TABLE check_ins ADD COLUMN held INTEGER NOT NULL DEFAULT 0`);
          sql.exec(`ALTER TABLE scans ADD COLUMN held INTEGER NOT NULL DEFAULT 0`);
        },
      ],
    });
  }

  private count(table: "check_ins" | "scans", held?: boolean): number {
    const where = held === undefined ? "" : ` WHERE held = ${held ? 1 : 0}`;
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}${where}`).one().n;
  }

  private isClosed(): boolean {
    return this.sql.exec(`SELECT sheet FROM closed`).toArray().length > 0;
  }

  /** Counts a check-in the voter's ledger accepted; recording it again changes nothing. */
  async recordCheckIn(input: RecordCheckIn): Promise<StationCounts> {
    const req = RecordCheckIn.parse(input);
    this.sql.exec(
      `INSERT OR IGNORE INTO check_ins (check_in_id, held) VALUES (?, ?)`,
      req.checkInId,
      req.held === true ? 1 : 0,
    );
    return this.counts();
  }

  /** Holds a place for this scan's ballot, if the station has a check-in left to cover it. */
  async reserveScan(input: ReserveScan): Promise<Result<{ replayed: boolean }, ReserveRefusal>> {
    const req = ReserveScan.parse(input);
    return this.ctx.storage.transactionSync((): Result<{ replayed: boolean }, ReserveRefusal> => {
      const earlier = this.sql
        .exec<{ serial: number }>(`SELECT serial FROM scans WHERE scan_id = ?`, req.scanId)
        .toArray()[0];
      if (earlier) return earlier.serial === req.serial ? ok({ replayed: true }) : err("idempotency_conflict");
      if (this.isClosed()) return err("result_sheet_already_accepted");
      if (this.sql.exec(`SELECT scan_id FROM scans WHERE serial = ?`, req.serial).toArray().length > 0)
        return err("serial_already_used");
      const held = req.held === true;
      if (this.count("scans", held) >= this.count("check_ins", held)) return err("scans_exceed_check_ins");
      this.sql.exec(
        `INSERT INTO scans (scan_id, serial, state, held) VALUES (?, ?, 'reserved', ?)`,
        req.scanId,
        req.serial,
        held ? 1 : 0,
      );
      return ok({ replayed: false });
    });
  }

  /** Settles a reservation with the box's answer: kept as accepted, or released. */
  async settleScan(input: SettleScan): Promise<void> {
    const req = SettleScan.parse(input);
    if (req.outcome === "accepted") {
      this.sql.exec(`UPDATE scans SET state = 'accepted' WHERE scan_id = ? AND serial = ?`, req.scanId, req.serial);
    } else {
      this.sql.exec(
        `DELETE FROM scans WHERE scan_id = ? AND serial = ? AND state = 'reserved'`,
        req.scanId,
        req.serial,
      );
    }
  }

  /** The station's result sheet is in: no new scan from now on. */
  async closeForSheet(): Promise<void> {
    this.sql.exec(`INSERT OR IGNORE INTO closed (sheet) VALUES (1)`);
  }

  /** What the station has used (for the tests and officials). */
  async counts(): Promise<StationCounts> {
    return { checkIns: this.count("check_ins"), scans: this.count("scans"), closed: this.isClosed() };
  }
}
