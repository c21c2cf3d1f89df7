/**
 * The portal's pages, server-rendered with Hono's JSX. They read through the same stores as the
 * API (the front page's election list, the receipt check) and never show more than the API does.
 * Plain Hono routes rather than OpenAPI ones: they answer HTML for people, and the OpenAPI
 * document describes the API that programs use.
 */
import { htmlResponse } from "./respond.ts";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { getElection, listOpenOrComingElections } from "../../../db/stores/elections.ts";
import { findLogLeaf, findReceipt } from "../../../db/stores/receipts.ts";
import { TRACKING_CODE } from "../../../lib/ballot/commitment.ts";
import { publicReadLimit } from "../edge.ts";
import type { AppEnv } from "../http.ts";
import { BusyPage, CheckPage, type CheckOutcome } from "./check.tsx";
import { HomePage } from "./home.tsx";
import { NotFoundPage } from "./not-found.tsx";
import { DEFAULT_LANGUAGE, LanguageTag, messagesFor, type Messages } from "./messages.ts";
import { voteRoutes } from "./vote-routes.tsx";
import { resultsPage } from "./results-routes.tsx";

/**
 * The front page changes when an election's polls open or a new one is loaded: a shared cache
 * may keep it half a minute. A recorded ballot that a published checkpoint holds is settled (the
 * receipt API caches it as long); anything else may change any second and is never cached.
 */
const HOME_CACHE = "public, max-age=30";
const SETTLED_CHECK_CACHE = "public, max-age=5";
const FORM_CACHE = "public, max-age=300";

const Query = z.object({ lang: LanguageTag.optional() });

function catalogue(c: Context<AppEnv>): { language: string; t: Messages } {
  const query = Query.safeParse({ lang: c.req.query("lang") });
  return messagesFor(query.success ? (query.data.lang ?? DEFAULT_LANGUAGE) : DEFAULT_LANGUAGE);
}

/**
 * What a voter typed, as a tracking code: letters upper-cased, spaces and dashes ignored, then
 * grouped in fours, so "7k3m q9tx 2d4f h8ja" finds the same ballot. Undefined if it cannot be one.
 */
export function normaliseTrackingCode(typed: string): string | undefined {
  const compact = typed.replace(/[\s-]+/g, "").toUpperCase();
  if (compact.length !== 16) return undefined;
  const code = compact.match(/.{4}/g)?.join("-") ?? "";
  return TRACKING_CODE.test(code) ? code : undefined;
}

export function pageRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const { language, t } = catalogue(c);
    const nowIso = new Date().toISOString();
    const listed = await listOpenOrComingElections(c.env.DB, nowIso);
    // An early close in force ends voting before the schedule says (lib/election/polls.ts).
    const elections = listed.map((e) => {
      const endedEarly = e.closedEarlyAtMs !== null && e.closedEarlyAtMs <= Date.parse(nowIso);
      return { ...e, open: e.opensAt <= nowIso && !endedEarly, endedEarly };
    });
    const origin = new URL(c.req.url).origin;
    return htmlResponse(c, <HomePage language={language} t={t} origin={origin} elections={elections} />, HOME_CACHE);
  });

  // A lookup reads D1, so it shares the public reads' per-address budget (security review M9);
  // over it, the voter gets a page that says what happened rather than the API's JSON refusal.
  app.get("/check", async (c, next) => {
    if (c.req.query("code") === undefined) return next();
    const refused = await publicReadLimit(c, next);
    if (refused?.status !== 429) return refused;
    const { language, t } = catalogue(c);
    return htmlResponse(c, <BusyPage language={language} t={t} />, "no-store", 429);
  });
  app.get("/check", async (c) => {
    const { language, t } = catalogue(c);
    const typed = c.req.query("code");
    const render = (outcome: CheckOutcome, cache: string): Promise<Response> =>
      htmlResponse(c, <CheckPage language={language} t={t} outcome={outcome} />, cache);
    if (typed === undefined) return render({ kind: "empty" }, FORM_CACHE);
    const shown = typed.slice(0, 64);
    if (typed.trim() === "") return render({ kind: "invalid", code: shown, message: t.checkEmpty }, "no-store");
    const code = normaliseTrackingCode(typed);
    if (code === undefined) return render({ kind: "invalid", code: shown, message: t.checkInvalid }, "no-store");

    const [receipt, leaf] = await Promise.all([findReceipt(c.env.DB, code), findLogLeaf(c.env.DB, code)]);
    // As the receipt API: a retraction that arrived before its ballot is not a recorded ballot.
    if (!receipt || receipt.commitment === "") return render({ kind: "not_found", code }, "no-store");
    const election = await getElection(c.env.DB, receipt.electionId);
    const log = leaf && {
      leafIndex: leaf.leafIndex,
      proofUrl: new URL(`/v1/receipts/${code}/proof`, c.req.url).toString(),
      checkpointUrl: new URL(`/v1/logs/${leaf.electionId}/checkpoint`, c.req.url).toString(),
      logUrl: new URL(`/v1/logs/${leaf.electionId}/`, c.req.url).toString(),
      verifierKeyUrl: new URL(`/v1/logs/${leaf.electionId}/verifier-key`, c.req.url).toString(),
    };
    return render(
      {
        kind: "recorded",
        code,
        electionName: election?.name ?? receipt.electionId,
        recordedAt: receipt.recordedAt,
        ...(log ? { log } : {}),
      },
      log ? SETTLED_CHECK_CACHE : "no-store",
    );
  });

  // The public results page, /elections/{id}/results (results-routes.tsx).
  app.get("/elections/:electionId/results", async (c, next) => {
    const refused = await publicReadLimit(c, next);
    if (refused?.status !== 429) return refused;
    const { language, t } = catalogue(c);
    return htmlResponse(c, <BusyPage language={language} t={t} />, "no-store", 429);
  });
  app.get("/elections/:electionId/results", resultsPage);

  // Voting: the ballot, review, cast, receipt and sign-out under /elections/{id}/ (vote-routes.tsx).
  app.route("/", voteRoutes());

  return app;
}

/**
 * Whether an unmatched request is a person's browser asking for a page: it accepts HTML and its
 * path is not the API's (`/v1/...`, the OpenAPI document, the health check), whose clients keep
 * the JSON `not_found` with its registered code.
 */
export function wantsPage(c: Context<AppEnv>): boolean {
  const path = c.req.path;
  if (path.startsWith("/v1/") || path === "/v1" || path === "/openapi.json" || path === "/healthz") return false;
  return (c.req.header("accept") ?? "").includes("text/html");
}

/** The HTML 404 page (app.ts's notFound, for requests wantsPage accepts). */
export function notFoundPage(c: Context<AppEnv>): Promise<Response> {
  const { language, t } = catalogue(c);
  return htmlResponse(c, <NotFoundPage language={language} t={t} />, "no-store", 404);
}
