/**
 * SecurityMonitor: one per election (name "<election id>"), the security monitor of DESIGN 3.7
 * and docs/MONITORING.md. It hears counts from the ballot queues' consumer and events from the
 * gateway (observe), runs the rules of lib/monitor/engine.ts over its rolling windows, keeps the
 * election's alerts, and tells officials on a live WebSocket.
 *
 * Invariants:
 * - observe records its signals and evaluates the rules they touch in one storage transaction:
 *   no count is kept without its rules having seen it, and no alert changes without its counts.
 * - One alert per (rule, scope) while it is open or acknowledged: a new firing updates its
 *   summary, evidence and lastSeen, and its count grows by one when its figures changed (the
 *   evidence less its clock fields: a timer rule that holds for an hour with the same figures is
 *   one alert of count 1, not 3,600). Only such a change is pushed to the live sockets and written
 *   to D1 at once; a firing with the same figures refreshes D1's lastSeen at most every
 *   LAST_SEEN_WRITE_MS. A firing after the alert was closed opens a new alert.
 * - This object is the one writer of the election's D1 `alerts` rows. An alert changed here is
 *   marked `d1_dirty` in the same transaction and written (upsert by id) afterwards; a failed
 *   write stays dirty and is retried on the next tick (monitor_step_failed).
 * - A high-severity alert is a public log entry (alert-raised, key alert/<id>/raised), and so is
 *   the closing of one (alert-closed, key alert/<id>/closed). The entry is marked pending in the
 *   same transaction as the alert and appended afterwards; log_pool_full or a failure leaves it
 *   pending for the next tick. The log's keys make a repeat harmless.
 * - Nothing here names a voter. A voter tag is kept only in `voters`, as long as its window, to
 *   give it a number; alerts, evidence, D1 rows and log entries hold `voter:<n>` at most, and the
 *   log holds only the scope's kind for voter, address, network and country scopes.
 * - The timer (alarm) runs every second while signals come or an official watches live, every five
 *   seconds while the polls are open (to the scheduled close plus an hour) or a signal came in the
 *   last ten minutes, and sleeps until the polls open when loaded before: it reads the log's status, the election's
 *   dead letters and the aggregator's exact totals, runs the timer's rules, retries what is
 *   dirty or pending, and pushes the status to the live sockets when it changed.
 *
 * Storage schema (SQLite, version 1):
 *   meta(key TEXT PRIMARY KEY, value)  -- 'schema', 'election', 'last_signal_at', 'published_size',
 *     'published_changed_at', 'lag_since', 'evaluated_at', 'status' (the last MonitorStatus, JSON)
 *   buckets(scope TEXT, metric TEXT, bucket INTEGER, n INTEGER, PRIMARY KEY (scope, metric, bucket))
 *     -- window counts; pruned past the longest window
 *   totals(scope TEXT, metric TEXT, n INTEGER, PRIMARY KEY (scope, metric))  -- cumulative counts
 *   firsts(scope TEXT PRIMARY KEY, bucket INTEGER)  -- the first bucket of activity (rate-surge)
 *   voters(tag TEXT PRIMARY KEY, n INTEGER, last INTEGER)  -- tag numbering; pruned with its window
 *   alerts(id TEXT PRIMARY KEY, rule TEXT, scope TEXT, state TEXT, alert_json TEXT,
 *          d1_dirty INTEGER, d1_at INTEGER, log_pending TEXT)
 *     -- d1_at: when D1 last took the alert (ms); log_pending: 'raised', 'closed' or NULL
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { LogEntry } from "../lib/audit/entries.ts";
import { ElectionSettings, monitoringOf } from "../lib/election/settings.ts";
import { emitEvent } from "../lib/events.ts";
import {
  bucketOf,
  evaluateTimer,
  heardBallots,
  observe as observeSignals,
  retainedBuckets,
  type ElectionFacts,
  type Firing,
  type MonitorStore,
  type TimerFacts,
} from "../lib/monitor/engine.ts";
import { Alert, ALERTS_PROTOCOL, type AlertsLiveMessage, type MonitorStatus } from "../lib/monitor/alerts.ts";
import { MonitoringSettings } from "../lib/monitor/rules.ts";
import { MonitorSignal, type MonitorSignalInput } from "../lib/monitor/signals.ts";
import { err, ok, type Result } from "../lib/result.ts";
import { logSequencerFor, resultsAggregatorFor } from "./addresses.ts";
import { NextAlarm } from "./next-alarm.ts";
import { ensureSchema } from "./schema.ts";

/** Why an official's acknowledgement or closing was refused (lib/errors.ts codes). */
export type AlertRefusal = "alert_not_found" | "alert_closed";

const ElectionId = z.string().min(1).max(128);
const Signals = z.array(MonitorSignal).max(10_000);
const OfficialId = z.string().min(1).max(128);
const Note = z.string().max(500);

/**
 * The timer's pace: every second while signals come (in the last ACTIVE_MS) or an official
 * watches live, every IDLE_TICK_MS while the polls are open but nothing comes (an idle election's
 * log and aggregator have nothing to fall behind on; a dead letter wakes the monitor at once), and
 * for QUIET_AFTER_MS after the last signal outside the polls.
 */
const TICK_MS = 1_000;
const IDLE_TICK_MS = 5_000;
const ACTIVE_MS = 30_000;
const QUIET_AFTER_MS = 10 * 60_000;
const AFTER_CLOSE_MS = 3_600_000;
/** How long the election's settings and roll counts are trusted before they are read again. */
const FACTS_TTL_MS = 60_000;

/** How often the status goes to the sockets when only its ages moved. */
const STATUS_REFRESH_MS = 10_000;
/** How stale D1's lastSeen of an alert whose figures did not change may get. */
const LAST_SEEN_WRITE_MS = 30_000;
/** Evidence fields that move with the clock alone: not a change of an alert's figures. */
const CLOCK_FIELDS = new Set(["unchangedSeconds", "laggingSeconds", "windowStart", "windowEnd", "baselineStart"]);

function figures(evidence: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(evidence).filter(([k]) => !CLOCK_FIELDS.has(k)));
}

const PING = "ping";
const PONG = "pong";

interface CachedFacts {
  readonly electionId: string;
  readonly settings: MonitoringSettings;
  readonly registered: ReadonlyMap<string, number>;
  readonly stationDistricts: ReadonlyMap<string, readonly string[]>;
  readonly opensAtMs: number;
  readonly closesAtMs: number;
  readonly readAt: number;
}

/** Alert ids: "al_" and 24 characters of a lowercase base-32 alphabet (120 random bits). */
const ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
function newAlertId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `al_${[...bytes].map((b) => ID_ALPHABET[b % 32]).join("")}`;
}

/** A log entry's time has whole seconds (lib/audit/entries.ts). */
function toSecond(iso: string): string {
  return new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString();
}

/** The scope as the public log shows it: verbatim for the election, stations and districts only. */
function publicScope(scope: string): string {
  const kind = scope.includes(":") ? scope.slice(0, scope.indexOf(":")) : scope;
  return kind === "station" || kind === "district" ? scope : kind;
}

/** The monitor's counts in the object's SQLite tables (lib/monitor/engine.ts MonitorStore). */
class SqlStore implements MonitorStore {
  private readonly sql: SqlStorage;
  constructor(sql: SqlStorage) {
    this.sql = sql;
  }
  add(metric: string, scope: string, bucket: number, n: number): void {
    this.sql.exec(
      `INSERT INTO buckets (scope, metric, bucket, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (scope, metric, bucket) DO UPDATE SET n = n + excluded.n`,
      scope,
      metric,
      bucket,
      n,
    );
  }
  count(metric: string, scope: string, fromBucket: number, toBucket: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COALESCE(SUM(n), 0) AS n FROM buckets WHERE scope = ? AND metric = ? AND bucket BETWEEN ? AND ?`,
        scope,
        metric,
        fromBucket,
        toBucket,
      )
      .one().n;
  }
  breakdown(scope: string, prefix: string, fromBucket: number, toBucket: number): Map<string, number> {
    const rows = this.sql.exec<{ metric: string; n: number }>(
      `SELECT metric, SUM(n) AS n FROM buckets WHERE scope = ? AND substr(metric, 1, ?) = ? AND bucket BETWEEN ? AND ?
       GROUP BY metric`,
      scope,
      prefix.length,
      prefix,
      fromBucket,
      toBucket,
    );
    return new Map([...rows].filter((r) => r.n > 0).map((r) => [r.metric, r.n]));
  }
  addTotal(metric: string, scope: string, n: number): void {
    this.sql.exec(
      `INSERT INTO totals (scope, metric, n) VALUES (?, ?, ?) ON CONFLICT (scope, metric) DO UPDATE SET n = n + excluded.n`,
      scope,
      metric,
      n,
    );
  }
  total(metric: string, scope: string): number {
    return (
      this.sql.exec<{ n: number }>(`SELECT n FROM totals WHERE scope = ? AND metric = ?`, scope, metric).toArray()[0]
        ?.n ?? 0
    );
  }
  scopesOf(metric: string): string[] {
    return this.sql
      .exec<{ scope: string }>(`SELECT scope FROM totals WHERE metric = ?`, metric)
      .toArray()
      .map((r) => r.scope);
  }
  firstBucket(scope: string): number | undefined {
    return this.sql.exec<{ bucket: number }>(`SELECT bucket FROM firsts WHERE scope = ?`, scope).toArray()[0]?.bucket;
  }
  markFirst(scope: string, bucket: number): void {
    this.sql.exec(`INSERT OR IGNORE INTO firsts (scope, bucket) VALUES (?, ?)`, scope, bucket);
  }
  voterNumber(tag: string, bucket: number): number {
    const held = this.sql.exec<{ n: number }>(`SELECT n FROM voters WHERE tag = ?`, tag).toArray()[0];
    if (held) {
      this.sql.exec(`UPDATE voters SET last = MAX(last, ?) WHERE tag = ?`, bucket, tag);
      return held.n;
    }
    // Numbers are never reused, even after a tag is pruned: an alert's voter:<n> stays one voter.
    this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('next_voter', 1)`);
    const n = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'next_voter'`).one().value;
    this.sql.exec(`UPDATE meta SET value = ? WHERE key = 'next_voter'`, n + 1);
    this.sql.exec(`INSERT INTO voters (tag, n, last) VALUES (?, ?, ?)`, tag, n, bucket);
    return n;
  }
  prune(beforeBucket: number): void {
    this.sql.exec(`DELETE FROM buckets WHERE bucket < ?`, beforeBucket);
    this.sql.exec(`DELETE FROM voters WHERE last < ?`, beforeBucket);
  }
}

export class SecurityMonitor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly store: SqlStore;
  private facts: CachedFacts | undefined;
  private readonly nextAlarm = new NextAlarm(this.ctx.storage);
  /** When the status was last pushed to the sockets (in memory: a restart pushes at once). */
  private statusPushedAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new SqlStore(this.sql);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage, {
        version: 1,
        create: (sql) => {
          sql.exec(`CREATE TABLE buckets (scope TEXT NOT NULL, metric TEXT NOT NULL, bucket INTEGER NOT NULL,
            n INTEGER NOT NULL, PRIMARY KEY (scope, metric, bucket))`);
          sql.exec(`CREATE INDEX buckets_by_bucket ON buckets (bucket)`);
          sql.exec(`CREATE TABLE totals (scope TEXT NOT NULL, metric TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (scope, metric))`);
          sql.exec(`CREATE TABLE firsts (scope TEXT PRIMARY KEY, bucket INTEGER NOT NULL)`);
          sql.exec(`CREATE TABLE voters (tag TEXT PRIMARY KEY, n INTEGER NOT NULL, last INTEGER NOT NULL)`);
          sql.exec(`CREATE TABLE alerts (id TEXT PRIMARY KEY, rule TEXT NOT NULL, scope TEXT NOT NULL,
            state TEXT NOT NULL, alert_json TEXT NOT NULL, d1_dirty INTEGER NOT NULL, d1_at INTEGER NOT NULL DEFAULT 0,
            log_pending TEXT)`);
          sql.exec(`CREATE INDEX alerts_by_rule_scope ON alerts (rule, scope, state)`);
        },
      });
      await this.nextAlarm.load();
    });
  }

  /** The election this object serves; the first call names it, another one is a routing bug. */
  private claim(electionId: string): string {
    const id = ElectionId.parse(electionId);
    this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('election', ?)`, id);
    const held = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'election'`).one().value;
    if (held !== id) throw new Error(`a call for election ${id} reached the security monitor of ${held}`);
    return id;
  }

  private electionId(): string | undefined {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'election'`).toArray()[0]?.value;
  }

  private meta(key: string): number | undefined {
    const v = this.sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
    return typeof v === "number" ? v : undefined;
  }

  private setMeta(key: string, value: number | string | null): void {
    if (value === null) this.sql.exec(`DELETE FROM meta WHERE key = ?`, key);
    else this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, value);
  }

  /**
   * The election's monitoring settings, poll times and registered voters per district, from D1,
   * read again after a minute (or at every use before the polls open, see readFacts). An election
   * D1 does not know yet gets the default settings.
   */
  private async loadFacts(electionId: string, now: number): Promise<CachedFacts> {
    const held = this.facts;
    if (held && held.electionId === electionId && now - held.readAt < FACTS_TTL_MS) return held;
    try {
      return await this.readFacts(electionId, now);
    } catch (error) {
      // D1 unreachable: the last figures are better than dropping the signals (they are counted,
      // and the rules run again with fresh figures on the next read).
      if (!held || held.electionId !== electionId) throw error;
      emitEvent("monitor_step_failed", { electionId, step: "election-facts", error: String(error) });
      return held;
    }
  }

  private async readFacts(electionId: string, now: number): Promise<CachedFacts> {
    const row = await this.env.DB.prepare(`SELECT definition_json, opens_at, closes_at FROM elections WHERE id = ?`)
      .bind(electionId)
      .first<{ definition_json: string; opens_at: string; closes_at: string }>();
    let settings = MonitoringSettings.parse({});
    let opensAtMs = 0;
    let closesAtMs = 0;
    if (row) {
      const definition = z.object({ settings: ElectionSettings }).safeParse(JSON.parse(row.definition_json));
      if (definition.success) settings = monitoringOf(definition.data.settings);
      opensAtMs = Date.parse(row.opens_at);
      closesAtMs = Date.parse(row.closes_at);
    }
    const counts = await this.env.DB.prepare(
      `SELECT district_id, COUNT(*) AS n FROM voters WHERE election_id = ? GROUP BY district_id`,
    )
      .bind(electionId)
      .all<{ district_id: string; n: number }>();
    const registered = new Map(counts.results.map((r) => [r.district_id, r.n]));
    // Stations are not per election: keep the districts of this election (those on its roll).
    const served = await this.env.DB.prepare(`SELECT station_id, district_id FROM station_districts`).all<{
      station_id: string;
      district_id: string;
    }>();
    const stationDistricts = new Map<string, string[]>();
    for (const r of served.results) {
      if (!registered.has(r.district_id)) continue;
      const list = stationDistricts.get(r.station_id);
      if (list) list.push(r.district_id);
      else stationDistricts.set(r.station_id, [r.district_id]);
    }
    // Kept for a minute only once the polls are open and the roll is in: from then on neither the
    // roll nor the stations can change (authority_locked); before, each use reads them again.
    const settled = now >= opensAtMs && registered.size > 0;
    const facts: CachedFacts = {
      electionId,
      settings,
      registered,
      stationDistricts,
      opensAtMs,
      closesAtMs,
      readAt: settled ? now : 0,
    };
    this.facts = facts;
    return facts;
  }

  private electionFacts(facts: CachedFacts): ElectionFacts {
    return {
      settings: facts.settings,
      registered: (d) => facts.registered.get(d),
      districtsOf: (s) => facts.stationDistricts.get(s),
    };
  }

  /** Counts and events for the election's windows; rules run on them at once. */
  async observe(electionId: string, signals: readonly MonitorSignalInput[]): Promise<void> {
    const id = this.claim(electionId);
    const parsed = Signals.parse(signals);
    const now = Date.now();
    const facts = await this.loadFacts(id, now);
    const changed = this.ctx.storage.transactionSync(() => {
      const firings = observeSignals(this.store, this.electionFacts(facts), parsed, now);
      this.store.prune(bucketOf(now, facts.settings.bucketSeconds) - retainedBuckets(facts.settings));
      this.setMeta("last_signal_at", now);
      return this.apply(id, firings, now);
    });
    this.broadcastAlerts(changed);
    await this.nextAlarm.arm(now + TICK_MS);
    await this.flush(id);
  }

  /**
   * Raises or updates an alert per firing (file header: dedup), marking D1 writes and log
   * entries due. Synchronous: runs inside the caller's transaction. Answers the alerts changed.
   */
  private apply(electionId: string, firings: readonly Firing[], now: number): Alert[] {
    const at = new Date(now).toISOString();
    const changed: Alert[] = [];
    for (const f of firings) {
      const row = this.sql
        .exec<{ alert_json: string; d1_at: number }>(
          `SELECT alert_json, d1_at FROM alerts WHERE rule = ? AND scope = ? AND state IN ('open', 'acknowledged')`,
          f.rule,
          f.scope,
        )
        .toArray()[0];
      if (row) {
        // Written by this object from an Alert: a failure to parse is a bug.
        const held = Alert.parse(JSON.parse(row.alert_json));
        const moved = figures(held.evidence) !== figures(f.evidence);
        const alert: Alert = {
          ...held,
          summary: f.summary,
          evidence: f.evidence,
          lastSeen: at,
          count: held.count + (moved ? 1 : 0),
        };
        const stale = now - row.d1_at >= LAST_SEEN_WRITE_MS;
        this.sql.exec(
          `UPDATE alerts SET alert_json = ?, d1_dirty = MAX(d1_dirty, ?) WHERE id = ?`,
          JSON.stringify(alert),
          moved || stale ? 1 : 0,
          alert.id,
        );
        if (moved) changed.push(alert);
        continue;
      }
      const alert: Alert = {
        id: newAlertId(),
        electionId,
        rule: f.rule,
        severity: f.severity,
        scope: f.scope,
        summary: f.summary,
        evidence: f.evidence,
        firstSeen: at,
        lastSeen: at,
        count: 1,
        state: "open",
        acknowledged: null,
        closed: null,
      };
      this.sql.exec(
        `INSERT INTO alerts (id, rule, scope, state, alert_json, d1_dirty, log_pending) VALUES (?, ?, ?, 'open', ?, 1, ?)`,
        alert.id,
        alert.rule,
        alert.scope,
        JSON.stringify(alert),
        alert.severity === "high" ? "raised" : null,
      );
      changed.push(alert);
    }
    return changed;
  }

  /** The alerts not closed, newest first (the live channel's snapshot). */
  async openAlerts(): Promise<Alert[]> {
    return this.sql
      .exec<{ alert_json: string }>(`SELECT alert_json FROM alerts WHERE state IN ('open', 'acknowledged')`)
      .toArray()
      .map((r) => Alert.parse(JSON.parse(r.alert_json)))
      .sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : a.id < b.id ? 1 : -1));
  }

  private alertById(alertId: string): Alert | undefined {
    const row = this.sql
      .exec<{ alert_json: string }>(`SELECT alert_json FROM alerts WHERE id = ?`, alertId)
      .toArray()[0];
    return row ? Alert.parse(JSON.parse(row.alert_json)) : undefined;
  }

  /**
   * An official's acknowledgement: the alert stays one (rule, scope) alert and keeps counting. A
   * repeat by the same official changes nothing; another official's replaces the record.
   */
  async acknowledge(alertId: string, officialId: string, note: string): Promise<Result<Alert, AlertRefusal>> {
    const official = OfficialId.parse(officialId);
    const text = Note.parse(note);
    const alert = this.alertById(alertId);
    if (!alert) return err("alert_not_found");
    if (alert.state === "closed") return err("alert_closed");
    if (alert.state === "acknowledged" && alert.acknowledged?.officialId === official) return ok(alert);
    const next: Alert = {
      ...alert,
      state: "acknowledged",
      acknowledged: { officialId: official, at: new Date().toISOString(), note: text },
    };
    this.sql.exec(
      `UPDATE alerts SET state = 'acknowledged', alert_json = ?, d1_dirty = 1 WHERE id = ?`,
      JSON.stringify(next),
      next.id,
    );
    this.broadcastAlerts([next]);
    const electionId = this.electionId();
    if (electionId) await this.flush(electionId);
    return ok(next);
  }

  /** Closes an alert with an official's note; a later firing of its rule and scope opens a new one. */
  async close(alertId: string, officialId: string, note: string): Promise<Result<Alert, AlertRefusal>> {
    const official = OfficialId.parse(officialId);
    const text = Note.min(1).parse(note);
    const alert = this.alertById(alertId);
    if (!alert) return err("alert_not_found");
    if (alert.state === "closed") return err("alert_closed");
    const next: Alert = {
      ...alert,
      state: "closed",
      closed: { officialId: official, at: new Date().toISOString(), note: text },
    };
    this.sql.exec(
      `UPDATE alerts SET state = 'closed', alert_json = ?, d1_dirty = 1, log_pending = ? WHERE id = ?`,
      JSON.stringify(next),
      // A high alert's raising is logged before its closing: a pending 'raised' goes first.
      next.severity === "high" ? "closed" : null,
      next.id,
    );
    this.broadcastAlerts([next]);
    const electionId = this.electionId();
    if (electionId) await this.flush(electionId);
    return ok(next);
  }

  /**
   * Writes dirty alerts to D1 and appends pending log entries. Failures are left for the next
   * tick (monitor_step_failed); never thrown to the caller, whose signals are already counted.
   */
  private async flush(electionId: string): Promise<void> {
    const dirty = this.sql
      .exec<{ id: string; alert_json: string }>(`SELECT id, alert_json FROM alerts WHERE d1_dirty = 1`)
      .toArray();
    if (dirty.length > 0) {
      try {
        const statements = dirty.map((row) => {
          const a = Alert.parse(JSON.parse(row.alert_json));
          return this.env.DB.prepare(
            `INSERT INTO alerts (id, election_id, rule, severity, scope, summary, evidence_json, first_seen, last_seen,
               count, state, acknowledged_by, acknowledged_at, acknowledged_note, closed_by, closed_at, closed_note)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET summary = excluded.summary, evidence_json = excluded.evidence_json,
               last_seen = excluded.last_seen, count = excluded.count, state = excluded.state,
               acknowledged_by = excluded.acknowledged_by, acknowledged_at = excluded.acknowledged_at,
               acknowledged_note = excluded.acknowledged_note, closed_by = excluded.closed_by,
               closed_at = excluded.closed_at, closed_note = excluded.closed_note`,
          ).bind(
            a.id,
            a.electionId,
            a.rule,
            a.severity,
            a.scope,
            a.summary,
            JSON.stringify(a.evidence),
            a.firstSeen,
            a.lastSeen,
            a.count,
            a.state,
            a.acknowledged?.officialId ?? null,
            a.acknowledged?.at ?? null,
            a.acknowledged?.note ?? null,
            a.closed?.officialId ?? null,
            a.closed?.at ?? null,
            a.closed?.note ?? null,
          );
        });
        await this.env.DB.batch(statements);
        // Only the versions written are clean: a change made during the write stays dirty.
        for (const row of dirty) {
          this.sql.exec(
            `UPDATE alerts SET d1_dirty = 0, d1_at = ? WHERE id = ? AND alert_json = ?`,
            Date.now(),
            row.id,
            row.alert_json,
          );
        }
      } catch (error) {
        emitEvent("monitor_step_failed", { electionId, step: "alerts-d1", error: String(error) });
      }
    }
    await this.appendPending(electionId);
  }

  private async appendPending(electionId: string): Promise<void> {
    const pending = this.sql
      .exec<{ id: string; alert_json: string; log_pending: string }>(
        `SELECT id, alert_json, log_pending FROM alerts WHERE log_pending IS NOT NULL`,
      )
      .toArray();
    if (pending.length === 0) return;
    const items: { key: string; entry: LogEntry }[] = [];
    for (const row of pending) {
      const a = Alert.parse(JSON.parse(row.alert_json));
      const raised: LogEntry = {
        type: "alert-raised",
        at: toSecond(a.firstSeen),
        alertId: a.id,
        rule: a.rule,
        scope: publicScope(a.scope),
      };
      // An alert closed before its raising reached the log: both entries, in order.
      items.push({ key: `alert/${a.id}/raised`, entry: raised });
      if (row.log_pending === "closed" && a.closed) {
        items.push({
          key: `alert/${a.id}/closed`,
          entry: { type: "alert-closed", at: toSecond(a.closed.at), alertId: a.id, officialId: a.closed.officialId },
        });
      }
    }
    try {
      const outcome = await logSequencerFor(this.env, electionId).append(electionId, items);
      if (!outcome.ok) {
        emitEvent("monitor_step_failed", { electionId, step: "alerts-log", error: outcome.error });
        return;
      }
      for (const row of pending) {
        this.sql.exec(`UPDATE alerts SET log_pending = NULL WHERE id = ? AND log_pending = ?`, row.id, row.log_pending);
      }
    } catch (error) {
      emitEvent("monitor_step_failed", { electionId, step: "alerts-log", error: String(error) });
    }
  }

  /**
   * Runs the timer's rules now and answers the status; and keeps the timer going (alarm()). The
   * gateway calls it when an election is loaded, so the timer runs from the polls' opening even
   * before any ballot, and the dead-letter consumer when it records a letter of the election.
   */
  async evaluateNow(electionId: string): Promise<MonitorStatus> {
    // A load may have changed the thresholds or the poll times: read them again.
    if (this.facts) this.facts = { ...this.facts, readAt: 0 };
    const status = await this.step(this.claim(electionId));
    await this.nextAlarm.arm(Date.now() + TICK_MS);
    return status;
  }

  async status(electionId: string): Promise<MonitorStatus> {
    const id = this.claim(electionId);
    const stored = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'status'`).toArray()[0];
    const openAlerts = (await this.openAlerts()).length;
    if (stored) return { ...(JSON.parse(stored.value) as MonitorStatus), openAlerts };
    return { electionId: id, evaluatedAt: null, log: null, deadLetters: null, aggregator: null, openAlerts };
  }

  /** One timer step (file header): read the machinery, run the timer's rules, flush, push the status. */
  private async step(electionId: string): Promise<MonitorStatus> {
    const now = Date.now();
    const facts = await this.loadFacts(electionId, now);
    const timer: { -readonly [K in keyof TimerFacts]: TimerFacts[K] } = {};
    let status: MonitorStatus = {
      electionId,
      evaluatedAt: new Date(now).toISOString(),
      log: null,
      deadLetters: null,
      aggregator: null,
      openAlerts: 0,
    };
    const [log, dead, exact] = await Promise.allSettled([
      logSequencerFor(this.env, electionId).status(),
      this.env.DB.prepare(`SELECT COUNT(*) AS n FROM dead_letters WHERE election_id = ?`)
        .bind(electionId)
        .first<{ n: number }>(),
      resultsAggregatorFor(this.env, electionId).exact(),
    ]);
    if (log.status === "fulfilled") {
      const l = log.value;
      if (this.meta("published_size") !== l.publishedSize || this.meta("published_changed_at") === undefined) {
        this.setMeta("published_size", l.publishedSize);
        this.setMeta("published_changed_at", now);
      }
      const unchangedSeconds = (now - (this.meta("published_changed_at") ?? now)) / 1000;
      timer.log = {
        size: l.size,
        publishedSize: l.publishedSize,
        pooled: l.pooled,
        halted: l.halted,
        unchangedSeconds,
      };
      status = {
        ...status,
        log: {
          size: l.size,
          publishedSize: l.publishedSize,
          backlog: l.size - l.publishedSize + l.pooled,
          checkpointAgeSeconds: l.publishedSize > 0 ? Math.floor(unchangedSeconds) : null,
          halted: l.halted,
        },
      };
    } else emitEvent("monitor_step_failed", { electionId, step: "log-status", error: String(log.reason) });
    if (dead.status === "fulfilled") {
      timer.deadLetters = dead.value?.n ?? 0;
      status = { ...status, deadLetters: timer.deadLetters };
    } else emitEvent("monitor_step_failed", { electionId, step: "dead-letters", error: String(dead.reason) });
    if (exact.status === "fulfilled") {
      const behind = Math.max(0, heardBallots(this.store) - exact.value.totals.ballots);
      if (behind === 0) this.setMeta("lag_since", null);
      else if (this.meta("lag_since") === undefined) this.setMeta("lag_since", now);
      const laggingSeconds = behind === 0 ? 0 : (now - (this.meta("lag_since") ?? now)) / 1000;
      timer.aggregator = {
        behind,
        laggingSeconds,
        districts: exact.value.totals.districts.map((d) => ({ districtId: d.districtId, ballots: d.ballots })),
      };
      status = { ...status, aggregator: { behind, laggingSeconds: Math.floor(laggingSeconds) } };
    } else emitEvent("monitor_step_failed", { electionId, step: "aggregator", error: String(exact.reason) });

    const changed = this.ctx.storage.transactionSync(() =>
      this.apply(electionId, evaluateTimer(this.store, this.electionFacts(facts), timer, now), now),
    );
    this.broadcastAlerts(changed);
    await this.flush(electionId);
    status = { ...status, openAlerts: (await this.openAlerts()).length };
    const previous = this.sql
      .exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'status'`)
      .toArray()[0]?.value;
    this.setMeta("status", JSON.stringify(status));
    // The times and ages move every tick: the status is news when anything else moved, and the
    // ages are refreshed on the sockets every STATUS_REFRESH_MS besides.
    const comparable = (s: string | undefined): string | undefined => {
      if (s === undefined) return undefined;
      const parsed = JSON.parse(s) as MonitorStatus;
      return JSON.stringify({
        ...parsed,
        evaluatedAt: null,
        log: parsed.log && { ...parsed.log, checkpointAgeSeconds: null },
        aggregator: parsed.aggregator && { ...parsed.aggregator, laggingSeconds: null },
      });
    };
    if (comparable(previous) !== comparable(JSON.stringify(status)) || now - this.statusPushedAt >= STATUS_REFRESH_MS) {
      this.statusPushedAt = now;
      this.broadcast({ type: "status", status });
    }
    return status;
  }

  override async alarm(): Promise<void> {
    this.nextAlarm.fired();
    const electionId = this.electionId();
    if (!electionId) return;
    const now = Date.now();
    try {
      await this.step(electionId);
    } catch (error) {
      emitEvent("monitor_step_failed", { electionId, step: "timer", error: String(error) });
    }
    const facts = this.facts;
    const pollsOpen = facts !== undefined && now >= facts.opensAtMs && now < facts.closesAtMs + AFTER_CLOSE_MS;
    const sinceSignal = now - (this.meta("last_signal_at") ?? 0);
    if (sinceSignal < ACTIVE_MS || this.ctx.getWebSockets().length > 0) await this.nextAlarm.arm(Date.now() + TICK_MS);
    else if (pollsOpen || sinceSignal < QUIET_AFTER_MS) await this.nextAlarm.arm(Date.now() + IDLE_TICK_MS);
    // Loaded before its polls open: the timer sleeps until they do.
    else if (facts !== undefined && now < facts.opensAtMs) await this.nextAlarm.arm(facts.opensAtMs);
  }

  private broadcastAlerts(alerts: readonly Alert[]): void {
    for (const alert of alerts) this.broadcast({ type: "alert", alert });
  }

  private broadcast(message: AlertsLiveMessage): void {
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // A socket closing under us: its close handler cleans up.
      }
    }
  }

  /** The officials' live alert channel: a WebSocket upgrade at `/live?election=<id>` (lib/monitor/alerts.ts). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/live") return new Response("not found", { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const election = ElectionId.safeParse(url.searchParams.get("election"));
    if (!election.success) return new Response("bad election", { status: 400 });
    const id = this.claim(election.data);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const snapshot: AlertsLiveMessage = {
      type: "snapshot",
      alerts: await this.openAlerts(),
      status: await this.status(id),
    };
    server.send(JSON.stringify(snapshot));
    await this.nextAlarm.arm(Date.now() + TICK_MS);
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers = offered.includes(ALERTS_PROTOCOL) ? { "sec-websocket-protocol": ALERTS_PROTOCOL } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** Officials send nothing but `ping`, answered by the runtime; anything else closes the socket. */
  override async webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {
    this.closeQuietly(ws, 1008, `only "${PING}" is accepted`);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const echo = code === 1000 || code === 1001 || (code >= 3000 && code <= 4999);
    this.closeQuietly(ws, echo ? code : 1000, echo ? reason : "");
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.closeQuietly(ws, 1011, "socket error");
  }

  private closeQuietly(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}
