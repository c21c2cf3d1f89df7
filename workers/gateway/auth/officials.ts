/**
 * Officials authenticate with their own key pair (OAuth private_key_jwt style): the CLI signs a
 * short assertion with the official's private key, the gateway checks it against the registered
 * public key and answers with a 10-minute access token that carries the role.
 *
 * Assertion rules: EdDSA or ES256; `kid` names a registered, unrevoked key of an unrevoked
 * official; iss = sub = the official's id; aud = this deployment's origin (the request's scheme
 * and host, lib/identity/assertion.ts); exp at most 5 minutes after
 * iat; jti used once (ReplayGuard). Revoking a key or an official stops new access tokens, and
 * (checked on every privileged call, auth/middleware.ts) the ones already issued, at once.
 *
 * The first administrator is configuration: BOOTSTRAP_ADMIN_JWK, official id "bootstrap-admin".
 * It can be revoked once another administrator exists, and every use of it is a security event.
 * A key without `alg` is verified with the algorithm its key type implies (OKP/Ed25519: EdDSA,
 * EC/P-256: ES256).
 */
import { decodeProtectedHeader, errors, importJWK, jwtVerify, type JWK } from "jose";
import { z } from "zod";
import { BOOTSTRAP_ADMIN_ID, credentialActive, findOfficialKey } from "../../../db/stores/officials.ts";
import { recordSecurityEvent } from "../../monitor/security-events.ts";
import { err, ok, type Result } from "../../../lib/result.ts";
import type { Config } from "../../../durable-objects/config.ts";
import { claimOnce } from "./replay.ts";
import type { OfficialRole } from "../../../lib/vocabulary.ts";

import { assertionAudience } from "../../../lib/identity/assertion.ts";
const MAX_ASSERTION_SECONDS = 5 * 60;
const ASSERTION_ALGORITHMS = ["EdDSA", "ES256"];

export type AssertionError = "invalid_token" | "token_expired" | "token_replayed";

interface RegisteredKey {
  readonly kid: string;
  readonly officialId: string;
  readonly role: OfficialRole;
  readonly jwk: JWK;
}

const AssertionClaims = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1),
  jti: z.string().min(8).max(128),
  iat: z.number(),
  exp: z.number(),
});

async function findKey(env: Env, config: Config, kid: string): Promise<RegisteredKey | undefined> {
  if (kid === config.BOOTSTRAP_ADMIN_JWK.kid) {
    if (!(await credentialActive(env.DB, BOOTSTRAP_ADMIN_ID, kid, kid))) return undefined;
    return { kid, officialId: BOOTSTRAP_ADMIN_ID, role: "administrator", jwk: config.BOOTSTRAP_ADMIN_JWK };
  }
  const key = await findOfficialKey(env.DB, kid);
  return key && { kid, ...key };
}

/** The JWS algorithm of an official's key: its own `alg`, or the one its key type implies. */
function algorithmOf(jwk: JWK): string | undefined {
  if (typeof jwk.alg === "string") return jwk.alg;
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  return undefined;
}

export async function verifyOfficialAssertion(
  env: Env,
  config: Config,
  assertion: string,
  /** The URL the assertion was presented at: its origin is the audience required. */
  requestUrl: string,
): Promise<Result<{ officialId: string; kid: string; role: OfficialRole }, AssertionError>> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(assertion).kid;
  } catch {
    return err("invalid_token");
  }
  if (!kid) return err("invalid_token");
  const key = await findKey(env, config, kid);
  if (!key) return err("invalid_token");
  let payload: unknown;
  try {
    const publicKey = await importJWK(key.jwk, algorithmOf(key.jwk));
    ({ payload } = await jwtVerify(assertion, publicKey, {
      algorithms: ASSERTION_ALGORITHMS,
      audience: assertionAudience(requestUrl),
      issuer: key.officialId,
      subject: key.officialId,
      maxTokenAge: MAX_ASSERTION_SECONDS,
      clockTolerance: 30,
      requiredClaims: ["exp", "iat", "jti"],
    }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) return err("token_expired");
    if (e instanceof errors.JOSEError || e instanceof TypeError) return err("invalid_token");
    throw e;
  }
  const claims = AssertionClaims.safeParse(payload);
  if (!claims.success || claims.data.exp - claims.data.iat > MAX_ASSERTION_SECONDS) return err("invalid_token");
  const first = await claimOnce(
    env,
    "official-assertion",
    `${key.officialId}:${claims.data.jti}`,
    claims.data.exp * 1000 + 60_000,
  );
  if (!first) return err("token_replayed");
  if (key.officialId === BOOTSTRAP_ADMIN_ID) {
    // The configured key sits in the deployment's secrets, outside the officials' registry: its
    // every use is for the monitor to see (and, once other administrators exist, to question).
    await recordSecurityEvent(env, null, "bootstrap-admin-used", { detail: { kid } });
  }
  return ok({ officialId: key.officialId, kid: key.kid, role: key.role });
}
