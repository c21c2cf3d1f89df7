/**
 * LogSequencer: the public audit log of one election (one object per name = election id). It
 * pools entries from the producers (the ballot-queue consumer, the admin routes, the paper
 * channel), and on a short alarm gives them indexes, builds the tlog-tiles tiles, signs a
 * checkpoint with the log key and publishes everything to R2 (lib/audit/layout.ts). It also keeps
 * the election's cast vote records back until the polls close (docs/AUDIT-LOG.md, "Secrecy").
 *
 * Durability order of one sequencing step (each failure says whether it is fatal):
 *   0. finish: if an earlier step swapped in a checkpoint but did not publish it, publish it now
 *      (steps 4 and 5) from that step's staging bundle, and acknowledge what is published (6),
 *      before anything new is sequenced.
 *   1. build: seal the step's entries (sealBatch: up to MAX_BATCH pooled entries, the queue
 *      consumer's ballots, retractions and check-ins shuffled among their neighbours, the order
 *      stored) unless a sealed batch is waiting; take them in sealed order; extend the tree from the stored
 *      edge tiles; check the old root is reproduced and the new tree is consistent with it; build
 *      the new tiles and entry bundles; sign the checkpoint. Fatal if the stored edge does not give
 *      the stored root (storage corruption): the log halts rather than sign a fork.
 *   2. staging: put staging/<election>/<size>-<root> (tiles, bundles, checkpoint) to R2.
 *      Not fatal: nothing has changed; the entries stay pooled and the next alarm retries.
 *   3. checkpoint swap: one transactionSync, no await: compare-and-swap the log row from the old
 *      size, insert the entries with their indexes, replace the edge tiles, delete the pooled rows.
 *      A failure rolls back whole: not fatal, as 2. From here on this checkpoint is the log's: no
 *      other tree of this size can ever be signed, because the pool rows it took are gone.
 *   4. tiles: put every new tile and entry bundle (immutable paths: a repeated put is harmless).
 *   5. public checkpoint: put logs/<election>/checkpoint, then record published = size and delete
 *      the staging bundle. A failure in 4 or 5 is not fatal: step 0 redoes them from staging. A
 *      staging bundle that is gone or does not match its digest is fatal (the log halts).
 *   6. acknowledgement: write the leaf index of each newly published ballot entry to D1
 *      (log_receipts), so receipts resolve to proofs, then record acknowledged = index. Not
 *      fatal: retried by the next alarm. A receipt never names an index before step 5.
 *   7. exports (once, after the last cast vote records are published; ./log-exports.ts): when
 *      no record is pending or held back, the pool is empty and everything is published, the
 *      tally is compared with the log's records and, if they agree, the NIST results report and
 *      CVR export are signed and put beside the log, then `results-published` is pooled (meta
 *      'results_published'). Not fatal: a disagreement or failure is the status's `exports.reason`
 *      and is retried later (EXPORT_RETRY_MS, doubling). The export time is stored first
 *      ('exports_at_ms'), so a crash after the R2 puts is repaired by writing the same bytes.
 * A crash between any two steps leaves storage at one of those points; the constructor then arms
 * the alarm and step 0 continues. On the first step after loading, the public checkpoint in R2
 * must be this log's published or current checkpoint, or the log halts (never signs a fork). A
 * staging bundle whose swap failed is left in R2 as garbage (a lifecycle rule on staging/ may
 * expire it); it is never read, and its checkpoint is a prefix of the log's anyway.
 *
 * Capacity: one object takes all of an election's entries. At peak (8,000 ballots/s, DESIGN.md 7)
 * that is about 80 recordBallots calls a second (one per queue batch) and one step a second of
 * about 8,000 entries. The log bench (bench/log-run.ts, `npm run bench -- --log-only`) measures
 * it, and docs/PERFORMANCE.md has the figures: on the local runtime the object's one thread goes
 * mostly to pooling, not to the step. A ballot costs two random-key B-tree inserts (its pool row,
 * keyed by its commitment; its cast vote record, keyed by its record id with a random shuffle
 * key, on purpose: the record pool keeps no insertion order) and, at the step, its entries row
 * and the pool row's deletion; hashing, tiles, the signature and the R2 writes come after, and
 * the object serves calls during the writes. A batch of ballots alone is pooled in two
 * statements (recordBallotsOnly) rather than two or three per ballot, which saved about a tenth
 * of the runtime's CPU at 4,000 entries/s; the inserts themselves remain.
 * Past one object's rate, the way out is a log per district (the origin names it).
 *
 * Invariants:
 * - The log row, `entries` and `edge_tiles` change only in step 3's transaction, so they always
 *   describe one tree: size, root and signed checkpoint agree with the stored edge.
 * - published_size <= size and acknowledged_size <= published_size; published_size < size only
 *   between steps 3 and 5, and then staging_key names the bundle that finishes the publication.
 * - A step's entries and their order are fixed (pool.sealed) before anything is signed and kept
 *   until step 3 deletes exactly those rows; the next step seals only after that, so every signed
 *   checkpoint (even one staged and never swapped in) is a prefix of every later tree.
 * - Within a sealed step, runs of the queue consumer's entries are permuted uniformly (CSPRNG), so
 *   a retraction and the ballot that replaces it are no closer than chance (H1); a retraction
 *   still comes after its own ballot; every other entry keeps its place.
 * - A retraction entry names its ballot only by HMAC-SHA-256 under the election's retraction key
 *   (meta 'retraction_blinding_key', 32 random bytes drawn here), published once, in a
 *   `retraction-key` entry pooled right after `polls-closed`.
 * - Every key (ballot/<commitment>, retraction/<tracking code>, check-in/<id>, events) is in
 *   `pool` or `entries` at most once: a re-delivered message is never logged twice. Ballots and
 *   retractions enter only through recordBallots, so each ballot's cast vote record is pooled in
 *   the same transaction as its entry; records, rounds and poll events only from here.
 * - One step at a time (`stepping`): the alarm, sequenceNow and the CVR publication never
 *   interleave their sequencing.
 * - Cast vote records leave `cvr_pool` only for the log, only after the polls closed, and never
 *   after their ballot was retracted. A round turns each of its ballots' records into record
 *   entries (one whole-ballot record, or one per contest: meta 'cvr_mode') in `cvr_release`, each
 *   under a fresh random key, and only when all are made moves them to the pool in key order: a
 *   uniform shuffle of the round, each contest's records in an order of their own. The pools hold
 *   no insertion order (WITHOUT ROWID) and record entries carry no key, so nothing here maps a
 *   commitment to a cast vote record either.
 * - Round 1 publishes every pending record; a later round only the districts with at least k
 *   (meta 'min_release', the definition's minBallotsPerRelease) pending; its manifest states the
 *   records withheld per district.
 *
 * Storage schema (SQLite, version 1):
 *   meta(key TEXT PRIMARY KEY, value)  -- 'schema', 'election', 'opens_at_ms', 'closes_at_ms',
 *                                         'polls_opened', 'polls_closed', 'cvr_round', 'cvr_round_open',
 *                                         'cvr_mode', 'min_release', 'retraction_blinding_key' (hex),
 *                                         'exports_at_ms', 'results_published', 'results_sha256' and
 *                                         'cvr_sha256' (hex), 'certified_at', 'certified_by'
 *   log(id INTEGER PRIMARY KEY CHECK (id = 1), size, root BLOB, checkpoint TEXT, staging_key TEXT,
 *       staging_sha256 BLOB, published_size, published_root BLOB, acknowledged_size)
 *   edge_tiles(path TEXT PRIMARY KEY, data BLOB)   -- the partial tiles of the tree at `size`
 *   entries(idx INTEGER PRIMARY KEY, key TEXT UNIQUE NULL, data BLOB NULL, tracking_code TEXT NULL)
 *                                      -- data kept while its entry bundle is partial
 *   pool(seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NULL, data BLOB, tracking_code TEXT NULL,
 *        shuffle 0|1, retracts TEXT NULL (a retraction's ballot), sealed INTEGER NULL (position in its step))
 *   cvr_pool(ballot_id TEXT PRIMARY KEY, state 'pending'|'publishing'|'published'|'retracted'|
 *            'awaiting-ballot', shuffle_key BLOB NULL, district_id TEXT NULL, data BLOB NULL,
 *            round INTEGER NULL, retraction_key TEXT NULL) WITHOUT ROWID
 *            -- data: the record (pending, publishing until its entries are made), or a retraction
 *               that came before its ballot (awaiting-ballot, logged right after the ballot when it comes)
 *   cvr_release(shuffle_key BLOB PRIMARY KEY, district_id, data) WITHOUT ROWID  -- the open round's record entries
 *   cvr_round_counts(district_id TEXT PRIMARY KEY, records) WITHOUT ROWID        -- for its manifest
 * (version 2 added pool.shuffle/retracts/sealed and the two cvr_ tables)
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { BallotMessage, type BallotAccepted } from "../lib/ballot/messages.ts";
import {
  ballotEntry,
  castVoteRecordEntry,
  checkInEntry,
  decodeEntry,
  encodeEntry,
  LogEntry,
  recordEntriesOf,
  retractionBlind,
  retractionBlindingKey,
  WIRE_BYTES,
  type LogEntryOf,
} from "../lib/audit/entries.ts";
import {
  CHECKPOINT_CACHE_CONTROL,
  CHECKPOINT_PATH,
  IMMUTABLE_CACHE_CONTROL,
  logObjectKey,
  stagingKey,
} from "../lib/audit/layout.ts";
import { decodeStaging, encodeStaging, stagingDigest, type StagingBundle } from "../lib/audit/staging.ts";
import { chunksOf } from "../lib/d1-limits.ts";
import { ElectionId } from "../lib/election/settings.ts";
import { err, ok, type Result, assertNever } from "../lib/result.ts";
import { signCheckpoint, parseCheckpoint } from "../lib/tlog/checkpoint.ts";
import { bytesEqual, hexEncode } from "../lib/bytes.ts";
import { consistencyProof, EMPTY_ROOT, extendHashAt, leafHash, rootAt, verifyConsistency } from "../lib/tlog/merkle.ts";
import { parseNote } from "../lib/tlog/note.ts";
import { shuffleRange } from "../lib/random.ts";
import {
  edgeTilePaths,
  entryBundlesForTree,
  tileHashAt,
  tilesForTree,
  TILE_WIDTH,
  type PublishedTile,
} from "../lib/tlog/tiles.ts";
import { logSigner, originOf } from "./log-key.ts";
import { prepareExports, resultsPublishedEntry, writeExports } from "./log-exports.ts";
import { ensureSchema } from "./schema.ts";
import { emitEvent } from "../lib/events.ts";

/**
 * At most one checkpoint per second (DESIGN.md 3.6: "a short alarm"): about a second from a
 * ballot's acceptance to its inclusion proof, and at most ~8 R2 writes a second per election
 * (staging, a few partial tiles, one bundle, the checkpoint) whatever the ballot rate.
 */
export const SEQUENCE_INTERVAL_MS = 1_000;
/** After a failed step: the interval doubling, at most 30 s (an R2 outage is not a hot loop). */
const RETRY_MAX_MS = 30_000;
/**
 * Entries sequenced per step. Peak is 8,000 ballots/s (DESIGN.md 7), one entry each, so a step
 * a second must take 8,000; twice that lets the log catch up after a stall at twice peak. 16,384
 * entries cost ~33,000 SHA-256 (leaves and nodes) and ~70 R2 objects (64 full tiles and
 * bundles, partials, checkpoint): well inside one invocation's CPU and subrequest limits.
 */
export const MAX_BATCH = 16_384;
/**
 * Entries the pool holds before producers get log_pool_full (429) and retry. Two steps' worth:
 * a full pool means sequencing has stalled for two seconds at peak, and more backlog would only
 * make the next steps slower. Election events may use EVENT_HEADROOM beyond it, so an
 * administrator's action is logged even while ballots are being pushed back.
 */
export const MAX_POOL = 2 * MAX_BATCH;
const EVENT_HEADROOM = 1_024;
/**
 * Leaf indexes written to D1 per acknowledgement call: a whole step's (MAX_BATCH), so that the
 * receipts keep up with the log at peak. Two calls per step of at most 2,000 rows each let them
 * fall behind by half of every step at 8,000 entries/s (the log bench showed it).
 */
const ACK_BATCH = MAX_BATCH;
/**
 * Rows per log_receipts INSERT. The rows travel as one JSON parameter (json_each), not three bound
 * values each, so D1's 100-parameter limit (lib/d1-limits.ts) does not cut a step into hundreds of
 * statements: 2,048 rows make a parameter of about 70 kB, far under D1's 2 MB per value, and a
 * full step 8 statements in one batch.
 */
const ACK_ROWS_PER_STATEMENT = 2_048;
/**
 * Cast vote records are published on their own this long after the polls close: time for the
 * last ballots and retractions to drain from the ledgers' outboxes (retried up to a minute
 * apart) and the queues (retried for about five minutes, workers/tally/consumer.ts). An
 * administrator may publish earlier (publishCastVoteRecords) once the queues are drained.
 */
export const CVR_GRACE_MS = 10 * 60_000;
/** k when no definition-loaded entry said otherwise (the settings' default). */
const DEFAULT_MIN_RELEASE = 25;
/**
 * After the exports could not be made (the tally and the log's records disagree, records are
 * still held back, R2 or D1 failed): the first retry, doubling up to EXPORT_RETRY_MAX_MS. Each
 * try reads every entry bundle, so it is not retried every second.
 */
const EXPORT_RETRY_MS = 5_000;
const EXPORT_RETRY_MAX_MS = 5 * 60_000;
/** A queue batch is at most 100 messages; anything far above is a caller's bug. */
const MAX_MESSAGES = 1_000;

const Key = z.string().min(1).max(256);
/** What producers other than the queue consumer may log through append(). */
const APPENDABLE: ReadonlySet<LogEntry["type"]> = new Set([
  "check-in",
  "station-results",
  "paper-cancellation",
  "definition-loaded",
  "roll-imported",
  "official-key-added",
  "official-key-revoked",
  "official-revoked",
  // Authority changes (stations, device keys, serial ranges, sheet keys): the stations routes.
  "station-registered",
  "station-revoked",
  "station-key-added",
  "station-key-revoked",
  "serial-range-issued",
  "sheet-key-added",
  "sheet-key-revoked",
  // An early close of the polls and its reopening: the polls routes.
  "polls-closed-early",
  "polls-reopened",
  // An administrator's certification of the published results (workers/gateway/routes/certification.ts).
  "results-certified",
  // An administrator's decision on an offline check-in's conflict (workers/gateway/routes/conflicts.ts).
  "conflict-adjudicated",
  // The security monitor's high-severity alerts and their closing (durable-objects/security-monitor.ts).
  "alert-raised",
  "alert-closed",
]);
const AppendItems = z
  .array(z.object({ key: Key, entry: LogEntry }))
  .min(1)
  .max(MAX_MESSAGES);

export type LogRefusal = "log_pool_full";

/** What the channels say about whether everything accepted reached the log (workers/audit/log.ts). */
const DrainEvidenceSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("counted"),
    ballots: z.number().int().min(0),
    retractions: z.number().int().min(0),
    pending: z.number().int().min(0),
  }),
  z.object({ kind: z.literal("unenumerable"), deadLetters: z.number().int().min(0) }),
]);
export type DrainEvidence = z.infer<typeof DrainEvidenceSchema>;
/** Test-only: a shorter grace after the close (vitest.config.ts), so tests need not wait ten minutes. */
const TestGrace = z.looseObject({ LOG_CVR_GRACE_MS: z.string().regex(/^[0-9]{1,7}$/) });

export interface AppendOutcome {
  /** Entries taken by this call: pooled, or (a retraction before its ballot) held for the ballot. */
  readonly pooled: number;
  /** Entries already pooled or logged under the same key: nothing new. */
  readonly duplicates: number;
}

export interface LogStatus {
  readonly electionId: string | null;
  readonly origin: string | null;
  readonly size: number;
  readonly publishedSize: number;
  readonly acknowledgedSize: number;
  readonly pooled: number;
  readonly castVoteRecords: {
    readonly pending: number;
    readonly publishing: number;
    readonly published: number;
    readonly retracted: number;
    /** Retractions that came before their ballot, waiting for it. */
    readonly awaitingBallot: number;
    readonly rounds: number;
  };
  readonly pollsOpened: boolean;
  readonly pollsClosed: boolean;
  /** Why the log stopped sequencing (a fatal failure); null while healthy. */
  readonly halted: string | null;
  /**
   * The results exports: "not-due" until the last round of records is complete, "waiting" while
   * they cannot be made (`reason` says why: records held back, the tally and the log disagree,
   * a failed read or write), "published" once `results-published` is pooled.
   */
  readonly exports: {
    readonly state: "not-due" | "waiting" | "published";
    readonly reason: string | null;
    readonly resultsSha256: string | null;
    readonly cvrSha256: string | null;
    /** The certification (results-certified pooled), or null. */
    readonly certified: { readonly at: string; readonly officialId: string } | null;
  };
  /**
   * Since this instance started (for benchmarks): entries sequenced, steps that sequenced some,
   * and the wall time those steps took from build to public checkpoint. entries / busyMs is the
   * sequencer's capacity; the interval between steps bounds it further.
   */
  readonly sequencing: { readonly entries: number; readonly steps: number; readonly busyMs: number };
}

/** Where a test may make the next step fail (fault-injection table test). */
export type FaultPoint = "staging" | "swap" | `tile:${number}` | "checkpoint" | "ack" | "exports";
const FaultPointSchema = z.union([
  z.enum(["staging", "swap", "checkpoint", "ack", "exports"]),
  z.templateLiteral(["tile:", z.number().int().min(0)]),
]);
const FaultMode = z.enum(["fail", "crash", "always"]);
/** The test configuration's LOG_FAULT_INJECTION, or attack drills (DRILLS, never in production). */
const FaultInjectionEnabled = z.union([
  z.looseObject({ LOG_FAULT_INJECTION: z.literal("enabled") }),
  z.looseObject({ DRILLS: z.literal("enabled") }),
]);

class InjectedFault extends Error {}
/** A condition under which signing anything more could fork the log. */
class FatalLogError extends Error {}

interface LogRow {
  size: number;
  root: ArrayBuffer;
  checkpoint: string;
  staging_key: string | null;
  staging_sha256: ArrayBuffer | null;
  published_size: number;
  published_root: ArrayBuffer;
  acknowledged_size: number;
  [key: string]: SqlStorageValue;
}

interface PoolRow {
  seq: number;
  sealed: number;
  key: string | null;
  data: ArrayBuffer;
  tracking_code: string | null;
  [key: string]: SqlStorageValue;
}

const RETRACTION_KEY_PREFIX = "retraction/";

function blob(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

function bytesOf(buffer: ArrayBuffer): Uint8Array {
  return new Uint8Array(buffer);
}

export class LogSequencer extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private stepping: Promise<void> | undefined;
  private lastStepAt = 0;
  private failures = 0;
  private halted: string | undefined;
  /** Whether this instance has compared R2's public checkpoint with its own state. */
  private publicCheckpointChecked = false;
  private readonly faults = new Map<FaultPoint, z.infer<typeof FaultMode>>();
  private readonly sequencing = { entries: 0, steps: 0, busyMs: 0 };
  /** The HMAC key of retraction blinding, imported once per instance. */
  private blindingKey: CryptoKey | undefined;
  /** When the exports may be tried again, and why the last try made nothing (null: not tried or done). */
  private exportRetryAt = 0;
  private exportFailures = 0;
  private exportWaiting: string | null = null;
  /** Tells one instance from the next (tests check that a crash really reset the object). */
  private readonly instance = crypto.randomUUID();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      // A crash between steps, or work that arrived just before one: continue right away.
      if (this.hasWork(Date.now()) && (await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
    });
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 2,
      upgrades: [LogSequencer.upgradeTo2],
      create: (sql) => {
        sql.exec(`CREATE TABLE log (
          id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root BLOB NOT NULL, checkpoint TEXT NOT NULL,
          staging_key TEXT, staging_sha256 BLOB, published_size INTEGER NOT NULL, published_root BLOB NOT NULL,
          acknowledged_size INTEGER NOT NULL,
          CHECK (published_size <= size AND acknowledged_size <= published_size))`);
        sql.exec(
          `INSERT INTO log (id, size, root, checkpoint, published_size, published_root, acknowledged_size) VALUES (1, 0, ?, '', 0, ?, 0)`,
          blob(EMPTY_ROOT),
          blob(EMPTY_ROOT),
        );
        sql.exec(`CREATE TABLE edge_tiles (path TEXT PRIMARY KEY, data BLOB NOT NULL)`);
        sql.exec(`CREATE TABLE entries (idx INTEGER PRIMARY KEY, key TEXT UNIQUE, data BLOB, tracking_code TEXT)`);
        sql.exec(
          `CREATE TABLE pool (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, data BLOB NOT NULL, tracking_code TEXT,
             shuffle INTEGER NOT NULL DEFAULT 0, retracts TEXT, sealed INTEGER)`,
        );
        sql.exec(`CREATE TABLE cvr_pool (
          ballot_id TEXT PRIMARY KEY,
          state TEXT NOT NULL CHECK (state IN ('pending', 'publishing', 'published', 'retracted', 'awaiting-ballot')),
          shuffle_key BLOB, district_id TEXT, data BLOB, round INTEGER, retraction_key TEXT) WITHOUT ROWID`);
        sql.exec(`CREATE INDEX cvr_pool_by_state ON cvr_pool (state, shuffle_key)`);
        LogSequencer.createReleaseTables(sql);
      },
    });
  }

  /** Version 2: shuffled sequencing steps (pool.shuffle, retracts, sealed) and the record release tables. */
  private static upgradeTo2(sql: SqlStorage): void {
    sql.exec(`ALTER TABLE pool ADD COLUMN shuffle INTEGER NOT NULL DEFAULT 0`);
    sql.exec(`ALTER TABLE pool ADD COLUMN retracts TEXT`);
    sql.exec(`ALTER TABLE pool ADD COLUMN sealed INTEGER`);
    LogSequencer.createReleaseTables(sql);
  }

  private static createReleaseTables(sql: SqlStorage): void {
    // The open round's record entries, each under its own random key (its publication order).
    sql.exec(
      `CREATE TABLE cvr_release (shuffle_key BLOB PRIMARY KEY, district_id TEXT NOT NULL, data BLOB NOT NULL) WITHOUT ROWID`,
    );
    // The open round's record entries per district, for its manifest.
    sql.exec(`CREATE TABLE cvr_round_counts (district_id TEXT PRIMARY KEY, records INTEGER NOT NULL) WITHOUT ROWID`);
  }

  // -------------------------------------------------------------------------------------------
  // Producers

  /**
   * Logs what a batch of ballot-queue messages says: each accepted ballot becomes a `ballot`
   * entry (commitment, channel, district, minute) and its cast vote record waits in the CVR pool
   * for the polls to close; a retraction becomes a `retraction` entry and keeps its ballot's
   * record out of the count; a check-in becomes a `check-in` entry. Idempotent by key. Refused
   * whole with log_pool_full while the pool is full: the consumer retries the messages.
   */
  async recordBallots(
    electionId: string,
    messages: readonly BallotMessage[],
  ): Promise<Result<AppendOutcome, LogRefusal>> {
    const id = this.claimElection(electionId);
    const batch = z.array(BallotMessage).max(MAX_MESSAGES).parse(messages);
    for (const m of batch)
      if (m.electionId !== id) throw new Error(`a message of election ${m.electionId} reached the log of ${id}`);
    if (this.pooledCount() >= MAX_POOL) return err("log_pool_full");
    // Retractions name their ballot only by a keyed blinding of its tracking code (H1); the HMAC
    // is asynchronous, so it is computed before the transaction.
    const blinded = new Map<string, string>();
    const retractions = batch.filter((m) => m.kind === "retraction");
    if (retractions.length > 0) {
      const key = await this.retractionKey();
      for (const m of retractions) blinded.set(m.trackingCode, await retractionBlind(key, m.trackingCode));
    }

    const ballots = batch.filter((m) => m.kind === "ballot");
    const outcome = this.ctx.storage.transactionSync((): AppendOutcome => {
      if (ballots.length === batch.length) return this.recordBallotsOnly(ballots);
      let pooled = 0;
      let duplicates = 0;
      let newBallot = false;
      // Everything the queue consumer logs is shuffled within its sequencing step.
      const pool = (key: string, entry: LogEntry, trackingCode: string | null): void => {
        if (this.poolEntry(key, entry, trackingCode, true)) pooled += 1;
        else duplicates += 1;
      };
      for (const m of batch) {
        switch (m.kind) {
          case "ballot": {
            if (this.poolEntry(`ballot/${m.commitment}`, ballotEntry(m), m.trackingCode, true)) {
              pooled += 1;
              newBallot = true;
            } else duplicates += 1;
            // A ballot's record is new in the common case: one statement inserts it, and only a
            // ballot the pool knows already (a redelivery, or its retraction came first) is read.
            const cvr = castVoteRecordEntry(m);
            const inserted = this.sql
              .exec(
                `INSERT INTO cvr_pool (ballot_id, state, shuffle_key, district_id, data) VALUES (?, 'pending', ?, ?, ?)
                   ON CONFLICT (ballot_id) DO NOTHING RETURNING ballot_id`,
                m.ballotId,
                blob(crypto.getRandomValues(new Uint8Array(8))),
                cvr.districtId,
                blob(encodeEntry(cvr)),
              )
              .toArray().length;
            if (inserted > 0) break;
            if (this.releaseWaitingRetraction(m.ballotId)) pooled += 1;
            break;
          }
          case "retraction": {
            const key = `retraction/${m.trackingCode}`;
            const blindedCode = blinded.get(m.trackingCode);
            if (blindedCode === undefined) throw new Error("a retraction was not blinded");
            const entry: LogEntry = { type: "retraction", reason: m.reason, districtId: m.districtId, blindedCode };
            const row = this.sql
              .exec<{
                state: string;
                made: number;
              }>(`SELECT state, (data IS NULL) AS made FROM cvr_pool WHERE ballot_id = ?`, m.ballotId)
              .toArray()[0];
            if (!row) {
              // The retraction came first (queue order is not guaranteed): it waits for its ballot,
              // so the log never shows a retraction before the ballot it retracts, and the
              // ballot's record will never be pooled.
              this.sql.exec(
                `INSERT INTO cvr_pool (ballot_id, state, data, retraction_key) VALUES (?, 'awaiting-ballot', ?, ?)`,
                m.ballotId,
                blob(encodeEntry(entry)),
                key,
              );
              pooled += 1;
              break;
            }
            if (row.state === "awaiting-ballot") {
              duplicates += 1;
              break;
            }
            pool(key, entry, null);
            // A 'publishing' ballot whose record entries are made (data gone) is as good as published.
            if (row.state === "pending" || (row.state === "publishing" && row.made === 0)) {
              this.sql.exec(
                `UPDATE cvr_pool SET state = 'retracted', data = NULL, shuffle_key = NULL, district_id = NULL WHERE ballot_id = ?`,
                m.ballotId,
              );
            } else if (row.state === "published" || row.state === "publishing") {
              // Reachable only if a retraction made before the close was delayed past the
              // publication (CVR_GRACE_MS): the record is public and cannot be taken back. The
              // auditor's recount will show this district one record over; say so loudly here.
              emitEvent("log_late_retraction", { electionId: id, districtId: m.districtId });
            }
            break;
          }
          case "check-in":
            pool(`check-in/${m.checkInId}`, checkInEntry(m), null);
            break;
          default:
            assertNever(m);
        }
      }
      // For the drain check of one-ledger-per-voter elections: when the last ballot came. Once
      // per batch: the clock does not advance during synchronous code on Workers, so every ballot
      // of the batch came at the same moment anyway.
      if (newBallot) this.setMeta("last_ballot_at_ms", Date.now());
      return { pooled, duplicates };
    });
    if (outcome.pooled > 0) await this.armSoon();
    return ok(outcome);
  }

  /**
   * recordBallots for a batch of ballots only (the queue's usual batch), inside its transaction:
   * the same rows as the general loop, in two statements for the whole batch instead of two per
   * ballot (at peak the per-statement cost was most of the log's time). The pool takes the
   * ballots in batch order; a record already in the CVR pool (a redelivery, or a retraction that
   * came first) is then handled one by one as in the loop, so a waiting retraction is pooled after
   * the batch's ballots rather than right after its own: still after its ballot, and in the same
   * run of shuffled entries, so its published position has the same distribution.
   */
  private recordBallotsOnly(batch: readonly BallotAccepted[]): AppendOutcome {
    // Blobs travel as hex inside the JSON parameter and are unhexed by SQLite.
    const rows = batch.map((m) => {
      const cvr = castVoteRecordEntry(m);
      return [
        `ballot/${m.commitment}`,
        hexEncode(encodeEntry(ballotEntry(m))),
        m.trackingCode,
        m.ballotId,
        hexEncode(crypto.getRandomValues(new Uint8Array(8))),
        cvr.districtId,
        hexEncode(encodeEntry(cvr)),
      ];
    });
    const json = JSON.stringify(rows);
    // A key already pooled (pool.key is UNIQUE) or logged is skipped, as in poolEncoded.
    const pooledKeys = this.sql
      .exec(
        `INSERT INTO pool (key, data, tracking_code, shuffle, retracts)
           SELECT j.value ->> 0, unhex(j.value ->> 1), j.value ->> 2, 1, NULL FROM json_each(?) AS j
           WHERE NOT EXISTS (SELECT 1 FROM entries WHERE key = j.value ->> 0) ORDER BY j.key
         ON CONFLICT (key) DO NOTHING RETURNING seq`,
        json,
      )
      .toArray().length;
    const inserted = new Set(
      this.sql
        .exec<{ ballot_id: string }>(
          `INSERT INTO cvr_pool (ballot_id, state, shuffle_key, district_id, data)
             SELECT j.value ->> 3, 'pending', unhex(j.value ->> 4), j.value ->> 5, unhex(j.value ->> 6)
             FROM json_each(?) AS j WHERE true ORDER BY j.key
           ON CONFLICT (ballot_id) DO NOTHING RETURNING ballot_id`,
          json,
        )
        .toArray()
        .map((r) => r.ballot_id),
    );
    let pooled = pooledKeys;
    for (const m of batch) {
      if (inserted.has(m.ballotId)) continue;
      if (this.releaseWaitingRetraction(m.ballotId)) pooled += 1;
    }
    // For the drain check of one-ledger-per-voter elections, as in the loop.
    if (pooledKeys > 0) this.setMeta("last_ballot_at_ms", Date.now());
    return { pooled, duplicates: batch.length - pooledKeys };
  }

  /**
   * Logs other entries: election events (from the admin routes) and the paper channel's check-ins,
   * result sheets and cancellations. `key` makes the call idempotent (a repeat is a duplicate).
   */
  async append(
    electionId: string,
    items: readonly { key: string; entry: LogEntry }[],
  ): Promise<Result<AppendOutcome, LogRefusal>> {
    this.claimElection(electionId);
    const parsed = AppendItems.parse(items);
    for (const { entry } of parsed) {
      // Ballots and retractions come through recordBallots (which keeps the cast vote records in
      // step with them); records, rounds and poll events are the sequencer's own.
      if (!APPENDABLE.has(entry.type)) throw new Error(`a ${entry.type} entry cannot be appended directly`);
      // Certification names the published report: never before it, never another one.
      if (
        entry.type === "results-certified" &&
        (this.meta("results_published") !== 1 || entry.resultsSha256 !== this.metaText("results_sha256"))
      )
        throw new Error("a results-certified entry must name the published results report");
    }
    if (this.pooledCount() >= MAX_POOL + EVENT_HEADROOM) return err("log_pool_full");
    const outcome = this.ctx.storage.transactionSync((): AppendOutcome => {
      let pooled = 0;
      for (const { key, entry } of parsed) {
        if (!this.poolEntry(key, entry, null)) continue;
        pooled += 1;
        if (entry.type === "definition-loaded") {
          this.setMeta("opens_at_ms", Date.parse(entry.opensAt));
          this.setMeta("closes_at_ms", Date.parse(entry.closesAt));
          this.setMeta("cvr_mode", WIRE_BYTES.records[entry.castVoteRecords]);
          this.setMeta("min_release", entry.minBallotsPerRelease);
        }
        if (entry.type === "results-certified") {
          this.setMetaText("certified_at", entry.at);
          this.setMetaText("certified_by", entry.officialId);
        }
      }
      return { pooled, duplicates: parsed.length - pooled };
    });
    if (outcome.pooled > 0) await this.armSoon();
    return ok(outcome);
  }

  /**
   * Publishes the pooled cast vote records now rather than the grace after the close, once the
   * channels are drained (M4: a round published while ballots are still on their way would leave
   * them to a tiny later round that ties them to their ballot entries). Logs `polls-closed` first
   * if it is not yet. Refused before `closesAt` (the election's definition, from D1), and while
   * `drain` (gathered by workers/audit/log.ts drainEvidence) does not show everything arrived:
   * - counted (a bounded set of ledgers, and the paper boxes): no outbox row unsent, and this log
   *   received as many ballots and retractions as the outboxes ever enqueued;
   * - unenumerable (one ledger per voter): the grace after the close has passed, no ballot came for
   *   a whole grace period, and no dead letter of the election is kept.
   */
  async publishCastVoteRecords(
    electionId: string,
    closesAt: string,
    drain: DrainEvidence,
  ): Promise<Result<{ round: number; records: number }, "polls_not_closed" | "records_not_drained">> {
    const id = this.claimElection(electionId);
    const closesAtMs = Date.parse(z.iso.datetime({ offset: true }).parse(closesAt));
    const evidence = DrainEvidenceSchema.parse(drain);
    const now = Date.now();
    if (now < closesAtMs) return err("polls_not_closed");
    const undrained = this.undrained(evidence, closesAtMs, now);
    if (undrained) {
      emitEvent("log_cvr_publication_refused", { electionId: id, reason: undrained });
      return err("records_not_drained");
    }
    const result = this.ctx.storage.transactionSync(() => {
      if (this.meta("closes_at_ms") === undefined) this.setMeta("closes_at_ms", closesAtMs);
      this.emitPollEvents(now);
      if (this.meta("cvr_round_open") === 1) {
        const round = this.meta("cvr_round") ?? 0;
        const records = this.sql
          .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM cvr_pool WHERE round = ?`, round)
          .one().n;
        return { round, records };
      }
      return this.startCvrRound(true);
    });
    emitEvent("log_cvr_publication", { electionId: id, ...result });
    await this.armSoon();
    return ok(result);
  }

  /** Why the channels do not look drained (a sentence for the event), or undefined when they do. */
  private undrained(evidence: DrainEvidence, closesAtMs: number, now: number): string | undefined {
    const grace = this.cvrGraceMs();
    if (evidence.kind === "unenumerable") {
      if (now < closesAtMs + grace) return "the grace after the close has not passed";
      const last = this.meta("last_ballot_at_ms");
      if (last !== undefined && now < last + grace) return "a ballot arrived within the last grace period";
      if (evidence.deadLetters > 0) return `${evidence.deadLetters} dead letter(s) of the election are kept`;
      return undefined;
    }
    if (evidence.pending > 0) return `${evidence.pending} outbox message(s) are unsent`;
    const logged = this.receivedCounts();
    if (logged.ballots !== evidence.ballots || logged.retractions !== evidence.retractions)
      return `the log received ${logged.ballots} ballots and ${logged.retractions} retractions; the outboxes enqueued ${evidence.ballots} and ${evidence.retractions}`;
    return undefined;
  }

  /** Distinct ballots and retractions this log has received (pooled, logged, or waiting for their ballot). */
  private receivedCounts(): { ballots: number; retractions: number } {
    const keys = (from: string, to: string): number =>
      this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM entries WHERE key >= ? AND key < ?`, from, to).one().n +
      this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM pool WHERE key >= ? AND key < ?`, from, to).one().n;
    const waiting = this.sql
      .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM cvr_pool WHERE state = 'awaiting-ballot'`)
      .one().n;
    // "ballot/" < every "ballot/<commitment>" < "ballot0" ('0' follows '/'), and the same for retractions.
    return { ballots: keys("ballot/", "ballot0"), retractions: keys("retraction/", "retraction0") + waiting };
  }

  /**
   * When an automatic round may start: a grace after the close, and a grace after the last ballot
   * arrived (M4: while ballots still trickle in from outboxes and queue retries, the channels are
   * not drained, and a round now would leave the stragglers to a tiny round of their own).
   */
  private automaticRoundAt(): number | undefined {
    const closes = this.meta("closes_at_ms");
    if (closes === undefined) return undefined;
    const grace = this.cvrGraceMs();
    return Math.max(closes + grace, (this.meta("last_ballot_at_ms") ?? 0) + grace);
  }

  /** CVR_GRACE_MS, or a shorter grace the test configuration sets (LOG_CVR_GRACE_MS). */
  private cvrGraceMs(): number {
    const test = TestGrace.safeParse(this.env);
    return test.success ? Number(test.data.LOG_CVR_GRACE_MS) : CVR_GRACE_MS;
  }

  async status(): Promise<LogStatus> {
    const log = this.logRow();
    const electionId = this.electionId();
    const counts = new Map(
      this.sql
        .exec<{ state: string; n: number }>(`SELECT state, COUNT(*) AS n FROM cvr_pool GROUP BY state`)
        .toArray()
        .map((r) => [r.state, r.n]),
    );
    return {
      electionId: electionId ?? null,
      origin: electionId ? originOf(this.env, electionId) : null,
      size: log.size,
      publishedSize: log.published_size,
      acknowledgedSize: log.acknowledged_size,
      pooled: this.pooledCount(),
      castVoteRecords: {
        pending: counts.get("pending") ?? 0,
        publishing: counts.get("publishing") ?? 0,
        published: counts.get("published") ?? 0,
        retracted: counts.get("retracted") ?? 0,
        awaitingBallot: counts.get("awaiting-ballot") ?? 0,
        rounds: this.meta("cvr_round") ?? 0,
      },
      pollsOpened: this.meta("polls_opened") === 1,
      pollsClosed: this.meta("polls_closed") === 1,
      halted: this.halted ?? null,
      exports: {
        state: this.meta("results_published") === 1 ? "published" : this.exportsPending() ? "waiting" : "not-due",
        reason: this.exportWaiting,
        resultsSha256: this.metaText("results_sha256") ?? null,
        cvrSha256: this.metaText("cvr_sha256") ?? null,
        certified: this.certification(),
      },
      sequencing: { ...this.sequencing },
    };
  }

  /**
   * Runs one step now (after any running one), for tests and operators: the status after it, and
   * why the step failed (null when it did not).
   */
  async sequenceNow(): Promise<{ status: LogStatus; failed: string | null }> {
    let failed: string | null = null;
    try {
      await this.step();
    } catch (error) {
      failed = String(error);
    }
    await this.scheduleNext();
    return { status: await this.status(), failed };
  }

  /**
   * Tests and attack drills: makes the next pass through `point` fail ("fail": the step throws,
   * like a failed R2 put), crash ("crash": the object is reset at that point, like a machine going
   * away), or fail until clearFaults ("always"). Refused unless the Worker runs with
   * LOG_FAULT_INJECTION = "enabled" (vitest.config.ts only) or DRILLS = "enabled" (local runs;
   * production refuses it).
   */
  async injectFault(point: FaultPoint, mode: "fail" | "crash" | "always" = "fail"): Promise<void> {
    this.requireFaultInjection();
    this.faults.set(FaultPointSchema.parse(point), FaultMode.parse(mode));
  }

  /** Test-only: the faults not yet hit, and this instance's id (a crash makes a new one). */
  async faultState(): Promise<{ pending: FaultPoint[]; instance: string }> {
    this.requireFaultInjection();
    return { pending: [...this.faults.keys()], instance: this.instance };
  }

  /** Test-only: forgets every injected fault. */
  async clearFaults(): Promise<void> {
    this.requireFaultInjection();
    this.faults.clear();
  }

  private requireFaultInjection(): void {
    if (!FaultInjectionEnabled.safeParse(this.env).success) throw new Error("fault injection is disabled");
  }

  override async alarm(): Promise<void> {
    // Rescheduled before working: if this step dies half way, the alarm is already set.
    await this.ctx.storage.setAlarm(Date.now() + this.retryDelay());
    try {
      await this.step();
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      emitEvent("log_step_failed", { electionId: this.electionId(), failures: this.failures, error: String(error) });
    }
    await this.scheduleNext();
  }

  // -------------------------------------------------------------------------------------------
  // The sequencing step

  private async step(): Promise<void> {
    // A failed step is its caller's to report; a waiter only needs it to be over.
    while (this.stepping) await this.stepping.catch(() => undefined);
    const run = this.runStep();
    this.stepping = run;
    try {
      await run;
    } finally {
      this.stepping = undefined;
    }
  }

  private async runStep(): Promise<void> {
    this.lastStepAt = Date.now();
    if (this.halted) throw new FatalLogError(`the log is halted: ${this.halted}`);
    const electionId = this.electionId();
    if (!electionId) return;
    try {
      if (!this.publicCheckpointChecked) await this.checkPublicCheckpoint(electionId);
      await this.finishPublication(electionId);
      await this.acknowledge(electionId);
      const now = Date.now();
      this.ctx.storage.transactionSync(() => {
        this.emitPollEvents(now);
        this.moveCastVoteRecords(now);
      });
      if (await this.sequence(electionId)) {
        await this.acknowledge(electionId);
      }
      if (this.exportsDue(Date.now())) await this.exportResults(electionId);
    } catch (error) {
      if (error instanceof FatalLogError) {
        this.halted = error.message;
        emitEvent("log_halted", { electionId, reason: error.message });
        throw new FatalLogError(`the log is halted: ${error.message}`);
      }
      throw error;
    }
  }

  /** Steps 1-5 for the next pooled entries; false when the pool was empty. */
  private async sequence(electionId: string): Promise<boolean> {
    this.ctx.storage.transactionSync(() => this.sealBatch());
    const pooled = this.sql
      .exec<PoolRow>(`SELECT seq, sealed, key, data, tracking_code FROM pool WHERE sealed IS NOT NULL ORDER BY sealed`)
      .toArray();
    // sealBatch numbers a step's rows 0..n-1: entry oldSize + i is the row sealed at i, which lets
    // step 3 copy the rows in one statement. Anything else is storage corruption.
    if (!pooled.every((row, i) => row.sealed === i))
      throw new FatalLogError("the sealed step's positions are not 0 to n-1");
    const last = pooled[pooled.length - 1];
    if (!last) return false;
    const started = Date.now();
    const log = this.logRow();
    const oldSize = log.size;
    const newSize = oldSize + pooled.length;
    const oldRoot = bytesOf(log.root);

    // 1. build
    const edge = new Map(
      this.sql
        .exec<{ path: string; data: ArrayBuffer }>(`SELECT path, data FROM edge_tiles`)
        .toArray()
        .map((r) => [r.path, bytesOf(r.data)]),
    );
    const oldHashAt = tileHashAt(oldSize, (path) => edge.get(path));
    if (!bytesEqual(rootAt(oldSize, oldHashAt), oldRoot))
      throw new FatalLogError(`the stored edge tiles do not give the stored root of size ${oldSize}`);
    // Pooled bytes come only from encodeEntry over schema-checked entries (poolEntry and the CVR
    // pool), so they are not decoded again here: at 16,384 entries that would double the CPU time
    // of a step. The codec's own tests show every encoded entry decodes (test/node/audit-entries).
    const data = pooled.map((row) => bytesOf(row.data));
    const hashAt = extendHashAt(oldSize, oldHashAt, data.map(leafHash));
    const root = rootAt(newSize, hashAt);
    if (oldSize > 0) {
      const consistent = verifyConsistency(oldSize, newSize, consistencyProof(oldSize, newSize, hashAt), oldRoot, root);
      if (!consistent.ok) throw new FatalLogError(`the new tree is not consistent with the old: ${consistent.error}`);
    }
    const partialStart = Math.floor(oldSize / TILE_WIDTH) * TILE_WIDTH;
    const kept = new Map(
      this.sql
        .exec<{ idx: number; data: ArrayBuffer | null }>(
          `SELECT idx, data FROM entries WHERE idx >= ? AND idx < ?`,
          partialStart,
          oldSize,
        )
        .toArray()
        .map((r) => [r.idx, r.data]),
    );
    const entryAt = (i: number): Uint8Array => {
      if (i >= oldSize) return data[i - oldSize] as Uint8Array;
      const stored = kept.get(i);
      if (!stored) throw new FatalLogError(`entry ${i} of the partial bundle is not stored`);
      return bytesOf(stored);
    };
    const tiles: PublishedTile[] = [
      ...tilesForTree(oldSize, newSize, hashAt),
      ...entryBundlesForTree(oldSize, newSize, entryAt),
    ];
    const checkpoint = await signCheckpoint(
      { origin: originOf(this.env, electionId), size: newSize, root },
      await logSigner(this.env, electionId),
    );
    const bundle: StagingBundle = { size: newSize, tiles, checkpoint };
    const staged = encodeStaging(bundle);
    const key = stagingKey(electionId, newSize, hexEncode(root));

    // 2. staging
    await this.fault("staging");
    // Its own bucket: the public one (AUDIT_LOG) holds only logs/ (security review L5).
    await this.env.AUDIT_STAGING.put(key, staged);

    // 3. checkpoint swap
    const newTiles = new Map(tiles.map((t) => [t.path, t.data]));
    this.ctx.storage.transactionSync(() => {
      this.faultSync("swap");
      const swapped = this.sql
        .exec(
          `UPDATE log SET size = ?, root = ?, checkpoint = ?, staging_key = ?, staging_sha256 = ? WHERE id = 1 AND size = ? RETURNING id`,
          newSize,
          blob(root),
          checkpoint,
          key,
          blob(stagingDigest(staged)),
          oldSize,
        )
        .toArray().length;
      if (swapped !== 1) throw new FatalLogError(`checkpoint swap from size ${oldSize} found another size`);
      // Entry oldSize + i is the row sealed at i (checked above), copied in one statement.
      this.sql.exec(
        `INSERT INTO entries (idx, key, data, tracking_code)
           SELECT ? + sealed, key, data, tracking_code FROM pool WHERE sealed IS NOT NULL ORDER BY sealed`,
        oldSize,
      );
      this.sql.exec(`DELETE FROM pool WHERE sealed IS NOT NULL`);
      this.sql.exec(`DELETE FROM edge_tiles`);
      for (const path of edgeTilePaths(newSize)) {
        const tile = newTiles.get(path) ?? edge.get(path);
        if (!tile) throw new FatalLogError(`edge tile ${path} of size ${newSize} is neither new nor stored`);
        this.sql.exec(`INSERT INTO edge_tiles (path, data) VALUES (?, ?)`, path, blob(tile));
      }
      // Entries of full bundles are in R2 for good once published; only the partial one is needed here.
      this.sql.exec(
        `UPDATE entries SET data = NULL WHERE idx < ? AND data IS NOT NULL`,
        Math.floor(newSize / TILE_WIDTH) * TILE_WIDTH,
      );
    });

    // 4, 5
    await this.publish(electionId, bundle);
    this.sequencing.entries += pooled.length;
    this.sequencing.steps += 1;
    this.sequencing.busyMs += Date.now() - started;
    return true;
  }

  /** Steps 4 and 5: tiles and bundles, then the public checkpoint; then published = size. */
  private async publish(electionId: string, bundle: StagingBundle): Promise<void> {
    await Promise.all(
      bundle.tiles.map(async (tile, k) => {
        await this.fault(`tile:${k}`);
        await this.env.AUDIT_LOG.put(logObjectKey(electionId, tile.path), tile.data, {
          httpMetadata: { contentType: "application/octet-stream", cacheControl: IMMUTABLE_CACHE_CONTROL },
        });
      }),
    );
    await this.fault("checkpoint");
    await this.env.AUDIT_LOG.put(logObjectKey(electionId, CHECKPOINT_PATH), bundle.checkpoint, {
      httpMetadata: { contentType: "text/plain; charset=utf-8", cacheControl: CHECKPOINT_CACHE_CONTROL },
    });
    const log = this.logRow();
    this.sql.exec(
      `UPDATE log SET published_size = size, published_root = root, staging_key = NULL, staging_sha256 = NULL WHERE id = 1 AND size = ?`,
      bundle.size,
    );
    if (log.staging_key) {
      // Not fatal: a leftover staging bundle is garbage, never read again.
      await this.env.AUDIT_STAGING.delete(log.staging_key).catch((error: unknown) => {
        emitEvent("log_staging_delete_failed", { key: log.staging_key, error: String(error) });
      });
    }
  }

  /** Step 0: a checkpoint swapped in but not yet published is published from its staging bundle. */
  private async finishPublication(electionId: string): Promise<void> {
    const log = this.logRow();
    if (log.published_size === log.size) return;
    if (!log.staging_key || !log.staging_sha256)
      throw new FatalLogError(`checkpoint ${log.size} is unpublished and has no staging bundle`);
    // A bundle staged before staging had its own bucket is still read where it was put.
    const object =
      (await this.env.AUDIT_STAGING.get(log.staging_key)) ?? (await this.env.AUDIT_LOG.get(log.staging_key));
    if (!object) throw new FatalLogError(`staging bundle ${log.staging_key} is gone`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    if (!bytesEqual(stagingDigest(bytes), bytesOf(log.staging_sha256)))
      throw new FatalLogError(`staging bundle ${log.staging_key} does not match its digest`);
    const bundle = decodeStaging(bytes);
    if (!bundle.ok) throw new FatalLogError(`staging bundle ${log.staging_key}: ${bundle.error}`);
    if (bundle.value.size !== log.size || bundle.value.checkpoint !== log.checkpoint) {
      throw new FatalLogError(`staging bundle ${log.staging_key} is not the one of checkpoint ${log.size}`);
    }
    emitEvent("log_publication_resumed", { electionId, size: log.size, from: log.published_size });
    await this.publish(electionId, bundle.value);
  }

  /** Step 6: the leaf indexes of published ballot entries go to D1, for receipts. */
  private async acknowledge(electionId: string): Promise<void> {
    const log = this.logRow();
    if (log.acknowledged_size >= log.published_size) return;
    const rows = this.sql
      .exec<{ idx: number; tracking_code: string }>(
        `SELECT idx, tracking_code FROM entries WHERE idx >= ? AND idx < ? AND tracking_code IS NOT NULL ORDER BY idx LIMIT ?`,
        log.acknowledged_size,
        log.published_size,
        ACK_BATCH,
      )
      .toArray();
    const upTo =
      rows.length === ACK_BATCH ? (rows[rows.length - 1]?.idx ?? log.acknowledged_size) + 1 : log.published_size;
    await this.fault("ack");
    const statements = chunksOf(rows, ACK_ROWS_PER_STATEMENT).map((chunk) =>
      this.env.DB.prepare(
        `INSERT INTO log_receipts (tracking_code, election_id, leaf_index)
           SELECT j.value ->> 0, ?, j.value ->> 1 FROM json_each(?) AS j WHERE true
           ON CONFLICT (tracking_code) DO NOTHING`,
      ).bind(electionId, JSON.stringify(chunk.map((r) => [r.tracking_code, r.idx]))),
    );
    if (statements.length > 0) await this.env.DB.batch(statements);
    this.sql.exec(`UPDATE log SET acknowledged_size = MAX(acknowledged_size, ?) WHERE id = 1`, upTo);
  }

  /**
   * Once per instance: R2's public checkpoint must be this log's published checkpoint, or its
   * current one (a crash after step 5's put). Anything else means another writer or lost
   * storage: signing more could fork the log, so it halts.
   */
  private async checkPublicCheckpoint(electionId: string): Promise<void> {
    const object = await this.env.AUDIT_LOG.get(logObjectKey(electionId, CHECKPOINT_PATH));
    const log = this.logRow();
    if (object) {
      const note = parseNote(await object.text());
      const checkpoint = note.ok ? parseCheckpoint(note.value.text) : note;
      if (!checkpoint.ok) throw new FatalLogError(`the public checkpoint does not parse: ${checkpoint.error}`);
      const { origin, size, root } = checkpoint.value;
      const known =
        origin === originOf(this.env, electionId) &&
        ((size === log.published_size && bytesEqual(root, bytesOf(log.published_root))) ||
          (size === log.size && bytesEqual(root, bytesOf(log.root))));
      if (!known)
        throw new FatalLogError(`the public checkpoint (${origin}, size ${size}) is not one this log signed last`);
    } else if (log.published_size > 0 && log.published_size === log.size) {
      // Published before but gone (deleted by hand?): put it back; nothing is forked by that.
      await this.env.AUDIT_LOG.put(logObjectKey(electionId, CHECKPOINT_PATH), log.checkpoint, {
        httpMetadata: { contentType: "text/plain; charset=utf-8", cacheControl: CHECKPOINT_CACHE_CONTROL },
      });
    }
    this.publicCheckpointChecked = true;
  }

  // -------------------------------------------------------------------------------------------
  // Polls and cast vote records (synchronous: called inside transactions)

  /** Logs polls-opened and polls-closed once each, at the definition's times, once they passed. */
  private emitPollEvents(now: number): void {
    const opens = this.meta("opens_at_ms");
    const closes = this.meta("closes_at_ms");
    if (opens !== undefined && now >= opens && this.meta("polls_opened") !== 1) {
      this.poolEntry("polls-opened", { type: "polls-opened", at: new Date(opens).toISOString() }, null);
      this.setMeta("polls_opened", 1);
    }
    if (closes !== undefined && now >= closes && this.meta("polls_closed") !== 1) {
      if (this.meta("polls_opened") !== 1 && opens !== undefined) {
        this.poolEntry("polls-opened", { type: "polls-opened", at: new Date(opens).toISOString() }, null);
        this.setMeta("polls_opened", 1);
      }
      this.poolEntry("polls-closed", { type: "polls-closed", at: new Date(closes).toISOString() }, null);
      // No ballot can be retracted any more: the retraction key is published, once, so anyone
      // can match every retraction to the ballot it names.
      this.poolEntry(
        "retraction-key",
        { type: "retraction-key", at: new Date(closes).toISOString(), key: this.retractionKeyHex() },
        null,
      );
      this.setMeta("polls_closed", 1);
    }
  }

  /** k: the fewest records a round after the first may publish in a district (definition-loaded). */
  private minRelease(): number {
    return this.meta("min_release") ?? DEFAULT_MIN_RELEASE;
  }

  /** Pending records per district that the next round would publish: all in round 1, then only >= k. */
  private releasableDistricts(): Map<string, number> {
    const first = (this.meta("cvr_round") ?? 0) === 0;
    const k = this.minRelease();
    return new Map(
      this.sql
        .exec<{ district_id: string; n: number }>(
          `SELECT district_id, COUNT(*) AS n FROM cvr_pool WHERE state = 'pending' GROUP BY district_id`,
        )
        .toArray()
        .filter((r) => first || r.n >= k)
        .map((r) => [r.district_id, r.n]),
    );
  }

  /**
   * Starts a publication round: the pending records it publishes are marked for it. Round 1 takes
   * every pending record; a later round only the districts with at least k pending (M4: a round
   * of a few late ballots would tie them to their ballot entries), the others wait and the round's
   * manifest says how many. Automatic rounds (after CVR_GRACE_MS) start only when there is
   * something to publish; an administrator's first round may be empty, so "no ballots" is stated
   * in the log too. `records`: the ballots whose records the round publishes.
   */
  private startCvrRound(requested: boolean): { round: number; records: number } {
    const previous = this.meta("cvr_round") ?? 0;
    const districts = this.releasableDistricts();
    const ballots = [...districts.values()].reduce((a, b) => a + b, 0);
    if (ballots === 0 && !(requested && previous === 0)) return { round: previous, records: 0 };
    const round = previous + 1;
    for (const district of districts.keys())
      this.sql.exec(
        `UPDATE cvr_pool SET state = 'publishing', round = ? WHERE state = 'pending' AND district_id = ?`,
        round,
        district,
      );
    this.sql.exec(`DELETE FROM cvr_release`);
    this.sql.exec(`DELETE FROM cvr_round_counts`);
    this.setMeta("cvr_round", round);
    this.setMeta("cvr_round_open", 1);
    return { round, records: ballots };
  }

  /**
   * Runs the open round a slice per step: first every ballot record of the round becomes its
   * record entries (one, or one per contest under per-contest records), each under a fresh random
   * key, so each contest's records come in their own uniform order; only when all are made are
   * they moved into the pool in key order, as space allows; then the round's manifest.
   */
  private moveCastVoteRecords(now: number): void {
    if (this.meta("cvr_round_open") !== 1) {
      const due = this.automaticRoundAt();
      if (this.meta("polls_closed") !== 1 || due === undefined || now < due) return;
      if (this.startCvrRound(false).records === 0) return;
    }
    const round = this.meta("cvr_round") ?? 0;
    const mode = this.meta("cvr_mode") === WIRE_BYTES.records["whole-ballot"] ? "whole-ballot" : "per-contest";
    const ballots = this.sql
      .exec<{ ballot_id: string; data: ArrayBuffer }>(
        `SELECT ballot_id, data FROM cvr_pool WHERE state = 'publishing' AND data IS NOT NULL LIMIT ?`,
        MAX_BATCH,
      )
      .toArray();
    for (const row of ballots) {
      const record = decodeEntry(bytesOf(row.data));
      if (!record.ok || record.value.type !== "cast-vote-record")
        throw new FatalLogError(
          `the pooled record of a ballot does not decode: ${record.ok ? record.value.type : record.error}`,
        );
      for (const entry of recordEntriesOf(record.value, mode)) {
        this.sql.exec(
          `INSERT INTO cvr_release (shuffle_key, district_id, data) VALUES (?, ?, ?)`,
          blob(crypto.getRandomValues(new Uint8Array(16))),
          entry.districtId,
          blob(encodeEntry(entry)),
        );
        this.sql.exec(
          `INSERT INTO cvr_round_counts (district_id, records) VALUES (?, 1)
             ON CONFLICT (district_id) DO UPDATE SET records = records + 1`,
          entry.districtId,
        );
      }
      // Still 'publishing' (its records wait in cvr_release) until the round's manifest is pooled.
      this.sql.exec(`UPDATE cvr_pool SET data = NULL, shuffle_key = NULL WHERE ballot_id = ?`, row.ballot_id);
    }
    if (ballots.length === MAX_BATCH) return;
    const space = Math.min(MAX_BATCH, MAX_POOL - this.pooledCount());
    if (space <= 0) return;
    const rows = this.sql
      .exec<{ shuffle_key: ArrayBuffer; data: ArrayBuffer }>(
        `SELECT shuffle_key, data FROM cvr_release ORDER BY shuffle_key LIMIT ?`,
        space,
      )
      .toArray();
    for (const row of rows) {
      this.sql.exec(`INSERT INTO pool (key, data, tracking_code) VALUES (NULL, ?, NULL)`, row.data);
      this.sql.exec(`DELETE FROM cvr_release WHERE shuffle_key = ?`, row.shuffle_key);
    }
    if (rows.length === space) return;
    const records = new Map(
      this.sql
        .exec<{ district_id: string; records: number }>(`SELECT district_id, records FROM cvr_round_counts`)
        .toArray()
        .map((r) => [r.district_id, r.records]),
    );
    const withheld = new Map(
      this.sql
        .exec<{ district_id: string; n: number }>(
          `SELECT district_id, COUNT(*) AS n FROM cvr_pool WHERE state = 'pending' GROUP BY district_id`,
        )
        .toArray()
        .map((r) => [r.district_id, r.n]),
    );
    const manifest: LogEntryOf<"cast-vote-records-published"> = {
      type: "cast-vote-records-published",
      at: new Date(now).toISOString(),
      round,
      districts: [...new Set([...records.keys(), ...withheld.keys()])].map((districtId) => ({
        districtId,
        records: records.get(districtId) ?? 0,
        withheld: withheld.get(districtId) ?? 0,
      })),
    };
    this.poolEntry(`cast-vote-records-published/${round}`, manifest, null);
    this.sql.exec(`UPDATE cvr_pool SET state = 'published' WHERE state = 'publishing' AND round = ?`, round);
    this.sql.exec(`DELETE FROM cvr_round_counts`);
    this.setMeta("cvr_round_open", 0);
  }

  // -------------------------------------------------------------------------------------------
  // Results exports (step 7)

  /** Whether the exports are still to be made: the polls closed and a round of records is complete. */
  private exportsPending(): boolean {
    if (this.meta("results_published") === 1 || this.meta("polls_closed") !== 1) return false;
    return (this.meta("cvr_round") ?? 0) >= 1 && this.meta("cvr_round_open") !== 1;
  }

  private certification(): { at: string; officialId: string } | null {
    const at = this.metaText("certified_at");
    const officialId = this.metaText("certified_by");
    return at && officialId ? { at, officialId } : null;
  }

  private exportsDue(now: number): boolean {
    return this.exportsPending() && now >= this.exportRetryAt;
  }

  /** Says why the exports wait, and when they are tried again. */
  private exportWait(reason: string, electionId: string): void {
    if (reason !== this.exportWaiting) emitEvent("log_exports_waiting", { electionId, reason });
    this.exportWaiting = reason;
    this.exportRetryAt = Date.now() + Math.min(EXPORT_RETRY_MS * 2 ** this.exportFailures, EXPORT_RETRY_MAX_MS);
    this.exportFailures += 1;
  }

  /**
   * Step 7: once every record is in a published checkpoint, checks the tally against the log's
   * records and, if they agree, puts the signed exports beside the log and pools
   * `results-published`. Same bytes on every try: the time is stored before the first write.
   */
  private async exportResults(electionId: string): Promise<void> {
    const log = this.logRow();
    // Everything pooled (the last round's manifest too) must be in a published checkpoint first;
    // the pool being non-empty keeps the alarm coming, so there is nothing to wait for here.
    if (this.pooledCount() > 0 || log.published_size < log.size) return;
    const held = this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM cvr_pool WHERE state IN ('pending', 'publishing', 'awaiting-ballot')`,
      )
      .one().n;
    if (held > 0) {
      this.exportWait(
        `${held} ballot(s) have records not yet in the log (held back for a later round, or waiting)`,
        electionId,
      );
      return;
    }
    const atMs = this.meta("exports_at_ms") ?? Math.floor(Date.now() / 1000) * 1000;
    const at = new Date(atMs).toISOString();
    const mode = this.meta("cvr_mode") === WIRE_BYTES.records["whole-ballot"] ? "whole-ballot" : "per-contest";
    try {
      const built = await prepareExports(this.env, electionId, log.published_size, mode, at);
      if (!built.ok) {
        this.exportWait(built.error, electionId);
        return;
      }
      this.setMeta("exports_at_ms", atMs);
      await writeExports(this.env, electionId, built.value);
      // Between the R2 puts and the entry: a crash here is repaired by the next try's same bytes.
      this.faultSync("exports");
      const entry = resultsPublishedEntry(at, log.published_size, built.value);
      this.ctx.storage.transactionSync(() => {
        this.poolEntry("results-published", entry, null);
        this.setMeta("results_published", 1);
        this.setMetaText("results_sha256", entry.resultsSha256);
        this.setMetaText("cvr_sha256", entry.cvrSha256);
      });
      this.exportWaiting = null;
      emitEvent("log_results_published", { electionId, records: entry.records, logSize: entry.logSize });
    } catch (error) {
      this.exportWait(`the exports failed: ${String(error)}`, electionId);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  /** Pools an entry unless its key is pooled or logged already; synchronous (inside transactions). */
  private poolEntry(key: string, entry: LogEntry, trackingCode: string | null, shuffle = false): boolean {
    return this.poolEncoded(key, encodeEntry(entry), trackingCode, shuffle);
  }

  /**
   * `shuffle`: the entry may be put anywhere among its neighbours of the same sequencing step
   * (ballots, retractions, check-ins); other entries keep their place. A retraction remembers the
   * tracking code it retracts (from its key), so that the shuffle keeps it after its ballot.
   */
  /**
   * A ballot whose record was already in the pool: if its retraction came first and waited, the
   * retraction follows the ballot into the log now, and the ballot's record is never pooled.
   * True when the retraction was pooled. Synchronous: inside the caller's transaction.
   */
  private releaseWaitingRetraction(ballotId: string): boolean {
    const row = this.sql
      .exec<{ state: string; data: ArrayBuffer | null; retraction_key: string | null }>(
        `SELECT state, data, retraction_key FROM cvr_pool WHERE ballot_id = ?`,
        ballotId,
      )
      .toArray()[0];
    if (row?.state !== "awaiting-ballot" || !row.data || !row.retraction_key) return false;
    const pooled = this.poolEncoded(row.retraction_key, bytesOf(row.data), null, true);
    this.sql.exec(
      `UPDATE cvr_pool SET state = 'retracted', data = NULL, retraction_key = NULL WHERE ballot_id = ?`,
      ballotId,
    );
    return pooled;
  }

  private poolEncoded(key: string, bytes: Uint8Array, trackingCode: string | null, shuffle = false): boolean {
    const retracts = key.startsWith(RETRACTION_KEY_PREFIX) ? key.slice(RETRACTION_KEY_PREFIX.length) : null;
    // One statement: a key already pooled (pool.key is UNIQUE) or logged is skipped. RETURNING
    // says exactly whether a row went in (rowsWritten also counts work on the ignored row).
    return (
      this.sql
        .exec(
          `INSERT INTO pool (key, data, tracking_code, shuffle, retracts) SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM entries WHERE key = ?)
           ON CONFLICT (key) DO NOTHING RETURNING seq`,
          key,
          blob(bytes),
          trackingCode,
          shuffle ? 1 : 0,
          retracts,
          key,
        )
        .toArray().length > 0
    );
  }

  /**
   * Fixes the next sequencing step's entries and their order, once: up to MAX_BATCH pooled rows
   * in pool order, each run of shufflable rows (between two entries that keep their place)
   * permuted uniformly with the CSPRNG, then any retraction that landed before its own ballot
   * swapped with it. The order is stored (`sealed`) before anything is signed, so a step that
   * fails after signing is retried with the same entries in the same order: every signed
   * checkpoint stays a prefix of every later tree. Rows pooled after sealing wait for the next step.
   */
  private sealBatch(): void {
    if (this.sql.exec(`SELECT 1 FROM pool WHERE sealed IS NOT NULL LIMIT 1`).toArray().length > 0) return;
    const rows = this.sql
      .exec<{ seq: number; shuffle: number; tracking_code: string | null; retracts: string | null }>(
        `SELECT seq, shuffle, tracking_code, retracts FROM pool ORDER BY seq LIMIT ?`,
        MAX_BATCH,
      )
      .toArray();
    const order = rows.map((row) => row.seq);
    let start = 0;
    while (start < rows.length) {
      if (rows[start]?.shuffle !== 1) {
        start += 1;
        continue;
      }
      let end = start;
      while (end < rows.length && rows[end]?.shuffle === 1) end += 1;
      shuffleRange(order, start, end);
      // A ballot and its retraction in the same run: the retraction goes after it.
      const bySeq = new Map(rows.slice(start, end).map((row) => [row.seq, row]));
      const ballotAt = new Map<string, number>();
      for (let i = start; i < end; i++) {
        const code = bySeq.get(order[i] ?? -1)?.tracking_code;
        if (code) ballotAt.set(code, i);
      }
      for (let i = start; i < end; i++) {
        const retracts = bySeq.get(order[i] ?? -1)?.retracts;
        const j = retracts ? ballotAt.get(retracts) : undefined;
        if (j !== undefined && j > i) {
          const seq = order[i] as number;
          order[i] = order[j] as number;
          order[j] = seq;
          ballotAt.set(retracts as string, i);
        }
      }
      start = end;
    }
    // One statement for the whole step: position i of the JSON array is the i-th entry.
    this.sql.exec(
      `UPDATE pool SET sealed = j.key FROM json_each(?) AS j WHERE pool.seq = j.value`,
      JSON.stringify(order),
    );
  }

  /** The election's retraction key (32 random bytes, hex), created on first use and kept. */
  private retractionKeyHex(): string {
    const stored = this.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'retraction_blinding_key'`)
      .toArray()[0]?.value;
    if (typeof stored === "string") return stored;
    const key = hexEncode(crypto.getRandomValues(new Uint8Array(32)));
    this.sql.exec(`INSERT INTO meta (key, value) VALUES ('retraction_blinding_key', ?)`, key);
    return key;
  }

  private async retractionKey(): Promise<CryptoKey> {
    this.blindingKey ??= await retractionBlindingKey(this.retractionKeyHex());
    return this.blindingKey;
  }

  private claimElection(electionId: string): string {
    const id = ElectionId.parse(electionId);
    this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('election', ?)`, id);
    const stored = this.electionId();
    if (stored !== id) throw new Error(`the log of election ${stored ?? "?"} was called for ${id}`);
    return id;
  }

  private electionId(): string | undefined {
    const value = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'election'`).toArray()[0]?.value;
    return typeof value === "string" ? value : undefined;
  }

  private meta(key: string): number | undefined {
    const value = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
    return typeof value === "number" ? value : undefined;
  }

  private metaText(key: string): string | undefined {
    const value = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
    return typeof value === "string" ? value : undefined;
  }

  private setMetaText(key: string, value: string): void {
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  private setMeta(key: string, value: number): void {
    this.sql.exec(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  private logRow(): LogRow {
    return this.sql
      .exec<LogRow>(
        `SELECT size, root, checkpoint, staging_key, staging_sha256, published_size, published_root, acknowledged_size FROM log WHERE id = 1`,
      )
      .one();
  }

  private pooledCount(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM pool`).one().n;
  }

  private hasWork(now: number): boolean {
    const log = this.logRow();
    if (this.pooledCount() > 0 || log.published_size < log.size || log.acknowledged_size < log.published_size)
      return true;
    if (this.meta("cvr_round_open") === 1) return true;
    const opens = this.meta("opens_at_ms");
    const closes = this.meta("closes_at_ms");
    if (opens !== undefined && now >= opens && this.meta("polls_opened") !== 1) return true;
    if (closes !== undefined && now >= closes && this.meta("polls_closed") !== 1) return true;
    const due = this.automaticRoundAt();
    if (due !== undefined && now >= due && this.hasPendingRecords()) return true;
    return this.exportsDue(now);
  }

  /** Whether an automatic round would publish something (pending records it may release). */
  private hasPendingRecords(): boolean {
    return this.releasableDistricts().size > 0;
  }

  /** When the next step may run: a second after the last one, later after failures. */
  private nextStepAt(now: number): number {
    return Math.max(now, this.lastStepAt + this.retryDelay());
  }

  private retryDelay(): number {
    return Math.min(SEQUENCE_INTERVAL_MS * 2 ** this.failures, RETRY_MAX_MS);
  }

  private async armSoon(): Promise<void> {
    const want = this.nextStepAt(Date.now());
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > want) await this.ctx.storage.setAlarm(want);
  }

  /** The next alarm: work now, else the next poll time that will create work; none if idle. */
  private async scheduleNext(): Promise<void> {
    const now = Date.now();
    if (this.halted) return;
    if (this.hasWork(now)) {
      await this.ctx.storage.setAlarm(this.nextStepAt(now));
      return;
    }
    const times: number[] = [];
    const opens = this.meta("opens_at_ms");
    const closes = this.meta("closes_at_ms");
    if (opens !== undefined && this.meta("polls_opened") !== 1) times.push(opens);
    if (closes !== undefined && this.meta("polls_closed") !== 1) times.push(closes);
    const due = this.automaticRoundAt();
    if (due !== undefined && this.hasPendingRecords()) times.push(due);
    if (this.exportsPending()) times.push(this.exportRetryAt);
    const next = times.filter((t) => t > now).sort((a, b) => a - b)[0];
    if (next === undefined) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  private async fault(point: FaultPoint): Promise<void> {
    this.faultSync(point);
  }

  private faultSync(point: FaultPoint): void {
    const mode = this.faults.get(point);
    if (mode === undefined) return;
    if (mode !== "always") this.faults.delete(point);
    if (mode === "crash") this.ctx.abort(`injected crash at ${point}`);
    throw new InjectedFault(`injected failure at ${point}`);
  }
}
