/**
 * The Worker entry: it routes and nothing else. Domain decisions live in Durable Objects and
 * plain modules; the Durable Object classes are exported here so wrangler can bind them.
 */
import { createApp } from "./gateway/app.ts";
import { handleBallotBatch } from "./tally/consumer.ts";
import { handleDeadLetters } from "./tally/dead-letters.ts";

export { ReplayGuard } from "../durable-objects/replay-guard.ts";
export { VoterLedger } from "../durable-objects/voter-ledger.ts";
export { TallyShard } from "../durable-objects/tally-shard.ts";
export { ResultsAggregator } from "../durable-objects/results-aggregator.ts";
export { ResultsRelay } from "../durable-objects/results-relay.ts";
export { LogSequencer } from "../durable-objects/log-sequencer.ts";
export { PaperBallotBox } from "../durable-objects/paper-ballot-box.ts";
export { StationBallotCount } from "../durable-objects/station-ballot-count.ts";
export { SecurityMonitor } from "../durable-objects/security-monitor.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
  queue: (batch, env, ctx) =>
    batch.queue === "ballots-dlq" ? handleDeadLetters(batch, env) : handleBallotBatch(batch, env, ctx),
} satisfies ExportedHandler<Env>;
