/**
 * The page a voter gets when admission control turns the cast form away (workers/gateway/
 * admission.ts, docs/RELIABILITY.md "Overload"), in a real browser. Which request a running
 * system sheds depends on timing, so the page is made by the Worker's own app with its admission
 * gate filled (createApp takes the gate), and the browser gets it, with the built static assets,
 * from a loopback server: the same document, CSP and stylesheet a voter would have. axe-core finds no
 * WCAG 2.2 AA violation, the CSP refuses nothing, and screenshots go to test-results/portal/.
 * The status, header and route behaviour on the Workers runtime are test/workers/admission.test.ts.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { unstable_readConfig } from "wrangler";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { benchVars, generateSecrets } from "../../bench/runtime.ts";
import { AdmissionGate } from "../../workers/gateway/admission.ts";
import { createApp } from "../../workers/gateway/app.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp } from "./helpers/portal.ts";

// The app's modules import Durable Object classes, which only their base class from the Workers
// runtime: the shed request never reaches one.
vi.mock("cloudflare:workers", () => ({ DurableObject: class {}, WorkerEntrypoint: class {} }));

const ORIGIN = "https://vote.example";
const ASSETS = join(import.meta.dirname, "..", "..", "dist", "portal");
const TYPES: Record<string, string> = { ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml" };

let browser: Browser;
let env: Record<string, string>;
let server: Server;
let origin: string;
/** The document the page route answers with, and its CSP: the Worker's answer under test. */
let served = { html: "", csp: "" };

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  // The portal's address on loopback: the page at its path with the Worker's status and CSP, and
  // the built static assets, as Workers Static Assets serves them.
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path.startsWith("/elections/")) {
      res.writeHead(503, { "content-type": "text/html; charset=utf-8", "content-security-policy": served.csp });
      res.end(served.html);
      return;
    }
    readFile(join(ASSETS, normalize(path)))
      .then((file) => {
        res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
        res.end(file);
      })
      .catch(() => {
        res.writeHead(404);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The Worker's string bindings as wrangler.toml declares them, with fresh keys: the page reads
  // none of them, but the app parses its configuration before it answers.
  const declared = unstable_readConfig({ config: join(import.meta.dirname, "..", "..", "wrangler.toml") }).vars;
  const vars = Object.fromEntries(
    Object.entries(declared).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
  env = {
    ...vars,
    ...benchVars(await generateSecrets(), 16, {
      EID_ISSUER: `${ORIGIN}/eid`,
      EID_JWKS_URL: `${ORIGIN}/eid/jwks.json`,
      EID_AUTHORIZE_URL: `${ORIGIN}/eid/authorize`,
      EID_CLIENT_ID: "busy-page-test",
    }),
  };
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** The cast form's answer with every place of the isolate taken. */
async function shedForm(language: string): Promise<Response> {
  const gate = new AdmissionGate();
  const cap = 128;
  for (let i = 0; i < cap; i++) gate.tryEnter(cap);
  const app = createApp({ admission: gate });
  return app.request(
    `${ORIGIN}/elections/demo-2026/cast?lang=${language}`,
    { method: "POST", body: "csrf=x", headers: { "content-type": "application/x-www-form-urlencoded" } },
    { ...env, ADMISSION_MAX_IN_FLIGHT: String(cap) },
  );
}

describe.each([true, false])("the busy page with JavaScript %s", { timeout: 60_000 }, (javaScript) => {
  it.each([
    ["en", "Your ballot was not cast yet", "Go to your ballot"],
    ["et", "Teie häält ei ole veel antud", undefined],
  ])("in %s says the ballot was not cast and leads back to it", async (language, heading, backLink) => {
    const res = await shedForm(language);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    const html = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";

    served = { html, csp };
    const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 1024, height: 800 } });
    const page = await context.newPage();
    const cspErrors = watchCsp(page);
    await page.goto(`${origin}/elections/demo-2026/cast?lang=${language}`);
    expect(await page.locator("[data-error-code]").getAttribute("data-error-code")).toBe("service_overloaded");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(heading);
    const ballot = page.locator(`a[href="/elections/demo-2026/ballot?lang=${language}"]`);
    expect(await ballot.count()).toBe(1);
    if (backLink) expect(await ballot.textContent()).toBe(backLink);
    await checkAndShoot(browser, { page, cspErrors }, `state-overloaded-${language}`, javaScript, { language });
  });
});
