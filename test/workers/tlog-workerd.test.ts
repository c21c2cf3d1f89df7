/**
 * The transparency-log primitives inside workerd, where the sequencer runs them: Ed25519 through
 * workerd's WebCrypto (seed import, non-extractable keys, verification) reproduces the reference
 * implementation's signed note byte for byte, and @noble/hashes gives the RFC 6962 hashes.
 */
import { expect, it } from "vitest";
import { base64Decode } from "../../lib/tlog/encoding.ts";
import { EMPTY_ROOT, inclusionProof, leafHash, rootAt, treeHashAt, verifyInclusion } from "../../lib/tlog/merkle.ts";
import { signNote, verifierKey, verifyNote } from "../../lib/tlog/note.ts";

// golang.org/x/mod/sumdb/note's example key and note.
const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

function bytes(b64: string): Uint8Array {
  const r = base64Decode(b64);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

it("signs the reference note byte for byte from a seed, and verifies it", async () => {
  const seed = bytes("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").slice(1);
  expect(await signNote(TEXT, { name: "PeterNeumann", privateKey: seed })).toBe(NOTE);
  expect(await verifyNote(NOTE, [VKEY])).toEqual({ ok: true, value: { text: TEXT, verifiedBy: ["PeterNeumann"] } });
  expect((await verifyNote(NOTE.replace("problem,", "problem;"), [VKEY])).ok).toBe(false);
});

it("signs with a non-extractable CryptoKey and its public key", async () => {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
  const pub = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const note = await signNote("hello\n", { name: "log.example/test", privateKey: pair.privateKey, publicKey: pub });
  expect((await verifyNote(note, [verifierKey("log.example/test", pub)])).ok).toBe(true);
});

it("hashes as RFC 6962 says", () => {
  expect([...EMPTY_ROOT.slice(0, 4)]).toEqual([0xe3, 0xb0, 0xc4, 0x42]);
  const leaves = Array.from({ length: 7 }, (_, i) => leafHash(new Uint8Array([i])));
  const hashAt = treeHashAt(leaves);
  const root = rootAt(7, hashAt);
  for (let i = 0; i < 7; i++)
    expect(verifyInclusion(i, 7, leaves[i] as Uint8Array, inclusionProof(i, 7, hashAt), root).ok).toBe(true);
});
