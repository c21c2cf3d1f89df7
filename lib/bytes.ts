/**
 * Bytes and their text forms, the one implementation the project uses: base64url without padding
 * (RFC 4648 section 5: voter keys, commitments, nonces, signed sheets, log entries), standard
 * padded base64 (section 4: the C2SP formats), lowercase hex (digests), UTF-8, concatenation and
 * comparison. Decoders are strict: only the exact text the encoder writes for some bytes is
 * accepted, so one value has one spelling. Format-specific readers and writers stay inside their
 * codecs (lib/audit/entries.ts, lib/qr/bytes.ts, lib/tlog/encoding.ts): they are the spec.
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

export function hexEncode(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Undefined unless `text` is lowercase hex of whole bytes (what hexEncode writes). */
export function hexDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const UTF8_ENCODER = new TextEncoder();

/** Typed as backed by an ArrayBuffer (as TextEncoder's output always is), so WebCrypto takes it under the DOM's types too. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return UTF8_ENCODER.encode(text) as Uint8Array<ArrayBuffer>;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Byte equality. Not constant-time: use it only where both sides are public (hashes, roots, keys). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
