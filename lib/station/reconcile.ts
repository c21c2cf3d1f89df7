/**
 * Reconciling a polling station: what its signed result sheet says against what the system
 * recorded for it (the paper ballots it scanned, the voters it checked in). Runtime-free, so the
 * auditor CLI can run the same comparison over published data.
 *
 * Every difference is listed, none is summarised away:
 *   check-ins-vs-ballots   voters the system checked in at the station vs ballots it scanned there
 *                          (a voter who left without casting, or a ballot nobody was checked in for)
 *   ballots-cast           the sheet's ballots cast vs the ballots the system scanned
 *   voters-checked-in      the sheet's voters checked in vs the check-ins the system recorded
 *   option-votes           one option's votes on the sheet vs in the scanned ballots
 *   write-ins, blanks      one contest's write-in marks or blank contests, likewise
 *   result-sheet-missing   the polls closed and the station has scanned or checked in but sent no sheet
 * A contest or option missing on one side counts zero there, so a contest the sheet left out
 * shows as differences on each of its options that the ballots marked.
 */
import type { ContestTotals } from "../tally/totals.ts";
import { compareIds } from "../tally/totals.ts";
import type { DifferenceKind } from "../vocabulary.ts";

export interface Difference {
  readonly kind: DifferenceKind;
  readonly contestId?: string;
  readonly optionId?: string;
  /** What the system recorded (for check-ins-vs-ballots: the check-ins). */
  readonly system: number;
  /** What the station's sheet says (for check-ins-vs-ballots: the ballots scanned); null without a sheet. */
  readonly station: number | null;
  readonly message: string;
}

export interface SystemCounts {
  readonly checkIns: number;
  readonly ballotsScanned: number;
  readonly contests: readonly ContestTotals[];
}

export interface SheetCounts {
  readonly votersCheckedIn: number;
  readonly ballotsCast: number;
  readonly contests: readonly ContestTotals[];
}

function indexTotals(
  contests: readonly ContestTotals[],
): Map<string, { options: Map<string, number>; writeIns: number; blanks: number }> {
  const out = new Map<string, { options: Map<string, number>; writeIns: number; blanks: number }>();
  for (const c of contests) {
    const entry = out.get(c.contestId) ?? { options: new Map<string, number>(), writeIns: 0, blanks: 0 };
    for (const o of c.options) entry.options.set(o.optionId, (entry.options.get(o.optionId) ?? 0) + o.votes);
    entry.writeIns += c.writeIns;
    entry.blanks += c.blanks;
    out.set(c.contestId, entry);
  }
  return out;
}

export function reconcileStation(system: SystemCounts, sheet: SheetCounts | null, pollsClosed: boolean): Difference[] {
  const differences: Difference[] = [];
  if (system.checkIns !== system.ballotsScanned) {
    differences.push({
      kind: "check-ins-vs-ballots",
      system: system.checkIns,
      station: system.ballotsScanned,
      message: `${system.checkIns} voters checked in, ${system.ballotsScanned} ballots scanned`,
    });
  }
  if (!sheet) {
    if (pollsClosed && (system.checkIns > 0 || system.ballotsScanned > 0)) {
      differences.push({
        kind: "result-sheet-missing",
        system: system.ballotsScanned,
        station: null,
        message: "the polls closed and no result sheet was received",
      });
    }
    return differences;
  }
  if (sheet.ballotsCast !== system.ballotsScanned) {
    differences.push({
      kind: "ballots-cast",
      system: system.ballotsScanned,
      station: sheet.ballotsCast,
      message: `the sheet says ${sheet.ballotsCast} ballots cast, ${system.ballotsScanned} were scanned`,
    });
  }
  if (sheet.votersCheckedIn !== system.checkIns) {
    differences.push({
      kind: "voters-checked-in",
      system: system.checkIns,
      station: sheet.votersCheckedIn,
      message: `the sheet says ${sheet.votersCheckedIn} voters checked in, the system recorded ${system.checkIns}`,
    });
  }
  const ours = indexTotals(system.contests);
  const theirs = indexTotals(sheet.contests);
  const contestIds = [...new Set([...ours.keys(), ...theirs.keys()])].sort(compareIds);
  for (const contestId of contestIds) {
    const a = ours.get(contestId);
    const b = theirs.get(contestId);
    const optionIds = [...new Set([...(a?.options.keys() ?? []), ...(b?.options.keys() ?? [])])].sort(compareIds);
    for (const optionId of optionIds) {
      const sys = a?.options.get(optionId) ?? 0;
      const st = b?.options.get(optionId) ?? 0;
      if (sys !== st) {
        differences.push({
          kind: "option-votes",
          contestId,
          optionId,
          system: sys,
          station: st,
          message: `${contestId} / ${optionId}: the sheet says ${st}, the ballots ${sys}`,
        });
      }
    }
    const writeIns = [a?.writeIns ?? 0, b?.writeIns ?? 0] as const;
    if (writeIns[0] !== writeIns[1]) {
      differences.push({
        kind: "write-ins",
        contestId,
        system: writeIns[0],
        station: writeIns[1],
        message: `${contestId}: the sheet says ${writeIns[1]} write-ins, the ballots ${writeIns[0]}`,
      });
    }
    const blanks = [a?.blanks ?? 0, b?.blanks ?? 0] as const;
    if (blanks[0] !== blanks[1]) {
      differences.push({
        kind: "blanks",
        contestId,
        system: blanks[0],
        station: blanks[1],
        message: `${contestId}: the sheet says ${blanks[1]} blank, the ballots ${blanks[0]}`,
      });
    }
  }
  return differences;
}
