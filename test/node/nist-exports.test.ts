/**
 * The NIST exports as pure functions (lib/nist/): the results ElectionReport and the
 * CastVoteRecordReport built from the demo election and a known set of records are valid under
 * the shared NIST schemas (draft-04, @cfworker/json-schema), state exactly the known counts, come
 * out byte for byte the same when rebuilt, keep per-contest records unlinked, and their detached
 * signatures verify with the log's public key only for the bytes signed.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Validator, type Schema } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import demo from "../../elections/demo/election.json";
import { encodeEntry, recordEntriesOf, type LogEntry, type LogEntryOf } from "../../lib/audit/entries.ts";
import { LogAuditor, RecordTally, type RecordEntry } from "../../lib/audit/recount.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import { exportedDefinition } from "../../lib/election/export.ts";
import { hexEncode } from "../../lib/bytes.ts";
import { totalsDifferences } from "../../lib/nist/compare.ts";
import { buildCvrReport, readCvrReport } from "../../lib/nist/cvr-report.ts";
import { signDetached, verifyDetached } from "../../lib/nist/jws.ts";
import { buildResultsReport, readResultsReport, serializeReport } from "../../lib/nist/results-report.ts";
import { sharedPath } from "./helpers/shared.ts";

const NIST = sharedPath("standards/nist");
const schema = (name: string): Validator =>
  new Validator(JSON.parse(readFileSync(resolve(NIST, name), "utf8")) as Schema, "4", false);
const resultsSchema = schema("election_results_reporting_v2.schema.json");
const cvrSchema = schema("cast_vote_records.schema.json");

const parsed = parseDefinition(demo);
if (!parsed.ok) throw new Error("the demo definition does not parse");
const { definition, election } = parsed.value;
const GENERATED_AT = "2031-01-01T00:10:00.000Z";

type Ballot = LogEntryOf<"cast-vote-record">;
const mark = (optionId: string, writeIn = false): { optionId: string; writeIn: boolean } => ({ optionId, writeIn });

/** Known ballots: 3 in the north, 2 in the east (one with a write-in, one leaving contests blank). */
const BALLOTS: Ballot[] = [
  ...Array.from({ length: 2 }, (): Ballot => ({
    type: "cast-vote-record",
    districtId: "district-north",
    ballotStyleId: "bs-north",
    contests: [
      { contestId: "contest-president", marks: [mark("sel-president-aino-tamm")] },
      { contestId: "contest-parliament-north", marks: [mark("sel-parliament-north-mari-saar")] },
      { contestId: "contest-referendum-voting-age", marks: [mark("sel-referendum-voting-age-yes")] },
    ],
  })),
  {
    type: "cast-vote-record",
    districtId: "district-north",
    ballotStyleId: "bs-north",
    contests: [
      { contestId: "contest-president", marks: [mark("sel-president-juhan-mets")] },
      { contestId: "contest-parliament-north", marks: [mark("sel-parliament-north-mari-saar")] },
      { contestId: "contest-referendum-voting-age", marks: [mark("sel-referendum-voting-age-no")] },
    ],
  },
  {
    type: "cast-vote-record",
    districtId: "district-east",
    ballotStyleId: "bs-east",
    contests: [
      { contestId: "contest-president", marks: [mark("sel-president-write-in", true)] },
      { contestId: "contest-parliament-east", marks: [mark("sel-parliament-east-olga-petrova")] },
      {
        contestId: "contest-council-east",
        marks: [mark("sel-council-east-anna-laur"), mark("sel-council-east-eva-sild")],
      },
      { contestId: "contest-referendum-voting-age", marks: [mark("sel-referendum-voting-age-yes")] },
    ],
  },
  {
    type: "cast-vote-record",
    districtId: "district-east",
    ballotStyleId: "bs-east",
    contests: [
      { contestId: "contest-president", marks: [] },
      { contestId: "contest-parliament-east", marks: [mark("sel-parliament-east-rein-kuusk")] },
      { contestId: "contest-council-east", marks: [] },
      { contestId: "contest-referendum-voting-age", marks: [] },
    ],
  },
];

/** Per-contest records in a fixed interleaved order (as a shuffled log would hold them). */
const RECORDS: RecordEntry[] = BALLOTS.flatMap((b) => recordEntriesOf(b, "per-contest")).sort((a, b) =>
  hexEncode(encodeEntry(a)) < hexEncode(encodeEntry(b)) ? -1 : 1,
);

function totalsOf(records: readonly RecordEntry[]): ReturnType<RecordTally["finish"]>["totals"] {
  const tally = new RecordTally();
  for (const r of records) tally.add(r);
  const { totals, problems } = tally.finish();
  expect(problems).toEqual([]);
  return totals;
}

type Json = Record<string, unknown>;
const contestOf = (report: Json, id: string): Json => {
  const contests = (report["Election"] as Json[])[0]?.["Contest"] as Json[];
  const found = contests.find((c) => c["@id"] === id);
  if (!found) throw new Error(`no contest ${id}`);
  return found;
};
const votes = (report: Json, contestId: string, selectionId: string, gpUnit: string): number | undefined => {
  const selection = (contestOf(report, contestId)["ContestSelection"] as Json[]).find((s) => s["@id"] === selectionId);
  return (selection?.["VoteCounts"] as Json[] | undefined)?.find((v) => v["GpUnitId"] === gpUnit)?.["Count"] as
    number | undefined;
};
const other = (report: Json, contestId: string, gpUnit: string): Json | undefined =>
  (contestOf(report, contestId)["OtherCounts"] as Json[]).find((o) => o["GpUnitId"] === gpUnit);

describe("results report (NIST SP 1500-100 rev.2)", () => {
  const totals = totalsOf(RECORDS);
  const report = buildResultsReport({ definition, election, totals, generatedAt: GENERATED_AT });

  it("is valid under the shared NIST schema", () => {
    const result = resultsSchema.validate(report);
    expect(result.errors.slice(0, 3)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("states the known counts per district and for the whole contest", () => {
    expect(report["Status"]).toBe("unofficial-complete");
    expect(report["Format"]).toBe("precinct-level");
    expect(report["GeneratedDate"]).toBe("2031-01-01T00:10:00Z");
    expect(votes(report, "contest-president", "sel-president-aino-tamm", "district-north")).toBe(2);
    expect(votes(report, "contest-president", "sel-president-juhan-mets", "district-north")).toBe(1);
    expect(votes(report, "contest-president", "sel-president-aino-tamm", "district-east")).toBe(0);
    expect(votes(report, "contest-president", "sel-president-aino-tamm", "demo-republic")).toBe(2);
    expect(votes(report, "contest-referendum-voting-age", "sel-referendum-voting-age-yes", "demo-republic")).toBe(3);
    expect(votes(report, "contest-council-east", "sel-council-east-anna-laur", "district-east")).toBe(1);
    // The contest of one district only: no second, "whole contest" count beside the district's.
    expect(
      ((contestOf(report, "contest-council-east")["ContestSelection"] as Json[])[0]?.["VoteCounts"] as Json[]).map(
        (v) => v["GpUnitId"],
      ),
    ).toEqual(["district-east"]);
    // Write-ins and blank contests as NIST's OtherCounts; the write-in line itself has no VoteCounts.
    expect(other(report, "contest-president", "district-east")).toMatchObject({ WriteIns: 1, Undervotes: 1 });
    expect(other(report, "contest-president", "demo-republic")).toMatchObject({ WriteIns: 1, Undervotes: 1 });
    expect(votes(report, "contest-president", "sel-president-write-in", "district-east")).toBeUndefined();
    const ballotCounts = (report["Election"] as Json[])[0]?.["BallotCounts"] as Json[];
    expect(ballotCounts.map((b) => [b["GpUnitId"], b["BallotsCast"]])).toEqual([
      ["district-east", 2],
      ["district-north", 3],
      ["district-south", 0],
    ]);
  });

  it("reads back to the totals it was built from, and a changed count is named", () => {
    const read = readResultsReport(report);
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(totalsDifferences(totals, read.value, "log", "report")).toEqual([]);
    const tampered = JSON.parse(JSON.stringify(report)) as Json;
    const selection = (contestOf(tampered, "contest-president")["ContestSelection"] as Json[])[0] as Json;
    ((selection["VoteCounts"] as Json[])[1] as Json)["Count"] = 3;
    const again = readResultsReport(tampered);
    expect(again.ok && totalsDifferences(totals, again.value, "log", "report")).toEqual([
      "district district-north, contest contest-president, selection sel-president-aino-tamm: log 2, report 3",
    ]);
  });

  it("is the same bytes when rebuilt, whatever order the totals came in", () => {
    const again = buildResultsReport({
      definition,
      election,
      totals: totalsOf([...RECORDS].reverse()),
      generatedAt: GENERATED_AT,
    });
    expect(hexEncode(serializeReport(again))).toBe(hexEncode(serializeReport(report)));
  });
});

describe("cast vote record report (NIST SP 1500-103)", () => {
  const report = buildCvrReport({
    definition,
    election,
    mode: "per-contest",
    records: RECORDS,
    generatedAt: GENERATED_AT,
  });

  it("is valid under the shared NIST schema", () => {
    const result = cvrSchema.validate(report);
    expect(result.errors.slice(0, 3)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("holds exactly the log's records, in order, one CVR per contest record", () => {
    const read = readCvrReport(report);
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.value.map((r) => hexEncode(encodeEntry(r)))).toEqual(RECORDS.map((r) => hexEncode(encodeEntry(r))));
    expect((report["CVR"] as Json[]).length).toBe(RECORDS.length);
  });

  it("never links two contests of a ballot: one contest per CVR, and nothing but district and style shared", () => {
    for (const cvr of report["CVR"] as Json[]) {
      expect(Object.keys(cvr).sort()).toEqual(
        ["@type", "BallotStyleId", "BallotStyleUnitId", "CVRSnapshot", "CurrentSnapshotId", "ElectionId"].sort(),
      );
      const snapshots = cvr["CVRSnapshot"] as Json[];
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]?.["CVRContest"] as Json[]).toHaveLength(1);
    }
    const text = new TextDecoder().decode(serializeReport(report));
    for (const linking of ["BallotAuditId", "UniqueId", "BatchId", "CreatingDeviceId", "BallotPrePrintedId"])
      expect(text).not.toContain(linking);
  });

  it("whole-ballot records stay whole ballots and read back as such", () => {
    const whole = buildCvrReport({
      definition,
      election,
      mode: "whole-ballot",
      records: BALLOTS,
      generatedAt: GENERATED_AT,
    });
    expect(cvrSchema.validate(whole).valid).toBe(true);
    const read = readCvrReport(whole);
    expect(read.ok && read.value).toEqual(BALLOTS);
  });

  it("is the same bytes when rebuilt", () => {
    const again = buildCvrReport({
      definition,
      election,
      mode: "per-contest",
      records: RECORDS,
      generatedAt: GENERATED_AT,
    });
    expect(hexEncode(serializeReport(again))).toBe(hexEncode(serializeReport(report)));
  });
});

describe("detached signatures", () => {
  it("verify with the public key for the bytes signed, and for nothing else", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
    const bytes = serializeReport({ hello: "world" });
    const jws = await signDetached(bytes, pair.privateKey, "vote.example.gov/audit/demo-2026");
    expect(jws).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
    expect(await signDetached(bytes, pair.privateKey, "vote.example.gov/audit/demo-2026")).toBe(jws);
    const verified = await verifyDetached(jws, bytes, publicKey);
    expect(verified).toEqual({ ok: true, value: { kid: "vote.example.gov/audit/demo-2026" } });
    const changed = bytes.slice();
    changed[5] = (changed[5] ?? 0) ^ 1;
    expect((await verifyDetached(jws, changed, publicKey)).ok).toBe(false);
    const other = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const otherKey = new Uint8Array((await crypto.subtle.exportKey("raw", other.publicKey)) as ArrayBuffer);
    expect((await verifyDetached(jws, bytes, otherKey)).ok).toBe(false);
  });
});

describe("the auditor's rules for results-published and results-certified", () => {
  const published: LogEntryOf<"results-published"> = {
    type: "results-published",
    at: "2031-01-01T00:10:00.000Z",
    logSize: 0,
    records: 2,
    resultsSha256: "ab".repeat(32),
    cvrSha256: "cd".repeat(32),
  };
  const certified: LogEntryOf<"results-certified"> = {
    type: "results-certified",
    at: "2031-01-02T00:00:00.000Z",
    officialId: "admin-1",
    resultsSha256: "ab".repeat(32),
    statement: "",
  };
  const two = RECORDS.filter((r) => r.type === "contest-vote-record" && r.contestId === "contest-parliament-east");

  async function problemsOf(tail: LogEntry[]): Promise<string[]> {
    const auditor = new LogAuditor();
    const entries: LogEntry[] = [
      { type: "polls-closed", at: "2031-01-01T00:00:00.000Z" },
      ...two,
      {
        type: "cast-vote-records-published",
        at: "2031-01-01T00:05:00.000Z",
        round: 1,
        districts: [{ districtId: "district-east", records: 2, withheld: 0 }],
      },
      ...tail,
    ];
    for (const [i, e] of entries.entries()) await auditor.add(i, e);
    return auditor.finish().problems.filter((p) => p.includes("results"));
  }

  it("accept an export of every record before it, certified by its digest", async () => {
    expect(await problemsOf([{ ...published, logSize: 4 }, certified])).toEqual([]);
  });

  it("name a wrong record count, a second publication, and a certification of another report or before any", async () => {
    expect(await problemsOf([{ ...published, logSize: 4, records: 3 }])).toEqual([
      "entry 4: results-published says 3 records, the log has 2 before it",
    ]);
    expect(
      await problemsOf([
        { ...published, logSize: 4 },
        { ...published, logSize: 5 },
      ]),
    ).toEqual(["entry 5: a second results-published entry (the exports are published once)"]);
    expect(
      await problemsOf([
        { ...published, logSize: 4 },
        { ...certified, resultsSha256: "ef".repeat(32) },
      ]),
    ).toEqual([
      `entry 5: results-certified names report ${"ef".repeat(32)}, the published report is ${"ab".repeat(32)}`,
    ]);
    expect(await problemsOf([certified])).toEqual([
      "entry 4: results are certified before any results-published entry",
    ]);
  });
});

describe("exports of a definition the loader completed", () => {
  // The demo's referendum listed without selections, and settings that ask for Yes and No: the
  // compiled election has them, the stored report does not; the exports start from the report
  // with them written out (exportedDefinition, what log-exports.ts loads).
  const document = structuredClone(demo) as unknown as { settings: Json; electionReport: Json };
  document.settings["missingBallotMeasureSelections"] = "yes-no";
  const referendum = ((document.electionReport["Election"] as Json[])[0]!["Contest"] as Json[]).find(
    (c) => c["@id"] === "contest-referendum-voting-age",
  )!;
  delete referendum["ContestSelection"];
  const completed = parseDefinition(document);
  if (!completed.ok) throw new Error("the completed demo does not parse");
  const yes = "contest-referendum-voting-age-yes";
  const records: RecordEntry[] = [
    {
      type: "cast-vote-record",
      districtId: "district-north",
      ballotStyleId: "bs-north",
      contests: [{ contestId: "contest-referendum-voting-age", marks: [mark(yes)] }],
    },
    {
      type: "cast-vote-record",
      districtId: "district-east",
      ballotStyleId: "bs-east",
      contests: [{ contestId: "contest-referendum-voting-age", marks: [mark(yes)] }],
    },
  ].flatMap((b) => recordEntriesOf(b as Ballot, "per-contest"));
  const totals = totalsOf(records);
  const exported = exportedDefinition(completed.value);

  it("count the added selections in the results report, which reads back to the totals", () => {
    const report = buildResultsReport({
      definition: exported,
      election: completed.value.election,
      totals,
      generatedAt: GENERATED_AT,
    });
    expect(resultsSchema.validate(report).valid).toBe(true);
    expect(votes(report, "contest-referendum-voting-age", yes, "demo-republic")).toBe(2);
    const read = readResultsReport(report);
    expect(read.ok && totalsDifferences(totals, read.value, "log", "report")).toEqual([]);
    // From the stored report as it is, the count would have nowhere to go.
    const bare = buildResultsReport({
      definition: completed.value.definition,
      election: completed.value.election,
      totals,
      generatedAt: GENERATED_AT,
    });
    expect(contestOf(bare, "contest-referendum-voting-age")["ContestSelection"]).toBeUndefined();
  });

  it("name the added selections as ballot-measure selections in the cast vote records", () => {
    const report = buildCvrReport({
      definition: exported,
      election: completed.value.election,
      mode: "per-contest",
      records,
      generatedAt: GENERATED_AT,
    });
    expect(cvrSchema.validate(report).valid).toBe(true);
    const contests = ((report["Election"] as Json[])[0]!["Contest"] as Json[]).find(
      (c) => c["@id"] === "contest-referendum-voting-age",
    )!;
    expect((contests["ContestSelection"] as Json[]).map((s) => [s["@id"], s["@type"], s["Selection"]])).toEqual([
      [yes, "CVR.BallotMeasureSelection", "Yes"],
      ["contest-referendum-voting-age-no", "CVR.BallotMeasureSelection", "No"],
    ]);
  });
});
