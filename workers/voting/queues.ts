/**
 * The ballot queues, sharded (see wrangler.toml for the sizing). A producer picks the queue by a
 * stable hash of a key it owns (a ledger picks by its own name), so one ledger's messages stay
 * on one queue; order does not matter to the consumers, which are idempotent by ballot id.
 */
import type { BallotMessage } from "../../lib/ballot/messages.ts";

export const BALLOT_QUEUE_COUNT = 4;

export function ballotQueues(env: Env): readonly Queue<BallotMessage>[] {
  return [env.BALLOTS_0, env.BALLOTS_1, env.BALLOTS_2, env.BALLOTS_3];
}

/** FNV-1a, 32 bits: cheap, stable across isolates, spreads short keys evenly enough here. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function ballotQueueFor(env: Env, key: string): Queue<BallotMessage> {
  const queues = ballotQueues(env);
  const queue = queues[fnv1a(key) % queues.length];
  if (!queue) throw new Error("no ballot queue bound");
  return queue;
}
