/**
 * The settings an election's ResultsAggregator cuts its snapshots by (k, visibility, scheduled
 * close): Durable Objects do not read D1, so the Worker hands them over. Called when a definition
 * is loaded (workers/gateway/routes/elections.ts) and, as a safety net for an aggregator that lost
 * them, by every results route and the results page, once per isolate and election: the
 * aggregator's load does not grow with readers or displays.
 */
import { resultsAggregatorFor } from "../../durable-objects/addresses.ts";
import type { ResultsSettings } from "../../durable-objects/results-aggregator.ts";
import type { CompiledElection } from "../../lib/election/model.ts";

const configured = new Map<string, string>();

/**
 * Hands the aggregator the settings its cuts need, once per isolate and election (again if they
 * changed: a definition may be reloaded until the polls open). See results-aggregator.ts.
 */
export async function configureAggregator(env: Env, election: CompiledElection): Promise<void> {
  const settings: ResultsSettings = {
    electionId: election.id,
    minBallotsPerRelease: election.settings.minBallotsPerRelease,
    resultsVisibility: election.settings.resultsVisibility,
    closesAtMs: election.polls.closesAtMs,
  };
  const key = JSON.stringify(settings);
  if (configured.get(election.id) === key) return;
  await resultsAggregatorFor(env, election.id).configure(settings);
  configured.set(election.id, key);
}
