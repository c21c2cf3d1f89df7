/**
 * ResultsAggregator: one per election (name = election id). Tally shards report their absolute
 * totals here; results() sums the latest report of every shard into per-district and overall
 * totals. It cuts the public and the official (exact) snapshots by itself and publishes each new
 * version once: to R2 (public snapshots only) and to relay 0 of the channel's results relays,
 * which fan it out to the displays (durable-objects/results-relay.ts). It never sees a display.
 *
 * Invariants:
 * - For each shard the stored report is the one with the highest version received. The comparison
 *   and the write are one SQL statement (an upsert whose update only applies to a higher version),
 *   with no await before it: an older or repeated report changes nothing, in any order.
 * - `latest` mirrors the table: filled by the constructor, updated right after each accepted
 *   write in the same synchronous step.
 * - Reports are absolute, so a sum over the latest reports is the tally of every ballot those
 *   shards had applied at those versions; a lost report is repaired by the next one.
 *
 * Public snapshots (security review H2): the exact sums are for officials. The public sees a
 * snapshot this object cuts, stored (table `public_snapshot`) so that every reader and every
 * display gets the same object with its version and time:
 * - a district's public figures change only when its exact ballot count has moved by at least k
 *   (the election's minBallotsPerRelease) since the figures last published for it; a district
 *   that changed by less keeps its published figures, so no public delta of a district is the
 *   work of fewer than k ballots (a retraction is a change too, and counts net: 30 new ballots and
 *   29 retractions are a move of 1). The first release of a district waits for k as well;
 * - the national figures are the sum of the published districts, so they move only by whole
 *   released districts, each of at least k ballots;
 * - at most one snapshot a second, and only when some district is released; the version grows
 *   by one per snapshot;
 * - once the results are exact for everyone (after the close), a snapshot releases every district
 *   as it is, at once; the first snapshot cut at or after the scheduled close is a new version
 *   even when no figure moved, since it is the one that says `closed` and `exact`;
 * - with resultsVisibility `after-close`, what leaves this object before the close (R2, relays,
 *   the latest pointer) carries turnout only: `choices` false and no contest figures, nationally
 *   or per district. The stored snapshot keeps them: publicSnapshot() serves the results route,
 *   which refuses such an election's public before the close.
 *
 * Proactive cuts and publishing: the settings a cut needs (k, visibility, the scheduled close)
 * live in D1, which the import rule keeps out of durable-objects/. The Worker hands them over
 * with configure() when the definition is loaded, and again whenever it reads the election for a
 * results route or page (once per isolate and election, workers/tally/results-settings.ts), and
 * this object keeps them in `meta`. The
 * settings cannot change once the polls open (the definition locks), so a copy is never stale
 * where it matters. Until configured this object cuts only when asked (publicSnapshot) and
 * publishes nothing. Once configured:
 * - report() arms the alarm at max(now, last run + SNAPSHOT_INTERVAL_MS) when it accepts a change; configure()
 *   arms it at the scheduled close too, so the first exact snapshot needs no report;
 * - the alarm cuts the public snapshot (the rule above) and the official one (the exact sums,
 *   its own version counter, a new version only when a figure or `closed` changed), then
 *   publishes every version newer than the last published one of each channel: a public one is
 *   written to R2 (`snapshots/<election>/<version>.json`, immutable) before anything else sees it,
 *   then recorded in `published`, then pushed to relay 0. A failed step is retried by the alarm
 *   with a growing pause; the R2 write is idempotent (same key, same bytes) and relays ignore a
 *   version they hold, so each version reaches the displays once. Only the latest version is
 *   published: a reader-triggered cut (publicSnapshot) between two alarm runs is superseded, and
 *   its number may be missing from R2.
 * - The aggregator's own work per second is bounded by the shards' reports and one push per
 *   channel, whatever the number of displays.
 *
 * Capacity: each shard reports at most 5 times a second (tally-shard.ts), so an election with D
 * districts of TALLY_SHARDS shards sends this object at most 5 * 4 * D small calls a second at
 * peak: 1,000/s, about one object's limit, at D = 50. Beyond that, put a per-district aggregator
 * between the shards and this one.
 *
 * Storage schema (SQLite, version 3):
 *   meta(key TEXT PRIMARY KEY, value)                      -- 'schema', 'election', 'settings'
 *   shard_reports(shard_name TEXT PRIMARY KEY, district_id TEXT, version INTEGER,
 *                 totals_json TEXT, reported_at INTEGER)  -- totals_json: DistrictTotals
 *   public_snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER, as_of INTEGER,
 *                   districts_json TEXT, totals_json TEXT)  (version 2)
 *     -- districts_json: PublishedDistrict[] (per district, with its shard count);
 *     -- totals_json: ElectionTotals (national and per district, as handed out)
 *   published(channel TEXT PRIMARY KEY, version INTEGER, snapshot_json TEXT, pushed INTEGER)
 *     (version 3) -- the last LiveSnapshot published per channel, and the last version relay 0
 *     took; one row per channel: R2 holds the public history.
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { compareIds, ContestTotals, DistrictTotals, sumTotals, type ElectionTotals } from "../lib/tally/totals.ts";
import { parseShardName } from "../lib/tally/shards.ts";
import { emitEvent } from "../lib/events.ts";
import { LiveChannel, LiveSnapshot } from "../lib/results/live.ts";
import { ResultsVisibility } from "../lib/vocabulary.ts";
import { resultsRelayFor } from "./addresses.ts";
import { NextAlarm } from "./next-alarm.ts";
import { ensureSchema } from "./schema.ts";

const ReportArgs = z.tuple([
  z.string().min(1).max(512),
  z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  DistrictTotals,
]);

interface Latest {
  readonly version: number;
  readonly totals: DistrictTotals;
}

/** A district as the public snapshot shows it, and how many shards had reported it then. */
/** DRILLS = "enabled" (local runs; production refuses it): an attack drill may pause reports. */
const DrillsEnabled = z.looseObject({ DRILLS: z.literal("enabled") });

const PublishedDistrict = z.object({ totals: DistrictTotals, shards: z.number().int().min(0) });
type PublishedDistrict = z.infer<typeof PublishedDistrict>;

const StoredTotals = z.object({
  shards: z.number().int().min(0),
  ballots: z.number().int().min(0),
  contests: z.array(ContestTotals),
  districts: z.array(DistrictTotals),
});

const NOTHING_RELEASED: ElectionTotals = { shards: 0, ballots: 0, contests: [], districts: [] };

/**
 * Results at a version: the public snapshot (version counts snapshots, 0 = nothing released yet)
 * or the exact sums (version = the sum of the shards' report versions, which grows with every
 * accepted report). `asOf` is when the numbers were taken, in ms; null before any release.
 */
export interface ResultsSnapshot {
  readonly version: number;
  readonly asOf: number | null;
  readonly totals: ElectionTotals;
}

const SnapshotArgs = z.object({ minBallots: z.number().int().min(1).max(1_000_000), exact: z.boolean() });

/**
 * At most one public snapshot per this many ms: four a second, so that a ballot reaches the
 * displays within a second of its acceptance (DESIGN 3.5). Secrecy does not rest on this pace but
 * on k: however often snapshots are cut, no district moves by fewer than k ballots.
 */
export const SNAPSHOT_INTERVAL_MS = 250;

/** After a failed publish: 1 s, doubling, at most 30 s. */
const PUBLISH_RETRY_BASE_MS = 1_000;
const PUBLISH_RETRY_MAX_MS = 30_000;

/** What a cut needs to know of the election; the gateway hands it over (file header). */
export const ResultsSettings = z.object({
  electionId: z.string().min(1).max(128),
  minBallotsPerRelease: z.number().int().min(1).max(1_000_000),
  resultsVisibility: ResultsVisibility,
  /** The scheduled close (election.polls.closesAtMs), never an early close. */
  closesAtMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});
export type ResultsSettings = z.infer<typeof ResultsSettings>;

/** Where a public snapshot lives in the RESULTS_SNAPSHOTS bucket. */
export function snapshotKey(electionId: string, version: number): string {
  return `snapshots/${electionId}/${version}.json`;
}

/** The latest public release, for the HTTP pointer: version 0 and asOf null before any. */
export interface LatestRelease {
  readonly version: number;
  readonly asOf: number | null;
}

function liveTotals(totals: ElectionTotals): LiveSnapshot["totals"] {
  return { ...totals, contests: [...totals.contests], districts: [...totals.districts] };
}

/** Turnout only: the same release with every contest figure taken out (visibility after-close). */
function turnoutOnly(totals: ElectionTotals): ElectionTotals {
  return {
    shards: totals.shards,
    ballots: totals.ballots,
    contests: [],
    districts: totals.districts.map((d) => ({ districtId: d.districtId, ballots: d.ballots, contests: [] })),
  };
}

export class ResultsAggregator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly latest = new Map<string, Latest>();
  private snapshot: ResultsSnapshot & { districts: Map<string, PublishedDistrict> } = {
    version: 0,
    asOf: null,
    totals: NOTHING_RELEASED,
    districts: new Map(),
  };
  private settings: ResultsSettings | undefined;
  private readonly published = new Map<LiveChannel, { snapshot: LiveSnapshot; pushed: number }>();
  private readonly nextAlarm = new NextAlarm(this.ctx.storage);
  /** When the alarm last ran its cuts: the next runs at least SNAPSHOT_INTERVAL_MS later. */
  private lastRunAt = 0;
  private failedPublishes = 0;
  /**
   * Calls this object has served since it started (report, configure, current, latestRelease,
   * results, exact, publicSnapshot, versions): the bench shows with it that displays never reach
   * the aggregator. In memory only: an evicted object starts again from 0.
   */
  private calls = 0;
  private readonly startedAt = Date.now();
  /** An attack drill's pause (`pauseReports`): reports are refused until then. In memory only. */
  private pausedUntil = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      for (const row of this.sql.exec<{ shard_name: string; version: number; totals_json: string }>(
        `SELECT shard_name, version, totals_json FROM shard_reports`,
      )) {
        // Only report() writes this column, after DistrictTotals accepted it: a failure is a bug.
        this.latest.set(row.shard_name, {
          version: row.version,
          totals: DistrictTotals.parse(JSON.parse(row.totals_json)),
        });
      }
      const stored = this.sql
        .exec<{ version: number; as_of: number; districts_json: string; totals_json: string }>(
          `SELECT version, as_of, districts_json, totals_json FROM public_snapshot WHERE id = 1`,
        )
        .toArray()[0];
      if (stored) {
        // Only cut() writes this row, from values this object built: a failure is a bug.
        const districts = z.array(PublishedDistrict).parse(JSON.parse(stored.districts_json));
        this.snapshot = {
          version: stored.version,
          asOf: stored.as_of,
          totals: StoredTotals.parse(JSON.parse(stored.totals_json)),
          districts: new Map(districts.map((d) => [d.totals.districtId, d])),
        };
      }
      // Written by configure() after ResultsSettings accepted them: a failure to parse is a bug.
      const settings = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'settings'`).toArray()[0];
      if (settings) this.settings = ResultsSettings.parse(JSON.parse(settings.value));
      // Written by record() from snapshots this object built: a failure to parse is a bug.
      for (const row of this.sql.exec<{ channel: string; snapshot_json: string; pushed: number }>(
        `SELECT channel, snapshot_json, pushed FROM published`,
      )) {
        this.published.set(LiveChannel.parse(row.channel), {
          snapshot: LiveSnapshot.parse(JSON.parse(row.snapshot_json)),
          pushed: row.pushed,
        });
      }
      await this.nextAlarm.load();
    });
  }

  private migrate(): void {
    const snapshotTable = (sql: SqlStorage): void => {
      sql.exec(`CREATE TABLE public_snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, as_of INTEGER NOT NULL,
        districts_json TEXT NOT NULL, totals_json TEXT NOT NULL)`);
    };
    const publishedTable = (sql: SqlStorage): void => {
      sql.exec(`CREATE TABLE published (
        channel TEXT PRIMARY KEY, version INTEGER NOT NULL, snapshot_json TEXT NOT NULL, pushed INTEGER NOT NULL)`);
    };
    ensureSchema(this.ctx.storage, {
      version: 3,
      create: (sql) => {
        sql.exec(`CREATE TABLE shard_reports (
          shard_name TEXT PRIMARY KEY, district_id TEXT NOT NULL, version INTEGER NOT NULL,
          totals_json TEXT NOT NULL, reported_at INTEGER NOT NULL)`);
        snapshotTable(sql);
        publishedTable(sql);
      },
      upgrades: [snapshotTable, publishedTable],
    });
  }

  /**
   * Takes a shard's totals at `version`. True when they replace what was held; false when the
   * held report is as new or newer (a repeat or a report overtaken by a later one).
   */
  async report(shardName: string, version: number, totals: DistrictTotals): Promise<boolean> {
    this.calls += 1;
    // The shard keeps its totals and reports again with a growing pause, as after any failure.
    if (Date.now() < this.pausedUntil) throw new Error("the results aggregator is paused by an attack drill");
    const [name, v, parsed] = ReportArgs.parse([shardName, version, totals]);
    const address = parseShardName(name);
    if (!address || address.districtId !== parsed.districtId) {
      throw new Error(`report from ${name} does not name a tally shard of district ${parsed.districtId}`);
    }
    // The first report names the election; a report for another one is a routing bug.
    this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('election', ?)`, address.electionId);
    const election = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'election'`).one().value;
    if (election !== address.electionId) throw new Error(`report from ${name} reached the aggregator of ${election}`);

    const written = this.sql.exec(
      `INSERT INTO shard_reports (shard_name, district_id, version, totals_json, reported_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (shard_name) DO UPDATE SET version = excluded.version, totals_json = excluded.totals_json,
         reported_at = excluded.reported_at
       WHERE excluded.version > shard_reports.version`,
      name,
      parsed.districtId,
      v,
      JSON.stringify(parsed),
      Date.now(),
    ).rowsWritten;
    if (written === 0) return false;
    this.latest.set(name, { version: v, totals: parsed });
    if (this.settings) await this.nextAlarm.arm(Math.max(Date.now(), this.lastRunAt + SNAPSHOT_INTERVAL_MS));
    return true;
  }

  /**
   * Takes the election's settings (file header: the gateway hands them over). The first call
   * names the election, like the first report; a call for another election is a routing bug.
   */
  /**
   * Attack drills only (DRILLS = "enabled"): refuses every shard's report for `milliseconds`, so
   * the live results lag behind the ballots and the security monitor's aggregator-lagging rule
   * can be seen to fire.
   */
  async pauseReports(milliseconds: number): Promise<void> {
    if (!DrillsEnabled.safeParse(this.env).success) throw new Error("attack drills are disabled");
    this.pausedUntil = Date.now() + z.number().int().min(0).max(600_000).parse(milliseconds);
  }

  async configure(settings: ResultsSettings): Promise<void> {
    this.calls += 1;
    const parsed = ResultsSettings.parse(settings);
    this.sql.exec(`INSERT OR IGNORE INTO meta (key, value) VALUES ('election', ?)`, parsed.electionId);
    const election = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'election'`).one().value;
    if (election !== parsed.electionId) {
      throw new Error(`settings of ${parsed.electionId} reached the aggregator of ${election}`);
    }
    const changed = JSON.stringify(parsed) !== JSON.stringify(this.settings);
    if (changed) {
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('settings', ?)`, JSON.stringify(parsed));
      this.settings = parsed;
      // Whatever was reported before the settings came is cut and published now.
      await this.nextAlarm.arm(Date.now());
    }
    if (Date.now() < parsed.closesAtMs) await this.nextAlarm.arm(parsed.closesAtMs);
  }

  /** The last snapshot published on `channel`, for a relay that holds nothing yet; null before any. */
  async current(channel: LiveChannel): Promise<LiveSnapshot | null> {
    this.calls += 1;
    return this.published.get(LiveChannel.parse(channel))?.snapshot ?? null;
  }

  /** The latest public version published (in R2 and to the relays), for the HTTP pointer. */
  async latestRelease(): Promise<LatestRelease> {
    this.calls += 1;
    const snapshot = this.published.get("public")?.snapshot;
    return snapshot ? { version: snapshot.version, asOf: snapshot.asOf } : { version: 0, asOf: null };
  }

  /** Cuts both channels' snapshots as the rules allow and publishes what is new (file header). */
  override async alarm(): Promise<void> {
    this.nextAlarm.fired();
    const settings = this.settings;
    if (!settings) return;
    const now = Date.now();
    this.lastRunAt = now;
    const closed = now >= settings.closesAtMs;
    const last = this.snapshot;
    const closing = closed && (last.asOf === null || last.asOf < settings.closesAtMs);
    if (this.cut(settings.minBallotsPerRelease, closed, now, closing) === "too-soon" && last.asOf !== null) {
      // A reader's cut (publicSnapshot) came less than an interval ago: come back when one is due.
      await this.nextAlarm.arm(last.asOf + SNAPSHOT_INTERVAL_MS);
    }
    this.cutOfficial(settings, now);
    try {
      await this.publish(settings);
      this.failedPublishes = 0;
    } catch (error) {
      this.failedPublishes += 1;
      const pause = Math.min(PUBLISH_RETRY_BASE_MS * 2 ** (this.failedPublishes - 1), PUBLISH_RETRY_MAX_MS);
      emitEvent("results_publish_failed", { electionId: settings.electionId, retryInMs: pause, error: String(error) });
      await this.nextAlarm.arm(Date.now() + pause);
    }
    if (Date.now() < settings.closesAtMs) await this.nextAlarm.arm(settings.closesAtMs);
  }

  /** The public release as it leaves this object: turnout only while `after-close` hides choices. */
  private publicLive(settings: ResultsSettings): LiveSnapshot | undefined {
    const { version, asOf, totals } = this.snapshot;
    if (version === 0 || asOf === null) return undefined;
    const closed = asOf >= settings.closesAtMs;
    const choices = settings.resultsVisibility === "live" || closed;
    return {
      type: "snapshot",
      electionId: settings.electionId,
      channel: "public",
      version,
      asOf,
      exact: closed,
      choices,
      closed,
      totals: liveTotals(choices ? totals : turnoutOnly(totals)),
    };
  }

  /** A new official snapshot when the exact sums or `closed` changed since the last one. */
  private cutOfficial(settings: ResultsSettings, now: number): void {
    const before = this.published.get("official")?.snapshot;
    const totals = sumTotals([...this.latest.values()].map((l) => l.totals));
    const closed = now >= settings.closesAtMs;
    if (totals.shards === 0 && !closed) return;
    if (before && before.closed === closed && JSON.stringify(before.totals) === JSON.stringify(totals)) return;
    const snapshot: LiveSnapshot = {
      type: "snapshot",
      electionId: settings.electionId,
      channel: "official",
      version: (before?.version ?? 0) + 1,
      asOf: now,
      exact: true,
      choices: true,
      closed,
      totals: liveTotals(totals),
    };
    this.record(snapshot, 0);
  }

  private record(snapshot: LiveSnapshot, pushed: number): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO published (channel, version, snapshot_json, pushed) VALUES (?, ?, ?, ?)`,
      snapshot.channel,
      snapshot.version,
      JSON.stringify(snapshot),
      pushed,
    );
    this.published.set(snapshot.channel, { snapshot, pushed });
  }

  /**
   * Publishes what is new: a public version newer than the last published goes to R2 first and
   * is recorded, then every channel's recorded version that relay 0 has not taken is pushed.
   */
  private async publish(settings: ResultsSettings): Promise<void> {
    const live = this.publicLive(settings);
    const held = this.published.get("public");
    if (live && (!held || live.version > held.snapshot.version)) {
      await this.env.RESULTS_SNAPSHOTS.put(snapshotKey(settings.electionId, live.version), JSON.stringify(live), {
        httpMetadata: { contentType: "application/json" },
      });
      this.record(live, held?.pushed ?? 0);
    }
    const pushes = [...this.published.values()]
      .filter((p) => p.pushed < p.snapshot.version)
      .map(async ({ snapshot }) => {
        await resultsRelayFor(this.env, settings.electionId, snapshot.channel, 0).publish(0, snapshot);
        const now = this.published.get(snapshot.channel);
        if (now && now.pushed < snapshot.version) {
          this.sql.exec(`UPDATE published SET pushed = ? WHERE channel = ?`, snapshot.version, snapshot.channel);
          now.pushed = snapshot.version;
        }
      });
    const outcomes = await Promise.allSettled(pushes);
    const failed = outcomes.find((o) => o.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The sums of the latest report of every shard. */
  async results(): Promise<ElectionTotals> {
    this.calls += 1;
    return sumTotals([...this.latest.values()].map((l) => l.totals));
  }

  /** The exact sums, for officials: version = the sum of the shards' report versions. */
  async exact(): Promise<ResultsSnapshot> {
    this.calls += 1;
    let version = 0;
    for (const l of this.latest.values()) version += l.version;
    return { version, asOf: Date.now(), totals: sumTotals([...this.latest.values()].map((l) => l.totals)) };
  }

  /**
   * The public snapshot, first cutting a new one if the rules allow it (file header): districts
   * move only by at least `minBallots` ballots, at most one snapshot a second; with `exact` (the
   * results are public as they are, after the close) every district is released at once.
   */
  async publicSnapshot(minBallots: number, exact: boolean): Promise<ResultsSnapshot> {
    this.calls += 1;
    const args = SnapshotArgs.parse({ minBallots, exact });
    const now = Date.now();
    const closing =
      this.settings !== undefined &&
      now >= this.settings.closesAtMs &&
      (this.snapshot.asOf === null || this.snapshot.asOf < this.settings.closesAtMs);
    // The same rule as the alarm's, so that a reader's cut and a display's never differ.
    if (this.cut(args.minBallots, args.exact, now, closing) === "cut" && this.settings) await this.nextAlarm.arm(now);
    const { version, asOf, totals } = this.snapshot;
    return { version, asOf, totals };
  }

  /**
   * Cuts and stores a new snapshot when some district may be released (or, with `force`, in any
   * case: the first cut after the close); synchronous, no await. Says whether it cut, found
   * nothing to release, or was too soon after the last cut.
   */
  private cut(minBallots: number, exact: boolean, now: number, force = false): "cut" | "nothing" | "too-soon" {
    const last = this.snapshot;
    if (!exact && last.asOf !== null && now - last.asOf < SNAPSHOT_INTERVAL_MS) return "too-soon";
    const shardsOf = new Map<string, number>();
    for (const { totals } of this.latest.values()) {
      shardsOf.set(totals.districtId, (shardsOf.get(totals.districtId) ?? 0) + 1);
    }
    // sumTotals gives each district's sums over its shards, in a canonical order.
    const sums = new Map(
      sumTotals([...this.latest.values()].map((l) => l.totals)).districts.map((d) => [d.districtId, d]),
    );
    const next = new Map(last.districts);
    let released = 0;
    for (const [id, d] of sums) {
      const before = last.districts.get(id);
      if (before && JSON.stringify(before.totals) === JSON.stringify(d)) continue;
      const moved = Math.abs(d.ballots - (before?.totals.ballots ?? 0));
      if (!exact && moved < minBallots) continue;
      next.set(id, { totals: d, shards: shardsOf.get(id) ?? 0 });
      released += 1;
    }
    if (released === 0 && !force) return "nothing";
    const ordered = [...next.values()].sort((a, b) => compareIds(a.totals.districtId, b.totals.districtId));
    const version = last.version + 1;
    // The national figures are the published districts' sums, nothing held back.
    const totals: ElectionTotals = {
      ...sumTotals(ordered.map((d) => d.totals)),
      shards: ordered.reduce((n, d) => n + d.shards, 0),
    };
    this.sql.exec(
      `INSERT OR REPLACE INTO public_snapshot (id, version, as_of, districts_json, totals_json) VALUES (1, ?, ?, ?, ?)`,
      version,
      now,
      JSON.stringify(ordered),
      JSON.stringify(totals),
    );
    this.snapshot = {
      version,
      asOf: now,
      totals,
      districts: new Map(ordered.map((d) => [d.totals.districtId, d])),
    };
    return "cut";
  }

  /** The version held for each shard, for diagnostics and tests. */
  async versions(): Promise<Record<string, number>> {
    this.calls += 1;
    return Object.fromEntries([...this.latest].map(([name, l]) => [name, l.version]));
  }

  /** How many calls this object has served since it started, and since when (ms). */
  async stats(): Promise<{ calls: number; since: number }> {
    return { calls: this.calls, since: this.startedAt };
  }
}
