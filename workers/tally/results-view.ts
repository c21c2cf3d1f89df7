/**
 * Results as the API shows them: the aggregator's sums joined with the election definition (names,
 * labels, which districts vote on which contest) and the roll (registered voters, for turnout).
 *
 * The view names the release it shows: `version` (grows with every release the reader may see)
 * and `asOf` (when its numbers were taken), and whether it is `exact` (officials' view, or the
 * public's once results are final) or the public snapshot (durable-objects/results-aggregator.ts).
 *
 * Every contest of the definition is listed, and under it every district whose ballot style
 * carries it, with zeros where nothing has been counted yet: a display never has to guess
 * whether a missing row means zero or unknown.
 */
import type { CompiledElection, Contest } from "../../lib/election/model.ts";
import { compareIds, type ContestTotals, type ElectionTotals } from "../../lib/tally/totals.ts";

export interface RollCounts {
  readonly total: number;
  readonly byDistrict: Readonly<Record<string, number>>;
}

export interface OptionResult {
  readonly id: string;
  readonly label: string;
  readonly votes: number;
}

export interface DistrictContestResult {
  readonly districtId: string;
  readonly name: string;
  readonly options: { readonly id: string; readonly votes: number }[];
  readonly writeIns: number;
  readonly blanks: number;
}

export interface ContestResult {
  readonly id: string;
  readonly name: string;
  readonly votesAllowed: number;
  readonly options: OptionResult[];
  readonly writeIns: number;
  readonly blanks: number;
  readonly districts: DistrictContestResult[];
}

export interface TurnoutRow {
  readonly ballotsCounted: number;
  readonly registeredVoters: number;
  /** ballotsCounted / registeredVoters; null when nobody is registered. */
  readonly ratio: number | null;
}

/** Which release of the results a view shows. */
export interface Release {
  readonly version: number;
  /** When the numbers were taken (ms since the epoch); null before anything was released. */
  readonly asOf: number | null;
  readonly exact: boolean;
}

export interface ResultsView {
  readonly electionId: string;
  readonly name: string;
  readonly pollsClosed: boolean;
  readonly generatedAt: string;
  readonly version: number;
  readonly asOf: string | null;
  readonly exact: boolean;
  readonly shardsReporting: number;
  readonly turnout: TurnoutRow & {
    readonly districts: (TurnoutRow & { readonly districtId: string; readonly name: string })[];
  };
  readonly contests: ContestResult[];
}

function ratio(ballots: number, registered: number): number | null {
  return registered > 0 ? ballots / registered : null;
}

/** Votes per defined option; marks on write-in options count as write-ins. */
function contestCounts(
  contest: Contest,
  totals: ContestTotals | undefined,
): { options: OptionResult[]; writeIns: number; blanks: number } {
  const votes = new Map((totals?.options ?? []).map((o) => [o.optionId, o.votes]));
  let writeIns = totals?.writeIns ?? 0;
  const options: OptionResult[] = [];
  for (const option of contest.options) {
    if (option.isWriteIn) writeIns += votes.get(option.id) ?? 0;
    else options.push({ id: option.id, label: option.label, votes: votes.get(option.id) ?? 0 });
  }
  return { options, writeIns, blanks: totals?.blanks ?? 0 };
}

export function resultsView(
  election: CompiledElection,
  totals: ElectionTotals,
  roll: RollCounts,
  now: Date,
  release: Release,
): ResultsView {
  const districtName = (id: string): string => election.districts.get(id)?.name ?? id;
  const overall = new Map(totals.contests.map((c) => [c.contestId, c]));
  const byDistrict = new Map(
    totals.districts.map((d) => [
      d.districtId,
      { ballots: d.ballots, contests: new Map(d.contests.map((c) => [c.contestId, c])) },
    ]),
  );

  // Districts where voters live (one ballot style each), and any the roll or the tally names.
  const districtIds = [
    ...new Set([...election.ballotStyleByDistrict.keys(), ...Object.keys(roll.byDistrict), ...byDistrict.keys()]),
  ].sort(compareIds);
  const contestsOfDistrict = new Map(
    districtIds.map((id) => {
      const style = election.ballotStyles.get(election.ballotStyleByDistrict.get(id) ?? "");
      return [id, new Set(style?.contestIds ?? [])];
    }),
  );

  const contests = [...election.contests.values()].map((contest): ContestResult => {
    const districts = districtIds
      .filter(
        (id) =>
          contestsOfDistrict.get(id)?.has(contest.id) === true || byDistrict.get(id)?.contests.has(contest.id) === true,
      )
      .map((id): DistrictContestResult => {
        const counts = contestCounts(contest, byDistrict.get(id)?.contests.get(contest.id));
        return {
          districtId: id,
          name: districtName(id),
          options: counts.options.map((o) => ({ id: o.id, votes: o.votes })),
          writeIns: counts.writeIns,
          blanks: counts.blanks,
        };
      });
    return {
      id: contest.id,
      name: contest.name,
      votesAllowed: contest.votesAllowed,
      ...contestCounts(contest, overall.get(contest.id)),
      districts,
    };
  });

  const registered = (id: string): number => (Object.hasOwn(roll.byDistrict, id) ? (roll.byDistrict[id] ?? 0) : 0);
  return {
    electionId: election.id,
    name: election.name,
    pollsClosed: now.getTime() >= election.polls.closesAtMs,
    generatedAt: now.toISOString(),
    version: release.version,
    asOf: release.asOf === null ? null : new Date(release.asOf).toISOString(),
    exact: release.exact,
    shardsReporting: totals.shards,
    turnout: {
      ballotsCounted: totals.ballots,
      registeredVoters: roll.total,
      ratio: ratio(totals.ballots, roll.total),
      districts: districtIds.map((id) => {
        const ballots = byDistrict.get(id)?.ballots ?? 0;
        return {
          districtId: id,
          name: districtName(id),
          ballotsCounted: ballots,
          registeredVoters: registered(id),
          ratio: ratio(ballots, registered(id)),
        };
      }),
    },
    contests,
  };
}
