/**
 * The audit log's signing key: LOG_SIGNING_JWK, a Worker secret holding a private Ed25519 JWK
 * (with kid), made like RECEIPT_SIGNING_JWK (scripts/system.ts for development, test/global-setup.ts
 * for tests). One deployment key signs every election's log, each under its own origin as key
 * name, so each election has its own verifier key (the key ID hashes the name).
 *
 * The private key is imported once per isolate as a non-extractable CryptoKey; the public key
 * comes from the JWK's `x`. A missing or malformed secret is an operator error and throws.
 */
import { z } from "zod";
import { base64urlDecode } from "../../lib/base64url.ts";
import { logOrigin } from "../../lib/audit/layout.ts";
import { verifierKey, type NoteSigner } from "../../lib/tlog/note.ts";

const PrivateJwk = z.looseObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  d: z.string().min(43).max(43),
  x: z.string().min(43).max(43),
  kid: z.string().min(1),
});

interface LogKey {
  readonly raw: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

let cached: LogKey | undefined;

function parseJwk(raw: string): z.infer<typeof PrivateJwk> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error("LOG_SIGNING_JWK is not JSON");
  }
  const parsed = PrivateJwk.safeParse(json);
  if (!parsed.success)
    throw new Error(`LOG_SIGNING_JWK is not a private Ed25519 JWK: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

async function logKey(env: Env): Promise<LogKey> {
  if (cached?.raw === env.LOG_SIGNING_JWK) return cached;
  const jwk = parseJwk(env.LOG_SIGNING_JWK);
  const publicKey = base64urlDecode(jwk.x);
  if (!publicKey || publicKey.length !== 32) throw new Error("LOG_SIGNING_JWK has no 32-byte public key x");
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x },
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  cached = { raw: env.LOG_SIGNING_JWK, privateKey, publicKey };
  return cached;
}

/** The checkpoint origin (and key name) of an election's log. */
export function originOf(env: Env, electionId: string): string {
  return logOrigin(env.LOG_ORIGIN, electionId);
}

export async function logSigner(env: Env, electionId: string): Promise<NoteSigner> {
  const key = await logKey(env);
  return { name: originOf(env, electionId), privateKey: key.privateKey, publicKey: key.publicKey };
}

/** The election log's verifier key, in the signed-note format auditors configure. */
export async function logVerifierKey(env: Env, electionId: string): Promise<string> {
  const key = await logKey(env);
  return verifierKey(originOf(env, electionId), key.publicKey);
}
