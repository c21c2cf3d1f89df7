/**
 * Signed QR payloads of the paper channel: one versioned, compact, binary format for
 *   - ballot sheets (the blank paper sheet: election, ballot style, serial; signed by the election
 *     authority, printed in bulk by `admin sheets print`);
 *   - marked ballots (what a ballot-marking device prints: the sheet serial and the selections;
 *     signed by the station device);
 *   - result sheets (a station's totals at close; signed by the station device).
 * Runtime-free: the Worker that validates scans, the station client and the CLIs share it.
 * docs/QR-PAYLOADS.md says the same with examples and measured sizes.
 *
 * Text transport: "ME1:" + base45(bytes) (RFC 9285). Every character of that text is in the QR
 * alphanumeric set (11 bits per 2 characters), so a byte costs 8.25 bits in the code; base64url
 * would need byte mode at 10.67 bits a byte. Measured on the largest demo payloads (test
 * "transport"), at error-correction level M: the largest marked ballot (bs-east, every contest
 * marked, an 80-character write-in; 202 bytes) is version 10 as base45, 12 as base64url; a full
 * result sheet (every contest, six-figure counts; 228 bytes) is version 11 against 13. The worst
 * write-in (80 three-byte characters; 355 bytes) still fits version 15, our ceiling. Codes are
 * rendered at level M (render.ts); test/node/qr-payloads.test.ts asserts the version `qrcode`
 * picks and reads the payloads back from real PNG images.
 *
 * Byte layout (version 1). varint = unsigned LEB128, canonical (no overlong form), at most
 * 2^53 - 1; text = varint byte length, then that many bytes of UTF-8.
 *
 *   0     magic        0xEC
 *   1     version      0x01
 *   2     type         0x01 ballot sheet | 0x02 marked ballot | 0x03 result sheet
 *   3..   body         per type, below
 *         key id       8 bytes: SHA-256(raw Ed25519 public key)[0..8]
 *         signature    64 bytes: Ed25519 over DOMAIN(type) || every byte before the signature
 *   DOMAIN(type) = "mixed-election/qr/v1/" + type name + 0x00, e.g. "mixed-election/qr/v1/ballot-sheet\0",
 *   so a signature made for one payload type, or for anything else the key signs, never verifies
 *   as another.
 *
 *   ballot sheet   electionId text | ballotStyleId text | serial varint
 *   marked ballot  electionId text | layout 4 bytes | ballotStyleId text | serial varint |
 *                  contestCount varint (= every contest of the style, in the style's order), then
 *                  per contest: markCount varint, then per mark, option indexes strictly ascending:
 *                    varint (optionIndex * 2 + hasText), then, if hasText, the write-in text
 *   result sheet   electionId text | layout 4 bytes | stationId text | sequence varint |
 *                  closedAt varint (Unix seconds) | votersCheckedIn varint | ballotsCast varint |
 *                  contestCount varint, then per contest, contest indexes strictly ascending:
 *                    contestIndex varint (the election's contest order) | optionCount varint
 *                    (= the contest's options that are not write-ins) | optionCount votes varints
 *                    in the contest's option order | writeIns varint | blanks varint
 *
 * The layout digest (layout.ts) pins the definition the indexes refer to. The body is
 * self-delimiting, so a payload's structure, key id and signature are read without the election;
 * turning indexes into ids needs the compiled election, and that step refuses out-of-range
 * indexes, overvotes, write-in text on other options, a missing contest, another election or
 * another layout. Nothing about a payload is trusted until verifyQrPayload has checked its
 * signature under a key the caller's lookup registered for that payload type.
 *
 * Ballot secrecy: a marked ballot carries no time, no device counter and no voter data; those would
 * let whoever saw the order of check-ins link a voter to a ballot. The serial is pre-printed on the
 * blank sheet, so sheets must be handed out in no recorded order.
 */
import type { ContestMarks } from "../ballot/messages.ts";
import { validateBallot, writeInProblem } from "../ballot/validate.ts";
import type { CompiledElection, Contest } from "../election/model.ts";
import { ElectionId } from "../election/settings.ts";
import { bytesEqual, hexEncode } from "../bytes.ts";
import { assertNever, err, ok, type Result } from "../result.ts";
import type { ContestTotals } from "../tally/totals.ts";
import { decodeBase45, encodeBase45 } from "./base45.ts";
import { ByteReader, ByteWriter, FieldError } from "./bytes.ts";
import { qrError, type QrError } from "./errors.ts";
import { ED25519_SIGNATURE_BYTES, QR_KEY_ID_BYTES, verifyEd25519, type QrPublicKey, type QrSigner } from "./keys.ts";
import { contestOrder, LAYOUT_DIGEST_BYTES, layoutDigest } from "./layout.ts";

export const QR_SCHEME_PREFIX = "ME1:";
export const QR_MAGIC = 0xec;
export const QR_FORMAT_VERSION = 1;

export const QR_TYPE_BYTES = { "ballot-sheet": 0x01, "marked-ballot": 0x02, "result-sheet": 0x03 } as const;
export type QrPayloadType = keyof typeof QR_TYPE_BYTES;
const TYPE_OF_BYTE: ReadonlyMap<number, QrPayloadType> = new Map(
  Object.entries(QR_TYPE_BYTES).map(([name, byte]) => [byte, name as QrPayloadType]),
);

/**
 * The largest payload we make or read. A QR code at level M holds 2,331 bytes of base45 text at
 * most (version 40, 3,391 alphanumeric characters); 1,536 bytes (2,304 characters) stays inside
 * that with room, and is far above what scans reliably (see docs/QR-PAYLOADS.md).
 */
export const MAX_PAYLOAD_BYTES = 1536;
const MAX_TEXT_LENGTH = QR_SCHEME_PREFIX.length + (MAX_PAYLOAD_BYTES / 2) * 3;

/** Ids (election, ballot style, station) are short plain text. */
export const MAX_ID_BYTES = 64;
/** As ContestMarks: a write-in name is 1-80 UTF-16 code units, so at most 240 UTF-8 bytes. */
export const MAX_WRITE_IN_LENGTH = 80;
const MAX_WRITE_IN_BYTES = MAX_WRITE_IN_LENGTH * 3;
/** As BallotAccepted: at most 256 contests on a ballot, 64 marks in a contest. */
const MAX_BALLOT_CONTESTS = 256;
const MAX_MARKS = 64;
/** Unix seconds of 9999-12-31T23:59:59Z. */
const MAX_UNIX_SECONDS = 253_402_300_799;

const CONTROL = /\p{Cc}/u;

// ---------------------------------------------------------------------------------------------
// Types

export interface BallotSheetFields {
  readonly electionId: string;
  readonly ballotStyleId: string;
  readonly serial: number;
}

export interface MarkedBallotFields {
  readonly electionId: string;
  readonly ballotStyleId: string;
  readonly serial: number;
  /** Decoded: every contest of the style in ballot order, option ids sorted (as validateBallot). */
  readonly contests: readonly ContestMarks[];
}

export interface ResultSheetFields {
  readonly electionId: string;
  readonly stationId: string;
  /** 1 for a station's first sheet; a later sheet (a correction) has a higher sequence. */
  readonly sequence: number;
  /** ISO 8601, whole seconds; decoded as YYYY-MM-DDTHH:MM:SSZ. */
  readonly closedAt: string;
  readonly votersCheckedIn: number;
  readonly ballotsCast: number;
  /**
   * Per contest as the tally counts (lib/tally/totals.ts): votes per option that is not a
   * write-in, write-in votes, blank contests. On encoding, an option left out counts 0; decoded,
   * every such option is listed in the contest's order, zeros included, contests in the
   * election's order.
   */
  readonly contests: readonly ContestTotals[];
}

export type QrFields =
  | { readonly type: "ballot-sheet"; readonly fields: BallotSheetFields }
  | { readonly type: "marked-ballot"; readonly fields: MarkedBallotFields }
  | { readonly type: "result-sheet"; readonly fields: ResultSheetFields };

/** A payload read but not yet verified: nothing in `fields` is trusted before verifyQrPayload. */
export type DecodedQrPayload = QrFields & {
  /** 16 lowercase hex digits. */
  readonly keyId: string;
  /** Every byte before the signature; the fields are read from these and nothing else. */
  readonly signedBytes: Uint8Array;
  readonly signature: Uint8Array;
};

export interface EncodedQr {
  readonly bytes: Uint8Array;
  /** What goes into the QR code: QR_SCHEME_PREFIX + base45(bytes). */
  readonly text: string;
}

/**
 * Answers with the public key registered under `keyId` for signing `type` payloads, or undefined:
 * election authority keys for ballot sheets, station device keys for the other two.
 */
export type QrKeyLookup = (keyId: string, type: QrPayloadType) => Promise<QrPublicKey | undefined>;

// ---------------------------------------------------------------------------------------------
// Shared pieces

const encoder = new TextEncoder();

function domain(type: QrPayloadType): Uint8Array {
  return encoder.encode(`mixed-election/qr/v${QR_FORMAT_VERSION}/${type}\u0000`);
}

function signedMessage(type: QrPayloadType, signedBytes: Uint8Array): Uint8Array {
  const prefix = domain(type);
  const out = new Uint8Array(prefix.length + signedBytes.length);
  out.set(prefix);
  out.set(signedBytes, prefix.length);
  return out;
}

/** Why an id is not acceptable, or undefined when it is. */
function idProblem(value: string, what: string): string | undefined {
  const bytes = encoder.encode(value).length;
  if (bytes === 0 || bytes > MAX_ID_BYTES) return `${what} is ${bytes} bytes, 1-${MAX_ID_BYTES} allowed`;
  if (CONTROL.test(value) || value.trim() !== value) return `${what} has control characters or surrounding spaces`;
  if (what === "electionId" && !ElectionId.safeParse(value).success) return `${what} is not an election id`;
  return undefined;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function header(type: QrPayloadType): ByteWriter {
  return new ByteWriter().byte(QR_MAGIC).byte(QR_FORMAT_VERSION).byte(QR_TYPE_BYTES[type]);
}

async function seal(type: QrPayloadType, body: ByteWriter, signer: QrSigner): Promise<Result<EncodedQr, QrError>> {
  if (signer.keyId.length !== QR_KEY_ID_BYTES) throw new RangeError(`a signer's key id is ${QR_KEY_ID_BYTES} bytes`);
  body.raw(signer.keyId);
  if (body.length + ED25519_SIGNATURE_BYTES > MAX_PAYLOAD_BYTES) {
    return err(qrError("too_long", `${body.length + ED25519_SIGNATURE_BYTES} bytes, at most ${MAX_PAYLOAD_BYTES}`));
  }
  const signedBytes = body.finish();
  const signature = await signer.sign(signedMessage(type, signedBytes));
  if (signature.length !== ED25519_SIGNATURE_BYTES) throw new RangeError("an Ed25519 signature is 64 bytes");
  const bytes = new Uint8Array(signedBytes.length + signature.length);
  bytes.set(signedBytes);
  bytes.set(signature, signedBytes.length);
  return ok({ bytes, text: qrText(bytes) });
}

export function qrText(bytes: Uint8Array): string {
  return QR_SCHEME_PREFIX + encodeBase45(bytes);
}

function closedAtSeconds(iso: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(iso)) return undefined;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms % 1000 !== 0) return undefined;
  const seconds = ms / 1000;
  return seconds >= 0 && seconds <= MAX_UNIX_SECONDS ? seconds : undefined;
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

// ---------------------------------------------------------------------------------------------
// Encoding

export async function encodeBallotSheet(
  sheet: BallotSheetFields,
  signer: QrSigner,
): Promise<Result<EncodedQr, QrError>> {
  const bad = idProblem(sheet.electionId, "electionId") ?? idProblem(sheet.ballotStyleId, "ballotStyleId");
  if (bad) return err(qrError("bad_string", bad));
  if (!isCount(sheet.serial)) return err(qrError("invalid_field", "the serial is a whole number from 0 to 2^53 - 1"));
  const body = header("ballot-sheet").text(sheet.electionId).text(sheet.ballotStyleId).varint(sheet.serial);
  return seal("ballot-sheet", body, signer);
}

/**
 * Checks the marks as a ballot-marking device must (validateBallot: known options, no overvote,
 * write-ins named) and encodes the canonical marks by index.
 */
export async function encodeMarkedBallot(
  ballot: MarkedBallotFields,
  election: CompiledElection,
  signer: QrSigner,
): Promise<Result<EncodedQr, QrError>> {
  if (ballot.electionId !== election.id)
    return err(qrError("wrong_election", `${ballot.electionId} is not ${election.id}`));
  const badId = idProblem(ballot.ballotStyleId, "ballotStyleId");
  if (badId) return err(qrError("bad_string", badId));
  if (!isCount(ballot.serial)) return err(qrError("invalid_field", "the serial is a whole number from 0 to 2^53 - 1"));
  const style = election.ballotStyles.get(ballot.ballotStyleId);
  if (!style) return err(qrError("unknown_ballot_style", ballot.ballotStyleId));
  const valid = validateBallot(election, ballot.ballotStyleId, ballot.contests);
  if (!valid.ok) return err(qrError("invalid_ballot", undefined, { problems: valid.error }));
  if (style.contestIds.length > MAX_BALLOT_CONTESTS) {
    return err(qrError("invalid_field", `the ballot style has more than ${MAX_BALLOT_CONTESTS} contests`));
  }

  const body = header("marked-ballot")
    .text(ballot.electionId)
    .raw(await layoutDigest(election))
    .text(ballot.ballotStyleId)
    .varint(ballot.serial)
    .varint(valid.value.length);
  const problems: { path: string; message: string; code: string }[] = [];
  valid.value.forEach((marks, i) => {
    const contest = election.contests.get(marks.contestId)!;
    const marked = new Set(marks.optionIds);
    const indexes = contest.options.flatMap((o, k) => (marked.has(o.id) ? [k] : []));
    body.varint(indexes.length);
    for (const k of indexes) {
      const option = contest.options[k]!;
      const text = option.isWriteIn ? marks.writeIns?.[option.id] : undefined;
      if (text === undefined) {
        body.varint(k * 2);
        continue;
      }
      const bad = writeInProblem(text);
      if (bad) problems.push({ path: `/contests/${i}/writeIns/${option.id}`, message: bad, code: "write_in_invalid" });
      body.varint(k * 2 + 1).text(text);
    }
  });
  if (problems.length > 0) return err(qrError("invalid_ballot", undefined, { problems }));
  return seal("marked-ballot", body, signer);
}

export async function encodeResultSheet(
  sheet: ResultSheetFields,
  election: CompiledElection,
  signer: QrSigner,
): Promise<Result<EncodedQr, QrError>> {
  if (sheet.electionId !== election.id)
    return err(qrError("wrong_election", `${sheet.electionId} is not ${election.id}`));
  const badId = idProblem(sheet.stationId, "stationId");
  if (badId) return err(qrError("bad_string", badId));
  const closedAt = closedAtSeconds(sheet.closedAt);
  if (closedAt === undefined) return err(qrError("invalid_field", "closedAt is an ISO 8601 time in whole seconds"));
  for (const [what, value] of [
    ["sequence", sheet.sequence],
    ["votersCheckedIn", sheet.votersCheckedIn],
    ["ballotsCast", sheet.ballotsCast],
  ] as const) {
    if (!isCount(value)) return err(qrError("invalid_field", `${what} is a whole number from 0 to 2^53 - 1`));
  }

  const order = contestOrder(election);
  const indexOf = new Map(order.map((id, i) => [id, i]));
  const rows: { index: number; contest: Contest; totals: ContestTotals }[] = [];
  const seen = new Set<string>();
  for (const totals of sheet.contests) {
    const index = indexOf.get(totals.contestId);
    const contest = election.contests.get(totals.contestId);
    if (index === undefined || !contest) return err(qrError("unknown_contest", totals.contestId));
    if (seen.has(totals.contestId)) return err(qrError("duplicate_contest", totals.contestId));
    seen.add(totals.contestId);
    rows.push({ index, contest, totals });
  }
  rows.sort((a, b) => a.index - b.index);

  const body = header("result-sheet")
    .text(sheet.electionId)
    .raw(await layoutDigest(election))
    .text(sheet.stationId)
    .varint(sheet.sequence)
    .varint(closedAt)
    .varint(sheet.votersCheckedIn)
    .varint(sheet.ballotsCast)
    .varint(rows.length);
  for (const { index, contest, totals } of rows) {
    const counted = contest.options.filter((o) => !o.isWriteIn);
    const votes = new Map<string, number>();
    for (const { optionId, votes: n } of totals.options) {
      if (!counted.some((o) => o.id === optionId)) {
        return err(qrError("unknown_option", `${totals.contestId}: ${optionId} (write-in votes go in writeIns)`));
      }
      if (votes.has(optionId)) return err(qrError("duplicate_option", `${totals.contestId}: ${optionId}`));
      if (!isCount(n)) return err(qrError("invalid_field", `${totals.contestId}: ${optionId} votes`));
      votes.set(optionId, n);
    }
    if (!isCount(totals.writeIns) || !isCount(totals.blanks)) {
      return err(qrError("invalid_field", `${totals.contestId}: writeIns and blanks are whole numbers`));
    }
    body.varint(index).varint(counted.length);
    for (const option of counted) body.varint(votes.get(option.id) ?? 0);
    body.varint(totals.writeIns).varint(totals.blanks);
  }
  return seal("result-sheet", body, signer);
}

// ---------------------------------------------------------------------------------------------
// Decoding: structure first (no election), then indexes against the election

interface RawMarkedBallot {
  readonly electionId: string;
  readonly layout: Uint8Array;
  readonly ballotStyleId: string;
  readonly serial: number;
  readonly contests: {
    readonly offset: number;
    readonly marks: { readonly index: number; readonly text?: string }[];
  }[];
}

interface RawResultSheet {
  readonly electionId: string;
  readonly layout: Uint8Array;
  readonly stationId: string;
  readonly sequence: number;
  readonly closedAt: number;
  readonly votersCheckedIn: number;
  readonly ballotsCast: number;
  readonly contests: {
    readonly offset: number;
    readonly index: number;
    readonly votes: number[];
    readonly writeIns: number;
    readonly blanks: number;
  }[];
}

type RawBody =
  | { readonly type: "ballot-sheet"; readonly body: BallotSheetFields }
  | { readonly type: "marked-ballot"; readonly body: RawMarkedBallot }
  | { readonly type: "result-sheet"; readonly body: RawResultSheet };

type RawPayload = RawBody & {
  readonly keyId: string;
  readonly signedBytes: Uint8Array;
  readonly signature: Uint8Array;
};

function readId(reader: ByteReader, what: string): string {
  const start = reader.position;
  const value = reader.text(MAX_ID_BYTES, what);
  const bad = idProblem(value, what);
  if (bad) throw new FieldError("bad_string", start, bad);
  return value;
}

function readBallotSheet(reader: ByteReader): BallotSheetFields {
  const electionId = readId(reader, "electionId");
  const ballotStyleId = readId(reader, "ballotStyleId");
  const serial = reader.varint();
  return { electionId, ballotStyleId, serial };
}

function readMarkedBallot(reader: ByteReader): RawMarkedBallot {
  const electionId = readId(reader, "electionId");
  const layout = reader.raw(LAYOUT_DIGEST_BYTES);
  const ballotStyleId = readId(reader, "ballotStyleId");
  const serial = reader.varint();
  const contestCount = reader.boundedVarint(MAX_BALLOT_CONTESTS, "the number of contests");
  const contests: RawMarkedBallot["contests"] = [];
  for (let i = 0; i < contestCount; i++) {
    const offset = reader.position;
    const markCount = reader.boundedVarint(MAX_MARKS, "the number of marks in a contest");
    const marks: { index: number; text?: string }[] = [];
    for (let m = 0; m < markCount; m++) {
      const at = reader.position;
      const value = reader.varint();
      const index = Math.floor(value / 2);
      const previous = marks[marks.length - 1];
      if (previous && index === previous.index)
        throw new FieldError("duplicate_option", at, `option index ${index} twice`);
      if (previous && index < previous.index)
        throw new FieldError("non_canonical", at, `option index ${index} after ${previous.index}`);
      if (value % 2 === 1) {
        const textAt = reader.position;
        const text = reader.text(MAX_WRITE_IN_BYTES, "a write-in");
        const bad = writeInProblem(text);
        if (bad) throw new FieldError("bad_string", textAt, bad);
        marks.push({ index, text });
      } else {
        marks.push({ index });
      }
    }
    contests.push({ offset, marks });
  }
  return { electionId, layout, ballotStyleId, serial, contests };
}

function readResultSheet(reader: ByteReader): RawResultSheet {
  const electionId = readId(reader, "electionId");
  const layout = reader.raw(LAYOUT_DIGEST_BYTES);
  const stationId = readId(reader, "stationId");
  const sequence = reader.varint();
  const closedAt = reader.boundedVarint(MAX_UNIX_SECONDS, "closedAt");
  const votersCheckedIn = reader.varint();
  const ballotsCast = reader.varint();
  const contestCount = reader.varint();
  const contests: RawResultSheet["contests"] = [];
  // Each contest takes at least 4 bytes, so the loop ends at the payload's end whatever the count says.
  for (let i = 0; i < contestCount; i++) {
    const offset = reader.position;
    const index = reader.varint();
    const previous = contests[contests.length - 1];
    if (previous && index === previous.index)
      throw new FieldError("duplicate_contest", offset, `contest index ${index} twice`);
    if (previous && index < previous.index)
      throw new FieldError("non_canonical", offset, `contest index ${index} after ${previous.index}`);
    const optionCount = reader.varint();
    const votes: number[] = [];
    for (let k = 0; k < optionCount; k++) votes.push(reader.varint());
    const writeIns = reader.varint();
    const blanks = reader.varint();
    contests.push({ offset, index, votes, writeIns, blanks });
  }
  return { electionId, layout, stationId, sequence, closedAt, votersCheckedIn, ballotsCast, contests };
}

function readStructure(bytes: Uint8Array): Result<RawPayload, QrError> {
  if (bytes.length > MAX_PAYLOAD_BYTES) return err(qrError("too_long", `${bytes.length} bytes`));
  const reader = new ByteReader(bytes);
  try {
    if (reader.byte() !== QR_MAGIC) return err(qrError("bad_magic", undefined, { offset: 0 }));
    const version = reader.byte();
    if (version !== QR_FORMAT_VERSION) return err(qrError("unsupported_version", `version ${version}`, { offset: 1 }));
    const typeByte = reader.byte();
    const type = TYPE_OF_BYTE.get(typeByte);
    if (!type) return err(qrError("unknown_type", `type 0x${typeByte.toString(16).padStart(2, "0")}`, { offset: 2 }));
    let raw: RawBody;
    switch (type) {
      case "ballot-sheet":
        raw = { type, body: readBallotSheet(reader) };
        break;
      case "marked-ballot":
        raw = { type, body: readMarkedBallot(reader) };
        break;
      case "result-sheet":
        raw = { type, body: readResultSheet(reader) };
        break;
      default:
        return assertNever(type);
    }
    const keyId = hexEncode(reader.raw(QR_KEY_ID_BYTES));
    const signedLength = reader.position;
    const signature = reader.raw(ED25519_SIGNATURE_BYTES);
    if (reader.remaining > 0)
      return err(qrError("trailing_bytes", `${reader.remaining} bytes`, { offset: reader.position }));
    return ok({ ...raw, keyId, signedBytes: bytes.slice(0, signedLength), signature });
  } catch (error) {
    if (error instanceof FieldError) return err(qrError(error.code, error.detail, { offset: error.offset }));
    throw error;
  }
}

function resolveMarkedBallot(raw: RawMarkedBallot, election: CompiledElection): Result<MarkedBallotFields, QrError> {
  const style = election.ballotStyles.get(raw.ballotStyleId);
  if (!style) return err(qrError("unknown_ballot_style", raw.ballotStyleId));
  if (raw.contests.length !== style.contestIds.length) {
    return err(
      qrError("contest_count_mismatch", `${raw.contests.length} contests, the style has ${style.contestIds.length}`),
    );
  }
  const contests: ContestMarks[] = [];
  for (const [i, { offset, marks }] of raw.contests.entries()) {
    const contest = election.contests.get(style.contestIds[i]!)!;
    const optionIds: string[] = [];
    const writeIns: Record<string, string> = {};
    for (const mark of marks) {
      const option = contest.options[mark.index];
      if (!option) {
        return err(
          qrError("index_out_of_range", `${contest.id}: option ${mark.index} of ${contest.options.length}`, { offset }),
        );
      }
      if (option.isWriteIn && mark.text === undefined) return err(qrError("write_in_missing", option.id, { offset }));
      if (!option.isWriteIn && mark.text !== undefined)
        return err(qrError("write_in_not_allowed", option.id, { offset }));
      optionIds.push(option.id);
      if (mark.text !== undefined) writeIns[option.id] = mark.text;
    }
    if (optionIds.length > contest.votesAllowed) {
      return err(
        qrError("overvote", `${contest.id}: ${optionIds.length} marked, ${contest.votesAllowed} allowed`, { offset }),
      );
    }
    contests.push({
      contestId: contest.id,
      optionIds: optionIds.sort(),
      ...(Object.keys(writeIns).length > 0 ? { writeIns } : {}),
    });
  }
  return ok({ electionId: raw.electionId, ballotStyleId: raw.ballotStyleId, serial: raw.serial, contests });
}

function resolveResultSheet(raw: RawResultSheet, election: CompiledElection): Result<ResultSheetFields, QrError> {
  const order = contestOrder(election);
  const contests: ContestTotals[] = [];
  for (const row of raw.contests) {
    const contestId = order[row.index];
    const contest = contestId === undefined ? undefined : election.contests.get(contestId);
    if (!contest)
      return err(qrError("index_out_of_range", `contest ${row.index} of ${order.length}`, { offset: row.offset }));
    const counted = contest.options.filter((o) => !o.isWriteIn);
    if (row.votes.length !== counted.length) {
      return err(
        qrError("option_count_mismatch", `${contest.id}: ${row.votes.length} counts for ${counted.length} options`, {
          offset: row.offset,
        }),
      );
    }
    contests.push({
      contestId: contest.id,
      options: counted.map((o, k) => ({ optionId: o.id, votes: row.votes[k]! })),
      writeIns: row.writeIns,
      blanks: row.blanks,
    });
  }
  return ok({
    electionId: raw.electionId,
    stationId: raw.stationId,
    sequence: raw.sequence,
    closedAt: isoSeconds(raw.closedAt),
    votersCheckedIn: raw.votersCheckedIn,
    ballotsCast: raw.ballotsCast,
    contests,
  });
}

/** The transport: "ME1:" + base45, nothing else. */
export function qrBytesOf(text: string): Result<Uint8Array, QrError> {
  if (!text.startsWith(QR_SCHEME_PREFIX)) return err(qrError("not_a_payload"));
  if (text.length > MAX_TEXT_LENGTH) return err(qrError("too_long", `${text.length} characters`));
  const bytes = decodeBase45(text.slice(QR_SCHEME_PREFIX.length));
  return bytes ? ok(bytes) : err(qrError("bad_text_encoding"));
}

/**
 * Which election a payload says it belongs to, so the caller knows which one to load before
 * decodeQrPayload. Reads the whole structure (a malformed payload is refused here already), but
 * checks no signature: the answer is a hint, not a fact.
 */
export function readQrHeader(
  text: string,
): Result<{ type: QrPayloadType; electionId: string; keyId: string }, QrError> {
  const bytes = qrBytesOf(text);
  if (!bytes.ok) return bytes;
  const raw = readStructure(bytes.value);
  if (!raw.ok) return raw;
  return ok({ type: raw.value.type, electionId: raw.value.body.electionId, keyId: raw.value.keyId });
}

/**
 * Reads a payload's bytes. Ballot sheets read without an election (given one, the election and
 * ballot style are checked); marked ballots and result sheets need it to turn indexes into ids.
 */
export async function decodeQrBytes(
  bytes: Uint8Array,
  election?: CompiledElection,
): Promise<Result<DecodedQrPayload, QrError>> {
  const read = readStructure(bytes);
  if (!read.ok) return read;
  const raw = read.value;
  const envelope = { keyId: raw.keyId, signedBytes: raw.signedBytes, signature: raw.signature };
  if (raw.type === "ballot-sheet") {
    if (election) {
      if (raw.body.electionId !== election.id)
        return err(qrError("wrong_election", `${raw.body.electionId} is not ${election.id}`));
      if (!election.ballotStyles.has(raw.body.ballotStyleId))
        return err(qrError("unknown_ballot_style", raw.body.ballotStyleId));
    }
    return ok({ type: raw.type, fields: raw.body, ...envelope });
  }
  if (!election) return err(qrError("election_required", `${raw.type} of ${raw.body.electionId}`));
  if (raw.body.electionId !== election.id)
    return err(qrError("wrong_election", `${raw.body.electionId} is not ${election.id}`));
  if (!bytesEqual(raw.body.layout, await layoutDigest(election))) return err(qrError("layout_mismatch"));
  switch (raw.type) {
    case "marked-ballot": {
      const fields = resolveMarkedBallot(raw.body, election);
      return fields.ok ? ok({ type: raw.type, fields: fields.value, ...envelope }) : fields;
    }
    case "result-sheet": {
      const fields = resolveResultSheet(raw.body, election);
      return fields.ok ? ok({ type: raw.type, fields: fields.value, ...envelope }) : fields;
    }
    default:
      return assertNever(raw);
  }
}

/** Reads a scanned QR text. Never throws on any input: every refusal is a QrError. */
export async function decodeQrPayload(
  text: string,
  election?: CompiledElection,
): Promise<Result<DecodedQrPayload, QrError>> {
  const bytes = qrBytesOf(text);
  if (!bytes.ok) return bytes;
  return decodeQrBytes(bytes.value, election);
}

/**
 * Checks the signature under the key the lookup registered for this key id and payload type.
 * The fields were read from `signedBytes` alone, so a verified signature vouches for all of them.
 */
export async function verifyQrPayload(
  decoded: DecodedQrPayload,
  lookupKey: QrKeyLookup,
): Promise<Result<DecodedQrPayload, QrError>> {
  const key = await lookupKey(decoded.keyId, decoded.type);
  if (!key) return err(qrError("unknown_key", `${decoded.keyId} for ${decoded.type}`));
  const keyId = decoded.signedBytes.slice(decoded.signedBytes.length - QR_KEY_ID_BYTES);
  if (hexEncode(keyId) !== decoded.keyId) throw new Error("a decoded payload's key id does not match its signed bytes");
  const verified = await verifyEd25519(key, keyId, signedMessage(decoded.type, decoded.signedBytes), decoded.signature);
  return verified.ok ? ok(decoded) : verified;
}

/** decodeQrPayload then verifyQrPayload: what a scan validator calls. */
export async function readSignedQrPayload(
  text: string,
  election: CompiledElection | undefined,
  lookupKey: QrKeyLookup,
): Promise<Result<DecodedQrPayload, QrError>> {
  const decoded = await decodeQrPayload(text, election);
  if (!decoded.ok) return decoded;
  return verifyQrPayload(decoded.value, lookupKey);
}

/** What a result sheet says of itself that needs no election layout to read: all but the totals. */
export interface ResultSheetHeadline extends Omit<ResultSheetFields, "contests"> {
  /** 16 lowercase hex digits: the signing key's id. */
  readonly keyId: string;
}

/**
 * Checks a result sheet's signature under the raw Ed25519 key `publicKeyOf` gives for its key id
 * (the key must hash to that id) and reads its headline figures: what an auditor can do with a
 * station key published in the audit log and no election definition. The per-contest totals need
 * the election's layout (decodeQrPayload).
 */
export async function verifyResultSheetText(
  text: string,
  publicKeyOf: (keyId: string) => Uint8Array | undefined,
): Promise<Result<ResultSheetHeadline, QrError>> {
  const bytes = qrBytesOf(text);
  if (!bytes.ok) return bytes;
  const raw = readStructure(bytes.value);
  if (!raw.ok) return raw;
  if (raw.value.type !== "result-sheet") return err(qrError("unknown_type", `a ${raw.value.type}, not a result sheet`));
  const key = publicKeyOf(raw.value.keyId);
  if (!key) return err(qrError("unknown_key", raw.value.keyId));
  const keyId = raw.value.signedBytes.slice(raw.value.signedBytes.length - QR_KEY_ID_BYTES);
  const verified = await verifyEd25519(
    key,
    keyId,
    signedMessage("result-sheet", raw.value.signedBytes),
    raw.value.signature,
  );
  if (!verified.ok) return verified;
  const body = raw.value.body;
  return ok({
    electionId: body.electionId,
    stationId: body.stationId,
    sequence: body.sequence,
    closedAt: isoSeconds(body.closedAt),
    votersCheckedIn: body.votersCheckedIn,
    ballotsCast: body.ballotsCast,
    keyId: raw.value.keyId,
  });
}
