/**
 * The digest of a roll chunk that the public log carries (`roll-imported`): HMAC-SHA-256 of the
 * chunk's bytes as received, under a key derived from ROLL_HASH_KEY for this purpose and this
 * election (lib/keys.ts). A plain SHA-256 of a one-row chunk would name the person added, since
 * national ids are a small structured space anyone can search; under the key only the operator,
 * who holds the roll file, can recompute it (security review M7).
 */
import { hexEncode } from "../../../lib/bytes.ts";
import { purposeKey } from "../../../lib/keys.ts";
import { configOf } from "../../../durable-objects/config.ts";

export async function rollChunkDigest(env: Env, electionId: string, chunk: Uint8Array): Promise<string> {
  const key = await purposeKey(configOf(env).ROLL_HASH_KEY, "roll-chunk-digest", electionId);
  const copy = new Uint8Array(chunk);
  return hexEncode(new Uint8Array(await crypto.subtle.sign("HMAC", key, copy)));
}
