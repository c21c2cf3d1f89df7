/**
 * The client side of official authentication, shared by the admin CLI, the station client and the
 * tests: a short JWT signed with the official's private key, exchanged at POST /v1/auth/token for
 * an access token.
 *
 * Its audience is the deployment's origin (scheme and host, "https://vote.example.gov"), so an
 * assertion made for one deployment (staging) is refused by another (production) where the same
 * key is registered (security review L2).
 */
import { importJWK, SignJWT, type JWK } from "jose";

/** The audience an assertion for the gateway at `baseUrl` carries: its origin. */
export function assertionAudience(baseUrl: string): string {
  return new URL(baseUrl).origin;
}

/** An assertion for the gateway at `baseUrl` (any URL of it; only the origin counts). */
export async function signOfficialAssertion(privateJwk: JWK, officialId: string, baseUrl: string): Promise<string> {
  if (!privateJwk.kid) throw new Error("the official's key has no kid");
  const alg = typeof privateJwk.alg === "string" ? privateJwk.alg : privateJwk.kty === "OKP" ? "EdDSA" : "ES256";
  const key = await importJWK(privateJwk, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: privateJwk.kid, typ: "JWT" })
    .setIssuer(officialId)
    .setSubject(officialId)
    .setAudience(assertionAudience(baseUrl))
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .setJti(crypto.randomUUID())
    .sign(key);
}
