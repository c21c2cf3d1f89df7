/**
 * PaperBallotBox: the single point of truth for "has the ballot with this serial been counted" in
 * an election. One object per (election, serial bucket), named by durable-objects/addresses.ts;
 * the table is keyed by (election_id, serial) either way, so the guarantee does not depend on the
 * bucketing.
 *
 * Serials are one namespace per election: a pre-printed sheet's serial and a ballot-marking
 * device's print of that sheet are the same paper, so whichever QR is scanned, a serial counts
 * once. The gateway (workers/gateway/routes/paper.ts) has already checked the payload's
 * signature, election, ballot style, station and marks before it calls scan().
 *
 * Invariants:
 * - scan() reads the serial's row and writes the row and the outbox record of the ballot
 *   (BallotAccepted, channel "paper", with the station id) inside one transactionSync with no
 *   await: concurrent scans of one serial are serialised by the object, and exactly one of them
 *   is ever accepted. A serial is never accepted without its ballot being queued, nor queued
 *   without being marked used.
 * - The RPC answers only after that transaction is durable (output gate): an acknowledged ballot
 *   is never lost; its outbox record stays until a queue accepted it (outbox.ts), and the tally
 *   dedupes by ballot id.
 * - A scan repeated by the same station with the same scan id and content (its outbox retrying)
 *   returns the original outcome and changes nothing; the same scan id with other content is
 *   refused (idempotency_conflict); any other scan of a used serial is refused
 *   (serial_already_used) and changes nothing here. The content is recognised by `request_hash`,
 *   an HMAC of the canonical request under the election's "request-digest" key (lib/keys.ts,
 *   from BALLOT_LINK_KEY): it holds no marks, and without the key nobody can test a guess of the
 *   marks against it (security review H4). Rows stored before version 2 held the marks in clear;
 *   the upgrade blanks them, and a repeat of such a scan is answered as a repeat.
 * - Nothing here names a voter, and nothing links a serial to its cast vote record: the row keeps
 *   the tracking code and commitment (to answer a repeat); the record's id in D1 is derived from
 *   the tracking code by the queue consumer under a key this object never holds. Serials must
 *   not follow the order voters came in (sheets handed out in no recorded order, BMDs drawing
 *   serials at random from their range), or the serial would be a counter.
 *
 * - A ballot of a conflicting offline check-in (scan() with `hold: "hold"`) uses its serial like
 *   any other, but its accepted message is not queued: it is kept aside in `held`, sealed
 *   (AES-GCM under a key of BALLOT_LINK_KEY, bound to election and serial), until an
 *   administrator's decision reaches release(): `count` queues it through the outbox in the same
 *   transaction that deletes the held row, so it is queued exactly once however often the
 *   decision is repeated; `do-not-count` deletes it. A decision known before the scan arrives is
 *   passed as `hold: "count"` (queued at once) or `hold: "do-not-count"` (the marks never stored).
 *
 * Storage schema (SQLite, version 3):
 *   meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)                 -- 'schema'
 *   serials(election_id, serial INTEGER, station_id, scan_id, source 'ballot-sheet'|'marked-ballot',
 *           tracking_code, commitment, request_hash (HMAC hex; '' before version 2), accepted_at;
 *           disposition 'counted'|'held'|'destroyed' (version 3),
           PRIMARY KEY (election_id, serial))                         -- absent row: unused
 *   held(election_id, serial INTEGER, sealed TEXT, PRIMARY KEY (election_id, serial)) WITHOUT ROWID
 *     -- version 3: a held ballot's sealed accepted message, until its decision is applied
 *   outbox: see outbox.ts
 *   cancellations(election_id, serial INTEGER, station_id, cancellation_id, reason 'spoiled'|'void',
 *           district_id, cancelled_at; PRIMARY KEY (election_id, serial))  -- created apart from the
 *           versioned schema (CREATE TABLE IF NOT EXISTS), see ensureCancellations()
 *
 * Cancellations (a spoiled or void ballot, by its serial, before it was scanned): cancel() decides
 * in one transactionSync that the serial was never scanned and marks it cancelled; from then on a
 * scan of that serial is refused (serial_cancelled) and nothing is queued for it. The same
 * cancellation id with the same reason and district answers as the first time; with another, it
 * is refused (cancellation_conflict); another cancellation of a cancelled serial is
 * serial_cancelled. Reason and district are public in the audit log anyway, so they are kept in
 * clear; nothing here names a voter.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { ContestMarks, coarseTime, QueuedBallot } from "../lib/ballot/messages.ts";
import { err, ok, type Result } from "../lib/result.ts";
import { Outbox, OUTBOX_TABLE_SQL, type OutboxCounts } from "./outbox.ts";
import { ensureSchema } from "./schema.ts";
import { PaperBallotSource } from "../lib/vocabulary.ts";
import { keyedDigestHex, openBytes, purposeKey, purposeSealingKey, sealBytes } from "../lib/keys.ts";
import { utf8 } from "../lib/bytes.ts";
import { ConflictDecision } from "../lib/vocabulary.ts";
import { configOf } from "./config.ts";

export const ScanRequest = z.object({
  electionId: z.string().min(1),
  serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  stationId: z.string().min(1),
  /** Chosen by the station (its outbox key): a repeat returns the original answer. */
  scanId: z.string().min(8).max(128),
  source: PaperBallotSource,
  ballotStyleId: z.string().min(1),
  districtId: z.string().min(1),
  /** Validated against the style by the gateway (validateBallot): every contest, in ballot order. */
  contests: z.array(ContestMarks).min(1).max(256),
  /** Ignored: the record id is derived by the queue consumer, never made or seen here. */
  ballotId: z.uuid().optional(),
  commitment: z.string().min(1),
  trackingCode: z.string().min(1),
  /**
   * For the ballot of a conflicting offline check-in: keep it aside (`hold`), or the decision
   * already taken on its conflict. Absent: count it as any scan.
   */
  hold: z.enum(["hold", ...ConflictDecision.options]).optional(),
});
export type ScanRequest = z.infer<typeof ScanRequest>;

export const ReleaseRequest = z.object({
  electionId: z.string().min(1),
  serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  decision: ConflictDecision,
});
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** What release() did: applied the decision now, or found it applied before. */
export type ReleaseOutcome = Result<{ readonly applied: boolean }, "not_scanned">;

type Disposition = "counted" | "held" | "destroyed";

export type ScanRefusal = "serial_already_used" | "idempotency_conflict" | "serial_cancelled";

export interface ScanAccepted {
  readonly trackingCode: string;
  readonly commitment: string;
  readonly acceptedAt: string;
  /** True when this answers a repeat of an earlier scan (same station, scan id and content). */
  readonly replayed: boolean;
  /** True when the ballot is not counted: held for a decision, or not to be counted. */
  readonly held: boolean;
}

export type ScanOutcome = Result<ScanAccepted, ScanRefusal>;

interface SerialRow {
  station_id: string;
  scan_id: string;
  tracking_code: string;
  commitment: string;
  request_hash: string;
  accepted_at: string;
  disposition: Disposition;
  [key: string]: SqlStorageValue;
}

export const CancelRequest = z.object({
  electionId: z.string().min(1),
  serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  stationId: z.string().min(1),
  /** Chosen by the station (its outbox key): a repeat returns the original answer. */
  cancellationId: z.string().min(8).max(128),
  reason: z.enum(["spoiled", "void"]),
  /** The district the gateway resolved for the station (named, or its only one). */
  districtId: z.string().min(1),
});
export type CancelRequest = z.infer<typeof CancelRequest>;

export type CancelRefusal = "serial_already_used" | "serial_cancelled" | "cancellation_conflict";

export type CancelOutcome = Result<{ readonly cancelledAt: string; readonly replayed: boolean }, CancelRefusal>;

interface CancellationRow {
  station_id: string;
  cancellation_id: string;
  reason: string;
  district_id: string;
  cancelled_at: string;
  [key: string]: SqlStorageValue;
}

/** The canonical text of a scan's content, to tell a true repeat from a reused scan id. */
const HELD_TABLE_SQL = `CREATE TABLE held (
  election_id TEXT NOT NULL, serial INTEGER NOT NULL, sealed TEXT NOT NULL,
  PRIMARY KEY (election_id, serial)) WITHOUT ROWID`;

function heldContext(electionId: string, serial: number): Uint8Array<ArrayBuffer> {
  return utf8(`held-ballot\u0000${electionId}\u0000${serial}`);
}

function canonicalScan(req: ScanRequest): string {
  return JSON.stringify([req.source, req.ballotStyleId, req.districtId, req.contests]);
}

export class PaperBallotBox extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly outbox: Outbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Its alarm serves only the outbox: once everything is sent it needs none.
    this.outbox = new Outbox(ctx, env, { nextAlarm: () => undefined });
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      this.ensureCancellations();
    });
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 3,
      create: (sql) => {
        sql.exec(`CREATE TABLE serials (
          election_id TEXT NOT NULL, serial INTEGER NOT NULL, station_id TEXT NOT NULL,
          scan_id TEXT NOT NULL, source TEXT NOT NULL, tracking_code TEXT NOT NULL, commitment TEXT NOT NULL, request_hash TEXT NOT NULL,
          accepted_at TEXT NOT NULL, disposition TEXT NOT NULL DEFAULT 'counted',
          PRIMARY KEY (election_id, serial))`);
        sql.exec(HELD_TABLE_SQL);
        sql.exec(OUTBOX_TABLE_SQL);
      },
      upgrades: [
        // 1 -> 2: request_hash held the marks in clear; nothing keyed can be computed here
        // (an upgrade is synchronous), so the old values are blanked.
        (sql) => {
          sql.exec(`UPDATE serials SET request_hash = ''`);
        },
        // 2 -> 3: ballots of conflicting offline check-ins, held until an administrator decides.
        (sql) => {
          sql.exec(`ALTER TABLE serials ADD COLUMN disposition TEXT NOT NULL DEFAULT 'counted'`);
          sql.exec(HELD_TABLE_SQL);
        },
      ],
    });
  }

  /** Accepts the ballot with this serial once, and queues it for the tally in the same transaction. */
  async scan(input: ScanRequest): Promise<ScanOutcome> {
    const req = ScanRequest.parse(input);
    const digestKey = await purposeKey(configOf(this.env).BALLOT_LINK_KEY, "request-digest", req.electionId);
    const hash = await keyedDigestHex(digestKey, canonicalScan(req));
    const acceptedAt = coarseTime(new Date());
    const ballot: QueuedBallot = {
      kind: "ballot",
      electionId: req.electionId,
      ballotStyleId: req.ballotStyleId,
      districtId: req.districtId,
      channel: "paper",
      stationId: req.stationId,
      contests: req.contests,
      trackingCode: req.trackingCode,
      commitment: req.commitment,
      acceptedAt,
    };
    // Sealed before the transaction (WebCrypto is asynchronous); used only if this scan is new.
    const sealed =
      req.hold === "hold"
        ? await sealBytes(
            await this.heldKey(req.electionId),
            heldContext(req.electionId, req.serial),
            utf8(JSON.stringify(ballot)),
          )
        : undefined;
    const disposition: Disposition =
      req.hold === "hold" ? "held" : req.hold === "do-not-count" ? "destroyed" : "counted";
    const outcome = this.ctx.storage.transactionSync((): ScanOutcome => {
      const earlier = this.sql
        .exec<SerialRow>(
          `SELECT station_id, scan_id, tracking_code, commitment, request_hash, accepted_at, disposition
           FROM serials WHERE election_id = ? AND serial = ?`,
          req.electionId,
          req.serial,
        )
        .toArray()[0];
      // A cancelled serial was never scanned (cancel() refuses a used one), so no scan matches it.
      if (this.cancellationOf(req.electionId, req.serial)) return err("serial_cancelled");
      if (earlier) {
        if (earlier.station_id !== req.stationId || earlier.scan_id !== req.scanId) return err("serial_already_used");
        // A row from before version 2 has no digest to compare: same station, same scan id.
        if (earlier.request_hash !== "" && earlier.request_hash !== hash) return err("idempotency_conflict");
        return ok({
          trackingCode: earlier.tracking_code,
          commitment: earlier.commitment,
          acceptedAt: earlier.accepted_at,
          replayed: true,
          held: earlier.disposition !== "counted",
        });
      }
      this.sql.exec(
        `INSERT INTO serials (election_id, serial, station_id, scan_id, source, tracking_code, commitment, request_hash, accepted_at, disposition)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        req.electionId,
        req.serial,
        req.stationId,
        req.scanId,
        req.source,
        req.trackingCode,
        req.commitment,
        hash,
        acceptedAt,
        disposition,
      );
      if (sealed !== undefined) {
        this.sql.exec(
          `INSERT INTO held (election_id, serial, sealed) VALUES (?, ?, ?)`,
          req.electionId,
          req.serial,
          sealed,
        );
      } else if (disposition === "counted") {
        this.outbox.enqueue(ballot);
      }
      return ok({
        trackingCode: req.trackingCode,
        commitment: req.commitment,
        acceptedAt,
        replayed: false,
        held: disposition !== "counted",
      });
    });
    if (outcome.ok && !outcome.value.replayed && !outcome.value.held) await this.outbox.afterCommit();
    return outcome;
  }

  // -------------------------------------------------------------------------------------------
  // Cancellations (spoiled or void ballots)

  /**
   * The cancellations table, outside the versioned schema so that it does not depend on (nor
   * collide with) the serials table's version: creating it is idempotent and synchronous.
   */
  private ensureCancellations(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS cancellations (
      election_id TEXT NOT NULL, serial INTEGER NOT NULL, station_id TEXT NOT NULL,
      cancellation_id TEXT NOT NULL, reason TEXT NOT NULL, district_id TEXT NOT NULL,
      cancelled_at TEXT NOT NULL,
      PRIMARY KEY (election_id, serial))`);
  }

  private cancellationOf(electionId: string, serial: number): CancellationRow | undefined {
    return this.sql
      .exec<CancellationRow>(
        `SELECT station_id, cancellation_id, reason, district_id, cancelled_at
         FROM cancellations WHERE election_id = ? AND serial = ?`,
        electionId,
        serial,
      )
      .toArray()[0];
  }

  /** Cancels an unscanned serial once (see the header); the answer's time is the log entry's. */
  async cancel(input: CancelRequest): Promise<CancelOutcome> {
    const req = CancelRequest.parse(input);
    return this.ctx.storage.transactionSync((): CancelOutcome => {
      const earlier = this.cancellationOf(req.electionId, req.serial);
      if (earlier) {
        if (earlier.station_id !== req.stationId || earlier.cancellation_id !== req.cancellationId)
          return err("serial_cancelled");
        if (earlier.reason !== req.reason || earlier.district_id !== req.districtId)
          return err("cancellation_conflict");
        return ok({ cancelledAt: earlier.cancelled_at, replayed: true });
      }
      const scanned = this.sql
        .exec(`SELECT 1 FROM serials WHERE election_id = ? AND serial = ?`, req.electionId, req.serial)
        .toArray()[0];
      if (scanned) return err("serial_already_used");
      const cancelledAt = coarseTime(new Date());
      this.sql.exec(
        `INSERT INTO cancellations (election_id, serial, station_id, cancellation_id, reason, district_id, cancelled_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        req.electionId,
        req.serial,
        req.stationId,
        req.cancellationId,
        req.reason,
        req.districtId,
        cancelledAt,
      );
      return ok({ cancelledAt, replayed: false });
    });
  }

  /**
   * Applies an administrator's decision to the held ballot with this serial, once: `count` queues
   * its message in the transaction that deletes the held row, `do-not-count` deletes it. Repeated
   * (or for a ballot never held), it changes nothing and says so.
   */
  async release(input: ReleaseRequest): Promise<ReleaseOutcome> {
    const req = ReleaseRequest.parse(input);
    const row = this.sql
      .exec<{ sealed: string }>(
        `SELECT sealed FROM held WHERE election_id = ? AND serial = ?`,
        req.electionId,
        req.serial,
      )
      .toArray()[0];
    if (!row) {
      const used = this.sql
        .exec(`SELECT serial FROM serials WHERE election_id = ? AND serial = ?`, req.electionId, req.serial)
        .toArray().length;
      return used > 0 ? ok({ applied: false }) : err("not_scanned");
    }
    const plain = await openBytes(
      await this.heldKey(req.electionId),
      heldContext(req.electionId, req.serial),
      row.sealed,
    );
    if (!plain) throw new Error(`the held ballot of serial ${req.serial} does not open`);
    const ballot = QueuedBallot.parse(JSON.parse(new TextDecoder().decode(plain)));
    const applied = this.ctx.storage.transactionSync((): boolean => {
      // Another call may have applied it while this one was opening the seal.
      const still = this.sql
        .exec(
          `SELECT serial FROM held WHERE election_id = ? AND serial = ? AND sealed = ?`,
          req.electionId,
          req.serial,
          row.sealed,
        )
        .toArray().length;
      if (still === 0) return false;
      this.sql.exec(`DELETE FROM held WHERE election_id = ? AND serial = ?`, req.electionId, req.serial);
      this.sql.exec(
        `UPDATE serials SET disposition = ? WHERE election_id = ? AND serial = ?`,
        req.decision === "count" ? "counted" : "destroyed",
        req.electionId,
        req.serial,
      );
      if (req.decision === "count") this.outbox.enqueue(ballot);
      return true;
    });
    if (applied && req.decision === "count") await this.outbox.afterCommit();
    return ok({ applied });
  }

  private async heldKey(electionId: string): Promise<CryptoKey> {
    return purposeSealingKey(configOf(this.env).BALLOT_LINK_KEY, "held-ballot", electionId);
  }

  /** Whether a serial was used, and by which station (for officials and the tests). */
  async serialStatus(
    electionId: string,
    serial: number,
  ): Promise<{ used: boolean; stationId?: string; scanId?: string; disposition?: Disposition }> {
    const row = this.sql
      .exec<{ station_id: string; scan_id: string; disposition: Disposition }>(
        `SELECT station_id, scan_id, disposition FROM serials WHERE election_id = ? AND serial = ?`,
        electionId,
        serial,
      )
      .toArray()[0];
    return row
      ? { used: true, stationId: row.station_id, scanId: row.scan_id, disposition: row.disposition }
      : { used: false };
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
  }
}
