/**
 * One key per purpose, derived with HKDF-SHA-256 from a configured secret: a key made for one
 * purpose (record ids, request digests, token signing, ...) is never the key of another, so what
 * one of them lets an insider compute (or a leak of one derived key exposes) stops at that purpose.
 *
 * Keys are HMAC-SHA-256 CryptoKeys, imported once per isolate for each (secret, purpose, context);
 * a purpose that encrypts gets an AES-256-GCM key made from its HMAC key (purposeSealingKey).
 */
import { base64urlDecode, base64urlEncode, hexEncode, utf8 } from "./bytes.ts";

/** Every purpose a derived key serves; adding one never changes the keys of the others. */
export type KeyPurpose =
  | "record-id" // the id that cast vote records and tally entries use for a ballot
  | "request-digest" // the digest that recognises a repeated paper scan
  | "voter-session" // signs voter session tokens
  | "official-token" // signs officials' access tokens
  | "login-state" // signs the browser login's state cookie
  | "csrf" // the portal's form tokens: HMAC of the voter session's id
  | "ballot-draft" // encrypts the portal's draft-ballot cookie (choices kept in the voter's browser)
  | "cast-idempotency" // the portal's cast key: HMAC of the session id and the canonical choices
  | "dead-letter" // names a dead letter by its body without a digest anyone could match to a ballot
  | "roll-chunk-digest" // the keyed digest of a roll chunk in the public log (per election)
  | "pollbook" // a district's pollbook key (per election, then per district): the ids a station's laptop holds
  | "pollbook-ref" // seals the voter key into a pollbook entry's ref (per election, bound to the station)
  | "held-ballot" // seals a held ballot's accepted message in its PaperBallotBox until its conflict is decided
  | "offline-envelope" // the keyed digest of an offline check-in's envelope code (per election)
  | "monitor-voter" // the security monitor's tag of a voter whose attempts it counts (per election)
  | "console-csrf"; // the officials' console's form tokens: HMAC of the access token's id

const cache = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for `purpose` (and `context`, e.g. an election id) derived from `secret`. */
export function purposeKey(secret: string, purpose: KeyPurpose, context = ""): Promise<CryptoKey> {
  const id = `${purpose}\u0000${context}\u0000${secret}`;
  let key = cache.get(id);
  if (!key) {
    key = derive(secret, purpose, context);
    cache.set(id, key);
    // A failed import must not stay cached for the isolate's life.
    key.catch(() => cache.delete(id));
  }
  return key;
}

async function derive(secret: string, purpose: KeyPurpose, context: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8("mixed-election/keys/v1"), info: utf8(`${purpose}\u0000${context}`) },
    ikm,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** HMAC-SHA-256 of `message` under the purpose key, as lowercase hex. */
export async function keyedDigestHex(key: CryptoKey, message: string): Promise<string> {
  return hexEncode(new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(message))));
}

const sealingCache = new Map<string, Promise<CryptoKey>>();

/**
 * The AES-256-GCM key for `purpose` (and `context`): 32 bytes, the HMAC of "aes-256-gcm" under the
 * purpose key, so it is neither that key nor any other purpose's.
 */
export function purposeSealingKey(secret: string, purpose: KeyPurpose, context = ""): Promise<CryptoKey> {
  const id = `${purpose}\u0000${context}\u0000${secret}`;
  let key = sealingCache.get(id);
  if (!key) {
    key = (async () => {
      const raw = await crypto.subtle.sign("HMAC", await purposeKey(secret, purpose, context), utf8("aes-256-gcm"));
      return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    })();
    sealingCache.set(id, key);
    key.catch(() => sealingCache.delete(id));
  }
  return key;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** `plain` sealed under `key` with a fresh IV, bound to `aad`: base64url of IV, ciphertext and tag. */
export async function sealBytes(
  key: CryptoKey,
  aad: Uint8Array<ArrayBuffer>,
  plain: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, plain));
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return base64urlEncode(out);
}

/** What sealBytes sealed under `key` and `aad`, or undefined for anything else. */
export async function openBytes(
  key: CryptoKey,
  aad: Uint8Array<ArrayBuffer>,
  sealed: string,
): Promise<Uint8Array | undefined> {
  const decoded = base64urlDecode(sealed);
  // A copy on its own ArrayBuffer, as WebCrypto takes it.
  const bytes = decoded && new Uint8Array(decoded);
  if (!bytes || bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: aad },
        key,
        bytes.subarray(IV_BYTES),
      ),
    );
  } catch {
    return undefined;
  }
}
