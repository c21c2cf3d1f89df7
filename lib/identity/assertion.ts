/**
 * The client side of official authentication, shared by the admin CLI, the station client and the
 * tests: a short JWT signed with the official's private key, exchanged at POST /v1/auth/token for
 * an access token.
 */
import { importJWK, SignJWT, type JWK } from "jose";

export const ASSERTION_AUDIENCE = "mixed-election/officials";

export async function signOfficialAssertion(privateJwk: JWK, officialId: string): Promise<string> {
  if (!privateJwk.kid) throw new Error("the official's key has no kid");
  const alg = typeof privateJwk.alg === "string" ? privateJwk.alg : privateJwk.kty === "OKP" ? "EdDSA" : "ES256";
  const key = await importJWK(privateJwk, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: privateJwk.kid, typ: "JWT" })
    .setIssuer(officialId)
    .setSubject(officialId)
    .setAudience(ASSERTION_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .setJti(crypto.randomUUID())
    .sign(key);
}
