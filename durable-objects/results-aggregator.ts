/**
 * ResultsAggregator: one per election (name = election id). Tally shards report their absolute
 * totals here; results() sums the latest report of every shard into per-district and overall
 * totals. Later this object also fans results out to displays over hibernatable WebSockets (a
 * late display gets results() first, then each accepted report as a delta): report() is where
 * those pushes will start, and nothing here assumes it is the only reader.
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
 * snapshot this object cuts, stored (table `public_snapshot`) so that every reader, and the
 * displays of a later issue, get the same object with its version and time:
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
 *   as it is, at once.
 * The snapshot is cut when it is asked for (publicSnapshot), not on each report: a reader who
 * asks more than once a second gets the same snapshot.
 *
 * Capacity: each shard reports at most 5 times a second (tally-shard.ts), so an election with D
 * districts of TALLY_SHARDS shards sends this object at most 5 * 4 * D small calls a second at
 * peak: 1,000/s, about one object's limit, at D = 50. Beyond that, put a per-district aggregator
 * between the shards and this one.
 *
 * Storage schema (SQLite, version 2):
 *   meta(key TEXT PRIMARY KEY, value)                                 -- 'schema', 'election'
 *   shard_reports(shard_name TEXT PRIMARY KEY, district_id TEXT, version INTEGER,
 *                 totals_json TEXT, reported_at INTEGER)  -- totals_json: DistrictTotals
 *   public_snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER, as_of INTEGER,
 *                   districts_json TEXT, totals_json TEXT)  (version 2)
 *     -- districts_json: PublishedDistrict[] (per district, with its shard count);
 *     -- totals_json: ElectionTotals (national and per district, as handed out)
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { compareIds, ContestTotals, DistrictTotals, sumTotals, type ElectionTotals } from "../lib/tally/totals.ts";
import { parseShardName } from "../lib/tally/shards.ts";
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

/** At most one public snapshot per this many ms. */
export const SNAPSHOT_INTERVAL_MS = 1_000;

export class ResultsAggregator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly latest = new Map<string, Latest>();
  private snapshot: ResultsSnapshot & { districts: Map<string, PublishedDistrict> } = {
    version: 0,
    asOf: null,
    totals: NOTHING_RELEASED,
    districts: new Map(),
  };

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
    });
  }

  private migrate(): void {
    const snapshotTable = (sql: SqlStorage): void => {
      sql.exec(`CREATE TABLE public_snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, as_of INTEGER NOT NULL,
        districts_json TEXT NOT NULL, totals_json TEXT NOT NULL)`);
    };
    ensureSchema(this.ctx.storage, {
      version: 2,
      create: (sql) => {
        sql.exec(`CREATE TABLE shard_reports (
          shard_name TEXT PRIMARY KEY, district_id TEXT NOT NULL, version INTEGER NOT NULL,
          totals_json TEXT NOT NULL, reported_at INTEGER NOT NULL)`);
        snapshotTable(sql);
      },
      upgrades: [snapshotTable],
    });
  }

  /**
   * Takes a shard's totals at `version`. True when they replace what was held; false when the
   * held report is as new or newer (a repeat or a report overtaken by a later one).
   */
  async report(shardName: string, version: number, totals: DistrictTotals): Promise<boolean> {
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
    return true;
  }

  /** The sums of the latest report of every shard. */
  async results(): Promise<ElectionTotals> {
    return sumTotals([...this.latest.values()].map((l) => l.totals));
  }

  /** The exact sums, for officials: version = the sum of the shards' report versions. */
  async exact(): Promise<ResultsSnapshot> {
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
    const args = SnapshotArgs.parse({ minBallots, exact });
    this.cut(args.minBallots, args.exact, Date.now());
    const { version, asOf, totals } = this.snapshot;
    return { version, asOf, totals };
  }

  /** Cuts and stores a new snapshot when some district may be released; synchronous, no await. */
  private cut(minBallots: number, exact: boolean, now: number): void {
    const last = this.snapshot;
    if (!exact && last.asOf !== null && now - last.asOf < SNAPSHOT_INTERVAL_MS) return;
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
    if (released === 0) return;
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
  }

  /** The version held for each shard, for diagnostics and tests. */
  async versions(): Promise<Record<string, number>> {
    return Object.fromEntries([...this.latest].map(([name, l]) => [name, l.version]));
  }
}
