/**
 * Signed notes (c2sp.org/signed-note, Ed25519): the Go reference implementation's published key
 * and note byte for byte, the spec's examples, verifier-key manglings, which signatures count,
 * malformed notes with their messages, and a flipped byte anywhere in a note being caught.
 */
import { describe, expect, it } from "vitest";
import { base64Decode } from "../../lib/tlog/encoding.ts";
import {
  ed25519KeyHash,
  MAX_NOTE_LENGTH,
  MAX_SIGNATURES,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierKey,
  verifyNote,
} from "../../lib/tlog/note.ts";
import { hex, textFlips } from "./helpers/tlog.ts";

// The example key pair and note of golang.org/x/mod/sumdb/note, the reference implementation.
const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const SKEY_MATERIAL = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; // 0x01 || 32-byte seed
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIG_LINE =
  "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const NOTE = `${TEXT}\n${SIG_LINE}`;

function bytes(b64: string): Uint8Array {
  const r = base64Decode(b64);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const SEED = bytes(SKEY_MATERIAL).slice(1);
const PUBLIC = bytes("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").slice(1);

async function newKey(name: string): Promise<{ vkey: string; seed: Uint8Array }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const pub = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  // An Ed25519 PKCS #8 key is a fixed 16-byte header and the 32-byte seed.
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return { vkey: verifierKey(name, pub), seed: pkcs8.slice(16) };
}

describe("verifier keys", () => {
  it("match the reference implementation's example", () => {
    const parsed = parseVerifierKey(VKEY);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.name).toBe("PeterNeumann");
    expect(parsed.value.keyHash).toBe(0xc74f20a3);
    expect(hex(parsed.value.publicKey)).toBe(hex(PUBLIC));
    expect(verifierKey("PeterNeumann", PUBLIC)).toBe(VKEY);
    expect(ed25519KeyHash("PeterNeumann", PUBLIC)).toBe(0xc74f20a3);
  });

  it("refuse every truncation and every single-character change of a valid key", () => {
    for (let i = 0; i <= VKEY.length; i++) {
      for (let j = i + 1; j <= VKEY.length; j++) {
        if (i !== 0 || j !== VKEY.length) expect(parseVerifierKey(VKEY.slice(i, j)).ok, VKEY.slice(i, j)).toBe(false);
      }
    }
    for (let i = 0; i < VKEY.length; i++) {
      const changed = VKEY.slice(0, i) + String.fromCharCode(VKEY.charCodeAt(i) + 1) + VKEY.slice(i + 1);
      expect(parseVerifierKey(changed).ok, changed).toBe(false);
    }
  });

  it.each([
    ["no separators", "PeterNeumann", "verifier key is not <name>+<key ID>+<key>"],
    ["one separator", "PeterNeumann+c74f20a3", "verifier key is not <name>+<key ID>+<key>"],
    ["an empty name", "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "verifier key: key name is empty"],
    [
      "a space in the name",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      'verifier key: key name "Peter Neumann" contains a space or a plus sign',
    ],
    [
      "an uppercase key ID",
      "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      'verifier key ID "C74F20A3" is not 8 lowercase hex digits',
    ],
    [
      "a short key ID",
      "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      'verifier key ID "c74f20a" is not 8 lowercase hex digits',
    ],
    [
      "another key's ID",
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "verifier key ID cc469956 does not match the key name and key",
    ],
    [
      "another name",
      "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "verifier key ID c74f20a3 does not match the key name and key",
    ],
    [
      "unpadded base64",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
      "verifier key material: not canonical base64",
    ],
    [
      "another algorithm",
      "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "verifier key type is not Ed25519 (0x01)",
    ],
    [
      "a short key",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy",
      "Ed25519 verifier key is 29 bytes, not 32",
    ],
  ])("refuse %s", (_name, vkey, message) => {
    expect(parseVerifierKey(vkey)).toEqual({ ok: false, error: message });
  });

  it("verifierKey refuses bad names and key sizes", () => {
    expect(() => verifierKey("", PUBLIC)).toThrow(RangeError);
    expect(() => verifierKey("a+b", PUBLIC)).toThrow(RangeError);
    expect(() => verifierKey("a\u00a0b", PUBLIC)).toThrow(RangeError);
    expect(() => verifierKey("a\u0007b", PUBLIC)).toThrow("contains a control character");
    expect(() => verifierKey("a", PUBLIC.slice(1))).toThrow("Ed25519 public key is 31 bytes, not 32");
  });
});

describe("signing", () => {
  it("reproduces the reference implementation's note byte for byte (Ed25519 is deterministic)", async () => {
    expect(await signNote(TEXT, { name: "PeterNeumann", privateKey: SEED })).toBe(NOTE);
  });

  it("works with a CryptoKey, given the public key when the key is not extractable", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
    const pub = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    const vkey = verifierKey("log.example/test", pub);
    await expect(signNote("hello\n", { name: "log.example/test", privateKey: pair.privateKey })).rejects.toThrow(
      "signer needs publicKey",
    );
    const note = await signNote("hello\n", { name: "log.example/test", privateKey: pair.privateKey, publicKey: pub });
    expect(await verifyNote(note, [vkey])).toEqual({
      ok: true,
      value: { text: "hello\n", verifiedBy: ["log.example/test"] },
    });
    // An extractable key gives its public key itself.
    const extractable = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const pub2 = new Uint8Array((await crypto.subtle.exportKey("raw", extractable.publicKey)) as ArrayBuffer);
    const note2 = await signNote("hello\n", { name: "n", privateKey: extractable.privateKey });
    expect((await verifyNote(note2, [verifierKey("n", pub2)])).ok).toBe(true);
  });

  it("refuses texts and signers no note can carry", async () => {
    const signer = { name: "PeterNeumann", privateKey: SEED };
    await expect(signNote("no newline", signer)).rejects.toThrow("note text must end with a newline");
    await expect(signNote("tab\there\n", signer)).rejects.toThrow(
      "note text contains a control character other than newline",
    );
    await expect(signNote("lone \ud800 surrogate\n", signer)).rejects.toThrow("note text is not valid UTF-8");
    await expect(signNote("x\n", { name: "bad name", privateKey: SEED })).rejects.toThrow(RangeError);
    await expect(signNote("x\n", { name: "n", privateKey: SEED.slice(1) })).rejects.toThrow(
      "Ed25519 seed is 31 bytes, not 32",
    );
    await expect(signNote("x\n", { name: "n", privateKey: SEED, publicKey: PUBLIC.slice(1) })).rejects.toThrow(
      RangeError,
    );
  });
});

describe("verifying", () => {
  it("accepts the reference note", async () => {
    expect(await verifyNote(NOTE, [VKEY])).toEqual({ ok: true, value: { text: TEXT, verifiedBy: ["PeterNeumann"] } });
  });

  it("ignores signatures from unknown keys, even sharing a name or a key ID with a known key", async () => {
    const other = await newKey("PeterNeumann");
    const witness = await newKey("witness.example/w1");
    const byOther = await signNote(TEXT, { name: "PeterNeumann", privateKey: other.seed });
    const byWitness = await signNote(TEXT, { name: "witness.example/w1", privateKey: witness.seed });
    const sigOf = (note: string): string => note.slice(TEXT.length + 1);
    // Same name, other key (and so another key ID): ignored; the known key's signature counts.
    const both = `${TEXT}\n${sigOf(byOther)}${SIG_LINE}${sigOf(byWitness)}`;
    expect(await verifyNote(both, [VKEY])).toEqual({ ok: true, value: { text: TEXT, verifiedBy: ["PeterNeumann"] } });
    expect(await verifyNote(both, [VKEY, witness.vkey])).toEqual({
      ok: true,
      value: { text: TEXT, verifiedBy: ["PeterNeumann", "witness.example/w1"] },
    });
    // Only unknown signatures: refused.
    expect(await verifyNote(byOther, [VKEY])).toEqual({ ok: false, error: "note has no signature from a known key" });
    // Same key ID as the known key but another name: ignored.
    const renamed = NOTE.replace("— PeterNeumann ", "— PeterNeumann2 ");
    expect(await verifyNote(renamed, [VKEY])).toEqual({ ok: false, error: "note has no signature from a known key" });
    // Names are literal: no case folding.
    expect(await verifyNote(NOTE.replace("— PeterNeumann ", "— peterneumann "), [VKEY])).toEqual({
      ok: false,
      error: "note has no signature from a known key",
    });
  });

  it("rejects the whole note when a known key's signature fails", async () => {
    const witness = await newKey("witness.example/w1");
    const forged = `${TEXT}\n${SIG_LINE}— witness.example/w1 ${Buffer.from([...Buffer.from(witness.vkey.split("+")[1] ?? "", "hex"), ...new Uint8Array(64)]).toString("base64")}\n`;
    expect(await verifyNote(forged, [VKEY, witness.vkey])).toEqual({
      ok: false,
      error: "signature by witness.example/w1 does not verify",
    });
    const wrongLength = `${TEXT}\n— PeterNeumann ${Buffer.from([0xc7, 0x4f, 0x20, 0xa3, 1, 2, 3]).toString("base64")}\n`;
    expect(await verifyNote(wrongLength, [VKEY])).toEqual({
      ok: false,
      error: "signature by PeterNeumann is 3 bytes, not 64",
    });
  });

  it("a repeated signature counts once", async () => {
    expect(await verifyNote(`${TEXT}\n${SIG_LINE}${SIG_LINE}`, [VKEY])).toEqual({
      ok: true,
      value: { text: TEXT, verifiedBy: ["PeterNeumann"] },
    });
  });

  it("refuses bad verifier lists", async () => {
    expect(await verifyNote(NOTE, ["nonsense"])).toEqual({
      ok: false,
      error: 'verifier key "nonsense": verifier key is not <name>+<key ID>+<key>',
    });
    expect((await verifyNote(NOTE, [VKEY, VKEY])).ok).toBe(true);
    expect(await verifyNote(NOTE, [])).toEqual({ ok: false, error: "note has no signature from a known key" });
  });

  it("refuses a verifier key that is not a curve point (when the runtime refuses to import it)", async () => {
    // y = 2 is not on edwards25519; the key ID is made to match so the signature is checked.
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    const vkey = verifierKey("PeterNeumann", notAPoint);
    const id = vkey.split("+")[1] ?? "";
    const note = `${TEXT}\n— PeterNeumann ${Buffer.from([...Buffer.from(id, "hex"), ...new Uint8Array(64)]).toString("base64")}\n`;
    expect(await verifyNote(note, [vkey])).toEqual({ ok: false, error: "signature by PeterNeumann does not verify" });
  });
});

describe("the spec's example notes", () => {
  it("parse: the signed-note and tlog-checkpoint examples", () => {
    const poem =
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    const parsed = parseNote(poem);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    // The text keeps its own blank line; the last blank line separates the signatures.
    expect(parsed.value.text).toBe(
      "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n",
    );
    expect(parsed.value.signatures).toHaveLength(1);
    expect(parsed.value.signatures[0]?.name).toBe("quasimodo.example/salvatore");
    expect(parsed.value.signatures[0]?.keyHash).toBe(0x367ba04b);
    expect(parsed.value.signatures[0]?.signature).toHaveLength(64);
    const checkpoint =
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
    const cp = parseNote(checkpoint);
    expect(cp.ok && cp.value.text).toBe(
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    );
  });
});

describe("malformed notes are refused with a precise message", () => {
  const sig = SIG_LINE.slice(0, -1);
  it.each([
    ["no final newline", NOTE.slice(0, -1), "note does not end with a newline"],
    ["no blank line", `${TEXT}${SIG_LINE}`, "note has no blank line before its signatures"],
    ["no signature lines", `${TEXT}\n`, "note has no signature lines"],
    ["a blank line after the signatures", `${NOTE}\n`, "note has no signature lines"],
    ["an ASCII dash", `${TEXT}\n-- PeterNeumann x08go\n`, 'signature line 1 does not start with "— "'],
    [
      "no space before the signature",
      `${TEXT}\n— PeterNeumann\n`,
      'signature line 1 is not "— <key name> <signature>"',
    ],
    ["an empty key name", `${TEXT}\n—  x08go/ZJk=\n`, "signature line 1: key name is empty"],
    [
      "a plus in the key name",
      `${TEXT}\n— Peter+Neumann x08go/ZJk=\n`,
      'signature line 1: key name "Peter+Neumann" contains a space or a plus sign',
    ],
    ["two spaces", `${TEXT}\n${sig.replace(" x08", "  x08")}\n`, "signature line 1: signature is not canonical base64"],
    ["bad base64", `${TEXT}\n— PeterNeumann x08go!ZJk=\n`, "signature line 1: signature is not canonical base64"],
    [
      "a short signature",
      `${TEXT}\n— PeterNeumann AQIDBA==\n`,
      "signature line 1: signature is shorter than a key ID and one byte",
    ],
    ["a bad second line", `${NOTE}— x\n`, 'signature line 2 is not "— <key name> <signature>"'],
    ["a carriage return", NOTE.replace("\n", "\r\n"), "note contains a control character other than newline"],
    ["a NUL", `\u0000${NOTE}`, "note contains a control character other than newline"],
    ["a lone surrogate", `\udc00${NOTE}`, "note is not valid UTF-8"],
  ])("%s", async (_name, note, message) => {
    expect(parseNote(note)).toEqual({ ok: false, error: message });
    expect(await verifyNote(note, [VKEY])).toEqual({ ok: false, error: message });
  });

  it("too many signatures, too long", async () => {
    const many = `${TEXT}\n${SIG_LINE.repeat(MAX_SIGNATURES + 1)}`;
    expect(await verifyNote(many, [VKEY])).toEqual({ ok: false, error: "note has more than 100 signatures" });
    expect((await verifyNote(`${TEXT}\n${SIG_LINE.repeat(MAX_SIGNATURES)}`, [VKEY])).ok).toBe(true);
    const long = `${"a".repeat(MAX_NOTE_LENGTH)}\n\n${SIG_LINE}`;
    expect(await verifyNote(long, [VKEY])).toEqual({ ok: false, error: "note is longer than 65536 characters" });
  });
});

describe("a single flipped byte anywhere in a signed note is caught", () => {
  it.each([0x01, 0x80, 0x20])("XOR 0x%s at every byte", async (mask) => {
    let checked = 0;
    for (const { at, text } of textFlips(NOTE, mask)) {
      const result = await verifyNote(text, [VKEY]);
      expect(result.ok, `byte ${at}: ${JSON.stringify(text)}`).toBe(false);
      checked++;
    }
    expect(checked).toBe(new TextEncoder().encode(NOTE).length);
  });
});
