/** Casting through the real HTTP route, for tests inside workerd. */
import { SELF } from "cloudflare:test";
import { BASE } from "./auth.ts";

export interface CastContest {
  contestId: string;
  optionIds: string[];
  writeIns?: Record<string, string>;
}

export async function cast(
  electionId: string,
  sessionToken: string,
  contests: CastContest[],
  idempotencyKey: string = crypto.randomUUID(),
  ip = `10.40.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/elections/${electionId}/ballots`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${sessionToken}`, "cf-connecting-ip": ip },
    body: JSON.stringify({ idempotencyKey, contests }),
    cf: { country: "EE" },
  });
}

/** A valid ballot for the demo's north style: president and the north parliament seat. */
export const NORTH_BALLOT: CastContest[] = [
  { contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] },
  { contestId: "contest-parliament-north", optionIds: ["sel-parliament-north-mari-saar"] },
  { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-yes"] },
];

/** A valid ballot for the demo's east style, with a choose-3 council contest and a write-in. */
export const EAST_BALLOT: CastContest[] = [
  {
    contestId: "contest-president",
    optionIds: ["sel-president-write-in"],
    writeIns: { "sel-president-write-in": "Jaan Tatikas" },
  },
  { contestId: "contest-parliament-east", optionIds: ["sel-parliament-east-rein-kuusk"] },
  {
    contestId: "contest-council-east",
    optionIds: ["sel-council-east-anna-laur", "sel-council-east-eva-sild", "sel-council-east-jaan-koiv"],
  },
];

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}
