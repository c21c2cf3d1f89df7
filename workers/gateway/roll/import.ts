/**
 * Writes a validated roll chunk: each national id becomes its voter key (the HMAC under
 * ROLL_HASH_KEY) and its offline pollbook id (the HMAC under its district's pollbook key,
 * lib/station/pollbook.ts); the id itself goes no further than this function's memory, and this is
 * the only time the server sees it, so both are computed here. The store (db/stores/roll.ts: one
 * D1 batch, 33 rows per statement) upserts them so that importing the same file twice changes
 * nothing, and importing it again fills the pollbook id of a row stored before pollbook ids existed.
 */
import { writeVoters } from "../../../db/stores/roll.ts";
import { voterKeyOf } from "../../../lib/identity/national-id.ts";
import type { RollEntry } from "../../../lib/roll/validate.ts";
import { pollbookEntryIdUnder, pollbookIdKey } from "../../../lib/station/pollbook.ts";
import { districtPollbookKey } from "../../voting/pollbook-keys.ts";
import { rollHashSecret } from "./voter-key.ts";

export interface RollWrite {
  /** Entries inserted, moved to another district, or given their pollbook id. */
  readonly written: number;
  /** Entries already on the roll with the same district and pollbook id. */
  readonly unchanged: number;
}

export async function writeRollEntries(
  env: Env,
  electionId: string,
  entries: readonly RollEntry[],
): Promise<RollWrite> {
  if (entries.length === 0) return { written: 0, unchanged: 0 };
  const secret = await rollHashSecret(env);
  // One derivation and one import per district of the chunk, not per row: a chunk holds up to
  // 10,000 rows and a handful of districts.
  const districtKeys = new Map<string, Promise<CryptoKey>>();
  const keyOf = (districtId: string): Promise<CryptoKey> => {
    let key = districtKeys.get(districtId);
    if (!key) {
      key = districtPollbookKey(env, electionId, districtId).then(pollbookIdKey);
      districtKeys.set(districtId, key);
    }
    return key;
  };
  const rows = await Promise.all(
    entries.map(async (entry) => ({
      voterKey: await voterKeyOf(secret, entry.nationalId),
      districtId: entry.districtId,
      pollbookId: await pollbookEntryIdUnder(await keyOf(entry.districtId), entry.nationalId),
    })),
  );
  const written = await writeVoters(env.DB, electionId, rows);
  return { written, unchanged: entries.length - written };
}
