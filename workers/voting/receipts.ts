/**
 * Voters' receipts: a JWS (EdDSA) over the tracking code, the commitment and the coarse time,
 * signed with the receipt key (RECEIPT_SIGNING_JWK). Ed25519 signatures are deterministic, so a
 * repeated cast answers with a byte-identical receipt. The public key is published as a JWKS
 * (GET /v1/receipt-keys) so anyone can check a receipt offline.
 */
import { importJWK, SignJWT, type JWK } from "jose";
import { configOf } from "../../durable-objects/config.ts";

export interface ReceiptClaims {
  readonly electionId: string;
  readonly trackingCode: string;
  readonly commitment: string;
  readonly acceptedAt: string;
  readonly channel: "online" | "paper";
}

let cached: { d: string; key: CryptoKey | Uint8Array; kid: string; publicJwk: JWK } | undefined;

async function receiptKey(env: Env): Promise<{ key: CryptoKey | Uint8Array; kid: string; publicJwk: JWK }> {
  const jwk = configOf(env).RECEIPT_SIGNING_JWK;
  if (cached?.d === jwk.d) return cached;
  const { d: _d, ...publicPart } = jwk;
  cached = {
    d: jwk.d,
    key: await importJWK(jwk, "EdDSA"),
    kid: jwk.kid,
    publicJwk: { ...publicPart, alg: "EdDSA", use: "sig" },
  };
  return cached;
}

export async function signReceipt(env: Env, claims: ReceiptClaims): Promise<string> {
  const { key, kid } = await receiptKey(env);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid, typ: "ballot-receipt+jwt" })
    .setIssuer("mixed-election")
    .setSubject(claims.trackingCode)
    .sign(key);
}

export async function receiptPublicKeys(env: Env): Promise<{ keys: { kty: string; [k: string]: string }[] }> {
  const { publicJwk } = await receiptKey(env);
  const entries = Object.entries(publicJwk).filter((e): e is [string, string] => typeof e[1] === "string");
  return { keys: [{ kty: "OKP", ...Object.fromEntries(entries) }] };
}
