/**
 * The voting pages' routes, under /elections/{electionId}/: the ballot, the review, the cast, the
 * receipt (and its download), sign-out. Each reads the voter session from its cookie only
 * (session.ts) and sends a voter without a live one to the eID login, keeping what they had not
 * cast in the draft cookie. Every POST is refused when the browser says it came from elsewhere;
 * the cast and sign-out forms also carry the session's CSRF token.
 *
 * Casting takes the API's own path (workers/voting/cast.ts). The cast's idempotency key is derived
 * here from the session and the choices, so a double click, a reload or the back button re-sends
 * the same key and gets the first cast's receipt, never a second ballot.
 *
 * Session pages answer `private, no-store`: a shared computer's cache or a proxy keeps nothing.
 */
import { htmlResponse } from "./respond.ts";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { HtmlEscapedString } from "hono/utils/html";
import { createLocalJWKSet, jwtVerify } from "jose";
import { z } from "zod";
import { getElection } from "../../../db/stores/elections.ts";
import { canonicalBallot } from "../../../lib/ballot/commitment.ts";
import { WRITE_IN_MAX_LENGTH, type ContestMarks } from "../../../lib/ballot/messages.ts";
import { validateBallot } from "../../../lib/ballot/validate.ts";
import { optionsOnStyle } from "../../../lib/election/ballot-order.ts";
import type { CompiledElection, Contest } from "../../../lib/election/model.ts";
import { votingEndsAtMs } from "../../../lib/election/polls.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { ERROR_CODES, retryAfterOf, statusOf, type ErrorCode, type Problem } from "../../../lib/errors.ts";
import { assertNever } from "../../../lib/result.ts";
import { castBallot, voterStanding } from "../../voting/cast.ts";
import { receiptPublicKeys } from "../../voting/receipts.ts";
import type { VoterSession } from "../auth/tokens.ts";
import { castingClient, clientAddress, countryOf, geofence, recordRateLimited } from "../edge.ts";
import { monitorVoterTag } from "../../monitor/signal.ts";
import type { AppEnv } from "../http.ts";
import { texts, type BallotTexts } from "./ballot-texts.ts";
import { formatInstant } from "./home.tsx";
import { DEFAULT_LANGUAGE, LanguageTag, messagesFor, type Messages } from "./messages.ts";
import {
  castIdempotencyKey,
  clearDraft,
  clearVoterCookies,
  csrfTokenOf,
  csrfTokenValid,
  fromElsewhere,
  loginStartUrl,
  lapsedPageSession,
  pageSession,
  readDraft,
  receiptCookie,
  saveDraft,
  setReceiptCookie,
  setSessionCookie,
  type Draft,
} from "./session.ts";
import {
  BallotPage,
  electionBase,
  PrintableReceiptPage,
  ReceiptPage,
  ReviewPage,
  SignedInPage,
  SignedOutPage,
  StatePage,
  optionInputId,
  writeInInputId,
  type Choices,
  type FieldError,
  type HiddenField,
  type PageFrame,
  type ReviewContest,
  type StateLink,
} from "./vote.tsx";

type Ctx = Context<AppEnv>;

export const SESSION_PAGE_CACHE = "private, no-store";

const Lang = LanguageTag.optional();

/** The language the voter chose (`?lang=`), its catalogue, and the query that keeps it. */
export function frameOf(c: Ctx, electionId: string, csrf?: string, startedIn?: string): PageFrame {
  const lang = Lang.safeParse(c.req.query("lang") ?? startedIn);
  const chosen = lang.success ? lang.data : undefined;
  const { language, t } = messagesFor(chosen ?? DEFAULT_LANGUAGE);
  return {
    language,
    requested: chosen ?? DEFAULT_LANGUAGE,
    t,
    electionId,
    langQuery: chosen ? `?lang=${encodeURIComponent(chosen)}` : "",
    ...(csrf !== undefined ? { csrf } : {}),
  };
}

export async function htmlPage(
  c: Ctx,
  element: HtmlEscapedString | Promise<HtmlEscapedString>,
  status: 200 | 400 | 401 | 403 | 404 | 409 | 429 | 503 = 200,
): Promise<Response> {
  return htmlResponse(c, element, SESSION_PAGE_CACHE, status);
}

type PageStatus = 200 | 400 | 401 | 403 | 404 | 409 | 429 | 503;
function pageStatusOf(code: ErrorCode): PageStatus {
  const status = statusOf(code);
  switch (status) {
    case 400:
    case 401:
    case 403:
    case 404:
    case 409:
    case 429:
    case 503:
      return status;
    default:
      return 400;
  }
}

/** The words of every state that stops a voter, by its error code. */
export function stateWords(
  t: Messages,
  code: ErrorCode,
  election?: CompiledElection,
  language = DEFAULT_LANGUAGE,
): { title: string; text: string } {
  switch (code) {
    case "already_voted":
      return { title: t.stateAlreadyVotedTitle, text: t.stateAlreadyVoted };
    case "already_voted_on_paper":
      return { title: t.statePaperTitle, text: t.statePaper };
    case "polls_not_open":
      return {
        title: t.statePollsNotOpenTitle,
        text: election
          ? t.statePollsNotOpen(formatInstant(language, election.settings.polls.opensAt))
          : t.statePollsNotOpenLater,
      };
    case "polls_closed":
      return { title: t.statePollsClosedTitle, text: t.statePollsClosed };
    case "not_on_roll":
      return { title: t.stateNotOnRollTitle, text: t.stateNotOnRoll };
    case "no_ballot_style":
      return { title: t.stateNoBallotStyleTitle, text: t.stateNoBallotStyle };
    case "geofence_refused":
      return { title: t.stateGeofenceTitle, text: t.stateGeofence };
    case "insufficient_assurance":
      return { title: t.stateAssuranceTitle, text: t.stateAssurance };
    case "eid_unavailable":
      return { title: t.stateEidUnavailableTitle, text: t.stateEidUnavailable };
    case "rate_limited":
      return { title: t.stateBusyTitle, text: t.stateBusy };
    case "service_overloaded":
      return { title: t.stateOverloadedTitle, text: t.stateOverloaded };
    case "csrf_failed":
      return { title: t.stateCsrfTitle, text: t.stateCsrf };
    case "ballot_superseded":
      return { title: t.stateSupersededTitle, text: t.stateSuperseded };
    case "idempotency_conflict":
      return { title: t.stateConflictTitle, text: t.stateConflict };
    case "election_not_found":
      return { title: t.stateNotFoundTitle, text: t.stateNotFound };
    case "not_found":
      // No such page (a GET of the issuer's POST-only callback, say): not a missing election.
      return { title: t.notFoundTitle, text: t.notFoundText };
    default:
      // The login's other refusals (a replayed or bad ID token, a state that does not match).
      return { title: t.stateLoginFailedTitle, text: t.stateLoginFailed };
  }
}

/** Where a voter goes from a state: back to the ballot when trying again may work, else the start. */
function defaultLinks(frame: PageFrame, code: ErrorCode): StateLink[] {
  const start = { href: "/", label: frame.t.backToStart };
  if (code !== "csrf_failed" && code !== "rate_limited" && code !== "service_overloaded") return [start];
  const ballot = `${electionBase(frame)}/ballot${frame.langQuery}`;
  return [{ href: ballot, label: frame.t.goToBallot, primary: true }, start];
}

/**
 * The cast form's answer when admission control turns it away (admission.ts): nothing was read or
 * cast, so the page says so, sends the voter back to the ballot (the review kept the draft), and
 * carries the 503's Retry-After.
 */
export async function overloadedPage(c: Ctx): Promise<Response> {
  let segment = "";
  try {
    segment = decodeURIComponent(/^\/elections\/([^/]+)\//.exec(c.req.path)?.[1] ?? "");
  } catch {
    // Not a path any page made: the page links to the start instead of a ballot.
  }
  const id = ElectionId.safeParse(segment);
  const page = await statePage(c, frameOf(c, id.success ? id.data : "-"), "service_overloaded");
  const retryAfter = retryAfterOf("service_overloaded");
  if (retryAfter !== undefined) page.headers.set("retry-after", String(retryAfter));
  return page;
}

/** A state page for `code`, with the links that help from there. */
export function statePage(
  c: Ctx,
  frame: PageFrame,
  code: ErrorCode,
  options: { election?: CompiledElection; trackingCode?: string; links?: readonly StateLink[] } = {},
): Promise<Response> {
  const { title, text } = stateWords(frame.t, code, options.election, frame.language);
  const checkUrl = options.trackingCode
    ? new URL(`/check?code=${encodeURIComponent(options.trackingCode)}`, c.req.url).toString()
    : undefined;
  const links = options.links ?? defaultLinks(frame, code);
  return htmlPage(
    c,
    <StatePage
      frame={frame}
      code={code}
      title={title}
      text={text}
      {...(options.trackingCode ? { trackingCode: options.trackingCode } : {})}
      {...(checkUrl ? { checkUrl } : {})}
      links={links}
    />,
    pageStatusOf(code),
  );
}

// ---- The form ------------------------------------------------------------------------------

/** A form body: text fields only, a bounded number of them (the body itself is within 64 KiB). */
const FormBody = z
  .record(z.string().max(300), z.union([z.string().max(2000), z.array(z.string().max(2000)).max(64)]))
  .refine((body) => Object.keys(body).length <= 300, "too many fields");
type FormBody = z.infer<typeof FormBody>;

async function formOf(c: Ctx): Promise<FormBody | undefined> {
  try {
    const parsed = FormBody.safeParse(await c.req.parseBody({ all: true }));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function single(body: FormBody, name: string): string | undefined {
  const value = body[name];
  return typeof value === "string" ? value : undefined;
}

/** The marks a form carries: `m:<contest id>` = option ids, `w:<option id>` = write-in text. */
interface FormMarks {
  readonly contests: ContestMarks[];
  /** Write-in texts over the limit, by option id (cut to the limit in `contests`). */
  readonly tooLong: readonly string[];
}

function marksOf(body: FormBody, election: CompiledElection, styleContestIds: readonly string[]): FormMarks {
  const byContest = new Map<string, string[]>();
  const writeIns = new Map<string, string>();
  for (const [name, value] of Object.entries(body)) {
    const values = Array.isArray(value) ? value : [value];
    if (name.startsWith("m:"))
      byContest.set(
        name.slice(2),
        values.filter((v) => v !== ""),
      );
    else if (name.startsWith("w:")) {
      const text = (values[0] ?? "").trim();
      if (text !== "") writeIns.set(name.slice(2), text);
    }
  }
  const contestIds = [...styleContestIds, ...[...byContest.keys()].filter((id) => !styleContestIds.includes(id))];
  const tooLong: string[] = [];
  const claimed = new Set<string>();
  const contests = contestIds.map((contestId): ContestMarks => {
    const optionIds = byContest.get(contestId) ?? [];
    const contest = election.contests.get(contestId);
    const texts: Record<string, string> = {};
    for (const option of contest?.options ?? []) {
      const text = writeIns.get(option.id);
      if (text === undefined) continue;
      claimed.add(option.id);
      if (text.length > WRITE_IN_MAX_LENGTH) tooLong.push(option.id);
      texts[option.id] = text.slice(0, WRITE_IN_MAX_LENGTH);
    }
    return { contestId, optionIds, ...(Object.keys(texts).length > 0 ? { writeIns: texts } : {}) };
  });
  // Write-in text for an option of no contest on the ballot: a choice not on the ballot.
  for (const optionId of writeIns.keys()) {
    if (!claimed.has(optionId)) contests.push({ contestId: "-", optionIds: [optionId] });
  }
  return { contests, tooLong };
}

/** The validator's problems and the too-long write-ins as errors linked to the ballot's fields. */
function fieldErrors(
  t: Messages,
  bt: BallotTexts,
  ballotContests: readonly Contest[],
  marks: FormMarks,
  problems: readonly Problem[],
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  const add = (error: FieldError): void => {
    const key = `${error.contestIndex}:${error.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    errors.push(error);
  };
  const locate = (contestId: string, optionId?: string) => {
    const index = ballotContests.findIndex((c) => c.id === contestId);
    const contest = ballotContests[index];
    const optionIndex = contest && optionId !== undefined ? contest.options.findIndex((o) => o.id === optionId) : -1;
    return { index, contest, optionIndex };
  };
  for (const optionId of marks.tooLong) {
    const owner = ballotContests.find((c) => c.options.some((o) => o.id === optionId));
    if (!owner) continue;
    const { index, contest, optionIndex } = locate(owner.id, optionId);
    if (contest)
      add({
        href: writeInInputId(index, optionIndex),
        contestIndex: index,
        message: t.errorWriteInTooLong(bt.contestTitle(contest).text, WRITE_IN_MAX_LENGTH),
      });
  }
  for (const problem of problems) {
    const match = /^\/contests\/(\d+)(?:\/(optionIds|writeIns|contestId)(?:\/(.+))?)?$/.exec(problem.path);
    const marked = match ? marks.contests[Number(match[1])] : undefined;
    const { index, contest, optionIndex } = locate(marked?.contestId ?? "", match?.[3]);
    if (!contest || !marked) {
      add({ href: optionInputId(0, 0), contestIndex: -1, message: t.errorNotOnBallot });
      continue;
    }
    const title = bt.contestTitle(contest).text;
    const writeInIndex = contest.options.findIndex((o) => o.isWriteIn);
    switch (problem.code) {
      case "overvote":
        add({
          href: optionInputId(index, 0),
          contestIndex: index,
          message: t.errorTooMany(title, contest.votesAllowed),
        });
        break;
      case "write_in_missing":
        add({
          href: writeInInputId(index, optionIndex >= 0 ? optionIndex : writeInIndex),
          contestIndex: index,
          message: t.errorWriteInMissing(title),
        });
        break;
      case "write_in_invalid":
        add({
          href: writeInInputId(index, optionIndex >= 0 ? optionIndex : writeInIndex),
          contestIndex: index,
          message: t.errorWriteInInvalid(title),
        });
        break;
      case "write_in_not_allowed":
        add({
          href: optionInputId(index, optionIndex >= 0 ? optionIndex : writeInIndex),
          contestIndex: index,
          message: t.errorWriteInNotChosen(title),
        });
        break;
      default:
        add({ href: optionInputId(index, 0), contestIndex: index, message: t.errorNotOnBallot });
    }
  }
  return errors;
}

function choicesOf(contests: readonly ContestMarks[]): Choices {
  const chosen = new Map<string, ReadonlySet<string>>();
  const writeIns = new Map<string, string>();
  for (const marks of contests) {
    chosen.set(marks.contestId, new Set(marks.optionIds));
    for (const [optionId, text] of Object.entries(marks.writeIns ?? {})) writeIns.set(optionId, text);
  }
  return { chosen, writeIns };
}

function hiddenFieldsOf(contests: readonly ContestMarks[]): HiddenField[] {
  return contests.flatMap((marks) => [
    ...marks.optionIds.map((optionId) => ({ name: `m:${marks.contestId}`, value: optionId })),
    ...Object.entries(marks.writeIns ?? {}).map(([optionId, text]) => ({ name: `w:${optionId}`, value: text })),
  ]);
}

/**
 * The contests of a style as its ballot shows them: in the style's order, each with its options
 * in the style's order (optionsOnStyle: candidates rotated by precinct, a contest's
 * SequenceOrder). The form, the review and the cast name options by id, so the order changes
 * nothing a voter sends; positions in these copies are the page's own (input ids), never an
 * index that a mark or a payload carries.
 */
function contestsOf(election: CompiledElection, ballotStyleId: string): Contest[] | undefined {
  const style = election.ballotStyles.get(ballotStyleId);
  if (!style) return undefined;
  return style.contestIds.flatMap((id) => {
    const contest = election.contests.get(id);
    return contest ? [{ ...contest, options: optionsOnStyle(style, contest).map(({ option }) => option) }] : [];
  });
}

// ---- Guards --------------------------------------------------------------------------------

/** The ledger decides again; this spares a closed election's voter the ballot (an early close too). */
function pollsState(election: CompiledElection): "polls_not_open" | "polls_closed" | undefined {
  const now = Date.now();
  if (now < election.polls.opensAtMs) return "polls_not_open";
  if (now >= votingEndsAtMs(election)) return "polls_closed";
  return undefined;
}

/**
 * A POST without a live session: if the form came from a session that expired (at most the
 * draft's hour ago), keep what it carried in that voter's draft (only the contests of their
 * ballot style), then send the voter through the login; after it, the ballot page shows the draft
 * to the same voter only. A form with no session behind it keeps nothing.
 */
async function keepDraftAndLogIn(
  c: Ctx,
  electionId: string,
  body: FormBody | undefined,
  election: CompiledElection,
): Promise<Response> {
  const lapsed = await lapsedPageSession(c, electionId);
  const contestIds = lapsed ? election.ballotStyles.get(lapsed.ballotStyleId)?.contestIds : undefined;
  if (body && lapsed && contestIds) {
    const { contests } = marksOf(body, election, contestIds);
    const draft: Draft = { contests: contests.filter((m) => contestIds.includes(m.contestId)) };
    await saveDraft(c, electionId, lapsed, draft);
  }
  return c.redirect(loginStartUrl(electionId), 303);
}

async function verifiedReceipt(
  c: Ctx,
  jws: string,
  electionId: string,
): Promise<{ trackingCode: string; acceptedAt: string } | undefined> {
  try {
    const keys = createLocalJWKSet(await receiptPublicKeys(c.env));
    const { payload } = await jwtVerify(jws, keys, { algorithms: ["EdDSA"], typ: "ballot-receipt+jwt" });
    const claims = z
      .object({ electionId: z.string(), trackingCode: z.string(), acceptedAt: z.string() })
      .safeParse(payload);
    if (!claims.success || claims.data.electionId !== electionId) return undefined;
    return claims.data;
  } catch {
    return undefined;
  }
}

// ---- Routes --------------------------------------------------------------------------------

export function voteRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** The election of a page's address, or the page that says there is none. */
  async function electionOf(c: Ctx): Promise<CompiledElection | Response> {
    const id = ElectionId.safeParse(c.req.param("electionId"));
    const election = id.success ? await getElection(c.env.DB, id.data) : undefined;
    if (!election) return statePage(c, frameOf(c, id.success ? id.data : "-"), "election_not_found");
    return election;
  }

  app.get("/elections/:electionId/ballot", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    const polls = pollsState(election);
    if (polls) return statePage(c, frameOf(c, election.id), polls, { election });
    const session = await pageSession(c, election.id);
    if (!session.ok) return c.redirect(loginStartUrl(election.id), 303);
    return ballotPage(c, election, session.value);
  });

  async function ballotPage(
    c: Ctx,
    election: CompiledElection,
    session: VoterSession,
    sent?: { marks: FormMarks; errors: FieldError[] },
  ): Promise<Response> {
    const frame = frameOf(c, election.id, await csrfTokenOf(c, session));
    if (geofence(election, countryOf(c)).kind === "refused") return statePage(c, frame, "geofence_refused");
    const contests = contestsOf(election, session.ballotStyleId);
    if (!contests) return statePage(c, frame, "no_ballot_style");
    const style = election.ballotStyles.get(session.ballotStyleId);
    const standing = await voterStanding(c.env, election.id, session);
    if (standing.state === "paper") return statePage(c, frame, "already_voted_on_paper");
    const revote = standing.state === "online";
    if (revote && election.settings.crossChannelPolicy === "first-wins") {
      return statePage(c, frame, "already_voted", {
        ...(standing.countedTrackingCode ? { trackingCode: standing.countedTrackingCode } : {}),
      });
    }
    const draft = sent ? undefined : await readDraft(c, election.id, session);
    const choices = choicesOf(sent?.marks.contests ?? draft?.contests ?? []);
    return htmlPage(
      c,
      <BallotPage
        frame={frame}
        bt={texts(election, frame.requested)}
        ballotStyleId={session.ballotStyleId}
        {...(style ? { style } : {})}
        contests={contests}
        choices={choices}
        errors={sent?.errors ?? []}
        revote={revote}
        writeInMax={WRITE_IN_MAX_LENGTH}
      />,
      sent ? 400 : 200,
    );
  }

  /** The form's marks checked against the session's style: valid marks, or the ballot page. */
  async function checkedMarks(
    c: Ctx,
    election: CompiledElection,
    session: VoterSession,
    body: FormBody,
  ): Promise<ContestMarks[] | Response> {
    const contests = contestsOf(election, session.ballotStyleId);
    if (!contests) return statePage(c, frameOf(c, election.id), "no_ballot_style");
    const marks = marksOf(
      body,
      election,
      contests.map((contest) => contest.id),
    );
    const valid = validateBallot(election, session.ballotStyleId, marks.contests);
    if (valid.ok && marks.tooLong.length === 0) return valid.value;
    const { t, requested } = frameOf(c, election.id);
    const errors = fieldErrors(t, texts(election, requested), contests, marks, valid.ok ? [] : valid.error);
    return ballotPage(c, election, session, { marks, errors });
  }

  app.post("/elections/:electionId/review", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    if (fromElsewhere(c)) return statePage(c, frameOf(c, election.id), "csrf_failed");
    const body = await formOf(c);
    const session = await pageSession(c, election.id);
    if (!session.ok) return keepDraftAndLogIn(c, election.id, body, election);
    const polls = pollsState(election);
    if (polls) return statePage(c, frameOf(c, election.id), polls, { election });
    if (!body) return ballotPage(c, election, session.value);
    const marks = await checkedMarks(c, election, session.value, body);
    if (marks instanceof Response) return marks;
    await saveDraft(c, election.id, session.value, { contests: marks });
    // Post/redirect/get: a reload of the review never re-sends the form.
    return c.redirect(`${electionBase(frameOf(c, election.id))}/review${frameOf(c, election.id).langQuery}`, 303);
  });

  app.get("/elections/:electionId/review", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    const session = await pageSession(c, election.id);
    if (!session.ok) return c.redirect(loginStartUrl(election.id), 303);
    const plain = frameOf(c, election.id);
    const toBallot = `${electionBase(plain)}/ballot${plain.langQuery}`;
    const draft = await readDraft(c, election.id, session.value);
    const contests = contestsOf(election, session.value.ballotStyleId);
    if (!draft || !contests) return c.redirect(toBallot, 303);
    const valid = validateBallot(election, session.value.ballotStyleId, draft.contests);
    if (!valid.ok) return c.redirect(toBallot, 303);
    const frame = { ...plain, csrf: await csrfTokenOf(c, session.value) };
    const bt = texts(election, frame.requested);
    const reviewContests: ReviewContest[] = contests.map((contest) => {
      const marks = valid.value.find((m) => m.contestId === contest.id);
      const chosen = contest.options.filter((o) => marks?.optionIds.includes(o.id));
      return {
        title: bt.contestTitle(contest),
        choices: chosen.map((option) => {
          const party = bt.partyName(option);
          if (option.isWriteIn) {
            return { label: `${frame.t.writeInOption}: ${marks?.writeIns?.[option.id] ?? ""}` };
          }
          const label = bt.optionLabel(option);
          return party ? { label, party } : { label };
        }),
      };
    });
    const canonical = canonicalBallot(election.id, session.value.ballotStyleId, valid.value);
    const standing = await voterStanding(c.env, election.id, session.value);
    return htmlPage(
      c,
      <ReviewPage
        frame={frame}
        electionName={bt.electionName}
        contests={reviewContests}
        hidden={[{ name: "ballotStyle", value: session.value.ballotStyleId }, ...hiddenFieldsOf(valid.value)]}
        idempotencyKey={await castIdempotencyKey(c, session.value, canonical)}
        revote={standing.state === "online" && election.settings.crossChannelPolicy === "paper-supersedes"}
      />,
    );
  });

  app.post("/elections/:electionId/cast", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    const plain = frameOf(c, election.id);
    if (fromElsewhere(c)) return statePage(c, plain, "csrf_failed");
    const body = await formOf(c);
    const session = await pageSession(c, election.id);
    if (!session.ok) return keepDraftAndLogIn(c, election.id, body, election);
    const voter = session.value;
    const frame = { ...plain, csrf: await csrfTokenOf(c, voter) };
    if (!body || !(await csrfTokenValid(c, voter, single(body, "csrf")))) return statePage(c, frame, "csrf_failed");

    // The API's limits, per client address then per voter, before the ballot is read.
    const byAddress = await c.env.CAST_IP_LIMITER.limit({ key: clientAddress(c) });
    if (!byAddress.success) {
      await recordRateLimited(c, "cast-address", { electionId: election.id });
      return statePage(c, frame, "rate_limited");
    }
    const byVoter = await c.env.CAST_VOTER_LIMITER.limit({ key: `${election.id}:${voter.voterKey}` });
    if (!byVoter.success) {
      await recordRateLimited(c, "cast-voter", {
        electionId: election.id,
        districtId: voter.districtId,
        voterTag: await monitorVoterTag(c.env, election.id, voter.voterKey),
      });
      return statePage(c, frame, "rate_limited");
    }
    const client = await castingClient(c, election, voter);
    if (!client) return statePage(c, frame, "geofence_refused");

    const marks = await checkedMarks(c, election, voter, body);
    if (marks instanceof Response) return marks;
    const key = await castIdempotencyKey(c, voter, canonicalBallot(election.id, voter.ballotStyleId, marks));
    const sentKey = single(body, "idempotencyKey");
    // The review's key was made from the same session and choices; another one means the form
    // was changed on the way, and is not cast.
    if (sentKey !== undefined && sentKey !== key) return statePage(c, frame, "idempotency_conflict");

    const cast = await castBallot(c.env, election, voter, client, key, marks);
    if (!cast.ok) {
      const failure = cast.error;
      const toBallot = { href: `${electionBase(frame)}/ballot${frame.langQuery}`, label: frame.t.goToBallot };
      switch (failure.code) {
        case "invalid_ballot":
          return ballotPage(c, election, voter);
        case "already_voted": {
          const standing = await voterStanding(c.env, election.id, voter);
          return statePage(c, frame, "already_voted", {
            ...(standing.countedTrackingCode ? { trackingCode: standing.countedTrackingCode } : {}),
          });
        }
        case "already_voted_on_paper":
          return statePage(c, frame, "already_voted_on_paper");
        case "polls_not_open":
        case "polls_closed":
          return statePage(c, frame, failure.code, { election });
        case "idempotency_conflict":
        case "ballot_superseded":
          return statePage(c, frame, failure.code, { links: [toBallot] });
        default:
          return assertNever(failure);
      }
    }
    setReceiptCookie(c, election.id, cast.value.receiptJws);
    clearDraft(c, election.id);
    return c.redirect(`${electionBase(frame)}/receipt${frame.langQuery}`, 303);
  });

  app.get("/elections/:electionId/receipt", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    const session = await pageSession(c, election.id);
    if (!session.ok) return c.redirect(loginStartUrl(election.id), 303);
    const frame = frameOf(c, election.id, await csrfTokenOf(c, session.value));
    const jws = receiptCookie(c);
    const receipt = jws ? await verifiedReceipt(c, jws, election.id) : undefined;
    if (!receipt) return c.redirect(`${electionBase(frame)}/ballot${frame.langQuery}`, 303);
    const code = encodeURIComponent(receipt.trackingCode);
    const view = {
      trackingCode: receipt.trackingCode,
      acceptedAt: receipt.acceptedAt,
      checkUrl: new URL(`/check?code=${code}`, c.req.url).toString(),
      qrUrl: `/v1/receipts/${code}/qr.svg`,
      revoteAllowed: election.settings.crossChannelPolicy === "paper-supersedes",
    };
    const bt = texts(election, frame.requested);
    return htmlPage(
      c,
      c.req.query("view") === "print" ? (
        <PrintableReceiptPage frame={frame} electionName={bt.electionName} receipt={view} />
      ) : (
        <ReceiptPage frame={frame} electionName={bt.electionName} receipt={view} />
      ),
    );
  });

  app.get("/elections/:electionId/receipt.jws", async (c) => {
    const election = await electionOf(c);
    if (election instanceof Response) return election;
    const session = await pageSession(c, election.id);
    if (!session.ok) return c.redirect(loginStartUrl(election.id), 303);
    const jws = receiptCookie(c);
    const receipt = jws ? await verifiedReceipt(c, jws, election.id) : undefined;
    if (!jws || !receipt) return c.redirect(`/elections/${encodeURIComponent(election.id)}/ballot`, 303);
    return c.body(`${jws}\n`, 200, {
      "content-type": "application/jwt",
      "content-disposition": `attachment; filename="ballot-receipt-${receipt.trackingCode}.jwt"`,
      "cache-control": SESSION_PAGE_CACHE,
    });
  });

  app.post("/elections/:electionId/logout", async (c) => {
    const id = ElectionId.safeParse(c.req.param("electionId"));
    if (!id.success) return statePage(c, frameOf(c, "-"), "election_not_found");
    const frame = frameOf(c, id.data);
    if (fromElsewhere(c)) return statePage(c, frame, "csrf_failed");
    const session = await pageSession(c, id.data);
    // A live session signs out only with its own token; an ended one has nothing left to guard.
    if (session.ok) {
      const body = await formOf(c);
      if (!body || !(await csrfTokenValid(c, session.value, single(body, "csrf")))) {
        return statePage(c, { ...frame, csrf: await csrfTokenOf(c, session.value) }, "csrf_failed");
      }
    }
    clearVoterCookies(c, id.data);
    return htmlPage(c, <SignedOutPage frame={frame} loginUrl={loginStartUrl(id.data)} />);
  });

  return app;
}

// ---- The eID login's end (routes/auth.ts) -----------------------------------------------------

/**
 * The callback's answer once the voter is logged in: the session cookie, and a page that moves on
 * to the ballot by itself (see SignedInPage for why it is not a redirect).
 */
/** The page the eID callback answers: in the language the voter chose before the login, if any. */
export function signedIn(
  c: Ctx,
  electionId: string,
  token: string,
  expiresAt: number,
  language?: string,
): Promise<Response> {
  setSessionCookie(c, token, expiresAt - Math.floor(Date.now() / 1000));
  const frame = frameOf(c, electionId, undefined, language);
  return htmlPage(c, <SignedInPage frame={frame} next={`${electionBase(frame)}/ballot${frame.langQuery}`} />);
}

const ErrorJson = z.object({ error: z.object({ code: z.string() }) });

/**
 * For a browser route that shares the API's refusals (the eID callback): a JSON error answer
 * becomes the page for its state, with the same status and the code in `data-error-code`.
 */
export const htmlRefusals: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.res.status < 400 || !(c.res.headers.get("content-type") ?? "").startsWith("application/json")) return;
  const parsed = ErrorJson.safeParse(await c.res.clone().json());
  const code =
    parsed.success && parsed.data.error.code in ERROR_CODES ? (parsed.data.error.code as ErrorCode) : undefined;
  const frame = frameOf(c, "-");
  const page = await statePage(c, frame, code ?? "invalid_request", {
    links: [{ href: "/", label: frame.t.backToStart }],
  });
  // The page keeps the refusal's own status (statePage would turn a 413, 415 or 422 into a 400),
  // so the page's data-error-code comes with the status that code declares.
  c.res = new Response(page.body, { status: c.res.status, headers: page.headers });
};
