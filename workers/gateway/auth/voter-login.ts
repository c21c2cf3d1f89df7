/**
 * Voter login, shared by the API flow (POST /v1/auth/voter-session) and the browser flow
 * (GET /v1/auth/login then POST /v1/auth/callback). In order:
 *   1. the election exists;
 *   2. geofence on request.cf.country: refuse, or flag (a security event) and go on;
 *   3. the ID token verifies (see eid.ts) and, in the browser flow, carries our nonce;
 *   4. the ID token has not been used before (ReplayGuard, until it expires);
 *   5. per-voter rate limit, keyed by the voter key, only after the token verified, so nobody
 *      can lock another person out by guessing;
 *   6. the voter is on the election's roll; their district has a ballot style;
 *   7. a session token bound to the election, the voter key and the ballot style.
 * A refusal for a known election is also a security event for the monitor (loginVoter).
 */
import type { Context } from "hono";
import { voterDistrict } from "../../../db/stores/roll.ts";
import { recordSecurityEvent } from "../../monitor/security-events.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import { NationalId, voterKeyOf } from "../../../lib/identity/national-id.ts";
import { rollHashSecret } from "../roll/voter-key.ts";
import { err, ok, type Result } from "../../../lib/result.ts";
import { configOf } from "../../../durable-objects/config.ts";
import { clientAddress, countryOf, geofence, recordRateLimited } from "../edge.ts";
import { monitorVoterTag } from "../../monitor/signal.ts";
import { getElection } from "../../../db/stores/elections.ts";
import type { AppEnv } from "../http.ts";
import { verifyIdToken } from "./eid.ts";
import { claimOnce } from "./replay.ts";
import { issueVoterSession, type VoterSession } from "./tokens.ts";

export interface VoterLogin {
  readonly token: string;
  readonly session: VoterSession;
  readonly geofence: "inside" | "flagged";
}

/** What a login learned of the voter before it was refused, for the refusal's security event. */
interface Known {
  voterKey?: string;
  districtId?: string;
}

/**
 * Logs a voter in, or refuses; a refusal for a known election is a security event for the monitor
 * (`geofence-refused`, `rate-limited`, or `voter-login-failed` with the code as reason), carrying
 * the client address and, once the token named a voter, the monitor's tag of them. The refusal
 * itself is the same with or without the event.
 */
export async function loginVoter(
  c: Context<AppEnv>,
  electionId: string,
  idToken: string,
  expectedNonce?: string,
): Promise<Result<VoterLogin, ErrorCode>> {
  const known: Known = {};
  const outcome = await decideLogin(c, electionId, idToken, expectedNonce, known);
  if (!outcome.ok && outcome.error !== "election_not_found") {
    const country = countryOf(c);
    const facts = {
      districtId: known.districtId,
      country,
      address: clientAddress(c),
      voterTag: known.voterKey !== undefined ? await monitorVoterTag(c.env, electionId, known.voterKey) : undefined,
      reason: outcome.error,
    };
    if (outcome.error === "rate_limited")
      await recordRateLimited(c, "voter-login", { electionId, voterTag: facts.voterTag, districtId: facts.districtId });
    else
      await recordSecurityEvent(
        c.env,
        electionId,
        outcome.error === "geofence_refused" ? "geofence-refused" : "voter-login-failed",
        facts,
      );
  }
  return outcome;
}

async function decideLogin(
  c: Context<AppEnv>,
  electionId: string,
  idToken: string,
  expectedNonce: string | undefined,
  known: Known,
): Promise<Result<VoterLogin, ErrorCode>> {
  const config = configOf(c.env);
  const election = await getElection(c.env.DB, electionId);
  if (!election) return err("election_not_found");

  const country = countryOf(c);
  const fence = geofence(election, country);
  if (fence.kind === "refused") return err("geofence_refused");

  const verified = await verifyIdToken(config, idToken, expectedNonce);
  if (!verified.ok) return err(verified.error);
  const { nationalId, tokenId, expiresAtMs } = verified.value;

  const normalised = NationalId.safeParse(nationalId);
  if (!normalised.success) return err("not_on_roll");
  const voterKey = await voterKeyOf(await rollHashSecret(c.env), normalised.data);
  known.voterKey = voterKey;

  const { success } = await c.env.VOTER_LIMITER.limit({ key: `login:${electionId}:${voterKey}` });
  if (!success) return err("rate_limited");

  // Through a D1 session that lets the nearest read replica answer ("first-unconstrained"): the
  // roll is frozen once the polls open (routes/roll.ts refuses imports from then on), so any
  // replica holds the roll voters log in against during voting. Before the polls open a replica
  // may lag an import by moments; the voter is refused as not on the roll and can simply log in
  // again. Nothing this login writes is read back through the session.
  const districtId = await voterDistrict(c.env.DB.withSession("first-unconstrained"), electionId, voterKey);
  if (districtId === undefined) return err("not_on_roll");
  known.districtId = districtId;
  const ballotStyleId = election.ballotStyleByDistrict.get(districtId);
  if (!ballotStyleId) return err("no_ballot_style");

  // Claimed last, after every check that could refuse the login: a refused login leaves the ID
  // token usable, and of two concurrent uses exactly one gets past here (security review L10).
  if (!(await claimOnce(c.env, "id-token", `${config.EID_ISSUER}:${tokenId}`, expiresAtMs))) {
    return err("token_replayed");
  }

  if (fence.kind === "flagged") {
    // The monitor reads these; the voter is not told, the login goes on as the policy says.
    c.executionCtx.waitUntil(
      recordSecurityEvent(c.env, electionId, "geofence-flagged-login", {
        country,
        districtId,
        address: clientAddress(c),
      }),
    );
  }

  const { token, session } = await issueVoterSession(config, {
    voterKey,
    electionId,
    ballotStyleId,
    districtId,
  });
  return ok({ token, session, geofence: fence.kind });
}
