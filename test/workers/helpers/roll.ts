/** Puts voters straight onto the roll (as the roll import would), for tests about other things. */
import { env } from "cloudflare:test";
import { importVoterKeySecret, NationalId, voterKeyOf } from "../../../lib/identity/national-id.ts";

export async function voterKeyFor(nationalId: string): Promise<string> {
  return voterKeyOf(await importVoterKeySecret(env.ROLL_HASH_KEY), NationalId.parse(nationalId));
}

export async function enrol(electionId: string, nationalId: string, districtId: string): Promise<string> {
  const voterKey = await voterKeyFor(nationalId);
  await env.DB.prepare(
    `INSERT INTO voters (election_id, voter_key, district_id) VALUES (?, ?, ?)
     ON CONFLICT (election_id, voter_key) DO UPDATE SET district_id = excluded.district_id`,
  )
    .bind(electionId, voterKey, districtId)
    .run();
  return voterKey;
}
