/** Puts voters straight onto the roll (as the roll import would), for tests about other things. */
import { env } from "cloudflare:test";
import { importVoterKeySecret, NationalId, voterKeyOf } from "../../../lib/identity/national-id.ts";
import { pollbookEntryId } from "../../../lib/station/pollbook.ts";
import { districtPollbookKey } from "../../../workers/voting/pollbook-keys.ts";

export async function voterKeyFor(nationalId: string): Promise<string> {
  return voterKeyOf(await importVoterKeySecret(env.ROLL_HASH_KEY), NationalId.parse(nationalId));
}

/** With the voter's pollbook id, as the import computes it, so the voter is in stations' pollbooks. */
export async function enrol(electionId: string, nationalId: string, districtId: string): Promise<string> {
  const voterKey = await voterKeyFor(nationalId);
  const pollbookId = await pollbookEntryId(
    await districtPollbookKey(env, electionId, districtId),
    NationalId.parse(nationalId),
  );
  await env.DB.prepare(
    `INSERT INTO voters (election_id, voter_key, district_id, pollbook_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (election_id, voter_key) DO UPDATE SET district_id = excluded.district_id,
       pollbook_id = excluded.pollbook_id`,
  )
    .bind(electionId, voterKey, districtId, pollbookId)
    .run();
  return voterKey;
}
