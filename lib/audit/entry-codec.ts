/**
 * The binary codec of audit-log entries: the encoding described at the top of ./entries.ts, byte
 * for byte, with the registry of entry types and the wire bytes of every enumeration. Runtime-free,
 * and free of zod: the schemas of entries as values stay in ./entries.ts (which re-exports all of
 * this), so the portal's browser code (browser/, the receipt check) can decode the ballot entry a
 * proof carries with this same code without bundling a schema library.
 */
import { err, ok, type Result, assertNever } from "../result.ts";
import type { LogEntry, LogEntryOf } from "./entries.ts";
import type {
  CastVoteRecordsMode,
  Channel,
  CrossChannelPolicy,
  OfficialRole,
  ResultsVisibility,
  RetractionReason,
  StationKeyRole,
  ConflictDecision,
} from "../vocabulary.ts";
import { base64urlDecode, base64urlEncode, hexDecode, hexEncode } from "../bytes.ts";

export const ENTRY_VERSION = 1;

/** The registry of entry types: tag, name and the sentence an auditor reads. */
export const ENTRY_TYPES = {
  ballot: { tag: 0x01, says: "A ballot was accepted: its commitment, channel, district and minute." },
  retraction: {
    tag: 0x02,
    says: "An accepted ballot no longer counts (superseded by a re-vote, or cancelled by a paper vote).",
  },
  "cast-vote-record": {
    tag: 0x03,
    says: "The marks of one counted ballot, published after the polls closed, in random order.",
  },
  "check-in": { tag: 0x04, says: "A station checked a voter in (no voter is named)." },
  "station-results": { tag: 0x05, says: "A station's signed result sheet." },
  "paper-cancellation": { tag: 0x06, says: "A paper ballot was cancelled at a station (spoiled or void)." },
  "definition-loaded": { tag: 0x10, says: "The election definition was loaded or replaced." },
  "roll-imported": { tag: 0x11, says: "A chunk of the voter roll was imported." },
  "polls-opened": { tag: 0x12, says: "The polls opened." },
  "polls-closed": { tag: 0x13, says: "The polls closed." },
  "official-key-added": { tag: 0x14, says: "An official's key was registered (key rotation, or a new official)." },
  "official-key-revoked": { tag: 0x15, says: "An official's key was revoked." },
  "official-revoked": { tag: 0x16, says: "An official was revoked." },
  "cast-vote-records-published": {
    tag: 0x17,
    says: "A round of cast vote records is complete: how many per district, and how many still withheld.",
  },
  "retraction-key": {
    tag: 0x18,
    says: "The key that blinds the tracking codes in retractions, published after the polls closed.",
  },
  "contest-vote-record": {
    tag: 0x19,
    says: "The marks of one contest of one counted ballot, published after the polls closed, in random order.",
  },
  "station-registered": { tag: 0x20, says: "A polling station was registered for these districts." },
  "station-revoked": { tag: 0x21, says: "A polling station was revoked: none of its keys signs any more." },
  "station-key-added": {
    tag: 0x22,
    says: "A station device key was registered: its public key, to verify what it signs.",
  },
  "station-key-revoked": { tag: 0x23, says: "A station device key was revoked." },
  "serial-range-issued": { tag: 0x24, says: "A range of ballot serials was issued to a station." },
  "sheet-key-added": { tag: 0x25, says: "An election authority key for pre-printed ballot sheets was registered." },
  "sheet-key-revoked": { tag: 0x26, says: "An election authority key for pre-printed ballot sheets was revoked." },
  // An administrator's early close of the polls and its reopening (issue 11).
  "polls-closed-early": {
    tag: 0x27,
    says: "An administrator closed voting before the scheduled close, from the effective instant, for the reason given.",
  },
  "polls-reopened": {
    tag: 0x28,
    says: "An administrator reopened voting after an early close, before the scheduled close, for the reason given.",
  },
  // Results exports and certification.
  "results-published": {
    tag: 0x29,
    says: "The signed NIST results report and cast vote record export were published beside the log: their SHA-256.",
  },
  "results-certified": {
    tag: 0x2a,
    says: "An administrator certified the published results report (named by its SHA-256).",
  },
  // Offline check-ins (issue 12).
  "conflict-adjudicated": {
    tag: 0x2b,
    says: "An administrator decided whether the held ballot of a station's conflicting offline check-in counts, for the reason given.",
  },
  // Security monitoring (issue 13).
  "alert-raised": {
    tag: 0x2c,
    says: "The security monitor raised a high-severity alert under this rule and scope.",
  },
  "alert-closed": { tag: 0x2d, says: "An official closed a security monitor's alert." },
} as const satisfies Record<string, { tag: number; says: string }>;

export type EntryTypeName = keyof typeof ENTRY_TYPES;

export const MAX_TEXT_BYTES = 1024;
export const MAX_CONTESTS = 256;
export const MAX_MARKS = 64;
export const U32_MAX = 0xffff_ffff;
/** Commitments and tracking codes: 1-128 letters, digits, dashes or underscores. */
export const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
export const SERIAL_MAX = Number.MAX_SAFE_INTEGER;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------------------------
// Enumerations on the wire: each value's byte, frozen. The vocabularies live in lib/vocabulary.ts;
// these tables say which byte each value has in a signed entry, so reordering or extending a
// vocabulary can never shift a byte. A new value takes the next unused byte; a byte is never
// reused; 0 is never valid. `satisfies` makes a missing or unknown value a compile error, and
// test/node/audit-entries.test.ts checks each table against its vocabulary.

export const WIRE_BYTES = {
  channel: { online: 1, paper: 2 } satisfies Record<Channel, number>,
  reason: { "superseded-by-online": 1, "cancelled-by-paper": 2 } satisfies Record<RetractionReason, number>,
  policy: { "first-wins": 1, "paper-supersedes": 2 } satisfies Record<CrossChannelPolicy, number>,
  visibility: { live: 1, "after-close": 2 } satisfies Record<ResultsVisibility, number>,
  role: { administrator: 1, "station-official": 2, auditor: 3, "security-officer": 4 } satisfies Record<
    OfficialRole,
    number
  >,
  records: { "whole-ballot": 1, "per-contest": 2 } satisfies Record<CastVoteRecordsMode, number>,
  stationKeyRole: { client: 1, "marking-device": 2 } satisfies Record<StationKeyRole, number>,
  decision: { count: 1, "do-not-count": 2 } satisfies Record<ConflictDecision, number>,
} as const;

function enumByte<T extends string>(table: Readonly<Record<T, number>>, value: T): number {
  const byte = table[value];
  if (byte === undefined) throw new Error(`not one of ${Object.keys(table).join(", ")}: ${value}`);
  return byte;
}

/** Byte order of UTF-8 encodings: the order the encoding requires for marks and districts. */
export function compareUtf8(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

// ---------------------------------------------------------------------------------------------
// Writer

class Writer {
  private buffer = new Uint8Array(256);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new Error(`u8 out of range: ${v}`);
    this.reserve(1);
    this.buffer[this.length++] = v;
  }

  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new Error(`u16 out of range: ${v}`);
    this.reserve(2);
    this.buffer[this.length++] = v >>> 8;
    this.buffer[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new Error(`u32 out of range: ${v}`);
    this.reserve(4);
    this.buffer[this.length++] = v >>> 24;
    this.buffer[this.length++] = (v >>> 16) & 0xff;
    this.buffer[this.length++] = (v >>> 8) & 0xff;
    this.buffer[this.length++] = v & 0xff;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  text(s: string, mayBeEmpty = false): void {
    const bytes = encoder.encode(s);
    if (bytes.length > MAX_TEXT_BYTES || (bytes.length === 0 && !mayBeEmpty))
      throw new Error(`text of ${bytes.length} bytes`);
    this.u16(bytes.length);
    this.raw(bytes);
  }

  /** Seconds since the epoch, floored; `minute` floors further to the minute. */
  time(iso: string, minute = false): void {
    const ms = Date.parse(iso);
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`not a time: ${iso}`);
    const seconds = Math.floor(ms / 1000);
    this.u32(minute ? seconds - (seconds % 60) : seconds);
  }

  digest(hex: string): void {
    const bytes = hexDecode(hex);
    if (bytes?.length !== 32) throw new Error("not a SHA-256 digest in hex");
    this.raw(bytes);
  }

  /** A serial: u64, at most 2^53 - 1 (what a JavaScript number holds exactly). */
  serial(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`serial out of range: ${v}`);
    this.u32(Math.floor(v / 0x1_0000_0000));
    this.u32(v % 0x1_0000_0000);
  }

  publicKey(x: string): void {
    const bytes = base64urlDecode(x);
    if (bytes?.length !== 32) throw new Error("not an Ed25519 public key in base64url");
    this.raw(bytes);
  }

  done(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** A contest's marks: u8 count, then each option id and its flags, in option-id byte order. */
function writeMarks(w: Writer, marks: readonly { optionId: string; writeIn: boolean }[]): void {
  if (marks.length > MAX_MARKS) throw new Error("at most 64 marks per contest");
  const sorted = [...marks].sort((a, b) => compareUtf8(a.optionId, b.optionId));
  for (let i = 1; i < sorted.length; i++) {
    if (compareUtf8(sorted[i - 1]?.optionId ?? "", sorted[i]?.optionId ?? "") === 0)
      throw new Error(`option ${sorted[i]?.optionId} marked twice`);
  }
  w.u8(sorted.length);
  for (const mark of sorted) {
    w.text(mark.optionId);
    w.u8(mark.writeIn ? 0x01 : 0x00);
  }
}

/**
 * The canonical bytes of an entry. The entry must have passed the LogEntry schema; anything the
 * encoding cannot carry throws (a producer's bug, never a voter's input).
 */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const w = new Writer();
  w.u8(ENTRY_VERSION);
  w.u8(ENTRY_TYPES[entry.type].tag);
  switch (entry.type) {
    case "ballot": {
      if (entry.channel === "online" && entry.stationId !== "") throw new Error("an online ballot has no station");
      if (!TOKEN.test(entry.commitment)) throw new Error("a commitment is 1-128 base64url characters");
      w.u8(enumByte(WIRE_BYTES.channel, entry.channel));
      w.text(entry.districtId);
      w.text(entry.stationId, true);
      w.time(entry.acceptedAt, true);
      w.text(entry.commitment);
      break;
    }
    case "retraction":
      w.u8(enumByte(WIRE_BYTES.reason, entry.reason));
      w.text(entry.districtId);
      w.digest(entry.blindedCode);
      break;
    case "cast-vote-record": {
      if (entry.contests.length < 1 || entry.contests.length > MAX_CONTESTS)
        throw new Error("a cast vote record has 1..256 contests");
      w.text(entry.districtId);
      w.text(entry.ballotStyleId);
      w.u16(entry.contests.length);
      for (const contest of entry.contests) {
        w.text(contest.contestId);
        writeMarks(w, contest.marks);
      }
      break;
    }
    case "contest-vote-record":
      w.text(entry.districtId);
      w.text(entry.ballotStyleId);
      w.text(entry.contestId);
      writeMarks(w, entry.marks);
      break;
    case "retraction-key":
      w.time(entry.at);
      w.digest(entry.key);
      break;
    case "check-in":
      w.text(entry.stationId);
      w.text(entry.districtId);
      w.time(entry.at, true);
      break;
    case "station-results": {
      const sheet = encoder.encode(entry.sheet);
      w.text(entry.stationId);
      w.u16(entry.sequence);
      w.time(entry.closedAt);
      w.u32(entry.votersCheckedIn);
      w.u32(entry.ballotsCast);
      w.u16(entry.contests.length);
      for (const contest of entry.contests) {
        w.text(contest.contestId);
        w.u16(contest.options.length);
        for (const option of contest.options) {
          w.text(option.optionId);
          w.u32(option.votes);
        }
        w.u32(contest.writeIns);
        w.u32(contest.blanks);
      }
      w.u16(sheet.length);
      w.raw(sheet);
      break;
    }
    case "paper-cancellation":
      w.text(entry.stationId);
      w.text(entry.districtId);
      w.time(entry.at, true);
      w.text(entry.serial);
      w.text(entry.reason);
      break;
    case "definition-loaded":
      w.time(entry.at);
      w.u32(entry.version);
      w.digest(entry.definitionSha256);
      w.time(entry.opensAt);
      w.time(entry.closesAt);
      w.u8(enumByte(WIRE_BYTES.policy, entry.crossChannelPolicy));
      w.u8(enumByte(WIRE_BYTES.visibility, entry.resultsVisibility));
      w.u8(enumByte(WIRE_BYTES.records, entry.castVoteRecords));
      if (entry.minBallotsPerRelease < 1) throw new Error("k is at least 1");
      w.u32(entry.minBallotsPerRelease);
      break;
    case "roll-imported":
      w.time(entry.at);
      w.u32(entry.firstLine);
      w.u32(entry.rows);
      w.u32(entry.accepted);
      w.u32(entry.written);
      w.u32(entry.unchanged);
      w.u32(entry.rejected);
      w.digest(entry.chunkDigest);
      break;
    case "polls-opened":
    case "polls-closed":
      w.time(entry.at);
      break;
    case "official-key-added":
      w.time(entry.at);
      w.u8(enumByte(WIRE_BYTES.role, entry.role));
      w.text(entry.officialId);
      w.text(entry.kid);
      w.digest(entry.thumbprint);
      break;
    case "official-key-revoked":
      w.time(entry.at);
      w.text(entry.officialId);
      w.text(entry.kid);
      break;
    case "official-revoked":
      w.time(entry.at);
      w.text(entry.officialId);
      break;
    case "cast-vote-records-published": {
      const districts = [...entry.districts].sort((a, b) => compareUtf8(a.districtId, b.districtId));
      for (let i = 1; i < districts.length; i++) {
        if (compareUtf8(districts[i - 1]?.districtId ?? "", districts[i]?.districtId ?? "") === 0)
          throw new Error("a district listed twice");
      }
      w.time(entry.at);
      w.u16(entry.round);
      w.u16(districts.length);
      for (const d of districts) {
        w.text(d.districtId);
        w.u32(d.records);
        w.u32(d.withheld);
      }
      break;
    }
    case "station-registered": {
      const districts = [...entry.districtIds].sort(compareUtf8);
      if (districts.length < 1) throw new Error("a station serves at least one district");
      for (let i = 1; i < districts.length; i++) {
        if (compareUtf8(districts[i - 1] ?? "", districts[i] ?? "") === 0) throw new Error("a district listed twice");
      }
      w.time(entry.at);
      w.text(entry.stationId);
      w.u16(districts.length);
      for (const d of districts) w.text(d);
      break;
    }
    case "station-revoked":
      w.time(entry.at);
      w.text(entry.stationId);
      break;
    case "station-key-added":
      w.time(entry.at);
      w.text(entry.stationId);
      w.text(entry.kid);
      w.u8(enumByte(WIRE_BYTES.stationKeyRole, entry.role));
      w.digest(entry.thumbprint);
      w.publicKey(entry.publicKey);
      break;
    case "station-key-revoked":
      w.time(entry.at);
      w.text(entry.stationId);
      w.text(entry.kid);
      break;
    case "serial-range-issued":
      if (entry.count < 1 || entry.count - 1 > SERIAL_MAX - entry.first) throw new Error("a serial range out of range");
      w.time(entry.at);
      w.text(entry.stationId);
      w.serial(entry.first);
      w.serial(entry.count);
      break;
    case "sheet-key-added":
      w.time(entry.at);
      w.text(entry.kid);
      w.digest(entry.thumbprint);
      w.publicKey(entry.publicKey);
      break;
    case "sheet-key-revoked":
      w.time(entry.at);
      w.text(entry.kid);
      break;
    case "polls-closed-early":
      w.time(entry.at);
      w.time(entry.effectiveAt);
      w.text(entry.officialId);
      w.text(entry.reason);
      break;
    case "polls-reopened":
      w.time(entry.at);
      w.text(entry.officialId);
      w.text(entry.reason);
      break;
    case "results-published":
      w.time(entry.at);
      w.u32(entry.logSize);
      w.u32(entry.records);
      w.digest(entry.resultsSha256);
      w.digest(entry.cvrSha256);
      break;
    case "conflict-adjudicated":
      w.time(entry.at);
      w.text(entry.conflictId);
      w.text(entry.stationId);
      w.text(entry.districtId);
      w.u8(enumByte(WIRE_BYTES.decision, entry.decision));
      w.text(entry.officialId);
      w.text(entry.reason);
      break;
    case "alert-raised":
      w.time(entry.at);
      w.text(entry.alertId);
      w.text(entry.rule);
      w.text(entry.scope);
      break;
    case "alert-closed":
      w.time(entry.at);
      w.text(entry.alertId);
      w.text(entry.officialId);
      break;
    case "results-certified":
      w.time(entry.at);
      w.text(entry.officialId);
      w.digest(entry.resultsSha256);
      w.text(entry.statement, true);
      break;
    default:
      assertNever(entry);
  }
  return w.done();
}

// ---------------------------------------------------------------------------------------------
// Reader

/** Thrown inside decodeEntry only, and turned into an Err there. */
class DecodeError extends Error {}

class Reader {
  offset = 0;
  private readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new DecodeError(
        `truncated: ${what} needs ${n} byte(s) at offset ${this.offset}, ${this.bytes.length - this.offset} left`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++] ?? 0;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = ((this.bytes[this.offset] ?? 0) << 8) | (this.bytes[this.offset + 1] ?? 0);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    const v = (b[o] ?? 0) * 0x100_0000 + (((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0));
    this.offset += 4;
    return v;
  }

  raw(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  text(what: string, mayBeEmpty = false): string {
    const at = this.offset;
    const n = this.u16(`${what} length`);
    if (n > MAX_TEXT_BYTES) throw new DecodeError(`${what} at offset ${at} is ${n} bytes, more than ${MAX_TEXT_BYTES}`);
    if (n === 0 && !mayBeEmpty) throw new DecodeError(`${what} at offset ${at} is empty`);
    const bytes = this.raw(n, what);
    try {
      return strictDecoder.decode(bytes);
    } catch {
      throw new DecodeError(`${what} at offset ${at} is not well-formed UTF-8`);
    }
  }

  token(what: string): string {
    const at = this.offset;
    const value = this.text(what);
    if (!TOKEN.test(value))
      throw new DecodeError(`${what} at offset ${at} is not 1-128 letters, digits, dashes or underscores`);
    return value;
  }

  time(what: string, minute = false): string {
    const at = this.offset;
    const seconds = this.u32(what);
    if (minute && seconds % 60 !== 0)
      throw new DecodeError(`${what} at offset ${at} is not on a minute (coarse times only)`);
    return new Date(seconds * 1000).toISOString();
  }

  enumeration<T extends string>(table: Readonly<Record<T, number>>, what: string): T {
    const at = this.offset;
    const byte = this.u8(what);
    for (const [value, valueByte] of Object.entries(table) as [T, number][]) if (valueByte === byte) return value;
    throw new DecodeError(`${what} at offset ${at} is ${byte}, not one of ${Object.values(table).join(", ")}`);
  }

  digest(what: string): string {
    return hexEncode(this.raw(32, what));
  }

  serial(what: string): number {
    const at = this.offset;
    const high = this.u32(what);
    const low = this.u32(what);
    if (high > 0x1f_ffff) throw new DecodeError(`${what} at offset ${at} is above 2^53 - 1`);
    return high * 0x1_0000_0000 + low;
  }

  publicKey(what: string): string {
    return base64urlEncode(this.raw(32, what));
  }

  end(): void {
    if (this.offset !== this.bytes.length) {
      throw new DecodeError(
        `${this.bytes.length - this.offset} unexpected byte(s) after the entry at offset ${this.offset}`,
      );
    }
  }
}

function minRelease(r: Reader): number {
  const at = r.offset;
  const k = r.u32("minBallotsPerRelease");
  if (k === 0) throw new DecodeError(`minBallotsPerRelease at offset ${at} is 0; k is at least 1`);
  return k;
}

function readMarks(r: Reader, what: string): { optionId: string; writeIn: boolean }[] {
  const markAt = r.offset;
  const marksCount = r.u8(`${what} mark count`);
  if (marksCount > MAX_MARKS)
    throw new DecodeError(`mark count at offset ${markAt} is ${marksCount}, more than ${MAX_MARKS}`);
  const marks: { optionId: string; writeIn: boolean }[] = [];
  for (let m = 0; m < marksCount; m++) {
    const optionAt = r.offset;
    const optionId = r.text(`${what} mark ${m}`);
    const previous = marks[marks.length - 1];
    if (previous && compareUtf8(previous.optionId, optionId) >= 0) {
      throw new DecodeError(`mark at offset ${optionAt} is out of order or repeated (option ids must increase)`);
    }
    const flagsAt = r.offset;
    const flags = r.u8("mark flags");
    if ((flags & ~0x01) !== 0)
      throw new DecodeError(`mark flags at offset ${flagsAt} are 0x${flags.toString(16)}; only 0x01 is defined`);
    marks.push({ optionId, writeIn: flags === 0x01 });
  }
  return marks;
}

const TYPE_BY_TAG = new Map<number, EntryTypeName>(
  (Object.keys(ENTRY_TYPES) as EntryTypeName[]).map((name) => [ENTRY_TYPES[name].tag, name]),
);

function readBody(r: Reader, type: EntryTypeName): LogEntry {
  switch (type) {
    case "ballot": {
      const channel = r.enumeration(WIRE_BYTES.channel, "channel");
      const districtId = r.text("district");
      const stationId = r.text("station", true);
      if (channel === "online" && stationId !== "") throw new DecodeError("an online ballot names a station");
      const acceptedAt = r.time("acceptedAt", true);
      const commitment = r.token("commitment");
      return { type, channel, districtId, stationId, acceptedAt, commitment };
    }
    case "retraction": {
      const reason = r.enumeration(WIRE_BYTES.reason, "reason");
      const districtId = r.text("district");
      const blindedCode = r.digest("blinded code");
      return { type, reason, districtId, blindedCode };
    }
    case "contest-vote-record": {
      const districtId = r.text("district");
      const ballotStyleId = r.text("ballot style");
      const contestId = r.text("contest");
      return { type, districtId, ballotStyleId, contestId, marks: readMarks(r, "contest") };
    }
    case "retraction-key":
      return { type, at: r.time("at"), key: r.digest("key") };
    case "cast-vote-record": {
      const districtId = r.text("district");
      const ballotStyleId = r.text("ballot style");
      const at = r.offset;
      const count = r.u16("contest count");
      if (count < 1 || count > MAX_CONTESTS)
        throw new DecodeError(`contest count at offset ${at} is ${count}, not 1..${MAX_CONTESTS}`);
      const contests: LogEntryOf<"cast-vote-record">["contests"] = [];
      for (let c = 0; c < count; c++) {
        const contestId = r.text(`contest ${c}`);
        contests.push({ contestId, marks: readMarks(r, `contest ${c}`) });
      }
      return { type, districtId, ballotStyleId, contests };
    }
    case "check-in":
      return { type, stationId: r.text("station"), districtId: r.text("district"), at: r.time("at", true) };
    case "station-results": {
      const stationId = r.text("station");
      const sequenceAt = r.offset;
      const sequence = r.u16("sequence");
      if (sequence === 0) throw new DecodeError(`sequence at offset ${sequenceAt} is 0; sheets count from 1`);
      const closedAt = r.time("closedAt");
      const votersCheckedIn = r.u32("voters checked in");
      const ballotsCast = r.u32("ballots cast");
      const count = r.u16("contest count");
      const contests: LogEntryOf<"station-results">["contests"] = [];
      for (let c = 0; c < count; c++) {
        const contestId = r.text(`contest ${c}`);
        const optionCount = r.u16(`contest ${c} option count`);
        const options: { optionId: string; votes: number }[] = [];
        for (let o = 0; o < optionCount; o++)
          options.push({ optionId: r.text(`contest ${c} option ${o}`), votes: r.u32("votes") });
        contests.push({ contestId, options, writeIns: r.u32("write-ins"), blanks: r.u32("blanks") });
      }
      const sheetAt = r.offset;
      const sheetLength = r.u16("sheet length");
      let sheet: string;
      try {
        sheet = strictDecoder.decode(r.raw(sheetLength, "sheet"));
      } catch (error) {
        if (error instanceof DecodeError) throw error;
        throw new DecodeError(`sheet at offset ${sheetAt} is not well-formed UTF-8`);
      }
      return { type, stationId, sequence, closedAt, votersCheckedIn, ballotsCast, contests, sheet };
    }
    case "paper-cancellation":
      return {
        type,
        stationId: r.text("station"),
        districtId: r.text("district"),
        at: r.time("at", true),
        serial: r.text("serial"),
        reason: r.text("reason"),
      };
    case "definition-loaded":
      return {
        type,
        at: r.time("at"),
        version: r.u32("version"),
        definitionSha256: r.digest("definition digest"),
        opensAt: r.time("opensAt"),
        closesAt: r.time("closesAt"),
        crossChannelPolicy: r.enumeration(WIRE_BYTES.policy, "cross-channel policy"),
        resultsVisibility: r.enumeration(WIRE_BYTES.visibility, "results visibility"),
        castVoteRecords: r.enumeration(WIRE_BYTES.records, "cast vote records"),
        minBallotsPerRelease: minRelease(r),
      };
    case "roll-imported":
      return {
        type,
        at: r.time("at"),
        firstLine: r.u32("firstLine"),
        rows: r.u32("rows"),
        accepted: r.u32("accepted"),
        written: r.u32("written"),
        unchanged: r.u32("unchanged"),
        rejected: r.u32("rejected"),
        chunkDigest: r.digest("chunk digest"),
      };
    case "polls-opened":
    case "polls-closed":
      return { type, at: r.time("at") };
    case "official-key-added":
      return {
        type,
        at: r.time("at"),
        role: r.enumeration(WIRE_BYTES.role, "role"),
        officialId: r.text("official"),
        kid: r.text("kid"),
        thumbprint: r.digest("thumbprint"),
      };
    case "official-key-revoked":
      return { type, at: r.time("at"), officialId: r.text("official"), kid: r.text("kid") };
    case "official-revoked":
      return { type, at: r.time("at"), officialId: r.text("official") };
    case "cast-vote-records-published": {
      const at = r.time("at");
      const roundAt = r.offset;
      const round = r.u16("round");
      if (round === 0) throw new DecodeError(`round at offset ${roundAt} is 0; rounds start at 1`);
      const count = r.u16("district count");
      const districts: { districtId: string; records: number; withheld: number }[] = [];
      for (let d = 0; d < count; d++) {
        const districtAt = r.offset;
        const districtId = r.text(`district ${d}`);
        const previous = districts[districts.length - 1];
        if (previous && compareUtf8(previous.districtId, districtId) >= 0) {
          throw new DecodeError(`district at offset ${districtAt} is out of order or repeated`);
        }
        districts.push({ districtId, records: r.u32("records"), withheld: r.u32("withheld") });
      }
      return { type, at, round, districts };
    }
    case "station-registered": {
      const at = r.time("at");
      const stationId = r.text("station");
      const countAt = r.offset;
      const count = r.u16("district count");
      if (count === 0) throw new DecodeError(`district count at offset ${countAt} is 0; a station serves a district`);
      const districtIds: string[] = [];
      for (let d = 0; d < count; d++) {
        const districtAt = r.offset;
        const districtId = r.text(`district ${d}`);
        const previous = districtIds[districtIds.length - 1];
        if (previous !== undefined && compareUtf8(previous, districtId) >= 0)
          throw new DecodeError(`district at offset ${districtAt} is out of order or repeated`);
        districtIds.push(districtId);
      }
      return { type, at, stationId, districtIds };
    }
    case "station-revoked":
      return { type, at: r.time("at"), stationId: r.text("station") };
    case "station-key-added":
      return {
        type,
        at: r.time("at"),
        stationId: r.text("station"),
        kid: r.text("kid"),
        role: r.enumeration(WIRE_BYTES.stationKeyRole, "station key role"),
        thumbprint: r.digest("thumbprint"),
        publicKey: r.publicKey("public key"),
      };
    case "station-key-revoked":
      return { type, at: r.time("at"), stationId: r.text("station"), kid: r.text("kid") };
    case "serial-range-issued": {
      const at = r.time("at");
      const stationId = r.text("station");
      const first = r.serial("first serial");
      const countAt = r.offset;
      const count = r.serial("count");
      if (count === 0) throw new DecodeError(`count at offset ${countAt} is 0; a range holds a serial`);
      if (count - 1 > SERIAL_MAX - first) throw new DecodeError(`the range at offset ${countAt} ends past 2^53 - 1`);
      return { type, at, stationId, first, count };
    }
    case "sheet-key-added":
      return {
        type,
        at: r.time("at"),
        kid: r.text("kid"),
        thumbprint: r.digest("thumbprint"),
        publicKey: r.publicKey("public key"),
      };
    case "sheet-key-revoked":
      return { type, at: r.time("at"), kid: r.text("kid") };
    case "polls-closed-early":
      return {
        type,
        at: r.time("at"),
        effectiveAt: r.time("effectiveAt"),
        officialId: r.text("official"),
        reason: r.text("reason"),
      };
    case "polls-reopened":
      return { type, at: r.time("at"), officialId: r.text("official"), reason: r.text("reason") };
    case "results-published":
      return {
        type,
        at: r.time("at"),
        logSize: r.u32("logSize"),
        records: r.u32("records"),
        resultsSha256: r.digest("resultsSha256"),
        cvrSha256: r.digest("cvrSha256"),
      };
    case "conflict-adjudicated":
      return {
        type,
        at: r.time("at"),
        conflictId: r.text("conflictId"),
        stationId: r.text("station"),
        districtId: r.text("district"),
        decision: r.enumeration(WIRE_BYTES.decision, "decision"),
        officialId: r.text("official"),
        reason: r.text("reason"),
      };
    case "alert-raised":
      return { type, at: r.time("at"), alertId: r.text("alertId"), rule: r.text("rule"), scope: r.text("scope") };
    case "alert-closed":
      return { type, at: r.time("at"), alertId: r.text("alertId"), officialId: r.text("official") };
    case "results-certified":
      return {
        type,
        at: r.time("at"),
        officialId: r.text("officialId"),
        resultsSha256: r.digest("resultsSha256"),
        statement: r.text("statement", true),
      };
    default: {
      const never: never = type;
      throw new DecodeError(`unknown type ${String(never)}`);
    }
  }
}

/** Decodes one entry's bytes; the error says what is wrong and at which byte. */
export function decodeEntry(bytes: Uint8Array): Result<LogEntry, string> {
  const r = new Reader(bytes);
  try {
    const version = r.u8("version");
    if (version !== ENTRY_VERSION)
      return err(`unknown entry version ${version} (this auditor reads version ${ENTRY_VERSION})`);
    const tag = r.u8("type");
    const type = TYPE_BY_TAG.get(tag);
    if (!type) return err(`unknown entry type 0x${tag.toString(16).padStart(2, "0")} at offset 1`);
    const entry = readBody(r, type);
    r.end();
    return ok(entry);
  } catch (error) {
    if (error instanceof DecodeError) return err(error.message);
    throw error;
  }
}
