/**
 * What every browser test of the portal's pages does to a page: run axe-core (WCAG 2.2 AA) on it,
 * with JavaScript on or, for a page without JavaScript, in a twin whose own script is refused;
 * collect what the Content-Security-Policy refused; check that the stylesheet applied and the
 * script ran exactly when scripts may run; and keep a full-page screenshot for a person to look at.
 */
import axe from "axe-core";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { expect } from "vitest";

const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** Screenshots of the portal's tests: git-ignored, kept for people to look at after a run. */
export const SCREENSHOTS = join(import.meta.dirname, "..", "..", "..", "test-results", "portal");

export interface Violation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: string[];
}

export interface Visit {
  readonly page: Page;
  readonly cspErrors: string[];
}

/** Collects the console's CSP refusals of a page (a refused asset or inline code). */
export function watchCsp(page: Page): string[] {
  const cspErrors: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspErrors.push(message.text());
  });
  return cspErrors;
}

/**
 * axe-core in the page (through the DevTools protocol, which the page's CSP does not govern).
 * axe needs timers, which a page without JavaScript never runs: for such a page it runs in a twin
 * with JavaScript on but the portal's own script refused, so the document is the same one a
 * voter without scripts gets.
 */
export async function axeViolations(browser: Browser, page: Page, javaScript: boolean): Promise<Violation[]> {
  if (!javaScript) {
    const twin = await browser.newContext({ viewport: page.viewportSize() ?? { width: 1024, height: 800 } });
    try {
      // The document the voter has, served again at its own address: a page that answered a form
      // POST is checked as it is, not as a GET of its address would render it.
      const html = await page.content();
      await twin.route(page.url(), (route) =>
        route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }),
      );
      await twin.route("**/assets/enhance.js", (route) => route.abort());
      // The officials' console's pages load their own script instead.
      await twin.route("**/assets/console.js", (route) => route.abort());
      const twinPage = await twin.newPage();
      await twinPage.goto(page.url());
      expect(await twinPage.locator("html").getAttribute("class")).toBe("no-js");
      await twinPage.evaluate(`document.querySelectorAll("details").forEach((d) => { d.open = true; })`);
      return await axeViolations(browser, twinPage, true);
    } finally {
      await twin.close();
    }
  }
  await page.evaluate(axe.source);
  const options = JSON.stringify({ runOnly: { type: "tag", values: WCAG_22_AA } });
  return page.evaluate(`axe.run(document, ${options}).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  })))`);
}

/**
 * The checks every portal page passes, then its screenshot (`<name>-js.png` / `<name>-nojs.png`).
 * Closes the page's context when `close` is true (the default).
 */
export async function checkAndShoot(
  browser: Browser,
  visit: Visit,
  name: string,
  javaScript: boolean,
  options: { readonly language?: string; readonly close?: boolean; readonly directory?: string } = {},
): Promise<void> {
  const { page, cspErrors } = visit;
  // A caller may have waited only for an element to appear; the stylesheet holds back `load`.
  await page.waitForLoadState("load");
  // The stylesheet loaded and applied (the header is the service's blue, not the default white).
  const headerBackground = await page.evaluate(
    `getComputedStyle(document.querySelector(".site-header")).backgroundColor`,
  );
  expect(headerBackground).toBe("rgb(18, 60, 105)");
  // The script ran exactly when scripts may run, and nothing depends on it.
  expect(await page.locator("html").getAttribute("class")).toBe(javaScript ? "js" : "no-js");
  expect(await page.locator("html").getAttribute("lang")).toBe(options.language ?? "en");
  expect(await axeViolations(browser, page, javaScript)).toEqual([]);
  expect(cspErrors).toEqual([]);
  const directory = options.directory ?? SCREENSHOTS;
  await mkdir(directory, { recursive: true });
  await page.screenshot({ path: join(directory, `${name}-${javaScript ? "js" : "nojs"}.png`), fullPage: true });
  if (options.close ?? true) await page.context().close();
}
