/**
 * parseDefinition outside the Worker: the demo election compiles, and each kind of fault in a
 * definition is found, at the JSON pointer of the value at fault, all of them at once.
 */
import { describe, expect, it } from "vitest";
import demo from "../../elections/demo/election.json";
import { MAX_DEPTH, MAX_PROBLEMS, parseDefinition } from "../../lib/election/definition.ts";
import { optionsOnStyle } from "../../lib/election/ballot-order.ts";
import { localize } from "../../lib/election/localize.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { messageAt, refused } from "./helpers/definitions.ts";

type Demo = typeof demo;
type Report = Demo["electionReport"];

function fresh(): Demo {
  return structuredClone(demo);
}

/** A report document with its Election replaced by a loosely typed copy, for unusual edits. */
function withElection(
  edit: (election: Record<string, unknown>) => void,
  report: Report = fresh().electionReport,
): unknown {
  const election: Record<string, unknown> = { ...structuredClone(report.Election[0]) };
  edit(election);
  return { settings: fresh().settings, electionReport: { ...report, Election: [election] } };
}

describe("the demo election", () => {
  it("compiles", () => {
    const result = parseDefinition(fresh());
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    const { election, definition } = result.value;
    expect(election.id).toBe("demo-2026");
    expect(election.name).toBe("General Election 2026");
    expect([...election.districts.keys()]).toEqual([
      "demo-republic",
      "district-north",
      "district-south",
      "district-east",
    ]);
    expect([...election.ballotStyles.keys()]).toEqual(["bs-north", "bs-south", "bs-east"]);
    expect(election.ballotStyles.get("bs-south")?.contestIds).toEqual([
      "contest-president",
      "contest-parliament-south",
      "contest-referendum-voting-age",
    ]);
    expect(election.contests.get("contest-council-east")?.votesAllowed).toBe(3);
    expect(definition.settings.polls).toEqual({ opensAt: "2026-01-01T00:00:00Z", closesAt: "2030-12-31T23:59:59Z" });
    // The stored document keeps what the administrator sent, fields we do not read included.
    expect(JSON.parse(JSON.stringify(definition))).toEqual(demo);
  });

  it("does not change the input", () => {
    const input = fresh();
    parseDefinition(input);
    expect(input).toEqual(demo);
  });
});

function compiled(input: unknown): CompiledElection {
  const result = parseDefinition(input);
  if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
  return result.value.election;
}

/**
 * A copy of `value` with every InternationalizedText cut down to the entries `keep` accepts; a
 * text with no such entry (a candidate's name, given once) stays as it is.
 */
function keepLanguages<T>(value: T, keep: (language: string) => boolean): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v !== "object" || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(v)) out[key] = walk(child);
    if (out["@type"] === "ElectionResults.InternationalizedText") {
      const kept = (out["Text"] as { Language: string }[]).filter((t) => keep(t.Language));
      if (kept.length > 0) out["Text"] = kept;
    }
    return out;
  };
  return walk(value) as T;
}

/** What the model showed before it kept languages: the first-language fields, and nothing else. */
function plainFieldsOf(election: CompiledElection): unknown {
  return {
    id: election.id,
    name: election.name,
    districts: [...election.districts.values()].map((d) => [d.id, d.name]),
    contests: [...election.contests.values()].map((c) => [
      c.id,
      c.name,
      c.kind,
      c.districtId,
      c.votesAllowed,
      c.writeInsAllowed,
      c.options.map((o) => [o.id, o.label, o.partyId, o.isWriteIn]),
    ]),
    ballotStyles: [...election.ballotStyles.values()],
    ballotStyleByDistrict: [...election.ballotStyleByDistrict],
    polls: election.polls,
  };
}

describe("languages", () => {
  it("keeps every language of the demo: election, districts, parties, titles, instructions, the referendum", () => {
    const election = compiled(fresh());
    expect(election.languages).toEqual(["en", "et"]);
    expect(election.nameText).toEqual({ en: "General Election 2026", et: "2026. aasta üldvalimised" });
    expect(election.districts.get("district-north")?.nameText).toEqual({ en: "North District", et: "Põhja ringkond" });

    const president = election.contests.get("contest-president")!;
    expect(president.title).toEqual({ en: "President of the Republic", et: "Vabariigi President" });
    expect(president.subtitle).toEqual({ en: "Vote for one", et: "Hääletage ühe poolt" });
    expect(president.fullText).toBeUndefined();
    const aino = president.options[0]!;
    // A name is the same in both languages: it is given once, and shown for Estonian too.
    expect(aino.labelText).toEqual({ en: "Aino Tamm" });
    expect(localize(aino.labelText, "et", aino.id)).toBe("Aino Tamm");
    expect(aino.party).toEqual({
      id: "party-harbour",
      name: { en: "Harbour Party", et: "Sadamaerakond" },
      abbreviation: { en: "HP", et: "SE" },
    });
    const writeIn = president.options.at(-1)!;
    expect(writeIn.labelText).toEqual({ en: "Write-in" });
    expect(writeIn.party).toBeUndefined();

    expect(localize(election.contests.get("contest-parliament-east")?.title, "et", "")).toBe(
      "Parlamendi liige, Ida ringkond",
    );
    expect(election.contests.get("contest-council-east")?.subtitle?.["et"]).toBe("Hääletage kuni kolme poolt");

    const referendum = election.contests.get("contest-referendum-voting-age")!;
    expect(referendum.title).toEqual({ en: "Referendum on the voting age", et: "Rahvahääletus valimisea kohta" });
    expect(referendum.fullText?.["et"]).toMatch(/^Kas muuta põhiseadust/);
    expect(referendum.summaryText?.["en"]).toMatch(/from 18 to 16/);
    expect(referendum.options.map((o) => o.labelText)).toEqual([
      { en: "Yes", et: "Jah" },
      { en: "No", et: "Ei" },
    ]);
  });

  it("leaves the first-language fields as they were, and a definition in one language compiles as before", () => {
    const both = compiled(fresh());
    const englishOnly = compiled(keepLanguages(fresh(), (language) => language === "en"));
    expect(englishOnly.languages).toEqual(["en"]);
    expect(plainFieldsOf(englishOnly)).toEqual(plainFieldsOf(both));
    expect(englishOnly.contests.get("contest-referendum-voting-age")?.options[0]?.labelText).toEqual({ en: "Yes" });
    // Estonian where given: the plain fields are Estonian, the untranslated names stay English.
    const estonianFirst = compiled(keepLanguages(fresh(), (language) => language !== "en"));
    expect(estonianFirst.languages).toEqual(["et", "en"]);
    expect(estonianFirst.name).toBe("2026. aasta üldvalimised");
    expect(estonianFirst.contests.get("contest-referendum-voting-age")?.options.map((o) => o.label)).toEqual([
      "Jah",
      "Ei",
    ]);
  });

  it("falls back from the exact tag to its base language, then the text's first language, then the fallback", () => {
    const text = { en: "Vote for one", et: "Hääletage ühe poolt", "pt-br": "Vote em um" };
    expect(localize(text, "et", "x")).toBe("Hääletage ühe poolt");
    expect(localize(text, "pt-BR", "x")).toBe("Vote em um");
    expect(localize(text, "et-EE", "x")).toBe("Hääletage ühe poolt");
    expect(localize(text, "pt", "x")).toBe("Vote for one");
    expect(localize(text, "fi", "x")).toBe("Vote for one");
    expect(localize({ et: "Jah", en: "Yes" }, "fi", "x")).toBe("Jah");
    expect(localize(text, "constructor", "x")).toBe("Vote for one");
    expect(localize(undefined, "et", "x")).toBe("x");
    expect(localize({}, "et", "x")).toBe("x");
  });

  it("ignores a language whose text is empty, and lists languages in the order met after the first", () => {
    const doc = keepLanguages(fresh(), (language) => language === "en");
    const report = doc.electionReport;
    const party = report.Party[1]!;
    party.Name.Text.push({ "@type": "ElectionResults.LanguageString", Content: "Metsaliit", Language: "et" });
    party.Abbreviation.Text.push({ "@type": "ElectionResults.LanguageString", Content: "  ", Language: "et" });
    const candidate = report.Election[0]!.Candidate[0]!;
    candidate.BallotName.Text.push({ "@type": "ElectionResults.LanguageString", Content: "Aino Tamm", Language: "fi" });
    report.Election[0]!.Name.Text.push({ "@type": "ElectionResults.LanguageString", Content: "", Language: "sv" });
    const election = compiled(doc);
    expect(election.languages).toEqual(["en", "et", "fi"]);
    expect(election.nameText).toEqual({ en: "General Election 2026" });
    const forest = [...election.contests.values()].flatMap((c) => c.options).find((o) => o.partyId === "party-forest");
    expect(forest?.party).toEqual({
      id: "party-forest",
      name: { en: "Forest Alliance", et: "Metsaliit" },
      abbreviation: { en: "FA" },
    });
  });

  it("joins a ticket's names in each language, taking a name's first language where it has no translation", () => {
    const doc = fresh();
    const election = doc.electionReport.Election[0]!;
    const juhan = election.Candidate.find((c) => c["@id"] === "cand-president-juhan-mets")!;
    juhan.BallotName.Text.push({ "@type": "ElectionResults.LanguageString", Content: "Jaan Mets", Language: "et" });
    const president = election.Contest[0]!;
    const ticket = president.ContestSelection[0]! as { CandidateIds: string[] };
    ticket.CandidateIds = ["cand-president-aino-tamm", "cand-president-juhan-mets"];
    const option = compiled(doc).contests.get("contest-president")!.options[0]!;
    expect(option.label).toBe("Aino Tamm / Juhan Mets");
    expect(option.labelText).toEqual({ en: "Aino Tamm / Juhan Mets", et: "Aino Tamm / Jaan Mets" });
    // Two parties on one ticket and no endorsement: no party to show.
    expect(option.party).toBeUndefined();
  });

  it("refuses a language given twice in one text, and a tag that is not a language tag, at their pointers", () => {
    const doc = fresh();
    const report = doc.electionReport;
    report.Party[0]!.Name.Text.push({ "@type": "ElectionResults.LanguageString", Content: "Harbour", Language: "EN" });
    const title = report.Election[0]!.Contest[0]!.BallotTitle.Text;
    title[1] = { ...title[1]!, Language: "et_EE" };
    const problems = refused(doc);
    expect(messageAt(problems, "/electionReport/Party/0/Name/Text/2/Language")).toBe(
      'language "en" is already given at /electionReport/Party/0/Name/Text/0/Language; a text has one entry per language',
    );
    expect(messageAt(problems, "/electionReport/Election/0/Contest/0/BallotTitle/Text/1/Language")).toMatch(
      /"et_EE" is not a language tag/,
    );
    expect(problems).toHaveLength(2);
  });
});

describe("ballot styles", () => {
  it("take their contests from OrderedContent when given, in that order", () => {
    const doc = fresh();
    const north = doc.electionReport.Election[0]!.BallotStyle[0]!;
    const ordered = {
      ...north,
      OrderedContent: [
        { "@type": "ElectionResults.OrderedContest", ContestId: "contest-referendum-voting-age" },
        {
          "@type": "ElectionResults.OrderedContest",
          ContestId: "contest-president",
          OrderedContestSelectionIds: [
            "sel-president-liis-kask",
            "sel-president-aino-tamm",
            "sel-president-juhan-mets",
            "sel-president-write-in",
          ],
        },
        { "@type": "ElectionResults.OrderedContest", ContestId: "contest-parliament-north" },
      ],
    };
    const result = parseDefinition({
      ...doc,
      electionReport: {
        ...doc.electionReport,
        Election: [
          {
            ...doc.electionReport.Election[0],
            BallotStyle: [ordered, ...doc.electionReport.Election[0]!.BallotStyle.slice(1)],
          },
        ],
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    expect(result.value.election.ballotStyles.get("bs-north")?.contestIds).toEqual([
      "contest-referendum-voting-age",
      "contest-president",
      "contest-parliament-north",
    ]);
    // The style's own order of the president's candidates is kept for display; the contest's
    // order (what marks and QR payloads index) and the other styles are unchanged.
    const style = result.value.election.ballotStyles.get("bs-north")!;
    const president = result.value.election.contests.get("contest-president")!;
    expect(optionsOnStyle(style, president).map((o) => [o.option.id, o.index])).toEqual([
      ["sel-president-liis-kask", 2],
      ["sel-president-aino-tamm", 0],
      ["sel-president-juhan-mets", 1],
      ["sel-president-write-in", 3],
    ]);
    expect(president.options.map((o) => o.id)[0]).toBe("sel-president-aino-tamm");
    expect(style.optionOrder?.["contest-parliament-north"]).toBeUndefined();
    expect(result.value.election.ballotStyles.get("bs-south")?.optionOrder).toBeUndefined();
  });

  it("refuse OrderedContent naming unknown contests, foreign districts, or other contests' selections", () => {
    const doc = fresh();
    const election = doc.electionReport.Election[0]!;
    const problems = refused(
      withElection((e) => {
        e["BallotStyle"] = [
          {
            ...election.BallotStyle[0],
            OrderedContent: [
              { "@type": "ElectionResults.OrderedContest", ContestId: "contest-nowhere" },
              { "@type": "ElectionResults.OrderedContest", ContestId: "contest-parliament-south" },
              {
                "@type": "ElectionResults.OrderedContest",
                ContestId: "contest-president",
                OrderedContestSelectionIds: ["sel-referendum-voting-age-yes"],
              },
              { "@type": "ElectionResults.OrderedContest", ContestId: "contest-president" },
              {
                "@type": "ElectionResults.OrderedContest",
                ContestId: "contest-referendum-voting-age",
                OrderedContestSelectionIds: ["sel-referendum-voting-age-no"],
              },
            ],
          },
          ...election.BallotStyle.slice(1),
        ];
      }),
    );
    const at = "/electionReport/Election/0/BallotStyle/0/OrderedContent";
    expect(messageAt(problems, `${at}/0/ContestId`)).toMatch(/contest-nowhere/);
    expect(messageAt(problems, `${at}/1/ContestId`)).toMatch(/district-south/);
    expect(messageAt(problems, `${at}/2/OrderedContestSelectionIds/0`)).toMatch(/sel-referendum-voting-age-yes/);
    expect(messageAt(problems, `${at}/3/ContestId`)).toMatch(/already on this ballot style/);
    // A partial order leaves open whether the options it omits are on this ballot.
    expect(messageAt(problems, `${at}/4/OrderedContestSelectionIds`)).toMatch(
      /lists 1 of contest "contest-referendum-voting-age"'s 2 selections, leaving out "sel-referendum-voting-age-yes"/,
    );
  });

  it("cover voters of units inside a district, through ComposingGpUnitIds", () => {
    const doc = fresh();
    const report = doc.electionReport;
    const precinct = {
      "@type": "ElectionResults.ReportingUnit",
      "@id": "precinct-north-1",
      Type: "precinct",
      Name: report.GpUnit[1]!.Name,
    };
    const northWithPrecinct = { ...report.GpUnit[1], ComposingGpUnitIds: ["precinct-north-1"] };
    const styles = report.Election[0]!.BallotStyle.map((s, i) =>
      i === 0 ? { ...s, GpUnitIds: ["precinct-north-1"] } : s,
    );
    const result = parseDefinition({
      ...doc,
      electionReport: {
        ...report,
        GpUnit: [report.GpUnit[0], northWithPrecinct, ...report.GpUnit.slice(2), precinct],
        Election: [{ ...report.Election[0], BallotStyle: styles }],
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
    const election = result.value.election;
    expect(election.ballotStyleByDistrict.get("precinct-north-1")).toBe("bs-north");
    expect(election.ballotStyleByDistrict.has("district-north")).toBe(false);
    expect(election.ballotStyles.get("bs-north")?.contestIds).toEqual([
      "contest-president",
      "contest-parliament-north",
      "contest-referendum-voting-age",
    ]);
  });
});

describe("refusals", () => {
  it("lists NIST schema faults once each, at the faulty value", () => {
    const doc = fresh();
    const report: Record<string, unknown> = { ...doc.electionReport, Format: undefined, Foo: 1 };
    delete report["Format"];
    report["GpUnit"] = [{ ...doc.electionReport.GpUnit[0], Type: "kingdom" }, ...doc.electionReport.GpUnit.slice(1)];
    report["Party"] = [
      { ...doc.electionReport.Party[0], "@type": "ElectionResults.Partei" },
      ...doc.electionReport.Party.slice(1),
    ];
    const problems = refused({ ...doc, electionReport: report });
    expect(messageAt(problems, "/electionReport/Format")).toMatch(/required/);
    expect(messageAt(problems, "/electionReport/Foo")).toMatch(/not a property/);
    expect(messageAt(problems, "/electionReport/GpUnit/0/Type")).toMatch(/must be one of/);
    expect(messageAt(problems, "/electionReport/Party/0/@type")).toMatch(
      /ElectionResults.Party.*ElectionResults.Coalition/,
    );
    // Nothing about the ReportingDevice branch of GpUnit's oneOf, nor about the Coalition branch.
    expect(problems.filter((p) => p.path.startsWith("/electionReport/GpUnit/0"))).toHaveLength(1);
    expect(problems.filter((p) => p.path.startsWith("/electionReport/Party/0"))).toHaveLength(1);
    expect(new Set(problems.map((p) => `${p.path} ${p.message}`)).size).toBe(problems.length);
  });

  it("checks meaning even when the NIST schema already failed", () => {
    const doc = fresh();
    const problems = refused(
      withElection(
        (e) => {
          e["ElectionScopeId"] = "atlantis";
        },
        { ...doc.electionReport, Format: "summary-contest", Unknown: true } as Report,
      ),
    );
    expect(messageAt(problems, "/electionReport/Unknown")).toMatch(/not a property/);
    expect(messageAt(problems, "/electionReport/Election/0/ElectionScopeId")).toMatch(/atlantis/);
  });

  it("refuses duplicate @ids, dangling references and circular composition", () => {
    const doc = fresh();
    const report = doc.electionReport;
    const country = {
      ...report.GpUnit[0],
      ComposingGpUnitIds: [...(report.GpUnit[0]!.ComposingGpUnitIds ?? []), "district-nowhere"],
    };
    const north = { ...report.GpUnit[1], ComposingGpUnitIds: ["demo-republic"] };
    const candidates = report.Election[0]!.Candidate.map((c, i) =>
      i === 0 ? { ...c, PartyId: "party-nowhere" } : i === 1 ? { ...c, "@id": "cand-president-aino-tamm" } : c,
    );
    const problems = refused({
      ...doc,
      electionReport: {
        ...report,
        GpUnit: [country, north, ...report.GpUnit.slice(2)],
        Election: [{ ...report.Election[0], Candidate: candidates }],
      },
    });
    expect(messageAt(problems, "/electionReport/GpUnit/0/ComposingGpUnitIds/3")).toMatch(/district-nowhere/);
    expect(messageAt(problems, "/electionReport/Election/0/Candidate/0/PartyId")).toMatch(/party-nowhere/);
    expect(messageAt(problems, "/electionReport/Election/0/Candidate/1/@id")).toMatch(
      /already used at \/electionReport\/Election\/0\/Candidate\/0\/@id/,
    );
    expect(problems.some((p) => p.message.includes("circular"))).toBe(true);
  });

  it("refuses unsupported contests and selections of the wrong kind", () => {
    const problems = refused(
      withElection((e) => {
        const contests = structuredClone(demo.electionReport.Election[0]!.Contest) as unknown[];
        contests.push(
          {
            "@type": "ElectionResults.PartyContest",
            "@id": "contest-party-list",
            Name: "Party list",
            ElectionDistrictId: "demo-republic",
          },
          {
            "@type": "ElectionResults.CandidateContest",
            "@id": "contest-ranked",
            Name: "Ranked",
            ElectionDistrictId: "demo-republic",
            VotesAllowed: 0,
            VoteVariation: "rcv",
            ContestSelection: [
              {
                "@type": "ElectionResults.BallotMeasureSelection",
                "@id": "sel-ranked-yes",
                Selection: {
                  "@type": "ElectionResults.InternationalizedText",
                  Text: [{ "@type": "ElectionResults.LanguageString", Content: "Yes", Language: "en" }],
                },
              },
              { "@type": "ElectionResults.CandidateSelection", "@id": "sel-ranked-nobody" },
            ],
          },
          {
            "@type": "ElectionResults.BallotMeasureContest",
            "@id": "contest-one-sided",
            Name: "One-sided",
            ElectionDistrictId: "demo-republic",
            ContestSelection: [
              {
                "@type": "ElectionResults.BallotMeasureSelection",
                "@id": "sel-one-sided-yes",
                Selection: {
                  "@type": "ElectionResults.InternationalizedText",
                  Text: [{ "@type": "ElectionResults.LanguageString", Content: "Yes", Language: "en" }],
                },
              },
            ],
          },
        );
        e["Contest"] = contests;
      }),
    );
    const at = "/electionReport/Election/0/Contest";
    expect(messageAt(problems, `${at}/6/@type`)).toMatch(/PartyContest is not supported/);
    expect(messageAt(problems, `${at}/7/VoteVariation`)).toMatch(/"rcv" is not supported/);
    expect(messageAt(problems, `${at}/7/VotesAllowed`)).toMatch(/at least 1/);
    expect(messageAt(problems, `${at}/7/ContestSelection/0/@type`)).toMatch(/only CandidateSelections/);
    expect(messageAt(problems, `${at}/7/ContestSelection/1`)).toMatch(/not a write-in/);
    expect(messageAt(problems, `${at}/8/ContestSelection`)).toMatch(/at least two selections/);
  });

  it("refuses a ballot style id that is unsafe or used twice, and a contest on no style", () => {
    const problems = refused(
      withElection((e) => {
        const styles = structuredClone(demo.electionReport.Election[0]!.BallotStyle);
        styles[1]!.ExternalIdentifier[0]!.Value = "bs-north";
        styles[2]!.ExternalIdentifier[0]!.Value = "bs east/../x";
        e["BallotStyle"] = styles;
      }),
    );
    expect(messageAt(problems, "/electionReport/Election/0/BallotStyle/1/ExternalIdentifier")).toMatch(/already used/);
    expect(messageAt(problems, "/electionReport/Election/0/BallotStyle/2/ExternalIdentifier/0/Value")).toMatch(
      /1-64 letters/,
    );

    const withoutEast = refused(
      withElection((e) => {
        e["BallotStyle"] = structuredClone(demo.electionReport.Election[0]!.BallotStyle).slice(0, 2);
      }),
    );
    expect(messageAt(withoutEast, "/electionReport/Election/0/Contest/4")).toMatch(/on no ballot style/);
    expect(messageAt(withoutEast, "/electionReport/Election/0/Contest/3")).toMatch(/on no ballot style/);
  });

  it("refuses a report with no Election or two", () => {
    const none = fresh();
    expect(
      messageAt(
        refused({ ...none, electionReport: { ...none.electionReport, Election: [] } }),
        "/electionReport/Election",
      ),
    ).toMatch(/exactly one Election, found 0/);
    const two = fresh();
    const second = { ...two.electionReport.Election[0], Contest: [], Candidate: [], BallotStyle: [] };
    expect(
      messageAt(
        refused({
          ...two,
          electionReport: { ...two.electionReport, Election: [two.electionReport.Election[0], second] },
        }),
        "/electionReport/Election",
      ),
    ).toMatch(/exactly one Election, found 2/);
  });

  it("refuses bad settings and an unknown top-level property beside a sound report", () => {
    const doc = fresh();
    const problems = refused({
      ...doc,
      extra: true,
      settings: { ...doc.settings, electionId: "Demo 2026", crossChannelPolicy: "last-wins", surprise: 1 },
    });
    expect(problems.map((p) => p.path).sort()).toEqual([
      "/extra",
      "/settings/crossChannelPolicy",
      "/settings/electionId",
      "/settings/surprise",
    ]);
  });

  it("refuses what is not a definition at all, and very deep nesting, without throwing", () => {
    for (const input of [null, [], "x", 3, {}]) expect(parseDefinition(input).ok).toBe(false);
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const problems = refused({ settings: fresh().settings, electionReport: deep });
    expect(problems[0]?.message).toMatch(new RegExp(`deeper than ${MAX_DEPTH}`));
  });

  it("caps the list of problems", () => {
    const doc = fresh();
    const parties = Array.from({ length: 500 }, (_, i) => ({
      "@type": "ElectionResults.Party",
      "@id": `party-${i}`,
      Name: "not text",
    }));
    const problems = refused({ ...doc, electionReport: { ...doc.electionReport, Party: parties } });
    expect(problems).toHaveLength(MAX_PROBLEMS);
    expect(problems.at(-1)?.message).toMatch(/more problems not listed/);
  });
});
