/**
 * Which tally shard counts a ballot. A shard is one Durable Object named
 * `${electionId}/${districtId}/${k}` with k = fnv1a(ballotId) % TALLY_SHARDS: k depends on the
 * ballot id alone, so a ballot and its retraction always reach the same shard, whichever comes
 * first and however often each is delivered.
 */
import { fnv1a } from "../hash.ts";

/**
 * Shards per district. Peak is 8,000 ballots/s (DESIGN.md section 7) and queue batches carry up
 * to 100 messages, so at peak about 80 batches/s reach the consumers, each making one call per
 * shard it touches. The worst case is one district taking the whole peak: with 4 shards each gets
 * at most 80 calls/s carrying about 2,000 ballots/s, one SQLite transaction per call, an order of
 * magnitude below what one Durable Object serves (about 1,000 small calls/s). More shards would
 * buy nothing there, but would split batches into smaller calls and multiply the reports the one
 * aggregator per election receives (at most 5 per shard per second, see tally-shard.ts). Changing
 * this number moves ballots to other shards: never change it during an election.
 */
export const TALLY_SHARDS = 4;

export function tallyShardIndex(ballotId: string): number {
  return fnv1a(ballotId) % TALLY_SHARDS;
}

export function tallyShardName(electionId: string, districtId: string, ballotId: string): string {
  return `${electionId}/${districtId}/${tallyShardIndex(ballotId)}`;
}

export interface ShardAddress {
  readonly electionId: string;
  readonly districtId: string;
  readonly index: number;
}

/**
 * The parts of a shard name. Election ids have no "/" (lib/election/settings.ts) and the index is
 * the last segment, so whatever sits between them is the district id.
 */
export function parseShardName(name: string): ShardAddress | undefined {
  const first = name.indexOf("/");
  const last = name.lastIndexOf("/");
  if (first <= 0 || last <= first + 1) return undefined;
  const indexText = name.slice(last + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(indexText)) return undefined;
  const index = Number(indexText);
  if (index >= TALLY_SHARDS) return undefined;
  return { electionId: name.slice(0, first), districtId: name.slice(first + 1, last), index };
}
