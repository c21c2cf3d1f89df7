/**
 * Where the results page gets its figures: the latest public snapshot, as the live wire format
 * (lib/results/live.ts) carries it, and the page's frame (lib/results/display.ts) from the
 * election definition and the roll.
 *
 * `latestPublicSnapshot` is the one place the page reads the snapshot: the election's
 * ResultsAggregator's last published public snapshot (at most one a second, districts moving by
 * at least minBallotsPerRelease), the same release the relays and the HTTP snapshots carry.
 */
import { countRoll } from "../../../db/stores/roll.ts";
import { resultsAggregatorFor } from "../../../durable-objects/addresses.ts";
import { configureAggregator } from "../../tally/results-settings.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import type { DisplayFrame } from "../../../lib/results/display.ts";
import type { LiveSnapshot } from "../../../lib/results/live.ts";
import { compareIds } from "../../../lib/tally/totals.ts";

/**
 * The latest public snapshot, or null before anything was released: the one the aggregator last
 * published to R2 and the relays, so the page's version is the one a display holds and sends as
 * `since`. With resultsVisibility `after-close` and the polls open it carries turnout only (the
 * aggregator strips choices before anything leaves it).
 */
export async function latestPublicSnapshot(env: Env, election: CompiledElection): Promise<LiveSnapshot | null> {
  await configureAggregator(env, election);
  return resultsAggregatorFor(env, election.id).current("public");
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
