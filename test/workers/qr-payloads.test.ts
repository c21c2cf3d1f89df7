/**
 * The QR codec inside workerd, where scans are validated: the golden vectors decode and verify
 * (WebCrypto Ed25519, strict UTF-8, SHA-256 layout digest all behave as in Node), a flipped byte
 * is caught, and a signer made from a JWK produces the same bytes as in Node.
 */
import { hexEncode } from "../../lib/bytes.ts";
import { describe, expect, it } from "vitest";
import { parseDefinition } from "../../lib/election/definition.ts";
import { qrSignerFromJwk } from "../../lib/qr/keys.ts";
import {
  decodeQrPayload,
  encodeMarkedBallot,
  qrText,
  readSignedQrPayload,
  type MarkedBallotFields,
  type QrKeyLookup,
} from "../../lib/qr/payload.ts";
import frozenDefinition from "../../testdata/qr/election.json";
import golden from "../../testdata/qr/golden.json";

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function b64u(text: string): string {
  return btoa(String.fromCharCode(...fromHex(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

const compiled = parseDefinition(frozenDefinition);
if (!compiled.ok) throw new Error("the fixture election does not compile");
const election = compiled.value.election;

const lookup: QrKeyLookup = async (_keyId, type) =>
  fromHex(type === "ballot-sheet" ? golden.keys.authority.publicKey : golden.keys.station.publicKey);

describe("QR payloads in workerd", () => {
  it.each(golden.vectors.map((v) => [v.name, v] as const))(
    "%s: decodes and verifies; a flipped byte does not",
    async (_name, vector) => {
      const read = await readSignedQrPayload(vector.text, election, lookup);
      expect(read.ok).toBe(true);
      const bytes = fromHex(vector.hex);
      for (let i = 0; i < bytes.length; i++) {
        const flipped = bytes.slice();
        flipped[i] = flipped[i]! ^ 0x01;
        expect((await readSignedQrPayload(qrText(flipped), election, lookup)).ok, `byte ${i}`).toBe(false);
      }
    },
  );

  it("encodes the golden marked ballot byte for byte", async () => {
    const vector = golden.vectors.find((v) => v.type === "marked-ballot")!;
    const signer = await qrSignerFromJwk({
      kty: "OKP",
      crv: "Ed25519",
      d: b64u(golden.keys.station.seed),
      x: b64u(golden.keys.station.publicKey),
    });
    if (!signer.ok) throw new Error(signer.error.message);
    const encoded = await encodeMarkedBallot(vector.input as MarkedBallotFields, election, signer.value);
    if (!encoded.ok) throw new Error(encoded.error.message);
    expect(hexEncode(encoded.value.bytes)).toBe(vector.hex);
    expect(encoded.value.text).toBe(vector.text);
  });

  it("refuses garbage with a code", async () => {
    const result = await decodeQrPayload("ME1:%%%", election);
    expect(result.ok ? "ok" : result.error.code).toBe("bad_text_encoding");
  });
});
