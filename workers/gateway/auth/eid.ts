/**
 * Verifying national-eID ID tokens (OpenID Connect). The issuer, its JWKS URL, our client id
 * (the audience), the accepted algorithms and the claim that carries the national id are all
 * configuration: the dev issuer and a real national eID differ only there.
 *
 * Checks: signature by a key from the issuer's JWKS, algorithm on the allow-list (so `none` and
 * HMAC are refused before any key is used), issuer, audience, expiry, not-before (30 s of clock
 * tolerance), age (EID_MAX_TOKEN_AGE_SECONDS from `iat`), the level of assurance (`acr` in
 * EID_ACCEPTED_ACR), the authorized party (`azp` must be our client id when present, and present
 * when the token has several audiences), and the nonce: a browser login's token must carry the
 * nonce its login state holds, and a token for the API flow must carry none, so a token issued to
 * a browser login (and seen by that browser) cannot be spent directly at the API instead.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { err, ok, type Result } from "../../../lib/result.ts";
import type { Config } from "../../../durable-objects/config.ts";
import { sha256Hex } from "../../../lib/digest.ts";

export type IdTokenError = "invalid_token" | "token_expired" | "insufficient_assurance" | "eid_unavailable";

export interface VerifiedIdToken {
  readonly nationalId: string;
  /** The token's own id (jti), or a hash of the token when the issuer sets none. */
  readonly tokenId: string;
  readonly expiresAtMs: number;
}

const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * jose caches the fetched keys inside each set (and refetches on an unknown kid, at most every
 * 30 s), so one set per JWKS URL per isolate keeps the issuer out of the hot path.
 */
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function keySetOf(url: string): ReturnType<typeof createRemoteJWKSet> {
  let set = keySets.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
    keySets.set(url, set);
  }
  return set;
}

export async function verifyIdToken(
  config: Config,
  idToken: string,
  expectedNonce?: string,
): Promise<Result<VerifiedIdToken, IdTokenError>> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keySetOf(config.EID_JWKS_URL), {
      issuer: config.EID_ISSUER,
      audience: config.EID_CLIENT_ID,
      algorithms: config.EID_ALGORITHMS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      maxTokenAge: config.EID_MAX_TOKEN_AGE_SECONDS,
      requiredClaims: ["exp", "iat", config.EID_NATIONAL_ID_CLAIM],
    }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) return err("token_expired");
    if (e instanceof errors.JWKSTimeout) return err("eid_unavailable");
    if (e instanceof errors.JOSEError) return err("invalid_token");
    // fetch() itself failed: the issuer's JWKS could not be reached.
    if (e instanceof TypeError) return err("eid_unavailable");
    throw e;
  }
  if (payload["nonce"] !== expectedNonce) return err("invalid_token");
  const acr = payload["acr"];
  if (typeof acr !== "string" || !config.EID_ACCEPTED_ACR.includes(acr)) return err("insufficient_assurance");
  const azp = payload["azp"];
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if ((azp !== undefined || audiences.length > 1) && azp !== config.EID_CLIENT_ID) return err("invalid_token");
  const nationalId = payload[config.EID_NATIONAL_ID_CLAIM];
  if (typeof nationalId !== "string" || nationalId === "" || typeof payload.exp !== "number") {
    return err("invalid_token");
  }
  const tokenId = typeof payload.jti === "string" && payload.jti !== "" ? payload.jti : sha256Hex(idToken);
  return ok({ nationalId, tokenId, expiresAtMs: payload.exp * 1000 + CLOCK_TOLERANCE_SECONDS * 1000 });
}
