/**
 * Detached signatures of the exports (RFC 7515 appendix F: a compact JWS with the payload left
 * out, `<protected>..<signature>`), EdDSA with the log's own Ed25519 key, the key an auditor
 * already trusts for the checkpoints (its signed-note verifier key holds the same public key).
 * The protected header names the log's origin as `kid`. Ed25519 is deterministic, so the same
 * bytes always get the same signature: a rewrite after a crash puts the same object.
 */
import { FlattenedSign, flattenedVerify } from "jose";
import { err, ok, type Result } from "../result.ts";
import { base64urlEncode } from "../bytes.ts";

export const EXPORT_JWS_TYP = "mixed-election-export+jws";

export async function signDetached(payload: Uint8Array, privateKey: CryptoKey, kid: string): Promise<string> {
  const jws = await new FlattenedSign(payload)
    .setProtectedHeader({ alg: "EdDSA", kid, typ: EXPORT_JWS_TYP })
    .sign(privateKey);
  return `${jws.protected ?? ""}..${jws.signature}`;
}

/** Whether `detached` signs `payload` with this raw Ed25519 public key (32 bytes). */
export async function verifyDetached(
  detached: string,
  payload: Uint8Array,
  publicKey: Uint8Array,
): Promise<Result<{ kid: string | undefined }, string>> {
  const parts = detached.trim().split(".");
  const [protectedHeader, middle, signature] = parts;
  if (parts.length !== 3 || middle !== "" || !protectedHeader || !signature)
    return err("not a detached compact JWS (<header>..<signature>)");
  try {
    const key = await crypto.subtle.importKey("raw", publicKey.slice(), { name: "Ed25519" }, false, ["verify"]);
    const verified = await flattenedVerify(
      { protected: protectedHeader, payload: base64urlEncode(payload), signature },
      key,
      { algorithms: ["EdDSA"] },
    );
    const kid = verified.protectedHeader?.kid;
    return ok({ kid });
  } catch (error) {
    return err(`the signature does not verify: ${error instanceof Error ? error.message : String(error)}`);
  }
}
