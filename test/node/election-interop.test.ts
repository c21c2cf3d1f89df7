/**
 * Definitions written the way other tools write SP 1500-100 v2: ballot styles named only by their
 * GpUnits, contests listed in OrderedContent under (nested) headers, districts that do not list
 * their parts, ballot measures without selections, SequenceOrder. What the standard allows loads,
 * with a warning for each thing the loader decided; what stays ambiguous is refused at its path
 * with the reason.
 */
import { describe, expect, it } from "vitest";
import demo from "../../elections/demo/election.json";
import otherStyle from "../../testdata/nist/demo-other-style.json";
import { derivedBallotStyleId } from "../../lib/election/compile.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { loads, messageAt, refused } from "./helpers/definitions.ts";

type Json = Record<string, unknown>;

const REPORT = "/electionReport";
const ELECTION = "/electionReport/Election/0";

/** A deep copy of a definition with its report and election loosely typed, for edits. */
function edit(source: unknown, change: (report: Json, election: Json) => void): Json {
  const doc = structuredClone(source) as Json;
  const report = doc["electionReport"] as Json;
  change(report, (report["Election"] as Json[])[0]!);
  return doc;
}

function text(en: string, et?: string): Json {
  return {
    "@type": "ElectionResults.InternationalizedText",
    Text: [
      { "@type": "ElectionResults.LanguageString", Content: en, Language: "en" },
      ...(et === undefined ? [] : [{ "@type": "ElectionResults.LanguageString", Content: et, Language: "et" }]),
    ],
  };
}

/** For each district a voter lives in, the contests on their ballot, in ballot order. */
function ballotsByDistrict(election: CompiledElection): Record<string, readonly string[]> {
  return Object.fromEntries(
    [...election.ballotStyleByDistrict].map(([district, style]) => [
      district,
      election.ballotStyles.get(style)!.contestIds,
    ]),
  );
}

function styles(election: Json): Json[] {
  return election["BallotStyle"] as Json[];
}

function contests(election: Json): Json[] {
  return election["Contest"] as Json[];
}

function gpUnits(report: Json): Json[] {
  return report["GpUnit"] as Json[];
}

describe("the demo written in another producer's style", () => {
  // testdata/nist/demo-other-style.json: the demo's styles named by GpUnitIds only, their contests
  // in OrderedContent under nested headers (the referendum first), and the nation listing no
  // ComposingGpUnitIds. Before this loader it was refused with nine problems.
  it("loads, and gives every district's voter the demo's contests in the file's order", () => {
    const ours = loads(structuredClone(demo)).election;
    const theirs = loads(structuredClone(otherStyle));
    const byDistrict = ballotsByDistrict(theirs.election);
    const expected = ballotsByDistrict(ours);
    expect(Object.keys(byDistrict).sort()).toEqual(Object.keys(expected).sort());
    for (const [district, contestIds] of Object.entries(expected)) {
      expect([...byDistrict[district]!].sort()).toEqual([...contestIds].sort());
    }
    // The file's order: the referendum header first, then national offices, then the district's.
    expect(byDistrict).toEqual({
      "district-north": ["contest-referendum-voting-age", "contest-president", "contest-parliament-north"],
      "district-south": ["contest-referendum-voting-age", "contest-president", "contest-parliament-south"],
      "district-east": [
        "contest-referendum-voting-age",
        "contest-president",
        "contest-council-east",
        "contest-parliament-east",
      ],
    });
    // Everything else compiles as the demo does: contests, options, texts in every language.
    expect(theirs.election.contests).toEqual(ours.contests);
    expect(theirs.election.languages).toEqual(ours.languages);
  });

  it("says what it decided: three style ids from their GpUnits, and what the nation contains", () => {
    const { warnings, election } = loads(structuredClone(otherStyle));
    expect(warnings.map((w) => [w.code, w.path])).toEqual([
      ["ballot_style_id_derived", `${ELECTION}/BallotStyle/0`],
      ["ballot_style_id_derived", `${ELECTION}/BallotStyle/1`],
      ["ballot_style_id_derived", `${ELECTION}/BallotStyle/2`],
      ["composition_derived", `${REPORT}/GpUnit/0`],
    ]);
    expect(warnings[0]!.message).toMatch(/named "bs-district-north" after its GpUnitIds/);
    expect(warnings[3]!.message).toMatch(
      /lists no ComposingGpUnitIds; taken to contain "district-north", "district-south", "district-east"/,
    );
    expect([...election.ballotStyles.keys()]).toEqual(["bs-district-north", "bs-district-south", "bs-district-east"]);
  });

  it("keeps the headers as the ballot's section headings, nested ones deeper, empty ones dropped", () => {
    const doc = edit(otherStyle, (report, election) => {
      (report["Header"] as Json[]).push({
        "@type": "ElectionResults.Header",
        "@id": "header-empty",
        Name: text("Empty"),
      });
      (styles(election)[2]!["OrderedContent"] as Json[]).splice(1, 0, {
        "@type": "ElectionResults.OrderedHeader",
        HeaderId: "header-empty",
        OrderedContent: [],
      });
    });
    const east = loads(doc).election.ballotStyles.get("bs-district-east")!;
    expect(east.headings?.map((h) => [h.beforeContestId, h.level, h.title])).toEqual([
      ["contest-referendum-voting-age", 1, { en: "Referendum", et: "Rahvahääletus" }],
      ["contest-president", 1, { en: "Offices", et: "Ametikohad" }],
      ["contest-president", 2, { en: "National", et: "Üleriigilised" }],
      ["contest-council-east", 2, { en: "District", et: "Ringkonna" }],
    ]);
    // The demo's styles list no OrderedContent: no headings.
    expect(loads(structuredClone(demo)).election.ballotStyles.get("bs-east")!.headings).toBeUndefined();
  });

  it("lets a given ExternalIdentifier win over the derived id", () => {
    const doc = edit(otherStyle, (_report, election) => {
      styles(election)[1]!["ExternalIdentifier"] = [
        { "@type": "ElectionResults.ExternalIdentifier", Type: "other", OtherType: "ballot-style-id", Value: "south" },
      ];
    });
    const { election, warnings } = loads(doc);
    expect([...election.ballotStyles.keys()]).toEqual(["bs-district-north", "south", "bs-district-east"]);
    expect(warnings.filter((w) => w.code === "ballot_style_id_derived")).toHaveLength(2);
  });
});

describe("ballot style ids derived from GpUnits", () => {
  it("are stable: the same units in any order give the same id; unusual unit ids give a digest", () => {
    expect(derivedBallotStyleId(["p-2", "p-1"])).toBe("bs-p-1_p-2");
    expect(derivedBallotStyleId(["p-1", "p-2", "p-1"])).toBe("bs-p-1_p-2");
    const odd = derivedBallotStyleId(["ocd-division/country:us/state:md", "ocd-division/country:us/state:va"]);
    expect(odd).toMatch(/^bs-[0-9a-f]{16}$/);
    expect(derivedBallotStyleId(["ocd-division/country:us/state:va", "ocd-division/country:us/state:md"])).toBe(odd);
    expect(derivedBallotStyleId(["x".repeat(70)])).toMatch(/^bs-[0-9a-f]{16}$/);
  });

  it("refuses two styles whose ids come out the same, naming both and the way out", () => {
    const doc = edit(otherStyle, (_report, election) => {
      // "bs-district-north" given explicitly to the east style: the north style's derived id clashes.
      styles(election)[0]!["ExternalIdentifier"] = [
        {
          "@type": "ElectionResults.ExternalIdentifier",
          Type: "other",
          OtherType: "ballot-style-id",
          Value: "bs-district-south",
        },
      ];
    });
    const problems = refused(doc);
    expect(messageAt(problems, `${ELECTION}/BallotStyle/1/GpUnitIds`)).toMatch(
      /the ballot style id derived from these GpUnits, "bs-district-south", is already used at \/electionReport\/Election\/0\/BallotStyle\/0; give one of them an ExternalIdentifier/,
    );
  });
});

describe("containment from the ballot styles", () => {
  it("is refused where the district lists its parts and none of them is the style's unit", () => {
    const doc = edit(otherStyle, (report) => {
      gpUnits(report)[0]!["ComposingGpUnitIds"] = ["district-north", "district-south"];
    });
    const problems = refused(doc);
    expect(problems).toHaveLength(2);
    const east = `${ELECTION}/BallotStyle/2/OrderedContent`;
    expect(messageAt(problems, `${east}/0/OrderedContent/0/ContestId`)).toMatch(
      /"contest-referendum-voting-age" is for district "demo-republic", whose ComposingGpUnitIds contain none of this style's GpUnits/,
    );
    expect(messageAt(problems, `${east}/1/OrderedContent/0/OrderedContent/0/ContestId`)).toMatch(/contest-president/);
  });

  it("is refused where the district has a ballot style of its own", () => {
    const doc = edit(otherStyle, (_report, election) => {
      const north = styles(election)[0]!;
      (north["OrderedContent"] as Json[]).push({
        "@type": "ElectionResults.OrderedContest",
        ContestId: "contest-parliament-south",
      });
    });
    const problems = refused(doc);
    expect(messageAt(problems, `${ELECTION}/BallotStyle/0/OrderedContent/2/ContestId`)).toMatch(
      /"contest-parliament-south" is for district "district-south", which has a ballot style of its own \(\/electionReport\/Election\/0\/BallotStyle\/1\)/,
    );
  });

  it("is refused where the style's unit contains the district", () => {
    // A new district inside the nation, with a contest and no ballot style of its own, listed on a
    // ballot style for the whole nation: all the nation's voters cannot be inside one of its parts.
    const doc = edit(demo, (report, election) => {
      const nation = gpUnits(report)[0]!;
      nation["ComposingGpUnitIds"] = [...(nation["ComposingGpUnitIds"] as string[]), "district-west"];
      gpUnits(report).push({
        "@type": "ElectionResults.ReportingUnit",
        "@id": "district-west",
        Type: "other",
        Name: text("West"),
      });
      contests(election).push({
        ...structuredClone(contests(election).find((c) => c["@id"] === "contest-referendum-voting-age")!),
        "@id": "contest-west",
        Name: "West question",
        ElectionDistrictId: "district-west",
        ContestSelection: [
          { "@type": "ElectionResults.BallotMeasureSelection", "@id": "sel-west-yes", Selection: text("Yes") },
          { "@type": "ElectionResults.BallotMeasureSelection", "@id": "sel-west-no", Selection: text("No") },
        ],
      });
      styles(election).push({
        "@type": "ElectionResults.BallotStyle",
        GpUnitIds: ["demo-republic"],
        OrderedContent: [{ "@type": "ElectionResults.OrderedContest", ContestId: "contest-west" }],
      });
    });
    const problems = refused(doc);
    expect(problems).toEqual([
      {
        path: `${ELECTION}/BallotStyle/3/OrderedContent/0/ContestId`,
        message: expect.stringMatching(
          /"contest-west" is for district "district-west", which is part of "demo-republic", a GpUnit of this style/,
        ),
      },
    ]);
  });

  it("covers a style without OrderedContent through containment another style implied", () => {
    // North keeps its OrderedContent; south and east list none, so their contests come from the
    // geography, in which the nation contains north alone (north's style says so). South and east
    // then see only their own district's contests: the loader does not guess beyond what a style
    // says, and warns on each of them.
    const doc = edit(otherStyle, (_report, election) => {
      delete styles(election)[1]!["OrderedContent"];
      delete styles(election)[2]!["OrderedContent"];
    });
    const { election, warnings } = loads(doc);
    expect(ballotsByDistrict(election)).toEqual({
      "district-north": ["contest-referendum-voting-age", "contest-president", "contest-parliament-north"],
      "district-south": ["contest-parliament-south"],
      "district-east": ["contest-parliament-east", "contest-council-east"],
    });
    expect(warnings.find((w) => w.code === "composition_derived")?.message).toMatch(
      /taken to contain "district-north", because/,
    );
    // Not silently: each style left without the nation's contests says so.
    expect(warnings.filter((w) => w.code === "composition_unknown").map((w) => [w.path, w.message])).toEqual(
      [1, 2].map((k) => [
        `${ELECTION}/BallotStyle/${k}`,
        expect.stringMatching(
          /lists no OrderedContent, .*"demo-republic" lists none.*\("contest-referendum-voting-age" among them\) are not on this ballot/,
        ),
      ]),
    );
  });
});

describe("units without a ballot style of their own", () => {
  it("get the style of the unit they are part of, or none when those disagree, and say so", () => {
    const doc = edit(demo, (report) => {
      const units = gpUnits(report);
      const north = units.find((u) => u["@id"] === "district-north")!;
      const south = units.find((u) => u["@id"] === "district-south")!;
      north["ComposingGpUnitIds"] = ["precinct-north", "precinct-border"];
      south["ComposingGpUnitIds"] = ["precinct-border"];
      units.push(
        { "@type": "ElectionResults.ReportingUnit", "@id": "precinct-north", Type: "precinct", Name: text("N1") },
        { "@type": "ElectionResults.ReportingUnit", "@id": "precinct-border", Type: "precinct", Name: text("B1") },
      );
    });
    const { election, warnings } = loads(doc);
    expect(election.ballotStyleByDistrict.get("precinct-north")).toBe("bs-north");
    expect(election.ballotStyles.get("bs-north")!.districtIds).toEqual(["district-north", "precinct-north"]);
    expect(election.ballotStyleByDistrict.has("precinct-border")).toBe(false);
    // The nation has no style above it: no warning for it.
    expect(warnings.map((w) => [w.code, w.message])).toEqual([
      ["ballot_style_inherited", expect.stringMatching(/its voters get "bs-north" .*, the style of "district-north"/)],
      ["ballot_style_ambiguous", expect.stringMatching(/different ones \("bs-north", "bs-south"\)/)],
    ]);
  });
});

describe("ballot measures without selections", () => {
  function withBareMeasure(): Json {
    return edit(demo, (_report, election) => {
      delete contests(election).find((c) => c["@id"] === "contest-referendum-voting-age")!["ContestSelection"];
    });
  }

  it("are refused unless the settings ask for Yes and No, with the path and the way out", () => {
    const problems = refused(withBareMeasure());
    expect(messageAt(problems, `${ELECTION}/Contest/5/ContestSelection`)).toMatch(
      /a ballot measure without selections \(which NIST allows\) leaves a voter nothing to mark: .*settings.missingBallotMeasureSelections to "yes-no"/,
    );
    const doc = withBareMeasure();
    (doc["settings"] as Json)["missingBallotMeasureSelections"] = "refuse";
    expect(messageAt(refused(doc), `${ELECTION}/Contest/5/ContestSelection`)).toMatch(/nothing to mark/);
  });

  it("get Yes and No in every language of the definition when the settings say so", () => {
    const doc = withBareMeasure();
    (doc["settings"] as Json)["missingBallotMeasureSelections"] = "yes-no";
    const { election, warnings, derivations } = loads(doc);
    const measure = election.contests.get("contest-referendum-voting-age")!;
    expect(measure.options.map((o) => [o.id, o.label, o.labelText])).toEqual([
      ["contest-referendum-voting-age-yes", "Yes", { en: "Yes", et: "Jah" }],
      ["contest-referendum-voting-age-no", "No", { en: "No", et: "Ei" }],
    ]);
    expect(warnings).toEqual([
      {
        path: `${ELECTION}/Contest/5/ContestSelection`,
        code: "ballot_measure_selections_added",
        message: expect.stringMatching(/added "contest-referendum-voting-age-yes" \(Yes\)/),
      },
    ]);
    expect(derivations.measureSelections.get("contest-referendum-voting-age")).toHaveLength(2);
    // Languages the words are not known in are named, and show the first language's words.
    const mt = edit(doc, (_report, election) => {
      (election["Name"] as { Text: Json[] }).Text.push({
        "@type": "ElectionResults.LanguageString",
        Content: "Elezzjoni Ġenerali",
        Language: "mt",
      });
    });
    expect(loads(mt).warnings[0]!.message).toMatch(/no yes\/no words for mt/);
  });

  it("are refused when the ids Yes and No would get are taken", () => {
    const doc = withBareMeasure();
    (doc["settings"] as Json)["missingBallotMeasureSelections"] = "yes-no";
    const taken = edit(doc, (_report, election) => {
      const president = contests(election).find((c) => c["@id"] === "contest-president")!;
      (president["ContestSelection"] as Json[])[0]!["@id"] = "contest-referendum-voting-age-no";
    });
    expect(messageAt(refused(taken), `${ELECTION}/Contest/5/ContestSelection`)).toMatch(
      /the ids the conventional two would get \("contest-referendum-voting-age-no"\) are already used/,
    );
  });
});

describe("SequenceOrder", () => {
  it("orders the contests (results, exports) and each contest's options, ties in the file's order", () => {
    const doc = edit(demo, (_report, election) => {
      const list = contests(election);
      const order: Record<string, number> = {
        "contest-referendum-voting-age": 1,
        "contest-president": 2,
        "contest-council-east": 3,
        "contest-parliament-north": 4,
        "contest-parliament-south": 4,
        "contest-parliament-east": 4,
      };
      for (const contest of list) contest["SequenceOrder"] = order[contest["@id"] as string];
      const president = list.find((c) => c["@id"] === "contest-president")!;
      (president["ContestSelection"] as Json[]).forEach((s, i) => (s["SequenceOrder"] = 10 - i));
    });
    const { election, warnings } = loads(doc);
    expect(warnings).toEqual([]);
    expect([...election.contests.keys()]).toEqual([
      "contest-referendum-voting-age",
      "contest-president",
      "contest-council-east",
      "contest-parliament-north",
      "contest-parliament-south",
      "contest-parliament-east",
    ]);
    expect(election.contests.get("contest-president")!.options.map((o) => o.id)).toEqual([
      "sel-president-write-in",
      "sel-president-liis-kask",
      "sel-president-juhan-mets",
      "sel-president-aino-tamm",
    ]);
    // A style without OrderedContent lists its contests in that order too.
    expect(election.ballotStyles.get("bs-east")!.contestIds).toEqual([
      "contest-referendum-voting-age",
      "contest-president",
      "contest-council-east",
      "contest-parliament-east",
    ]);
  });

  it("puts items without one after those with one, and says so", () => {
    const doc = edit(demo, (_report, election) => {
      contests(election)[3]!["SequenceOrder"] = 1;
    });
    const { election, warnings } = loads(doc);
    expect([...election.contests.keys()][0]).toBe("contest-parliament-east");
    expect(warnings.map((w) => [w.code, w.path])).toEqual(
      [0, 1, 2, 4, 5].map((i) => ["sequence_order_missing", `${ELECTION}/Contest/${i}/SequenceOrder`]),
    );
  });
});
