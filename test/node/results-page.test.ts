/**
 * The results page in a real browser (Debian's Chromium through playwright-core) against the
 * running system, with real ballots cast through the API:
 * - the page, its kiosk view and its 320-pixel reflow pass axe-core (WCAG 2.2 AA) with and
 *   without JavaScript, load nothing the CSP refuses, and are kept as screenshots;
 * - without JavaScript it shows the latest public snapshot, and a refresh shows ballots cast since;
 * - the page's script (browser/results.ts) patches the figures in place from the live channel's
 *   messages, keeps focus where it was, reconnects with `since`, and falls back to polling the
 *   HTTP snapshots when the socket keeps failing: driven here by a relay played by the test
 *   (playwright's WebSocket routing) speaking lib/results/live.ts, so it runs before the relays
 *   exist too;
 * - with the system's own live routes (the relays' fan-out), ballots cast while the page is open
 *   appear on it without a reload. That test runs only when the system serves
 *   `/v1/elections/{id}/results/latest`.
 */
import { readFile } from "node:fs/promises";
import { chromium, type Browser, type Page, type WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asOfClock } from "../../lib/results/display.ts";
import { diffSnapshots, type LiveCurrent, type LiveSnapshot } from "../../lib/results/live.ts";
import { demoVoters, DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp, type Visit } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castChoice, voterAuth } from "./helpers/voter.ts";

const system = withRunningSystem({ name: "results-page", demo: true });
const PATH = `/elections/${DEMO_ELECTION_ID}/results`;
/** The demo election's minBallotsPerRelease (elections/demo/election.json). */
const K = 25;

let browser: Browser;
let voters: { nationalId: string; districtId: string }[];
let liveRoutes = false;

/** Casts a real ballot through the API for a demo voter, choosing by `seed` (not waited into the log). */
async function castBallot(nationalId: string, seed: number): Promise<void> {
  const auth = await voterAuth(system, DEMO_ELECTION_ID, nationalId);
  // A spread of choices that is not uniform, so the bars differ: 0,0,1,0,2,1,0,...; every ninth
  // ballot leaves its contests blank.
  await castChoice(system, DEMO_ELECTION_ID, auth, seed % 9 === 8 ? "blank" : ([0, 0, 1, 0, 2, 1, 0][seed % 7] ?? 0));
}

async function castIn(districtId: string, count: number, skip = 0): Promise<void> {
  const chosen = voters.filter((v) => v.districtId === districtId).slice(skip, skip + count);
  if (chosen.length < count) throw new Error(`only ${chosen.length} demo voters in ${districtId}`);
  for (const [i, v] of chosen.entries()) await castBallot(v.nationalId, i);
}

/** The figure the page shows under a slot key (lib/results/display.ts's slotKey). */
async function figure(page: Page, key: readonly string[]): Promise<string> {
  const text = await page.evaluate(
    `document.querySelector(${JSON.stringify(`[data-slot='${JSON.stringify(key)}']`)})?.textContent ?? "(missing)"`,
  );
  return String(text);
}

const NATIONAL_BALLOTS = ["~all", "~turnout", "~turnout", "ballots"];
const AINO = ["~all", "contest-president", "sel-president-aino-tamm", "votes"];

async function linkState(page: Page): Promise<string> {
  return (await page.locator("[data-link-state]").getAttribute("data-link-state")) ?? "";
}

/** The public figures the server renders, polled until the aggregator has released `ballots`. */
async function waitForReleased(ballots: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${system.baseUrl}${PATH}?t=${Date.now()}`, { headers: { accept: "text/html" } });
    const html = await res.text();
    const shown =
      /data-slot="\[&quot;~all&quot;,&quot;~turnout&quot;,&quot;~turnout&quot;,&quot;ballots&quot;\]">([^<]*)</.exec(
        html,
      )?.[1];
    if (shown !== undefined && Number(shown.replace(/\D/g, "")) >= ballots) return;
    if (Date.now() > deadline) throw new Error(`the page never showed ${ballots} ballots (last: ${shown})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  voters = await demoVoters(400);
  // Real ballots: k in the north and k in the south, so two districts are released.
  await castIn("district-north", K);
  await castIn("district-south", K);
  await waitForReleased(2 * K);
  liveRoutes = (await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/results/latest`)).status === 200;
}, 240_000);

afterAll(async () => {
  await browser?.close();
});

async function visit(
  javaScript: boolean,
  path: string,
  viewport = { width: 1280, height: 900 },
  prepare?: (page: Page) => Promise<void>,
): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport });
  const page = await context.newPage();
  const cspErrors = watchCsp(page);
  await prepare?.(page);
  const res = await page.goto(`${system.baseUrl}${path}`);
  expect(res?.status()).toBe(200);
  await page.waitForLoadState("load");
  return { page, cspErrors };
}

describe.each([true, false])("the results page with JavaScript %s", { timeout: 90_000 }, (javaScript) => {
  it("shows the latest public snapshot: turnout, every contest as a table with bars, by district", async () => {
    const v = await visit(javaScript, PATH);
    const { page } = v;
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Live results");
    expect(await figure(page, NATIONAL_BALLOTS)).toBe(String(2 * K));
    expect(await page.getByRole("table", { name: "Turnout by district" }).count()).toBe(1);
    expect(await page.getByRole("heading", { level: 2, name: "President of the Republic" }).count()).toBe(1);
    expect(await page.getByRole("cell", { name: "Aino Tamm" }).count()).toBe(0);
    expect(
      await page
        .getByRole("rowheader", { name: /Aino Tamm/ })
        .first()
        .isVisible(),
    ).toBe(true);
    // The bars are drawn, and hidden from assistive technology (the share beside each says it).
    expect(await page.locator("svg.bar[aria-hidden='true']").count()).toBeGreaterThan(20);
    expect(await page.getByText(/Polls are open, so these are not final/).count()).toBe(1);
    if (!javaScript) {
      expect(await page.getByRole("status").textContent()).toBe(
        "This page does not update by itself: refresh it for newer figures.",
      );
    } else {
      // The script took over the connection state (which one depends on the live routes).
      await expect.poll(() => linkState(page)).not.toBe("static");
    }
    // The per-district tables, opened as a reader would.
    await page.getByText("Results by district").first().click();
    expect(await page.getByRole("table", { name: "North District" }).first().isVisible()).toBe(true);
    await checkAndShoot(browser, v, "results", javaScript);
  });

  it("has a kiosk view for a wall screen: large type, full width, no navigation", async () => {
    const v = await visit(javaScript, `${PATH}?view=kiosk`, { width: 1920, height: 1080 });
    const { page } = v;
    expect(await page.locator("body.kiosk").count()).toBe(1);
    expect(await page.getByRole("navigation").count()).toBe(0);
    expect(await page.locator("footer").count()).toBe(0);
    expect(await page.locator(".results-contest").count()).toBe(6);
    const fontSize = await page.evaluate(`parseFloat(getComputedStyle(document.querySelector("td.num")).fontSize)`);
    expect(fontSize).toBeGreaterThanOrEqual(24);
    const mainWidth = await page.evaluate(`document.querySelector("main").getBoundingClientRect().width`);
    expect(mainWidth).toBeGreaterThan(1800);
    await checkAndShoot(browser, v, "results-kiosk", javaScript);
  });

  it("reflows at 320 CSS pixels: nothing scrolls sideways, the district tables open", async () => {
    const v = await visit(javaScript, `${PATH}?lang=et`, { width: 320, height: 640 });
    const { page } = v;
    if (javaScript) {
      await page.evaluate(`document.querySelectorAll("details").forEach((d) => { d.open = true; })`);
    }
    // What sticks out, named, so a failure says where; a table's own scrolling region may be
    // wider inside (WCAG 1.4.10 exempts data tables), as long as the page is not.
    const wide = await page.evaluate(`[...document.querySelectorAll("main *")]
      .filter((e) => !e.closest(".table-scroll") && e.getBoundingClientRect().right > 320.5)
      .map((e) => e.tagName + "." + e.getAttribute("class") + ": " + (e.textContent ?? "").slice(0, 30))`);
    expect(wide).toEqual([]);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(320);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Tulemused reaalajas");
    await checkAndShoot(browser, v, "results-320px-et", javaScript, { language: "et" });
  });
});

it("without JavaScript shows what the aggregator released, and a refresh shows ballots cast since", async () => {
  const { page } = await visit(false, PATH);
  expect(await figure(page, NATIONAL_BALLOTS)).toBe(String(2 * K));
  await castIn("district-east", K);
  await waitForReleased(3 * K);
  await page.getByRole("link", { name: "Refresh the figures" }).click();
  await page.waitForLoadState("load");
  expect(await figure(page, NATIONAL_BALLOTS)).toBe(String(3 * K));
  expect(await figure(page, ["district-east", "~turnout", "~turnout", "ballots"])).toBe(String(K));
  await page.context().close();
}, 120_000);

let afterCloseLoaded = false;
it.each([true, false])(
  "for an election that publishes choices after the close, shows turnout only (JavaScript %s)",
  { timeout: 60_000 },
  async (javaScript) => {
    const id = "after-close-2026";
    const definition = JSON.parse(await readFile("elections/demo/election.json", "utf8")) as {
      settings: Record<string, unknown>;
    };
    const now = Date.now();
    definition.settings = {
      ...definition.settings,
      electionId: id,
      resultsVisibility: "after-close",
      polls: { opensAt: new Date(now - 60_000).toISOString(), closesAt: new Date(now + 3_600_000).toISOString() },
    };
    if (!afterCloseLoaded) await system.admin.call("POST", "/v1/admin/elections", { json: definition });
    afterCloseLoaded = true;
    const v = await visit(javaScript, `/elections/${id}/results`);
    const { page } = v;
    expect(await page.locator(".release-kind").textContent()).toBe(
      "This election publishes how people voted only after the polls close. Until then, this page shows turnout only.",
    );
    expect(await page.getByText("No figures have been released yet.").isVisible()).toBe(true);
    expect(await page.getByRole("heading", { level: 2, name: "Turnout" }).isVisible()).toBe(true);
    expect(await page.getByRole("heading", { level: 2, name: "President of the Republic" }).count()).toBe(0);
    expect(await page.locator(".results-contest:visible").count()).toBe(0);
    await checkAndShoot(browser, v, "results-turnout-only", javaScript);
  },
);

/** A public snapshot of the demo election at `version` with `north` ballots in the north. */
function snapshotAt(version: number, north: number, aino: number): LiveSnapshot {
  const asOf = Date.now();
  const contests = [
    {
      contestId: "contest-president",
      options: [
        { optionId: "sel-president-aino-tamm", votes: aino },
        { optionId: "sel-president-juhan-mets", votes: north - aino },
      ],
      writeIns: 0,
      blanks: 0,
    },
  ];
  return {
    type: "snapshot",
    electionId: DEMO_ELECTION_ID,
    channel: "public",
    version,
    asOf,
    exact: false,
    choices: true,
    closed: false,
    totals: {
      shards: 1,
      ballots: north,
      contests,
      districts: [{ districtId: "district-north", ballots: north, contests }],
    },
  };
}

describe("the page's script against a relay played by the test", { timeout: 90_000 }, () => {
  it("patches the figures in place from a snapshot and an update, keeping focus, then reconnects with since", async () => {
    const sockets: WebSocketRoute[] = [];
    const { page, cspErrors } = await visit(true, PATH, undefined, async (p) => {
      await p.routeWebSocket(/\/results\/live/, (ws) => {
        sockets.push(ws);
      });
    });
    await expect.poll(() => sockets.length).toBe(1);
    const first = new URL(sockets[0]?.url() ?? "");
    expect(first.pathname).toBe(`/v1/elections/${DEMO_ELECTION_ID}/results/live`);
    const display = first.searchParams.get("display") ?? "";
    expect(display).toMatch(/^[0-9a-f-]{36}$/);
    // The page holds the server's snapshot: it asks only for what changed since.
    const rendered = JSON.parse((await page.locator("[data-results]").getAttribute("data-snapshot")) ?? "{}") as {
      version: number;
    };
    expect(first.searchParams.get("since")).toBe(String(rendered.version));

    // A reader on the refresh link: updates must not take focus away.
    await page.getByRole("link", { name: "Refresh the figures" }).focus();
    const v1 = snapshotAt(rendered.version + 1, 200, 120);
    sockets[0]?.send(JSON.stringify(v1));
    await expect.poll(() => figure(page, NATIONAL_BALLOTS)).toBe("200");
    expect(await figure(page, AINO)).toBe("120");
    expect(await figure(page, ["~all", "contest-president", "sel-president-aino-tamm", "share"])).toBe("60.0%");
    expect(
      await page
        .locator(
          `rect[data-bar='${JSON.stringify(["~all", "contest-president", "sel-president-aino-tamm", "share"])}']`,
        )
        .getAttribute("width"),
    ).toBe("60");
    expect(await linkState(page)).toBe("live");
    expect(await page.getByRole("status").textContent()).toBe("Live: the figures update by themselves.");
    expect(await page.getByText(asOfClock("en", v1.asOf), { exact: false }).count()).toBe(1);

    const v2 = snapshotAt(v1.version + 1, 250, 175);
    sockets[0]?.send(JSON.stringify(diffSnapshots(v1, v2)));
    await expect.poll(() => figure(page, AINO)).toBe("175");
    expect(await figure(page, NATIONAL_BALLOTS)).toBe("250");
    expect(await figure(page, ["district-north", "~turnout", "~turnout", "ballots"])).toBe("250");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Refresh the figures");
    // A heartbeat answer and garbage change nothing.
    sockets[0]?.send("pong");
    sockets[0]?.send("{not json");
    expect(await figure(page, AINO)).toBe("175");
    await page.screenshot({ path: "test-results/portal/results-live-js.png", fullPage: true });

    // The relay goes away: the page says so and comes back by itself, asking from its version.
    await sockets[0]?.close();
    await expect.poll(() => linkState(page)).toBe("reconnecting");
    expect(await page.getByRole("status").textContent()).toBe("Connection lost. Reconnecting…");
    await expect.poll(() => sockets.length, { timeout: 5_000 }).toBe(2);
    const second = new URL(sockets[1]?.url() ?? "");
    expect(second.searchParams.get("since")).toBe(String(v2.version));
    expect(second.searchParams.get("display")).toBe(display);
    const current: LiveCurrent = {
      type: "current",
      electionId: DEMO_ELECTION_ID,
      channel: "public",
      version: v2.version,
    };
    sockets[1]?.send(JSON.stringify(current));
    await expect.poll(() => linkState(page)).toBe("live");
    // An update from a version the page does not hold: it asks again rather than guess.
    const v4 = snapshotAt(v2.version + 2, 300, 200);
    sockets[1]?.send(JSON.stringify(diffSnapshots(snapshotAt(v2.version + 1, 280, 190), v4)));
    await expect.poll(() => sockets.length).toBe(3);
    expect(new URL(sockets[2]?.url() ?? "").searchParams.get("since")).toBe(String(v2.version));
    expect(await figure(page, AINO)).toBe("175");
    expect(cspErrors).toEqual([]);
    await page.context().close();
  });

  it("falls back to polling the HTTP snapshots when the socket keeps failing, and says so", async () => {
    let attempts = 0;
    const v9 = snapshotAt(9_000, 300, 210);
    const { page } = await visit(true, PATH, undefined, async (p) => {
      await p.routeWebSocket(/\/results\/live/, async (ws) => {
        attempts += 1;
        await ws.close({ code: 1011, reason: "relay down" });
      });
      await p.route(/\/results\/latest$/, (route) =>
        route.fulfill({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify({
            electionId: DEMO_ELECTION_ID,
            version: v9.version,
            asOf: v9.asOf,
            snapshot: `/v1/elections/${DEMO_ELECTION_ID}/results/snapshots/${v9.version}`,
          }),
        }),
      );
      await p.route(/\/results\/snapshots\/9000$/, (route) =>
        route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(v9) }),
      );
    });
    await expect.poll(() => linkState(page), { timeout: 15_000 }).toBe("polling");
    expect(attempts).toBe(3);
    await expect.poll(() => figure(page, NATIONAL_BALLOTS)).toBe("300");
    expect(await figure(page, AINO)).toBe("210");
    expect(await page.getByRole("status").textContent()).toBe(
      "Live connection unavailable. Checking for new figures every few seconds.",
    );
    await page.screenshot({ path: "test-results/portal/results-polling-js.png" });

    // The snapshots stop answering too: offline, said once.
    await page.unroute(/\/results\/latest$/);
    await page.route(/\/results\/latest$/, (route) => route.abort("internetdisconnected"));
    await expect.poll(() => linkState(page), { timeout: 20_000 }).toBe("offline");
    expect(await page.getByRole("status").textContent()).toBe("Offline. The figures shown may be out of date.");
    await page.context().close();
  });
});

it("shows ballots cast while it is open, over the system's own live channel", { timeout: 180_000 }, async (ctx) => {
  if (!liveRoutes) {
    ctx.skip();
    return;
  }
  const { page, cspErrors } = await visit(true, PATH);
  await expect.poll(() => linkState(page), { timeout: 20_000 }).toBe("live");
  const before = Number((await figure(page, NATIONAL_BALLOTS)).replace(/\D/g, ""));
  await castIn("district-north", K, K);
  await expect
    .poll(async () => Number((await figure(page, NATIONAL_BALLOTS)).replace(/\D/g, "")), { timeout: 30_000 })
    .toBe(before + K);
  expect(await linkState(page)).toBe("live");
  expect(cspErrors).toEqual([]);
  await page.screenshot({ path: "test-results/portal/results-live-system-js.png", fullPage: true });
  await page.context().close();
});
