import { describe, expect, it } from "vitest";
import { WIRE_BYTES } from "../../lib/audit/entries.ts";
import {
  CastVoteRecordsMode,
  Channel,
  ConflictDecision,
  CrossChannelPolicy,
  OfficialRole,
  ResultsVisibility,
  RetractionReason,
  StationKeyRole,
} from "../../lib/vocabulary.ts";

// Each vocabulary whose values become bytes in a signed log entry, beside its frozen table.
const TABLES = [
  ["channel", Channel.options, WIRE_BYTES.channel],
  ["reason", RetractionReason.options, WIRE_BYTES.reason],
  ["policy", CrossChannelPolicy.options, WIRE_BYTES.policy],
  ["visibility", ResultsVisibility.options, WIRE_BYTES.visibility],
  ["role", OfficialRole.options, WIRE_BYTES.role],
  ["records", CastVoteRecordsMode.options, WIRE_BYTES.records],
  ["stationKeyRole", StationKeyRole.options, WIRE_BYTES.stationKeyRole],
  ["decision", ConflictDecision.options, WIRE_BYTES.decision],
] as const;

describe("the audit log's wire bytes for the domain vocabularies", () => {
  it("covers every wire table", () => {
    expect(TABLES.map(([name]) => name).sort()).toEqual(Object.keys(WIRE_BYTES).sort());
  });

  it.each(TABLES)(
    "%s: every value of the vocabulary has a byte, and the table has no other value",
    (_, values, table) => {
      expect(Object.keys(table).sort()).toEqual([...values].sort());
    },
  );

  it.each(TABLES)("%s: bytes are distinct, never 0, and fit a byte", (_, _values, table) => {
    const bytes: number[] = Object.values(table);
    expect(new Set(bytes).size).toBe(bytes.length);
    for (const byte of bytes) {
      expect(Number.isInteger(byte) && byte >= 1 && byte <= 0xff).toBe(true);
    }
  });

  it("keeps the bytes that signed logs already carry", () => {
    // Frozen: these bytes are inside published, signed entries. Changing one is a new format.
    expect(WIRE_BYTES).toEqual({
      channel: { online: 1, paper: 2 },
      reason: { "superseded-by-online": 1, "cancelled-by-paper": 2 },
      policy: { "first-wins": 1, "paper-supersedes": 2 },
      visibility: { live: 1, "after-close": 2 },
      role: { administrator: 1, "station-official": 2, auditor: 3, "security-officer": 4 },
      records: { "whole-ballot": 1, "per-contest": 2 },
      stationKeyRole: { client: 1, "marking-device": 2 },
      decision: { count: 1, "do-not-count": 2 },
    });
  });
});
