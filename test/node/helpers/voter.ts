/** A voter's steps against the running system, for the end-to-end tests. */
import { z } from "zod";
import type { RunningSystem } from "../../../scripts/system.ts";
import { eventually } from "./run.ts";

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

const Ballot = z.object({
  contests: z.array(
    z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), isWriteIn: z.boolean() })) }),
  ),
});
const Receipt = z.object({ trackingCode: z.string(), commitment: z.string() });

/**
 * A real ballot cast through the API by a logged-in voter: in every contest of their ballot, the
 * `choice`-th named option (modulo how many there are; write-ins never), or nothing with "blank".
 * Its receipt.
 */
export async function castChoice(
  system: VoterSide,
  electionId: string,
  auth: { authorization: string },
  choice: number | "blank" = 0,
): Promise<z.infer<typeof Receipt>> {
  const ballot = Ballot.parse(
    await (await fetch(`${system.baseUrl}/v1/elections/${electionId}/ballot`, { headers: auth })).json(),
  );
  const cast = await fetch(`${system.baseUrl}/v1/elections/${electionId}/ballots`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      idempotencyKey: crypto.randomUUID(),
      contests: ballot.contests.map((c) => {
        const named = c.options.filter((o) => !o.isWriteIn);
        return { contestId: c.id, optionIds: choice === "blank" ? [] : [named[choice % named.length]?.id ?? ""] };
      }),
    }),
  });
  if (cast.status !== 201) throw new Error(`cast failed: ${cast.status} ${await cast.text()}`);
  return Receipt.parse(await cast.json());
}

/**
 * A real ballot cast through the API (the first non-write-in option of every contest), waited for
 * until a published checkpoint holds it: its tracking code and leaf index.
 */
export async function castLoggedBallot(
  system: VoterSide,
  electionId: string,
  nationalId: string,
): Promise<{ trackingCode: string; leafIndex: number }> {
  const { trackingCode } = await castChoice(system, electionId, await voterAuth(system, electionId, nationalId));
  const leafIndex = await eventually(async () => {
    const res = await fetch(`${system.baseUrl}/v1/receipts/${trackingCode}`);
    if (res.status !== 200) return undefined;
    const body = z.object({ log: z.object({ leafIndex: z.number() }).optional() }).parse(await res.json());
    return body.log?.leafIndex;
  }, 60_000);
  return { trackingCode, leafIndex };
}
