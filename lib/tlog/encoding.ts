/**
 * What the transparency-log formats add to lib/bytes.ts: strict base64 decoding (RFC 4648
 * section 4, the alphabet every C2SP spec uses), decimals and text checks.
 *
 * No Workers or Node imports: this runs in the Worker, the auditor CLI and the tests alike.
 *
 * Base64 decoding is canonical on purpose: padding is required and the unused low bits of the
 * last character must be zero, so each byte string has exactly one accepted text form. Without
 * that, two different signed texts (or bundles) could carry the same bytes, and a flipped bit in
 * a padding position would go unnoticed.
 */
import { base64Encode } from "../bytes.ts";
import { err, ok, type Result } from "../result.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));
const BASE64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard, padded base64; refuses anything that base64Encode would not have produced. */
export function base64Decode(text: string): Result<Uint8Array, string> {
  if (!BASE64_SHAPE.test(text)) return err("not canonical base64");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    // The shape check above guarantees every character here is in the alphabet or is padding.
    const v = [0, 1, 2, 3].map((k) => DECODE.get(text.charAt(i + k)) ?? 0);
    const triple = ((v[0] ?? 0) << 18) | ((v[1] ?? 0) << 12) | ((v[2] ?? 0) << 6) | (v[3] ?? 0);
    const bytes = [(triple >> 16) & 255, (triple >> 8) & 255, triple & 255];
    for (const byte of bytes) if (o < out.length) out[o++] = byte;
  }
  // Canonical form: the bits that padding discards must be zero.
  if (base64Encode(out) !== text) return err("not canonical base64 (non-zero padding bits)");
  return ok(out);
}

/**
 * Parses an ASCII decimal with no leading zeroes ("0" itself is allowed) that fits in a safe
 * integer: the form of tree sizes and indexes in checkpoints and proofs. Values from 2^53 up are
 * refused rather than rounded.
 */
export function parseDecimal(text: string): Result<number, string> {
  if (!/^(?:0|[1-9][0-9]*)$/.test(text)) return err(`"${text}" is not a decimal with no leading zeroes`);
  // 16 digits cover every safe integer (2^53 - 1 = 9007199254740991); longer strings cannot fit.
  const value = text.length <= 16 ? Number(text) : Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(value)) return err(`${text} is larger than 2^53 - 1`);
  return ok(value);
}

/** Lone UTF-16 surrogates cannot be encoded as UTF-8; C2SP texts must be valid UTF-8. */
export function isWellFormedText(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}

/** ASCII control characters other than newline (U+000A), which signed notes forbid. */
export function hasControlCharacter(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0009\u000b-\u001f]/.test(text);
}
