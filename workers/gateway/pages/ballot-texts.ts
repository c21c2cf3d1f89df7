/**
 * The election's own texts as the voting pages show them, in the voter's language: the one place
 * the pages read names, titles and labels from the compiled election (its localized fields, chosen
 * with `localize`), so how a text is chosen or falls back changes here only.
 */
import { localize } from "../../../lib/election/localize.ts";
import type { CompiledElection, Contest, ContestOption, LocalizedText } from "../../../lib/election/model.ts";

export interface BallotTexts {
  /** The languages the election's definition carries texts in, the definition's first first. */
  readonly languages: readonly string[];
  /** The language these texts are shown in: the voter's, if the definition has it, else its first. */
  readonly language: string;
  readonly electionName: string;
  contestTitle(contest: Contest): string;
  /** The definition's BallotSubTitle (often the contest's instructions), when it has one. */
  contestSubtitle(contest: Contest): string | undefined;
  /** A ballot measure's full text, when the definition has it. */
  contestFullText(contest: Contest): string | undefined;
  optionLabel(option: ContestOption): string;
  partyName(option: ContestOption): string | undefined;
}

/** BCP 47's "undetermined": texts the definition gave no language; not one a voter can choose. */
const UNDETERMINED = "und";

export function texts(election: CompiledElection, language: string): BallotTexts {
  const languages = election.languages.filter((l) => l !== UNDETERMINED);
  const tag = language.toLowerCase();
  const base = tag.split("-")[0] ?? tag;
  const shown = languages.includes(tag)
    ? tag
    : languages.includes(base)
      ? base
      : (election.languages[0] ?? UNDETERMINED);
  const optional = (text: LocalizedText | undefined): string | undefined => {
    const chosen = localize(text, language, "");
    return chosen === "" ? undefined : chosen;
  };
  return {
    languages,
    language: shown,
    electionName: localize(election.nameText, language, election.name),
    contestTitle: (contest) => localize(contest.title, language, contest.name),
    contestSubtitle: (contest) => optional(contest.subtitle),
    contestFullText: (contest) => optional(contest.fullText),
    optionLabel: (option) => localize(option.labelText, language, option.label),
    partyName: (option) => optional(option.party?.name),
  };
}
