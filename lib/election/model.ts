/**
 * The election as the system uses it: compiled once from the loaded definition (NIST SP 1500-100
 * ElectionReport plus our settings) into lookups by id. Runtime-free: the Worker, the station
 * client and the auditor CLI share it.
 */
import type { ElectionSettings } from "./settings.ts";

/**
 * A NIST InternationalizedText as the ballot uses it: language tag (as in the definition,
 * lower-cased) to its text, trimmed; languages given an empty text are left out. Keys keep the
 * definition's order: the first is the first language given, the one the plain fields (`name`,
 * `label`) show.
 * Choose a language with `localize` (localize.ts).
 */
export type LocalizedText = Readonly<Record<string, string>>;

export interface District {
  readonly id: string;
  readonly name: string;
  /** The name in every language given; the id in the first language when it has none. */
  readonly nameText: LocalizedText;
}

export interface Party {
  readonly id: string;
  /** NIST Party (or Coalition) Name. */
  readonly name: LocalizedText;
  /** NIST Abbreviation, when given. */
  readonly abbreviation?: LocalizedText;
}

export interface ContestOption {
  /** The NIST ContestSelection @id. */
  readonly id: string;
  /** What the ballot shows: candidate ballot names joined, or the ballot-measure selection text. */
  readonly label: string;
  /**
   * `label` in every language: each candidate's ballot name in that language (or their first).
   * A write-in with no candidate has "Write-in" under the definition's first language, as `label`
   * does; pages say "write-in" in the voter's language from their own catalogue (`isWriteIn`).
   */
  readonly labelText: LocalizedText;
  readonly partyId?: string;
  /** The party `partyId` names, when that party has a name to show. */
  readonly party?: Party;
  readonly isWriteIn: boolean;
}

export interface Contest {
  readonly id: string;
  /** The NIST Name: one string, no language; `title` is what a ballot shows. */
  readonly name: string;
  /** NIST BallotTitle, else `name` in the definition's first language. */
  readonly title: LocalizedText;
  /** NIST BallotSubTitle, where definitions put instructions such as "Vote for one". */
  readonly subtitle?: LocalizedText;
  /** A ballot measure's NIST FullText: the question or text voted on. */
  readonly fullText?: LocalizedText;
  /** A ballot measure's NIST SummaryText. */
  readonly summaryText?: LocalizedText;
  readonly kind: "candidate" | "ballot-measure";
  /** The GpUnit whose voters see this contest. */
  readonly districtId: string;
  /** 1 for choose-one; N for choose-N. */
  readonly votesAllowed: number;
  readonly options: readonly ContestOption[];
  /** True when the contest has at least one write-in selection. */
  readonly writeInsAllowed: boolean;
}

/**
 * A section heading of a ballot (a NIST OrderedHeader's Header name), shown before the first
 * contest under it. Nested headers have deeper levels; several may open before one contest.
 */
export interface BallotHeading {
  readonly beforeContestId: string;
  /** 1 for an outermost header, 2 for one inside it, and so on. */
  readonly level: number;
  readonly title: LocalizedText;
}

export interface BallotStyle {
  readonly id: string;
  /** The districts (GpUnits) whose voters receive this style. */
  readonly districtIds: readonly string[];
  /** Contests in ballot order. */
  readonly contestIds: readonly string[];
  /**
   * Per contest, its option ids in this style's order, where the definition gives this style an
   * order of its own (NIST OrderedContestSelectionIds, such as candidates rotated by precinct).
   * Contests not named here show their options in the contest's order. Display order only: marks,
   * QR payloads and results name an option by its id or its index in `Contest.options`.
   * Read it through `optionsOnStyle` (ballot-order.ts).
   */
  readonly optionOrder?: Readonly<Record<string, readonly string[]>>;
  /** The style's section headings, from its OrderedContent's headers, in ballot order. */
  readonly headings?: readonly BallotHeading[];
  /** With `headings`: per contest, how many headers it is under (0 for one outside them all). */
  readonly contestDepth?: Readonly<Record<string, number>>;
}

export interface CompiledElection {
  readonly id: string;
  readonly name: string;
  readonly nameText: LocalizedText;
  /**
   * Every language a text of the election carries, lower-cased: the definition's first language
   * (the election name's first) first, then the others as the compiler meets them (districts,
   * parties, candidates, contests in definition order).
   */
  readonly languages: readonly string[];
  readonly settings: ElectionSettings;
  readonly districts: ReadonlyMap<string, District>;
  readonly contests: ReadonlyMap<string, Contest>;
  readonly ballotStyles: ReadonlyMap<string, BallotStyle>;
  /** For each district a voter can live in, the one ballot style they receive. */
  readonly ballotStyleByDistrict: ReadonlyMap<string, string>;
  /**
   * settings.polls as epoch milliseconds, parsed once here: every decision on time uses these.
   * closesAtMs is the scheduled close; `closedEarly` is an administrator's early close in force
   * (db/stores/elections.ts merges it in; lib/election/polls.ts says when voting ends).
   */
  readonly polls: {
    readonly opensAtMs: number;
    readonly closesAtMs: number;
    readonly closedEarly?: { readonly atMs: number; readonly reason: string };
  };
}
