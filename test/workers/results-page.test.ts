/**
 * The results page, /elections/{id}/results, on the Worker: rendered from the latest public
 * snapshot with the same figures the JSON results route gives, turnout only while an
 * `after-close` election is open, exact after the close, the kiosk view's markup, HTML refusals
 * for an unknown election (404) and a query it does not know (400), and a page complete without
 * JavaScript. (Its look, accessibility and live updates: test/node/results-page.test.ts.)
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DistrictTotals } from "../../lib/tally/totals.ts";
import { BASE } from "./helpers/auth.ts";
import { waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo, loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

interface ResultsBody {
  version: number;
  exact: boolean;
  turnout: {
    ballotsCounted: number;
    registeredVoters: number;
    districts: { districtId: string; ballotsCounted: number; registeredVoters: number }[];
  };
  contests: {
    id: string;
    options: { id: string; votes: number }[];
    writeIns: number;
    blanks: number;
    districts: { districtId: string; options: { id: string; votes: number }[]; writeIns: number; blanks: number }[];
  }[];
}

let hosts = 0;
/** A host of its own per read, so the edge cache (keyed by URL) never answers for another. */
function freshBase(): string {
  hosts += 1;
  return `https://r${hosts}.vote.example`;
}

async function get(path: string, base = BASE): Promise<{ res: Response; html: string }> {
  const res = await SELF.fetch(`${base}${path}`, { headers: { "cf-connecting-ip": "10.71.0.1", accept: "text/html" } });
  return { res, html: await res.text() };
}

async function jsonResults(electionId: string): Promise<ResultsBody> {
  const res = await SELF.fetch(`${freshBase()}/v1/elections/${electionId}/results`, {
    headers: { "cf-connecting-ip": "10.71.0.2" },
  });
  expect(res.status).toBe(200);
  return res.json();
}

function unescape(text: string): string {
  return text
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

/** Every figure the page shows, by its slot key: [scope, contest, row, field] → text. */
function slots(html: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of html.matchAll(/data-slot="([^"]*)"[^>]*>([^<]*)</g)) {
    found.set(unescape(m[1] ?? ""), unescape(m[2] ?? ""));
  }
  return found;
}

function key(scope: string, contest: string, row: string, field: string): string {
  return JSON.stringify([scope, contest, row, field]);
}

function turnout(scope: string, field: string): string {
  return key(scope, "~turnout", "~turnout", field);
}

const count = (n: number): string => new Intl.NumberFormat("en").format(n);

/**
 * Every figure of the JSON results appears on the page under its key, formatted the same (the
 * national ones only, as the kiosk view shows, with `districts` false).
 */
function expectSameFigures(html: string, body: ResultsBody, districts = true): void {
  const shown = slots(html);
  expect(shown.get(turnout("~all", "ballots"))).toBe(count(body.turnout.ballotsCounted));
  expect(shown.get(turnout("~all", "registered"))).toBe(count(body.turnout.registeredVoters));
  for (const contest of body.contests) {
    for (const o of contest.options) expect(shown.get(key("~all", contest.id, o.id, "votes"))).toBe(count(o.votes));
    expect(shown.get(key("~all", contest.id, "~blanks", "votes"))).toBe(count(contest.blanks));
    // A contest without write-ins has no write-ins row.
    const writeIns = key("~all", contest.id, "~write-ins", "votes");
    if (shown.has(writeIns) || contest.writeIns > 0) expect(shown.get(writeIns)).toBe(count(contest.writeIns));
  }
  if (!districts) {
    expect([...shown.keys()].filter((k) => k.includes("district-"))).toEqual([]);
    return;
  }
  for (const d of body.turnout.districts) {
    expect(shown.get(turnout(d.districtId, "ballots"))).toBe(count(d.ballotsCounted));
    expect(shown.get(turnout(d.districtId, "registered"))).toBe(count(d.registeredVoters));
  }
  for (const contest of body.contests) {
    for (const d of contest.districts) {
      for (const o of d.options) {
        expect(shown.get(key(d.districtId, contest.id, o.id, "votes"))).toBe(count(o.votes));
      }
      expect(shown.get(key(d.districtId, contest.id, "~blanks", "votes"))).toBe(count(d.blanks));
    }
  }
}

function aggregator(electionId: string) {
  return env.RESULTS.get(env.RESULTS.idFromName(electionId));
}

/** A district's totals: `aino` for Aino Tamm, `juhan` for Juhan Mets, the rest blank. */
function district(districtId: string, ballots: number, aino: number, juhan: number): DistrictTotals {
  return {
    districtId,
    ballots,
    contests: [
      {
        contestId: "contest-president",
        options: [
          { optionId: "sel-president-aino-tamm", votes: aino },
          { optionId: "sel-president-juhan-mets", votes: juhan },
          { optionId: "sel-president-write-in", votes: 1 },
        ],
        writeIns: 0,
        blanks: ballots - aino - juhan - 1,
      },
    ],
  };
}

describe("the results page of a live election", () => {
  const E = "page-live";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 5 });
    for (let i = 0; i < 8; i += 1) await enrol(E, `EE-PAGE-N${i}`, "district-north");
    for (let i = 0; i < 4; i += 1) await enrol(E, `EE-PAGE-S${i}`, "district-south");
  });

  it("says nothing is released yet, with every figure at zero, before k ballots of a district", async () => {
    const { res, html } = await get(`/elections/${E}/results`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=0, s-maxage=5");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(html).toContain("No figures yet. A district&#39;s figures appear once at least 5 of its ballots");
    expect(html).toContain('data-snapshot=""');
    expect(html).toContain('<p class="not-yet" data-not-yet="true">No figures have been released yet.</p>');
    expect(slots(html).get(turnout("~all", "registered"))).toBe("12");
    expect(slots(html).get(key("~all", "contest-president", "sel-president-aino-tamm", "votes"))).toBe("0");
    expectSameFigures(html, await jsonResults(E));
  });

  it("shows the public snapshot with the JSON route's figures, national and per district, with shares and bars", async () => {
    const agg = aggregator(E);
    await agg.report(`${E}/district-north/0`, 1, district("district-north", 6, 3, 1));
    await agg.report(`${E}/district-south/0`, 1, district("district-south", 3, 1, 1));
    const body = await jsonResults(E);
    expect(body.version).toBe(1);
    // The aggregator publishes the release (to R2 and the relays) from its alarm, right after.
    const { html } = await waitFor(async () => {
      const page = await get(`/elections/${E}/results`, freshBase());
      return slots(page.html).get(turnout("~all", "ballots")) === "6" ? page : undefined;
    });
    // The page shows the same release as the JSON (the south district is still held back).
    expectSameFigures(html, body);
    const shown = slots(html);
    expect(shown.get(turnout("~all", "ballots"))).toBe("6");
    expect(shown.get(turnout("district-north", "share"))).toBe("75.0%");
    expect(shown.get(turnout("district-south", "ballots"))).toBe("0");
    // Shares are of the votes for options and write-ins: 3 of 5, 1 of 5, write-ins 1 of 5.
    expect(shown.get(key("~all", "contest-president", "sel-president-aino-tamm", "share"))).toBe("60.0%");
    expect(shown.get(key("~all", "contest-president", "~write-ins", "votes"))).toBe("1");
    expect(shown.get(key("~all", "contest-president", "~write-ins", "share"))).toBe("20.0%");
    // The bar beside a share is SVG geometry of the same length, hidden from assistive technology.
    const aino = key("~all", "contest-president", "sel-president-aino-tamm", "share").replaceAll('"', "&quot;");
    expect(html).toContain(`width="60" height="10" data-bar="${aino}"`);
    expect(html).toMatch(/<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"/);
    // Names from the definition, in the page's language, in real tables.
    expect(html).toContain('<caption id="turnout-caption">Turnout by district</caption>');
    expect(html).toContain('<div class="table-scroll" role="region" aria-labelledby="turnout-caption" tabindex="0">');
    expect(html).toContain('<th scope="row"><span>Aino Tamm</span>');
    expect(html).toContain("<summary>Results by district</summary>");
    expect(html).toContain("Polls are open, so these are not final.");
    expect(html).toContain('<p class="not-yet" data-not-yet="true" hidden="">');
    expect(html).toMatch(/Updated <time datetime="[^"]+" data-as-of="\d+">now<\/time>/);
    // The snapshot the script starts from is the one rendered, as the live wire format.
    const embedded = /data-snapshot="([^"]*)"/.exec(html)?.[1] ?? "";
    expect(JSON.parse(unescape(embedded))).toMatchObject({
      type: "snapshot",
      channel: "public",
      version: 1,
      choices: true,
    });

    const et = await get(`/elections/${E}/results?lang=et`);
    expect(et.html).toMatch(/^<!doctype html><html lang="et"/);
    expect(et.html).toContain("Tulemused reaalajas");
    expect(et.html).toContain("Põhja ringkond");
  });

  it("is complete without JavaScript: every figure filled, a refresh link, and no inline script or style", async () => {
    const { html } = await get(`/elections/${E}/results?lang=en`);
    const shown = slots(html);
    expect(shown.size).toBeGreaterThan(40);
    for (const [slot, text] of shown) expect(text, slot).not.toBe("");
    expect(html).toContain("This page does not update by itself: refresh it for newer figures.");
    expect(html).toContain(`<a href="/elections/${E}/results?lang=en">Refresh the figures</a>`);
    expect(html).toContain('<script type="module" src="/assets/results.js"></script>');
    expect(html).not.toMatch(/<style|style=|<script>|http-equiv="refresh"/);
    expect(html).toContain('<footer class="site-footer">');
    expect(html).toContain('<nav class="languages" aria-label="Language">');
  });

  it("has a kiosk view: no navigation, no footer, national figures only, every contest", async () => {
    const { res, html } = await get(`/elections/${E}/results?view=kiosk`);
    expect(res.status).toBe(200);
    expect(html).toContain('<body class="kiosk">');
    expect(html).toContain('class="results results-kiosk"');
    expect(html).not.toContain("site-footer");
    expect(html).not.toContain('<nav class="languages"');
    expect(html).not.toContain('<a class="service-name"');
    expect(html).not.toContain("Results by district");
    expect(html).not.toContain("Turnout by district");
    expect((html.match(/class="results-contest"/g) ?? []).length).toBe(6);
    expect(html).toContain(`<a href="/elections/${E}/results?view=kiosk">Refresh the figures</a>`);
    expectSameFigures(html, await jsonResults(E), false);
  });

  it("answers an unknown election with an HTML 404 and a query it does not know with a 400 page", async () => {
    const missing = await get(`/elections/no-such-election/results`);
    expect(missing.res.status).toBe(404);
    expect(missing.html).toContain('data-error-code="election_not_found"');
    expect(missing.html).toContain("No such election");

    for (const query of ["?view=wall", "?lang=%3Cscript%3E", "?view=kiosk&view=other&lang=e"]) {
      const bad = await get(`/elections/${E}/results${query}`);
      expect(bad.res.status, query).toBe(400);
      expect(bad.res.headers.get("cache-control")).toBe("no-store");
      expect(bad.html).toContain('data-error-code="invalid_request"');
      expect(bad.html).toContain("This results address is not right");
      expect(bad.html).toContain(`<a href="/elections/${E}/results">Open the results page</a>`);
      expect(bad.html).not.toContain("&lt;script");
    }
    // Nothing was released by a refused request: the aggregator's snapshot is where it was.
    expect((await jsonResults(E)).version).toBe(1);
  });
});

describe("the results page of an after-close election", () => {
  it("shows turnout only while the polls are open, then the exact results after the close", async () => {
    const E = "page-after-close";
    await loadClosingSoonDemo(E, 4_000, { resultsVisibility: "after-close", minBallotsPerRelease: 2 });
    for (let i = 0; i < 4; i += 1) await enrol(E, `EE-PAGE-A${i}`, "district-north");
    await aggregator(E).report(`${E}/district-north/0`, 1, district("district-north", 3, 2, 0));

    const open = await waitFor(async () => {
      const page = await get(`/elections/${E}/results`, freshBase());
      return slots(page.html).get(turnout("~all", "ballots")) === "3" ? page : undefined;
    });
    expect(open.res.status).toBe(200);
    expect(open.html).toContain("This election publishes how people voted only after the polls close.");
    expect(slots(open.html).get(turnout("~all", "ballots"))).toBe("3");
    expect(slots(open.html).get(turnout("district-north", "share"))).toBe("75.0%");
    // No choice leaves the server: every contest figure is zero, hidden, and the embedded
    // snapshot has no contest figures, national or per district.
    expect((open.html.match(/class="results-contest"[^>]*data-choices[^>]*hidden/g) ?? []).length).toBe(6);
    expect(slots(open.html).get(key("~all", "contest-president", "sel-president-aino-tamm", "votes"))).toBe("0");
    const embedded = JSON.parse(unescape(/data-snapshot="([^"]*)"/.exec(open.html)?.[1] ?? "")) as {
      choices: boolean;
      totals: { contests: unknown[]; districts: { contests: unknown[] }[] };
    };
    expect(embedded.choices).toBe(false);
    expect(embedded.totals.contests).toEqual([]);
    expect(embedded.totals.districts.every((d) => d.contests.length === 0)).toBe(true);
    // The JSON route refuses the choices outright until then.
    const refused = await SELF.fetch(`${freshBase()}/v1/elections/${E}/results`, {
      headers: { "cf-connecting-ip": "10.71.0.3" },
    });
    expect(refused.status).toBe(403);

    const closed = await waitFor(async () => {
      const page = await get(`/elections/${E}/results`, freshBase());
      return page.html.includes(`data-release-kind="exact"`) ? page : undefined;
    }, 10_000);
    expect(closed.html).toContain("Polls have closed. These are the exact counts of every ballot counted so far.");
    expect(closed.html).not.toMatch(/class="results-contest"[^>]*hidden/);
    expect(closed.res.headers.get("cache-control")).toBe("public, max-age=0, s-maxage=5");
    const body = await jsonResults(E);
    expect(body.exact).toBe(true);
    expectSameFigures(closed.html, body);
    expect(slots(closed.html).get(key("~all", "contest-president", "sel-president-aino-tamm", "votes"))).toBe("2");
  });
});

describe("the front page", () => {
  it("links each election's live results to its results page", async () => {
    await loadDemoElection({ electionId: "page-home" });
    const { html } = await get("/");
    expect(html).toContain('href="/elections/page-home/results">Live results</a>');
    const et = await get("/?lang=et");
    expect(et.html).toContain('href="/elections/page-home/results?lang=et"');
  });
});
