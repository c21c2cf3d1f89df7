/**
 * The byte helpers under the log formats: base64 agrees with Node's for every length and refuses
 * every non-canonical spelling; decimals refuse leading zeroes and anything past 2^53 - 1.
 */
import { describe, expect, it } from "vitest";
import { base64Decode, hasControlCharacter, isWellFormedText, parseDecimal } from "../../lib/tlog/encoding.ts";
import { base64Encode, bytesEqual, hexEncode } from "../../lib/bytes.ts";

describe("base64", () => {
  it("matches Node's encoder and round-trips, lengths 0..100", () => {
    for (let n = 0; n <= 100; n++) {
      const data = new Uint8Array(n).map((_, i) => (i * 151 + n * 7) & 0xff);
      const text = base64Encode(data);
      expect(text).toBe(Buffer.from(data).toString("base64"));
      expect(base64Decode(text)).toEqual({ ok: true, value: data });
    }
  });

  it.each([
    ["missing padding", "YQ"],
    ["too much padding", "YQ==="],
    ["padding in the middle", "YQ==YQ=="],
    ["non-zero padding bits", "YR=="],
    ["non-zero padding bits (one pad)", "YWJ="],
    ["base64url", "-_-_"],
    ["whitespace", "YWJj\n"],
    ["a space", "YW Jj"],
    ["one character", "Y"],
  ])("refuses %s", (_name, text) => {
    expect(base64Decode(text).ok).toBe(false);
  });
});

describe("decimals and text", () => {
  it("parseDecimal", () => {
    expect(parseDecimal("0")).toEqual({ ok: true, value: 0 });
    expect(parseDecimal("9007199254740991")).toEqual({ ok: true, value: 9007199254740991 });
    for (const bad of [
      "",
      "00",
      "01",
      "-0",
      "+1",
      "1e3",
      "0x10",
      "1 ",
      "١",
      "9007199254740992",
      "99999999999999999999",
    ]) {
      expect(parseDecimal(bad).ok, bad).toBe(false);
    }
  });

  it("hex, equality, control characters, UTF-8 well-formedness", () => {
    expect(hexEncode(new Uint8Array([0, 15, 16, 255]))).toBe("000f10ff");
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(bytesEqual(new Uint8Array([1]), new Uint8Array([1, 2]))).toBe(false);
    expect(hasControlCharacter("a\nb — é")).toBe(false);
    for (const c of ["\u0000", "\t", "\r", "\u000b", "\u001f"]) expect(hasControlCharacter(`a${c}b`)).toBe(true);
    expect(isWellFormedText("emoji 🗳️ ok")).toBe(true);
    expect(isWellFormedText("lone \ud83d")).toBe(false);
    expect(isWellFormedText("lone \udd73")).toBe(false);
  });
});
