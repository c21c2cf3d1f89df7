/**
 * base64url without padding (RFC 4648 section 5), the one implementation the project uses: voter
 * keys, commitments, nonces, signed sheets, log entries. Decoding is strict: only the exact text
 * the encoder writes for some bytes is accepted, so one value has one spelling.
 */

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** RFC 4648 encoding with `alphabet`; `pad` writes the trailing "=" of standard base64. */
function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const triple = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += alphabet[(triple >> 18) & 63];
    out += alphabet[(triple >> 12) & 63];
    if (i + 1 < bytes.length) out += alphabet[(triple >> 6) & 63];
    else if (pad) out += "=";
    if (i + 2 < bytes.length) out += alphabet[triple & 63];
    else if (pad) out += "=";
  }
  return out;
}

export function base64urlEncode(bytes: Uint8Array): string {
  return encode(bytes, B64URL, false);
}

/** Standard, padded base64 (RFC 4648 section 4): the C2SP formats' encoding (lib/tlog). */
export function base64Encode(bytes: Uint8Array): string {
  return encode(bytes, B64, true);
}

/** Undefined unless `text` is exactly what base64urlEncode writes for some bytes. */
export function base64urlDecode(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of text) {
    value = (value << 6) | B64URL.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 255;
    }
    value &= (1 << bits) - 1;
  }
  if (value !== 0) return undefined; // non-zero leftover bits: not the canonical form
  return out;
}
