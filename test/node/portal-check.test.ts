/**
 * `/check` verifies a real receipt's inclusion proof in the voter's browser (browser/check.ts,
 * with the auditor's lib/ code), against the running system in Debian's Chromium: with
 * JavaScript on it says "Verified" and names the key that signed the record; when what the
 * server serves is tampered with (one hash of the proof, the proof's checkpoint signature, the
 * log's latest checkpoint signature) it says it could not verify and why; when the proof cannot
 * be fetched it says the record could not be checked, not that it was altered; with JavaScript
 * off the page stays the server's answer with the auditors' links. axe-core finds no WCAG 2.2 AA
 * violation in any state, and screenshots go to test-results/portal/.
 */
import { mkdir } from "node:fs/promises";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, SCREENSHOTS, watchCsp, type Visit } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castLoggedBallot } from "./helpers/voter.ts";

const system = withRunningSystem({ name: "portal-check", demo: true });

let browser: Browser;
let trackingCode: string;
let leafIndex: number;
let verifierKey: string;
let origin: string;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

  // A real ballot, cast through the API, until a published checkpoint holds it.
  ({ trackingCode, leafIndex } = await castLoggedBallot(system, DEMO_ELECTION_ID, "DEMO-0021"));
  const log = z
    .object({ origin: z.string(), verifierKey: z.string() })
    .parse(await (await fetch(`${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}`)).json());
  ({ origin, verifierKey } = log);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** Opens `/check?code=` for the real receipt; `tamper` may route the page's requests first. */
async function visitCheck(javaScript: boolean, tamper?: (page: Page) => Promise<unknown>): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1024, height: 800 } });
  const page = await context.newPage();
  const cspErrors = watchCsp(page);
  if (tamper) await tamper(page);
  const res = await page.goto(`${system.baseUrl}/check?code=${trackingCode}`);
  expect(res?.status()).toBe(200);
  await page.waitForLoadState("load");
  return { page, cspErrors };
}

/** The verification's final state, once the script has one (verified, failed or unavailable). */
async function finalState(page: Page): Promise<string | null> {
  const state = page.locator("[data-verify-state]");
  await state.waitFor({ timeout: 30_000 });
  return state.getAttribute("data-verify-state");
}

/** Serves the request's real answer with `change` applied to its text. */
async function rewrite(page: Page, url: string, change: (text: string) => string): Promise<void> {
  await page.route(url, async (route) => {
    const response = await route.fetch();
    const text = await response.text();
    const changed = change(text);
    expect(changed).not.toBe(text);
    await route.fulfill({ response, body: changed });
  });
}

/** One base64 character of `line` changed (past its first four, so a hash stays a hash's length). */
function flipAt(line: string, at: number): string {
  const c = line[at] === "A" ? "B" : "A";
  return `${line.slice(0, at)}${c}${line.slice(at + 1)}`;
}

/** The bundle's first proof hash, changed. */
function changeProofHash(bundle: string): string {
  const lines = bundle.split("\n");
  const first = lines.findIndex((l) => l.startsWith("index ")) + 1;
  expect(lines[first]).toMatch(/^[A-Za-z0-9+/]{43}=$/); // a proof with at least one hash
  return lines.map((l, i) => (i === first ? flipAt(l, 5) : l)).join("\n");
}

/** A signed note's signature line, changed in its signature bytes (past the 4-byte key ID). */
function changeSignature(note: string): string {
  const lines = note.split("\n");
  const sig = lines.findIndex((l) => l.startsWith("— "));
  expect(sig).toBeGreaterThan(0);
  return lines.map((l, i) => (i === sig ? flipAt(l, l.lastIndexOf(" ") + 20) : l)).join("\n");
}

const proofUrl = (): string => `${system.baseUrl}/v1/receipts/${trackingCode}/proof`;

describe("the receipt check's verification in the browser", { timeout: 90_000 }, () => {
  it("says Verified for a real receipt, names the key that signed the record and where auditors compare it", async () => {
    const v = await visitCheck(true);
    const { page } = v;
    expect(await finalState(page)).toBe("verified");
    const region = page.locator(".verify[role='status']");
    const text = await region.textContent();
    expect(text).toContain(
      "Verified: your ballot is in the election's public record, and that record is signed by the election authority's key.",
    );
    expect(text).toContain(`Signed by the key named ${origin} (key ID ${verifierKey.split("+")[1] ?? "?"})`);
    expect(text).toContain("the one the election authority publishes itself, outside this website");
    await region.getByText("Details for auditors").click();
    expect(await region.locator("[data-slot='verifier-key']").textContent()).toBe(verifierKey);
    expect(await region.locator("[data-slot='leaf-index']").textContent()).toBe(String(leafIndex));
    // The server's answer and the auditors' links stay.
    expect(await page.getByRole("link", { name: "Inclusion proof" }).getAttribute("href")).toBe(proofUrl());
    await checkAndShoot(browser, v, "check-verified", true);
  });

  it("says it is checking while the proof is on its way", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const v = await visitCheck(true, (page) =>
      page.route(proofUrl(), async (route) => {
        await held;
        await route.continue();
      }),
    );
    const region = v.page.locator(".verify[role='status']");
    await expect.poll(() => region.textContent()).toBe("Checking the public record…");
    await checkAndShoot(browser, v, "check-verify-checking", true, { close: false });
    release();
    expect(await finalState(v.page)).toBe("verified");
    await v.page.context().close();
  });

  it("says it could not verify when one hash of the served proof is changed, with the reason for auditors", async () => {
    const v = await visitCheck(true, (page) => rewrite(page, proofUrl(), changeProofHash));
    const { page } = v;
    expect(await finalState(page)).toBe("failed");
    const region = page.locator(".verify[role='status']");
    expect(await region.textContent()).toContain("We could not verify your ballot in the public record");
    expect(await region.textContent()).toContain("This may mean the record was altered: report it");
    expect(await region.textContent()).not.toContain("Verified:");
    await region.getByText("Details for auditors").click();
    expect(await region.locator("[data-slot='reason']").textContent()).toMatch(
      /^the inclusion proof does not verify: entry is not proven in the log/,
    );
    await checkAndShoot(browser, v, "check-verify-failed", true);
  });

  it("fails when the signature of the proof's checkpoint, or of the log's latest checkpoint, is changed", async () => {
    const proofSig = await visitCheck(true, (page) => rewrite(page, proofUrl(), changeSignature));
    expect(await finalState(proofSig.page)).toBe("failed");
    expect(await proofSig.page.locator("[data-slot='reason']").textContent()).toMatch(
      /^the inclusion proof does not verify: .*signature/,
    );
    await proofSig.page.context().close();

    const latestSig = await visitCheck(true, (page) =>
      rewrite(page, `${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/checkpoint`, changeSignature),
    );
    expect(await finalState(latestSig.page)).toBe("failed");
    expect(await latestSig.page.locator("[data-slot='reason']").textContent()).toMatch(
      /^the log's latest checkpoint does not verify: .*signature/,
    );
    await latestSig.page.context().close();
  });

  it("says the record could not be checked, not that it was altered, when the proof cannot be fetched", async () => {
    const v = await visitCheck(true, (page) => page.route(proofUrl(), (route) => route.abort("connectionfailed")));
    expect(await finalState(v.page)).toBe("unavailable");
    const text = await v.page.locator(".verify[role='status']").textContent();
    expect(text).toContain("The public record could not be checked just now");
    expect(text).not.toContain("altered");
    await checkAndShoot(browser, v, "check-verify-unavailable", true);
  });

  it("without JavaScript leaves the server's answer and the auditors' links, and says nothing of a verification", async () => {
    const v = await visitCheck(false);
    const { page } = v;
    expect(await page.locator(".panel-success").textContent()).toContain(`position ${leafIndex}`);
    expect(await page.getByRole("link", { name: "Inclusion proof" }).getAttribute("href")).toBe(proofUrl());
    expect(await page.getByRole("link", { name: "Signed checkpoint" }).count()).toBe(1);
    expect(await page.locator(".verify").textContent()).toBe("");
    expect(await page.getByText(/Verified|Checking the public record/).count()).toBe(0);
    await checkAndShoot(browser, v, "check-verify", false);
  });
});

it("answers a browser's unknown path with a 404 page that passes the same checks", { timeout: 60_000 }, async () => {
  for (const javaScript of [true, false]) {
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();
    const cspErrors = watchCsp(page);
    const res = await page.goto(`${system.baseUrl}/no-such-page`);
    expect(res?.status()).toBe(404);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Page not found");
    expect(await page.getByRole("link", { name: "Check a receipt" }).getAttribute("href")).toBe("/check");
    await checkAndShoot(browser, { page, cspErrors }, "not-found", javaScript);
  }
});
