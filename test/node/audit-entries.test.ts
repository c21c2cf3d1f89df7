/**
 * The audit log's entry encoding (lib/audit/entries.ts): golden byte vectors written out by hand
 * from the format in the file's comment, round trips for every type, and strict decoding (every
 * malformed byte string is refused with the offset that is wrong).
 */
import { describe, expect, it } from "vitest";
import {
  ballotEntry,
  castVoteRecordEntry,
  decodeEntry,
  recordEntriesOf,
  retractionBlind,
  retractionBlindingKey,
  encodeEntry,
  ENTRY_TYPES,
  LogEntry,
  type LogEntryOf,
} from "../../lib/audit/entries.ts";

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function fromHex(...parts: string[]): Uint8Array {
  return new Uint8Array(Buffer.from(parts.join("").replace(/\s+/g, ""), "hex"));
}

const BALLOT: LogEntryOf<"ballot"> = {
  type: "ballot",
  channel: "online",
  districtId: "north",
  stationId: "",
  acceptedAt: "2026-03-01T10:15:00.000Z",
  commitment: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
};

const BALLOT_BYTES = fromHex(
  "01", // version 1
  "01", // type: ballot
  "01", // channel: online
  "0005 6e6f727468", // district "north"
  "0000", // no station
  "69a411a4", // 2026-03-01T10:15:00Z
  "002b 41414543417751464267634943516f4c4441304f4478415245684d554652595847426b6147787764486838", // the commitment, 43 base64url characters
);

/** The retraction key of these vectors, and the blinding of "7K3M-Q9TX-2D4F-H8JA" under it. */
const RETRACTION_KEY = "42".repeat(32);
const BLINDED = "7ae8a4cf13131fdb6ad51531af58729a10e2a5f6cb9cf5c1b63e455779471e10";

const RETRACTION: LogEntryOf<"retraction"> = {
  type: "retraction",
  reason: "cancelled-by-paper",
  districtId: "north",
  blindedCode: BLINDED,
};

const RETRACTION_BYTES = fromHex(
  "01 02",
  "02", // cancelled-by-paper
  "0005 6e6f727468",
  BLINDED, // HMAC-SHA-256(key, "mixed-election/retraction-blind/v1\n7K3M-Q9TX-2D4F-H8JA"): no tracking code, no time
);

const RETRACTION_KEY_ENTRY: LogEntryOf<"retraction-key"> = {
  type: "retraction-key",
  at: "2026-12-31T23:59:59.000Z",
  key: RETRACTION_KEY,
};

const RETRACTION_KEY_BYTES = fromHex("01 18", "6b36ec7f", RETRACTION_KEY);

const CONTEST_RECORD: LogEntryOf<"contest-vote-record"> = {
  type: "contest-vote-record",
  districtId: "north",
  ballotStyleId: "style-n",
  contestId: "c1",
  marks: [
    { optionId: "opt-a", writeIn: false },
    { optionId: "opt-w", writeIn: true },
  ],
};

const CONTEST_RECORD_BYTES = fromHex(
  "01 19",
  "0005 6e6f727468", // district
  "0007 7374796c652d6e", // ballot style
  "0002 6331", // contest "c1"
  "02", // two marks
  "0005 6f70742d61 00",
  "0005 6f70742d77 01",
);

const ROUND: LogEntryOf<"cast-vote-records-published"> = {
  type: "cast-vote-records-published",
  at: "2026-12-31T23:59:59.000Z",
  round: 2,
  districts: [
    { districtId: "east", records: 30, withheld: 0 },
    { districtId: "north", records: 0, withheld: 3 },
  ],
};

const ROUND_BYTES = fromHex(
  "01 17",
  "6b36ec7f",
  "0002", // round 2
  "0002", // two districts
  "0004 65617374 0000001e 00000000", // east: 30 records, none withheld
  "0005 6e6f727468 00000000 00000003", // north: none published, 3 withheld (fewer than k)
);

const CVR: LogEntryOf<"cast-vote-record"> = {
  type: "cast-vote-record",
  districtId: "north",
  ballotStyleId: "style-n",
  contests: [
    {
      contestId: "c1",
      marks: [
        { optionId: "opt-a", writeIn: false },
        { optionId: "opt-w", writeIn: true },
      ],
    },
    { contestId: "c2", marks: [] },
  ],
};

const CVR_BYTES = fromHex(
  "01 03",
  "0005 6e6f727468", // district
  "0007 7374796c652d6e", // ballot style "style-n"
  "0002", // two contests
  "0002 6331", // "c1"
  "02", // two marks
  "0005 6f70742d61 00", // "opt-a", named
  "0005 6f70742d77 01", // "opt-w", write-in
  "0002 6332", // "c2"
  "00", // blank
);

const POLLS_OPENED_BYTES = fromHex("01 12", "6955b900");

const DEFINITION: LogEntryOf<"definition-loaded"> = {
  type: "definition-loaded",
  at: "2026-01-01T00:00:00.000Z",
  version: 2,
  definitionSha256: "00".repeat(31) + "ff",
  opensAt: "2026-01-01T00:00:00.000Z",
  closesAt: "2026-12-31T23:59:59.000Z",
  crossChannelPolicy: "paper-supersedes",
  resultsVisibility: "after-close",
  castVoteRecords: "per-contest",
  minBallotsPerRelease: 25,
};

const DEFINITION_BYTES = fromHex(
  "01 10",
  "6955b900", // at
  "00000002", // version 2
  "00".repeat(31) + "ff", // digest
  "6955b900", // opens
  "6b36ec7f", // closes
  "02", // paper-supersedes
  "02", // after-close
  "02", // per-contest records
  "00000019", // k = 25
);

const ALL: LogEntry[] = [
  BALLOT,
  { ...BALLOT, channel: "paper", stationId: "station-7" },
  RETRACTION,
  CVR,
  CONTEST_RECORD,
  RETRACTION_KEY_ENTRY,
  { type: "check-in", stationId: "station-7", districtId: "north", at: "2026-03-01T10:15:00.000Z" },
  {
    type: "station-results",
    stationId: "station-7",
    sequence: 1,
    closedAt: "2026-12-31T23:59:59.000Z",
    votersCheckedIn: 13,
    ballotsCast: 12,
    contests: [
      {
        contestId: "c1",
        options: [
          { optionId: "opt-a", votes: 7 },
          { optionId: "opt-b", votes: 4 },
        ],
        writeIns: 1,
        blanks: 0,
      },
    ],
    sheet: "MEC:R1:QR-TEXT",
  },

  {
    type: "paper-cancellation",
    stationId: "station-7",
    districtId: "north",
    at: "2026-03-01T10:15:00.000Z",
    serial: "P-000123",
    reason: "spoiled",
  },
  DEFINITION,
  {
    type: "roll-imported",
    at: "2026-01-01T00:00:00.000Z",
    firstLine: 2,
    rows: 10,
    accepted: 9,
    written: 9,
    unchanged: 0,
    rejected: 1,
    chunkDigest: "ab".repeat(32),
  },
  { type: "polls-opened", at: "2026-01-01T00:00:00.000Z" },
  { type: "polls-closed", at: "2026-12-31T23:59:59.000Z" },
  {
    type: "official-key-added",
    at: "2026-01-01T00:00:00.000Z",
    role: "auditor",
    officialId: "aud-1",
    kid: "aud-1-k2",
    thumbprint: "cd".repeat(32),
  },
  { type: "official-key-revoked", at: "2026-01-01T00:00:00.000Z", officialId: "aud-1", kid: "aud-1-k1" },
  { type: "official-revoked", at: "2026-01-01T00:00:00.000Z", officialId: "aud-1" },
  ROUND,
];

// Authority changes (0x20-0x26): the keys that may sign ballots and result sheets.
const KEY_X = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // bytes 0x00..0x1f

const STATION_REGISTERED: LogEntryOf<"station-registered"> = {
  type: "station-registered",
  at: "2026-01-01T00:00:00.000Z",
  stationId: "st-1",
  districtIds: ["east", "north"],
};

const STATION_REGISTERED_BYTES = fromHex(
  "01 20",
  "6955b900", // at
  "0004 73742d31", // "st-1"
  "0002", // two districts, in byte order
  "0004 65617374", // "east"
  "0005 6e6f727468", // "north"
);

const STATION_KEY_ADDED: LogEntryOf<"station-key-added"> = {
  type: "station-key-added",
  at: "2026-01-01T00:00:00.000Z",
  stationId: "st-1",
  kid: "st-1-k1",
  role: "client",
  thumbprint: "cd".repeat(32),
  publicKey: KEY_X,
};

const STATION_KEY_ADDED_BYTES = fromHex(
  "01 22",
  "6955b900",
  "0004 73742d31",
  "0007 73742d312d6b31", // "st-1-k1"
  "01", // role: client
  "cd".repeat(32), // thumbprint
  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // the raw public key
);

const SERIAL_RANGE: LogEntryOf<"serial-range-issued"> = {
  type: "serial-range-issued",
  at: "2026-01-01T00:00:00.000Z",
  stationId: "st-1",
  first: 2 ** 32 + 5,
  count: 100,
};

const SERIAL_RANGE_BYTES = fromHex(
  "01 24",
  "6955b900",
  "0004 73742d31",
  "00000001 00000005", // first: 2^32 + 5 as u64
  "00000000 00000064", // count: 100
);

const SHEET_KEY_ADDED: LogEntryOf<"sheet-key-added"> = {
  type: "sheet-key-added",
  at: "2026-01-01T00:00:00.000Z",
  kid: "sheets-1",
  thumbprint: "ab".repeat(32),
  publicKey: KEY_X,
};

const SHEET_KEY_ADDED_BYTES = fromHex(
  "01 25",
  "6955b900",
  "0008 7368656574732d31", // "sheets-1"
  "ab".repeat(32),
  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
);

ALL.push(
  STATION_REGISTERED,
  { type: "station-revoked", at: "2026-01-01T00:00:00.000Z", stationId: "st-1" },
  STATION_KEY_ADDED,
  { type: "station-key-revoked", at: "2026-01-01T00:00:00.000Z", stationId: "st-1", kid: "st-1-k1" },
  SERIAL_RANGE,
  SHEET_KEY_ADDED,
  { type: "sheet-key-revoked", at: "2026-01-01T00:00:00.000Z", kid: "sheets-1" },
);

const RESULTS_PUBLISHED: LogEntryOf<"results-published"> = {
  type: "results-published",
  at: "2026-01-01T00:00:00.000Z",
  logSize: 300,
  records: 42,
  resultsSha256: "ab".repeat(32),
  cvrSha256: "cd".repeat(32),
};

const RESULTS_PUBLISHED_BYTES = fromHex(
  "01 29",
  "6955b900",
  "0000012c", // logSize 300
  "0000002a", // records 42
  "ab".repeat(32),
  "cd".repeat(32),
);

const RESULTS_CERTIFIED: LogEntryOf<"results-certified"> = {
  type: "results-certified",
  at: "2026-01-01T00:00:00.000Z",
  officialId: "admin-1",
  resultsSha256: "ab".repeat(32),
  statement: "",
};

const RESULTS_CERTIFIED_BYTES = fromHex(
  "01 2a",
  "6955b900",
  "0007 61646d696e2d31", // "admin-1"
  "ab".repeat(32),
  "0000", // no statement
);

ALL.push(RESULTS_PUBLISHED, RESULTS_CERTIFIED, { ...RESULTS_CERTIFIED, statement: "Certified after the canvass." });

describe("golden vectors of results exports", () => {
  it.each([
    ["results published", RESULTS_PUBLISHED, RESULTS_PUBLISHED_BYTES],
    ["results certified", RESULTS_CERTIFIED, RESULTS_CERTIFIED_BYTES],
  ] as const)("%s encodes to its golden bytes and decodes back", (_name, entry, bytes) => {
    expect(hex(encodeEntry(entry))).toBe(hex(bytes));
    expect(decodeEntry(bytes)).toEqual({ ok: true, value: entry });
  });

  it("refuses a digest cut short and a certification without an official", () => {
    expect(decodeEntry(RESULTS_PUBLISHED_BYTES.subarray(0, RESULTS_PUBLISHED_BYTES.length - 1)).ok).toBe(false);
    expect(LogEntry.safeParse({ ...RESULTS_CERTIFIED, officialId: "" }).success).toBe(false);
    expect(LogEntry.safeParse({ ...RESULTS_PUBLISHED, resultsSha256: "AB".repeat(32) }).success).toBe(false);
  });
});

describe("golden vectors of authority changes", () => {
  it.each([
    ["station registered", STATION_REGISTERED, STATION_REGISTERED_BYTES],
    ["station key added", STATION_KEY_ADDED, STATION_KEY_ADDED_BYTES],
    ["serial range issued", SERIAL_RANGE, SERIAL_RANGE_BYTES],
    ["sheet key added", SHEET_KEY_ADDED, SHEET_KEY_ADDED_BYTES],
  ] as const)("%s encodes to its golden bytes and decodes back", (_name, entry, bytes) => {
    expect(hex(encodeEntry(entry))).toBe(hex(bytes));
    expect(decodeEntry(bytes)).toEqual({ ok: true, value: entry });
  });

  it.each([
    ["a station with no district", fromHex("01 20 6955b900 0004 73742d31 0000"), /district count at offset 12 is 0/],
    [
      "districts out of order",
      fromHex("01 20 6955b900 0004 73742d31 0002 0005 6e6f727468 0004 65617374"),
      /district at offset 21 is out of order/,
    ],
    [
      "a serial above 2^53 - 1",
      fromHex("01 24 6955b900 0004 73742d31 00200000 00000000 00000000 00000001"),
      /first serial at offset 12 is above 2\^53 - 1/,
    ],
    [
      "an empty range",
      fromHex("01 24 6955b900 0004 73742d31 00000000 00000001 00000000 00000000"),
      /count at offset 20 is 0/,
    ],
    [
      "a public key cut short",
      fromHex("01 25 6955b900 0008 7368656574732d31", "ab".repeat(32), "0001020304"),
      /public key needs 32 byte/,
    ],
  ])("refuses %s", (_name, bytes, message) => {
    const decoded = decodeEntry(bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(message);
  });

  it("refuses a public key that is not 32 bytes in base64url, and a range past 2^53 - 1", () => {
    expect(LogEntry.safeParse({ ...SHEET_KEY_ADDED, publicKey: KEY_X.slice(1) }).success).toBe(false);
    expect(LogEntry.safeParse({ ...SHEET_KEY_ADDED, publicKey: `${KEY_X.slice(0, 42)}B` }).success).toBe(false);
    expect(LogEntry.safeParse({ ...SERIAL_RANGE, first: Number.MAX_SAFE_INTEGER, count: 2 }).success).toBe(false);
    expect(LogEntry.safeParse({ ...SERIAL_RANGE, first: Number.MAX_SAFE_INTEGER, count: 1 }).success).toBe(true);
  });
});

// An administrator's early close of the polls and its reopening (0x27, 0x28).
const POLLS_CLOSED_EARLY: LogEntryOf<"polls-closed-early"> = {
  type: "polls-closed-early",
  at: "2026-01-01T00:00:00.000Z",
  effectiveAt: "2026-01-01T00:00:11.000Z",
  officialId: "admin-1",
  reason: "Flood",
};

const POLLS_CLOSED_EARLY_BYTES = fromHex(
  "01 27",
  "6955b900", // at
  "6955b90b", // effectiveAt, 11 s later
  "0007 61646d696e2d31", // "admin-1"
  "0005 466c6f6f64", // "Flood"
);

const POLLS_REOPENED: LogEntryOf<"polls-reopened"> = {
  type: "polls-reopened",
  at: "2026-01-01T00:01:00.000Z",
  officialId: "admin-1",
  reason: "Dry",
};

const POLLS_REOPENED_BYTES = fromHex("01 28", "6955b93c", "0007 61646d696e2d31", "0003 447279");

ALL.push(POLLS_CLOSED_EARLY, POLLS_REOPENED);

describe("golden vectors of the polls' early close and reopening", () => {
  it.each([
    ["polls closed early", POLLS_CLOSED_EARLY, POLLS_CLOSED_EARLY_BYTES],
    ["polls reopened", POLLS_REOPENED, POLLS_REOPENED_BYTES],
  ] as const)("%s encodes to its golden bytes and decodes back", (_name, entry, bytes) => {
    expect(hex(encodeEntry(entry))).toBe(hex(bytes));
    expect(decodeEntry(bytes)).toEqual({ ok: true, value: entry });
  });

  it.each([
    ["polls closed early", POLLS_CLOSED_EARLY, POLLS_CLOSED_EARLY_BYTES],
    ["polls reopened", POLLS_REOPENED, POLLS_REOPENED_BYTES],
  ] as const)("a flipped byte anywhere in the %s vector is caught", (_name, entry, bytes) => {
    for (let i = 0; i < bytes.length; i++) {
      const flipped = bytes.slice();
      flipped[i] = (flipped[i] ?? 0) ^ 0x01;
      const decoded = decodeEntry(flipped);
      if (decoded.ok) expect(decoded.value).not.toEqual(entry);
    }
  });

  it("refuses an empty reason or official, and a reason beyond one text", () => {
    expect(decodeEntry(fromHex("01 28 6955b93c 0007 61646d696e2d31 0000")).ok).toBe(false);
    expect(decodeEntry(fromHex("01 28 6955b93c 0000 0003 447279")).ok).toBe(false);
    expect(LogEntry.safeParse({ ...POLLS_REOPENED, reason: "" }).success).toBe(false);
    expect(LogEntry.safeParse({ ...POLLS_CLOSED_EARLY, reason: "é".repeat(513) }).success).toBe(false);
    expect(LogEntry.safeParse({ ...POLLS_CLOSED_EARLY, reason: "é".repeat(512) }).success).toBe(true);
  });
});

const CONFLICT_ADJUDICATED: LogEntryOf<"conflict-adjudicated"> = {
  type: "conflict-adjudicated",
  at: "2026-01-01T00:00:00.000Z",
  conflictId: "c-1",
  stationId: "st-1",
  districtId: "d-1",
  decision: "do-not-count",
  officialId: "admin-1",
  reason: "ok",
};

const CONFLICT_ADJUDICATED_BYTES = fromHex(
  "01 2b",
  "6955b900",
  "0003 632d31", // "c-1"
  "0004 73742d31", // "st-1"
  "0003 642d31", // "d-1"
  "02", // do-not-count
  "0007 61646d696e2d31", // "admin-1"
  "0002 6f6b", // "ok"
);

ALL.push(CONFLICT_ADJUDICATED, { ...CONFLICT_ADJUDICATED, decision: "count" });

describe("golden vectors of a conflict's adjudication", () => {
  it("encodes to its golden bytes and decodes back", () => {
    expect(hex(encodeEntry(CONFLICT_ADJUDICATED))).toBe(hex(CONFLICT_ADJUDICATED_BYTES));
    expect(decodeEntry(CONFLICT_ADJUDICATED_BYTES)).toEqual({ ok: true, value: CONFLICT_ADJUDICATED });
  });

  it("refuses a decision byte other than 1 or 2, and an empty reason", () => {
    const bad = CONFLICT_ADJUDICATED_BYTES.slice();
    bad[2 + 4 + 5 + 6 + 5] = 3;
    expect(decodeEntry(bad).ok).toBe(false);
    expect(LogEntry.safeParse({ ...CONFLICT_ADJUDICATED, reason: "" }).success).toBe(false);
  });
});

const ALERT_RAISED: LogEntryOf<"alert-raised"> = {
  type: "alert-raised",
  at: "2026-01-01T00:00:00.000Z",
  alertId: "al_1",
  rule: "qr-replay",
  scope: "station:st-1",
};
const ALERT_RAISED_BYTES = fromHex(
  "01 2c",
  "6955b900",
  "0004 616c5f31", // "al_1"
  "0009 71722d7265706c6179", // "qr-replay"
  "000c 73746174696f6e3a73742d31", // "station:st-1"
);
const ALERT_CLOSED: LogEntryOf<"alert-closed"> = {
  type: "alert-closed",
  at: "2026-01-01T00:00:00.000Z",
  alertId: "al_1",
  officialId: "admin-1",
};
const ALERT_CLOSED_BYTES = fromHex(
  "01 2d",
  "6955b900",
  "0004 616c5f31", // "al_1"
  "0007 61646d696e2d31", // "admin-1"
);

ALL.push(ALERT_RAISED, { ...ALERT_RAISED, scope: "network" }, ALERT_CLOSED);

describe("golden vectors of the security monitor's alerts", () => {
  it("encode to their golden bytes and decode back", () => {
    expect(hex(encodeEntry(ALERT_RAISED))).toBe(hex(ALERT_RAISED_BYTES));
    expect(decodeEntry(ALERT_RAISED_BYTES)).toEqual({ ok: true, value: ALERT_RAISED });
    expect(hex(encodeEntry(ALERT_CLOSED))).toBe(hex(ALERT_CLOSED_BYTES));
    expect(decodeEntry(ALERT_CLOSED_BYTES)).toEqual({ ok: true, value: ALERT_CLOSED });
  });

  it("refuses an empty alert id, rule, scope or official", () => {
    expect(decodeEntry(fromHex("01 2d 6955b900 0000 0007 61646d696e2d31")).ok).toBe(false);
    expect(LogEntry.safeParse({ ...ALERT_RAISED, scope: "" }).success).toBe(false);
    expect(LogEntry.safeParse({ ...ALERT_RAISED, rule: "" }).success).toBe(false);
    expect(LogEntry.safeParse({ ...ALERT_CLOSED, officialId: "" }).success).toBe(false);
  });
});

describe("golden vectors", () => {
  it.each([
    ["ballot", BALLOT, BALLOT_BYTES],
    ["retraction", RETRACTION, RETRACTION_BYTES],
    ["cast vote record", CVR, CVR_BYTES],
    ["polls opened", { type: "polls-opened", at: "2026-01-01T00:00:00.000Z" } satisfies LogEntry, POLLS_OPENED_BYTES],
    ["definition loaded", DEFINITION, DEFINITION_BYTES],
    ["retraction key", RETRACTION_KEY_ENTRY, RETRACTION_KEY_BYTES],
    ["contest vote record", CONTEST_RECORD, CONTEST_RECORD_BYTES],
    ["records round", ROUND, ROUND_BYTES],
  ] as const)("%s encodes to its golden bytes and decodes back", (_name, entry, bytes) => {
    expect(hex(encodeEntry(entry))).toBe(hex(bytes));
    expect(decodeEntry(bytes)).toEqual({ ok: true, value: entry });
  });

  it.each([
    ["retraction", RETRACTION, RETRACTION_BYTES],
    ["retraction key", RETRACTION_KEY_ENTRY, RETRACTION_KEY_BYTES],
    ["contest vote record", CONTEST_RECORD, CONTEST_RECORD_BYTES],
    ["records round", ROUND, ROUND_BYTES],
    ["definition loaded", DEFINITION, DEFINITION_BYTES],
  ] as const)("a flipped byte anywhere in the %s vector is caught", (_name, entry, bytes) => {
    for (let i = 0; i < bytes.length; i++) {
      const flipped = bytes.slice();
      flipped[i] = (flipped[i] ?? 0) ^ 0x01;
      const decoded = decodeEntry(flipped);
      // Either refused, or a different entry (so its leaf hash differs from the golden one).
      if (decoded.ok) expect(decoded.value).not.toEqual(entry);
    }
  });

  it("the blinded code is HMAC-SHA-256 under the retraction key, and names no tracking code", async () => {
    const key = await retractionBlindingKey(RETRACTION_KEY);
    expect(await retractionBlind(key, "7K3M-Q9TX-2D4F-H8JA")).toBe(BLINDED);
    expect(await retractionBlind(key, "7K3M-Q9TX-2D4F-H8JB")).not.toBe(BLINDED);
    const other = await retractionBlindingKey("43".repeat(32));
    expect(await retractionBlind(other, "7K3M-Q9TX-2D4F-H8JA")).not.toBe(BLINDED);
    expect(new TextDecoder().decode(RETRACTION_BYTES)).not.toContain("7K3M");
  });
});

describe("per-contest records (M5)", () => {
  it("split a ballot into one record per contest, with no field two of them share but district and style", () => {
    const split = recordEntriesOf(CVR, "per-contest");
    expect(split).toEqual([
      CONTEST_RECORD,
      { type: "contest-vote-record", districtId: "north", ballotStyleId: "style-n", contestId: "c2", marks: [] },
    ]);
    expect(recordEntriesOf(CVR, "whole-ballot")).toEqual([CVR]);
  });
});

describe("every entry type", () => {
  it("has a test entry here", () => {
    expect(new Set(ALL.map((e) => e.type))).toEqual(new Set(Object.keys(ENTRY_TYPES)));
  });

  it.each(ALL.map((e) => [e.type, e] as const))("%s round-trips and is canonical", (_type, entry) => {
    expect(LogEntry.safeParse(entry).success).toBe(true);
    const bytes = encodeEntry(entry);
    const decoded = decodeEntry(bytes);
    expect(decoded).toEqual({ ok: true, value: entry });
    // Truncation anywhere is refused; an extra byte is refused.
    for (let n = 0; n < bytes.length; n++) expect(decodeEntry(bytes.subarray(0, n)).ok).toBe(false);
    expect(decodeEntry(new Uint8Array([...bytes, 0])).ok).toBe(false);
  });
});

describe("strict decoding", () => {
  it.each([
    ["an unknown version", fromHex("02 12 6955b900"), /unknown entry version 2/],
    ["an unknown type", fromHex("01 7f 6955b900"), /unknown entry type 0x7f at offset 1/],
    ["a bad channel", fromHex("01 01 03", "0005 6e6f727468 0000 69a411a4 0002 6331"), /channel at offset 2 is 3/],
    [
      "a time finer than a minute",
      fromHex("01 01 01 0005 6e6f727468 0000 69a411ce 0002 6331"),
      /acceptedAt at offset 12 is not on a minute/,
    ],
    [
      "an online ballot with a station",
      fromHex("01 01 01 0005 6e6f727468 0001 73 69a411a4 0002 6331"),
      /online ballot names a station/,
    ],
    [
      "a commitment with a space",
      fromHex("01 01 01 0005 6e6f727468 0000 69a411a4 0002 6320"),
      /commitment at offset 16 is not 1-128 letters/,
    ],
    ["an empty commitment", fromHex("01 01 01 0005 6e6f727468 0000 69a411a4 0000"), /commitment at offset 16 is empty/],
    [
      "malformed UTF-8",
      fromHex("01 01 01 0002 c328 0000 69a411a4 0002 6331"),
      /district at offset 3 is not well-formed UTF-8/,
    ],
    ["an empty district", fromHex("01 01 01 0000 0000 69a411a4 0002 6331"), /district at offset 3 is empty/],
    [
      "marks out of order",
      fromHex("01 03 0005 6e6f727468 0007 7374796c652d6e 0001 0002 6331 02 0005 6f70742d77 01 0005 6f70742d61 00"),
      /out of order/,
    ],
    [
      "a repeated mark",
      fromHex("01 03 0005 6e6f727468 0007 7374796c652d6e 0001 0002 6331 02 0005 6f70742d61 00 0005 6f70742d61 00"),
      /out of order or repeated/,
    ],
    [
      "unknown mark flags",
      fromHex("01 03 0005 6e6f727468 0007 7374796c652d6e 0001 0002 6331 01 0005 6f70742d61 02"),
      /only 0x01 is defined/,
    ],
    [
      "a cast vote record with no contest",
      fromHex("01 03 0005 6e6f727468 0007 7374796c652d6e 0000"),
      /contest count at offset 18 is 0/,
    ],
    ["a short blinded code", fromHex("01 02 02 0005 6e6f727468", "ab".repeat(31)), /blinded code needs 32 byte/],
    [
      "an unknown records kind",
      fromHex(hex(DEFINITION_BYTES).slice(0, -10), "03 00000019"),
      /cast vote records at offset/,
    ],
    ["k = 0", fromHex(hex(DEFINITION_BYTES).slice(0, -8), "00000000"), /minBallotsPerRelease at offset \d+ is 0/],
  ])("refuses %s", (_name, bytes, message) => {
    const decoded = decodeEntry(bytes);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(message);
  });

  it("re-encodes every accepted byte string to itself (single flips either fail or stay canonical)", () => {
    expect.hasAssertions();
    const BITS = [0x01, 0x80];
    const flips = ALL.reduce((n, entry) => n + encodeEntry(entry).length * BITS.length, 0);
    let refused = 0;
    let canonical = 0;
    for (const entry of ALL) {
      const bytes = encodeEntry(entry);
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of BITS) {
          const flipped = bytes.slice();
          flipped[i] = (flipped[i] ?? 0) ^ bit;
          const decoded = decodeEntry(flipped);
          if (decoded.ok) {
            expect(hex(encodeEntry(decoded.value))).toBe(hex(flipped));
            canonical += 1;
          } else {
            refused += 1;
          }
        }
      }
    }
    // Every flip has one of the two outcomes, and both happen: the decoder refuses some (it is
    // strict), and the re-encoding check above ran on the others.
    expect(refused + canonical).toBe(flips);
    expect(refused).toBeGreaterThan(0);
    expect(canonical).toBeGreaterThan(0);
  });
});

describe("from ballot messages", () => {
  const message = {
    kind: "ballot" as const,
    ballotId: "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5",
    electionId: "demo-2026",
    ballotStyleId: "style-n",
    districtId: "north",
    channel: "online" as const,
    contests: [
      { contestId: "c1", optionIds: ["opt-w", "opt-a"], writeIns: { "opt-w": "Jaan Tatikas" } },
      { contestId: "c2", optionIds: [] },
    ],
    trackingCode: "7K3M-Q9TX-2D4F-H8JA",
    commitment: BALLOT.commitment,
    acceptedAt: "2026-03-01T10:15:00.000Z",
  };

  it("the ballot entry has the commitment and no marks", () => {
    expect(ballotEntry(message)).toEqual(BALLOT);
  });

  it("the cast vote record has the marks, the write-in flag, and nothing that links it", () => {
    const cvr = castVoteRecordEntry(message);
    expect(cvr).toEqual(CVR);
    const text = new TextDecoder().decode(encodeEntry(cvr));
    for (const linking of [message.ballotId, message.trackingCode, message.commitment, "Jaan Tatikas", "2026"]) {
      expect(text).not.toContain(linking);
    }
  });
});
