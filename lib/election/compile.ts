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
 *   since NIST BallotStyle has no @id. Its contests are its OrderedContent if given, otherwise
 *   every contest whose district is one of its GpUnits or contains one (ComposingGpUnitIds,
 *   transitively). Per-style selection order (OrderedContestSelectionIds) is checked but not kept:
 *   options are in the contest's ContestSelection order on every style.
 * - Every language of every text a ballot shows is kept (LocalizedText in model.ts) beside the
 *   plain first-language fields that most callers use. A language tag must have BCP 47's shape
 *   (checked loosely: letters, then dash-separated letters and digits) and appear once per text;
 *   an empty text for a language counts as no text in that language.
 */
import type { Problem } from "../errors.ts";
import { err, ok, type Result, assertNever } from "../result.ts";
import { localize } from "./localize.ts";
import type { BallotStyle, CompiledElection, Contest, ContestOption, District, LocalizedText, Party } from "./model.ts";
import type * as Nist from "./nist.ts";
import { textOf } from "./nist.ts";
import { pointer } from "./pointer.ts";
import type { ElectionSettings } from "./settings.ts";

const SUPPORTED_VOTE_VARIATIONS: ReadonlySet<string> = new Set([
  "plurality",
  "majority",
  "super-majority",
  "n-of-m",
  "approval",
]);

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
function checkUniqueIds(report: unknown, base: string, problems: Problem[]): void {
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

/** The GpUnit composition graph: which units each unit is directly part of. */
class Geography {
  private readonly parents = new Map<string, string[]>();
  private readonly ancestorMemo = new Map<string, ReadonlySet<string>>();
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

  /** Whether voters of `unitId` are voters of `districtId`. */
  covers(districtId: string, unitId: string): boolean {
    return districtId === unitId || this.ancestors(unitId).has(districtId);
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
): ContestOption[] {
  const options: ContestOption[] = [];
  const selections = contest.ContestSelection ?? [];
  selections.forEach((selection, j) => {
    const at = pointer(path, "ContestSelection", j);
    if (selection["@type"] !== "ElectionResults.CandidateSelection") {
      problems.push({ path: pointer(at, "@type"), message: "a CandidateContest holds only CandidateSelections" });
      return;
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
  });
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

function compileBallotMeasureContest(
  contest: Extract<Nist.Contest, { "@type": "ElectionResults.BallotMeasureContest" }>,
  path: string,
  texts: Texts,
  firstLanguage: string,
  problems: Problem[],
): ContestOption[] {
  const options: ContestOption[] = [];
  const selections = contest.ContestSelection ?? [];
  selections.forEach((selection, j) => {
    const at = pointer(path, "ContestSelection", j);
    if (selection["@type"] !== "ElectionResults.BallotMeasureSelection") {
      problems.push({
        path: pointer(at, "@type"),
        message: "a BallotMeasureContest holds only BallotMeasureSelections",
      });
      return;
    }
    const label = textOf(selection.Selection);
    if (label === undefined) problems.push({ path: pointer(at, "Selection"), message: "has no text" });
    const labelText = texts.read(selection.Selection, pointer(at, "Selection")) ?? {
      [firstLanguage]: label ?? selection["@id"],
    };
    options.push({ id: selection["@id"], label: label ?? selection["@id"], labelText, isWriteIn: false });
  });
  if (selections.length < 2) {
    problems.push({
      path: pointer(path, "ContestSelection"),
      message: `a ballot measure needs at least two selections (such as yes and no), found ${selections.length}`,
    });
  }
  return options;
}

/** The id a ballot style carries in its ExternalIdentifier, or undefined after saying why not. */
function ballotStyleIdOf(style: Nist.BallotStyle, path: string, problems: Problem[]): string | undefined {
  const identifiers = (style.ExternalIdentifier ?? [])
    .map((identifier, i) => ({ identifier, i }))
    .filter(({ identifier }) => identifier.Type === "other" && identifier.OtherType === BALLOT_STYLE_ID_TYPE);
  const first = identifiers[0];
  if (!first) {
    problems.push({
      path: pointer(path, "ExternalIdentifier"),
      message: `needs an ExternalIdentifier with Type "other", OtherType "${BALLOT_STYLE_ID_TYPE}" and the style's id as Value`,
    });
    return undefined;
  }
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

/** The OrderedContent's contests, headers flattened, with where each was named. */
function orderedContests(
  content: readonly Nist.OrderedContent[],
  path: string,
  headers: ReadonlySet<string>,
  problems: Problem[],
): { contestId: string; selectionIds: readonly string[]; path: string }[] {
  const out: { contestId: string; selectionIds: readonly string[]; path: string }[] = [];
  const walk = (items: readonly Nist.OrderedContent[], at: string): void => {
    items.forEach((item, i) => {
      const itemPath = pointer(at, i);
      if (item["@type"] === "ElectionResults.OrderedContest") {
        out.push({ contestId: item.ContestId, selectionIds: item.OrderedContestSelectionIds ?? [], path: itemPath });
      } else {
        if (!headers.has(item.HeaderId)) {
          problems.push({ path: pointer(itemPath, "HeaderId"), message: `names no Header ("${item.HeaderId}")` });
        }
        walk(item.OrderedContent ?? [], pointer(itemPath, "OrderedContent"));
      }
    });
  };
  walk(content, path);
  return out;
}

/**
 * Checks `report` for meaning and compiles it. `base` is where the report sits in the definition
 * document ("/electionReport"), so problem paths point into what the administrator sent.
 */
export function compileElection(
  settings: ElectionSettings,
  report: Nist.ElectionReport,
  base: string,
): Result<CompiledElection, Problem[]> {
  const problems: Problem[] = [];
  checkUniqueIds(report, base, problems);

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

  // Contests
  const contests = new Map<string, Contest>();
  const contestPaths = new Map<string, string>();
  const selectionsOf = new Map<string, ReadonlySet<string>>();
  const contestList = election.Contest ?? [];
  if (contestList.length === 0)
    problems.push({ path: pointer(electionPath, "Contest"), message: "the election has no contests" });
  contestList.forEach((contest, i) => {
    const at = pointer(electionPath, "Contest", i);
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
        const options = compileCandidateContest(contest, at, refs, problems);
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
        const options = compileBallotMeasureContest(contest, at, texts, firstLanguage, problems);
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
  });

  // Ballot styles
  const ballotStyles = new Map<string, BallotStyle>();
  const styleIdPaths = new Map<string, string>();
  const styleOfUnit = new Map<string, { styleId: string | undefined; path: string }>();
  const contestsOnSomeStyle = new Set<string>();
  const styleList = election.BallotStyle ?? [];
  if (styleList.length === 0)
    problems.push({ path: pointer(electionPath, "BallotStyle"), message: "the election has no ballot styles" });
  styleList.forEach((style, k) => {
    const at = pointer(electionPath, "BallotStyle", k);
    const styleId = ballotStyleIdOf(style, at, problems);
    if (styleId !== undefined) {
      const first = styleIdPaths.get(styleId);
      if (first !== undefined) {
        problems.push({
          path: pointer(at, "ExternalIdentifier"),
          message: `ballot style id "${styleId}" is already used at ${first}`,
        });
      } else {
        styleIdPaths.set(styleId, at);
      }
    }

    const unitIds: string[] = [];
    style.GpUnitIds.forEach((unitId, j) => {
      const unitPath = pointer(at, "GpUnitIds", j);
      if (!requireReportingUnit(unitId, unitPath) || unitIds.includes(unitId)) return;
      const other = styleOfUnit.get(unitId);
      if (other) {
        problems.push({
          path: unitPath,
          message: `"${unitId}" already has a ballot style (${other.path}); a district gets exactly one`,
        });
        return;
      }
      styleOfUnit.set(unitId, { styleId, path: at });
      unitIds.push(unitId);
    });
    const coversStyle = (contest: Contest): boolean => unitIds.some((u) => geography.covers(contest.districtId, u));

    const contestIds: string[] = [];
    const content = style.OrderedContent ?? [];
    if (content.length > 0) {
      for (const entry of orderedContests(content, pointer(at, "OrderedContent"), headers, problems)) {
        const contest = contests.get(entry.contestId);
        if (!contest) {
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message: `names no supported contest of this election ("${entry.contestId}")`,
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
        if (unitIds.length > 0 && !coversStyle(contest)) {
          problems.push({
            path: pointer(entry.path, "ContestId"),
            message: `"${contest.id}" is for district "${contest.districtId}", which contains none of this style's GpUnits`,
          });
        }
        const selections = selectionsOf.get(contest.id) ?? new Set<string>();
        entry.selectionIds.forEach((selectionId, s) => {
          if (!selections.has(selectionId)) {
            problems.push({
              path: pointer(entry.path, "OrderedContestSelectionIds", s),
              message: `names no selection of contest "${contest.id}" ("${selectionId}")`,
            });
          }
        });
        contestIds.push(contest.id);
      }
    } else {
      for (const contest of contests.values()) if (coversStyle(contest)) contestIds.push(contest.id);
    }
    for (const id of contestIds) contestsOnSomeStyle.add(id);
    if (contestIds.length === 0 && unitIds.length > 0) {
      problems.push({ path: at, message: "this ballot style has no contests" });
    }
    if (styleId !== undefined && !ballotStyles.has(styleId)) {
      ballotStyles.set(styleId, { id: styleId, districtIds: unitIds, contestIds });
    }
  });

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
  const ballotStyleByDistrict = new Map<string, string>();
  for (const style of ballotStyles.values()) {
    for (const districtId of style.districtIds) ballotStyleByDistrict.set(districtId, style.id);
  }
  return ok({
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
  });
}
