/**
 * The keys that sign QR payloads: Ed25519 through WebCrypto, which workerd and Node 22 both have,
 * so no signing library is added. Ed25519 signatures are deterministic, which is what lets the
 * tests pin exact golden bytes.
 *
 * A payload names its signer by a key id: the first 8 bytes of SHA-256 of the raw 32-byte public
 * key. Eight bytes keep the payload short and still make an accidental collision between
 * registered keys negligible (2^-64 per pair); a forged id gains nothing, because the signature
 * must still verify under the key registered for that id.
 *
 * Who may sign what is the lookup's decision: verifyQrPayload passes it the key id and the payload
 * type, and the lookup answers only with a key registered for that role (an election authority
 * key for ballot sheets, a station's ballot-marking device key for marked ballots, a station's
 * client key for result sheets: db/stores/paper.ts qrKeyLookup).
 */
import { base64url } from "jose";
import * as z from "zod";
import { hexEncode } from "../bytes.ts";
import { err, ok, type Result } from "../result.ts";
import { qrError, type QrError } from "./errors.ts";

export const QR_KEY_ID_BYTES = 8;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

export interface QrSigner {
  /** First 8 bytes of SHA-256 of the raw public key. */
  readonly keyId: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A public key as a registry holds it: an imported Ed25519 CryptoKey, or the raw 32 bytes. */
export type QrPublicKey = CryptoKey | Uint8Array;

/** A base64url value of exactly `bytes` bytes (no padding). */
function b64u(bytes: number) {
  const chars = Math.ceil((bytes * 4) / 3);
  return z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${chars}}$`), `${bytes} bytes in base64url`);
}

const Ed25519PrivateJwk = z.looseObject({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), d: b64u(32), x: b64u(32) });
const Ed25519PublicJwk = z.looseObject({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: b64u(32) });

function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
}

/** The key id of a raw Ed25519 public key, as bytes. */
export async function qrKeyIdBytes(rawPublicKey: Uint8Array): Promise<Uint8Array> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", copy(rawPublicKey)));
  return digest.slice(0, QR_KEY_ID_BYTES);
}

/**
 * The key id (16 lowercase hex digits) of a public key given as the raw 32 bytes or as an Ed25519
 * JWK (public or private; only `x` is read). Anything else is `invalid_key`.
 */
export async function qrKeyId(publicKey: unknown): Promise<Result<string, QrError>> {
  if (publicKey instanceof Uint8Array) {
    if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES)
      return err(qrError("invalid_key", "a raw Ed25519 public key is 32 bytes"));
    return ok(hexEncode(await qrKeyIdBytes(publicKey)));
  }
  const jwk = Ed25519PublicJwk.safeParse(publicKey);
  if (!jwk.success) return err(qrError("invalid_key", "expected an Ed25519 JWK (kty OKP, crv Ed25519, x)"));
  return ok(hexEncode(await qrKeyIdBytes(base64url.decode(jwk.data.x))));
}

const PROBE = new TextEncoder().encode("mixed-election qr key probe");

/**
 * A signer from an Ed25519 private JWK (as `admin official keygen` writes it). The key is checked
 * by signing a probe and verifying it under the JWK's own public key, so a file whose `x` does not
 * belong to its `d` is refused here rather than producing payloads nobody can verify.
 */
export async function qrSignerFromJwk(input: unknown): Promise<Result<QrSigner, QrError>> {
  const jwk = Ed25519PrivateJwk.safeParse(input);
  if (!jwk.success) return err(qrError("invalid_key", "expected an Ed25519 private JWK (kty OKP, crv Ed25519, d, x)"));
  const { d, x } = jwk.data;
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", d, x },
      { name: "Ed25519" },
      false,
      ["sign"],
    );
    publicKey = await crypto.subtle.importKey("raw", copy(base64url.decode(x)), { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return err(qrError("invalid_key", "the key does not import"));
  }
  const probe = await crypto.subtle.sign("Ed25519", privateKey, PROBE);
  if (!(await crypto.subtle.verify("Ed25519", publicKey, probe, PROBE))) {
    return err(qrError("invalid_key", "the public half (x) does not belong to the private half (d)"));
  }
  const keyId = await qrKeyIdBytes(base64url.decode(x));
  return ok({
    keyId,
    async sign(message: Uint8Array): Promise<Uint8Array> {
      return new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, copy(message)));
    },
  });
}

/**
 * Verifies an Ed25519 signature under a registered key. A raw key must hash to the payload's key
 * id (a registry that answered with the wrong key is caught, not trusted); an imported CryptoKey
 * is the caller's word. A key that is not Ed25519 is a bug in the caller's registry and throws.
 */
export async function verifyEd25519(
  publicKey: QrPublicKey,
  keyId: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<Result<void, QrError>> {
  let key: CryptoKey;
  if (publicKey instanceof Uint8Array) {
    if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES)
      return err(qrError("key_mismatch", "a raw Ed25519 public key is 32 bytes"));
    if (hexEncode(await qrKeyIdBytes(publicKey)) !== hexEncode(keyId)) return err(qrError("key_mismatch"));
    key = await crypto.subtle.importKey("raw", copy(publicKey), { name: "Ed25519" }, false, ["verify"]);
  } else {
    if (publicKey.algorithm.name !== "Ed25519" || publicKey.type !== "public") {
      throw new TypeError(
        `the key lookup returned a ${publicKey.algorithm.name} ${publicKey.type} key; QR payloads need Ed25519 public keys`,
      );
    }
    key = publicKey;
  }
  const valid = await crypto.subtle.verify("Ed25519", key, copy(signature), copy(message));
  return valid ? ok(undefined) : err(qrError("bad_signature"));
}
