/**
 * Casting an online ballot, shared by the JSON API (POST /v1/elections/{id}/ballots) and the
 * portal's cast form (POST /elections/{id}/cast), so both take exactly one path: validate the
 * marks against the voter's ballot style, commit under a fresh random nonce, ask the voter's
 * ledger to decide, check a repeat against the stored commitment, sign the receipt. The callers
 * only turn the outcome into their own kind of answer (JSON or a page).
 *
 * A refusal by the ledger is a `cast-refused` security event, and an accepted ballot from a
 * flagged country a `flagged-country-ballot` (workers/monitor/security-events.ts): where the
 * request came from is the caller's to say (CastingClient), as the gateway reads it.
 *
 * It also reads the voter's own standing (what GET .../my-ballot answers and what the ballot page
 * needs before showing a ballot): never public, only ever for the voter's own session.
 */
import { canonicalBallot, commitBallot, newNonce, trackingCodeOf } from "../../lib/ballot/commitment.ts";
import type { ContestMarks } from "../../lib/ballot/messages.ts";
import { validateBallot } from "../../lib/ballot/validate.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import type { Problem } from "../../lib/errors.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { ledgerFor } from "../../durable-objects/addresses.ts";
import {
  forgetLinksAtMs,
  ledgerDecision,
  type CastRefusal,
  type LedgerBallotStatus,
} from "../../durable-objects/voter-ledger.ts";
import { monitoringOf } from "../../lib/election/settings.ts";
import { recordSecurityEvent } from "../monitor/security-events.ts";
import { monitorVoterTag } from "../monitor/signal.ts";
import { signReceipt } from "./receipts.ts";

/** Who casts, as their verified session knows them. */
export interface CastingVoter {
  readonly voterKey: string;
  readonly ballotStyleId: string;
  readonly districtId: string;
}

/** Where the cast came from, for the monitor only (never stored with the ballot). */
export interface CastingClient {
  readonly address: string;
  /** `request.cf.country` ("XX" when unknown). */
  readonly country: string;
  /** The election's geofence said `flag` for this country (a refusal never reaches here). */
  readonly geofenceFlagged: boolean;
}

export interface CastReceipt {
  readonly electionId: string;
  readonly trackingCode: string;
  readonly commitment: string;
  readonly acceptedAt: string;
  readonly receiptJws: string;
  /** True when this answers a repeat of an accepted request (same idempotency key). */
  readonly replayed: boolean;
}

export type CastFailure =
  | { readonly code: "invalid_ballot"; readonly problems: readonly Problem[] }
  | { readonly code: CastRefusal | "ballot_superseded" };

export async function castBallot(
  env: Env,
  election: CompiledElection,
  voter: CastingVoter,
  client: CastingClient,
  idempotencyKey: string,
  contests: readonly ContestMarks[],
): Promise<Result<CastReceipt, CastFailure>> {
  const outcome = await decideCast(env, election, voter, idempotencyKey, contests);
  if (!outcome.ok && outcome.error.code !== "invalid_ballot") {
    await recordSecurityEvent(env, election.id, "cast-refused", {
      districtId: voter.districtId,
      country: client.country,
      address: client.address,
      voterTag: await monitorVoterTag(env, election.id, voter.voterKey),
      reason: outcome.error.code,
    });
  } else if (
    outcome.ok &&
    !outcome.value.replayed &&
    (client.geofenceFlagged || monitoringOf(election.settings).flaggedCountries.includes(client.country))
  ) {
    await recordSecurityEvent(env, election.id, "flagged-country-ballot", {
      districtId: voter.districtId,
      country: client.country,
      address: client.address,
      reason: client.geofenceFlagged ? "geofence" : "flagged-country",
    });
  }
  return outcome;
}

async function decideCast(
  env: Env,
  election: CompiledElection,
  voter: CastingVoter,
  idempotencyKey: string,
  contests: readonly ContestMarks[],
): Promise<Result<CastReceipt, CastFailure>> {
  const marks = validateBallot(election, voter.ballotStyleId, contests);
  if (!marks.ok) return err({ code: "invalid_ballot", problems: marks.error });

  // A fresh random nonce per cast: the commitment stays hiding whatever server secret leaks.
  const canonical = canonicalBallot(election.id, voter.ballotStyleId, marks.value);
  const nonce = newNonce();
  const commitment = await commitBallot(canonical, nonce);
  const trackingCode = await trackingCodeOf(commitment);
  const outcome = await ledgerFor(env, election.id, voter.voterKey).castOnline({
    ...ledgerDecision(election, voter),
    forgetLinksAtMs: forgetLinksAtMs(election),
    idempotencyKey,
    contests: marks.value,
    nonce,
    commitment,
    trackingCode,
  });
  if (!outcome.ok) return err({ code: outcome.error });
  const accepted = outcome.value;
  if (accepted.replayed) {
    // A repeat: the same marks under the stored nonce must give the stored commitment; anything
    // else reused the key for another ballot.
    if (accepted.nonce === null || (await commitBallot(canonical, accepted.nonce)) !== accepted.commitment) {
      return err({ code: "idempotency_conflict" });
    }
    // The voter's own truth, in their own session: that ballot no longer counts.
    if (accepted.status === "superseded") return err({ code: "ballot_superseded" });
    if (accepted.status === "cancelled") return err({ code: "already_voted_on_paper" });
  }
  const receiptJws = await signReceipt(env, {
    electionId: election.id,
    trackingCode: accepted.trackingCode,
    commitment: accepted.commitment,
    acceptedAt: accepted.acceptedAt,
    channel: "online",
  });
  return ok({
    electionId: election.id,
    trackingCode: accepted.trackingCode,
    commitment: accepted.commitment,
    acceptedAt: accepted.acceptedAt,
    receiptJws,
    replayed: accepted.replayed,
  });
}

export interface VoterStanding {
  readonly state: "none" | "online" | "paper";
  /** The tracking code of the online ballot that counts, if one does. */
  readonly countedTrackingCode: string | null;
  readonly checkedInOnPaper: boolean;
  readonly ballots: readonly { trackingCode: string; acceptedAt: string; status: LedgerBallotStatus }[];
  readonly linksKept: boolean;
}

/** What the voter's ledger holds about them: for their own session only. */
export async function voterStanding(
  env: Env,
  electionId: string,
  voter: { readonly voterKey: string },
): Promise<VoterStanding> {
  const mine = await ledgerFor(env, electionId, voter.voterKey).myBallot(electionId, voter.voterKey);
  const counted = mine.ballots.find((b) => b.status === "counted");
  return {
    state: mine.state,
    countedTrackingCode: counted?.trackingCode ?? null,
    checkedInOnPaper: mine.checkedInOnPaper,
    ballots: mine.ballots.map((b) => ({ trackingCode: b.trackingCode, acceptedAt: b.acceptedAt, status: b.status })),
    linksKept: mine.linksKept,
  };
}
