/**
 * A cast request as the gateway hands it to the voter ledger (durable-objects/voter-ledger.ts), for
 * tests that call the ledger directly: a north ballot for the president, with ids made from `id`.
 */
import type { CastOnlineRequest } from "../../../durable-objects/voter-ledger.ts";
import { newNonce } from "../../../lib/ballot/commitment.ts";

export function ledgerCastRequest(
  electionId: string,
  voterKey: string,
  policy: CastOnlineRequest["policy"],
  id: string = crypto.randomUUID(),
): CastOnlineRequest {
  return {
    electionId,
    voterKey,
    ballotStyleId: "bs-north",
    districtId: "district-north",
    policy,
    opensAtMs: 0,
    closesAtMs: Date.now() + 3_600_000,
    forgetLinksAtMs: Date.now() + 7_200_000,
    idempotencyKey: `cast-${id}`,
    nonce: newNonce(),
    contests: [{ contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] }],
    commitment: `c-${id}`,
    trackingCode: `T-${id}`,
  };
}
