/**
 * Vote totals as the tally passes them around: a tally shard reports the absolute totals of its
 * slice of one district, the results aggregator keeps the latest report per shard and sums them.
 * Runtime-free, so the auditor CLI can recount published cast vote records into the same shape.
 *
 * Lists, not objects keyed by id: contest and option ids come from an administrator's definition,
 * and a list cannot be turned into a prototype by an id such as "__proto__".
 *
 * What counts where:
 * - a marked option that is not a write-in adds one to that option;
 * - a marked write-in option adds one to the contest's `writeIns` (the texts stay in the cast vote
 *   records, for adjudication; they are not tallied by name);
 * - a contest with no marks at all adds one to `blanks`.
 */
import * as z from "zod";

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const OptionTotal = z.object({ optionId: z.string().min(1), votes: Count });
export type OptionTotal = z.infer<typeof OptionTotal>;

export const ContestTotals = z.object({
  contestId: z.string().min(1),
  options: z.array(OptionTotal),
  writeIns: Count,
  blanks: Count,
});
export type ContestTotals = z.infer<typeof ContestTotals>;

/** Everything counted for one district (by one shard, or summed over its shards). */
export const DistrictTotals = z.object({
  districtId: z.string().min(1),
  ballots: Count,
  contests: z.array(ContestTotals),
});
export type DistrictTotals = z.infer<typeof DistrictTotals>;

/** An election's sums: overall per contest, and per district. */
export interface ElectionTotals {
  /** How many shards have reported. */
  readonly shards: number;
  readonly ballots: number;
  readonly contests: readonly ContestTotals[];
  readonly districts: readonly DistrictTotals[];
}

/** A mutable accumulator for one contest: the tally shard and the sums both build these. */
export interface ContestCounter {
  readonly options: Map<string, number>;
  writeIns: number;
  blanks: number;
}

export function newContestCounter(): ContestCounter {
  return { options: new Map(), writeIns: 0, blanks: 0 };
}

export function addContest(into: Map<string, ContestCounter>, totals: ContestTotals, sign: 1 | -1 = 1): void {
  let counter = into.get(totals.contestId);
  if (!counter) {
    counter = newContestCounter();
    into.set(totals.contestId, counter);
  }
  for (const { optionId, votes } of totals.options) {
    counter.options.set(optionId, (counter.options.get(optionId) ?? 0) + sign * votes);
  }
  counter.writeIns += sign * totals.writeIns;
  counter.blanks += sign * totals.blanks;
}

/** Sorted by id, so equal totals always serialise the same. */
export function contestList(counters: ReadonlyMap<string, ContestCounter>): ContestTotals[] {
  return [...counters]
    .sort(([a], [b]) => compareIds(a, b))
    .map(([contestId, c]) => ({
      contestId,
      options: [...c.options].sort(([a], [b]) => compareIds(a, b)).map(([optionId, votes]) => ({ optionId, votes })),
      writeIns: c.writeIns,
      blanks: c.blanks,
    }));
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sums shard totals into per-district and overall totals. */
export function sumTotals(shards: Iterable<DistrictTotals>): ElectionTotals {
  const overall = new Map<string, ContestCounter>();
  const districts = new Map<string, { ballots: number; contests: Map<string, ContestCounter> }>();
  let ballots = 0;
  let count = 0;
  for (const shard of shards) {
    count += 1;
    ballots += shard.ballots;
    let district = districts.get(shard.districtId);
    if (!district) {
      district = { ballots: 0, contests: new Map() };
      districts.set(shard.districtId, district);
    }
    district.ballots += shard.ballots;
    for (const contest of shard.contests) {
      addContest(overall, contest);
      addContest(district.contests, contest);
    }
  }
  return {
    shards: count,
    ballots,
    contests: contestList(overall),
    districts: [...districts]
      .sort(([a], [b]) => compareIds(a, b))
      .map(([districtId, d]) => ({ districtId, ballots: d.ballots, contests: contestList(d.contests) })),
  };
}
