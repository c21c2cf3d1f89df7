/**
 * The officials' console in Chromium against the running system (wrangler dev): the bootstrap
 * administrator signs in with their key file through the file input (imported non-extractable,
 * kept in IndexedDB) and signs in again from the stored key without it; reads the overview, the
 * exact results and the reconciliation; decides a real offline conflict (a voter who voted online
 * and was then checked in at a station cut off from the network); sees alerts arrive live and
 * acknowledges and closes one; closes the polls early. A security officer sees the alerts but no
 * poll controls or decisions. Without JavaScript an assertion made by the admin CLI is pasted.
 * Every state: axe-core (WCAG 2.2 AA) without violations, no CSP refusal, and a screenshot in
 * test-results/console/.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { CompiledElection } from "../../lib/election/model.ts";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { Station } from "../../station/station.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp } from "./helpers/portal.ts";
import {
  northVoters,
  printed,
  Proxy,
  registerStations,
  setupOf,
  storedElection,
  testStation,
  voteOnline,
} from "./helpers/station.ts";
import { withRunningSystem } from "./helpers/system.ts";

const run = promisify(execFile);
const SHOTS = join(import.meta.dirname, "..", "..", "test-results", "console");
const station = await testStation("console-st-1", 640_000);
const system = withRunningSystem({
  name: "officials-console",
  demo: true,
  beforePollsOpen: (admin) => registerStations(admin, [station]),
});
const pool = await northVoters();

let browser: Browser;
let election: CompiledElection;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  election = await storedElection(system.admin, DEMO_ELECTION_ID);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const overviewPath = `/console/elections/${DEMO_ELECTION_ID}`;

async function open(context: BrowserContext, path: string): Promise<{ page: Page; cspErrors: string[] }> {
  const page = await context.newPage();
  const cspErrors = watchCsp(page);
  await page.goto(`${system.baseUrl}${path}`);
  return { page, cspErrors };
}

async function shoot(visit: { page: Page; cspErrors: string[] }, name: string, javaScript = true): Promise<void> {
  await checkAndShoot(browser, visit, name, javaScript, { close: false, directory: SHOTS });
}

/** Registers an official with `role` and writes their key file as `official keygen` would. */
async function officialWithKeyFile(role: string): Promise<{ id: string; keyFile: string }> {
  const id = `${role}-${crypto.randomUUID().slice(0, 6)}`;
  const kid = `${id}-k1`;
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  const dir = await mkdtemp(join(system.stateDir, "official-"));
  const keyFile = join(dir, `${id}.jwk.json`);
  await writeFile(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "EdDSA" }));
  await system.admin.call("POST", "/v1/admin/officials", {
    json: { id, role, displayName: `Test ${role}`, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" } },
  });
  return { id, keyFile };
}

async function signInWithFile(page: Page, officialId: string, keyFile: string): Promise<void> {
  await page.getByLabel("Official id").fill(officialId);
  await page.getByLabel("Key file").setInputFiles(keyFile);
  // The sign-in page is at /console already: wait for the signed-in page, not for the address.
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator(".signed-in").waitFor();
}

/** A voter votes online, then is checked in at a station cut off from the network: a held ballot. */
async function makeOfflineConflict(): Promise<void> {
  const [voter] = pool.take(1);
  await voteOnline(system, voter!.nationalId);
  const proxy = new Proxy(new URL(system.baseUrl));
  await proxy.start();
  const client = await Station.open(setupOf(station, proxy.origin), await mkdtemp(join(system.stateDir, "st-")));
  try {
    await client.refreshPollbook();
    proxy.cut();
    const checkIn = await client.checkIn({ nationalId: voter!.nationalId, identity: { method: "id-card" } });
    expect(checkIn).toMatchObject({ outcome: "issue-ballot", decidedOffline: true });
    const envelope = checkIn.outcome === "issue-ballot" ? checkIn.envelope : undefined;
    await client.scan({
      qr: await printed(election, station, station.firstSerial + 1),
      ...(envelope ? { envelope } : {}),
    });
    proxy.restore();
    await client.syncNow();
  } finally {
    await client.close();
    await proxy.stop();
  }
}

describe("the officials' console", () => {
  let admin: BrowserContext;

  it("an administrator signs in with the key file, and the pages render the API's answers", async () => {
    admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const signIn = await open(admin, "/console");
    await expect.poll(() => signIn.page.locator("[data-key-sign-in]").isVisible()).toBe(true);
    // With the script, the paste-an-assertion form is not offered.
    expect(await signIn.page.locator("[data-no-script-sign-in]").isVisible()).toBe(false);
    await shoot(signIn, "sign-in");
    await signInWithFile(signIn.page, "bootstrap-admin", system.adminKeyFile);
    await expect.poll(() => signIn.page.locator("h1").textContent()).toBe("Elections");
    expect(await signIn.page.locator(".signed-in").textContent()).toBe("bootstrap-admin (administrator)");
    // The key is in IndexedDB as a CryptoKey that no script can export.
    const kept = await signIn.page.evaluate(`new Promise((resolve) => {
      const r = indexedDB.open("officials-console", 1);
      r.onsuccess = () => {
        const get = r.result.transaction("keys").objectStore("keys").get("official");
        get.onsuccess = () => resolve({
          official: get.result.officialId,
          extractable: get.result.key.extractable,
          type: get.result.key.type,
          usages: get.result.key.usages,
        });
      };
    })`);
    expect(kept).toEqual({ official: "bootstrap-admin", extractable: false, type: "private", usages: ["sign"] });
    // The cookie is HttpOnly: the page's script cannot read the token.
    expect(await signIn.page.evaluate("document.cookie")).toBe("");
    const cookie = (await admin.cookies()).find((c) => c.name === "console_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    await shoot(signIn, "elections");
    await signIn.page.close();

    const overview = await open(admin, overviewPath);
    expect(await overview.page.locator("[data-polls-state]").textContent()).toBe("Open");
    expect(await overview.page.getByRole("button", { name: "Close the polls now" }).count()).toBe(1);
    await shoot(overview, "overview");
    await overview.page.close();

    // An election written in another producer's style: the overview lists what the loader decided.
    const otherStyle = JSON.parse(await readFile(join(ROOT, "testdata", "nist", "demo-other-style.json"), "utf8")) as {
      settings: Record<string, unknown>;
    };
    otherStyle.settings["electionId"] = "console-other-style";
    await system.admin.call("POST", "/v1/admin/elections", { json: otherStyle });
    const decided = await open(admin, "/console/elections/console-other-style");
    expect(await decided.page.locator("[data-warning]").count()).toBe(4);
    await shoot(decided, "overview-definition-warnings");
    await decided.page.close();

    const results = await open(admin, `${overviewPath}/results`);
    expect(await results.page.locator("h1").textContent()).toBe("Turnout and results (exact)");
    await shoot(results, "results");
    await results.page.close();

    const reconciliation = await open(admin, `${overviewPath}/reconciliation`);
    expect(await reconciliation.page.locator(`tr[data-station="${station.id}"]`).count()).toBe(1);
    await shoot(reconciliation, "reconciliation");
    await reconciliation.page.close();
  });

  it("an administrator decides an offline conflict with a reason; the exact turnout follows live", async () => {
    // The results page, open while a voter votes online: its turnout moves without a reload.
    const results = await open(admin, `${overviewPath}/results`);
    const total = results.page.locator("[data-turnout-total]");
    const before = Number(await total.textContent());
    // And the overview's audit-log health, which follows the monitor's status messages.
    const overview = await open(admin, overviewPath);
    const logSize = overview.page.locator('[data-log="size"]');
    const sizeBefore = Number(await logSize.textContent());
    await makeOfflineConflict();
    await expect.poll(async () => Number(await total.textContent()), { timeout: 30_000 }).toBe(before + 1);
    await expect.poll(async () => Number(await logSize.textContent()), { timeout: 30_000 }).toBeGreaterThan(sizeBefore);
    await overview.page.close();
    await shoot(results, "results-live");
    await results.page.close();

    const conflicts = await open(admin, `${overviewPath}/conflicts`);
    const card = conflicts.page.locator('[data-conflict-state="held"]');
    await expect.poll(() => card.count()).toBe(1);
    await shoot(conflicts, "conflict-held");
    await card.getByLabel("Do not count the held ballot").check();
    await card.getByLabel("Reason").fill("The voter voted online first; the station was offline.");
    await Promise.all([
      conflicts.page.waitForURL(/done=conflict-decided/),
      card.getByRole("button", { name: "Record the decision" }).click(),
    ]);
    expect(await conflicts.page.locator(".console-notice").textContent()).toContain("The decision was recorded.");
    expect(await conflicts.page.locator('[data-conflict-state="do-not-count"]').count()).toBe(1);
    expect(await conflicts.page.locator(".handling").textContent()).toContain("Decided by bootstrap-admin");
    await shoot(conflicts, "conflict-decided");
    await conflicts.page.close();
    const decided = z
      .object({ conflicts: z.array(z.object({ state: z.string() }).loose()) })
      .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/conflicts`));
    expect(decided.conflicts.map((c) => c.state)).toEqual(["do-not-count"]);
  });

  it("an alert arrives live (a station scans a used serial again), is acknowledged and closed", async () => {
    const alerts = await open(admin, `${overviewPath}/alerts`);
    await expect.poll(() => alerts.page.locator("[data-live-status]").textContent()).toContain("Live");
    await shoot(alerts, "alerts-before");

    // A real replay: the same printed ballot scanned for two check-ins at an online station.
    const [first, second] = pool.take(2);
    const client = await Station.open(setupOf(station, system.baseUrl), await mkdtemp(join(system.stateDir, "st-")));
    try {
      await client.refreshPollbook();
      const qr = await printed(election, station, station.firstSerial + 2);
      expect(await client.checkIn({ nationalId: first!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "issue-ballot",
      });
      expect(await client.scan({ qr })).toMatchObject({ outcome: "accepted" });
      expect(await client.checkIn({ nationalId: second!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "issue-ballot",
      });
      expect(await client.scan({ qr })).toMatchObject({ outcome: "refused" });
    } finally {
      await client.close();
    }

    // The card appears without a reload, and the live region says so.
    const card = alerts.page.locator('[data-alert-rule="qr-replay"]');
    await expect.poll(() => card.count(), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => alerts.page.locator("[data-alert-announcer]").textContent()).toContain("New alert");
    expect(await card.locator(".severity").textContent()).toBe("Severity: High");
    expect(await card.getAttribute("data-alert-state")).toBe("open");
    await shoot(alerts, "alert-live");

    await card.getByLabel("Note").fill("Looking into the station's scanner.");
    await Promise.all([
      alerts.page.waitForURL(/done=alert-acknowledged/),
      card.getByRole("button", { name: "Acknowledge" }).click(),
    ]);
    const acknowledged = alerts.page.locator('[data-alert-rule="qr-replay"]');
    expect(await acknowledged.getAttribute("data-alert-state")).toBe("acknowledged");
    expect(await acknowledged.locator(".handling").textContent()).toContain("Acknowledged by bootstrap-admin");
    await shoot(alerts, "alert-acknowledged");

    await acknowledged.getByLabel("Note").fill("The same sheet was fed twice; the second scan was refused.");
    await Promise.all([
      alerts.page.waitForURL(/done=alert-closed/),
      acknowledged.getByRole("button", { name: "Close the alert" }).click(),
    ]);
    expect(await alerts.page.locator('[data-alert-rule="qr-replay"]').count()).toBe(0);
    await alerts.page.goto(`${system.baseUrl}${overviewPath}/alerts?state=closed`);
    const closed = alerts.page.locator('[data-alert-rule="qr-replay"]');
    expect(await closed.getAttribute("data-alert-state")).toBe("closed");
    expect(await closed.locator("form").count()).toBe(0);
    await shoot(alerts, "alert-closed");
    await alerts.page.close();
  });

  it("a security officer sees alerts and log health but no poll controls or decisions", async () => {
    const officer = await officialWithKeyFile("security-officer");
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const visit = await open(context, "/console");
      await expect.poll(() => visit.page.locator("[data-key-sign-in]").isVisible()).toBe(true);
      await signInWithFile(visit.page, officer.id, officer.keyFile);
      await visit.page.close();
      const overview = await open(context, overviewPath);
      expect(await overview.page.getByRole("button", { name: "Close the polls now" }).count()).toBe(0);
      const nav = await overview.page.locator(".election-nav a").allTextContents();
      expect(nav).toEqual(["Overview", "Turnout and results", "Alerts", "Reconciliation"]);
      await shoot(overview, "security-officer-overview");
      await overview.page.close();
      const alerts = await open(context, `${overviewPath}/alerts?state=all`);
      expect(await alerts.page.locator('[data-alert-rule="qr-replay"]').count()).toBe(1);
      await shoot(alerts, "security-officer-alerts");
      await alerts.page.close();
      // The conflicts page is the API's refusal for this role, shown as a page.
      const conflicts = await open(context, `${overviewPath}/conflicts`);
      expect(await conflicts.page.locator("[data-error-code]").getAttribute("data-error-code")).toBe("forbidden");
      expect(await conflicts.page.locator('input[name="decision"]').count()).toBe(0);
      await shoot(conflicts, "security-officer-refused");
    } finally {
      await context.close();
    }
  });

  it("a second visit signs in from the stored key without the file; signing out keeps the key until forgotten", async () => {
    const home = await open(admin, "/console");
    await Promise.all([
      home.page.waitForURL(`${system.baseUrl}/console`),
      home.page.getByRole("button", { name: "Sign out" }).click(),
    ]);
    const stored = home.page.locator("[data-sign-in-stored]");
    await expect.poll(() => stored.isVisible()).toBe(true);
    expect(await stored.textContent()).toBe("Sign in as bootstrap-admin");
    await shoot(home, "sign-in-stored-key");
    await Promise.all([home.page.waitForURL(`${system.baseUrl}/console`), stored.click()]);
    await expect.poll(() => home.page.locator(".signed-in").textContent()).toBe("bootstrap-admin (administrator)");
    await home.page.close();

    // On another browser context (another person's browser) nothing is stored; here "Forget this
    // key" removes it, and the next visit asks for the file again.
    const other = await browser.newContext();
    try {
      const fresh = await open(other, "/console");
      await expect.poll(() => fresh.page.locator("[data-key-sign-in]").isVisible()).toBe(true);
      expect(await fresh.page.locator("[data-stored-key]").isVisible()).toBe(false);
    } finally {
      await other.close();
    }
    const again = await open(admin, "/console");
    await again.page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => again.page.locator("[data-sign-in-stored]").isVisible()).toBe(true);
    await again.page.getByRole("button", { name: "Forget this key" }).click();
    await expect.poll(() => again.page.locator("[data-stored-key]").isVisible()).toBe(false);
    await again.page.reload();
    await expect.poll(() => again.page.locator("[data-key-sign-in]").isVisible()).toBe(true);
    expect(await again.page.locator("[data-stored-key]").isVisible()).toBe(false);
    // The administrator signs in with the file again for the steps that follow.
    await signInWithFile(again.page, "bootstrap-admin", system.adminKeyFile);
    await again.page.close();
  });

  it("without JavaScript, an assertion made by the admin CLI signs in", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    try {
      const visit = await open(context, "/console");
      expect(await visit.page.locator("[data-key-sign-in]").isVisible()).toBe(false);
      await shoot(visit, "sign-in", false);
      const { stdout } = await run(
        join(ROOT, "node_modules", ".bin", "node"),
        [join(ROOT, "cli", "admin.ts"), "official", "assertion"],
        {
          env: system.cliEnv,
        },
      );
      await visit.page.getByLabel("Signed assertion").fill(stdout.trim());
      await Promise.all([
        visit.page.waitForURL(`${system.baseUrl}/console`),
        visit.page.getByRole("button", { name: "Sign in with the assertion" }).click(),
      ]);
      expect(await visit.page.locator(".signed-in").textContent()).toBe("bootstrap-admin (administrator)");
      await visit.page.goto(`${system.baseUrl}${overviewPath}`);
      await shoot(visit, "overview", false);
      // A reason of blanks only is the API's refusal, shown with the form; the polls stay open.
      await visit.page.getByLabel("Reason").fill("   ");
      await visit.page.getByRole("button", { name: "Close the polls now" }).click();
      await visit.page.waitForLoadState("load");
      expect(await visit.page.locator(".error-summary").count()).toBe(1);
      await shoot(visit, "overview-refused", false);
    } finally {
      await context.close();
    }
  });

  it("an administrator closes the polls early with a reason", async () => {
    const overview = await open(admin, overviewPath);
    await overview.page.getByLabel("Reason").fill("Flooding at several polling places.");
    await Promise.all([
      overview.page.waitForURL(/done=polls-closed/),
      overview.page.getByRole("button", { name: "Close the polls now" }).click(),
    ]);
    expect(await overview.page.locator(".console-notice").textContent()).toContain("The polls are closing early.");
    expect(await overview.page.getByRole("button", { name: "Reopen the polls" }).count()).toBe(1);
    await shoot(overview, "polls-closed-early");
    await overview.page.close();
    const polls = z
      .object({ closedEarly: z.object({ reason: z.string() }).optional() })
      .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/polls`));
    expect(polls.closedEarly?.reason).toBe("Flooding at several polling places.");
  });
});
