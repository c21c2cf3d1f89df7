/**
 * Credentials for tests that run inside workerd: officials' access tokens through the real
 * /v1/auth/token exchange, and ID tokens signed with the dev issuer's key (which the global setup
 * started on a real port, so the Worker fetches its JWKS over HTTP).
 */
import { env, SELF } from "cloudflare:test";
import { generateKeyPair, exportJWK, importJWK, SignJWT, type JWK } from "jose";
import { signOfficialAssertion } from "../../../lib/identity/assertion.ts";
import type { OfficialRole } from "../../../lib/vocabulary.ts";

export const BASE = "https://vote.example";

export async function tokenFor(privateJwk: JWK, officialId: string): Promise<string> {
  const assertion = await signOfficialAssertion(privateJwk, officialId, BASE);
  const res = await SELF.fetch(`${BASE}/v1/auth/token`, {
    method: "POST",
    // Each exchange from its own address: a test file's many officials would otherwise share one
    // address's login budget (LOGIN_IP_LIMITER), which the rate-limit tests exercise on purpose.
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.8.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    },
    body: JSON.stringify({ assertion }),
  });
  if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`);
  const body: { accessToken: string } = await res.json();
  return body.accessToken;
}

/** An access token for the bootstrap administrator. */
export async function adminToken(): Promise<string> {
  return tokenFor(JSON.parse(env.TEST_ADMIN_PRIVATE_JWK) as JWK, "bootstrap-admin");
}

export async function newOfficialKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" },
  };
}

/** Registers a new official with `role` (as the bootstrap administrator) and returns its token. */
export async function officialToken(
  role: OfficialRole,
  id = `${role}-${crypto.randomUUID().slice(0, 8)}`,
): Promise<string> {
  const { privateJwk, publicJwk } = await newOfficialKey(`${id}-k1`);
  const res = await SELF.fetch(`${BASE}/v1/admin/officials`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ id, role, displayName: `Test ${role}`, publicJwk }),
  });
  if (res.status !== 201) throw new Error(`official registration failed: ${res.status} ${await res.text()}`);
  return tokenFor(privateJwk, id);
}

export interface IdTokenOptions {
  readonly issuer?: string;
  readonly audience?: string | string[];
  readonly expiresIn?: number;
  readonly notBefore?: number;
  readonly nonce?: string;
  readonly jti?: string;
  readonly key?: JWK;
  /** The level of assurance; null leaves the claim out. Default: the dev issuer's "eidas-high". */
  readonly acr?: string | null;
  readonly azp?: string;
  /** Seconds since the token was issued. */
  readonly age?: number;
}

/** An ID token as the dev eID issuer would sign it, with any field overridable for bad cases. */
export async function signIdToken(nationalId: string, options: IdTokenOptions = {}): Promise<string> {
  const jwk = options.key ?? (JSON.parse(env.TEST_EID_PRIVATE_JWK) as JWK);
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    ...(options.nonce ? { nonce: options.nonce } : {}),
    ...(options.acr === null ? {} : { acr: options.acr ?? "eidas-high" }),
    ...(options.azp ? { azp: options.azp } : {}),
  };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: String(jwk.kid), typ: "JWT" })
    .setIssuer(options.issuer ?? env.EID_ISSUER)
    .setAudience(options.audience ?? env.EID_CLIENT_ID)
    .setSubject(nationalId)
    .setIssuedAt(now - (options.age ?? 0))
    .setNotBefore(now + (options.notBefore ?? -5))
    .setExpirationTime(now + (options.expiresIn ?? 300))
    .setJti(options.jti ?? crypto.randomUUID());
  return jwt.sign(await importJWK(jwk, "ES256"));
}

/** Logs a voter in through POST /v1/auth/voter-session and returns the session token. */
export async function voterSession(
  electionId: string,
  nationalId: string,
  cf: { country: string } = { country: "EE" },
): Promise<string> {
  const res = await SELF.fetch(`${BASE}/v1/auth/voter-session`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    },
    body: JSON.stringify({ electionId, idToken: await signIdToken(nationalId) }),
    cf,
  });
  if (res.status !== 200) throw new Error(`voter login failed: ${res.status} ${await res.text()}`);
  const body: { sessionToken: string } = await res.json();
  return body.sessionToken;
}
