/**
 * Station reconciliation against the latest data in D1: each station's result sheet
 * (`result_sheets`) against the paper ballots the tally consumer recorded for it
 * (`cast_vote_records`, channel paper, not retracted) and the check-ins it recorded
 * (`check_ins`). The queue is asynchronous, so this is computed whenever it is asked for, never
 * cached: a difference seen a moment after a scan may be the queue catching up, and the next
 * reconciliation marks it resolved.
 *
 * Every computation stores its differences in `reconciliation_differences` for the security
 * monitor: upserted with the latest figures (resolved_at cleared), and the station's rows not
 * seen this time marked resolved. Totals are summed in SQL (json_each over the marks), so an
 * election-wide report reads a few rows per station and option, never every ballot.
 */
import { z } from "zod";
import type { CompiledElection } from "../../lib/election/model.ts";
import { reconcileStation, type Difference } from "../../lib/station/reconcile.ts";
import { compareIds, ContestTotals } from "../../lib/tally/totals.ts";

/** What result_sheets.totals_json holds: the decoded sheet's fields (lib/qr ResultSheetFields). */
export const StoredSheetTotals = z.object({
  sequence: z.number().int().min(0),
  closedAt: z.string(),
  votersCheckedIn: z.number().int().min(0),
  ballotsCast: z.number().int().min(0),
  contests: z.array(ContestTotals),
});
export type StoredSheetTotals = z.infer<typeof StoredSheetTotals>;

export interface StationReconciliation {
  readonly electionId: string;
  readonly stationId: string;
  readonly computedAt: string;
  /** True when there is a sheet and no difference at all. */
  readonly consistent: boolean;
  readonly sheet:
    | (Omit<StoredSheetTotals, "contests"> & {
        readonly submittedAt: string;
        readonly payloadSha256: string;
        readonly contests: ContestTotals[];
      })
    | null;
  readonly system: { readonly checkIns: number; readonly ballotsScanned: number; readonly contests: ContestTotals[] };
  readonly differences: Difference[];
}

const D1_PARAMETERS = 100;
const DIFFERENCE_COLUMNS = 9;

function stationFilter(column: string, stationId: string | undefined): string {
  return stationId === undefined ? "" : ` AND ${column} = ?`;
}

function binds(electionId: string, stationId: string | undefined): string[] {
  return stationId === undefined ? [electionId] : [electionId, stationId];
}

interface Gathered {
  readonly checkIns: Map<string, number>;
  readonly ballots: Map<string, number>;
  /** station -> contest -> option -> votes */
  readonly marks: Map<string, Map<string, Map<string, number>>>;
  readonly blanks: Map<string, Map<string, number>>;
  readonly sheets: Map<string, { totals: StoredSheetTotals; submittedAt: string; payloadSha256: string }>;
  readonly registered: Set<string>;
}

async function gather(env: Env, election: CompiledElection, stationId: string | undefined): Promise<Gathered> {
  const e = election.id;
  const paper = `cvr.election_id = ? AND cvr.channel = 'paper' AND cvr.retracted = 0 AND cvr.station_id IS NOT NULL${stationFilter("cvr.station_id", stationId)}`;
  const districtIds = [...election.ballotStyleByDistrict.keys()].slice(0, D1_PARAMETERS - 2);
  const [checkIns, ballots, marks, blanks, sheets, registered] = await env.DB.batch([
    env.DB.prepare(
      `SELECT station_id, COUNT(*) AS n FROM check_ins WHERE election_id = ?${stationFilter("station_id", stationId)} GROUP BY station_id`,
    ).bind(...binds(e, stationId)),
    env.DB.prepare(
      `SELECT cvr.station_id AS station_id, COUNT(*) AS n FROM cast_vote_records cvr WHERE ${paper} GROUP BY cvr.station_id`,
    ).bind(...binds(e, stationId)),
    env.DB.prepare(
      `SELECT cvr.station_id AS station_id, json_extract(c.value, '$.contestId') AS contest_id, o.value AS option_id, COUNT(*) AS n
       FROM cast_vote_records cvr, json_each(cvr.marks_json) c, json_each(c.value, '$.optionIds') o
       WHERE ${paper} GROUP BY 1, 2, 3`,
    ).bind(...binds(e, stationId)),
    env.DB.prepare(
      `SELECT cvr.station_id AS station_id, json_extract(c.value, '$.contestId') AS contest_id, COUNT(*) AS n
       FROM cast_vote_records cvr, json_each(cvr.marks_json) c
       WHERE ${paper} AND json_array_length(c.value, '$.optionIds') = 0 GROUP BY 1, 2`,
    ).bind(...binds(e, stationId)),
    env.DB.prepare(
      `SELECT station_id, payload_sha256, totals_json, submitted_at FROM result_sheets WHERE election_id = ?${stationFilter("station_id", stationId)}`,
    ).bind(...binds(e, stationId)),
    // Unrevoked stations that serve one of the election's districts: listed even with nothing recorded.
    env.DB.prepare(
      `SELECT DISTINCT s.id AS station_id FROM stations s JOIN station_districts d ON d.station_id = s.id
       WHERE s.revoked_at IS NULL AND d.district_id IN (${districtIds.map(() => "?").join(", ") || "NULL"})${stationFilter("s.id", stationId)}`,
    ).bind(...districtIds, ...(stationId === undefined ? [] : [stationId])),
  ]);

  const Count = z.object({ station_id: z.string(), n: z.number() });
  const Mark = z.object({ station_id: z.string(), contest_id: z.string(), option_id: z.string(), n: z.number() });
  const Blank = z.object({ station_id: z.string(), contest_id: z.string(), n: z.number() });
  const Sheet = z.object({
    station_id: z.string(),
    payload_sha256: z.string(),
    totals_json: z.string(),
    submitted_at: z.string(),
  });

  const out: Gathered = {
    checkIns: new Map(
      z
        .array(Count)
        .parse(checkIns?.results ?? [])
        .map((r) => [r.station_id, r.n]),
    ),
    ballots: new Map(
      z
        .array(Count)
        .parse(ballots?.results ?? [])
        .map((r) => [r.station_id, r.n]),
    ),
    marks: new Map(),
    blanks: new Map(),
    sheets: new Map(),
    registered: new Set(
      z
        .array(z.object({ station_id: z.string() }))
        .parse(registered?.results ?? [])
        .map((r) => r.station_id),
    ),
  };
  for (const row of z.array(Mark).parse(marks?.results ?? [])) {
    const byContest = out.marks.get(row.station_id) ?? new Map<string, Map<string, number>>();
    const byOption = byContest.get(row.contest_id) ?? new Map<string, number>();
    byOption.set(row.option_id, row.n);
    byContest.set(row.contest_id, byOption);
    out.marks.set(row.station_id, byContest);
  }
  for (const row of z.array(Blank).parse(blanks?.results ?? [])) {
    const byContest = out.blanks.get(row.station_id) ?? new Map<string, number>();
    byContest.set(row.contest_id, row.n);
    out.blanks.set(row.station_id, byContest);
  }
  for (const row of z.array(Sheet).parse(sheets?.results ?? [])) {
    // Written by the result-sheet route from a verified payload; a failure here is a bug.
    const totals = StoredSheetTotals.parse(JSON.parse(row.totals_json));
    out.sheets.set(row.station_id, { totals, submittedAt: row.submitted_at, payloadSha256: row.payload_sha256 });
  }
  return out;
}

/** The scanned ballots' totals in the tally's shape: write-in options count as write-ins. */
function systemContests(
  election: CompiledElection,
  marks: Map<string, Map<string, number>> | undefined,
  blanks: Map<string, number> | undefined,
): ContestTotals[] {
  const contestIds = [...new Set([...(marks?.keys() ?? []), ...(blanks?.keys() ?? [])])].sort(compareIds);
  return contestIds.map((contestId) => {
    const contest = election.contests.get(contestId);
    const writeInIds = new Set(contest?.options.filter((o) => o.isWriteIn).map((o) => o.id) ?? []);
    let writeIns = 0;
    const options: { optionId: string; votes: number }[] = [];
    for (const [optionId, votes] of [...(marks?.get(contestId) ?? new Map<string, number>())].sort(([a], [b]) =>
      compareIds(a, b),
    )) {
      if (writeInIds.has(optionId)) writeIns += votes;
      else options.push({ optionId, votes });
    }
    return { contestId, options, writeIns, blanks: blanks?.get(contestId) ?? 0 };
  });
}

/**
 * Reconciles one station, or every station of the election (those registered for its districts
 * and any that recorded something), and stores the differences for the monitor.
 */
export async function reconcileStations(
  env: Env,
  election: CompiledElection,
  stationId?: string,
  now = new Date(),
): Promise<StationReconciliation[]> {
  const data = await gather(env, election, stationId);
  const pollsClosed = now.getTime() >= Date.parse(election.settings.polls.closesAt);
  const stationIds =
    stationId !== undefined
      ? [stationId]
      : [...new Set([...data.registered, ...data.checkIns.keys(), ...data.ballots.keys(), ...data.sheets.keys()])].sort(
          compareIds,
        );
  const computedAt = now.toISOString();
  const reports = stationIds.map((id): StationReconciliation => {
    const system = {
      checkIns: data.checkIns.get(id) ?? 0,
      ballotsScanned: data.ballots.get(id) ?? 0,
      contests: systemContests(election, data.marks.get(id), data.blanks.get(id)),
    };
    const stored = data.sheets.get(id);
    const sheet = stored
      ? { ...stored.totals, submittedAt: stored.submittedAt, payloadSha256: stored.payloadSha256 }
      : null;
    const differences = reconcileStation(system, sheet, pollsClosed);
    return {
      electionId: election.id,
      stationId: id,
      computedAt,
      consistent: sheet !== null && differences.length === 0,
      sheet,
      system,
      differences,
    };
  });
  await storeDifferences(env, election.id, reports, computedAt);
  return reports;
}

async function storeDifferences(
  env: Env,
  electionId: string,
  reports: readonly StationReconciliation[],
  at: string,
): Promise<void> {
  const rows = reports.flatMap((r) => r.differences.map((d) => ({ stationId: r.stationId, d })));
  const perStatement = Math.floor(D1_PARAMETERS / DIFFERENCE_COLUMNS);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    statements.push(
      env.DB.prepare(
        `INSERT INTO reconciliation_differences
           (election_id, station_id, kind, contest_id, option_id, system_count, station_count, first_seen_at, last_seen_at)
         VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}
         ON CONFLICT (election_id, station_id, kind, contest_id, option_id) DO UPDATE SET
           system_count = excluded.system_count, station_count = excluded.station_count,
           last_seen_at = excluded.last_seen_at, resolved_at = NULL`,
      ).bind(
        ...chunk.flatMap(({ stationId, d }) => [
          electionId,
          stationId,
          d.kind,
          d.contestId ?? "",
          d.optionId ?? "",
          d.system,
          d.station,
          at,
          at,
        ]),
      ),
    );
  }
  const stationIds = reports.map((r) => r.stationId);
  for (let i = 0; i < stationIds.length; i += D1_PARAMETERS - 3) {
    const chunk = stationIds.slice(i, i + D1_PARAMETERS - 3);
    statements.push(
      env.DB.prepare(
        `UPDATE reconciliation_differences SET resolved_at = ?
         WHERE election_id = ? AND resolved_at IS NULL AND last_seen_at < ? AND station_id IN (${chunk.map(() => "?").join(", ")})`,
      ).bind(at, electionId, at, ...chunk),
    );
  }
  if (statements.length > 0) await env.DB.batch(statements);
}
