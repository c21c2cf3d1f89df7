/**
 * The officials' console, /console: server-rendered pages over the API, for administrators,
 * security officers and auditors in a browser (docs/ARCHITECTURE.md, "Officials' console").
 *
 * - Signing in is the CLI's: the page's script signs the official's assertion with their own key
 *   (kept non-extractable in the browser), or the official pastes one the CLI made; the console
 *   exchanges it at POST /v1/auth/token, in-process, and keeps the access token in an HttpOnly
 *   cookie (session.ts). No other credential exists.
 * - Every page read and every action is the API's own route, called in-process with the token as
 *   `Authorization: Bearer` (api.ts): roles, validation, logging and audit entries are the API's.
 *   A refusal is shown as a page with the API's message and a fitting 4xx, and changes nothing.
 * - Forms carry the session's CSRF token and a POST from another site is refused first (403).
 * - The live channels (alerts, exact results) are the API's WebSockets, reached with the cookie
 *   from this origin only and forwarded in-process with the bearer token.
 */
import { Hono, type Context } from "hono";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { configOf } from "../../../durable-objects/config.ts";
import { electionIds, getElection } from "../../../db/stores/elections.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { AlertId } from "../../../lib/monitor/alerts.ts";
import { verifyOfficialAccess } from "../auth/tokens.ts";
import type { AppEnv } from "../http.ts";
import { htmlResponse } from "../pages/respond.ts";
import { fromElsewhere } from "../pages/session.ts";
import {
  Alerts,
  answerOf,
  Conflicts,
  DeadLetters,
  LogStatus,
  MonitorStatus,
  PollsView,
  Reconciliation,
  refusalOf,
  Results,
  StoredDefinition,
  TokenAnswer,
  type ApiAnswer,
  type ApiFetch,
  type ApiRefusal,
} from "./api.ts";
import type { SignedIn } from "./layout.tsx";
import { consoleMessages as t } from "./messages.ts";
import {
  clearConsoleCookie,
  consoleCsrfToken,
  consoleCsrfValid,
  consoleSession,
  setConsoleCookie,
  tokenIdOf,
  type ConsoleSession,
} from "./session.ts";
import {
  ALERT_FILTERS,
  AlertsPage,
  ConflictsPage,
  DeadLettersPage,
  ElectionsPage,
  OverviewPage,
  ReconciliationPage,
  ResultsPage,
  SignInPage,
  StatePage,
  type AlertFilter,
  type Frame,
  type PageError,
} from "./views.tsx";

type Ctx = Context<AppEnv>;

/** A console page is about one official's session: never stored by any cache. */
const CONSOLE_CACHE = "private, no-store";

function page(c: Ctx, element: HtmlEscapedString | Promise<HtmlEscapedString>, status = 200): Promise<Response> {
  return htmlResponse(c, element, CONSOLE_CACHE, status as ContentfulStatusCode);
}

/** A form body: short text fields only (the app bounds the body itself). */
const FormBody = z.record(z.string().max(100), z.string().max(9000));
type FormBody = z.infer<typeof FormBody>;

async function formOf(c: Ctx): Promise<FormBody | undefined> {
  try {
    const parsed = FormBody.safeParse(await c.req.parseBody());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A status a page may answer with for an API refusal: the API's own when it is a 4xx. */
function pageStatus(refusal: ApiRefusal): number {
  return refusal.status >= 400 && refusal.status < 500 ? refusal.status : 502;
}

export function consoleRoutes(api: ApiFetch): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** One API request, in-process, as the signed-in official (or, for the exchange, as nobody). */
  function call(c: Ctx, method: string, path: string, token: string | undefined, body?: unknown): Promise<Response> {
    const headers = new Headers({ accept: "application/json" });
    if (token) headers.set("authorization", `Bearer ${token}`);
    // The API's per-address limits (the login's) count the official's own address.
    const address = c.req.header("cf-connecting-ip");
    if (address) headers.set("cf-connecting-ip", address);
    if (body !== undefined) headers.set("content-type", "application/json");
    const request = new Request(new URL(path, c.req.url), {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return api(request, c.env, c.executionCtx);
  }

  async function read<T>(c: Ctx, session: ConsoleSession, path: string, schema: z.ZodType<T>): Promise<ApiAnswer<T>> {
    return answerOf(await call(c, "GET", path, session.token), schema);
  }

  async function signedInOf(c: Ctx, session: ConsoleSession): Promise<SignedIn> {
    return {
      officialId: session.principal.officialId,
      role: t.roles[session.principal.role],
      csrf: await consoleCsrfToken(c, session),
      expiresAt: session.principal.expiresAt,
    };
  }

  async function frameOf(c: Ctx, session: ConsoleSession, extra: Partial<Frame> = {}): Promise<Frame> {
    return { t, signedIn: await signedInOf(c, session), role: session.principal.role, ...extra };
  }

  function signInPage(c: Ctx, status = 200, errors: PageError[] = [], code?: string, notice?: string) {
    return page(
      c,
      <SignInPage t={t} errors={errors} {...(code ? { errorCode: code } : {})} {...(notice ? { notice } : {})} />,
      status,
    );
  }

  /** A refusal of the API shown as a page, with its status. */
  async function refusalPage(c: Ctx, session: ConsoleSession | undefined, refusal: ApiRefusal): Promise<Response> {
    const signedIn = session ? await signedInOf(c, session) : undefined;
    return page(
      c,
      <StatePage
        t={t}
        title={t.refusedTitle}
        text={refusal.message}
        code={refusal.code}
        {...(signedIn ? { signedIn } : {})}
      />,
      pageStatus(refusal),
    );
  }

  async function csrfPage(c: Ctx, session: ConsoleSession | undefined): Promise<Response> {
    const signedIn = session ? await signedInOf(c, session) : undefined;
    return page(
      c,
      <StatePage t={t} title={t.csrfTitle} text={t.csrfText} code="csrf_failed" {...(signedIn ? { signedIn } : {})} />,
      403,
    );
  }

  /**
   * The session of a page request, or the sign-in page (200 for a first visit, 401 when the
   * cookie was there but its token no longer works).
   */
  async function sessionOr(c: Ctx): Promise<ConsoleSession | Response> {
    const session = await consoleSession(c);
    if (session) return session;
    const hadCookie = (c.req.header("cookie") ?? "").includes("console_session=");
    if (hadCookie) clearConsoleCookie(c);
    return signInPage(c, hadCookie ? 401 : 200, [], undefined, hadCookie ? t.sessionEnded : undefined);
  }

  /** A POST's session and form, checked: from this site, signed in, with this session's CSRF token. */
  async function postOr(c: Ctx): Promise<{ session: ConsoleSession; form: FormBody } | Response> {
    if (fromElsewhere(c)) return csrfPage(c, undefined);
    const session = await consoleSession(c);
    if (!session) return signInPage(c, 401, [], undefined, t.sessionEnded);
    const form = await formOf(c);
    if (!form || !(await consoleCsrfValid(c, session, form.csrf))) return csrfPage(c, session);
    return { session, form };
  }

  /**
   * What a form of the console does once its POST is checked: the API call, then a redirect to
   * `done` when the API took it, the refusal page when the official may not (401, 403, 404), or the
   * form's own page again with the refusal (`invalid` when the API found the form's input wrong).
   */
  async function act(
    c: Ctx,
    session: ConsoleSession,
    request: { readonly path: string; readonly body: unknown },
    done: string,
    invalid: PageError,
    again: (errors: PageError[], code: string, status: number) => Promise<Response>,
  ): Promise<Response> {
    const res = await call(c, "POST", request.path, session.token, request.body);
    if (res.ok) return c.redirect(done, 303);
    const refusal = await refusalOf(res);
    if (refusal.status === 401 || refusal.status === 403 || refusal.status === 404)
      return refusalPage(c, session, refusal);
    const errors: PageError[] = refusal.problems.length > 0 ? [invalid] : [{ message: refusal.message }];
    return again(errors, refusal.code, pageStatus(refusal));
  }

  async function electionOr404(c: Ctx, session: ConsoleSession): Promise<{ id: string; name: string } | Response> {
    const id = ElectionId.safeParse(c.req.param("electionId"));
    const election = id.success ? await getElection(c.env.DB, id.data) : undefined;
    if (!election) {
      return refusalPage(c, session, {
        status: 404,
        code: "election_not_found",
        message: "There is no election with this id.",
        problems: [],
      });
    }
    return { id: election.id, name: election.name };
  }

  // ---- Signing in and out -------------------------------------------------------------------

  app.get("/", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    // There is no API route listing elections; the ids come from the same table the API's reads
    // use, and each is read as the API reads it. Any signed-in official may see the list.
    const ids = await electionIds(c.env.DB);
    const compiled = await Promise.all(ids.map((id) => getElection(c.env.DB, id)));
    const elections = compiled
      .filter((e) => e !== undefined)
      .map((e) => ({ id: e.id, name: e.name, opensAt: e.settings.polls.opensAt, closesAt: e.settings.polls.closesAt }))
      .sort((a, b) => b.opensAt.localeCompare(a.opensAt) || a.id.localeCompare(b.id));
    return page(c, <ElectionsPage frame={await frameOf(c, session)} elections={elections} />);
  });

  // The exchange: the form carries an assertion (signed by the page's script with the official's
  // key, or pasted from the CLI). The API's own route checks it, once (its jti), and answers the
  // access token the cookie keeps. A cross-site POST could only sign the browser in as whoever
  // made the assertion, and is refused all the same.
  app.post("/session", async (c) => {
    if (fromElsewhere(c)) return csrfPage(c, undefined);
    const form = await formOf(c);
    const assertion = form?.assertion?.trim() ?? "";
    if (assertion === "")
      return signInPage(c, 400, [{ message: t.assertionMissing, field: "assertion" }], "invalid_request");
    const res = await call(c, "POST", "/v1/auth/token", undefined, { assertion });
    if (!res.ok) {
      const refusal = await refusalOf(res);
      return signInPage(c, pageStatus(refusal), [{ message: `${t.signInFailed}: ${refusal.message}` }], refusal.code);
    }
    const answer = TokenAnswer.safeParse(await res.json());
    const verified = answer.success ? await verifyOfficialAccess(configOf(c.env), answer.data.accessToken) : undefined;
    if (!answer.success || !verified?.ok) return signInPage(c, 502, [{ message: t.signInFailed }], "unexpected");
    setConsoleCookie(c, answer.data.accessToken, verified.value.expiresAt);
    // The page's script signing in again before the token expires: it needs the new session's
    // CSRF token for the forms already on the page (a same-origin fetch; no other site reads it).
    if (c.req.header("x-console-refresh") === "1") {
      const session: ConsoleSession = {
        principal: verified.value,
        token: answer.data.accessToken,
        tokenId: tokenIdOf(answer.data.accessToken),
      };
      return c.json({ csrf: await consoleCsrfToken(c, session), expiresAt: verified.value.expiresAt });
    }
    return c.redirect("/console", 303);
  });

  app.post("/sign-out", async (c) => {
    const checked = await postOr(c);
    if (checked instanceof Response) return checked;
    clearConsoleCookie(c);
    return c.redirect("/console", 303);
  });

  // ---- Dead letters (the deployment's, not an election's) -----------------------------------

  app.get("/dead-letters", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    const answer = await read(c, session, "/v1/admin/dead-letters", DeadLetters);
    if (!answer.ok) return refusalPage(c, session, answer.refusal);
    return page(c, <DeadLettersPage frame={await frameOf(c, session)} letters={answer.value.deadLetters} />);
  });

  // ---- An election ----------------------------------------------------------------------------

  const NOTICES: Record<string, string> = {
    "polls-closed": t.pollsClosedNotice,
    "polls-reopened": t.pollsReopenedNotice,
    "alert-acknowledged": t.alertAcknowledgedNotice,
    "alert-closed": t.alertClosedNotice,
    "conflict-decided": t.conflictDecidedNotice,
  };
  function noticeOf(c: Ctx): string | undefined {
    const key = c.req.query("done");
    return key !== undefined ? NOTICES[key] : undefined;
  }

  /** The frame of a page with forms: the refusal of its last POST, if any, and the notice of a success. */
  async function formFrameOf(c: Ctx, session: ConsoleSession, errors: PageError[], code?: string): Promise<Frame> {
    const notice = noticeOf(c);
    return frameOf(c, session, { errors, ...(code ? { errorCode: code } : {}), ...(notice ? { notice } : {}) });
  }

  async function overview(c: Ctx, session: ConsoleSession, errors: PageError[] = [], code?: string, status = 200) {
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const base = `/v1/admin/elections/${election.id}`;
    // Each part is read only by the roles its API route admits; the others show "not available".
    const role = session.principal.role;
    const [polls, log, monitor, definition] = await Promise.all([
      role === "administrator" ? read(c, session, `${base}/polls`, PollsView) : undefined,
      role === "station-official" ? undefined : read(c, session, `${base}/log`, LogStatus),
      role === "station-official" ? undefined : read(c, session, `${base}/monitor`, MonitorStatus),
      role === "station-official" ? undefined : read(c, session, base, StoredDefinition),
    ]);
    const frame = await formFrameOf(c, session, errors, code);
    return page(
      c,
      <OverviewPage
        frame={frame}
        electionId={election.id}
        electionName={election.name}
        {...(polls?.ok ? { polls: polls.value } : {})}
        {...(log?.ok ? { log: log.value } : {})}
        {...(monitor?.ok ? { monitor: monitor.value } : {})}
        {...(definition?.ok ? { definition: definition.value } : {})}
        refusals={{
          ...(polls && !polls.ok ? { polls: polls.refusal.message } : {}),
          ...(log && !log.ok ? { log: log.refusal.message } : {}),
          ...(monitor && !monitor.ok ? { monitor: monitor.refusal.message } : {}),
          ...(definition && !definition.ok ? { definition: definition.refusal.message } : {}),
        }}
      />,
      status,
    );
  }

  app.get("/elections/:electionId", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    return overview(c, session);
  });

  // The export as a download: the API's answer (its role check, its attachment name) passed on.
  app.get("/elections/:electionId/definition.json", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const res = await call(c, "GET", `/v1/admin/elections/${election.id}/export`, session.token);
    if (!res.ok) return refusalPage(c, session, await refusalOf(res));
    return new Response(res.body, {
      status: 200,
      headers: {
        "content-type": res.headers.get("content-type") ?? "application/json",
        "content-disposition": res.headers.get("content-disposition") ?? "attachment",
        "cache-control": "no-store",
      },
    });
  });

  for (const action of ["close", "reopen"] as const) {
    app.post(`/elections/:electionId/polls/${action}`, async (c) => {
      const checked = await postOr(c);
      if (checked instanceof Response) return checked;
      const { session, form } = checked;
      const electionId = c.req.param("electionId");
      const field = action === "close" ? "close-reason" : "reopen-reason";
      return act(
        c,
        session,
        {
          path: `/v1/admin/elections/${encodeURIComponent(electionId)}/polls/${action}`,
          body: { reason: (form.reason ?? "").trim() },
        },
        `/console/elections/${electionId}?done=polls-${action === "close" ? "closed" : "reopened"}`,
        { message: t.reasonInvalid, field },
        (errors, code, status) => overview(c, session, errors, code, status),
      );
    });
  }

  app.get("/elections/:electionId/results", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const answer = await read(c, session, `/v1/admin/elections/${election.id}/results`, Results);
    if (!answer.ok) return refusalPage(c, session, answer.refusal);
    return page(
      c,
      <ResultsPage
        frame={await frameOf(c, session)}
        electionId={election.id}
        electionName={election.name}
        results={answer.value}
      />,
    );
  });

  async function alertsPage(c: Ctx, session: ConsoleSession, errors: PageError[] = [], code?: string, status = 200) {
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const chosen = z.enum(ALERT_FILTERS).safeParse(c.req.query("state") ?? "active");
    const filter: AlertFilter = chosen.success ? chosen.data : "active";
    const query = filter === "active" ? "" : `?state=${filter}`;
    const answer = await read(c, session, `/v1/admin/elections/${election.id}/alerts${query}`, Alerts);
    if (!answer.ok) return refusalPage(c, session, answer.refusal);
    const frame = await formFrameOf(c, session, errors, code);
    return page(
      c,
      <AlertsPage
        frame={frame}
        electionId={election.id}
        electionName={election.name}
        alerts={answer.value.alerts}
        filter={filter}
      />,
      status,
    );
  }

  app.get("/elections/:electionId/alerts", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    return alertsPage(c, session);
  });

  for (const action of ["acknowledge", "close"] as const) {
    app.post(`/elections/:electionId/alerts/:alertId/${action}`, async (c) => {
      const checked = await postOr(c);
      if (checked instanceof Response) return checked;
      const { session, form } = checked;
      const electionId = c.req.param("electionId");
      const alertId = AlertId.safeParse(c.req.param("alertId"));
      if (!alertId.success) {
        return refusalPage(c, session, {
          status: 404,
          code: "alert_not_found",
          message: "There is no such alert.",
          problems: [],
        });
      }
      return act(
        c,
        session,
        {
          path: `/v1/admin/elections/${encodeURIComponent(electionId)}/alerts/${alertId.data}/${action}`,
          body: { note: (form.note ?? "").trim() },
        },
        `/console/elections/${electionId}/alerts?done=alert-${action === "close" ? "closed" : "acknowledged"}`,
        { message: t.noteInvalid, field: `${alertId.data}-note` },
        (errors, code, status) => alertsPage(c, session, errors, code, status),
      );
    });
  }

  app.get("/elections/:electionId/reconciliation", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const answer = await read(c, session, `/v1/admin/elections/${election.id}/reconciliation`, Reconciliation);
    if (!answer.ok) return refusalPage(c, session, answer.refusal);
    return page(
      c,
      <ReconciliationPage
        frame={await frameOf(c, session)}
        electionId={election.id}
        electionName={election.name}
        reconciliation={answer.value}
      />,
    );
  });

  async function conflictsPage(c: Ctx, session: ConsoleSession, errors: PageError[] = [], code?: string, status = 200) {
    const election = await electionOr404(c, session);
    if (election instanceof Response) return election;
    const answer = await read(c, session, `/v1/admin/elections/${election.id}/conflicts`, Conflicts);
    if (!answer.ok) return refusalPage(c, session, answer.refusal);
    const frame = await formFrameOf(c, session, errors, code);
    return page(
      c,
      <ConflictsPage
        frame={frame}
        electionId={election.id}
        electionName={election.name}
        conflicts={answer.value.conflicts}
      />,
      status,
    );
  }

  app.get("/elections/:electionId/conflicts", async (c) => {
    const session = await sessionOr(c);
    if (session instanceof Response) return session;
    return conflictsPage(c, session);
  });

  app.post("/elections/:electionId/conflicts/:conflictId/decision", async (c) => {
    const checked = await postOr(c);
    if (checked instanceof Response) return checked;
    const { session, form } = checked;
    const electionId = c.req.param("electionId");
    const conflictId = c.req.param("conflictId");
    return act(
      c,
      session,
      {
        path: `/v1/admin/elections/${encodeURIComponent(electionId)}/conflicts/${encodeURIComponent(conflictId)}/decision`,
        body: { decision: form.decision ?? "", reason: (form.reason ?? "").trim() },
      },
      `/console/elections/${electionId}/conflicts?done=conflict-decided`,
      { message: t.decisionInvalid, field: `conflict-${conflictId}-reason` },
      (errors, code, status) => conflictsPage(c, session, errors, code, status),
    );
  });

  // ---- Live channels --------------------------------------------------------------------------

  // A WebSocket from this console's own page only: browsers always send Origin on a WebSocket
  // handshake, and SameSite=Strict keeps the cookie off another site's; both are checked.
  for (const channel of ["alerts", "results"] as const) {
    app.get(`/elections/:electionId/${channel}/live`, async (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        return c.redirect(`/console/elections/${c.req.param("electionId")}/${channel}`, 303);
      }
      if (c.req.header("origin") !== new URL(c.req.url).origin) return c.text("Forbidden", 403);
      const session = await consoleSession(c);
      if (!session) return c.text("Unauthorized", 401);
      const electionId = ElectionId.safeParse(c.req.param("electionId"));
      if (!electionId.success) return c.text("Not found", 404);
      const headers = new Headers({ upgrade: "websocket", authorization: `Bearer ${session.token}` });
      const protocol = c.req.header("sec-websocket-protocol");
      if (protocol) headers.set("sec-websocket-protocol", protocol);
      const request = new Request(new URL(`/v1/admin/elections/${electionId.data}/${channel}/live`, c.req.url), {
        headers,
      });
      return api(request, c.env, c.executionCtx);
    });
  }

  // Anything else under /console: the console's own not-found page.
  app.all("*", async (c) => {
    const session = await consoleSession(c);
    const signedIn = session ? await signedInOf(c, session) : undefined;
    return page(
      c,
      <StatePage
        t={t}
        title={t.notFoundTitle}
        text={t.notFoundText}
        code="not_found"
        {...(signedIn ? { signedIn } : {})}
      />,
      404,
    );
  });

  return app;
}
