/** Officials' and devices' signing keys: Ed25519 key pairs as JWKs with a kid. */
import { exportJWK, generateKeyPair, type JWK } from "jose";

export async function generateSigningKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA", use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" },
  };
}
