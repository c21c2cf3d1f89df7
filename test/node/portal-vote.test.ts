/**
 * Voting in a real browser (Debian's Chromium through playwright-core) against the running system
 * (wrangler dev and the dev eID issuer): demo voters of each ballot style sign in on the dev eID
 * page and vote with JavaScript on, one with it off, one by keyboard alone, one at 200% zoom; a
 * double click and the back button cast once; a re-vote under paper-supersedes replaces the first
 * ballot; a form posted from another origin casts nothing; the refusal states render (already
 * voted, voted on paper, polls not open or closed, not on the roll, a login that does not match,
 * a ballot over a limit, a forged form, the rate limit). axe-core (WCAG 2.2 AA) finds nothing on
 * any page, and every page is kept as a screenshot in test-results/portal/ for a person to look
 * at.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { StationClient } from "../../lib/station-client/client.ts";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp, type Visit } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { voterAuth } from "./helpers/voter.ts";

const ROOT = join(import.meta.dirname, "..", "..");
// A polling station, registered before the demo's polls open (after, keys are locked): a voter
// it checks in has voted on paper, and the portal says so.
const STATION = "portal-vote-north-1";
const device = await generateSigningKey(`${STATION}-k1`);
const system = withRunningSystem({
  name: "portal-vote",
  demo: true,
  beforePollsOpen: async (admin) => {
    await admin.call("POST", "/v1/admin/stations", {
      json: {
        id: STATION,
        name: "North District, polling station 1",
        districtIds: ["district-north"],
        publicJwk: device.publicJwk,
        serialRanges: [{ first: 700_000, last: 700_099 }],
      },
    });
  },
});
const REVOTE = "portal-revote";
const SOON = "portal-soon";
const CLOSED = "portal-closed";

let browser: Browser;

/** Loads the demo definition under another id and settings, with the demo roll when polls open. */
async function loadVariant(electionId: string, settings: Record<string, unknown>, withRoll: boolean): Promise<void> {
  const definition = z
    .looseObject({ settings: z.looseObject({}) })
    .parse(JSON.parse(await readFile(join(ROOT, "elections", "demo", "election.json"), "utf8")));
  const open = { opensAt: new Date(Date.now() - 60_000).toISOString(), closesAt: "2030-12-31T00:00:00Z" };
  definition.settings = { ...definition.settings, electionId, ...settings };
  if (withRoll) {
    // The roll is fixed once the polls open: imported first, then the polls open.
    definition.settings["polls"] = { opensAt: "2030-01-01T00:00:00Z", closesAt: "2030-12-31T00:00:00Z" };
    await system.admin.call("POST", "/v1/admin/elections", { json: definition });
    const csv = await readFile(join(ROOT, "elections", "demo", "voters.csv"), "utf8");
    await system.admin.call("POST", `/v1/admin/elections/${electionId}/roll?firstLine=2`, {
      text: csv,
      contentType: "text/csv",
    });
    definition.settings["polls"] = open;
  }
  await system.admin.call("POST", "/v1/admin/elections", { json: definition });
}

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  await loadVariant(REVOTE, { crossChannelPolicy: "paper-supersedes" }, true);
  await loadVariant(SOON, { polls: { opensAt: "2030-01-01T00:00:00Z", closesAt: "2030-12-31T00:00:00Z" } }, false);
  await loadVariant(CLOSED, { polls: { opensAt: "2026-01-01T00:00:00Z", closesAt: "2026-01-02T00:00:00Z" } }, false);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function newVisit(javaScript: boolean, viewport = { width: 1024, height: 800 }): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport, acceptDownloads: true });
  const page = await context.newPage();
  return { page, cspErrors: watchCsp(page) };
}

function ballotUrl(electionId: string): string {
  return `${system.baseUrl}/elections/${electionId}/ballot`;
}

/** The eID login as a voter does it: the portal's link, the dev issuer's page, back to the ballot. */
async function signIn(page: Page, javaScript: boolean, nationalId: string, electionId = DEMO_ELECTION_ID) {
  await page.goto(`${system.baseUrl}/v1/auth/login?electionId=${electionId}`);
  await page.fill("input[name=national_id]", nationalId);
  await page.click("button[type=submit]");
  // The issuer answers with a form_post page: it submits itself, or shows "Continue" without scripts.
  if (!javaScript) await page.getByRole("button", { name: "Continue" }).click();
}

async function signInToBallot(page: Page, javaScript: boolean, nationalId: string, electionId = DEMO_ELECTION_ID) {
  await signIn(page, javaScript, nationalId, electionId);
  await page.waitForURL(ballotUrl(electionId));
  await page.waitForLoadState("load");
}

/** In each contest: the first candidate, or the first two of a choose-N contest. */
async function chooseFirst(page: Page): Promise<void> {
  const contests = await page.locator("fieldset.contest").count();
  for (let n = 0; n < contests; n += 1) {
    const many = (await page.locator(`#contest-${n}`).getAttribute("data-votes-allowed")) !== null;
    await page.check(`#c${n}-o0`);
    if (many) await page.check(`#c${n}-o1`);
  }
}

async function toReview(page: Page, electionId = DEMO_ELECTION_ID): Promise<void> {
  await page.getByRole("button", { name: "Review your choices" }).click();
  await page.waitForURL(new RegExp(`/elections/${electionId}/review(\\?lang=[a-z]+)?$`));
}

async function castAndReadCode(page: Page, electionId = DEMO_ELECTION_ID): Promise<string> {
  await page.getByRole("button", { name: "Cast your ballot" }).click();
  await page.waitForURL(new RegExp(`/elections/${electionId}/receipt(\\?lang=[a-z]+)?$`));
  const code = (await page.locator("#tracking-code").textContent())?.trim() ?? "";
  expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  return code;
}

const MyBallot = z.object({
  countedTrackingCode: z.string().nullable(),
  ballots: z.array(z.object({ trackingCode: z.string(), status: z.string() })),
});

/** The voter's own ledger through the API (a session of their own). */
async function myBallot(nationalId: string, electionId = DEMO_ELECTION_ID): Promise<z.infer<typeof MyBallot>> {
  const auth = await voterAuth(system, electionId, nationalId);
  const res = await fetch(`${system.baseUrl}/v1/elections/${electionId}/my-ballot`, { headers: auth });
  return MyBallot.parse(await res.json());
}

async function scrollWidth(page: Page): Promise<number> {
  return Number(await page.evaluate("document.documentElement.scrollWidth"));
}

describe("a demo voter of each ballot style votes with JavaScript on", { timeout: 180_000 }, () => {
  it.each([
    ["north", "DEMO-0001"],
    ["south", "DEMO-0002"],
    ["east", "DEMO-0003"],
  ])("%s: ballot, review, cast, receipt (printable and downloadable), then 'already voted'", async (style, voter) => {
    const visit = await newVisit(true);
    const { page } = visit;
    await signInToBallot(page, true, voter);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your ballot");
    expect(await page.content()).not.toMatch(/voter_session|eyJ/);
    await checkAndShoot(browser, visit, `vote-ballot-${style}`, true, { close: false });
    if (style === "north") {
      // The definition's second language, from the switcher; then back to English.
      await page.getByRole("link", { name: "Eesti" }).click();
      await page.waitForURL(`${ballotUrl(DEMO_ELECTION_ID)}?lang=et`);
      expect(await page.locator("#contest-0 h2").textContent()).toBe("Vabariigi President");
      await checkAndShoot(browser, visit, "vote-ballot-north-et", true, { close: false, language: "et" });
      await page.getByRole("link", { name: "English" }).click();
      await page.waitForURL(`${ballotUrl(DEMO_ELECTION_ID)}?lang=en`);
    }
    await chooseFirst(page);
    if (style === "east") {
      // The live count of a choose-N contest follows the check boxes.
      expect(await page.locator("#contest-2 .choice-count").textContent()).toBe("You have chosen 2 of 3.");
    }
    await toReview(page);
    expect(await page.locator(".review-row").count()).toBe(await page.locator(".review-change a").count());
    await checkAndShoot(browser, visit, `vote-review-${style}`, true, { close: false });
    const code = await castAndReadCode(page);
    const qrWidth = await page.evaluate(`document.querySelector(".receipt-qr img").naturalWidth`);
    expect(Number(qrWidth)).toBeGreaterThan(0);
    expect(await page.locator("a.check-url").textContent()).toBe(`${system.baseUrl}/check?code=${code}`);
    await checkAndShoot(browser, visit, `vote-receipt-${style}`, true, { close: false });
    expect((await myBallot(voter)).countedTrackingCode).toBe(code);

    if (style === "north") {
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: system.baseUrl });
      await page.getByRole("button", { name: "Copy the tracking code" }).click();
      await expect.poll(() => page.locator(".copy-status").textContent()).toBe("Tracking code copied");
      expect(await page.evaluate("navigator.clipboard.readText()")).toBe(code);
      const download = page.waitForEvent("download");
      await page.getByRole("link", { name: "Download the signed receipt" }).click();
      const file = await (await download).path();
      expect((await readFile(file, "utf8")).trim().split(".")).toHaveLength(3);
      await page.getByRole("link", { name: "Print this receipt" }).click();
      await page.waitForURL(/view=print/);
      expect(await page.locator(".printable-receipt #tracking-code").textContent()).toBe(code);
      await checkAndShoot(browser, visit, "vote-receipt-print", true, { close: false });
      await page.emulateMedia({ media: "print" });
      await page.screenshot({
        path: join(ROOT, "test-results", "portal", "vote-receipt-print-media.png"),
        fullPage: true,
      });
      await page.emulateMedia({ media: "screen" });
    }

    await page.goto(ballotUrl(DEMO_ELECTION_ID));
    expect(await page.locator("[data-error-code]").getAttribute("data-error-code")).toBe("already_voted");
    expect(await page.locator(".state .tracking-code").textContent()).toBe(code);
    await checkAndShoot(browser, visit, `state-already-voted-${style}`, true);
  });
});

describe("without JavaScript, by keyboard, at 200% zoom", { timeout: 180_000 }, () => {
  it("votes with JavaScript off: a write-in and a choose-N contest, then signs out", async () => {
    const visit = await newVisit(false);
    const { page } = visit;
    await signInToBallot(page, false, "DEMO-0006");
    await page.getByLabel("Write-in candidate", { exact: true }).check();
    await page.getByLabel("Name of your write-in candidate").fill("Jaan Tatikas");
    await page.check("#c1-o1");
    await page.check("#c2-o0");
    await page.check("#c2-o2");
    await page.check("#c2-o4");
    await checkAndShoot(browser, visit, "vote-ballot-east-filled", false, { close: false });
    await toReview(page);
    expect(await page.locator(".review-list").textContent()).toContain("Write-in candidate: Jaan Tatikas");
    await checkAndShoot(browser, visit, "vote-review-east-writein", false, { close: false });
    const code = await castAndReadCode(page);
    await checkAndShoot(browser, visit, "vote-receipt-east-nojs", false, { close: false });
    expect((await myBallot("DEMO-0006")).countedTrackingCode).toBe(code);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForSelector("h1:text('You are signed out')");
    await checkAndShoot(browser, visit, "vote-signed-out", false, { close: false });
    await page.goto(ballotUrl(DEMO_ELECTION_ID));
    // Without a session the ballot sends the voter to the login (the dev issuer's page).
    expect(page.url()).toContain(`${system.issuer.url}/authorize`);
    await page.context().close();
  });

  it("votes by keyboard alone: Tab, Space, arrows and Enter, no mouse", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    const tabTo = async (selector: string): Promise<void> => {
      for (let i = 0; i < 80; i += 1) {
        await page.keyboard.press("Tab");
        if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await page.goto(`${system.baseUrl}/`);
    await tabTo(`a[href="/v1/auth/login?electionId=${DEMO_ELECTION_ID}"]`);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/authorize/);
    await tabTo("input[name=national_id]");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("DEMO-0004");
    await page.keyboard.press("Escape");
    await tabTo("button[type=submit]");
    await page.keyboard.press("Enter");
    await page.waitForURL(ballotUrl(DEMO_ELECTION_ID));
    await page.waitForLoadState("load");
    // President: the second candidate (arrow keys move and select within a radio group).
    await tabTo("#c0-o0");
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowDown");
    expect(await page.isChecked("#c0-o1")).toBe(true);
    // Parliament: the first; the referendum: the first (Yes).
    await tabTo("#c1-o0");
    await page.keyboard.press("Space");
    await tabTo("#c2-o0");
    await page.keyboard.press("Space");
    await tabTo("form.ballot button[type=submit]");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/review`);
    await tabTo(".cast-form button");
    await page.screenshot({ path: join(ROOT, "test-results", "portal", "vote-keyboard-cast-focus.png") });
    await page.keyboard.press("Enter");
    await page.waitForURL(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/receipt`);
    const code = (await page.locator("#tracking-code").textContent()) ?? "";
    expect((await myBallot("DEMO-0004")).countedTrackingCode).toBe(code);
    await checkAndShoot(browser, visit, "vote-receipt-keyboard", true);
  });

  it("at 200% zoom (640 CSS pixels wide) nothing scrolls sideways and the cast button is reachable, and at 320 the ballot and receipt reflow", async () => {
    const visit = await newVisit(true, { width: 640, height: 400 });
    const { page } = visit;
    await signInToBallot(page, true, "DEMO-0009");
    expect(await scrollWidth(page)).toBeLessThanOrEqual(640);
    // And at 320 CSS pixels (400% zoom), the ballot still reflows.
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await scrollWidth(page)).toBeLessThanOrEqual(320);
    await page.screenshot({ path: join(ROOT, "test-results", "portal", "vote-ballot-320px.png"), fullPage: true });
    await page.setViewportSize({ width: 640, height: 400 });
    await chooseFirst(page);
    await toReview(page);
    expect(await scrollWidth(page)).toBeLessThanOrEqual(640);
    const cast = page.getByRole("button", { name: "Cast your ballot" });
    await cast.focus();
    const box = await cast.boundingBox();
    expect(box).not.toBeNull();
    expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(640);
    await checkAndShoot(browser, visit, "vote-review-640px", true, { close: false });
    await castAndReadCode(page);
    expect(await scrollWidth(page)).toBeLessThanOrEqual(640);
    await checkAndShoot(browser, visit, "vote-receipt-640px", true, { close: false });
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await scrollWidth(page)).toBeLessThanOrEqual(320);
    await page.screenshot({ path: join(ROOT, "test-results", "portal", "vote-receipt-320px.png"), fullPage: true });
    await page.context().close();
  });
});

describe("casting once, and re-voting", { timeout: 180_000 }, () => {
  it("a double click on cast, a reload and the back button cast one ballot and show one tracking code", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    await signInToBallot(page, true, "DEMO-0005");
    await chooseFirst(page);
    await toReview(page);
    await page.getByRole("button", { name: "Cast your ballot" }).dblclick();
    await page.waitForURL(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/receipt`);
    const code = (await page.locator("#tracking-code").textContent()) ?? "";
    await page.reload();
    expect(await page.locator("#tracking-code").textContent()).toBe(code);
    await page.goBack();
    await page.waitForLoadState("load");
    // Back to the review: the draft is gone once cast, so it is the ballot's "already voted" page.
    expect(await page.content()).toContain(code);
    if (await page.getByRole("button", { name: "Cast your ballot" }).isVisible()) {
      await page.getByRole("button", { name: "Cast your ballot" }).click();
      await page.waitForLoadState("load");
      expect(await page.content()).toContain(code);
    }
    const mine = await myBallot("DEMO-0005");
    expect(mine.ballots.map((b) => b.trackingCode)).toEqual([code]);
    await page.context().close();
  });

  it("re-votes under paper-supersedes: the notice, a second ballot, and only the last counts", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    await signInToBallot(page, true, "DEMO-0007", REVOTE);
    await chooseFirst(page);
    await toReview(page, REVOTE);
    const first = await castAndReadCode(page, REVOTE);
    expect(await page.locator(".policy-note").textContent()).toContain("only your last online ballot counts");
    await checkAndShoot(browser, visit, "vote-receipt-revote-policy", true, { close: false });

    await page.goto(ballotUrl(REVOTE));
    expect(await page.getByRole("note").textContent()).toContain("You have already voted online");
    await checkAndShoot(browser, visit, "vote-ballot-revote-notice", true, { close: false });
    await page.check("#c0-o2");
    await toReview(page, REVOTE);
    const second = await castAndReadCode(page, REVOTE);
    expect(second).not.toBe(first);
    const mine = await myBallot("DEMO-0007", REVOTE);
    expect(mine.ballots.map((b) => [b.trackingCode, b.status])).toEqual([
      [first, "superseded"],
      [second, "counted"],
    ]);
    await page.context().close();
  });
});

describe("what a voter cannot do", { timeout: 180_000 }, () => {
  let evil: Server;
  let evilPort = 0;
  beforeAll(async () => {
    evil = createServer((req, res) => {
      const target = `${system.baseUrl}/elections/${DEMO_ELECTION_ID}/cast`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html lang="en"><title>Win a prize</title>
<form method="post" action="${target}" id="f">
<input type="hidden" name="ballotStyle" value="bs-north">
<input type="hidden" name="m:contest-president" value="sel-president-liis-kask">
<input type="hidden" name="csrf" value="forged-token-forged-token-forged-token-xxx">
</form><script>document.getElementById("f").submit()</script></html>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    evilPort = (evil.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  });

  it("a page of another origin that posts a cast while the voter is signed in casts nothing", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    await signInToBallot(page, true, "DEMO-0010");
    // Another origin on the same site (the session cookie goes along), then another site.
    for (const host of ["127.0.0.1", "localhost"]) {
      await page.goto(`http://${host}:${evilPort}/`);
      await page.waitForURL(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/cast`);
      await page.waitForLoadState("load");
      const code = await page.locator("[data-error-code]").getAttribute("data-error-code");
      expect(code).toBe("csrf_failed");
    }
    await checkAndShoot(browser, visit, "state-csrf-refused", true, { close: false });
    expect((await myBallot("DEMO-0010")).ballots).toEqual([]);
    // The voter's own form still works.
    await page.goto(ballotUrl(DEMO_ELECTION_ID));
    await chooseFirst(page);
    await toReview(page);
    await castAndReadCode(page);
    expect((await myBallot("DEMO-0010")).ballots).toHaveLength(1);
    await page.context().close();
  });

  it("a ballot over a contest's limit comes back with the error announced and linked to the field (no JavaScript)", async () => {
    const visit = await newVisit(false);
    const { page } = visit;
    await signInToBallot(page, false, "DEMO-0012");
    for (const j of [0, 1, 2, 3]) await page.check(`#c2-o${j}`);
    await page.getByRole("button", { name: "Review your choices" }).click();
    await page.waitForLoadState("load");
    expect(await page.title()).toMatch(/^Error: /);
    expect(await page.getByRole("alert").textContent()).toContain("East District Council: choose at most 3.");
    await checkAndShoot(browser, visit, "state-invalid-ballot", false, { close: false });
    await page.getByRole("link", { name: /choose at most 3/ }).click();
    expect(await page.evaluate("document.activeElement?.id")).toBe("c2-o0");
    expect((await myBallot("DEMO-0012")).ballots).toEqual([]);
    await page.context().close();
  });

  it("a cast over the voter's rate limit is a page that says to wait", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    await signInToBallot(page, true, "DEMO-0018");
    await chooseFirst(page);
    await toReview(page);
    // The same cast form sent again and again from this browser (its cookies), past the limit.
    const pairs = await page
      .locator(".cast-form input[type=hidden]")
      .evaluateAll((inputs) => inputs.map((i) => [i.getAttribute("name") ?? "", i.getAttribute("value") ?? ""]));
    const statuses: number[] = [];
    for (let i = 0; i < 45 && !statuses.includes(429); i += 1) {
      const res = await page.request.post(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/cast`, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        data: new URLSearchParams(pairs).toString(),
        maxRedirects: 0,
      });
      statuses.push(res.status());
    }
    // The first casts, its repeats answer the same receipt, until the limit refuses.
    expect(statuses[0]).toBe(303);
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set([303]));
    expect(statuses).toContain(429);
    await page.getByRole("button", { name: "Cast your ballot" }).click();
    await page.waitForSelector("[data-error-code=rate_limited]");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Too many attempts");
    await checkAndShoot(browser, visit, "state-rate-limited", true, { close: false });
    // Every accepted repeat was the same ballot.
    expect((await myBallot("DEMO-0018")).ballots).toHaveLength(1);
    await page.context().close();
  });

  it("a voter checked in at a polling station is told they voted on paper", async () => {
    const station = new StationClient({ baseUrl: system.baseUrl, stationId: STATION, privateJwk: device.privateJwk });
    const checkIn = await station.checkIn({
      electionId: DEMO_ELECTION_ID,
      nationalId: "DEMO-0019",
      identity: { method: "id-card" },
    });
    expect(checkIn.outcome).toBe("issue-ballot");
    const visit = await newVisit(false);
    const { page } = visit;
    await signInToBallot(page, false, "DEMO-0019");
    expect(await page.locator("[data-error-code]").getAttribute("data-error-code")).toBe("already_voted_on_paper");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("You have voted on paper");
    await checkAndShoot(browser, visit, "state-voted-on-paper", false);
  });

  it.each([
    ["polls not open", SOON, "polls_not_open", "Voting has not started yet"],
    ["polls closed", CLOSED, "polls_closed", "Voting has ended"],
  ])("%s: a page that says so", async (_, electionId, code, heading) => {
    const visit = await newVisit(false);
    const res = await visit.page.goto(ballotUrl(electionId));
    expect(res?.status()).toBe(403);
    expect(await visit.page.locator("[data-error-code]").getAttribute("data-error-code")).toBe(code);
    expect(await visit.page.getByRole("heading", { level: 1 }).textContent()).toBe(heading);
    await checkAndShoot(browser, visit, `state-${code.replace(/_/g, "-")}`, false);
  });

  it("the page that signs the voter in moves on to the ballot by itself, and links it", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    // Held on the signed-in page: the ballot it moves on to answers "no content".
    await page.route(ballotUrl(DEMO_ELECTION_ID), (route) => route.fulfill({ status: 204 }));
    await signIn(page, true, "DEMO-0015");
    await page.waitForSelector("h1:text('You are signed in')");
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute("content")).toBe(
      `0; url=/elections/${DEMO_ELECTION_ID}/ballot`,
    );
    await checkAndShoot(browser, visit, "vote-signed-in", true, { close: false });
    await page.unroute(ballotUrl(DEMO_ELECTION_ID));
    await page.getByRole("link", { name: "Continue to your ballot" }).click();
    await page.waitForURL(ballotUrl(DEMO_ELECTION_ID));
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your ballot");
    await page.context().close();
  });

  it("not on the roll, and a login that does not match the one started: pages, not errors", async () => {
    const visit = await newVisit(true);
    const { page } = visit;
    const refused = page.waitForResponse(`${system.baseUrl}/v1/auth/callback`);
    await signIn(page, true, "DEMO-9999");
    expect((await refused).status()).toBe(403);
    await page.waitForSelector("[data-error-code=not_on_roll]");
    await checkAndShoot(browser, visit, "state-not-on-roll", true);

    const second = await newVisit(true);
    await second.page.goto(`${system.baseUrl}/v1/auth/login?electionId=${DEMO_ELECTION_ID}`);
    // The login cookie is gone (another browser, a cleared cookie): the answer matches no login.
    await second.page.context().clearCookies();
    await second.page.fill("input[name=national_id]", "DEMO-0013");
    const mismatch = second.page.waitForResponse(`${system.baseUrl}/v1/auth/callback`);
    await second.page.click("button[type=submit]");
    expect((await mismatch).status()).toBe(401);
    await second.page.waitForSelector("[data-error-code=login_state_mismatch]");
    await checkAndShoot(browser, second, "state-login-mismatch", true);
  });
});
