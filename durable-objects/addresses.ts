/**
 * Where things live: which Durable Object owns a voter, a ballot serial, a shard of the count or an
 * election's log, and which ballot queue a producer sends to. Every object name is made here, beside
 * the objects, so that each name maps to one object forever (the once-only guarantees rest on it).
 * Changing any mapping here moves state to other objects: never during an election.
 */
import type { QueuedMessage } from "../lib/ballot/messages.ts";
import { fnv1a } from "../lib/hash.ts";
import type { LiveChannel } from "../lib/results/live.ts";
import { configOf } from "./config.ts";
import type { LogSequencer } from "./log-sequencer.ts";
import type { PaperBallotBox } from "./paper-ballot-box.ts";
import type { ResultsAggregator } from "./results-aggregator.ts";
import type { ResultsRelay } from "./results-relay.ts";
import type { SecurityMonitor } from "./security-monitor.ts";
import type { StationBallotCount } from "./station-ballot-count.ts";
import type { TallyShard } from "./tally-shard.ts";
import type { VoterLedger } from "./voter-ledger.ts";

/**
 * The ballot queues, sharded (see wrangler.toml for the sizing). A producer picks the queue by a
 * stable hash of a key that names the message, never a voter: the tracking code of a ballot or
 * retraction, the id of a check-in (lib/ballot/messages.ts `queueKeyOf`). Order does not matter
 * to the consumers, which are idempotent by ballot id.
 */
function ballotQueues(env: Env): readonly Queue<QueuedMessage>[] {
  return [env.BALLOTS_0, env.BALLOTS_1, env.BALLOTS_2, env.BALLOTS_3];
}

export function ballotQueueFor(env: Env, key: string): Queue<QueuedMessage> {
  const queues = ballotQueues(env);
  const queue = queues[fnv1a(key) % queues.length];
  if (!queue) throw new Error("no ballot queue bound");
  return queue;
}

/**
 * Which VoterLedger object owns a voter. One setting, LEDGER_BUCKETS:
 *   0  one object per (election, voter): the design card's shape; every voter's decisions are
 *      isolated and the platform spreads objects across machines;
 *   N  N hash buckets per election: each object holds many voters in the same tables.
 * The class and its tables are the same either way, so the once-only guarantee is identical; only
 * the number of objects (creation cost, per-object throughput) changes. docs/PERFORMANCE.md has
 * the measured figures behind each environment's choice.
 */
export function ledgerNameFor(electionId: string, voterKey: string, buckets: number): string {
  return buckets > 0 ? `${electionId}/bucket/${fnv1a(voterKey) % buckets}` : `${electionId}/voter/${voterKey}`;
}

export function ledgerFor(env: Env, electionId: string, voterKey: string): DurableObjectStub<VoterLedger> {
  return env.VOTER_LEDGER.get(
    env.VOTER_LEDGER.idFromName(ledgerNameFor(electionId, voterKey, configOf(env).LEDGER_BUCKETS)),
  );
}

/**
 * PaperBallotBox buckets per election. Paper scans are bounded by the stations' scanners, a ballot
 * every few seconds each: even 5,000 stations scanning flat out is about 1,500 scans/s nationally,
 * so 16 objects take about 100 scans/s each, an order of magnitude below what one Durable Object
 * serves (about 1,000 small transactions/s; see lib/tally/shards.ts). More buckets would buy
 * nothing and cost object creations.
 */
export const PAPER_BOX_BUCKETS = 16;

/** `${electionId}/box/${fnv1a(serial) % PAPER_BOX_BUCKETS}`: a serial maps to one object forever. */
export function paperBoxName(electionId: string, serial: number): string {
  return `${electionId}/box/${fnv1a(String(serial)) % PAPER_BOX_BUCKETS}`;
}

export function paperBoxFor(env: Env, electionId: string, serial: number): DurableObjectStub<PaperBallotBox> {
  return env.PAPER_BALLOT_BOX.get(env.PAPER_BALLOT_BOX.idFromName(paperBoxName(electionId, serial)));
}

/** A tally shard by its name (lib/tally/shards.ts `tallyShardName`). */
export function tallyShardFor(env: Env, name: string): DurableObjectStub<TallyShard> {
  return env.TALLY_SHARD.get(env.TALLY_SHARD.idFromName(name));
}

/** The one results aggregator of an election. */
export function resultsAggregatorFor(env: Env, electionId: string): DurableObjectStub<ResultsAggregator> {
  return env.RESULTS.get(env.RESULTS.idFromName(electionId));
}

/**
 * Results relays (durable-objects/results-relay.ts): RESULTS_RELAYS per channel of an election,
 * named `<electionId>/<channel>/<i>`. They form a tree: relay i forwards each snapshot to relays
 * i*F+1 .. i*F+F (F = RESULTS_RELAY_FANOUT) that exist, so the aggregator calls relay 0 alone and
 * a snapshot reaches every relay in about log_F(RESULTS_RELAYS) hops.
 */
export function resultsRelayName(electionId: string, channel: LiveChannel, index: number): string {
  return `${electionId}/${channel}/${index}`;
}

export function resultsRelayFor(
  env: Env,
  electionId: string,
  channel: LiveChannel,
  index: number,
): DurableObjectStub<ResultsRelay> {
  return env.RESULTS_RELAY.get(env.RESULTS_RELAY.idFromName(resultsRelayName(electionId, channel, index)));
}

/** The children of relay `index` in a tree of `relays` relays, each forwarding to `fanout`. */
export function relayChildren(index: number, fanout: number, relays: number): number[] {
  const children: number[] = [];
  for (let i = index * fanout + 1; i <= index * fanout + fanout && i < relays; i += 1) children.push(i);
  return children;
}

/** The relay that forwards to relay `index` (undefined for the root, which the aggregator calls). */
export function relayParent(index: number, fanout: number): number | undefined {
  return index === 0 ? undefined : Math.floor((index - 1) / fanout);
}

/**
 * The relay a display starts at: a stable hash of what names it (its display id, else its
 * client address), so a display that reconnects finds the relay that holds its versions.
 */
export function relayIndexFor(key: string, relays: number): number {
  return fnv1a(key) % relays;
}

/** The one log sequencer of an election. */
export function logSequencerFor(env: Env, electionId: string): DurableObjectStub<LogSequencer> {
  return env.LOG_SEQUENCER.get(env.LOG_SEQUENCER.idFromName(electionId));
}

/**
 * The one ballot count of a station in an election: its check-ins against its paper ballots
 * (durable-objects/station-ballot-count.ts). One object per (election, station), since the rule
 * is per station and a station scans a ballot every few seconds at most.
 */
export function stationBallotCountFor(
  env: Env,
  electionId: string,
  stationId: string,
): DurableObjectStub<StationBallotCount> {
  return env.STATION_BALLOT_COUNT.get(env.STATION_BALLOT_COUNT.idFromName(`${electionId}/station/${stationId}`));
}

/** The security monitor of an election: one object, named by the election id. */
export function securityMonitorFor(env: Env, electionId: string): DurableObjectStub<SecurityMonitor> {
  return env.SECURITY_MONITOR.get(env.SECURITY_MONITOR.idFromName(electionId));
}
