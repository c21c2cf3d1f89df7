/**
 * Inclusion proof bundles (c2sp.org/tlog-proof@v1): the spec's example round trip, a real log's
 * bundles for every entry, what each wrong input is refused with, and a flipped byte anywhere
 * in a bundle being caught.
 */
import { describe, expect, it } from "vitest";
import { signCheckpoint } from "../../lib/tlog/checkpoint.ts";
import { inclusionProof, leafHash, MAX_PROOF_LENGTH, rootAt, treeHashAt } from "../../lib/tlog/merkle.ts";
import { verifierKey } from "../../lib/tlog/note.ts";
import { formatInclusionProof, parseInclusionProof, verifyInclusionBundle } from "../../lib/tlog/proof.ts";
import { entry, hex, sha256, textFlips, verifierKeyOfSeed } from "./helpers/tlog.ts";

const SPEC_EXAMPLE = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
`;

const ORIGIN = "audit.election.example/2026";
const SEED = sha256(new TextEncoder().encode("proof test seed"));

function logKey(): string {
  return verifierKeyOfSeed(ORIGIN, SEED);
}

/** A log of `size` entries (entry(i)) with a signed checkpoint. */
async function log(size: number): Promise<{ note: string; vkey: string; hashAt: ReturnType<typeof treeHashAt> }> {
  const hashAt = treeHashAt(Array.from({ length: size }, (_, i) => leafHash(entry(i))));
  const note = await signCheckpoint(
    { origin: ORIGIN, size, root: rootAt(size, hashAt) },
    { name: ORIGIN, privateKey: SEED },
  );
  return { note, vkey: logKey(), hashAt };
}

describe("the bundle format", () => {
  it("parses the spec's example and formats it back byte for byte", () => {
    const parsed = parseInclusionProof(SPEC_EXAMPLE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.index).toBe(73894);
    expect(parsed.value.proof).toHaveLength(5);
    expect(hex(parsed.value.proof[0] ?? new Uint8Array(0))).toBe(
      Buffer.from("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=", "base64").toString("hex"),
    );
    expect(new TextDecoder().decode(parsed.value.extraData)).toMatch(/^age-v1\.2\.1-darwin-arm64\.tar\.gz/);
    expect(parsed.value.checkpointNote.startsWith("example.com/fancylog\n109482\n")).toBe(true);
    expect(formatInclusionProof(parsed.value)).toBe(SPEC_EXAMPLE);
  });

  it("formats without extra data, and with an empty proof (a one-entry tree)", async () => {
    const { note } = await log(1);
    const text = formatInclusionProof({ index: 0, proof: [], checkpointNote: note });
    expect(text).toBe(`c2sp.org/tlog-proof@v1\nindex 0\n\n${note}`);
    const parsed = parseInclusionProof(text);
    expect(parsed).toEqual({ ok: true, value: { index: 0, proof: [], checkpointNote: note } });
    const withExtra = parseInclusionProof(
      formatInclusionProof({ index: 0, proof: [], checkpointNote: note, extraData: new Uint8Array(0) }),
    );
    expect(withExtra.ok && withExtra.value.extraData).toEqual(new Uint8Array(0));
  });

  const hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
  const tail =
    "\nexample.com/fancylog\n1\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— example.com/fancylog AAAAAAA=\n";
  it.each([
    [
      "another header",
      `c2sp.org/tlog-proof@v2\nindex 0\n${tail}`,
      'proof bundle does not start with "c2sp.org/tlog-proof@v1"',
    ],
    ["no header", `index 0\n${tail}`, 'proof bundle does not start with "c2sp.org/tlog-proof@v1"'],
    ["an empty text", "", 'proof bundle does not start with "c2sp.org/tlog-proof@v1"'],
    ["no index line", `c2sp.org/tlog-proof@v1\n${hash}\n${tail}`, 'proof bundle has no "index <n>" line'],
    ["only a header", "c2sp.org/tlog-proof@v1\n", 'proof bundle has no "index <n>" line'],
    [
      "extra after the index",
      `c2sp.org/tlog-proof@v1\nindex 0\nextra AAAA\n${tail}`,
      "proof hash 1 is not canonical base64",
    ],
    [
      "bad extra data",
      `c2sp.org/tlog-proof@v1\nextra A\nindex 0\n${tail}`,
      "proof bundle extra data is not canonical base64",
    ],
    [
      "a leading zero",
      `c2sp.org/tlog-proof@v1\nindex 01\n${tail}`,
      'proof bundle index: "01" is not a decimal with no leading zeroes',
    ],
    [
      "a huge index",
      `c2sp.org/tlog-proof@v1\nindex 9007199254740992\n${tail}`,
      "proof bundle index: 9007199254740992 is larger than 2^53 - 1",
    ],
    [
      "two spaces",
      `c2sp.org/tlog-proof@v1\nindex  0\n${tail}`,
      'proof bundle index: " 0" is not a decimal with no leading zeroes',
    ],
    ["a short hash", `c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n${tail}`, "proof hash 1 is 3 bytes, not 32"],
    [
      "a bad hash",
      `c2sp.org/tlog-proof@v1\nindex 0\n${hash}\n${hash.replace("g", "!")}\n${tail}`,
      "proof hash 2 is not canonical base64",
    ],
    [
      "too many hashes",
      `c2sp.org/tlog-proof@v1\nindex 0\n${`${hash}\n`.repeat(MAX_PROOF_LENGTH + 1)}${tail}`,
      "proof bundle has more than 64 proof hashes",
    ],
    [
      "no blank line",
      `c2sp.org/tlog-proof@v1\nindex 0\n${hash}`,
      "proof bundle has no blank line before its checkpoint",
    ],
    ["no checkpoint", `c2sp.org/tlog-proof@v1\nindex 0\n${hash}\n\n`, "proof bundle has no checkpoint"],
    ["too long", `c2sp.org/tlog-proof@v1\nindex 0\n\n${"a".repeat(70_000)}`, "proof bundle is too long"],
  ])("refuses %s", (_name, text, message) => {
    expect(parseInclusionProof(text)).toEqual({ ok: false, error: message });
  });

  it("refuses to format what no bundle can carry", () => {
    const note = "o\n1\nAAAA\n\n— o AAAAAAA=\n";
    expect(() => formatInclusionProof({ index: -1, proof: [], checkpointNote: note })).toThrow(RangeError);
    expect(() => formatInclusionProof({ index: 0.5, proof: [], checkpointNote: note })).toThrow(RangeError);
    expect(() => formatInclusionProof({ index: 0, proof: [new Uint8Array(31)], checkpointNote: note })).toThrow(
      "proof hash 0 is 31 bytes, not 32",
    );
    expect(() =>
      formatInclusionProof({
        index: 0,
        proof: Array.from({ length: 65 }, () => new Uint8Array(32)),
        checkpointNote: note,
      }),
    ).toThrow(RangeError);
    expect(() => formatInclusionProof({ index: 0, proof: [], checkpointNote: note.slice(0, -1) })).toThrow(
      "checkpoint note must end with a newline",
    );
  });
});

describe("verifying bundles from a real log", () => {
  it("every entry of a 300-entry log verifies, as text and as a parsed bundle", async () => {
    const { note, vkey, hashAt } = await log(300);
    for (let index = 0; index < 300; index++) {
      const text = formatInclusionProof({ index, proof: inclusionProof(index, 300, hashAt), checkpointNote: note });
      const result = await verifyInclusionBundle(text, entry(index), [vkey], ORIGIN);
      expect(result.ok, `entry ${index}`).toBe(true);
      if (result.ok)
        expect(result.value).toMatchObject({ index, checkpoint: { origin: ORIGIN, size: 300 }, verifiedBy: [ORIGIN] });
    }
    const parsed = parseInclusionProof(
      formatInclusionProof({ index: 7, proof: inclusionProof(7, 300, hashAt), checkpointNote: note }),
    );
    expect(parsed.ok && (await verifyInclusionBundle(parsed.value, entry(7), [vkey], ORIGIN)).ok).toBe(true);
  });

  it("refuses the wrong entry, index, origin, key, or a malformed bundle", async () => {
    const { note, vkey, hashAt } = await log(300);
    const text = formatInclusionProof({ index: 42, proof: inclusionProof(42, 300, hashAt), checkpointNote: note });
    expect(await verifyInclusionBundle(text, entry(43), [vkey], ORIGIN)).toEqual({
      ok: false,
      error: "entry is not proven in the log: inclusion proof does not lead to the root",
    });
    expect(await verifyInclusionBundle(text.replace("index 42", "index 43"), entry(42), [vkey], ORIGIN)).toMatchObject({
      ok: false,
    });
    expect(await verifyInclusionBundle(text.replace("index 42", "index 300"), entry(42), [vkey], ORIGIN)).toEqual({
      ok: false,
      error: "entry is not proven in the log: leaf index 300 is not below tree size 300",
    });
    expect(await verifyInclusionBundle(text, entry(42), [vkey], "audit.election.example/2027")).toEqual({
      ok: false,
      error: 'checkpoint origin "audit.election.example/2026" is not "audit.election.example/2027"',
    });
    const stranger = verifierKey(ORIGIN, sha256(new TextEncoder().encode("not the key")));
    expect(await verifyInclusionBundle(text, entry(42), [stranger], ORIGIN)).toEqual({
      ok: false,
      error: "note has no signature from a known key",
    });
    expect(await verifyInclusionBundle("c2sp.org/tlog-proof@v1\n", entry(42), [vkey], ORIGIN)).toEqual({
      ok: false,
      error: 'proof bundle has no "index <n>" line',
    });
  });

  it("extra data is carried but never trusted or needed", async () => {
    const { note, vkey, hashAt } = await log(5);
    const text = formatInclusionProof({
      index: 3,
      proof: inclusionProof(3, 5, hashAt),
      checkpointNote: note,
      extraData: new TextEncoder().encode("tracking code ABC"),
    });
    expect(text.split("\n")[1]).toBe("extra dHJhY2tpbmcgY29kZSBBQkM=");
    expect((await verifyInclusionBundle(text, entry(3), [vkey], ORIGIN)).ok).toBe(true);
  });

  it("a single flipped byte anywhere in a bundle is caught", async () => {
    const { note, vkey, hashAt } = await log(1000);
    const text = formatInclusionProof({ index: 777, proof: inclusionProof(777, 1000, hashAt), checkpointNote: note });
    expect((await verifyInclusionBundle(text, entry(777), [vkey], ORIGIN)).ok).toBe(true);
    let checked = 0;
    for (const mask of [0x01, 0x80]) {
      for (const { at, text: flipped } of textFlips(text, mask)) {
        expect((await verifyInclusionBundle(flipped, entry(777), [vkey], ORIGIN)).ok, `byte ${at} ^ ${mask}`).toBe(
          false,
        );
        checked++;
      }
    }
    expect(checked).toBe(2 * new TextEncoder().encode(text).length);
  });
});
