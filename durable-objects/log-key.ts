/**
 * The audit log's signing key: LOG_SIGNING_JWK, a Worker secret holding a private Ed25519 JWK
 * (with kid), made like RECEIPT_SIGNING_JWK (scripts/system.ts for development, test/global-setup.ts
 * for tests). One deployment key signs every election's log, each under its own origin as key
 * name, so each election has its own verifier key (the key ID hashes the name).
 *
 * The secret is parsed with the rest of the configuration (durable-objects/config.ts); the private
 * key is imported once per isolate as a non-extractable CryptoKey, and the public key comes from
 * the JWK's `x`.
 */
import { base64urlDecode } from "../lib/bytes.ts";
import { logOrigin } from "../lib/audit/layout.ts";
import { verifierKey, type NoteSigner } from "../lib/tlog/note.ts";
import { configOf } from "./config.ts";

interface LogKey {
  readonly d: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

let cached: LogKey | undefined;

async function logKey(env: Env): Promise<LogKey> {
  const jwk = configOf(env).LOG_SIGNING_JWK;
  if (cached?.d === jwk.d) return cached;
  const publicKey = base64urlDecode(jwk.x);
  if (!publicKey || publicKey.length !== 32) throw new Error("LOG_SIGNING_JWK has no 32-byte public key x");
  const privateKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", d: jwk.d, x: jwk.x },
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  cached = { d: jwk.d, privateKey, publicKey };
  return cached;
}

/** The checkpoint origin (and key name) of an election's log. */
export function originOf(env: Env, electionId: string): string {
  return logOrigin(configOf(env).LOG_ORIGIN, electionId);
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
