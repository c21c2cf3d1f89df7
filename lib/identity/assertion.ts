/**
 * The client side of official authentication, shared by the admin CLI, the station client, the
 * officials' console in the browser and the tests: a short JWT signed with the official's private
 * key, exchanged at POST /v1/auth/token for an access token.
 *
 * Its audience is the deployment's origin (scheme and host, "https://vote.example.gov"), so an
 * assertion made for one deployment (staging) is refused by another (production) where the same
 * key is registered (security review L2).
 *
 * One function (`officialAssertion`) makes the header and claims and signs them with whatever key
 * jose is given: the CLI imports the key file's JWK, the console's page passes the non-extractable
 * CryptoKey it keeps in IndexedDB. So both sign exactly the same assertion.
 */
import { importJWK, SignJWT, type JWK } from "jose";

/** How long an assertion is good for: only the exchange itself needs it. */
export const ASSERTION_SECONDS = 120;

/** The audience an assertion for the gateway at `baseUrl` carries: its origin. */
export function assertionAudience(baseUrl: string): string {
  return new URL(baseUrl).origin;
}

/** The JWS algorithm of an official's key: its own `alg`, or the one its key type implies. */
export function assertionAlgorithm(jwk: JWK): string {
  return typeof jwk.alg === "string" ? jwk.alg : jwk.kty === "OKP" ? "EdDSA" : "ES256";
}

/**
 * An assertion signed with `key` (a CryptoKey, or key material jose accepts) whose id is `kid`:
 * issuer and subject the official, audience the gateway's origin, two minutes, a fresh jti.
 */
export async function officialAssertion(
  key: CryptoKey | Uint8Array,
  signing: { readonly alg: string; readonly kid: string },
  officialId: string,
  baseUrl: string,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: "JWT" })
    .setIssuer(officialId)
    .setSubject(officialId)
    .setAudience(assertionAudience(baseUrl))
    .setIssuedAt(now)
    .setExpirationTime(now + ASSERTION_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(key);
}

/** An assertion for the gateway at `baseUrl` (any URL of it; only the origin counts). */
export async function signOfficialAssertion(privateJwk: JWK, officialId: string, baseUrl: string): Promise<string> {
  if (!privateJwk.kid) throw new Error("the official's key has no kid");
  const alg = assertionAlgorithm(privateJwk);
  const key = await importJWK(privateJwk, alg);
  return officialAssertion(key, { alg, kid: privateJwk.kid }, officialId, baseUrl);
}
