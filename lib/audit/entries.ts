/**
 * Audit-log entries: what the public log of an election holds, one leaf per entry, in a
 * canonical, versioned binary encoding that the sequencer writes and the auditor CLI decodes.
 * Runtime-free (no Worker or Node imports).
 *
 * No entry names a voter, and nothing public links a receipt to a choice (docs/AUDIT-LOG.md):
 * - a `ballot` entry carries the ballot's commitment (a receipt proves its inclusion), channel,
 *   district and minute of acceptance, never its marks;
 * - a `cast-vote-record` entry carries a ballot's marks, district and ballot style, never its
 *   commitment, tracking code, ballot id, channel or time; cast vote records are published only
 *   after the polls close, when no ballot can be retracted any more, each district's in a random
 *   order, so a receipt cannot be matched to its marks by position or time;
 * - write-in texts are never published (only that a write-in option was marked): a free text is
 *   a way to sign a ballot, which would let a voter prove their vote to a buyer.
 *
 * Encoding, version 1 (all integers unsigned big-endian):
 *
 *   entry   = version:u8 (0x01) ‖ type:u8 ‖ body           -- nothing may follow the body
 *   time    = u32, seconds since 1970-01-01T00:00:00Z
 *   minute  = time that is a multiple of 60 (coarse times: the encoder floors to the minute)
 *   text    = u16 byte length ‖ UTF-8 (well-formed), 1..1024 bytes; "text?" may be empty (length 0)
 *   token   = text of 1..128 characters from A-Z a-z 0-9 "-" "_" (commitments, tracking codes)
 *   digest  = 32 raw bytes (SHA-256)
 *   list(x) = u16 count ‖ x*count
 *
 *   0x01 ballot               channel:u8 (1 online, 2 paper) ‖ district:text ‖ station:text? ‖
 *                             acceptedAt:minute ‖ commitment:token (base64url, as the receipt shows it)
 *   0x02 retraction           reason:u8 (1 superseded-by-online, 2 cancelled-by-paper) ‖
 *                             district:text ‖ blindedCode:digest
 *                             blindedCode = HMAC-SHA-256(k_e, "mixed-election/retraction-blind/v1" 0x0A
 *                             trackingCode), k_e the election's retraction key (0x18)
 *   0x03 cast-vote-record     district:text ‖ ballotStyle:text ‖ list(contest), 1..256 contests;
 *                             contest = contestId:text ‖ u8 count (0..64) ‖ mark*count;
 *                             mark = optionId:text ‖ flags:u8 (0x01 = write-in; other bits 0);
 *                             marks in strictly increasing byte order of optionId
 *   0x04 check-in             station:text ‖ district:text ‖ at:minute
 *   0x05 station-results      station:text ‖ sequence:u16 (1, then corrections) ‖ closedAt:time ‖
 *                             votersCheckedIn:u32 ‖ ballotsCast:u32 ‖ list(contestId:text ‖
 *                             list(optionId:text ‖ votes:u32) ‖ writeIns:u32 ‖ blanks:u32) ‖
 *                             sheet:(u16 length ‖ UTF-8, may be empty; the signed QR text as scanned)
 *   0x06 paper-cancellation   station:text ‖ district:text ‖ at:minute ‖ serial:text ‖ reason:text
 *   0x10 definition-loaded    at:time ‖ version:u32 ‖ definitionSha256:digest ‖ opensAt:time ‖
 *                             closesAt:time ‖ policy:u8 (1 first-wins, 2 paper-supersedes) ‖
 *                             visibility:u8 (1 live, 2 after-close) ‖
 *                             records:u8 (1 whole-ballot, 2 per-contest) ‖ minBallotsPerRelease:u32 (k, >= 1)
 *   0x11 roll-imported        at:time ‖ firstLine:u32 ‖ rows:u32 ‖ accepted:u32 ‖ written:u32 ‖
 *                             unchanged:u32 ‖ rejected:u32 ‖ chunkDigest:digest
 *                             (HMAC-SHA-256 of the chunk under a key derived from the roll-hash
 *                             key and the election id: the public cannot test guessed rows)
 *   0x12 polls-opened         at:time
 *   0x13 polls-closed         at:time
 *   0x14 official-key-added   at:time ‖ role:u8 (1 administrator, 2 station-official, 3 auditor) ‖
 *                             officialId:text ‖ kid:text ‖ thumbprint:digest (RFC 7638, SHA-256)
 *   0x15 official-key-revoked at:time ‖ officialId:text ‖ kid:text
 *   0x16 official-revoked     at:time ‖ officialId:text
 *   0x17 cast-vote-records-published
 *                             at:time ‖ round:u16 (1, 2, ...) ‖ list(district:text ‖ records:u32 ‖
 *                             withheld:u32), districts in strictly increasing byte order; records =
 *                             record entries (0x03 or 0x19) of the round, withheld = ballots whose
 *                             records wait for a later round (fewer than k in the district)
 *   0x18 retraction-key       at:time ‖ key:digest (k_e, published once, after the polls closed)
 *   0x19 contest-vote-record  district:text ‖ ballotStyle:text ‖ contestId:text ‖ u8 count (0..64) ‖
 *                             mark*count (as in 0x03): one contest of one counted ballot
 *
 * The authorities that may sign ballots and result sheets (security review M7): every change is
 * an entry of each election it concerns, so a key that signed something is in the log before it,
 * and the public key itself is there for anyone to verify a station's signed result sheet.
 *   pubkey  = 32 raw bytes, an Ed25519 public key (a JWK's "x"); on the value, base64url
 *   serial  = u64, at most 2^53 - 1
 *   0x20 station-registered   at:time ‖ station:text ‖ list(district:text), 1.. districts in
 *                             strictly increasing byte order (its first key and ranges follow
 *                             as their own entries)
 *   0x21 station-revoked      at:time ‖ station:text
 *   0x22 station-key-added    at:time ‖ station:text ‖ kid:text ‖ thumbprint:digest (RFC 7638,
 *                             SHA-256) ‖ publicKey:pubkey
 *   0x23 station-key-revoked  at:time ‖ station:text ‖ kid:text
 *   0x24 serial-range-issued  at:time ‖ station:text ‖ first:serial ‖ count:serial (1.., and
 *                             first + count - 1 at most 2^53 - 1)
 *   0x25 sheet-key-added      at:time ‖ kid:text ‖ thumbprint:digest ‖ publicKey:pubkey
 *   0x26 sheet-key-revoked    at:time ‖ kid:text
 * Whether a thumbprint is the public key's is the auditor's check (hashing is not the codec's).
 *
 * An administrator's early close of the polls (an emergency) and its reopening, logged by the
 * polls routes (workers/gateway/routes/polls.ts) before the change is in force:
 *   0x27 polls-closed-early   at:time ‖ effectiveAt:time ‖ officialId:text ‖ reason:text
 *                             (effectiveAt: from when no ballot, check-in or scan is accepted,
 *                             a whole second after every isolate reloaded the election; before
 *                             the scheduled close, which stays the close for everything else)
 *   0x28 polls-reopened       at:time ‖ officialId:text ‖ reason:text (voting is accepted again
 *                             from `at` until the scheduled close)
 *
 * Results exports and certification (docs/AUDIT-LOG.md "Exports"):
 *   0x29 results-published    at:time ‖ logSize:u32 ‖ records:u32 ‖ resultsSha256:digest ‖
 *                             cvrSha256:digest -- the NIST results report and cast vote record
 *                             export (logs/<id>/exports/), made once every record entry of the
 *                             log's first logSize entries was published; records = the record
 *                             entries (0x03 or 0x19) the CVR export holds
 *   0x2a results-certified    at:time ‖ officialId:text ‖ resultsSha256:digest ‖ statement:text?
 *                             -- an administrator certified the report with this digest
 *
 * Offline check-ins (docs/PAPER.md "Offline"): an administrator's decision on a conflict between
 * a station's offline check-in and the voter's other channel, logged before it is applied:
 *   0x2b conflict-adjudicated at:time ‖ conflictId:text ‖ station:text ‖ district:text ‖
 *                             decision:u8 (1 count, 2 do-not-count) ‖ officialId:text ‖
 *                             reason:text -- nothing that names a voter
 *
 * Security monitoring (docs/MONITORING.md): a high-severity alert of the security monitor, and an
 * official's closing of one. The scope is verbatim for `election`, `station:<id>` and
 * `district:<id>` only; a country, network, address or voter scope is logged as its kind alone
 * (`country`, `network`, `address`, `voter`), and the closing note stays with officials:
 *   0x2c alert-raised         at:time ‖ alertId:text ‖ rule:text ‖ scope:text
 *   0x2d alert-closed         at:time ‖ alertId:text ‖ officialId:text
 *
 * Decoding is strict: an unknown version or type, a short or over-long entry, a bad enum value,
 * malformed UTF-8, a coarse time that is not on a minute, marks out of order: each is an error
 * naming the byte offset. Every accepted byte string re-encodes to itself (one encoding per entry).
 * Whether a commitment and a tracking code belong together, or a retraction names a logged
 * ballot, is the auditor's check over the whole log (lib/audit/recount.ts), not the codec's.
 *
 * Retractions (H1 of the security review): during voting a retraction must not tell a coercer
 * holding a receipt that this receipt's ballot no longer counts, so it names its ballot only by a
 * keyed blinding of the tracking code. The key is the sequencer's own, random per election, and
 * is published in a `retraction-key` entry after the polls close, when anyone can check every
 * retraction against an earlier ballot entry. A retraction carries no time: its position in the
 * log is shuffled within its sequencing step (durable-objects/log-sequencer.ts).
 *
 * Records (M5): with `per-contest` records (the default) each counted ballot gives one
 * `contest-vote-record` per contest, each contest's shuffled on its own, so no published record
 * holds a combination across contests that a coercer could assign as a signature. The ballot
 * style stays on each record so that an auditor can check, per district and style, that every
 * contest has as many records as counted ballots; it is shared by every ballot of that style.
 * It is a type of its own rather than a changed 0x03: a whole-ballot record with one contest and
 * one contest of a larger ballot must never be read as the same thing (they count ballots
 * differently), and whole-ballot elections keep 0x03 as it was.
 */
import * as z from "zod";
import type { BallotAccepted } from "../ballot/messages.ts";
import { err, ok, type Result } from "../result.ts";
import {
  CastVoteRecordsMode,
  Channel,
  ConflictDecision,
  CrossChannelPolicy,
  OfficialRole,
  ResultsVisibility,
  RetractionReason,
  StationKeyRole,
} from "../vocabulary.ts";
import { hexDecode, hexEncode, utf8 } from "../bytes.ts";
import {
  compareUtf8,
  encodeEntry,
  MAX_CONTESTS,
  MAX_MARKS,
  MAX_TEXT_BYTES,
  SERIAL_MAX,
  TOKEN,
  U32_MAX,
  type EntryTypeName,
} from "./entry-codec.ts";

// The binary codec lives in ./entry-codec.ts (no zod, so browser code can share it); every
// importer of this module keeps getting it from here.
export * from "./entry-codec.ts";

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// The entries as values (what producers pass over RPC, parsed with these schemas).

const Text = z
  .string()
  .min(1)
  .refine(
    (s) => encoder.encode(s).length <= MAX_TEXT_BYTES && !/\p{Surrogate}/u.test(s),
    "at most 1024 bytes of well-formed UTF-8",
  );
const OptionalText = z.union([z.literal(""), Text]);
const Time = z.iso.datetime();
const Count = z.number().int().min(0).max(U32_MAX);
const Digest = z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits");
/** An Ed25519 public key as a JWK's `x`: 32 bytes in base64url, no padding. */
const PublicKey = z.string().regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, "32 bytes in base64url (a JWK's x)");
const Serial = z.number().int().min(0).max(SERIAL_MAX);
const Token = z.string().regex(TOKEN, "1-128 letters, digits, dashes or underscores");

export const CvrMark = z.object({ optionId: Text, writeIn: z.boolean() }).strict();
export const CvrContest = z.object({ contestId: Text, marks: z.array(CvrMark).max(MAX_MARKS) }).strict();

export const StationContestTotals = z
  .object({
    contestId: Text,
    options: z.array(z.object({ optionId: Text, votes: Count }).strict()).max(0xffff),
    writeIns: Count,
    blanks: Count,
  })
  .strict();

export const LogEntry = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("ballot"),
      channel: Channel,
      districtId: Text,
      /** Paper ballots: the station that scanned it; "" for online ballots. */
      stationId: OptionalText,
      acceptedAt: Time,
      /** As lib/ballot/commitment.ts writes it (base64url of a SHA-256). */
      commitment: Token,
    })
    .strict(),
  z
    .object({
      type: z.literal("retraction"),
      reason: RetractionReason,
      districtId: Text,
      /** HMAC-SHA-256 of the retracted ballot's tracking code under the election's retraction key (retractionBlind). */
      blindedCode: Digest,
    })
    .strict(),
  z
    .object({
      type: z.literal("cast-vote-record"),
      districtId: Text,
      ballotStyleId: Text,
      contests: z.array(CvrContest).min(1).max(MAX_CONTESTS),
    })
    .strict(),
  z.object({ type: z.literal("check-in"), stationId: Text, districtId: Text, at: Time }).strict(),
  z
    .object({
      type: z.literal("station-results"),
      stationId: Text,
      sequence: z.number().int().min(1).max(0xffff),
      closedAt: Time,
      votersCheckedIn: Count,
      ballotsCast: Count,
      contests: z.array(StationContestTotals).max(0xffff),
      /** The station's signed result-sheet QR text as submitted, for anyone to check its signature. */
      sheet: z
        .string()
        .refine((t) => encoder.encode(t).length <= 0xffff && !/\p{Surrogate}/u.test(t), "at most 65535 bytes of UTF-8"),
    })
    .strict(),
  z
    .object({
      type: z.literal("paper-cancellation"),
      stationId: Text,
      districtId: Text,
      at: Time,
      serial: Text,
      reason: Text,
    })
    .strict(),
  z
    .object({
      type: z.literal("definition-loaded"),
      at: Time,
      version: Count,
      definitionSha256: Digest,
      opensAt: Time,
      closesAt: Time,
      crossChannelPolicy: CrossChannelPolicy,
      resultsVisibility: ResultsVisibility,
      castVoteRecords: CastVoteRecordsMode,
      minBallotsPerRelease: z.number().int().min(1).max(U32_MAX),
    })
    .strict(),
  z
    .object({
      type: z.literal("roll-imported"),
      at: Time,
      firstLine: Count,
      rows: Count,
      accepted: Count,
      written: Count,
      unchanged: Count,
      rejected: Count,
      chunkDigest: Digest,
    })
    .strict(),
  z.object({ type: z.literal("polls-opened"), at: Time }).strict(),
  z.object({ type: z.literal("polls-closed"), at: Time }).strict(),
  z
    .object({
      type: z.literal("official-key-added"),
      at: Time,
      role: OfficialRole,
      officialId: Text,
      kid: Text,
      thumbprint: Digest,
    })
    .strict(),
  z.object({ type: z.literal("official-key-revoked"), at: Time, officialId: Text, kid: Text }).strict(),
  z.object({ type: z.literal("official-revoked"), at: Time, officialId: Text }).strict(),
  z
    .object({
      type: z.literal("cast-vote-records-published"),
      at: Time,
      round: z.number().int().min(1).max(0xffff),
      districts: z.array(z.object({ districtId: Text, records: Count, withheld: Count }).strict()).max(0xffff),
    })
    .strict(),
  z.object({ type: z.literal("retraction-key"), at: Time, key: Digest }).strict(),
  z
    .object({
      type: z.literal("contest-vote-record"),
      districtId: Text,
      ballotStyleId: Text,
      contestId: Text,
      marks: z.array(CvrMark).max(MAX_MARKS),
    })
    .strict(),
  z
    .object({
      type: z.literal("station-registered"),
      at: Time,
      stationId: Text,
      districtIds: z.array(Text).min(1).max(0xffff),
    })
    .strict(),
  z.object({ type: z.literal("station-revoked"), at: Time, stationId: Text }).strict(),
  z
    .object({
      type: z.literal("station-key-added"),
      at: Time,
      stationId: Text,
      kid: Text,
      /** What the key may sign: requests and result sheets (client), or marked ballots only. */
      role: StationKeyRole,
      thumbprint: Digest,
      publicKey: PublicKey,
    })
    .strict(),
  z.object({ type: z.literal("station-key-revoked"), at: Time, stationId: Text, kid: Text }).strict(),
  z
    .object({
      type: z.literal("serial-range-issued"),
      at: Time,
      stationId: Text,
      first: Serial,
      count: Serial.min(1),
    })
    .strict()
    .refine((r) => r.count - 1 <= SERIAL_MAX - r.first, "the range ends past 2^53 - 1"),
  z
    .object({ type: z.literal("sheet-key-added"), at: Time, kid: Text, thumbprint: Digest, publicKey: PublicKey })
    .strict(),
  z.object({ type: z.literal("sheet-key-revoked"), at: Time, kid: Text }).strict(),
  z
    .object({ type: z.literal("polls-closed-early"), at: Time, effectiveAt: Time, officialId: Text, reason: Text })
    .strict(),
  z.object({ type: z.literal("polls-reopened"), at: Time, officialId: Text, reason: Text }).strict(),
  z
    .object({
      type: z.literal("results-published"),
      at: Time,
      /** The log size the exports were made at: every record entry among those is in the CVR export. */
      logSize: Count,
      /** Record entries (0x03 or 0x19) in the CVR export. */
      records: Count,
      resultsSha256: Digest,
      cvrSha256: Digest,
    })
    .strict(),
  z
    .object({
      type: z.literal("conflict-adjudicated"),
      at: Time,
      conflictId: Text,
      stationId: Text,
      districtId: Text,
      decision: ConflictDecision,
      officialId: Text,
      reason: Text,
    })
    .strict(),
  z.object({ type: z.literal("alert-raised"), at: Time, alertId: Text, rule: Text, scope: Text }).strict(),
  z.object({ type: z.literal("alert-closed"), at: Time, alertId: Text, officialId: Text }).strict(),
  z
    .object({
      type: z.literal("results-certified"),
      at: Time,
      officialId: Text,
      resultsSha256: Digest,
      /** The administrator's statement, or "" when none was given. */
      statement: OptionalText,
    })
    .strict(),
]);
export type LogEntry = z.infer<typeof LogEntry>;
export type LogEntryOf<T extends EntryTypeName> = Extract<LogEntry, { type: T }>;

/**
 * Whether a value can become a log entry: it fits the entry's schema and its byte ranges (a u32
 * time, a u16 sequence, u32 counts). Producers check before they store anything that must also be
 * logged, so that the two can never disagree.
 */
export function loggableEntry(value: unknown): Result<LogEntry, string> {
  const parsed = LogEntry.safeParse(value);
  if (!parsed.success) return err(z.prettifyError(parsed.error));
  try {
    encodeEntry(parsed.data);
  } catch (error) {
    return err(error instanceof Error ? error.message : String(error));
  }
  return ok(parsed.data);
}

// ---------------------------------------------------------------------------------------------
// From ballot messages (the tally queue's schema) to entries.

/** The public record of an accepted ballot: commitment, channel, district, minute. */
export function ballotEntry(ballot: BallotAccepted): LogEntryOf<"ballot"> {
  return {
    type: "ballot",
    channel: ballot.channel,
    districtId: ballot.districtId,
    stationId: ballot.channel === "paper" ? (ballot.stationId ?? "") : "",
    acceptedAt: ballot.acceptedAt,
    commitment: ballot.commitment,
  };
}

/**
 * A ballot's cast vote record: its marks without anything that links it to a receipt or a voter.
 * A marked option is a write-in when the ballot carries a write-in text for it (the text itself
 * stays out, see the top of this file); marks are in option-id byte order.
 */
export function castVoteRecordEntry(ballot: BallotAccepted): LogEntryOf<"cast-vote-record"> {
  return {
    type: "cast-vote-record",
    districtId: ballot.districtId,
    ballotStyleId: ballot.ballotStyleId,
    contests: ballot.contests.map((contest) => {
      const writeIns = contest.writeIns ?? {};
      return {
        contestId: contest.contestId,
        marks: [...new Set(contest.optionIds)]
          .sort(compareUtf8)
          .map((optionId) => ({ optionId, writeIn: Object.hasOwn(writeIns, optionId) })),
      };
    }),
  };
}

/** An accepted check-in: the station, the district and the minute; never the voter. */
export function checkInEntry(checkIn: {
  readonly stationId: string;
  readonly districtId: string;
  readonly checkedInAt: string;
}): LogEntryOf<"check-in"> {
  return { type: "check-in", stationId: checkIn.stationId, districtId: checkIn.districtId, at: checkIn.checkedInAt };
}

/**
 * The record entries of a counted ballot as published under `mode`: one whole-ballot record, or
 * one record per contest (the caller shuffles them; nothing here ties them to each other).
 */
export function recordEntriesOf(
  record: LogEntryOf<"cast-vote-record">,
  mode: CastVoteRecordsMode,
): (LogEntryOf<"cast-vote-record"> | LogEntryOf<"contest-vote-record">)[] {
  if (mode === "whole-ballot") return [record];
  return record.contests.map((contest) => ({
    type: "contest-vote-record",
    districtId: record.districtId,
    ballotStyleId: record.ballotStyleId,
    contestId: contest.contestId,
    marks: contest.marks,
  }));
}

const RETRACTION_BLIND_DOMAIN = "mixed-election/retraction-blind/v1";

/** The HMAC key of an election's retraction blinding, from its 32 raw bytes (hex, as logged). */
export async function retractionBlindingKey(hexKey: string): Promise<CryptoKey> {
  const raw = hexDecode(hexKey);
  if (raw?.length !== 32) throw new Error("a retraction key is 32 bytes in hex");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/**
 * A retraction's blinded code: HMAC-SHA-256(k_e, domain 0x0A trackingCode), in hex. k_e is the
 * election's own, so the election needs no place in the message. Without k_e nobody can tell
 * which tracking code it blinds; with it anyone can.
 */
export async function retractionBlind(key: CryptoKey, trackingCode: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${RETRACTION_BLIND_DOMAIN}\n${trackingCode}`));
  return hexEncode(new Uint8Array(mac));
}
