/**
 * The online vote path end to end over real HTTP against the running system (wrangler dev, the
 * dev eID issuer, local queues, D1 and Durable Objects): log in through the dev eID issuer, fetch
 * the ballot, cast, check the receipt (signature, check URL, the QR code decoded from its PNG), and
 * see the results change.
 */
import { createLocalJWKSet, jwtVerify } from "jose";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { expect, it } from "vitest";
import { z } from "zod";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { voterAuth } from "./helpers/voter.ts";
import { eventually } from "./helpers/run.ts";

const system = withRunningSystem({ name: "e2e-vote", demo: true });

const Ballot = z.object({
  ballotStyleId: z.string(),
  districtId: z.string(),
  contests: z.array(
    z.object({
      id: z.string(),
      votesAllowed: z.number(),
      options: z.array(z.object({ id: z.string(), isWriteIn: z.boolean() })),
    }),
  ),
});
const Receipt = z.object({
  trackingCode: z.string(),
  commitment: z.string(),
  receiptJws: z.string(),
  checkUrl: z.string(),
  qr: z.object({ pngUrl: z.string(), svgUrl: z.string() }),
});
const Results = z.object({
  turnout: z.object({ ballotsCounted: z.number(), registeredVoters: z.number() }),
  contests: z.array(z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), votes: z.number() })) })),
});

async function results(): Promise<z.infer<typeof Results>> {
  return Results.parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/results`));
}

it("a voter logs in, casts, checks the receipt and sees the results change", async () => {
  const before = await results();
  expect(before.turnout.registeredVoters).toBe(1000);

  const auth = await voterAuth(system, DEMO_ELECTION_ID, "DEMO-0007");
  const ballot = Ballot.parse(
    await (await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballot`, { headers: auth })).json(),
  );

  // Mark the first named option of every contest.
  const marks = ballot.contests.map((c) => ({
    contestId: c.id,
    optionIds: [c.options.find((o) => !o.isWriteIn)?.id ?? ""],
  }));
  const castRes = await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballots`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests: marks }),
  });
  expect(castRes.status).toBe(201);
  const receipt = Receipt.parse(await castRes.json());

  // The receipt verifies against the published key.
  const jwks = z
    .object({ keys: z.array(z.looseObject({ kty: z.string() })) })
    .parse(await (await fetch(`${system.baseUrl}/v1/receipt-keys`)).json());
  const { payload } = await jwtVerify(receipt.receiptJws, createLocalJWKSet(jwks), { algorithms: ["EdDSA"] });
  expect(payload["trackingCode"]).toBe(receipt.trackingCode);

  // The QR code, decoded from the PNG image, is the check URL.
  const png = PNG.sync.read(Buffer.from(await (await fetch(receipt.qr.pngUrl)).arrayBuffer()));
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  expect(decoded?.data).toBe(receipt.checkUrl);

  // The receipt API says recorded once the tally consumer has the ballot.
  const recorded = await eventually(async () => {
    const res = await fetch(`${system.baseUrl}/v1/receipts/${receipt.trackingCode}`);
    return res.status === 200
      ? z.object({ status: z.string(), commitment: z.string() }).parse(await res.json())
      : undefined;
  });
  expect(recorded).toEqual(expect.objectContaining({ status: "recorded", commitment: receipt.commitment }));

  // The results change by exactly this ballot.
  const after = await eventually(async () => {
    const now = await results();
    return now.turnout.ballotsCounted === before.turnout.ballotsCounted + 1 ? now : undefined;
  });
  for (const mark of marks) {
    const votes = (r: z.infer<typeof Results>): number =>
      r.contests.find((c) => c.id === mark.contestId)?.options.find((o) => o.id === mark.optionIds[0])?.votes ?? -1;
    expect(votes(after)).toBe(votes(before) + 1);
  }

  // A second ballot from the same voter is refused under first-wins.
  const again = await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballots`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests: marks }),
  });
  expect(again.status).toBe(409);
});
