/**
 * Writes a validated roll chunk: each national id becomes its voter key (the HMAC under
 * ROLL_HASH_KEY; the id itself goes no further than this function's memory), and the store
 * (db/stores/roll.ts: one D1 batch, 49 rows per statement) upserts the keys so that importing the
 * same file twice changes nothing.
 */
import { writeVoters } from "../../../db/stores/roll.ts";
import { voterKeyOf } from "../../../lib/identity/national-id.ts";
import type { RollEntry } from "../../../lib/roll/validate.ts";
import { rollHashSecret } from "./voter-key.ts";

export interface RollWrite {
  /** Entries inserted, or moved to another district. */
  readonly written: number;
  /** Entries already on the roll with the same district. */
  readonly unchanged: number;
}

export async function writeRollEntries(
  env: Env,
  electionId: string,
  entries: readonly RollEntry[],
): Promise<RollWrite> {
  if (entries.length === 0) return { written: 0, unchanged: 0 };
  const secret = await rollHashSecret(env);
  const keys = await Promise.all(entries.map((e) => voterKeyOf(secret, e.nationalId)));
  const rows = entries.map((entry, i) => {
    const voterKey = keys[i];
    if (voterKey === undefined) throw new Error("roll entry index out of range");
    return { voterKey, districtId: entry.districtId };
  });
  const written = await writeVoters(env.DB, electionId, rows);
  return { written, unchanged: entries.length - written };
}
