/**
 * The station's local store: one SQLite file (node:sqlite) in its data directory. WAL with
 * `synchronous = FULL`, so that a task the console has acknowledged (its outbox row committed)
 * survives the laptop being switched off or the process killed at any instant.
 *
 * What it holds, and what it deliberately does not:
 * - `outbox`: every task (check-in, scan, cancellation, result sheet) in the order it was done,
 *   with the idempotency id and the device time the request is signed with, so a resend after a
 *   crash is answered as the first send. A row keeps its request body only until the server has
 *   answered it: then the body (a check-in's voter ref, a scan's marks) is dropped and only the
 *   state, the error code and a summary for the official stay. No national id is ever stored,
 *   except in the body of an online check-in of a voter not in the pollbook, until it is answered.
 * - `pollbook_pages`: the signed pages as received (compact JWS texts), with the receipt JWKS
 *   that verifies them in `meta`: they are verified again on every load.
 * - `checked_in`: the pollbook ids checked in at this station; no order and no time (WITHOUT
 *   ROWID, so not even insertion order survives), so it cannot be lined up with the ballot box.
 * - `envelopes`: the codes of ballots issued offline, open until their ballot is scanned.
 * - `totals`: the station's running counts for its result sheet, changed in the same
 *   transaction as the outbox row that causes them.
 * - `election`: the public election summary, to decode marked ballots with the network down.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

export const SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('check-in', 'scan', 'cancellation', 'result-sheet')),
  request_id TEXT NOT NULL UNIQUE,
  body TEXT,
  signed_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  error_code TEXT,
  error_message TEXT,
  summary TEXT NOT NULL,
  answer TEXT
);
CREATE INDEX outbox_pending ON outbox (state, seq);
CREATE TABLE pollbook_pages (page INTEGER PRIMARY KEY, jws TEXT NOT NULL);
CREATE TABLE checked_in (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE envelopes (code TEXT PRIMARY KEY, state TEXT NOT NULL CHECK (state IN ('open', 'scanned'))) WITHOUT ROWID;
CREATE TABLE totals (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE election (id TEXT PRIMARY KEY, summary TEXT NOT NULL) WITHOUT ROWID;
`;

export type OutboxState = "pending" | "done" | "failed";

export interface OutboxRow {
  seq: number;
  kind: "check-in" | "scan" | "cancellation" | "result-sheet";
  request_id: string;
  body: string | null;
  signed_at: string;
  created_at: string;
  state: OutboxState;
  attempts: number;
  next_attempt_ms: number;
  last_attempt_at: string | null;
  error_code: string | null;
  error_message: string | null;
  summary: string;
  answer: string | null;
}

export class StationDb {
  readonly db: DatabaseSync;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(join(dataDir, "station.sqlite"));
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = FULL");
    // What an answered entry drops (a voter ref, a national id, a ballot's marks) is overwritten
    // on disk, not merely unlinked; `scrub()` also empties the WAL, which would keep old copies.
    this.db.exec("PRAGMA secure_delete = ON");
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec("PRAGMA foreign_keys = ON");
    this.migrate();
  }

  private migrate(): void {
    const { user_version: version } = this.db.prepare("PRAGMA user_version").get() as { user_version: number };
    if (version > SCHEMA_VERSION) {
      throw new Error(`the station database is version ${version}; this client knows up to ${SCHEMA_VERSION}`);
    }
    if (version < 1) {
      this.tx(() => {
        this.db.exec(SCHEMA_V1);
        this.db.exec(`PRAGMA user_version = 1`);
      });
    }
  }

  /** Runs `fn` in one IMMEDIATE transaction: all of it is on disk when this returns, or none. */
  tx<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const value = fn();
      this.db.exec("COMMIT");
      return value;
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Checkpoints and truncates the WAL, so no earlier version of a changed row stays in it. */
  scrub(): void {
    this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(key, value);
  }

  addTotal(key: string, delta: number): void {
    this.db
      .prepare("INSERT INTO totals (key, n) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET n = n + excluded.n")
      .run(key, delta);
  }

  total(key: string): number {
    const row = this.db.prepare("SELECT n FROM totals WHERE key = ?").get(key) as { n: number } | undefined;
    return row?.n ?? 0;
  }

  insertOutbox(entry: {
    kind: OutboxRow["kind"];
    requestId: string;
    body: unknown;
    signedAt: string;
    summary: string;
  }): number {
    const result = this.db
      .prepare("INSERT INTO outbox (kind, request_id, body, signed_at, created_at, summary) VALUES (?, ?, ?, ?, ?, ?)")
      .run(
        entry.kind,
        entry.requestId,
        JSON.stringify(entry.body),
        entry.signedAt,
        new Date().toISOString(),
        entry.summary,
      );
    return Number(result.lastInsertRowid);
  }

  outboxRow(seq: number): OutboxRow | undefined {
    return this.db.prepare("SELECT * FROM outbox WHERE seq = ?").get(seq) as OutboxRow | undefined;
  }

  /** The oldest entry not yet answered: the only one sync may send (strict order). */
  firstPending(): OutboxRow | undefined {
    return this.db.prepare("SELECT * FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1").get() as
      OutboxRow | undefined;
  }

  outboxList(limit: number): OutboxRow[] {
    return this.db.prepare("SELECT * FROM outbox ORDER BY seq DESC LIMIT ?").all(limit) as unknown as OutboxRow[];
  }

  countByState(): { pending: number; failed: number } {
    const rows = this.db.prepare("SELECT state, count(*) AS n FROM outbox GROUP BY state").all() as {
      state: string;
      n: number;
    }[];
    return {
      pending: rows.find((r) => r.state === "pending")?.n ?? 0,
      failed: rows.find((r) => r.state === "failed")?.n ?? 0,
    };
  }
}
