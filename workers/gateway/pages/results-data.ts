/**
 * Where the results page gets its figures: the latest public snapshot, as the live wire format
 * (lib/results/live.ts) carries it, and the page's frame (lib/results/display.ts) from the
 * election definition and the roll.
 *
 * `latestPublicSnapshot` is the one place the page reads the snapshot. It reads the election's
 * ResultsAggregator, which cuts a public snapshot when asked (at most one a second, districts
 * moving by at least minBallotsPerRelease); once the aggregator publishes snapshots itself and
 * the HTTP snapshot routes exist, this is the function to point at them.
 */
import { countRoll } from "../../../db/stores/roll.ts";
import { resultsAggregatorFor } from "../../../durable-objects/addresses.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import type { DisplayFrame } from "../../../lib/results/display.ts";
import type { LiveSnapshot } from "../../../lib/results/live.ts";
import { compareIds } from "../../../lib/tally/totals.ts";

/** Whether the public may see choices (not only turnout) at `nowMs`. */
function choicesPublic(election: CompiledElection, nowMs: number): boolean {
  return election.settings.resultsVisibility === "live" || nowMs >= election.polls.closesAtMs;
}

/**
 * The latest public snapshot, or null before anything was released. With resultsVisibility
 * `after-close` and the polls open it carries turnout only: no contest figures, national or per
 * district, ever leave this function then.
 */
export async function latestPublicSnapshot(
  env: Env,
  election: CompiledElection,
  nowMs: number = Date.now(),
): Promise<LiveSnapshot | null> {
  const closed = nowMs >= election.polls.closesAtMs;
  const choices = choicesPublic(election, nowMs);
  const release = await resultsAggregatorFor(env, election.id).publicSnapshot(
    election.settings.minBallotsPerRelease,
    closed,
  );
  if (release.version < 1 || release.asOf === null) return null;
  const { totals } = release;
  return {
    type: "snapshot",
    electionId: election.id,
    channel: "public",
    version: release.version,
    asOf: release.asOf,
    exact: closed,
    choices,
    closed,
    totals: {
      shards: totals.shards,
      ballots: totals.ballots,
      contests: choices ? [...totals.contests] : [],
      districts: totals.districts.map((d) =>
        choices ? d : { districtId: d.districtId, ballots: d.ballots, contests: [] },
      ),
    },
  };
}

/** The districts the page lists: where voters live (a ballot style each) and any the roll names. */
function districtIds(election: CompiledElection, registered: Readonly<Record<string, number>>): string[] {
  return [...new Set([...election.ballotStyleByDistrict.keys(), ...Object.keys(registered)])].sort(compareIds);
}

/** The page's frame: its contests, their options and districts, and each district's roll. */
export async function displayFrame(env: Env, election: CompiledElection): Promise<DisplayFrame> {
  const roll = await countRoll(env.DB, election.id);
  const districts = districtIds(election, roll.byDistrict);
  const contestsOf = (districtId: string): ReadonlySet<string> =>
    new Set(election.ballotStyles.get(election.ballotStyleByDistrict.get(districtId) ?? "")?.contestIds ?? []);
  const carried = new Map(districts.map((id) => [id, contestsOf(id)]));
  return {
    electionId: election.id,
    contests: [...election.contests.values()].map((contest) => ({
      id: contest.id,
      options: contest.options.filter((o) => !o.isWriteIn).map((o) => o.id),
      writeInOptions: contest.options.filter((o) => o.isWriteIn).map((o) => o.id),
      districts: districts.filter((id) => carried.get(id)?.has(contest.id) === true),
    })),
    districts: districts.map((id) => ({
      id,
      registered: Object.hasOwn(roll.byDistrict, id) ? (roll.byDistrict[id] ?? 0) : 0,
    })),
  };
}
