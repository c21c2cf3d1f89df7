/**
 * One-time identifiers are spread over REPLAY_SHARDS ReplayGuard objects by a hash of the id, so
 * no single object carries every login at peak. Each id maps to one object forever, which is
 * what makes the once-only guarantee hold.
 *
 * 64 shards: a warm object takes about 1,000-1,900 writes/s on the local runtime, so 64 carry
 * 8,000 logins/s with room; more shards only spread the load thinner.
 */
import { sha256 } from "../../../lib/digest.ts";

export const REPLAY_SHARDS = 64;

export type ReplayPurpose = "id-token" | "official-assertion" | "station-request";

function shardOf(id: string): number {
  const digest = sha256(id);
  return ((digest[0] ?? 0) * 256 + (digest[1] ?? 0)) % REPLAY_SHARDS;
}

/** True the first time (purpose, id) is seen before `expiresAtMs`; false on a replay. */
export async function claimOnce(env: Env, purpose: ReplayPurpose, id: string, expiresAtMs: number): Promise<boolean> {
  const key = `${purpose}:${id}`;
  const stub = env.REPLAY_GUARD.get(env.REPLAY_GUARD.idFromName(`replay-${shardOf(key)}`));
  return stub.claim(key, expiresAtMs);
}
