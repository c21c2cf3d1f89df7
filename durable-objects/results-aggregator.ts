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
 * Capacity: each shard reports at most 5 times a second (tally-shard.ts), so an election with D
 * districts of TALLY_SHARDS shards sends this object at most 5 * 4 * D small calls a second at
 * peak: 1,000/s, about one object's limit, at D = 50. Beyond that, put a per-district aggregator
 * between the shards and this one.
 *
 * Storage schema (SQLite, version 1):
 *   meta(key TEXT PRIMARY KEY, value)                                 -- 'schema', 'election'
 *   shard_reports(shard_name TEXT PRIMARY KEY, district_id TEXT, version INTEGER,
 *                 totals_json TEXT, reported_at INTEGER)  -- totals_json: DistrictTotals
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { DistrictTotals, sumTotals, type ElectionTotals } from "../lib/tally/totals.ts";
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

export class ResultsAggregator extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly latest = new Map<string, Latest>();

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
    });
  }

  private migrate(): void {
    ensureSchema(this.ctx.storage, {
      version: 1,
      create: (sql) => {
        sql.exec(`CREATE TABLE shard_reports (
          shard_name TEXT PRIMARY KEY, district_id TEXT NOT NULL, version INTEGER NOT NULL,
          totals_json TEXT NOT NULL, reported_at INTEGER NOT NULL)`);
      },
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

  /** The version held for each shard, for diagnostics and tests. */
  async versions(): Promise<Record<string, number>> {
    return Object.fromEntries([...this.latest].map(([name, l]) => [name, l.version]));
  }
}
