/**
 * Requests as the gateway hands them to the voter ledger (durable-objects/voter-ledger.ts), for
 * tests that call the ledger directly: a north voter of an election whose polls are open for the
 * next hour, casting a ballot for the president or checked in at a station.
 */
import type { CastOnlineRequest, CheckInRequest } from "../../../durable-objects/voter-ledger.ts";
import { newNonce } from "../../../lib/ballot/commitment.ts";

/** What every ledger request says of the voter and the polls. */
function northVoter(electionId: string, voterKey: string, policy: CastOnlineRequest["policy"]) {
  return {
    electionId,
    voterKey,
    ballotStyleId: "bs-north",
    districtId: "district-north",
    policy,
    opensAtMs: 0,
    closesAtMs: Date.now() + 3_600_000,
  };
}

/** A check-in at `stationId` with an ID card, under a fresh check-in id. */
export function ledgerCheckInRequest(
  electionId: string,
  voterKey: string,
  policy: CheckInRequest["policy"],
  stationId = "station-1",
): CheckInRequest {
  return {
    ...northVoter(electionId, voterKey, policy),
    stationId,
    checkInId: `checkin-${crypto.randomUUID()}`,
    identity: "id-card",
  };
}

/** A north ballot for the president, with ids made from `id`. */
export function ledgerCastRequest(
  electionId: string,
  voterKey: string,
  policy: CastOnlineRequest["policy"],
  id: string = crypto.randomUUID(),
): CastOnlineRequest {
  return {
    ...northVoter(electionId, voterKey, policy),
    forgetLinksAtMs: Date.now() + 7_200_000,
    idempotencyKey: `cast-${id}`,
    nonce: newNonce(),
    contests: [{ contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] }],
    commitment: `c-${id}`,
    trackingCode: `T-${id}`,
  };
}
