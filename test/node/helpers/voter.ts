/** A voter's steps against the running system, for the end-to-end tests. */
import { z } from "zod";
import type { RunningSystem } from "../../../scripts/system.ts";

/** What a voter reaches of the running system: the Worker and the dev eID issuer. */
type VoterSide = Pick<RunningSystem, "baseUrl" | "issuer">;

/** An ID token for `nationalId` from the dev eID issuer, as its login page would give. */
export async function devIdToken(system: VoterSide, nationalId: string): Promise<string> {
  const res = await fetch(`${system.issuer.url}/dev/id-token`, {
    method: "POST",
    body: JSON.stringify({ nationalId }),
  });
  return z.object({ id_token: z.string() }).parse(await res.json()).id_token;
}

/** Logs the voter in through the gateway; returns the Authorization header for voter routes. */
export async function voterAuth(
  system: VoterSide,
  electionId: string,
  nationalId: string,
): Promise<{ authorization: string }> {
  const res = await fetch(`${system.baseUrl}/v1/auth/voter-session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ electionId, idToken: await devIdToken(system, nationalId) }),
  });
  if (res.status !== 200) throw new Error(`voter login failed: ${res.status} ${await res.text()}`);
  return { authorization: `Bearer ${z.object({ sessionToken: z.string() }).parse(await res.json()).sessionToken}` };
}
