/**
 * The floor baseline's token (bench/baseline-worker.ts, POST /__baseline/floor): the least a cast
 * must check before it writes, a keyed MAC over what the client presents, as the cast checks its
 * voter session (an HS256 JWT, workers/gateway/auth/tokens.ts). Shared by the Worker, which
 * verifies it, and the bench, which mints the one token its load generator sends.
 *
 * A token is `payload.mac`: payload is base64url text, mac is base64url(HMAC-SHA-256(key, payload)).
 * The key is 32 random bytes per runtime instance, base64url (the bench passes it to the baseline
 * Worker as FLOOR_TOKEN_KEY). Runs in both workerd and Node: Web Crypto and lib/bytes.ts only.
 */
import { base64urlDecode, base64urlEncode, utf8 } from "../lib/bytes.ts";

export function importFloorKey(keyText: string): Promise<CryptoKey> {
  const raw = base64urlDecode(keyText);
  if (!raw || raw.length < 32) throw new Error("FLOOR_TOKEN_KEY must be at least 32 bytes, base64url");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** A fresh key, base64url: one per runtime instance. */
export function newFloorKey(): string {
  return base64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
}

export async function signFloorToken(key: CryptoKey, payload: string): Promise<string> {
  const encoded = base64urlEncode(utf8(payload));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(encoded)));
  return `${encoded}.${base64urlEncode(mac)}`;
}

/** True only for a token this key signed, byte for byte (Web Crypto's verify compares in constant time). */
export async function verifyFloorToken(key: CryptoKey, token: string): Promise<boolean> {
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return false;
  const mac = base64urlDecode(token.slice(dot + 1));
  if (!mac || base64urlDecode(token.slice(0, dot)) === undefined) return false;
  return crypto.subtle.verify("HMAC", key, mac, utf8(token.slice(0, dot)));
}
