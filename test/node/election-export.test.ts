/**
 * The round trip of issue 15: a loaded election exported as a NIST SP 1500-100 v2 ElectionReport
 * passes the NIST schema, loads again to the same compiled election without the loader deciding
 * anything again (none of the derived warnings), and exporting the export gives the same bytes.
 * Each derivation is checked both ways: it is written into the export, and a reload that had to
 * derive it again would warn, which these tests refuse.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import demo from "../../elections/demo/election.json";
import { parseDefinition, type ParsedDefinition } from "../../lib/election/definition.ts";
import type { WarningCode } from "../../lib/election/derivations.ts";
import { exportElectionReport } from "../../lib/election/export.ts";
import { nistSchemaProblems } from "../../lib/election/nist-schema.ts";

const DERIVED: readonly WarningCode[] = [
  "ballot_style_id_derived",
  "composition_derived",
  "ballot_measure_selections_added",
];

interface Document {
  settings: Record<string, unknown>;
  electionReport: Record<string, unknown>;
}

const otherStyle = (): Document => JSON.parse(readFileSync("testdata/nist/demo-other-style.json", "utf8")) as Document;

function parsed(input: unknown): ParsedDefinition {
  const result = parseDefinition(input);
  if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
  return result.value;
}

/** The demo with its referendum's selections taken out, and settings that ask for Yes and No. */
function measureWithoutSelections(): Document {
  const document = structuredClone(demo) as unknown as Document;
  document.settings["missingBallotMeasureSelections"] = "yes-no";
  const election = (document.electionReport["Election"] as { Contest: Record<string, unknown>[] }[])[0]!;
  const referendum = election.Contest.find((c) => c["@id"] === "contest-referendum-voting-age")!;
  delete referendum["ContestSelection"];
  return document;
}

/** The export as it travels: JSON text, parsed again (what a client of the API holds). */
function exported(definition: ParsedDefinition): Record<string, unknown> {
  return JSON.parse(JSON.stringify(exportElectionReport(definition))) as Record<string, unknown>;
}

/** A file of the corpus (testdata/nist-1500-100/) beside the demo's settings. */
function corpus(file: string): () => Document {
  return () => ({
    settings: { ...structuredClone(demo.settings), electionId: "corpus" },
    electionReport: JSON.parse(
      readFileSync(`testdata/nist-1500-100/usnistgov-cdf-test-method/${file}`, "utf8"),
    ) as Document["electionReport"],
  });
}

const cases: { name: string; document: () => Document; derived: readonly WarningCode[] }[] = [
  {
    name: "NIST's Cambridge 2022 report",
    document: corpus("err-2022-11-08-Massachusetts-Cambridge.json"),
    derived: ["ballot_style_id_derived"],
  },
  {
    name: "NIST's GEN-03 report",
    document: corpus("err-gen-03.json"),
    derived: ["ballot_style_id_derived", "composition_derived"],
  },
  { name: "the demo", document: () => structuredClone(demo) as unknown as Document, derived: [] },
  {
    name: "the demo in another producer's style",
    document: otherStyle,
    derived: ["ballot_style_id_derived", "composition_derived"],
  },
  {
    name: "a ballot measure without selections (settings yes-no)",
    document: measureWithoutSelections,
    derived: ["ballot_measure_selections_added"],
  },
];

describe.each(cases)("the export of $name", ({ document, derived }) => {
  it("passes the NIST schema, loads to the same election with nothing derived again, and is a fixed point", () => {
    const input = document();
    const first = parsed(input);
    // The loader did decide something here (otherwise this case would test nothing).
    expect([...new Set(first.warnings.map((w) => w.code))].filter((c) => DERIVED.includes(c)).sort()).toEqual(
      [...derived].sort(),
    );

    const report = exported(first);
    expect(nistSchemaProblems(report, "")).toEqual([]);

    const again = parsed({ settings: input.settings, electionReport: report });
    expect(again.election).toEqual(first.election);
    expect(again.warnings.filter((w) => DERIVED.includes(w.code))).toEqual([]);

    expect(JSON.stringify(exportElectionReport(again))).toBe(JSON.stringify(report));
  });
});

describe("what the export writes out", () => {
  it("keeps a report with nothing derived as it was loaded", () => {
    const first = parsed(structuredClone(demo));
    expect(exported(first)).toEqual(demo.electionReport);
  });

  it("names each style the loader named, after the identifiers it had, and gives the nation its districts", () => {
    const input = otherStyle();
    const election = (input.electionReport["Election"] as { BallotStyle: Record<string, unknown>[] }[])[0]!;
    const fips = { "@type": "ElectionResults.ExternalIdentifier", Type: "fips", Value: "99001" };
    election.BallotStyle[0]!["ExternalIdentifier"] = [fips];
    const report = exported(parsed(input));

    const styles = (report["Election"] as { BallotStyle: { ExternalIdentifier: unknown[] }[] }[])[0]!.BallotStyle;
    const ours = (value: string): unknown => ({
      "@type": "ElectionResults.ExternalIdentifier",
      Type: "other",
      OtherType: "ballot-style-id",
      Value: value,
    });
    expect(styles.map((s) => s.ExternalIdentifier)).toEqual([
      [fips, ours("bs-district-north")],
      [ours("bs-district-south")],
      [ours("bs-district-east")],
    ]);
    const nation = (report["GpUnit"] as Record<string, unknown>[]).find((u) => u["@id"] === "demo-republic");
    expect(nation?.["ComposingGpUnitIds"]).toEqual(["district-north", "district-south", "district-east"]);

    // Everything else is the file as loaded: take the two additions out and nothing differs.
    styles[0]!.ExternalIdentifier = [fips];
    for (const style of styles.slice(1)) delete (style as Record<string, unknown>)["ExternalIdentifier"];
    delete nation!["ComposingGpUnitIds"];
    expect(report).toEqual(input.electionReport);
  });

  it("lists the added Yes and No as full NIST selections in every language, so the export loads under any settings", () => {
    const input = measureWithoutSelections();
    const first = parsed(input);
    const report = exported(first);
    const contest = (report["Election"] as { Contest: Record<string, unknown>[] }[])[0]!.Contest.find(
      (c) => c["@id"] === "contest-referendum-voting-age",
    );
    const selections = contest?.["ContestSelection"] as Record<string, unknown>[];
    expect(selections.map((s) => [s["@type"], s["@id"]])).toEqual([
      ["ElectionResults.BallotMeasureSelection", "contest-referendum-voting-age-yes"],
      ["ElectionResults.BallotMeasureSelection", "contest-referendum-voting-age-no"],
    ]);
    expect(selections[0]!["Selection"]).toMatchObject({
      "@type": "ElectionResults.InternationalizedText",
      Text: expect.arrayContaining([
        { "@type": "ElectionResults.LanguageString", Content: "Yes", Language: "en" },
        { "@type": "ElectionResults.LanguageString", Content: "Jah", Language: "et" },
      ]) as unknown,
    });

    // Without the setting that allowed the addition, the export still loads, to the same election.
    const { missingBallotMeasureSelections: _setting, ...settings } = input.settings;
    const again = parsed({ settings, electionReport: report });
    expect({ ...again.election, settings: undefined }).toEqual({ ...first.election, settings: undefined });
    expect(again.warnings).toEqual([]);
  });

  it("does not change the loaded definition it exports from", () => {
    const first = parsed(otherStyle());
    const before = JSON.stringify(first.definition);
    exportElectionReport(first);
    expect(JSON.stringify(first.definition)).toBe(before);
  });
});
