/**
 * Station reconciliation against the latest data in D1: each station's result sheet
 * (`result_sheets`) against the paper ballots the tally consumer recorded for it
 * (`cast_vote_records`, channel paper, not retracted) and the check-ins it recorded
 * (`check_ins`). The queue is asynchronous, so this is computed whenever it is asked for, never
 * cached: a difference seen a moment after a scan may be the queue catching up, and the next
 * reconciliation marks it resolved.
 *
 * Reading (computeReconciliation) writes nothing: the GET routes, which auditors call too, have
 * no side effects (security review L12). Recording (reconcileStations: a result sheet's
 * submission, an administrator's POST) also stores the differences in
 * `reconciliation_differences` for the security monitor: upserted with the latest figures
 * (resolved_at cleared), and the station's rows not seen this time marked resolved. The reads and writes, with totals summed in SQL, are the paper
 * store's (db/stores/paper.ts); this file compares.
 */
import { readReconciliation, storeDifferences, type StoredSheetTotals } from "../../db/stores/paper.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { reconcileStation, type Difference } from "../../lib/station/reconcile.ts";
import { compareIds, type ContestTotals } from "../../lib/tally/totals.ts";

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
  db: D1Database,
  election: CompiledElection,
  stationId?: string,
  now = new Date(),
): Promise<StationReconciliation[]> {
  const reports = await computeReconciliation(db, election, stationId, now);
  await storeDifferences(db, election.id, reports, now.toISOString());
  return reports;
}

/** Reconciles as reconcileStations does, and stores nothing. */
export async function computeReconciliation(
  db: D1Database,
  election: CompiledElection,
  stationId?: string,
  now = new Date(),
): Promise<StationReconciliation[]> {
  const data = await readReconciliation(db, election.id, [...election.ballotStyleByDistrict.keys()], stationId);
  const pollsClosed = now.getTime() >= election.polls.closesAtMs;
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
  return reports;
}
