/**
 * QR payloads (lib/qr/, docs/QR-PAYLOADS.md): golden byte vectors, the byte layout checked by hand,
 * round trips, every flipped byte caught, precise refusals of malformed and ill-fitting payloads,
 * fuzzed input that never throws, and real QR images decoded from PNG at the documented version
 * and error-correction level.
 */
import { createHash } from "node:crypto";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { beforeAll, describe, expect, it } from "vitest";
import demoDefinition from "../../elections/demo/election.json";
import type { ContestMarks } from "../../lib/ballot/messages.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { hexEncode } from "../../lib/bytes.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { decodeBase45, encodeBase45 } from "../../lib/qr/base45.ts";
import { ByteWriter } from "../../lib/qr/bytes.ts";
import type { QrErrorCode } from "../../lib/qr/errors.ts";
import { qrKeyId, qrSignerFromJwk, type QrPublicKey, type QrSigner } from "../../lib/qr/keys.ts";
import { canonicalLayout, layoutDigest } from "../../lib/qr/layout.ts";
import {
  decodeQrBytes,
  decodeQrPayload,
  encodeBallotSheet,
  encodeMarkedBallot,
  encodeResultSheet,
  MAX_PAYLOAD_BYTES,
  qrText,
  readQrHeader,
  readSignedQrPayload,
  verifyQrPayload,
  type BallotSheetFields,
  type DecodedQrPayload,
  type EncodedQr,
  type MarkedBallotFields,
  type QrKeyLookup,
  type QrPayloadType,
  type ResultSheetFields,
} from "../../lib/qr/payload.ts";
import { qrPng, qrSvg, qrSymbolInfo } from "../../lib/qr/render.ts";
import type { Result } from "../../lib/result.ts";
import { seeded } from "../../lib/seeded.ts";
import frozenDefinition from "../../testdata/qr/election.json";
import golden from "../../testdata/qr/golden.json";

// ---------------------------------------------------------------------------------------------
// Fixtures

function compile(input: unknown): CompiledElection {
  const result = parseDefinition(input);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value.election;
}

/** The golden vectors' election: a frozen copy of the demo, so a demo edit cannot move them. */
const election = compile(frozenDefinition);
/** The live demo election: the QR sizes are promised for it. */
const demo = compile(demoDefinition);

const b64u = (hexText: string) => Buffer.from(hexText, "hex").toString("base64url");
const fromHex = (hexText: string) => Uint8Array.from(Buffer.from(hexText, "hex"));

async function signerOf(key: { seed: string; publicKey: string }): Promise<QrSigner> {
  const signer = await qrSignerFromJwk({ kty: "OKP", crv: "Ed25519", d: b64u(key.seed), x: b64u(key.publicKey) });
  if (!signer.ok) throw new Error(signer.error.message);
  return signer.value;
}

let authority: QrSigner;
let station: QrSigner;
const authorityPublic = fromHex(golden.keys.authority.publicKey);
const stationPublic = fromHex(golden.keys.station.publicKey);

/** A registry as the Worker would keep one: authority keys sign sheets, station keys the rest. */
const lookup: QrKeyLookup = async (keyId, type) => {
  const registry: Record<string, { key: QrPublicKey; role: "authority" | "station" }> = {
    [hexEncode(authority.keyId)]: { key: authorityPublic, role: "authority" },
    [hexEncode(station.keyId)]: { key: stationPublic, role: "station" },
  };
  const entry = registry[keyId];
  if (!entry) return undefined;
  return (type === "ballot-sheet") === (entry.role === "authority") ? entry.key : undefined;
};

beforeAll(async () => {
  authority = await signerOf(golden.keys.authority);
  station = await signerOf(golden.keys.station);
});

function unwrap<T, E>(result: Result<T, E>): T {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function codeOf<T>(result: Result<T, { code: QrErrorCode }>): QrErrorCode | "ok" {
  return result.ok ? "ok" : result.error.code;
}

const EAST_FULL: MarkedBallotFields = {
  electionId: "demo-2026",
  ballotStyleId: "bs-east",
  serial: 4_000_000_123,
  contests: [
    {
      contestId: "contest-president",
      optionIds: ["sel-president-write-in"],
      // 80 characters, the most a write-in may have, with Estonian letters (two UTF-8 bytes each).
      writeIns: {
        "sel-president-write-in": "Aleksander-Johannes Põldmäe-Kütt von Lilienfeld-Toal, Tartu Ülikooli õppejõud ÕÜ",
      },
    },
    { contestId: "contest-parliament-east", optionIds: ["sel-parliament-east-signe-vaher"] },
    {
      contestId: "contest-council-east",
      optionIds: ["sel-council-east-eva-sild", "sel-council-east-irina-volkova", "sel-council-east-jaan-koiv"],
    },
    { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
  ],
};

/** Every contest of the election, counts of a large station (three-byte varints throughout). */
function fullResultSheet(target: CompiledElection): ResultSheetFields {
  return {
    electionId: target.id,
    stationId: "station-east-0042",
    sequence: 1,
    closedAt: "2026-05-03T20:00:00Z",
    votersCheckedIn: 987_654,
    ballotsCast: 987_650,
    contests: [...target.contests.values()].map((c) => ({
      contestId: c.id,
      options: c.options.filter((o) => !o.isWriteIn).map((o, k) => ({ optionId: o.id, votes: 123_456 + k })),
      writeIns: 23_456,
      blanks: 34_567,
    })),
  };
}

async function encodeVector(vector: (typeof golden.vectors)[number]): Promise<EncodedQr> {
  switch (vector.type) {
    case "ballot-sheet":
      return unwrap(await encodeBallotSheet(vector.input as BallotSheetFields, authority));
    case "marked-ballot":
      return unwrap(await encodeMarkedBallot(vector.input as MarkedBallotFields, election, station));
    case "result-sheet":
      return unwrap(await encodeResultSheet(vector.input as ResultSheetFields, election, station));
    default:
      throw new Error(`unknown vector type ${vector.type}`);
  }
}

/** Signs arbitrary bytes exactly as the encoders do: what a compromised or buggy signer could make. */
async function signRaw(type: QrPayloadType, body: ByteWriter, signer: QrSigner): Promise<Uint8Array> {
  body.raw(signer.keyId);
  const signed = body.finish();
  const domain = new TextEncoder().encode(`mixed-election/qr/v1/${type}\u0000`);
  const signature = await signer.sign(Uint8Array.from([...domain, ...signed]));
  return Uint8Array.from([...signed, ...signature]);
}

// ---------------------------------------------------------------------------------------------

describe("building blocks", () => {
  it("base45 matches RFC 9285's examples and refuses what the RFC refuses", () => {
    const enc = (s: string) => encodeBase45(new TextEncoder().encode(s));
    expect(enc("AB")).toBe("BB8");
    expect(enc("Hello!!")).toBe("%69 VD92EX0");
    expect(enc("base-45")).toBe("UJCLQE7W581");
    expect(enc("ietf!")).toBe("QED8WEX0");
    expect(new TextDecoder().decode(decodeBase45("QED8WEX0"))).toBe("ietf!");
    expect(encodeBase45(new Uint8Array())).toBe("");
    expect(decodeBase45("GGW")).toBeUndefined(); // 65,536: more than two bytes hold
    expect(decodeBase45(":0")).toEqual(Uint8Array.of(44)); // 44 + 0 * 45
    expect(decodeBase45("0:")).toBeUndefined(); // 0 + 44 * 45 = 1,980 is more than one byte holds
    expect(decodeBase45("QED8WEX")).toBeUndefined(); // a lone last character
    expect(decodeBase45("qed")).toBeUndefined(); // lower case is not in the alphabet
    const random = seeded(45);
    for (let n = 0; n < 200; n++) {
      const bytes = Uint8Array.from({ length: n % 40 }, () => Math.floor(random() * 256));
      expect(decodeBase45(encodeBase45(bytes))).toEqual(bytes);
    }
  });

  it("WebCrypto Ed25519 signs as RFC 8032 says (test 1, the empty message)", async () => {
    const rfcSignature =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    expect(hexEncode(await authority.sign(new Uint8Array()))).toBe(rfcSignature);
  });

  it("a key id is the first 8 bytes of SHA-256 of the raw public key", async () => {
    const expected = createHash("sha256").update(authorityPublic).digest("hex").slice(0, 16);
    expect(hexEncode(authority.keyId)).toBe(expected);
    expect(unwrap(await qrKeyId(authorityPublic))).toBe(expected);
    expect(unwrap(await qrKeyId({ kty: "OKP", crv: "Ed25519", x: b64u(golden.keys.authority.publicKey) }))).toBe(
      expected,
    );
    expect(codeOf(await qrKeyId(new Uint8Array(31)))).toBe("invalid_key");
  });

  it("a signer comes from an `admin official keygen` JWK, and a broken JWK is refused", async () => {
    const { privateJwk, publicJwk } = await generateSigningKey("authority-2026");
    const signer = unwrap(await qrSignerFromJwk(privateJwk));
    expect(hexEncode(signer.keyId)).toBe(unwrap(await qrKeyId(publicJwk)));
    // x of another key: the probe signature does not verify (or the import refuses it).
    const mismatched = { ...privateJwk, x: b64u(golden.keys.station.publicKey) };
    expect(codeOf(await qrSignerFromJwk(mismatched))).toBe("invalid_key");
    expect(codeOf(await qrSignerFromJwk(publicJwk))).toBe("invalid_key");
    expect(codeOf(await qrSignerFromJwk({ kty: "EC", crv: "P-256", d: "x", x: "y" }))).toBe("invalid_key");
    expect(codeOf(await qrSignerFromJwk("not a key"))).toBe("invalid_key");
  });

  it("the layout digest is SHA-256 of the canonical layout, and changes with the option order", async () => {
    const expected = createHash("sha256")
      .update(`mixed-election/qr-layout/v1\n${canonicalLayout(election)}`)
      .digest("hex")
      .slice(0, 8);
    expect(hexEncode(await layoutDigest(election))).toBe(expected);
    expect(expected).toBe(golden.layoutDigest);
    expect(hexEncode(await layoutDigest(reorderedCouncil()))).not.toBe(expected);
  });
});

/** The frozen election with the council's last two candidates swapped: same ids, other indexes. */
function reorderedCouncil(): CompiledElection {
  const definition = structuredClone(frozenDefinition) as {
    electionReport: { Election: { Contest: { "@id": string; ContestSelection: unknown[] }[] }[] };
  };
  const council = definition.electionReport.Election[0]!.Contest.find((c) => c["@id"] === "contest-council-east")!;
  const selections = council.ContestSelection;
  [selections[4], selections[5]] = [selections[5], selections[4]];
  return compile(definition);
}

describe("golden vectors", () => {
  it.each(golden.vectors.map((v) => [v.name, v] as const))("%s: exact bytes and text", async (_name, vector) => {
    const encoded = await encodeVector(vector);
    expect(hexEncode(encoded.bytes)).toBe(vector.hex);
    expect(encoded.text).toBe(vector.text);
    expect(qrText(fromHex(vector.hex))).toBe(vector.text);
  });

  it.each(golden.vectors.map((v) => [v.name, v] as const))(
    "%s: decodes to its input and verifies",
    async (_name, vector) => {
      const decoded = unwrap(await readSignedQrPayload(vector.text, election, lookup));
      expect(decoded.type).toBe(vector.type);
      expect(decoded.fields).toEqual(
        vector.type === "marked-ballot" ? canonicalMarks(vector.input as MarkedBallotFields) : vector.input,
      );
      expect(decoded.keyId).toBe(hexEncode(vector.signer === "authority" ? authority.keyId : station.keyId));
    },
  );

  // The layout, byte by byte, written out here independently of the encoder.
  const ascii = (s: string) => [...Buffer.from(s, "utf8")];
  const keyIdOf = (publicKey: string) =>
    createHash("sha256").update(Buffer.from(publicKey, "hex")).digest("hex").slice(0, 16);

  it("ballot sheet: magic, version, type, election id, style id, serial, key id, signature", () => {
    const vector = golden.vectors[1]!;
    const expected = [0xec, 0x01, 0x01, 9, ...ascii("demo-2026"), 8, ...ascii("bs-north"), 0xac, 0x02]; // 300 = 0x2c | 0x80, 0x02
    expect(vector.hex.slice(0, expected.length * 2)).toBe(Buffer.from(expected).toString("hex"));
    expect(vector.hex.slice(expected.length * 2, expected.length * 2 + 16)).toBe(
      keyIdOf(golden.keys.authority.publicKey),
    );
    expect(vector.hex.length / 2).toBe(expected.length + 8 + 64);
  });

  it("marked ballot: contests in style order, marks as index * 2 + has-text, write-in text", () => {
    const vector = golden.vectors[2]!;
    const expected = [
      ...[
        0xec,
        0x01,
        0x02,
        9,
        ...ascii("demo-2026"),
        ...fromHex(golden.layoutDigest),
        7,
        ...ascii("bs-east"),
        0xac,
        0x02,
      ],
      4, // contests on bs-east
      ...[1, 3 * 2 + 1, 9, ...ascii("Jaan Tamm")], // president: the write-in (option 3) with its name
      ...[1, 1 * 2], // parliament-east: rein-kuusk (option 1)
      ...[3, 0 * 2, 2 * 2, 5 * 2], // council: anna-laur, eva-sild, jaan-koiv (options 0, 2, 5)
      ...[1, 0 * 2], // referendum: yes (option 0)
    ];
    expect(vector.hex.slice(0, expected.length * 2)).toBe(Buffer.from(expected).toString("hex"));
    expect(vector.hex.slice(expected.length * 2, expected.length * 2 + 16)).toBe(
      keyIdOf(golden.keys.station.publicKey),
    );
    expect(vector.hex.length / 2).toBe(expected.length + 8 + 64);
  });

  it("result sheet: station, sequence, close time, counts, then per contest index, votes, write-ins, blanks", () => {
    const vector = golden.vectors[4]!;
    const varint = (n: number) => (n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]);
    const closedAt = Date.UTC(2026, 4, 3, 20) / 1000; // 1,777,838,400: five varint bytes
    const closedAtBytes: number[] = [];
    for (let rest = closedAt; ; rest = Math.floor(rest / 128)) {
      if (rest < 128) {
        closedAtBytes.push(rest);
        break;
      }
      closedAtBytes.push((rest % 128) | 0x80);
    }
    const expected = [
      ...[0xec, 0x01, 0x03, 9, ...ascii("demo-2026"), ...fromHex(golden.layoutDigest), 15, ...ascii("station-east-01")],
      1, // sequence
      ...closedAtBytes,
      ...varint(212), // voters checked in
      ...varint(210), // ballots cast
      4, // contests
      ...[0, 3, ...varint(101), 64, 40, 3, 2], // president is contest 0 of the election; 3 options besides the write-in
      ...[3, 3, 90, 70, 45, 0, 5], // parliament-east is contest 3
      ...[4, 6, ...varint(120), 95, ...varint(130), 80, 110, 60, 0, 8], // council-east is contest 4
      ...[5, 2, ...varint(150), 55, 0, 5], // referendum is contest 5
    ];
    expect([...election.contests.keys()]).toEqual([
      "contest-president",
      "contest-parliament-north",
      "contest-parliament-south",
      "contest-parliament-east",
      "contest-council-east",
      "contest-referendum-voting-age",
    ]);
    expect(closedAtBytes).toHaveLength(5);
    expect(vector.hex.slice(0, expected.length * 2)).toBe(Buffer.from(expected).toString("hex"));
    expect(vector.hex.slice(expected.length * 2, expected.length * 2 + 16)).toBe(
      keyIdOf(golden.keys.station.publicKey),
    );
    expect(vector.hex.length / 2).toBe(expected.length + 8 + 64);
  });
});

/** What decoding returns for a marked ballot: every contest in style order, option ids sorted. */
function canonicalMarks(input: MarkedBallotFields): MarkedBallotFields {
  return { ...input, contests: input.contests.map((c) => ({ ...c, optionIds: [...c.optionIds].sort() })) };
}

describe("round trips", () => {
  it("every ballot style, random valid marks, including write-ins", async () => {
    const random = seeded(7);
    for (let round = 0; round < 60; round++) {
      for (const style of election.ballotStyles.values()) {
        const contests: ContestMarks[] = style.contestIds.map((contestId) => {
          const contest = election.contests.get(contestId)!;
          const count = Math.floor(random() * (contest.votesAllowed + 1));
          const shuffled = [...contest.options].sort(() => random() - 0.5).slice(0, count);
          const writeIns = Object.fromEntries(
            shuffled.filter((o) => o.isWriteIn).map((o) => [o.id, `Kandidaat ${round} Õunapuu`]),
          );
          return {
            contestId,
            optionIds: shuffled.map((o) => o.id),
            ...(Object.keys(writeIns).length > 0 ? { writeIns } : {}),
          };
        });
        const ballot = {
          electionId: election.id,
          ballotStyleId: style.id,
          serial: Math.floor(random() * 2 ** 40),
          contests,
        };
        const encoded = unwrap(await encodeMarkedBallot(ballot, election, station));
        const decoded = unwrap(await readSignedQrPayload(encoded.text, election, lookup));
        expect(decoded.fields).toEqual(canonicalMarks(ballot));
      }
    }
  });

  it("the largest serial and counts survive", async () => {
    const sheet = { electionId: election.id, ballotStyleId: "bs-south", serial: Number.MAX_SAFE_INTEGER };
    const decoded = unwrap(await decodeQrPayload(unwrap(await encodeBallotSheet(sheet, authority)).text));
    expect(decoded.fields).toEqual(sheet);
    const results = {
      ...fullResultSheet(election),
      sequence: Number.MAX_SAFE_INTEGER,
      ballotsCast: Number.MAX_SAFE_INTEGER,
    };
    const read = unwrap(
      await readSignedQrPayload(unwrap(await encodeResultSheet(results, election, station)).text, election, lookup),
    );
    expect(read.fields).toEqual(results);
  });

  it("a result sheet may leave out contests and options (zeros), and lists them back in election order", async () => {
    const sheet: ResultSheetFields = {
      electionId: election.id,
      stationId: "station-north-7",
      sequence: 2,
      closedAt: "2026-05-03T23:00:05+03:00",
      votersCheckedIn: 3,
      ballotsCast: 3,
      contests: [
        {
          contestId: "contest-referendum-voting-age",
          options: [{ optionId: "sel-referendum-voting-age-no", votes: 3 }],
          writeIns: 0,
          blanks: 0,
        },
        { contestId: "contest-president", options: [], writeIns: 1, blanks: 2 },
      ],
    };
    const decoded = unwrap(
      await readSignedQrPayload(unwrap(await encodeResultSheet(sheet, election, station)).text, election, lookup),
    );
    expect(decoded.fields).toEqual({
      ...sheet,
      closedAt: "2026-05-03T20:00:05Z",
      contests: [
        {
          contestId: "contest-president",
          options: [
            { optionId: "sel-president-aino-tamm", votes: 0 },
            { optionId: "sel-president-juhan-mets", votes: 0 },
            { optionId: "sel-president-liis-kask", votes: 0 },
          ],
          writeIns: 1,
          blanks: 2,
        },
        {
          contestId: "contest-referendum-voting-age",
          options: [
            { optionId: "sel-referendum-voting-age-yes", votes: 0 },
            { optionId: "sel-referendum-voting-age-no", votes: 3 },
          ],
          writeIns: 0,
          blanks: 0,
        },
      ],
    });
  });

  it("readQrHeader names the election to load, without an election", () => {
    const vector = golden.vectors[2]!;
    expect(unwrap(readQrHeader(vector.text))).toEqual({
      type: "marked-ballot",
      electionId: "demo-2026",
      keyId: hexEncode(station.keyId),
    });
  });
});

describe("tampering", () => {
  /** Decodes and verifies; the first refusal's code, or "ok". */
  async function outcome(bytes: Uint8Array): Promise<QrErrorCode | "ok"> {
    return codeOf(await readSignedQrPayload(qrText(bytes), election, lookup));
  }

  it.each(golden.vectors.map((v) => [v.name, v] as const))(
    "%s: every flipped byte, at every position, is caught",
    async (_name, vector) => {
      const bytes = fromHex(vector.hex);
      expect(await outcome(bytes)).toBe("ok");
      const seen = new Set<string>();
      for (let i = 0; i < bytes.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const flipped = bytes.slice();
          flipped[i] = flipped[i]! ^ mask;
          const code = await outcome(flipped);
          expect(code, `byte ${i} ^ 0x${mask.toString(16)}`).not.toBe("ok");
          seen.add(code);
        }
      }
      // Most flips are caught by the signature; the header's are caught before it.
      expect(seen).toContain("bad_signature");
      expect(seen).toContain("bad_magic");
      expect(seen).toContain("unsupported_version");
      expect(seen).toContain("unknown_key");
    },
  );

  it("every changed character of the QR text is caught", async () => {
    const text = golden.vectors[2]!.text;
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a";
    for (let i = 0; i < text.length; i++) {
      const replacement = alphabet[(alphabet.indexOf(text[i]!) + 1) % alphabet.length]!;
      const changed = text.slice(0, i) + replacement + text.slice(i + 1);
      expect(codeOf(await readSignedQrPayload(changed, election, lookup)), `character ${i}`).not.toBe("ok");
    }
  });

  it("truncated payloads are refused at every length; extended ones as trailing bytes", async () => {
    for (const vector of golden.vectors) {
      const bytes = fromHex(vector.hex);
      for (let n = 0; n < bytes.length; n++) {
        const code = codeOf(await decodeQrBytes(bytes.slice(0, n), election));
        expect(code, `${vector.name}: first ${n} bytes`).not.toBe("ok");
        // Inside the key id or the signature, nothing else can be wrong.
        if (n >= bytes.length - 72) expect(code).toBe("truncated");
      }
      for (const extra of [[0x00], [0xff], [...bytes.slice(-64)]]) {
        const extended = Uint8Array.from([...bytes, ...extra]);
        expect(codeOf(await decodeQrBytes(extended, election))).toBe("trailing_bytes");
      }
    }
    expect(codeOf(await decodeQrPayload("ME1:", election))).toBe("truncated");
  });

  it("a signature is bound to its payload type and its signer's role", async () => {
    // A station device key signing a ballot sheet: the lookup gives no key for that role.
    const forged = unwrap(
      await encodeBallotSheet({ electionId: "demo-2026", ballotStyleId: "bs-east", serial: 9 }, station),
    );
    expect(codeOf(await readSignedQrPayload(forged.text, election, lookup))).toBe("unknown_key");
    // A signature made under another type's domain does not verify.
    const body = new ByteWriter().byte(0xec).byte(1).byte(1).text("demo-2026").text("bs-east").varint(9);
    const crossSigned = await signRaw("marked-ballot", body, authority);
    expect(codeOf(await readSignedQrPayload(qrText(crossSigned), election, lookup))).toBe("bad_signature");
  });

  it("the registry's key must be the key the id names", async () => {
    const decoded = unwrap(await decodeQrPayload(golden.vectors[0]!.text, election));
    expect(codeOf(await verifyQrPayload(decoded, async () => stationPublic))).toBe("key_mismatch");
    // An imported key is the registry's word; the wrong one fails the signature.
    const wrong = await crypto.subtle.importKey("raw", stationPublic, { name: "Ed25519" }, false, ["verify"]);
    expect(codeOf(await verifyQrPayload(decoded, async () => wrong))).toBe("bad_signature");
    const right = await crypto.subtle.importKey("raw", authorityPublic, { name: "Ed25519" }, false, ["verify"]);
    expect(codeOf(await verifyQrPayload(decoded, async () => right))).toBe("ok");
    expect(codeOf(await verifyQrPayload(decoded, async () => undefined))).toBe("unknown_key");
  });
});

describe("refusals with precise codes", () => {
  const layout = () => fromHex(golden.layoutDigest);
  /** A marked-ballot body for bs-east up to the contests: what a buggy or hostile device could sign. */
  const eastHeader = () =>
    new ByteWriter().byte(0xec).byte(1).byte(2).text("demo-2026").raw(layout()).text("bs-east").varint(11);
  const resultHeader = () =>
    new ByteWriter()
      .byte(0xec)
      .byte(1)
      .byte(3)
      .text("demo-2026")
      .raw(layout())
      .text("st-1")
      .varint(1)
      .varint(1_777_838_400)
      .varint(5)
      .varint(5);

  async function decodeSigned(type: QrPayloadType, body: ByteWriter, target: CompiledElection | undefined = election) {
    return decodeQrBytes(await signRaw(type, body, station), target);
  }

  it("header: magic, version, type, prefix, transport", async () => {
    const bytes = fromHex(golden.vectors[0]!.hex);
    const patched = (i: number, value: number) => Uint8Array.from(bytes, (b, k) => (k === i ? value : b));
    expect(codeOf(await decodeQrBytes(patched(0, 0xed)))).toBe("bad_magic");
    expect(codeOf(await decodeQrBytes(patched(1, 0x02)))).toBe("unsupported_version");
    expect(codeOf(await decodeQrBytes(patched(1, 0x00)))).toBe("unsupported_version");
    expect(codeOf(await decodeQrBytes(patched(2, 0x04)))).toBe("unknown_type");
    expect(codeOf(await decodeQrBytes(patched(2, 0x00)))).toBe("unknown_type");
    expect(codeOf(await decodeQrPayload(golden.vectors[0]!.text.slice(4)))).toBe("not_a_payload");
    expect(codeOf(await decodeQrPayload(`me1:${golden.vectors[0]!.text.slice(4)}`))).toBe("not_a_payload");
    expect(codeOf(await decodeQrPayload("HC1:NCFOXN%TS3DH"))).toBe("not_a_payload");
    expect(codeOf(await decodeQrPayload("ME1:abc"))).toBe("bad_text_encoding");
    expect(codeOf(await decodeQrPayload(`ME1:${"0".repeat(4000)}`))).toBe("too_long");
    expect(codeOf(await decodeQrBytes(new Uint8Array(MAX_PAYLOAD_BYTES + 1)))).toBe("too_long");
  });

  it("varints and text: overlong, too large, not UTF-8, not an id", async () => {
    const sheet = (write: (w: ByteWriter) => ByteWriter) => write(new ByteWriter().byte(0xec).byte(1).byte(1));
    // serial 1 written as 0x81 0x00: overlong.
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").text("bs-east").raw(Uint8Array.of(0x81, 0x00))),
        ),
      ),
    ).toBe("bad_varint");
    // 2^53 does not fit.
    const big = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10);
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").text("bs-east").raw(big)),
        ),
      ),
    ).toBe("bad_varint");
    const nine = Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").text("bs-east").raw(nine)),
        ),
      ),
    ).toBe("bad_varint");
    // Not UTF-8, empty, too long, not an election id.
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").varint(2).raw(Uint8Array.of(0xc3, 0x28)).varint(1)),
        ),
      ),
    ).toBe("bad_string");
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").varint(0).varint(1)),
        ),
      ),
    ).toBe("bad_string");
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").text("b".repeat(65)).varint(1)),
        ),
      ),
    ).toBe("bad_string");
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("Demo 2026").text("bs-east").varint(1)),
        ),
      ),
    ).toBe("bad_string");
    expect(
      codeOf(
        await decodeSigned(
          "ballot-sheet",
          sheet((w) => w.text("demo-2026").text("bs-east\n").varint(1)),
        ),
      ),
    ).toBe("bad_string");
  });

  it("marked ballots: out-of-range index, overvote, duplicates, order, write-ins, contest count", async () => {
    const blank = (w: ByteWriter, n: number) => {
      for (let i = 0; i < n; i++) w.varint(0);
      return w;
    };
    // president (4 options): index 4 is out of range.
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          blank(
            eastHeader()
              .varint(4)
              .varint(1)
              .varint(4 * 2),
            3,
          ),
        ),
      ),
    ).toBe("index_out_of_range");
    // council, choose 3 of 6: four marks.
    const council4 = blank(eastHeader().varint(4), 2).varint(4).varint(0).varint(2).varint(4).varint(6).varint(0);
    expect(codeOf(await decodeSigned("marked-ballot", council4))).toBe("overvote");
    // president, choose 1: two marks.
    expect(
      codeOf(await decodeSigned("marked-ballot", blank(eastHeader().varint(4).varint(2).varint(0).varint(2), 3))),
    ).toBe("overvote");
    expect(
      codeOf(
        await decodeSigned("marked-ballot", blank(eastHeader().varint(4), 2).varint(2).varint(2).varint(2).varint(0)),
      ),
    ).toBe("duplicate_option");
    expect(
      codeOf(
        await decodeSigned("marked-ballot", blank(eastHeader().varint(4), 2).varint(2).varint(4).varint(2).varint(0)),
      ),
    ).toBe("non_canonical");
    // the write-in (option 3) without its name; a name on option 0.
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          blank(
            eastHeader()
              .varint(4)
              .varint(1)
              .varint(3 * 2),
            3,
          ),
        ),
      ),
    ).toBe("write_in_missing");
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          blank(
            eastHeader()
              .varint(4)
              .varint(1)
              .varint(0 * 2 + 1)
              .text("Mari"),
            3,
          ),
        ),
      ),
    ).toBe("write_in_not_allowed");
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          blank(
            eastHeader()
              .varint(4)
              .varint(1)
              .varint(3 * 2 + 1)
              .text(" "),
            3,
          ),
        ),
      ),
    ).toBe("bad_string");
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          blank(
            eastHeader()
              .varint(4)
              .varint(1)
              .varint(3 * 2 + 1)
              .text("x".repeat(81)),
            3,
          ),
        ),
      ),
    ).toBe("bad_string");
    // bs-east has 4 contests.
    expect(codeOf(await decodeSigned("marked-ballot", blank(eastHeader().varint(3), 3)))).toBe(
      "contest_count_mismatch",
    );
    expect(codeOf(await decodeSigned("marked-ballot", blank(eastHeader().varint(5), 5)))).toBe(
      "contest_count_mismatch",
    );
    expect(codeOf(await decodeSigned("marked-ballot", blank(eastHeader().varint(257), 257)))).toBe("invalid_field");
    // A well-formed blank ballot passes: the refusals above are about what they changed.
    expect(codeOf(await decodeSigned("marked-ballot", blank(eastHeader().varint(4), 4)))).toBe("ok");
  });

  it("result sheets: out-of-range contest, option count, duplicate and unordered contests", async () => {
    const president = (w: ByteWriter, index = 0) =>
      w.varint(index).varint(3).varint(1).varint(2).varint(1).varint(0).varint(1);
    expect(codeOf(await decodeSigned("result-sheet", president(resultHeader().varint(1))))).toBe("ok");
    expect(codeOf(await decodeSigned("result-sheet", president(resultHeader().varint(1), 6)))).toBe(
      "index_out_of_range",
    );
    const twoCounts = resultHeader().varint(1).varint(0).varint(2).varint(1).varint(2).varint(0).varint(1);
    expect(codeOf(await decodeSigned("result-sheet", twoCounts))).toBe("option_count_mismatch");
    expect(codeOf(await decodeSigned("result-sheet", president(president(resultHeader().varint(2)))))).toBe(
      "duplicate_contest",
    );
    expect(codeOf(await decodeSigned("result-sheet", president(president(resultHeader().varint(2), 1), 0)))).toBe(
      "non_canonical",
    );
    const farFuture = new ByteWriter()
      .byte(0xec)
      .byte(1)
      .byte(3)
      .text("demo-2026")
      .raw(layout())
      .text("st-1")
      .varint(1)
      .varint(253_402_300_800);
    expect(codeOf(await decodeSigned("result-sheet", farFuture.varint(0).varint(0).varint(0)))).toBe("invalid_field");
  });

  it("the election: required to read indexes, must be this one, in this version", async () => {
    const marked = golden.vectors[2]!.text;
    const result = golden.vectors[4]!.text;
    expect(codeOf(await decodeQrPayload(marked))).toBe("election_required");
    expect(codeOf(await decodeQrPayload(result))).toBe("election_required");
    expect(codeOf(await decodeQrPayload(golden.vectors[0]!.text))).toBe("ok");

    const other = structuredClone(frozenDefinition);
    other.settings.electionId = "other-2026";
    const otherElection = compile(other);
    for (const vector of golden.vectors) {
      expect(codeOf(await decodeQrPayload(vector.text, otherElection)), vector.name).toBe("wrong_election");
    }
    // Same election id, council options reordered: indexes would mean other candidates.
    const reordered = reorderedCouncil();
    expect(codeOf(await decodeQrPayload(marked, reordered))).toBe("layout_mismatch");
    expect(codeOf(await decodeQrPayload(result, reordered))).toBe("layout_mismatch");
    // A style the election does not have.
    const sheet = unwrap(
      await encodeBallotSheet({ electionId: "demo-2026", ballotStyleId: "bs-west", serial: 1 }, authority),
    );
    expect(codeOf(await decodeQrPayload(sheet.text, election))).toBe("unknown_ballot_style");
    expect(
      codeOf(
        await decodeSigned(
          "marked-ballot",
          new ByteWriter()
            .byte(0xec)
            .byte(1)
            .byte(2)
            .text("demo-2026")
            .raw(layout())
            .text("bs-west")
            .varint(1)
            .varint(0),
        ),
      ),
    ).toBe("unknown_ballot_style");
  });

  it("encoders refuse what decoders would refuse", async () => {
    const ballot = (contests: ContestMarks[], over: Partial<MarkedBallotFields> = {}) =>
      encodeMarkedBallot(
        { electionId: "demo-2026", ballotStyleId: "bs-east", serial: 1, contests, ...over },
        election,
        station,
      );
    const overvote = await ballot([
      {
        contestId: "contest-council-east",
        optionIds: election.contests
          .get("contest-council-east")!
          .options.slice(0, 4)
          .map((o) => o.id),
      },
    ]);
    expect(codeOf(overvote)).toBe("invalid_ballot");
    expect(overvote.ok ? [] : overvote.error.problems?.map((p) => p.code)).toEqual(["overvote"]);
    expect(codeOf(await ballot([{ contestId: "contest-president", optionIds: ["sel-nobody"] }]))).toBe(
      "invalid_ballot",
    );
    expect(codeOf(await ballot([{ contestId: "contest-president", optionIds: ["sel-president-write-in"] }]))).toBe(
      "invalid_ballot",
    );
    const tooLong = await ballot([
      {
        contestId: "contest-president",
        optionIds: ["sel-president-write-in"],
        writeIns: { "sel-president-write-in": "x".repeat(81) },
      },
    ]);
    expect(tooLong.ok ? [] : tooLong.error.problems?.map((p) => p.code)).toEqual(["write_in_invalid"]);
    expect(codeOf(await ballot([], { electionId: "other-2026" }))).toBe("wrong_election");
    expect(codeOf(await ballot([], { ballotStyleId: "bs-west" }))).toBe("unknown_ballot_style");
    expect(codeOf(await ballot([], { serial: -1 }))).toBe("invalid_field");
    expect(codeOf(await ballot([], { serial: 1.5 }))).toBe("invalid_field");
    expect(codeOf(await ballot([]))).toBe("ok"); // every contest blank

    const results = (over: Partial<ResultSheetFields>) =>
      encodeResultSheet({ ...fullResultSheet(election), ...over }, election, station);
    expect(codeOf(await results({ contests: [{ contestId: "contest-x", options: [], writeIns: 0, blanks: 0 }] }))).toBe(
      "unknown_contest",
    );
    const writeInOption = [{ optionId: "sel-president-write-in", votes: 1 }];
    expect(
      codeOf(
        await results({
          contests: [{ contestId: "contest-president", options: writeInOption, writeIns: 0, blanks: 0 }],
        }),
      ),
    ).toBe("unknown_option");
    const twice = [
      { optionId: "sel-president-aino-tamm", votes: 1 },
      { optionId: "sel-president-aino-tamm", votes: 2 },
    ];
    expect(
      codeOf(await results({ contests: [{ contestId: "contest-president", options: twice, writeIns: 0, blanks: 0 }] })),
    ).toBe("duplicate_option");
    const president = { contestId: "contest-president", options: [], writeIns: 0, blanks: 0 };
    expect(codeOf(await results({ contests: [president, president] }))).toBe("duplicate_contest");
    expect(codeOf(await results({ closedAt: "2026-05-03T20:00:00.500Z" }))).toBe("invalid_field");
    expect(codeOf(await results({ closedAt: "yesterday" }))).toBe("invalid_field");
    expect(codeOf(await results({ ballotsCast: -1 }))).toBe("invalid_field");
    expect(codeOf(await results({ stationId: "" }))).toBe("bad_string");
    expect(codeOf(await results({ electionId: "other-2026" }))).toBe("wrong_election");
    expect(
      codeOf(await encodeBallotSheet({ electionId: "Demo", ballotStyleId: "bs-east", serial: 1 }, authority)),
    ).toBe("bad_string");
  });
});

describe("fuzzing: any input is a Result, never an exception", () => {
  const lenient: QrKeyLookup = async (keyId) =>
    keyId === hexEncode(station.keyId)
      ? stationPublic
      : keyId === hexEncode(authority.keyId)
        ? authorityPublic
        : undefined;

  async function mustNotThrow(
    text: string,
    target: CompiledElection | undefined,
  ): Promise<Result<DecodedQrPayload, { code: QrErrorCode }>> {
    const result = await readSignedQrPayload(text, target, lenient);
    readQrHeader(text);
    return result;
  }

  it("random bytes, random texts", async () => {
    const random = seeded(2026);
    for (let n = 0; n < 3000; n++) {
      const length = Math.floor(random() * 300);
      const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      // Half of them start like a payload, so the fuzzing reaches past the header.
      if (n % 2 === 0 && length >= 3) bytes.set([0xec, 0x01, 1 + (n % 3)]);
      expect(codeOf(await mustNotThrow(qrText(bytes), n % 3 === 0 ? undefined : election))).not.toBe("ok");
      const text =
        "ME1:" +
        Array.from({ length: length % 60 }, () => String.fromCharCode(32 + Math.floor(random() * 95))).join("");
      expect(codeOf(await mustNotThrow(text, election))).not.toBe("ok");
    }
  });

  it("mutations of valid payloads: flips, insertions, deletions, splices", async () => {
    const random = seeded(5);
    const sources = golden.vectors.map((v) => fromHex(v.hex));
    for (let n = 0; n < 4000; n++) {
      const source = sources[n % sources.length]!;
      const bytes = [...source];
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * bytes.length);
        const kind = Math.floor(random() * 4);
        if (kind === 0) bytes[at] = Math.floor(random() * 256);
        else if (kind === 1) bytes.splice(at, 0, Math.floor(random() * 256));
        else if (kind === 2) bytes.splice(at, 1);
        else
          bytes.splice(
            at,
            Math.floor(random() * 8),
            ...sources[Math.floor(random() * sources.length)]!.slice(at, at + Math.floor(random() * 8)),
          );
      }
      const mutated = Uint8Array.from(bytes);
      const result = await mustNotThrow(qrText(mutated), election);
      if (hexEncode(mutated) !== hexEncode(source)) expect(codeOf(result)).not.toBe("ok");
    }
  });
});

describe("real QR codes", () => {
  function readPng(png: Uint8Array): { text: string; version: number } {
    const image = PNG.sync.read(Buffer.from(png));
    const code = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
    if (!code) throw new Error("jsQR found no QR code in the PNG");
    return { text: code.data, version: code.version };
  }

  it("the largest demo ballot (bs-east, every contest marked, an 80-character write-in): version 10, level M", async () => {
    // bs-east has the most contests (4) and options (15) of the demo styles, and the only choose-3.
    const sizes = [...demo.ballotStyles.values()].map((s) => ({
      id: s.id,
      options: s.contestIds.reduce((sum, id) => sum + demo.contests.get(id)!.options.length, 0),
    }));
    expect(sizes.sort((a, b) => b.options - a.options)[0]).toEqual({ id: "bs-east", options: 15 });

    const encoded = unwrap(await encodeMarkedBallot(EAST_FULL, demo, station));
    expect(encoded.bytes.length).toBe(202);
    expect(encoded.text.length).toBe(307); // of 311 alphanumeric characters that version 10-M holds
    expect(qrSymbolInfo(encoded.text)).toEqual({
      version: 10,
      errorCorrectionLevel: "M",
      modules: 57,
      modes: ["Alphanumeric"],
    });

    const scanned = readPng(await qrPng(encoded.text));
    expect(scanned.text).toBe(encoded.text);
    expect(scanned.version).toBe(10);
    const decoded = unwrap(await readSignedQrPayload(scanned.text, demo, lookup));
    expect(decoded.fields).toEqual(canonicalMarks(EAST_FULL));
    expect(await qrSvg(encoded.text)).toMatch(/^<svg[^>]*viewBox="0 0 65 65"/);
  });

  it("the worst write-in (80 three-byte characters) still fits version 15, level M", async () => {
    const worst: MarkedBallotFields = {
      ...EAST_FULL,
      contests: EAST_FULL.contests.map((c) =>
        c.writeIns ? { ...c, writeIns: { "sel-president-write-in": "鑫".repeat(80) } } : c,
      ),
    };
    const encoded = unwrap(await encodeMarkedBallot(worst, demo, station));
    expect(encoded.bytes.length).toBe(355);
    expect(encoded.text.length).toBe(537); // of 553
    expect(qrSymbolInfo(encoded.text).version).toBe(15);
    const scanned = readPng(await qrPng(encoded.text));
    expect(unwrap(await readSignedQrPayload(scanned.text, demo, lookup)).fields).toEqual(canonicalMarks(worst));
  });

  it("a full demo result sheet (every contest, six-figure counts): version 11, level M", async () => {
    const sheet = fullResultSheet(demo);
    const encoded = unwrap(await encodeResultSheet(sheet, demo, station));
    expect(encoded.bytes.length).toBe(228);
    expect(encoded.text.length).toBe(346); // of 362
    expect(qrSymbolInfo(encoded.text)).toEqual({
      version: 11,
      errorCorrectionLevel: "M",
      modules: 61,
      modes: ["Alphanumeric"],
    });
    const scanned = readPng(await qrPng(encoded.text));
    expect(scanned.version).toBe(11);
    expect(unwrap(await readSignedQrPayload(scanned.text, demo, lookup)).fields).toEqual(sheet);
  });

  it("a ballot sheet: version 6, level M", async () => {
    const encoded = unwrap(
      await encodeBallotSheet({ electionId: "demo-2026", ballotStyleId: "bs-east", serial: 1_000_000 }, authority),
    );
    expect(qrSymbolInfo(encoded.text)).toMatchObject({ version: 6, errorCorrectionLevel: "M" });
    const scanned = readPng(await qrPng(encoded.text));
    expect(unwrap(await readSignedQrPayload(scanned.text, demo, lookup)).type).toBe("ballot-sheet");
  });

  it("transport: base45 in alphanumeric mode beats base64url in byte mode by two versions (docs/QR-PAYLOADS.md table)", async () => {
    const QRCode = (await import("qrcode")).default;
    const base64urlVersion = (bytes: Uint8Array) =>
      QRCode.create(Buffer.from(bytes).toString("base64url"), { errorCorrectionLevel: "M" }).version;
    const ballot = unwrap(await encodeMarkedBallot(EAST_FULL, demo, station));
    const results = unwrap(await encodeResultSheet(fullResultSheet(demo), demo, station));
    expect({ base45: qrSymbolInfo(ballot.text).version, base64url: base64urlVersion(ballot.bytes) }).toEqual({
      base45: 10,
      base64url: 12,
    });
    expect({ base45: qrSymbolInfo(results.text).version, base64url: base64urlVersion(results.bytes) }).toEqual({
      base45: 11,
      base64url: 13,
    });
    const sheet = unwrap(
      await encodeBallotSheet({ electionId: "demo-2026", ballotStyleId: "bs-east", serial: 1_000_000 }, authority),
    );
    expect({
      bytes: sheet.bytes.length,
      base45: qrSymbolInfo(sheet.text).version,
      base64url: base64urlVersion(sheet.bytes),
    }).toEqual({ bytes: 96, base45: 6, base64url: 8 });
    const worstWriteIn = EAST_FULL.contests.map((c) =>
      c.writeIns ? { ...c, writeIns: { "sel-president-write-in": "鑫".repeat(80) } } : c,
    );
    const worst = unwrap(await encodeMarkedBallot({ ...EAST_FULL, contests: worstWriteIn }, demo, station));
    expect({ base45: qrSymbolInfo(worst.text).version, base64url: base64urlVersion(worst.bytes) }).toEqual({
      base45: 15,
      base64url: 17,
    });
  });
});
