/**
 * Checkpoints (c2sp.org/tlog-checkpoint): the spec's example, round trips, every malformed shape
 * with its message, origins compared literally, and a flipped byte anywhere in a signed
 * checkpoint being caught.
 */
import { describe, expect, it } from "vitest";
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from "../../lib/tlog/checkpoint.ts";
import { EMPTY_ROOT } from "../../lib/tlog/merkle.ts";
import { signNote } from "../../lib/tlog/note.ts";
import { hex, sha256, textFlips, verifierKeyOfSeed } from "./helpers/tlog.ts";

const SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const ORIGIN = "audit.election.example/2026";
const SEED = sha256(new TextEncoder().encode("checkpoint test seed"));

function logKey(): string {
  return verifierKeyOfSeed(ORIGIN, SEED);
}

describe("checkpoint text", () => {
  it("parses the spec's example and formats it back byte for byte", () => {
    const parsed = parseCheckpoint(SPEC_TEXT);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.origin).toBe("example.com/behind-the-sofa");
    expect(parsed.value.size).toBe(20852163);
    expect(hex(parsed.value.root)).toBe("0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62");
    expect(parsed.value.extensions).toEqual([]);
    expect(formatCheckpoint(parsed.value)).toBe(SPEC_TEXT);
  });

  it("formats the empty tree and extension lines", () => {
    const text = formatCheckpoint({ origin: ORIGIN, size: 0, root: EMPTY_ROOT, extensions: ["ext one", "— two"] });
    expect(text).toBe(`${ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\n— two\n`);
    expect(parseCheckpoint(text)).toEqual({
      ok: true,
      value: { origin: ORIGIN, size: 0, root: EMPTY_ROOT, extensions: ["ext one", "— two"] },
    });
    const biggest = formatCheckpoint({ origin: ORIGIN, size: Number.MAX_SAFE_INTEGER, root: EMPTY_ROOT });
    expect(parseCheckpoint(biggest)).toMatchObject({ ok: true, value: { size: 9007199254740991 } });
  });

  it.each([
    ["no final newline", SPEC_TEXT.slice(0, -1), "checkpoint does not end with a newline"],
    ["two lines", "example.com/log\n20852163\n", "checkpoint has fewer than three lines"],
    ["an empty origin", `\n1\n${"A".repeat(43)}=\n`, "checkpoint origin is empty"],
    [
      "a leading zero",
      SPEC_TEXT.replace("20852163", "020852163"),
      'checkpoint tree size: "020852163" is not a decimal with no leading zeroes',
    ],
    [
      "a sign",
      SPEC_TEXT.replace("20852163", "+20852163"),
      'checkpoint tree size: "+20852163" is not a decimal with no leading zeroes',
    ],
    [
      "a negative size",
      SPEC_TEXT.replace("20852163", "-1"),
      'checkpoint tree size: "-1" is not a decimal with no leading zeroes',
    ],
    [
      "a fraction",
      SPEC_TEXT.replace("20852163", "1.0"),
      'checkpoint tree size: "1.0" is not a decimal with no leading zeroes',
    ],
    [
      "a space",
      SPEC_TEXT.replace("20852163", " 20852163"),
      'checkpoint tree size: " 20852163" is not a decimal with no leading zeroes',
    ],
    [
      "size 2^53",
      SPEC_TEXT.replace("20852163", "9007199254740992"),
      "checkpoint tree size: 9007199254740992 is larger than 2^53 - 1",
    ],
    [
      "size 2^64 - 1",
      SPEC_TEXT.replace("20852163", "18446744073709551615"),
      "checkpoint tree size: 18446744073709551615 is larger than 2^53 - 1",
    ],
    [
      "a short root",
      SPEC_TEXT.replace("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx"),
      "checkpoint root hash is 30 bytes, not 32",
    ],
    ["an unpadded root", SPEC_TEXT.replace("q2I=", "q2I"), "checkpoint root hash is not canonical base64"],
    [
      "non-zero padding bits",
      SPEC_TEXT.replace("q2I=", "q2J="),
      "checkpoint root hash is not canonical base64 (non-zero padding bits)",
    ],
    ["base64url", SPEC_TEXT.replace("om/X", "om_X"), "checkpoint root hash is not canonical base64"],
    ["an empty extension line", `${SPEC_TEXT}ext\n\n`, "checkpoint extension line 2 is empty"],
    ["a carriage return", SPEC_TEXT.replace("\n", "\r\n"), "checkpoint contains a control character or invalid UTF-8"],
  ])("refuses %s", (_name, text, message) => {
    expect(parseCheckpoint(text)).toEqual({ ok: false, error: message });
  });

  it("refuses to format what no checkpoint can carry", () => {
    expect(() => formatCheckpoint({ origin: "", size: 1, root: EMPTY_ROOT })).toThrow("checkpoint origin is empty");
    expect(() => formatCheckpoint({ origin: "a\nb", size: 1, root: EMPTY_ROOT })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: "o", size: 1, root: EMPTY_ROOT, extensions: [""] })).toThrow(
      "checkpoint extension line 1 is empty",
    );
    expect(() => formatCheckpoint({ origin: "o", size: -1, root: EMPTY_ROOT })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: "o", size: 2 ** 53, root: EMPTY_ROOT })).toThrow(RangeError);
    expect(() => formatCheckpoint({ origin: "o", size: 1, root: EMPTY_ROOT.slice(1) })).toThrow(
      "checkpoint root is 31 bytes, not 32",
    );
  });
});

describe("signed checkpoints", () => {
  const root = sha256(new TextEncoder().encode("some root"));

  it("sign and open", async () => {
    const vkey = logKey();
    const note = await signCheckpoint({ origin: ORIGIN, size: 1234, root }, { name: ORIGIN, privateKey: SEED });
    expect(note.startsWith(`${ORIGIN}\n1234\n`)).toBe(true);
    const opened = await openCheckpoint(note, [vkey], ORIGIN);
    expect(opened).toEqual({
      ok: true,
      value: { checkpoint: { origin: ORIGIN, size: 1234, root, extensions: [] }, verifiedBy: [ORIGIN] },
    });
  });

  it("the origin is compared literally", async () => {
    const vkey = logKey();
    const note = await signCheckpoint({ origin: ORIGIN, size: 1, root }, { name: ORIGIN, privateKey: SEED });
    expect(await openCheckpoint(note, [vkey], `${ORIGIN}/`)).toEqual({
      ok: false,
      error: `checkpoint origin "${ORIGIN}" is not "${ORIGIN}/"`,
    });
    expect(await openCheckpoint(note, [vkey], ORIGIN.toUpperCase())).toMatchObject({ ok: false });
  });

  it("a validly signed note that is not a checkpoint is refused", async () => {
    const vkey = logKey();
    const note = await signNote(`${ORIGIN}\nlots\n`, { name: ORIGIN, privateKey: SEED });
    expect(await openCheckpoint(note, [vkey], ORIGIN)).toEqual({
      ok: false,
      error: "checkpoint has fewer than three lines",
    });
  });

  it("a single flipped byte anywhere in a signed checkpoint is caught", async () => {
    const vkey = logKey();
    const note = await signCheckpoint(
      { origin: ORIGIN, size: 70_000, root, extensions: ["x-ext"] },
      { name: ORIGIN, privateKey: SEED },
    );
    expect((await openCheckpoint(note, [vkey], ORIGIN)).ok).toBe(true);
    for (const mask of [0x01, 0x10, 0x80]) {
      for (const { at, text } of textFlips(note, mask)) {
        expect((await openCheckpoint(text, [vkey], ORIGIN)).ok, `byte ${at} ^ ${mask}`).toBe(false);
      }
    }
  });
});
