/**
 * National ids are never stored in clear: the roll, the voter ledger and check-ins know a voter
 * only by `voterKey`, the HMAC-SHA-256 of the normalised national id under a secret key. The same
 * person therefore has the same key in every election run with the same key, and nobody without
 * the key can test a guessed id against the data.
 */
import * as z from "zod";
import { base64urlEncode } from "../bytes.ts";

/** base64url without padding; see lib/base64url.ts. */
export const base64url = base64urlEncode;

/** Letters, digits and dashes, 4 to 32 of them once spaces are trimmed; letters compared in capitals. */
export const NationalId = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9][A-Z0-9-]{2,30}[A-Z0-9]$/, "a national id is 4-32 letters, digits and inner dashes");

const encoder = new TextEncoder();

export async function importVoterKeySecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** base64url (no padding) of HMAC-SHA-256(secret, normalised national id): 43 characters. */
export async function voterKeyOf(secret: CryptoKey, normalisedNationalId: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", secret, encoder.encode(normalisedNationalId));
  return base64url(new Uint8Array(mac));
}
