/**
 * The portal's pages in a real browser (Debian's Chromium through playwright-core) against the
 * running system (wrangler dev, so the static assets are served as in production): `/` and
 * `/check` in every state (empty, recorded with a real ballot's log position, not found, invalid),
 * with JavaScript on and off. axe-core finds no WCAG 2.2 AA violation in any of them, the pages
 * load nothing the CSP refuses, and screenshots go to test-results/portal/ for a person to look at.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, SCREENSHOTS, watchCsp, type Visit } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castLoggedBallot } from "./helpers/voter.ts";

const system = withRunningSystem({ name: "portal-pages", demo: true });

let browser: Browser;
let trackingCode: string;
let leafIndex: number;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });

  // A real ballot, cast through the API, until a published checkpoint holds it.
  ({ trackingCode, leafIndex } = await castLoggedBallot(system, DEMO_ELECTION_ID, "DEMO-0011"));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function visit(javaScript: boolean, path: string): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1024, height: 800 } });
  const page = await context.newPage();
  const cspErrors = watchCsp(page);
  const res = await page.goto(`${system.baseUrl}${path}`);
  expect(res?.status()).toBe(200);
  await page.waitForLoadState("load");
  return { page, cspErrors };
}

describe.each([true, false])("the portal with JavaScript %s", { timeout: 60_000 }, (javaScript) => {
  it("/ lists the open demo election with its ways in, the audit details opened", async () => {
    const v = await visit(javaScript, "/");
    const { page } = v;
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Elections");
    const vote = page.getByRole("link", { name: "Vote online", exact: true });
    expect(await vote.getAttribute("href")).toBe(`/v1/auth/login?electionId=${DEMO_ELECTION_ID}`);
    expect(await page.getByRole("link", { name: "Check a receipt" }).count()).toBeGreaterThan(0);
    await page.getByText("Audit this election").click();
    await expect.poll(() => page.getByRole("link", { name: "Log verifier key" }).isVisible()).toBe(true);
    expect(await page.locator("pre code").textContent()).toContain("npm run auditor -- verify --log");
    await checkAndShoot(browser, v, "home", javaScript);
  });

  it("/check: the empty form, then a recorded ballot found by typing its code", async () => {
    const v = await visit(javaScript, "/check");
    await checkAndShoot(browser, v, "check-empty", javaScript);

    const found = await visit(javaScript, "/check");
    await found.page.getByLabel("Tracking code").fill(trackingCode.toLowerCase());
    await found.page.getByRole("button", { name: "Check" }).click();
    await found.page.waitForURL(/\/check\?code=/);
    await expect
      .poll(() => found.page.getByRole("heading", { level: 2 }).first().textContent())
      .toBe("Your ballot was recorded");
    // The first live region is the server's answer (with JavaScript, the verification follows it).
    expect(await found.page.getByRole("status").first().textContent()).toContain(`position ${leafIndex}`);
    expect(await found.page.getByRole("link", { name: "Inclusion proof" }).getAttribute("href")).toBe(
      `${system.baseUrl}/v1/receipts/${trackingCode}/proof`,
    );
    await checkAndShoot(browser, found, "check-recorded", javaScript);
  });

  it("/check: a code nobody has, and a malformed one announced and linked to its field", async () => {
    const missing = await visit(javaScript, "/check?code=0000-0000-0000-0000");
    expect(await missing.page.getByRole("status").textContent()).toContain("No ballot with this tracking code");
    await checkAndShoot(browser, missing, "check-not-found", javaScript);

    const invalid = await visit(javaScript, "/check?code=hello");
    const { page } = invalid;
    expect(await page.title()).toMatch(/^Error: /);
    expect(await page.getByRole("alert").textContent()).toContain("There is a problem");
    await page.getByRole("link", { name: /Enter a tracking code/ }).click();
    expect(await page.evaluate("document.activeElement?.id")).toBe("code");
    const field = page.getByLabel("Tracking code");
    expect(await field.getAttribute("aria-invalid")).toBe("true");
    await checkAndShoot(browser, invalid, "check-invalid", javaScript);
  });

  it("the first Tab reaches the skip link, which moves to the main content", async () => {
    const { page } = await visit(javaScript, "/check");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.className")).toBe("skip-link");
    await page.screenshot({ path: join(SCREENSHOTS, `skip-link-${javaScript ? "js" : "nojs"}.png`) });
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement?.id")).toBe("main");
    await page.context().close();
  });
});

it("serves the stylesheet and script as static assets with security headers and short caching", async () => {
  for (const [path, type] of [
    ["/assets/portal.css", "text/css"],
    ["/assets/enhance.js", "javascript"],
  ] as const) {
    const res = await fetch(`${system.baseUrl}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain(type);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("content-security-policy")).toBe(
      "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  }
});

it("reflows at 320 CSS pixels (a 1280-pixel screen at 400% zoom): nothing scrolls sideways", async () => {
  const context = await browser.newContext({ viewport: { width: 320, height: 640 } });
  try {
    const page = await context.newPage();
    for (const [name, path] of [
      ["home", "/"],
      ["check-invalid", "/check?code=hello"],
      ["check-recorded", `/check?code=${trackingCode}`],
    ] as const) {
      await page.goto(`${system.baseUrl}${path}`);
      await page.evaluate(`document.querySelectorAll("details").forEach((d) => { d.open = true; })`);
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(320);
      await page.screenshot({ path: join(SCREENSHOTS, `${name}-320px.png`), fullPage: true });
    }
  } finally {
    await context.close();
  }
});
