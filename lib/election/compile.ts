/**
 * From a NIST ElectionReport (already through nist.ts) and our settings to a CompiledElection,
 * checking what the NIST schema cannot: references resolve, ids are unique, contests are of a
 * kind we can put on a ballot, and every voter's district gets exactly one ballot style.
 *
 * Every check runs and every problem is listed; the election is compiled only when there are none.
 *
 * What we support, and why:
 * - CandidateContest (choose one when VotesAllowed is 1, choose N when more; write-ins are
 *   CandidateSelections with IsWriteIn) and BallotMeasureContest (choose one of its
 *   BallotMeasureSelections; NIST gives it no VotesAllowed, so it is 1). PartyContest and
 *   RetentionContest are refused: nothing downstream (ballot validation, tally) knows them.
 * - Vote variations where a voter marks up to VotesAllowed options and each mark counts one:
 *   they differ only in who wins, which is the tally's business, not the ballot's. Ranked or
 *   weighted variations (rcv, borda, cumulative, range, proportional, other) are refused.
 * - A ballot style is named by an ExternalIdentifier (Type "other", OtherType "ballot-style-id")
 *   since NIST BallotStyle has no @id; a style without one is named after its GpUnits
 *   (derivedBallotStyleId), with a warning. Its contests are its OrderedContent if given (headers
 *   flattened, nested ones too), otherwise every contest whose district is one of its GpUnits or
 *   contains one. Containment is ComposingGpUnitIds, transitively; a district that lists none is
 *   taken to contain the units of the styles whose OrderedContent lists its contests (a warning),
 *   unless it has a ballot style of its own or is inside that unit, which is refused. A style's
 *   OrderedContestSelectionIds, when complete, is that style's display order of the contest's
 *   options (BallotStyle.optionOrder); a partial one is refused.
 * - Contests, and each contest's selections, are in SequenceOrder where the file gives one (ties
 *   and items without one in the file's order, the latter after the others, with a warning).
 * - A BallotMeasureContest without selections (NIST allows it) is refused, or gets Yes and No
 *   when settings.missingBallotMeasureSelections is "yes-no" (a warning says so).
 * - What the compiler decided on its own is a DefinitionWarning, and the Derivations say it in
 *   a form the exporter (export.ts) writes back into the report.
 * - Every language of every text a ballot shows is kept (LocalizedText in model.ts) beside the
 *   plain first-language fields that most callers use. A language tag must have BCP 47's shape
 *   (checked loosely: letters, then dash-separated letters and digits) and appear once per text;
 *   an empty text for a language counts as no text in that language.
 */
import { sha256Hex } from "../digest.ts";
import type { Problem } from "../errors.ts";
import { err, ok, type Result, assertNever } from "../result.ts";
import type { AddedSelection, DefinitionWarning, Derivations } from "./derivations.ts";
import { localize } from "./localize.ts";
import type {
  BallotHeading,
  BallotStyle,
  CompiledElection,
  Contest,
  ContestOption,
  District,
  LocalizedText,
  Party,
} from "./model.ts";
import type * as Nist from "./nist.ts";
import { textOf } from "./nist.ts";
import { pointer } from "./pointer.ts";
import type { ElectionSettings } from "./settings.ts";
import { yesNoTexts } from "./yes-no.ts";

const SUPPORTED_VOTE_VARIATIONS: ReadonlySet<string> = new Set([
  "plurality",
  "majority",
  "super-majority",
  "n-of-m",
  "approval",
]);

/** NIST ElectionTypes whose ballots depend on the voter's party, which a ballot style here cannot express. */
const PARTISAN_PRIMARIES: ReadonlySet<string> = new Set(["partisan-primary-closed", "partisan-primary-open"]);

/** Ballot style ids travel in session tokens, QR payloads and URLs: keep them plain. */
const BALLOT_STYLE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const BALLOT_STYLE_ID_TYPE = "ballot-style-id";

const WRITE_IN_LABEL = "Write-in";

/**
 * BCP 47's shape, loosely: a primary subtag of letters ("en", "et", "x" or "i" before private or
 * grandfathered ones), then subtags of letters and digits. Loose on purpose: the registry of
 * subtags changes, and a tag of the right shape that a browser does not know only means its
 * text is shown under that tag.
 */
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

/**
 * BCP 47's "undetermined": the first language while the election name has no text. Such a
 * definition is refused ("has no text"), so the tag never reaches a compiled election.
 */
const UNDETERMINED = "und";

/**
 * Reads NIST InternationalizedTexts into LocalizedTexts, listing bad tags and repeated languages
 * as problems, and remembers every language it met, in the order it met them.
 */
class Texts {
  private readonly met = new Set<string>();
  private readonly problems: Problem[];

  constructor(problems: Problem[]) {
    this.problems = problems;
  }

  /** The text in every language given, or undefined when no language has a non-empty text. */
  read(text: Nist.InternationalizedText | undefined, path: string): LocalizedText | undefined {
    if (text === undefined) return undefined;
    const out: Record<string, string> = {};
    const firstAt = new Map<string, string>();
    text.Text.forEach((entry, i) => {
      const at = pointer(path, "Text", i, "Language");
      if (!LANGUAGE_TAG.test(entry.Language)) {
        this.problems.push({
          path: at,
          message: `"${entry.Language}" is not a language tag (BCP 47, such as "en" or "et-EE")`,
        });
        return;
      }
      const tag = entry.Language.toLowerCase();
      const first = firstAt.get(tag);
      if (first !== undefined) {
        this.problems.push({
          path: at,
          message: `language "${tag}" is already given at ${first}; a text has one entry per language`,
        });
        return;
      }
      firstAt.set(tag, at);
      const content = entry.Content.trim();
      if (content !== "") out[tag] = content;
    });
    const tags = Object.keys(out);
    if (tags.length === 0) return undefined;
    for (const tag of tags) this.met.add(tag);
    return out;
  }

  /** Every language met so far, the first met first. */
  languages(): string[] {
    return [...this.met];
  }
}

/**
 * Several texts joined with " / " in each language any of them has, each text in that language
 * or, lacking it, in its own first language (a ticket's names, when one name is not translated).
 */
function joinTexts(texts: readonly LocalizedText[]): LocalizedText {
  const tags = [...new Set(texts.flatMap((t) => Object.keys(t)))];
  return Object.fromEntries(tags.map((tag) => [tag, texts.map((t) => localize(t, tag, "")).join(" / ")]));
}

/** Every "@id" in the report with where it first appears; a repeated one is a problem. */
function checkUniqueIds(report: unknown, base: string, problems: Problem[]): ReadonlySet<string> {
  const firstAt = new Map<string, string>();
  // Iterative on purpose: the caller bounds depth, but a stack of our own costs nothing.
  const stack: { value: unknown; path: string }[] = [{ value: report, path: base }];
  const found: { id: string; path: string }[] = [];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: pointer(path, i) });
    } else if (typeof value === "object" && value !== null) {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        if (key === "@id" && typeof child === "string") found.push({ id: child, path: pointer(path, key) });
        else stack.push({ value: child, path: pointer(path, key) });
      }
    }
  }
  for (const { id, path } of found) {
    const first = firstAt.get(id);
    if (first === undefined) firstAt.set(id, path);
    else problems.push({ path, message: `@id "${id}" is already used at ${first}; @ids must be unique in the report` });
  }
  return new Set(firstAt.keys());
}

/**
 * Every language with a non-empty text anywhere in the report (tags of BCP 47's shape, lower
 * case), `first` first and the rest in the order they appear: the languages texts made up here
 * (a measure's Yes and No) are written in.
 */
function languagesIn(report: unknown, first: string): string[] {
  const found = new Set<string>([first]);
  const stack: unknown[] = [report];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i]);
    } else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      const { Language, Content } = record;
      if (
        typeof Language === "string" &&
        typeof Content === "string" &&
        LANGUAGE_TAG.test(Language) &&
        Content.trim() !== ""
      )
        found.add(Language.toLowerCase());
      const entries = Object.values(record);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]);
    }
  }
  return [...found];
}

interface Indexed<T> {
  readonly value: T;
  readonly path: string;
}

function indexById<T extends { "@id": string }>(
  items: readonly T[] | undefined,
  path: string,
): Map<string, Indexed<T>> {
  const map = new Map<string, Indexed<T>>();
  (items ?? []).forEach((value, i) => {
    if (!map.has(value["@id"])) map.set(value["@id"], { value, path: pointer(path, i) });
  });
  return map;
}

/**
 * A results report (with counts) loads as a definition, and its counts are not read: every
 * election here starts from zero. Said once, at the first count, rather than silently dropped.
 */
function warnAboutCounts(election: Nist.Election, path: string, warnings: DefinitionWarning[]): void {
  let first: string | undefined;
  let places = 0;
  (election.Contest ?? []).forEach((contest, i) => {
    const at = pointer(path, "Contest", i);
    for (const key of ["BallotCounts", "OtherCounts"]) {
      if (key in contest) {
        first ??= pointer(at, key);
        places++;
      }
    }
    (contest.ContestSelection ?? []).forEach((selection, j) => {
      if ("VoteCounts" in selection) {
        first ??= pointer(at, "ContestSelection", j, "VoteCounts");
        places++;
      }
    });
  });
  if (first === undefined) return;
  warnings.push({
    path: first,
    code: "counts_ignored",
    message: `the report carries counts (in ${places} places); a definition's counts are not read, and the election's tally starts from zero`,
  });
}

/**
 * `items` in NIST SequenceOrder (ties in the definition's order), each with its index in the
 * definition. Items without one keep the definition's order after those with one, and each such
 * item is a warning when its siblings have one: the file gives half an order.
 */
function inSequenceOrder<T extends { readonly SequenceOrder?: number | undefined }>(
  items: readonly T[],
  pathOf: (index: number) => string,
  what: string,
  warnings: DefinitionWarning[],
): { value: T; index: number }[] {
  const indexed = items.map((value, index) => ({ value, index }));
  const given = indexed.filter((item) => item.value.SequenceOrder !== undefined);
  if (given.length === 0) return indexed;
  const missing = indexed.filter((item) => item.value.SequenceOrder === undefined);
  for (const item of missing) {
    warnings.push({
      path: pointer(pathOf(item.index), "SequenceOrder"),
      code: "sequence_order_missing",
      message: `this ${what} has no SequenceOrder while others do; it is placed after them, in the file's order`,
    });
  }
  given.sort((a, b) => a.value.SequenceOrder! - b.value.SequenceOrder! || a.index - b.index);
  return [...given, ...missing];
}

/** The GpUnit composition graph: which units each unit is directly part of. */
class Geography {
  private readonly parents = new Map<string, string[]>();
  private readonly ancestorMemo = new Map<string, ReadonlySet<string>>();
  private readonly leafMemo = new Map<string, readonly string[]>();
  private readonly units: ReadonlyMap<string, Indexed<Nist.GpUnit>>;

  constructor(units: ReadonlyMap<string, Indexed<Nist.GpUnit>>, problems: Problem[]) {
    this.units = units;
    for (const [id, { value, path }] of units) {
      (value.ComposingGpUnitIds ?? []).forEach((child, j) => {
        if (!units.has(child)) {
          problems.push({ path: pointer(path, "ComposingGpUnitIds", j), message: `names no GpUnit ("${child}")` });
          return;
        }
        const list = this.parents.get(child) ?? [];
        if (!list.includes(id)) list.push(id);
        this.parents.set(child, list);
      });
    }
    this.checkAcyclic(problems);
  }

  /** Whether the unit lists its parts (ComposingGpUnitIds); if not, styles may say what it contains. */
  listsComposition(id: string): boolean {
    return (this.units.get(id)?.value.ComposingGpUnitIds ?? []).length > 0;
  }

  /** Records that `child` is part of `parent` as the ballot styles imply; the caller checked it adds no cycle. */
  addParent(child: string, parent: string): void {
    const list = this.parents.get(child) ?? [];
    if (!list.includes(parent)) list.push(parent);
    this.parents.set(child, list);
    this.ancestorMemo.clear();
  }

  isReportingUnit(id: string): boolean {
    return this.units.get(id)?.value["@type"] === "ElectionResults.ReportingUnit";
  }

  /** Every unit that contains `id`, directly or through others. */
  ancestors(id: string): ReadonlySet<string> {
    const memo = this.ancestorMemo.get(id);
    if (memo) return memo;
    const seen = new Set<string>();
    const queue = [...(this.parents.get(id) ?? [])];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(...(this.parents.get(next) ?? []));
    }
    this.ancestorMemo.set(id, seen);
    return seen;
  }

  /**
   * Whether voters of `unitId` are voters of `districtId`: the unit is the district or inside it,
   * or it is made of parts that all are (a combined precinct, whose precincts the district lists).
   */
  covers(districtId: string, unitId: string): boolean {
    if (districtId === unitId || this.ancestors(unitId).has(districtId)) return true;
    const parts = this.leavesOf(unitId);
    return parts.length > 0 && parts.every((part) => part === districtId || this.ancestors(part).has(districtId));
  }

  /** The units `id` directly lies in, as listed or as the ballot styles implied. */
  parentsOf(id: string): readonly string[] {
    return this.parents.get(id) ?? [];
  }

  /** The units with no parts of their own that `id` is made of; none when it lists no parts. */
  private leavesOf(id: string): readonly string[] {
    const memo = this.leafMemo.get(id);
    if (memo) return memo;
    const leaves: string[] = [];
    const seen = new Set<string>([id]);
    const stack = this.childrenOf(id);
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      const children = this.childrenOf(next);
      if (children.length === 0) leaves.push(next);
      else stack.push(...children);
    }
    this.leafMemo.set(id, leaves);
    return leaves;
  }

  private childrenOf(id: string): string[] {
    return (this.units.get(id)?.value.ComposingGpUnitIds ?? []).filter((c) => this.units.has(c));
  }

  /** A unit inside itself would make "which contests does this voter see" meaningless. */
  private checkAcyclic(problems: Problem[]): void {
    const state = new Map<string, "active" | "done">();
    for (const root of this.units.keys()) {
      if (state.has(root)) continue;
      const stack: { id: string; children: string[]; next: number }[] = [];
      const enter = (id: string): void => {
        state.set(id, "active");
        const children = (this.units.get(id)?.value.ComposingGpUnitIds ?? []).filter((c) => this.units.has(c));
        stack.push({ id, children, next: 0 });
      };
      enter(root);
      while (stack.length > 0) {
        const frame = stack[stack.length - 1]!;
        if (frame.next >= frame.children.length) {
          state.set(frame.id, "done");
          stack.pop();
          continue;
        }
        const j = frame.next++;
        const child = frame.children[j]!;
        const s = state.get(child);
        if (s === "active") {
          const unitPath = this.units.get(frame.id)!.path;
          const index = (this.units.get(frame.id)?.value.ComposingGpUnitIds ?? []).indexOf(child);
          problems.push({
            path: pointer(unitPath, "ComposingGpUnitIds", index),
            message: `makes the GpUnit composition circular: "${child}" ends up inside itself`,
          });
        } else if (s === undefined) {
          enter(child);
        }
      }
    }
  }
}

function checkVoteVariation(contest: Nist.Contest, path: string, problems: Problem[]): void {
  if (contest.VoteVariation !== undefined && !SUPPORTED_VOTE_VARIATIONS.has(contest.VoteVariation)) {
    problems.push({
      path: pointer(path, "VoteVariation"),
      message: `"${contest.VoteVariation}" is not supported; use one of ${[...SUPPORTED_VOTE_VARIATIONS].join(", ")}`,
    });
  }
}

interface Refs {
  readonly candidates: ReadonlyMap<string, Indexed<Nist.Candidate>>;
  readonly parties: ReadonlySet<string>;
  /** Each candidate's ballot name in every language (candidates with no name text are left out). */
  readonly candidateNames: ReadonlyMap<string, LocalizedText>;
  /** Parties with a name to show. */
  readonly partyViews: ReadonlyMap<string, Party>;
  /** The election name's first language: the key of texts made up here, such as "Write-in". */
  readonly firstLanguage: string;
}

function compileCandidateContest(
  contest: Extract<Nist.Contest, { "@type": "ElectionResults.CandidateContest" }>,
  path: string,
  refs: Refs,
  problems: Problem[],
  warnings: DefinitionWarning[],
): ContestOption[] {
  const options: ContestOption[] = [];
  const selections = contest.ContestSelection ?? [];
  const selectionPath = (j: number): string => pointer(path, "ContestSelection", j);
  for (const { value: selection, index: j } of inSequenceOrder(selections, selectionPath, "selection", warnings)) {
    const at = selectionPath(j);
    if (selection["@type"] !== "ElectionResults.CandidateSelection") {
      problems.push({ path: pointer(at, "@type"), message: "a CandidateContest holds only CandidateSelections" });
      continue;
    }
    const names: string[] = [];
    const nameTexts: LocalizedText[] = [];
    const partyIds = new Set<string>();
    (selection.CandidateIds ?? []).forEach((candidateId, k) => {
      const candidate = refs.candidates.get(candidateId);
      if (!candidate) {
        problems.push({
          path: pointer(at, "CandidateIds", k),
          message: `names no Candidate of this election ("${candidateId}")`,
        });
        return;
      }
      names.push(textOf(candidate.value.BallotName) ?? candidateId);
      nameTexts.push(refs.candidateNames.get(candidateId) ?? { [refs.firstLanguage]: candidateId });
      if (candidate.value.PartyId !== undefined) partyIds.add(candidate.value.PartyId);
    });
    (selection.EndorsementPartyIds ?? []).forEach((partyId, k) => {
      if (!refs.parties.has(partyId)) {
        problems.push({ path: pointer(at, "EndorsementPartyIds", k), message: `names no Party ("${partyId}")` });
      }
    });
    const isWriteIn = selection.IsWriteIn === true;
    if (!isWriteIn && (selection.CandidateIds ?? []).length === 0) {
      problems.push({ path: at, message: "names no candidate (CandidateIds) and is not a write-in (IsWriteIn)" });
    }
    // One party for the whole selection (a ticket of one party); otherwise an endorsing party.
    const partyId = partyIds.size === 1 ? [...partyIds][0] : selection.EndorsementPartyIds?.[0];
    const party = partyId !== undefined ? refs.partyViews.get(partyId) : undefined;
    const blankWriteIn = isWriteIn && names.length === 0;
    options.push({
      id: selection["@id"],
      label: blankWriteIn ? WRITE_IN_LABEL : names.join(" / "),
      labelText: blankWriteIn ? { [refs.firstLanguage]: WRITE_IN_LABEL } : joinTexts(nameTexts),
      ...(partyId !== undefined ? { partyId } : {}),
      ...(party !== undefined ? { party } : {}),
      isWriteIn,
    });
  }
  if (contest.VotesAllowed < 1) {
    problems.push({ path: pointer(path, "VotesAllowed"), message: "must be at least 1" });
  } else if (contest.VotesAllowed > selections.length) {
    problems.push({
      path: pointer(path, "VotesAllowed"),
      message: `allows ${contest.VotesAllowed} votes but the contest has only ${selections.length} selection(s)`,
    });
  }
  return options;
}

/** What a ballot measure's compilation needs beyond the contest itself. */
interface MeasureContext {
  readonly texts: Texts;
  readonly firstLanguage: string;
  /** Every language the definition's texts carry (yes/no texts are made in these). */
  readonly languages: readonly string[];
  readonly settings: ElectionSettings;
  /** Every @id of the report: an added selection's id must be new. */
  readonly ids: ReadonlySet<string>;
  readonly problems: Problem[];
  readonly warnings: DefinitionWarning[];
  readonly added: Map<string, readonly AddedSelection[]>;
}

/** The conventional Yes and No, as NIST InternationalizedTexts, for a measure that lists no selections. */
function addedYesNo(
  contest: Nist.Contest,
  path: string,
  context: MeasureContext,
): { id: string; Selection: Nist.InternationalizedText }[] | undefined {
  const { yes, no, missing } = yesNoTexts(context.languages);
  const made = [
    { id: `${contest["@id"]}-yes`, text: yes },
    { id: `${contest["@id"]}-no`, text: no },
  ];
  const taken = made.filter((m) => context.ids.has(m.id));
  if (taken.length > 0) {
    context.problems.push({
      path: pointer(path, "ContestSelection"),
      message: `has no selections, and the ids the conventional two would get (${taken.map((m) => `"${m.id}"`).join(", ")}) are already used: list its BallotMeasureSelections`,
    });
    return undefined;
  }
  context.added.set(
    contest["@id"],
    made.map((m) => ({ id: m.id, text: m.text })),
  );
  context.warnings.push({
    path: pointer(path, "ContestSelection"),
    code: "ballot_measure_selections_added",
    message:
      `a ballot measure without selections: added "${made[0]!.id}" (${Object.values(yes)[0]}) and "${made[1]!.id}" (${Object.values(no)[0]}), as settings.missingBallotMeasureSelections says` +
      (missing.length > 0 ? `; no yes/no words for ${missing.join(", ")}, which show the first language's` : ""),
  });
  return made.map((m) => ({
    id: m.id,
    Selection: { Text: Object.entries(m.text).map(([Language, Content]) => ({ Language, Content })) },
  }));
}

function compileBallotMeasureContest(
  contest: Extract<Nist.Contest, { "@type": "ElectionResults.BallotMeasureContest" }>,
  path: string,
  context: MeasureContext,
): ContestOption[] {
  const { texts, firstLanguage, problems, warnings } = context;
  const options: ContestOption[] = [];
  const selections = contest.ContestSelection ?? [];
  if (selections.length === 0) {
    if (context.settings.missingBallotMeasureSelections !== "yes-no") {
      problems.push({
        path: pointer(path, "ContestSelection"),
        message:
          'a ballot measure without selections (which NIST allows) leaves a voter nothing to mark: list its BallotMeasureSelections, or set settings.missingBallotMeasureSelections to "yes-no" to have Yes and No added',
      });
      return options;
    }
    const added = addedYesNo(contest, path, context) ?? [];
    added.forEach((selection, j) => {
      // Read like a given text, so that the languages meet in the same order as when the export,
      // which lists these selections, is loaded again.
      const labelText = texts.read(selection.Selection, pointer(path, "ContestSelection", j, "Selection")) ?? {};
      const label = Object.values(labelText)[0] ?? selection.id;
      options.push({ id: selection.id, label, labelText, isWriteIn: false });
    });
    return options;
  }
  const selectionPath = (j: number): string => pointer(path, "ContestSelection", j);
  for (const { value: selection, index: j } of inSequenceOrder(selections, selectionPath, "selection", warnings)) {
    const at = selectionPath(j);
    if (selection["@type"] !== "ElectionResults.BallotMeasureSelection") {
      problems.push({
        path: pointer(at, "@type"),
        message: "a BallotMeasureContest holds only BallotMeasureSelections",
      });
      continue;
    }
    const label = textOf(selection.Selection);
    if (label === undefined) problems.push({ path: pointer(at, "Selection"), message: "has no text" });
    const labelText = texts.read(selection.Selection, pointer(at, "Selection")) ?? {
      [firstLanguage]: label ?? selection["@id"],
    };
    options.push({ id: selection["@id"], label: label ?? selection["@id"], labelText, isWriteIn: false });
  }
  if (selections.length === 1) {
    problems.push({
      path: pointer(path, "ContestSelection"),
      message:
        "a ballot measure with one selection gives a voter no choice: it needs at least two selections (such as yes and no)",
    });
  }
  return options;
}

/**
 * The id a ballot style carries in its ExternalIdentifier; "none" when it has none (the id is then
 * derived from its GpUnits); undefined after saying why a given one is unusable.
 */
function ballotStyleIdOf(style: Nist.BallotStyle, path: string, problems: Problem[]): string | "none" | undefined {
  const identifiers = (style.ExternalIdentifier ?? [])
    .map((identifier, i) => ({ identifier, i }))
    .filter(({ identifier }) => identifier.Type === "other" && identifier.OtherType === BALLOT_STYLE_ID_TYPE);
  const first = identifiers[0];
  if (!first) return "none";
  for (const extra of identifiers.slice(1)) {
    problems.push({
      path: pointer(path, "ExternalIdentifier", extra.i),
      message: `a ballot style has one ${BALLOT_STYLE_ID_TYPE}`,
    });
  }
  const id = first.identifier.Value;
  if (!BALLOT_STYLE_ID.test(id)) {
    problems.push({
      path: pointer(path, "ExternalIdentifier", first.i, "Value"),
      message:
        "a ballot style id is 1-64 letters, digits, dots, dashes and underscores, starting with a letter or digit",
    });
    return undefined;
  }
  return id;
}

/**
 * The id of a ballot style named only by its GpUnits (NIST gives BallotStyle no @id): "bs-" and
 * its units' ids, sorted and joined with "_" (then "." and its PartyIds alike, when it has any),
 * when that is a plain id; otherwise "bs-" and 16 hex digits of their SHA-256. Sorted, so listing
 * the same units in another order names the same style.
 */
export function derivedBallotStyleId(unitIds: readonly string[], partyIds: readonly string[] = []): string {
  const units = [...new Set(unitIds)].sort();
  const parties = [...new Set(partyIds)].sort();
  const plain = `bs-${units.join("_")}${parties.length > 0 ? `.${parties.join("_")}` : ""}`;
  if (BALLOT_STYLE_ID.test(plain)) return plain;
  return `bs-${sha256Hex([...units, ...(parties.length > 0 ? ["", ...parties] : [])].join("\n")).slice(0, 16)}`;
}

interface OrderedEntry {
  readonly contestId: string;
  readonly selectionIds: readonly string[];
  readonly path: string;
  /** The headers that open right before this contest, outermost first (level 1 is outermost). */
  readonly headers: readonly { readonly headerId: string; readonly level: number }[];
  /** How many headers this contest is under. */
  readonly depth: number;
}

/** The OrderedContent's contests, headers flattened, with where each was named. */
function orderedContests(
  content: readonly Nist.OrderedContent[],
  path: string,
  headers: ReadonlySet<string>,
  problems: Problem[],
): OrderedEntry[] {
  const out: OrderedEntry[] = [];
  // Headers entered since the last contest: they open before the next contest inside them.
  let pending: { headerId: string; level: number }[] = [];
  const walk = (items: readonly Nist.OrderedContent[], at: string, level: number): void => {
    items.forEach((item, i) => {
      const itemPath = pointer(at, i);
      if (item["@type"] === "ElectionResults.OrderedContest") {
        out.push({
          contestId: item.ContestId,
          selectionIds: item.OrderedContestSelectionIds ?? [],
          path: itemPath,
          headers: pending,
          depth: level - 1,
        });
        pending = [];
      } else {
        if (!headers.has(item.HeaderId)) {
          problems.push({ path: pointer(itemPath, "HeaderId"), message: `names no Header ("${item.HeaderId}")` });
        }
        const opened = { headerId: item.HeaderId, level };
        pending = [...pending, opened];
        walk(item.OrderedContent ?? [], pointer(itemPath, "OrderedContent"), level + 1);
        // A header with no contest under it heads nothing.
        const left = pending.indexOf(opened);
        if (left !== -1) pending = pending.slice(0, left);
      }
    });
  };
  walk(content, path, 1);
  return out;
}

/** A compiled election with what the compiler decided on its own. */
export interface Compiled {
  readonly election: CompiledElection;
  readonly warnings: readonly DefinitionWarning[];
  readonly derivations: Derivations;
}

/**
 * Checks `report` for meaning and compiles it. `base` is where the report sits in the definition
 * document ("/electionReport"), so problem paths point into what the administrator sent.
 */
export function compileElection(
  settings: ElectionSettings,
  report: Nist.ElectionReport,
  base: string,
): Result<Compiled, Problem[]> {
  const problems: Problem[] = [];
  const warnings: DefinitionWarning[] = [];
  const ids = checkUniqueIds(report, base, problems);

  const elections = report.Election ?? [];
  if (elections.length !== 1) {
    problems.push({
      path: pointer(base, "Election"),
      message: `a definition holds exactly one Election, found ${elections.length}`,
    });
  }
  const election = elections[0];
  const electionPath = pointer(base, "Election", 0);

  const units = indexById(report.GpUnit, pointer(base, "GpUnit"));
  const geography = new Geography(units, problems);

  const partyList = report.Party ?? [];
  const parties = new Set(partyList.map((p) => p["@id"]));
  partyList.forEach((party, i) => {
    if (party["@type"] !== "ElectionResults.Coalition") return;
    (party.PartyIds ?? []).forEach((partyId, k) => {
      if (!parties.has(partyId)) {
        problems.push({ path: pointer(base, "Party", i, "PartyIds", k), message: `names no Party ("${partyId}")` });
      }
    });
  });
  const headers = new Set((report.Header ?? []).map((h) => h["@id"]));
  const headerList = report.Header ?? [];

  if (!election) return err(problems);

  const requireReportingUnit = (id: string, path: string): boolean => {
    if (geography.isReportingUnit(id)) return true;
    problems.push({
      path,
      message: units.has(id) ? `"${id}" is a ReportingDevice, not a ReportingUnit` : `names no ReportingUnit ("${id}")`,
    });
    return false;
  };

  requireReportingUnit(election.ElectionScopeId, pointer(electionPath, "ElectionScopeId"));
  if (election.Type !== undefined && PARTISAN_PRIMARIES.has(election.Type)) {
    // Loaded as one ballot, it would let every voter vote in every party's primary.
    problems.push({
      path: pointer(electionPath, "Type"),
      message: `a partisan primary ("${election.Type}": a voter votes in one party's contests) is not supported; a voter's ballot here is every contest of their style`,
    });
  }
  warnAboutCounts(election, electionPath, warnings);
  const electionName = textOf(election.Name);
  if (electionName === undefined) problems.push({ path: pointer(electionPath, "Name"), message: "has no text" });

  // Every language's text, read in this order so the election name's first language comes first.
  const texts = new Texts(problems);
  const nameText = texts.read(election.Name, pointer(electionPath, "Name"));
  const firstLanguage = Object.keys(nameText ?? {})[0] ?? UNDETERMINED;
  const districtNames = new Map<string, LocalizedText>();
  for (const [id, { value, path }] of units) {
    if (value["@type"] !== "ElectionResults.ReportingUnit") continue;
    const text = texts.read(value.Name, pointer(path, "Name"));
    if (text !== undefined) districtNames.set(id, text);
  }
  const partyViews = new Map<string, Party>();
  partyList.forEach((party, i) => {
    const at = pointer(base, "Party", i);
    const name = texts.read(party.Name, pointer(at, "Name"));
    const abbreviation = texts.read(party.Abbreviation, pointer(at, "Abbreviation"));
    if (name === undefined || partyViews.has(party["@id"])) return;
    partyViews.set(party["@id"], { id: party["@id"], name, ...(abbreviation !== undefined ? { abbreviation } : {}) });
  });

  // Headers' names, shown as the ballot's section headings.
  const headerNames = new Map<string, LocalizedText>();
  headerList.forEach((header, i) => {
    const name = texts.read(header.Name, pointer(base, "Header", i, "Name"));
    if (name !== undefined && !headerNames.has(header["@id"])) headerNames.set(header["@id"], name);
  });

  // Candidates
  const candidates = indexById(election.Candidate, pointer(electionPath, "Candidate"));
  const candidateNames = new Map<string, LocalizedText>();
  (election.Candidate ?? []).forEach((candidate, i) => {
    const at = pointer(electionPath, "Candidate", i);
    if (textOf(candidate.BallotName) === undefined)
      problems.push({ path: pointer(at, "BallotName"), message: "has no text" });
    const name = texts.read(candidate.BallotName, pointer(at, "BallotName"));
    // The first of a repeated @id is the one indexById keeps, so its name is the one kept.
    if (name !== undefined && !candidateNames.has(candidate["@id"])) candidateNames.set(candidate["@id"], name);
    if (candidate.PartyId !== undefined && !parties.has(candidate.PartyId)) {
      problems.push({ path: pointer(at, "PartyId"), message: `names no Party ("${candidate.PartyId}")` });
    }
  });

  // Contests, in SequenceOrder where the file gives one: the order of results and exports, and of
  // a ballot style that does not list its own.
  const contests = new Map<string, Contest>();
  const contestPaths = new Map<string, string>();
  const selectionsOf = new Map<string, ReadonlySet<string>>();
  const contestList = election.Contest ?? [];
  if (contestList.length === 0)
    problems.push({ path: pointer(electionPath, "Contest"), message: "the election has no contests" });
  const addedSelections = new Map<string, readonly AddedSelection[]>();
  /** Contests refused for their kind, by @id, with where: a style listing one is not a second fault. */
  const unsupported = new Map<string, string>();
  const measureContext: MeasureContext = {
    texts,
    firstLanguage,
    languages: languagesIn(report, firstLanguage),
    settings,
    ids,
    problems,
    warnings,
    added: addedSelections,
  };
  const contestPath = (i: number): string => pointer(electionPath, "Contest", i);
  for (const { value: contest, index: i } of inSequenceOrder(contestList, contestPath, "contest", warnings)) {
    const at = contestPath(i);
    requireReportingUnit(contest.ElectionDistrictId, pointer(at, "ElectionDistrictId"));
    checkVoteVariation(contest, at, problems);
    let compiled: Contest | undefined;
    const title = texts.read(contest.BallotTitle, pointer(at, "BallotTitle")) ?? { [firstLanguage]: contest.Name };
    const subtitle = texts.read(contest.BallotSubTitle, pointer(at, "BallotSubTitle"));
    const common = {
      id: contest["@id"],
      name: contest.Name,
      title,
      ...(subtitle !== undefined ? { subtitle } : {}),
      districtId: contest.ElectionDistrictId,
    };
    switch (contest["@type"]) {
      case "ElectionResults.CandidateContest": {
        const refs = { candidates, parties, candidateNames, partyViews, firstLanguage };
        const options = compileCandidateContest(contest, at, refs, problems, warnings);
        compiled = {
          ...common,
          kind: "candidate",
          votesAllowed: contest.VotesAllowed,
          options,
          writeInsAllowed: options.some((o) => o.isWriteIn),
        };
        break;
      }
      case "ElectionResults.BallotMeasureContest": {
        const summaryText = texts.read(contest.SummaryText, pointer(at, "SummaryText"));
        const fullText = texts.read(contest.FullText, pointer(at, "FullText"));
        const options = compileBallotMeasureContest(contest, at, measureContext);
        compiled = {
          ...common,
          ...(summaryText !== undefined ? { summaryText } : {}),
          ...(fullText !== undefined ? { fullText } : {}),
          kind: "ballot-measure",
          votesAllowed: 1,
          options,
          writeInsAllowed: false,
        };
        break;
      }
      case "ElectionResults.PartyContest":
      case "ElectionResults.RetentionContest":
        unsupported.set(contest["@id"], pointer(at, "@type"));
        problems.push({
          path: pointer(at, "@type"),
          message: `${contest["@type"].replace("ElectionResults.", "")} is not supported; use CandidateContest or BallotMeasureContest`,
        });
        break;
      default:
        assertNever(contest);
    }
    if (compiled && !contests.has(compiled.id)) {
      contests.set(compiled.id, compiled);
      contestPaths.set(compiled.id, at);
      selectionsOf.set(compiled.id, new Set(compiled.options.map((o) => o.id)));
    }
  }

  // Ballot styles, in three steps: name each style and its units; take the composition that styles
  // listing their contests imply, for districts that list none; then each style's contests.
  const styleList = election.BallotStyle ?? [];
  if (styleList.length === 0)
    problems.push({ path: pointer(electionPath, "BallotStyle"), message: "the election has no ballot styles" });
  const styleOfUnit = new Map<string, string>();
  const plans = styleList.map((style, k) => {
    const at = pointer(electionPath, "BallotStyle", k);
    const unitIds: string[] = [];
    style.GpUnitIds.forEach((unitId, j) => {
      const unitPath = pointer(at, "GpUnitIds", j);
      if (!requireReportingUnit(unitId, unitPath) || unitIds.includes(unitId)) return;
      const other = styleOfUnit.get(unitId);
      if (other !== undefined) {
        problems.push({
          path: unitPath,
          message:
            `"${unitId}" already has a ballot style (${other}); a district gets exactly one` +
            ((style.PartyIds ?? []).length > 0
              ? " (styles that differ by party, PartyIds, as in a closed primary, are not supported: a voter's style follows from their district alone)"
              : ""),
        });
        return;
      }
      styleOfUnit.set(unitId, at);
      unitIds.push(unitId);
    });
    const given = ballotStyleIdOf(style, at, problems);
    const content = style.OrderedContent ?? [];
    return {
      at,
      index: k,
      unitIds,
      styleId: given === "none" ? derivedBallotStyleId(style.GpUnitIds, style.PartyIds) : given,
      derived: given === "none",
      entries:
        content.length > 0 ? orderedContests(content, pointer(at, "OrderedContent"), headers, problems) : undefined,
    };
  });

  const styleIdPaths = new Map<string, string>();
  const derivedStyleIds = new Map<number, string>();
  for (const plan of plans) {
    if (plan.styleId === undefined) continue;
    const first = styleIdPaths.get(plan.styleId);
    if (first !== undefined) {
      problems.push({
        path: plan.derived ? pointer(plan.at, "GpUnitIds") : pointer(plan.at, "ExternalIdentifier"),
        message: plan.derived
          ? `the ballot style id derived from these GpUnits, "${plan.styleId}", is already used at ${first}; give one of them an ExternalIdentifier with OtherType "${BALLOT_STYLE_ID_TYPE}"`
          : `ballot style id "${plan.styleId}" is already used at ${first}`,
      });
      continue;
    }
    styleIdPaths.set(plan.styleId, plan.at);
    if (plan.derived) {
      derivedStyleIds.set(plan.index, plan.styleId);
      warnings.push({
        path: plan.at,
        code: "ballot_style_id_derived",
        message: `has no ExternalIdentifier with OtherType "${BALLOT_STYLE_ID_TYPE}"; named "${plan.styleId}" after its GpUnitIds`,
      });
    }
  }

  // A contest a style lists is on the ballot of every voter of the style's units. Where its district
  // lists its parts, that must agree; where it lists none, the style says what the district contains.
  const composition = new Map<string, { units: string[]; contests: string[] }>();
  for (const plan of plans) {
    for (const entry of plan.entries ?? []) {
      const contest = contests.get(entry.contestId);
      if (!contest || plan.unitIds.length === 0) continue;
      const districtId = contest.districtId;
      const outside = plan.unitIds.filter((u) => !geography.covers(districtId, u));
      if (outside.length === 0) continue;
      if (geography.listsComposition(districtId)) {
        if (outside.length === plan.unitIds.length) {
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message: `"${contest.id}" is for district "${districtId}", whose ComposingGpUnitIds contain none of this style's GpUnits`,
          });
        }
        continue;
      }
      const ownStyle = styleOfUnit.get(districtId);
      if (ownStyle !== undefined) {
        // Its voters get that style; a unit with a style of its own cannot also be inside it.
        problems.push({
          path: pointer(entry.path, "ContestId"),
          message: `"${contest.id}" is for district "${districtId}", which has a ballot style of its own (${ownStyle}), so it contains none of this style's GpUnits`,
        });
        continue;
      }
      for (const unitId of outside) {
        if (geography.covers(unitId, districtId)) {
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message: `"${contest.id}" is for district "${districtId}", which is part of "${unitId}", a GpUnit of this style: the contest cannot be on the ballot of all of "${unitId}"`,
          });
          continue;
        }
        if (!units.has(districtId)) continue;
        geography.addParent(unitId, districtId);
        const derived = composition.get(districtId) ?? { units: [], contests: [] };
        if (!derived.units.includes(unitId)) derived.units.push(unitId);
        if (!derived.contests.includes(contest.id)) derived.contests.push(contest.id);
        composition.set(districtId, derived);
      }
    }
  }
  for (const [districtId, derived] of composition) {
    warnings.push({
      path: units.get(districtId)!.path,
      code: "composition_derived",
      message: `lists no ComposingGpUnitIds; taken to contain ${derived.units.map((u) => `"${u}"`).join(", ")}, because the ballot styles of those GpUnits list its contests (${derived.contests.map((c) => `"${c}"`).join(", ")} first)`,
    });
  }

  // A style without OrderedContent takes its contests from the composition; where that composition
  // is known only from other styles, whether this style's units lie in the district is a guess the
  // loader does not make: it leaves the district's contests off and says so.
  for (const plan of plans) {
    if (plan.entries !== undefined || plan.unitIds.length === 0) continue;
    for (const [districtId, derived] of composition) {
      if (plan.unitIds.some((u) => geography.covers(districtId, u))) continue;
      warnings.push({
        path: plan.at,
        code: "composition_unknown",
        message: `lists no OrderedContent, so its contests follow from ComposingGpUnitIds; "${districtId}" lists none, and only other styles say what it contains, so its contests (${derived.contests.map((c) => `"${c}"`).join(", ")} among them) are not on this ballot: list this style's contests, or the district's parts`,
      });
    }
  }

  const ballotStyles = new Map<string, BallotStyle>();
  const contestsOnSomeStyle = new Set<string>();
  for (const plan of plans) {
    const coversStyle = (contest: Contest): boolean =>
      plan.unitIds.some((u) => geography.covers(contest.districtId, u));
    const contestIds: string[] = [];
    const optionOrder: Record<string, readonly string[]> = {};
    const headings: BallotHeading[] = [];
    const contestDepth: Record<string, number> = {};
    if (plan.entries !== undefined) {
      for (const entry of plan.entries) {
        const contest = contests.get(entry.contestId);
        if (!contest) {
          const refusedAt = unsupported.get(entry.contestId);
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message:
              refusedAt === undefined
                ? `names no contest of this election ("${entry.contestId}")`
                : `names "${entry.contestId}", a contest of a kind not supported (${refusedAt})`,
          });
          continue;
        }
        if (contestIds.includes(contest.id)) {
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message: `"${contest.id}" is already on this ballot style`,
          });
          continue;
        }
        const order = styleOptionOrder(contest, entry, selectionsOf.get(contest.id) ?? new Set(), problems);
        if (order !== undefined) optionOrder[contest.id] = order;
        for (const { headerId, level } of entry.headers) {
          const title = headerNames.get(headerId);
          if (title !== undefined) headings.push({ beforeContestId: contest.id, level, title });
        }
        contestDepth[contest.id] = entry.depth;
        contestIds.push(contest.id);
      }
    } else {
      for (const contest of contests.values()) if (coversStyle(contest)) contestIds.push(contest.id);
    }
    for (const id of contestIds) contestsOnSomeStyle.add(id);
    if (contestIds.length === 0 && plan.unitIds.length > 0) {
      problems.push({ path: plan.at, message: "this ballot style has no contests" });
    }
    if (plan.styleId !== undefined && styleIdPaths.get(plan.styleId) === plan.at) {
      ballotStyles.set(plan.styleId, {
        id: plan.styleId,
        districtIds: plan.unitIds,
        contestIds,
        ...(Object.keys(optionOrder).length > 0 ? { optionOrder } : {}),
        ...(headings.length > 0 ? { headings, contestDepth } : {}),
      });
    }
  }

  for (const [id, path] of contestPaths) {
    if (!contestsOnSomeStyle.has(id)) {
      problems.push({ path, message: `contest "${id}" is on no ballot style, so nobody could vote in it` });
    }
  }

  if (problems.length > 0) return err(problems);

  const districts = new Map<string, District>();
  for (const [id, { value }] of units) {
    if (value["@type"] !== "ElectionResults.ReportingUnit") continue;
    const name = textOf(value.Name) ?? id;
    districts.set(id, { id, name, nameText: districtNames.get(id) ?? { [firstLanguage]: name } });
  }
  inheritBallotStyles(units, geography, ballotStyles, styleIdPaths, warnings);
  const ballotStyleByDistrict = new Map<string, string>();
  for (const style of ballotStyles.values()) {
    for (const districtId of style.districtIds) ballotStyleByDistrict.set(districtId, style.id);
  }
  return ok({
    election: {
      id: settings.electionId,
      name: electionName ?? settings.electionId,
      nameText: nameText ?? { [firstLanguage]: electionName ?? settings.electionId },
      languages: texts.languages(),
      settings,
      districts,
      contests,
      ballotStyles,
      ballotStyleByDistrict,
      polls: { opensAtMs: Date.parse(settings.polls.opensAt), closesAtMs: Date.parse(settings.polls.closesAt) },
    },
    warnings,
    derivations: {
      ballotStyleIds: derivedStyleIds,
      composition: new Map([...composition].map(([id, d]) => [id, d.units])),
      measureSelections: addedSelections,
    },
  });
}

/**
 * A voter roll names the precinct a voter lives in, and a style may be given for a unit made of
 * precincts (a combined precinct). A unit with no style of its own gets the style of the nearest
 * units it lies in that have one, when they agree on one; when they do not, its voters get none
 * (a warning says so). Each such unit is added to the style's districtIds, with a warning.
 */
function inheritBallotStyles(
  units: ReadonlyMap<string, Indexed<Nist.GpUnit>>,
  geography: Geography,
  ballotStyles: Map<string, BallotStyle>,
  styleIdPaths: ReadonlyMap<string, string>,
  warnings: DefinitionWarning[],
): void {
  const styleOf = new Map<string, string>();
  for (const style of ballotStyles.values()) for (const unitId of style.districtIds) styleOf.set(unitId, style.id);
  const added = new Map<string, string[]>();
  for (const [unitId, { value, path }] of units) {
    if (value["@type"] !== "ElectionResults.ReportingUnit" || styleOf.has(unitId)) continue;
    const seen = new Set<string>([unitId]);
    let level = [...geography.parentsOf(unitId)];
    while (level.length > 0) {
      for (const id of level) seen.add(id);
      const found = [...new Set(level.flatMap((id) => (styleOf.has(id) ? [styleOf.get(id)!] : [])))];
      if (found.length === 1) {
        const styleId = found[0]!;
        const from = level.filter((id) => styleOf.get(id) === styleId);
        added.set(styleId, [...(added.get(styleId) ?? []), unitId]);
        warnings.push({
          path,
          code: "ballot_style_inherited",
          message: `has no ballot style of its own; its voters get "${styleId}" (${styleIdPaths.get(styleId)}), the style of ${from.map((id) => `"${id}"`).join(", ")}, which it is part of`,
        });
        break;
      }
      if (found.length > 1) {
        warnings.push({
          path,
          code: "ballot_style_ambiguous",
          message: `has no ballot style of its own and lies in units with different ones (${found.map((id) => `"${id}"`).join(", ")}): it gets none, and a voter roll placing voters in it is refused`,
        });
        break;
      }
      level = [...new Set(level.flatMap((id) => geography.parentsOf(id)))].filter((id) => !seen.has(id));
    }
  }
  for (const [styleId, unitIds] of added) {
    const style = ballotStyles.get(styleId)!;
    ballotStyles.set(styleId, { ...style, districtIds: [...style.districtIds, ...unitIds] });
  }
}

/**
 * A style's own order of a contest's options (OrderedContestSelectionIds), or undefined when it
 * gives none or the contest's own. A partial list is refused: it would leave open whether the
 * options it leaves out are on this ballot.
 */
function styleOptionOrder(
  contest: Contest,
  entry: { readonly selectionIds: readonly string[]; readonly path: string },
  selections: ReadonlySet<string>,
  problems: Problem[],
): readonly string[] | undefined {
  if (entry.selectionIds.length === 0) return undefined;
  const seen = new Set<string>();
  let sound = true;
  entry.selectionIds.forEach((selectionId, s) => {
    const at = pointer(entry.path, "OrderedContestSelectionIds", s);
    if (!selections.has(selectionId)) {
      problems.push({ path: at, message: `names no selection of contest "${contest.id}" ("${selectionId}")` });
      sound = false;
    } else if (seen.has(selectionId)) {
      problems.push({ path: at, message: `"${selectionId}" is already listed for this contest` });
      sound = false;
    }
    seen.add(selectionId);
  });
  if (!sound) return undefined;
  if (seen.size !== selections.size) {
    const left = [...selections].filter((id) => !seen.has(id));
    problems.push({
      path: pointer(entry.path, "OrderedContestSelectionIds"),
      message: `lists ${seen.size} of contest "${contest.id}"'s ${selections.size} selections, leaving out ${left.map((id) => `"${id}"`).join(", ")}; list every selection once, or none for the contest's order`,
    });
    return undefined;
  }
  const same = contest.options.every((option, i) => option.id === entry.selectionIds[i]);
  return same ? undefined : [...entry.selectionIds];
}
