/**
 * Which VoterLedger object owns a voter. One setting, LEDGER_BUCKETS:
 *   "0"  one object per (election, voter): the design card's shape; every voter's decisions are
 *        isolated and the platform spreads objects across machines;
 *   "N"  N hash buckets per election: each object holds many voters in the same tables.
 * The class and its tables are the same either way, so the once-only guarantee is identical; only
 * the number of objects (creation cost, per-object throughput) changes. docs/PERFORMANCE.md has
 * the measured figures behind each environment's choice.
 */
import { fnv1a } from "./queues.ts";

export function ledgerBuckets(env: Env): number {
  const n = Number.parseInt(env.LEDGER_BUCKETS, 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function ledgerNameFor(electionId: string, voterKey: string, buckets: number): string {
  return buckets > 0 ? `${electionId}/bucket/${fnv1a(voterKey) % buckets}` : `${electionId}/voter/${voterKey}`;
}

export function ledgerFor(
  env: Env,
  electionId: string,
  voterKey: string,
): DurableObjectStub<import("../../durable-objects/voter-ledger.ts").VoterLedger> {
  return env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(ledgerNameFor(electionId, voterKey, ledgerBuckets(env))));
}
