/**
 * The election's own texts as the voting pages show them, in the voter's language: the one place
 * the pages read names, titles and labels from the compiled election (its localized fields, chosen
 * with `localize`), so how a text is chosen or falls back changes here only. Each text comes with
 * the language it is really in (a text missing in the voter's language falls back to the
 * definition's first), so the page can mark it for screen readers.
 */
import { localize } from "../../../lib/election/localize.ts";
import type {
  BallotHeading,
  CompiledElection,
  Contest,
  ContestOption,
  LocalizedText,
} from "../../../lib/election/model.ts";

/** A text as shown, and the language it is in. */
export interface ShownText {
  readonly text: string;
  readonly lang: string;
}

export interface BallotTexts {
  /** The languages the election's definition carries texts in, the definition's first first. */
  readonly languages: readonly string[];
  /** The language the voter asked for, if the definition has it, else the definition's first. */
  readonly language: string;
  readonly electionName: ShownText;
  contestTitle(contest: Contest): ShownText;
  /** The definition's BallotSubTitle (often the contest's instructions), when it has one. */
  contestSubtitle(contest: Contest): ShownText | undefined;
  /** A ballot measure's full text, when the definition has it. */
  contestFullText(contest: Contest): ShownText | undefined;
  optionLabel(option: ContestOption): ShownText;
  /** A section heading of the ballot (a NIST Header's name). */
  heading(heading: BallotHeading): ShownText;
  partyName(option: ContestOption): ShownText | undefined;
}

/** BCP 47's "undetermined": texts the definition gave no language; not one a voter can choose. */
const UNDETERMINED = "und";

/**
 * The language `localize(text, language, …)` takes the text in: the tag, else its base, else the
 * text's first language (the same order as localize, which says only the text).
 */
function languageTaken(text: LocalizedText, language: string): string | undefined {
  const tag = language.toLowerCase();
  if (Object.hasOwn(text, tag)) return tag;
  const base = tag.split("-")[0] ?? tag;
  if (Object.hasOwn(text, base)) return base;
  return Object.keys(text)[0];
}

export function texts(election: CompiledElection, language: string): BallotTexts {
  const languages = election.languages.filter((l) => l !== UNDETERMINED);
  const first = election.languages[0] ?? UNDETERMINED;
  const tag = language.toLowerCase();
  const base = tag.split("-")[0] ?? tag;
  const chosen = languages.includes(tag) ? tag : languages.includes(base) ? base : first;
  const shown = (text: LocalizedText | undefined, fallback: string): ShownText => ({
    text: localize(text, language, fallback),
    lang: (text && languageTaken(text, language)) ?? first,
  });
  const optional = (text: LocalizedText | undefined): ShownText | undefined => {
    const taken = shown(text, "");
    return taken.text === "" ? undefined : taken;
  };
  return {
    languages,
    language: chosen,
    electionName: shown(election.nameText, election.name),
    contestTitle: (contest) => shown(contest.title, contest.name),
    contestSubtitle: (contest) => optional(contest.subtitle),
    contestFullText: (contest) => optional(contest.fullText),
    optionLabel: (option) => shown(option.labelText, option.label),
    heading: (heading) => shown(heading.title, ""),
    partyName: (option) => optional(option.party?.name),
  };
}
