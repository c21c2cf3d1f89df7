/**
 * Voters' receipts: a JWS (EdDSA) over the tracking code, the commitment and the coarse time,
 * signed with the receipt key (RECEIPT_SIGNING_JWK). Ed25519 signatures are deterministic, so a
 * repeated cast answers with a byte-identical receipt. The public key is published as a JWKS
 * (GET /v1/receipt-keys) so anyone can check a receipt offline.
 *
 * After a rotation the earlier public keys stay published (security review L11): the var
 * RECEIPT_RETIRED_KEYS lists them (a JSON array of public Ed25519 JWKs, each with its kid), and
 * the JWKS is the current key followed by those, so a receipt signed before the rotation still
 * verifies. A retired key never signs again; a list entry that carries a private part, repeats
 * the current kid or is not an Ed25519 public key is a configuration error.
 *
 * The same key signs a station's offline pollbook pages (signPollbookPage, lib/station/pollbook.ts),
 * so a station checks them against the same published keys.
 */
import { CompactSign, importJWK, SignJWT, type JWK } from "jose";
import { z } from "zod";
import { configOf } from "../../durable-objects/config.ts";
import { POLLBOOK_JWS_TYPE, type PollbookPage } from "../../lib/station/pollbook.ts";

const RetiredKeys = z.array(
  z
    .object({
      kty: z.literal("OKP"),
      crv: z.literal("Ed25519"),
      x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
      kid: z.string().min(1).max(128),
    })
    .strict(),
);

const retiredCache = new Map<string, { kty: string; [k: string]: string }[]>();
function retiredKeys(env: Env, currentKid: string): { kty: string; [k: string]: string }[] {
  const text = env.RECEIPT_RETIRED_KEYS;
  let keys = retiredCache.get(text);
  if (!keys) {
    const parsed = RetiredKeys.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new Error(`Worker misconfigured: RECEIPT_RETIRED_KEYS: ${z.prettifyError(parsed.error)}`);
    if (parsed.data.some((k) => k.kid === currentKid)) {
      throw new Error("Worker misconfigured: RECEIPT_RETIRED_KEYS lists the current receipt key's kid");
    }
    keys = parsed.data.map((k) => ({ ...k, alg: "EdDSA", use: "sig" }));
    retiredCache.set(text, keys);
  }
  return keys;
}

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
  return { keys: [{ kty: "OKP", ...Object.fromEntries(entries) }, ...retiredKeys(env, String(publicJwk.kid))] };
}

/**
 * A pollbook page (lib/station/pollbook.ts PollbookPage) as a compact JWS: protected header EdDSA,
 * the receipt key's kid and typ POLLBOOK_JWS_TYPE, the page's JSON as the payload.
 */
export async function signPollbookPage(env: Env, page: PollbookPage): Promise<string> {
  const { key, kid } = await receiptKey(env);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(page)))
    .setProtectedHeader({ alg: "EdDSA", kid, typ: POLLBOOK_JWS_TYPE })
    .sign(key);
}
