/**
 * How many voters an election's roll holds, in total and per district. The `voters_by_district`
 * index (election_id, district_id) covers the query, so it reads the index and not the rows.
 */
import { count, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { voters } from "../../../db/schema.ts";

export interface RollCount {
  readonly total: number;
  readonly byDistrict: Readonly<Record<string, number>>;
}

export async function countRoll(env: Env, electionId: string): Promise<RollCount> {
  const rows = await drizzle(env.DB)
    .select({ districtId: voters.districtId, voters: count() })
    .from(voters)
    .where(eq(voters.electionId, electionId))
    .groupBy(voters.districtId)
    .orderBy(voters.districtId);
  // fromEntries defines own properties, so no district id (not even "__proto__") is special.
  const byDistrict = Object.fromEntries(rows.map((r) => [r.districtId, r.voters]));
  return { total: rows.reduce((sum, r) => sum + r.voters, 0), byDistrict };
}
