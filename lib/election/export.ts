/**
 * A stored election given back as a NIST SP 1500-100 v2 ElectionReport, so that an office can
 * check it with its own tools, load it elsewhere, or load it here again.
 *
 * The export is the report as loaded (a deep copy: the producer's own fields, the order of every
 * list and every language kept) with what the loader decided on its own made explicit, so that
 * loading the export gives the same compiled election without deciding anything again:
 * - a ballot style named after its GpUnits gets that name as an ExternalIdentifier (Type "other",
 *   OtherType "ballot-style-id"), after any identifiers it already had;
 * - a district whose composition the ballot styles implied gets it as ComposingGpUnitIds;
 * - a ballot measure that got the conventional Yes and No lists them as BallotMeasureSelections,
 *   so the export loads under any settings.missingBallotMeasureSelections.
 *
 * Each object's fields come in the order the loader stores them (the fields nist.ts reads first,
 * then the others as the producer gave them): exporting an export gives the same bytes, and an
 * export's bytes do not depend on whether it was made from a loaded file or from its export.
 * A SequenceOrder the file leaves out is not invented: its absence is a warning, not a decision
 * the export must carry.
 */
import { BALLOT_STYLE_ID_TYPE } from "./compile.ts";
import type { ElectionDefinition, ParsedDefinition } from "./definition.ts";
import type { AddedSelection } from "./derivations.ts";
import { type ContestSelection, ElectionReport, type InternationalizedText } from "./nist.ts";

/** A NIST InternationalizedText holding `text` in each of its languages, in its order. */
function internationalizedText(text: Readonly<Record<string, string>>): InternationalizedText {
  return {
    "@type": "ElectionResults.InternationalizedText",
    Text: Object.entries(text).map(([Language, Content]) => ({
      "@type": "ElectionResults.LanguageString",
      Content,
      Language,
    })),
  };
}

function measureSelection(added: AddedSelection): ContestSelection {
  return {
    "@type": "ElectionResults.BallotMeasureSelection",
    "@id": added.id,
    Selection: internationalizedText(added.text),
  };
}

/** The stored election as a NIST ElectionReport with every derivation written out. */
export function exportElectionReport(parsed: Pick<ParsedDefinition, "definition" | "derivations">): ElectionReport {
  const { ballotStyleIds, composition, measureSelections } = parsed.derivations;
  const report = structuredClone(parsed.definition.electionReport);
  const election = report.Election?.[0];

  for (const [index, id] of ballotStyleIds) {
    const style = election?.BallotStyle?.[index];
    if (!style) throw new Error(`derived ballot style id for a style that is not there (index ${index})`);
    style.ExternalIdentifier = [
      ...(style.ExternalIdentifier ?? []),
      { "@type": "ElectionResults.ExternalIdentifier", Type: "other", OtherType: BALLOT_STYLE_ID_TYPE, Value: id },
    ];
  }

  for (const [unitId, units] of composition) {
    const unit = report.GpUnit?.find((u) => u["@id"] === unitId);
    if (!unit) throw new Error(`derived composition for a GpUnit that is not there ("${unitId}")`);
    unit.ComposingGpUnitIds = [...units];
  }

  for (const [contestId, added] of measureSelections) {
    const contest = election?.Contest?.find((c) => c["@id"] === contestId);
    if (!contest) throw new Error(`added selections for a contest that is not there ("${contestId}")`);
    contest.ContestSelection = added.map(measureSelection);
  }

  // The loader's field order (see the header); also checks that what was added has nist.ts's shape.
  return ElectionReport.parse(report);
}

/**
 * The definition document with its report in the exported form: what the results and cast vote
 * record exports start from, so that a Yes and No the loader added, or a style's derived id, are
 * in them as in the compiled election (the stored report does not list them).
 */
export function exportedDefinition(parsed: Pick<ParsedDefinition, "definition" | "derivations">): ElectionDefinition {
  return { settings: parsed.definition.settings, electionReport: exportElectionReport(parsed) };
}
