/**
 * The handler of `/elections/{id}/results` (mounted in routes.tsx behind the public reads' rate
 * limit): validates the query (`lang`, `view=kiosk`; anything else in them is a 400 page that says
 * so, and changes nothing), reads the election, its roll counts and its latest public snapshot,
 * and renders results-page.tsx.
 *
 * Caching: as the JSON results route, a shared cache may keep the page a few seconds while the
 * polls are open, never past the close (a snapshot taken while polls are open is not the exact
 * result the close publishes). A browser keeps nothing (`max-age=0`): its "Refresh" link must
 * show newer figures at once.
 */
import { htmlResponse } from "./respond.ts";
import type { Context } from "hono";
import { z } from "zod";
import { getElection } from "../../../db/stores/elections.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { displayFigures } from "../../../lib/results/display.ts";
import type { AppEnv } from "../http.ts";
import { texts } from "./ballot-texts.ts";
import { DEFAULT_LANGUAGE, LanguageTag, messagesFor } from "./messages.ts";
import { displayFrame, latestPublicSnapshot } from "./results-data.ts";
import { ResultsPage, ResultsProblemPage } from "./results-page.tsx";

/** Seconds a shared cache may keep the page (the JSON route's RESULTS_CACHE_SECONDS). */
const RESULTS_PAGE_CACHE_SECONDS = 5;

const ResultsQuery = z.object({
  lang: LanguageTag.optional(),
  view: z.enum(["kiosk"]).optional(),
});

export async function resultsPage(c: Context<AppEnv>): Promise<Response> {
  const query = ResultsQuery.safeParse({ lang: c.req.query("lang"), view: c.req.query("view") });
  const id = ElectionId.safeParse(c.req.param("electionId"));
  if (!query.success) {
    // The page's words in the language asked for when that part of the query is sound.
    const lang = LanguageTag.safeParse(c.req.query("lang"));
    const { language, t } = messagesFor(lang.success ? lang.data : DEFAULT_LANGUAGE);
    const resultsPath = id.success ? `/elections/${encodeURIComponent(id.data)}/results` : undefined;
    return htmlResponse(
      c,
      <ResultsProblemPage language={language} t={t} code="invalid_request" {...(resultsPath ? { resultsPath } : {})} />,
      "no-store",
      400,
    );
  }
  const requested = query.data.lang ?? DEFAULT_LANGUAGE;
  const { language, t } = messagesFor(requested);
  const election = id.success ? await getElection(c.env.DB, id.data) : undefined;
  if (!election) {
    return htmlResponse(c, <ResultsProblemPage language={language} t={t} code="election_not_found" />, "no-store", 404);
  }

  const nowMs = Date.now();
  const [frame, snapshot] = await Promise.all([displayFrame(c.env, election), latestPublicSnapshot(c.env, election)]);
  const kiosk = query.data.view === "kiosk";
  const params = new URLSearchParams();
  if (query.data.lang !== undefined) params.set("lang", query.data.lang);
  if (kiosk) params.set("view", "kiosk");
  const search = params.toString();

  const closesIn = Math.floor((election.polls.closesAtMs - nowMs) / 1000);
  const maxAge = closesIn <= 0 ? RESULTS_PAGE_CACHE_SECONDS : Math.min(RESULTS_PAGE_CACHE_SECONDS, closesIn);
  return htmlResponse(
    c,
    <ResultsPage
      language={language}
      t={t}
      bt={texts(election, requested)}
      election={election}
      frame={frame}
      snapshot={snapshot}
      figures={displayFigures(frame, snapshot?.totals ?? null, language)}
      choicesBeforeClose={election.settings.resultsVisibility === "live"}
      kiosk={kiosk}
      nowMs={nowMs}
      path={`/elections/${encodeURIComponent(election.id)}/results`}
      query={search === "" ? "" : `?${search}`}
    />,
    maxAge > 0 ? `public, max-age=0, s-maxage=${maxAge}` : "no-store",
  );
}
