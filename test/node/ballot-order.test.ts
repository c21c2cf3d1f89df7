/**
 * A ballot with an order of its own, in a real browser (Debian's Chromium through playwright-core)
 * against the running system: the demo rewritten so that the north style lists its contests in
 * an order of its own, rotates the president's candidates and shows parliament north's reversed
 * by SequenceOrder (testdata/nist/demo-rotated.json). A north voter sees that order, picks the
 * first option shown in each contest, and the review names those candidates; axe-core finds
 * nothing on the page, and its screenshot goes to test-results/portal/ for a person to look at.
 * (The same ballot on the Worker, with the tally: test/workers/ballot-order.test.ts.)
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const ELECTION = "demo-rotated";
/** The demo as another producer writes it: contests under nested headers (testdata/nist/demo-other-style.json). */
const SECTIONED = "demo-sectioned";
const system = withRunningSystem({ name: "ballot-order" });

let browser: Browser;

/**
 * Loads a testdata/nist definition as `electionId` with the demo's roll: the roll is fixed once
 * the polls open, so it is loaded first with polls in the future, then again with them open.
 */
async function loadWithRoll(file: string, electionId: string): Promise<void> {
  const definition = z
    .looseObject({ settings: z.looseObject({}) })
    .parse(JSON.parse(await readFile(join(ROOT, "testdata", "nist", file), "utf8")));
  definition.settings["electionId"] = electionId;
  definition.settings["polls"] = { opensAt: "2030-01-01T00:00:00Z", closesAt: "2030-12-31T00:00:00Z" };
  await system.admin.call("POST", "/v1/admin/elections", { json: definition });
  await system.admin.call("POST", `/v1/admin/elections/${electionId}/roll?firstLine=2`, {
    text: await readFile(join(ROOT, "elections", "demo", "voters.csv"), "utf8"),
    contentType: "text/csv",
  });
  definition.settings["polls"] = {
    opensAt: new Date(Date.now() - 60_000).toISOString(),
    closesAt: "2030-12-31T00:00:00Z",
  };
  await system.admin.call("POST", "/v1/admin/elections", { json: definition });
}

/** A fresh browser signed in as a demo voter, on their ballot page. */
async function ballotOf(electionId: string, nationalId: string): Promise<{ page: Page; cspErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  const page = await context.newPage();
  const visit = { page, cspErrors: watchCsp(page) };
  await page.goto(`${system.baseUrl}/v1/auth/login?electionId=${electionId}`);
  await page.fill("input[name=national_id]", nationalId);
  await page.click("button[type=submit]");
  await page.waitForURL(`${system.baseUrl}/elections/${electionId}/ballot`);
  await page.waitForLoadState("load");
  return visit;
}

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  await loadWithRoll("demo-rotated.json", ELECTION);
  await loadWithRoll("demo-other-style.json", SECTIONED);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("a ballot style with an order of its own", { timeout: 180_000 }, () => {
  it("shows the style's order, and the first option shown is the one reviewed", async () => {
    // DEMO-0001 lives in district-north.
    const visit = await ballotOf(ELECTION, "DEMO-0001");
    const { page } = visit;

    const shown = await page
      .locator("fieldset.contest")
      .evaluateAll((fieldsets) =>
        fieldsets.map((fieldset) => [
          fieldset.querySelector("legend")?.textContent?.trim() ?? "",
          [...fieldset.querySelectorAll(".option:not(.option-blank) > label")].map((l) => l.textContent?.trim() ?? ""),
        ]),
      );
    expect(shown).toEqual([
      [
        "Member of Parliament, North District",
        ["Kadri LeppLabour and Crafts", "Toomas KiviForest Alliance", "Mari SaarHarbour Party"],
      ],
      [
        "President of the Republic",
        ["Liis KaskCivic Union", "Aino TammHarbour Party", "Juhan MetsForest Alliance", "Write-in candidate"],
      ],
      ["Referendum on the voting age", ["Yes", "No"]],
    ]);
    await checkAndShoot(browser, visit, "ballot-rotated", true, { close: false });

    // The first option shown in each of the first two contests, as a voter clicks it.
    await page.locator("#contest-0 .option").first().locator("input").check();
    await page.locator("#contest-1 .option").first().locator("input").check();
    await page.getByRole("button", { name: "Review your choices" }).click();
    await page.waitForURL(`${system.baseUrl}/elections/${ELECTION}/review`);
    const review = (await page.locator("main").textContent()) ?? "";
    expect(review.indexOf("Kadri Lepp")).toBeGreaterThan(-1);
    expect(review.indexOf("Kadri Lepp")).toBeLessThan(review.indexOf("Liis Kask"));
    expect(review).not.toContain("Mari Saar");
    expect(review).not.toContain("Aino Tamm");
    await checkAndShoot(browser, visit, "review-rotated", true);
  });
});

describe("a ballot written under headers", { timeout: 180_000 }, () => {
  it("shows the headers as sections, nested ones one heading level deeper, in the voter's language", async () => {
    // DEMO-0003 lives in district-east, whose style has a District section of two contests.
    const visit = await ballotOf(SECTIONED, "DEMO-0003");
    const { page } = visit;
    const outline = await page
      .locator("main h2, main h3, main h4")
      .evaluateAll((headings) => headings.map((h) => `${h.tagName} ${h.textContent?.trim() ?? ""}`));
    expect(outline).toEqual([
      "H2 Referendum",
      "H3 Referendum on the voting age",
      "H2 Offices",
      "H3 National",
      "H4 President of the Republic",
      "H3 District",
      "H4 East District Council",
      "H4 Member of Parliament, East District",
    ]);
    await checkAndShoot(browser, visit, "ballot-sections", true, { close: false });
    await page.goto(`${system.baseUrl}/elections/${SECTIONED}/ballot?lang=et`);
    await page.waitForLoadState("load");
    expect(await page.locator("main h2.ballot-section").allTextContents()).toEqual(["Rahvahääletus", "Ametikohad"]);
    await checkAndShoot(browser, visit, "ballot-sections-et", true, { language: "et" });
  });
});
