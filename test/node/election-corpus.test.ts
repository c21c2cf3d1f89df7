/**
 * The corpus: SP 1500-100 v2 JSON files that others wrote (testdata/nist-1500-100/, each folder
 * with its SOURCE and licence), loaded as an election office would load them, beside our settings.
 * Every file in the folder must have an expectation here, so a file added later is tried too.
 *
 * A file loads with the warnings it should raise, or, where it holds an election of a kind this
 * system does not run (a partisan primary, a straight-party contest, ranked choice), it is refused
 * for exactly that, at its path, and nothing else: the rest of the file is then shown to load once
 * that part is taken out (every such file does). Shapes published under licences that do not let us copy the files are
 * rebuilt at the end, from the description of what they hold, with no fetch.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import demo from "../../elections/demo/election.json";
import type { ParsedDefinition } from "../../lib/election/definition.ts";
import { optionsOnStyle } from "../../lib/election/ballot-order.ts";
import { nistSchemaProblems } from "../../lib/election/nist-schema.ts";
import type { WarningCode } from "../../lib/election/derivations.ts";
import { loads, refused } from "./helpers/definitions.ts";

type Json = Record<string, unknown>;

const CORPUS = join(import.meta.dirname, "../../testdata/nist-1500-100");
const NIST = join(CORPUS, "usnistgov-cdf-test-method");
const ELECTION = "/electionReport/Election/0";

const settings = { ...demo.settings, electionId: "corpus" };

function read(file: string): Json {
  return JSON.parse(readFileSync(join(NIST, file), "utf8")) as Json;
}

function election(report: Json): Json {
  return (report["Election"] as Json[])[0]!;
}

/** A report beside the demo's settings (and `extra` ones): the document an office would load. */
function doc(report: Json, extra: Json = {}): Json {
  return { settings: { ...settings, ...extra }, electionReport: report };
}

/** How many warnings of each code, for a compact expectation. */
function tally(parsed: ParsedDefinition): Partial<Record<WarningCode, number>> {
  const out: Partial<Record<WarningCode, number>> = {};
  for (const w of parsed.warnings) out[w.code] = (out[w.code] ?? 0) + 1;
  return out;
}

function contestsOf(parsed: ParsedDefinition, districtId: string): readonly string[] {
  const style = parsed.election.ballotStyleByDistrict.get(districtId);
  return style === undefined ? [] : parsed.election.ballotStyles.get(style)!.contestIds;
}

/** Every file of the corpus and what it should do. */
const EXPECTED: Record<string, (report: Json) => void> = {
  "usnistgov-cdf-test-method/err-2022-11-08-Massachusetts-Cambridge.json": (report) => {
    const parsed = loads(doc(report));
    expect(tally(parsed)).toEqual({ ballot_style_id_derived: 12, counts_ignored: 1 });
    expect(parsed.election.ballotStyles.size).toBe(12);
    expect(parsed.election.contests.size).toBe(26);
    // Styles naming several precincts: every precinct of a style is a district with that style.
    const multi = [...parsed.election.ballotStyles.values()].filter((s) => s.districtIds.length > 1);
    expect(multi.length).toBeGreaterThan(0);
    for (const style of multi) {
      for (const d of style.districtIds) expect(parsed.election.ballotStyleByDistrict.get(d)).toBe(style.id);
    }
  },
  "usnistgov-cdf-test-method/err-gen-03.json": (report) => {
    const parsed = loads(doc(report));
    expect(parsed.warnings.map((w) => [w.code, w.path])).toEqual([
      ["counts_ignored", `${ELECTION}/Contest/0/OtherCounts`],
      ["ballot_style_id_derived", `${ELECTION}/BallotStyle/0`],
      ["ballot_style_id_derived", `${ELECTION}/BallotStyle/1`],
      ["composition_derived", "/electionReport/GpUnit/0"],
    ]);
    expect(parsed.election.languages).toEqual(["en-us"]);
    // Every contest's district is the county; the styles alone say which precinct sees which.
    expect(contestsOf(parsed, "prec-fs-23")).toEqual([
      "cc-president",
      "cc-senate",
      "cc-congress-1",
      "cc-assembly-1",
      "bm-22.6",
      "bm-25.3",
    ]);
    expect(contestsOf(parsed, "prec-ac")).toEqual([
      "cc-president",
      "cc-senate",
      "cc-congress-2",
      "cc-assembly-2",
      "bm-22.6",
      "bm-25.3",
    ]);
  },
  "usnistgov-cdf-test-method/pe-err-gen-01.json": (report) => {
    // The straight-party contest is refused for its kind, once, and the styles listing it point there.
    const problems = refused(doc(report));
    expect(problems.map((p) => p.path)).toEqual([
      `${ELECTION}/Contest/0/@type`,
      ...[0, 1, 2, 3].map((k) => `${ELECTION}/BallotStyle/${k}/OrderedContent/0/ContestId`),
    ]);
    expect(problems[0]!.message).toMatch(/PartyContest is not supported/);
    expect(problems[1]!.message).toMatch(/names "spc-1", a contest of a kind not supported \(.*Contest\/0\/@type\)/);
    // Without it, the rest loads: styles on combined precincts, whose precincts get their style.
    const e = election(report);
    e["Contest"] = (e["Contest"] as Json[]).filter((c) => c["@id"] !== "spc-1");
    for (const style of e["BallotStyle"] as Json[]) {
      style["OrderedContent"] = (style["OrderedContent"] as Json[]).filter((o) => o["ContestId"] !== "spc-1");
    }
    const parsed = loads(doc(report));
    expect(tally(parsed)).toEqual({ ballot_style_id_derived: 4, ballot_style_inherited: 8 });
    expect(parsed.election.ballotStyles.get("bs-cp-1-4-5-6")!.districtIds).toEqual([
      "cp-1-4-5-6",
      "prec-1",
      "prec-4",
      "prec-5",
      "prec-6",
    ]);
    expect(parsed.election.ballotStyleByDistrict.get("prec-7")).toBe("bs-cp-3-7-8-9");
    // A precinct split in two has no style of its own, and its voters are in one of its splits.
    expect(parsed.election.ballotStyleByDistrict.has("prec-2")).toBe(false);
    expect(parsed.election.ballotStyleByDistrict.get("ps-2a")).toBe("bs-ps-2a");
    // A presidential ticket: one selection, two candidates.
    expect(parsed.election.contests.get("cc-president")!.options[0]!.label).toMatch(/ \/ /);
  },
  "usnistgov-cdf-test-method/pe-err-gen-02.json": (report) => {
    const problems = refused(doc(report));
    expect(problems).toEqual([
      { path: `${ELECTION}/Contest/4/VoteVariation`, message: expect.stringMatching(/"rcv" is not supported/) },
    ]);
    // As a plurality contest, the rest loads, with each style's rotation of the candidates.
    (election(report)["Contest"] as Json[])[4]!["VoteVariation"] = "plurality";
    const parsed = loads(doc(report));
    expect(tally(parsed)).toEqual({ ballot_style_id_derived: 3 });
    const president = parsed.election.contests.get("cc-president")!;
    const shown = (district: string): string[] =>
      optionsOnStyle(
        parsed.election.ballotStyles.get(parsed.election.ballotStyleByDistrict.get(district)!),
        president,
      ).map((o) => o.option.id);
    expect(shown("prec-creekside")).toEqual(["co-president-as", "co-president-bh", "co-president-wi"]);
    expect(shown("prec-mooring")).toEqual(["co-president-bh", "co-president-as", "co-president-wi"]);
    expect(president.options.map((o) => o.id)).toEqual(["co-president-as", "co-president-bh", "co-president-wi"]);
  },
  "usnistgov-cdf-test-method/pe-err-prim-01.json": (report) => {
    // An open primary loaded as one ballot would let a voter vote in every party's primary.
    expect(refused(doc(report))).toEqual([
      { path: `${ELECTION}/Type`, message: expect.stringMatching(/a partisan primary \("partisan-primary-open"/) },
    ]);
    // As a nonpartisan primary the rest of the file loads: five parties' contests under headers.
    election(report)["Type"] = "primary";
    const parsed = loads(doc(report));
    expect(tally(parsed)).toEqual({ ballot_style_id_derived: 2 });
    expect(parsed.election.contests.size).toBe(30);
  },
  "usnistgov-cdf-test-method/pe-err-prim-03.json": (report) => {
    // A closed primary: styles told apart by party alone; nothing else is wrong with the file.
    const problems = refused(doc(report));
    expect(problems.map((p) => p.path)).toEqual([
      `${ELECTION}/Type`,
      `${ELECTION}/BallotStyle/1/GpUnitIds/0`,
      `${ELECTION}/BallotStyle/1/GpUnitIds/1`,
    ]);
    expect(problems[1]!.message).toMatch(/styles that differ by party, PartyIds, as in a closed primary/);
    // One party's ballot alone, as a nonpartisan primary: the rest of the file loads.
    const e = election(report);
    e["Type"] = "primary";
    e["BallotStyle"] = (e["BallotStyle"] as Json[]).slice(0, 1);
    e["Contest"] = (e["Contest"] as Json[]).filter((c) => !String(c["@id"]).startsWith("cc-rep-"));
    const parsed = loads(doc(report));
    expect(tally(parsed)).toEqual({ ballot_style_id_derived: 1 });
    expect([...parsed.election.ballotStyles.keys()]).toEqual(["bs-prec-fbc_prec-mcc.par-dem"]);
    expect(contestsOf(parsed, "prec-mcc")).toHaveLength(6);
  },
};

describe("the corpus of other producers' files", () => {
  const files = readdirSync(CORPUS, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.split("\\").join("/"))
    .sort();

  it("has an expectation for every file, and every file passes the NIST schema", () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    for (const file of files) {
      const report: unknown = JSON.parse(readFileSync(join(CORPUS, file), "utf8"));
      expect(nistSchemaProblems(report, ""), file).toEqual([]);
    }
  });

  for (const [file, expectation] of Object.entries(EXPECTED)) {
    it(`loads ${file} as expected`, () => {
      expectation(read(file.slice(file.indexOf("/") + 1)));
    });
  }
});

describe("shapes of files whose licences do not let us copy them, rebuilt", () => {
  const t = (content: string): Json => ({
    "@type": "ElectionResults.InternationalizedText",
    Text: [{ "@type": "ElectionResults.LanguageString", Content: content, Language: "en" }],
  });
  const unit = (id: string, type: string): Json => ({
    "@type": "ElectionResults.ReportingUnit",
    "@id": id,
    Type: type,
    Name: t(id),
  });
  const candidate = (id: string): Json => ({ "@type": "ElectionResults.Candidate", "@id": id, BallotName: t(id) });
  const selection = (id: string, candidateId: string | undefined, order: number): Json => ({
    "@type": "ElectionResults.CandidateSelection",
    "@id": id,
    SequenceOrder: order,
    ...(candidateId === undefined ? { IsWriteIn: true } : { CandidateIds: [candidateId] }),
  });
  const header = (id: string): Json => ({ "@type": "ElectionResults.Header", "@id": id, Name: t(id) });
  const under = (headerId: string, contestId: string): Json => ({
    "@type": "ElectionResults.OrderedHeader",
    HeaderId: headerId,
    OrderedContent: [{ "@type": "ElectionResults.OrderedContest", ContestId: contestId }],
  });
  const report = (units: Json[], contents: Json, extra: Json = {}): Json => ({
    "@type": "ElectionResults.ElectionReport",
    Format: "precinct-level",
    GeneratedDate: "2026-12-01T00:00:00Z",
    Issuer: "A county",
    IssuerAbbreviation: "AC",
    SequenceStart: 1,
    SequenceEnd: 1,
    Status: "pre-election",
    VendorApplicationId: "another tool",
    GpUnit: units,
    ...extra,
    Election: [
      {
        "@type": "ElectionResults.Election",
        ElectionScopeId: "county",
        Name: t("General election"),
        Type: "general",
        StartDate: "2026-11-03",
        EndDate: "2026-11-03",
        ...contents,
      },
    ],
  });

  // A county and four precincts, no ComposingGpUnitIds anywhere, a ballot-marking device as a
  // GpUnit; three contests all in the county: a plurality contest, a 2-of-5 and a ballot measure
  // with "ContestSelection": []; one style per precinct named by a local-level ExternalIdentifier,
  // each contest under a header of its own (the "Jetsons" definition of an open test-case
  // collection that carries no licence).
  function countyWithoutParts(): Json {
    const precincts = ["bedrock", "downtown", "port", "spacetown"];
    const onBallot: Record<string, string[]> = {
      bedrock: ["measure"],
      downtown: ["mayor", "measure"],
      port: ["board", "measure"],
      spacetown: ["mayor", "board", "measure"],
    };
    return report(
      [
        unit("county", "county"),
        ...precincts.map((p) => unit(p, "precinct")),
        {
          "@type": "ElectionResults.ReportingDevice",
          "@id": "bmd-1",
          DeviceClass: { "@type": "ElectionResults.DeviceClass", Manufacturer: "Acme" },
        },
      ],
      {
        Candidate: ["c-1", "c-2", "c-3", "c-4", "c-5"].map(candidate),
        Contest: [
          {
            "@type": "ElectionResults.CandidateContest",
            "@id": "mayor",
            Name: "Mayor",
            ElectionDistrictId: "county",
            VotesAllowed: 1,
            ContestSelection: [
              selection("mayor-2", "c-2", 2),
              selection("mayor-1", "c-1", 1),
              selection("mayor-w", undefined, 3),
            ],
          },
          {
            "@type": "ElectionResults.CandidateContest",
            "@id": "board",
            Name: "Board",
            ElectionDistrictId: "county",
            VotesAllowed: 2,
            VoteVariation: "n-of-m",
            ContestSelection: [
              selection("board-3", "c-3", 1),
              selection("board-4", "c-4", 2),
              selection("board-5", "c-5", 3),
              selection("board-w1", undefined, 4),
              selection("board-w2", undefined, 5),
            ],
          },
          {
            "@type": "ElectionResults.BallotMeasureContest",
            "@id": "measure",
            Name: "Measure 1",
            ElectionDistrictId: "county",
            ContestSelection: [],
          },
        ],
        BallotStyle: precincts.map((p) => ({
          "@type": "ElectionResults.BallotStyle",
          GpUnitIds: [p],
          ExternalIdentifier: [{ "@type": "ElectionResults.ExternalIdentifier", Type: "local-level", Value: p }],
          OrderedContent: onBallot[p]!.map((c) => under(`h-${c}`, c)),
        })),
      },
      { Header: ["h-mayor", "h-board", "h-measure"].map(header) },
    );
  }

  it("a county listing no parts, styles under headers, and a measure with no selections", () => {
    const built = countyWithoutParts();
    expect(nistSchemaProblems(built, "")).toEqual([]);
    expect(refused(doc(built)).map((p) => p.path)).toEqual([`${ELECTION}/Contest/2/ContestSelection`]);
    const parsed = loads(doc(built, { missingBallotMeasureSelections: "yes-no" }));
    expect(tally(parsed)).toEqual({
      ballot_measure_selections_added: 1,
      ballot_style_id_derived: 4,
      composition_derived: 1,
    });
    expect(contestsOf(parsed, "bedrock")).toEqual(["measure"]);
    expect(contestsOf(parsed, "spacetown")).toEqual(["mayor", "board", "measure"]);
    expect(parsed.election.contests.get("mayor")!.options.map((o) => o.id)).toEqual(["mayor-1", "mayor-2", "mayor-w"]);
    expect(parsed.election.contests.get("measure")!.options.map((o) => o.label)).toEqual(["Yes", "No"]);
  });

  // Flat GpUnits (country, state, county, city, school district and precincts, none listing
  // parts), styles with an ExternalIdentifier of another OtherType, and two precincts whose
  // styles list the same two measures in opposite orders (an open test-case collection under a
  // licence with terms of its own).
  it("flat units, another producer's style identifiers, and contest order that differs by style", () => {
    const measure = (id: string, district: string): Json => ({
      "@type": "ElectionResults.BallotMeasureContest",
      "@id": id,
      Name: id,
      ElectionDistrictId: district,
      ContestSelection: [
        { "@type": "ElectionResults.BallotMeasureSelection", "@id": `${id}-yes`, Selection: t("Yes") },
        { "@type": "ElectionResults.BallotMeasureSelection", "@id": `${id}-no`, Selection: t("No") },
      ],
    });
    const style = (precinct: string, order: string[]): Json => ({
      "@type": "ElectionResults.BallotStyle",
      GpUnitIds: [precinct],
      ExternalIdentifier: [
        { "@type": "ElectionResults.ExternalIdentifier", Type: "other", OtherType: "TTV", Value: `rec${precinct}` },
      ],
      OrderedContent: order.map((c) => ({ "@type": "ElectionResults.OrderedContest", ContestId: c })),
    });
    const built = report(
      ["country", "state", "county", "city", "school"]
        .map((u) => unit(u, u === "school" ? "school" : u))
        .concat(unit("downtown", "precinct"), unit("bedrock", "precinct")),
      {
        Contest: [measure("state-q", "state"), measure("county-q", "county"), measure("school-q", "school")],
        BallotStyle: [
          style("downtown", ["county-q", "state-q", "school-q"]),
          style("bedrock", ["state-q", "county-q"]),
        ],
      },
    );
    election(built)["ElectionScopeId"] = "country";
    expect(nistSchemaProblems(built, "")).toEqual([]);
    const parsed = loads(doc(built));
    expect(contestsOf(parsed, "downtown")).toEqual(["county-q", "state-q", "school-q"]);
    expect(contestsOf(parsed, "bedrock")).toEqual(["state-q", "county-q"]);
    expect(parsed.warnings.filter((w) => w.code === "composition_derived").map((w) => w.message)).toEqual([
      expect.stringMatching(/taken to contain "downtown", "bedrock"/),
      expect.stringMatching(/taken to contain "downtown", "bedrock"/),
      expect.stringMatching(/taken to contain "downtown",/),
    ]);
    // Their identifiers are not ours: the ids come from the GpUnits.
    expect([...parsed.election.ballotStyles.keys()]).toEqual(["bs-downtown", "bs-bedrock"]);
  });
});
