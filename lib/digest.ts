/**
 * SHA-256, the project's one digest, synchronous (@noble/hashes) so that hash-heavy code (Merkle
 * trees, tiles, entry digests) and short ids alike need no await; the bytes are those of WebCrypto.
 * The cast path's commitment (lib/ballot/commitment.ts) keeps WebCrypto's native digest.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { hexEncode, utf8 } from "./bytes.ts";

/** SHA-256 of bytes, or of a string's UTF-8. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === "string" ? utf8(data) : data);
}

/** SHA-256 in lowercase hex (the form of digests in log entries and ids). */
export function sha256Hex(data: Uint8Array | string): string {
  return hexEncode(sha256(data));
}
