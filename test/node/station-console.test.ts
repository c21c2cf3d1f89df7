/**
 * The station console in a real browser (Debian's Chromium through playwright-core) against the
 * running system (wrangler dev), driving the real station client (station/station.ts) started from
 * a setup file, with its own SQLite store in the run's state directory. The station reaches the
 * server through a small TCP proxy the test cuts and restores, so "offline" is a real network cut.
 *
 * It checks a voter in (the answer big and plain; a refusal in words), scans a ballot from an image
 * file (a real marked ballot's QR rendered to PNG), with JavaScript on and off; shows the outbox's
 * states (a refused check-in with its reason; a scan pending through the cut, then sent); shows the
 * offline banner without a reload; refuses requests from other origins (Host, Origin, CSRF token);
 * and, on a second station of an election whose polls close during the test, shows the result sheet
 * whose QR, read back from the screen, verifies with lib/qr under the station's key and is
 * accepted by the server. axe-core finds no WCAG 2.2 AA violation in any state; screenshots go to
 * test-results/station/ for a person to look at.
 */
import axe from "axe-core";
import jpeg from "jpeg-js";
import jsQR from "jsqr";
import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer, Socket, type Server } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { base64urlDecode } from "../../lib/bytes.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { qrKeyId, qrSignerFromJwk } from "../../lib/qr/keys.ts";
import { encodeMarkedBallot, verifyResultSheetText } from "../../lib/qr/payload.ts";
import { qrPng } from "../../lib/qr/render.ts";
import { DEMO_ELECTION_ID, demoVoters } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { startConsole, type RunningConsole } from "../../station/console/server.ts";
import { StationSetup } from "../../station/setup.ts";
import { Station } from "../../station/station.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { loadOpenDemo } from "./helpers/election.ts";
import { storedElection } from "./helpers/station.ts";
import { watchCsp } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { eventually } from "./helpers/run.ts";

const SCREENSHOTS = join(ROOT, "test-results", "station");
const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

// Two stations of district-north, registered before the demo's polls open (keys are fixed after):
// the first works through the test on the demo election; the second only makes a result sheet, on
// an election whose polls close a few seconds after it is loaded.
const STATION = "console-north-1";
const CLOSING_STATION = "console-north-2";
const CLOSING_ELECTION = "console-close-2026";
const device = await generateSigningKey(`${STATION}-k1`);
const bmd = await generateSigningKey(`${STATION}-bmd1`);
const closingDevice = await generateSigningKey(`${CLOSING_STATION}-k1`);
const closingBmd = await generateSigningKey(`${CLOSING_STATION}-bmd1`);
// A third station decides check-ins offline from its pollbook; it stays cut off to the end.
const OFFLINE_STATION = "console-north-3";
const offlineDevice = await generateSigningKey(`${OFFLINE_STATION}-k1`);
const offlineBmd = await generateSigningKey(`${OFFLINE_STATION}-bmd1`);

const system = withRunningSystem({
  name: "station-console",
  demo: true,
  beforePollsOpen: async (admin) => {
    const stations = [
      { id: STATION, key: device, bmdKey: bmd, first: 600_000 },
      { id: CLOSING_STATION, key: closingDevice, bmdKey: closingBmd, first: 610_000 },
      { id: OFFLINE_STATION, key: offlineDevice, bmdKey: offlineBmd, first: 620_000 },
    ];
    for (const s of stations) {
      await admin.call("POST", "/v1/admin/stations", {
        json: {
          id: s.id,
          name: `North District, console test ${s.id}`,
          districtIds: ["district-north"],
          publicJwk: s.key.publicJwk,
          serialRanges: [{ first: s.first, last: s.first + 999 }],
        },
      });
      await admin.call("POST", `/v1/admin/stations/${s.id}/keys`, {
        json: { publicJwk: s.bmdKey.publicJwk, role: "marking-device" },
      });
    }
  },
});

/** A TCP proxy in front of the system: `cut()` refuses and drops every connection, `restore()` forwards again. */
class Proxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly target: { host: string; port: number };
  port = 0;
  constructor(target: { host: string; port: number }) {
    this.target = target;
  }

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      upstream.connect(this.target.port, this.target.host, () => {
        client.pipe(upstream).pipe(client);
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    const address = server.address();
    if (typeof address === "object" && address) this.port = address.port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let browser: Browser;
const elections = new Map<string, CompiledElection>();
let proxy: Proxy;
let station: Station;
let consoleApp: RunningConsole;
let closingStation: Station | undefined;
let closingConsole: RunningConsole | undefined;
let offlineProxy: Proxy | undefined;
let offlineStation: Station | undefined;
let offlineConsole: RunningConsole | undefined;
let closesAt: number;

async function openStation(
  id: string,
  electionId: string,
  key: { privateJwk: unknown },
  apiOrigin: string,
): Promise<Station> {
  const setup = StationSetup.parse({
    v: 1,
    stationId: id,
    apiOrigin,
    electionId,
    districtIds: ["district-north"],
    deviceKey: key.privateJwk,
  });
  const dataDir = join(system.stateDir, `station-${id}`);
  await mkdir(dataDir, { recursive: true });
  return Station.open(setup, dataDir);
}

const compiled = (electionId: string): Promise<CompiledElection> => storedElection(system.admin, electionId);

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  elections.set(DEMO_ELECTION_ID, await compiled(DEMO_ELECTION_ID));

  const target = new URL(system.baseUrl);
  proxy = new Proxy({ host: target.hostname, port: Number(target.port) });
  await proxy.restore();
  station = await openStation(STATION, DEMO_ELECTION_ID, device, `http://127.0.0.1:${proxy.port}`);
  consoleApp = await startConsole(station, { port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await consoleApp?.close();
  await closingConsole?.close();
  await offlineConsole?.close();
  await station?.close();
  await closingStation?.close();
  await offlineStation?.close();
  await proxy?.cut();
  await offlineProxy?.cut();
});

interface Visit {
  readonly page: Page;
  readonly cspErrors: string[];
  readonly javaScript: boolean;
}

async function visit(
  javaScript: boolean,
  path: string,
  options: { readonly base?: string; readonly width?: number } = {},
): Promise<Visit> {
  const context = await browser.newContext({
    javaScriptEnabled: javaScript,
    viewport: { width: options.width ?? 1024, height: 800 },
  });
  const page = await context.newPage();
  const cspErrors = watchCsp(page);
  const res = await page.goto(`${options.base ?? consoleApp.url}${path}`);
  expect(res?.status()).toBe(200);
  return { page, cspErrors, javaScript };
}

async function axeRun(page: Page): Promise<unknown[]> {
  await page.evaluate(axe.source);
  const options = JSON.stringify({ runOnly: { type: "tag", values: WCAG_22_AA } });
  return page.evaluate(`axe.run(document, ${options}).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  })))`);
}

/**
 * axe-core (WCAG 2.2 AA) on the page as the official has it: with JavaScript off, in a twin that
 * gets the same document with the console's script refused (axe needs timers), as the portal's
 * tests do. Then the stylesheet applied, the script ran exactly when allowed, nothing refused by
 * the CSP, and a full-page screenshot `<name>-js.png` / `<name>-nojs.png`.
 */
async function checkAndShoot(v: Visit, name: string, options: { readonly close?: boolean } = {}): Promise<void> {
  const { page, cspErrors, javaScript } = v;
  expect(await page.evaluate(`getComputedStyle(document.querySelector(".site-header")).backgroundColor`)).toBe(
    "rgb(18, 60, 105)",
  );
  expect(await page.locator("html").getAttribute("class")).toBe(javaScript ? "js" : "no-js");
  expect(await page.locator("html").getAttribute("lang")).toBe("en");
  if (javaScript) {
    expect(await axeRun(page)).toEqual([]);
  } else {
    const twin = await browser.newContext({ viewport: page.viewportSize() ?? { width: 1024, height: 800 } });
    try {
      const html = await page.content();
      await twin.route(page.url(), (route) =>
        route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }),
      );
      await twin.route("**/assets/station-console.js", (route) => route.abort());
      const twinPage = await twin.newPage();
      await twinPage.goto(page.url());
      expect(await twinPage.locator("html").getAttribute("class")).toBe("no-js");
      expect(await axeRun(twinPage)).toEqual([]);
    } finally {
      await twin.close();
    }
  }
  expect(cspErrors).toEqual([]);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${javaScript ? "js" : "nojs"}.png`), fullPage: true });
  if (options.close ?? true) await page.context().close();
}

/** Submits the form a field belongs to by pressing Enter in it, as a USB reader does. */
async function typeAndEnter(page: Page, label: string, text: string): Promise<void> {
  await page.getByLabel(label, { exact: true }).fill(text);
  await Promise.all([
    page.waitForNavigation({ waitUntil: "load" }),
    page.getByLabel(label, { exact: true }).press("Enter"),
  ]);
}

/** A marked ballot's signed QR text, also written as a PNG (`ballot-<serial>.png` in the state directory). */
async function ballotImage(
  ballotStyleId: string,
  serial: number,
  signer: { privateJwk: unknown },
  electionId = DEMO_ELECTION_ID,
): Promise<string> {
  const key = await qrSignerFromJwk(signer.privateJwk);
  if (!key.ok) throw new Error(key.error.message);
  const election = elections.get(electionId) ?? (await compiled(electionId));
  elections.set(electionId, election);
  const printed = await encodeMarkedBallot(
    {
      electionId,
      ballotStyleId,
      serial,
      contests: [
        { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
        { contestId: "contest-parliament-north", optionIds: ["sel-parliament-north-kadri-lepp"] },
        { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
      ],
    },
    election,
    key.value,
  );
  if (!printed.ok) throw new Error(printed.error.message);
  const file = join(system.stateDir, `ballot-${serial}.png`);
  await writeFile(file, await qrPng(printed.value.text));
  return printed.value.text;
}

const north = async (n: number): Promise<string[]> =>
  (await demoVoters(200))
    .filter((v) => v.districtId === "district-north")
    .slice(0, n)
    .map((v) => v.nationalId);

/** A raw HTTP request to the console, with headers a browser would not let a page set (Host). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(consoleApp.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the station console", { timeout: 120_000 }, () => {
  let voters: string[];
  const ballotStyles: string[] = [];

  it("shows the overview online, with the station, its districts and an empty outbox", async () => {
    voters = await north(6);
    for (const javaScript of [true, false]) {
      const v = await visit(javaScript, "/");
      expect(await v.page.getByRole("heading", { level: 1 }).textContent()).toBe("Overview");
      expect(await v.page.locator("[data-connection]").getAttribute("data-connection")).toBe("online");
      expect(await v.page.locator(".facts").textContent()).toContain("district-north");
      await checkAndShoot(v, "overview");
    }
  });

  it("checks voters in through the form a card reader types into, and says a refusal in words", async () => {
    for (const [i, javaScript] of [true, false].entries()) {
      const v = await visit(javaScript, "/check-in");
      // The field has the focus, so a reader's keystrokes land in it.
      expect(await v.page.evaluate("document.activeElement?.id")).toBe("nationalId");
      await typeAndEnter(v.page, "National ID number", voters[i] ?? "");
      const answer = v.page.locator("[data-outcome]");
      expect(await answer.getAttribute("data-outcome")).toBe("issue-ballot");
      const title = (await answer.getByRole("heading").textContent()) ?? "";
      expect(title).toMatch(/^Issue ballot style bs-north$/);
      ballotStyles.push(title.replace("Issue ballot style ", ""));
      expect(await answer.textContent()).toContain("District district-north");
      // POST-redirect-GET: the answer's address holds no national id.
      expect(v.page.url()).not.toContain(voters[i] ?? "");
      expect(await v.page.content()).not.toContain(voters[i] ?? "");
      await checkAndShoot(v, `check-in-issue-${i}`);
    }

    // A voter of another district: the server refuses, the console says so in words.
    const south = (await demoVoters(200)).find((x) => x.districtId === "district-south")?.nationalId ?? "";
    const refused = await visit(false, "/check-in");
    await typeAndEnter(refused.page, "National ID number", south);
    const answer = refused.page.locator("[data-outcome]");
    expect(await answer.getAttribute("data-outcome")).toBe("refused");
    expect(await answer.getAttribute("data-error-code")).toBe("station_wrong_district");
    expect(await answer.getByRole("heading").textContent()).toBe("Do not issue a ballot");
    await checkAndShoot(refused, "check-in-refused");

    // Nothing typed: an error summary linked to the field, a 400, nothing sent.
    const before = (await station.status()).checkIns;
    for (const javaScript of [true, false]) {
      const empty = await visit(javaScript, "/check-in");
      const [res] = await Promise.all([
        empty.page.waitForResponse((r) => r.request().method() === "POST"),
        empty.page.getByRole("button", { name: "Check in" }).click(),
      ]);
      expect(res.status()).toBe(400);
      await empty.page.waitForLoadState("load");
      const summary = empty.page.getByRole("alert");
      expect(await summary.getByRole("link").getAttribute("href")).toBe("#nationalId");
      expect(await empty.page.getByLabel("National ID number").getAttribute("aria-invalid")).toBe("true");
      expect(await empty.page.title()).toMatch(/^Error: /);
      await checkAndShoot(empty, "check-in-error");
    }
    expect((await station.status()).checkIns).toBe(before);
  });

  it("scans a ballot from an image file, decoded on the laptop (no JavaScript) and in the browser", async () => {
    for (const [i, javaScript] of [false, true].entries()) {
      const serial = 600_001 + i;
      await ballotImage(ballotStyles[i] ?? "", serial, bmd);
      const v = await visit(javaScript, "/scan");
      expect(await v.page.evaluate("document.activeElement?.id")).toBe("qr");
      await v.page.getByLabel("Or a photo of the QR code").setInputFiles(join(system.stateDir, `ballot-${serial}.png`));
      if (javaScript) {
        // The browser read the photo itself and filled the QR field.
        await expect.poll(() => v.page.getByLabel("Ballot QR code").inputValue()).toMatch(/^[A-Z0-9$%*+./: -]+$/);
        // With scripts, the camera button is offered.
        expect(await v.page.getByRole("button", { name: "Use the camera" }).isVisible()).toBe(true);
      }
      await Promise.all([
        v.page.waitForURL(/\/scan\?r=/),
        v.page.getByRole("button", { name: "Record the ballot" }).click(),
      ]);
      const answer = v.page.locator("[data-outcome]");
      expect(await answer.getAttribute("data-outcome")).toBe("accepted");
      expect(await answer.getByRole("heading").textContent()).toBe(`Ballot ${serial} recorded`);
      await checkAndShoot(v, `scan-accepted-${i}`);
    }

    // A file that is not a QR photo: the error summary names the field.
    const bad = await visit(false, "/scan");
    await bad.page.getByLabel("Or a photo of the QR code").setInputFiles({
      name: "not-a-photo.png",
      mimeType: "image/png",
      buffer: Buffer.from("not a png at all"),
    });
    await bad.page.getByRole("button", { name: "Record the ballot" }).click();
    await bad.page.waitForLoadState("load");
    expect(await bad.page.getByRole("alert").getByRole("link").getAttribute("href")).toBe("#image");
    await checkAndShoot(bad, "scan-error");
  });

  it("lists the outbox: sent entries and a refused one with its reason", async () => {
    for (const javaScript of [true, false]) {
      const v = await visit(javaScript, "/outbox");
      const rows = v.page.locator("tbody tr");
      await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(5);
      const failed = v.page.locator('tbody tr[data-state="failed"]');
      expect(await failed.count()).toBe(1);
      expect(await failed.textContent()).toContain("station_wrong_district");
      expect(await failed.locator(".state").textContent()).toBe("Refused");
      expect(await v.page.locator('tbody tr[data-state="done"]').count()).toBe(4);
      await checkAndShoot(v, "outbox-sent");
    }
  });

  it("works through a network cut: the banner turns offline without a reload, a scan waits, then is sent", async () => {
    // A third voter is checked in while online; the cut comes before the ballot is scanned.
    const checked = await station.checkIn({ nationalId: voters[2] ?? "", identity: { method: "id-card" } });
    expect(checked.outcome).toBe("issue-ballot");
    const qr = await ballotImage(checked.outcome === "issue-ballot" ? checked.ballotStyleId : "", 600_003, bmd);

    const watching = await visit(true, "/outbox");
    expect(await watching.page.locator("[data-connection]").getAttribute("data-connection")).toBe("online");
    await proxy.cut();

    // The official scans with the USB scanner: it types the code and presses Enter.
    const scan = await visit(false, "/scan");
    await typeAndEnter(scan.page, "Ballot QR code", qr);
    const answer = scan.page.locator("[data-outcome]");
    expect(await answer.getAttribute("data-outcome")).toBe("queued");
    expect(await answer.getByRole("heading").textContent()).toBe("Ballot 600003 saved");
    expect(await scan.page.locator("[data-connection]").getAttribute("data-connection")).toBe("offline");
    await checkAndShoot(scan, "scan-offline");

    // The page opened while online shows the cut by itself, and the waiting scan.
    await expect
      .poll(() => watching.page.locator("[data-connection]").getAttribute("data-connection"), { timeout: 10_000 })
      .toBe("offline");
    await expect.poll(() => watching.page.locator('tbody tr[data-state="pending"]').count()).toBe(1);
    expect(await watching.page.locator("#connection").textContent()).toContain("1 waiting to be sent");
    await checkAndShoot(watching, "outbox-offline", { close: false });
    const home = await visit(false, "/");
    expect(await home.page.locator(".connection-title").textContent()).toBe("Offline: keep working");
    await checkAndShoot(home, "overview-offline");
    const home320 = await visit(true, "/", { width: 320 });
    await checkAndShoot(home320, "overview-offline-320");

    // Back online: "Send now" without JavaScript sends it; the open page follows by itself.
    await proxy.restore();
    const send = await visit(false, "/outbox");
    await Promise.all([
      send.page.waitForURL(/\/outbox\?r=/),
      send.page.getByRole("button", { name: "Send now" }).click(),
    ]);
    expect(await send.page.getByRole("status").first().textContent()).toContain("Sync finished.");
    expect(await send.page.locator('tbody tr[data-state="pending"]').count()).toBe(0);
    await checkAndShoot(send, "outbox-after-sync");
    await expect
      .poll(() => watching.page.locator("[data-connection]").getAttribute("data-connection"), { timeout: 10_000 })
      .toBe("online");
    await expect.poll(() => watching.page.locator('tbody tr[data-state="done"]').count()).toBe(6);
    await watching.page.context().close();

    // The server has it exactly once: three check-ins and three ballots from this station.
    await eventually(async () => {
      const r = z
        .object({ system: z.object({ checkIns: z.number(), ballotsScanned: z.number() }) })
        .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/reconciliation/${STATION}`));
      return r.system.checkIns === 3 && r.system.ballotsScanned === 3 ? r : undefined;
    });
  });

  it("reads a ballot's QR code with the camera (a fake camera that films the printed code)", async () => {
    const checked = await station.checkIn({ nationalId: voters[3] ?? "", identity: { method: "id-card" } });
    if (checked.outcome !== "issue-ballot") throw new Error(`check-in refused: ${checked.message}`);
    const qr = await ballotImage(checked.ballotStyleId, 600_004, bmd);
    // Chromium's fake camera plays an MJPEG file: the code, centred on a white 640x480 frame.
    const code = PNG.sync.read(Buffer.from(await qrPng(qr, 4)));
    const [width, height] = [640, 480];
    const frame = Buffer.alloc(width * height * 4, 255);
    const [left, top] = [Math.floor((width - code.width) / 2), Math.floor((height - code.height) / 2)];
    if (left < 0 || top < 0) throw new Error("the ballot's code does not fit the camera's frame");
    for (let y = 0; y < code.height; y++) {
      code.data.copy(frame, ((top + y) * width + left) * 4, y * code.width * 4, (y + 1) * code.width * 4);
    }
    const still = jpeg.encode({ data: frame, width, height }, 95).data;
    const film = join(system.stateDir, "camera.mjpeg");
    await writeFile(film, Buffer.concat(Array.from({ length: 10 }, () => still)));

    const cameraBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        ...CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-video-capture=${film}`,
      ],
    });
    try {
      const context = await cameraBrowser.newContext({ viewport: { width: 1024, height: 800 } });
      await context.grantPermissions(["camera"], { origin: consoleApp.url });
      const page = await context.newPage();
      const cspErrors = watchCsp(page);
      await page.goto(`${consoleApp.url}/scan`);
      await page.getByRole("button", { name: "Use the camera" }).click();
      await expect.poll(() => page.getByLabel("Ballot QR code").inputValue(), { timeout: 15_000 }).toBe(qr);
      expect(await page.locator("[data-camera-status]").textContent()).toContain("QR code read.");
      // The camera is off again once the code is read, and the focus is on the filled field.
      expect(await page.locator("[data-camera-view]").isHidden()).toBe(true);
      expect(await page.evaluate("document.activeElement?.id")).toBe("qr");
      await Promise.all([
        page.waitForURL(/\/scan\?r=/),
        page.getByRole("button", { name: "Record the ballot" }).click(),
      ]);
      expect(await page.locator("[data-outcome]").getAttribute("data-outcome")).toBe("accepted");
      expect(cspErrors).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, "scan-camera-js.png"), fullPage: true });
    } finally {
      await cameraBrowser.close();
    }
  });

  it("cancels a spoiled ballot by its serial, and says what is wrong with a bad serial", async () => {
    const bad = await visit(false, "/cancel");
    await bad.page.getByLabel("Serial number").fill("60001O");
    await Promise.all([
      bad.page.waitForNavigation({ waitUntil: "load" }),
      bad.page.getByRole("button", { name: "Cancel the ballot" }).click(),
    ]);
    expect(await bad.page.getByRole("alert").getByRole("link").getAttribute("href")).toBe("#serial");
    expect(await bad.page.getByLabel("Serial number").getAttribute("aria-invalid")).toBe("true");
    await checkAndShoot(bad, "cancel-error");

    for (const [i, javaScript] of [false, true].entries()) {
      const serial = 600_010 + i;
      const v = await visit(javaScript, "/cancel");
      await v.page.getByLabel("Serial number").fill(String(serial));
      await v.page.getByLabel("Spoiled by the voter").check();
      await Promise.all([
        v.page.waitForURL(/\/cancel\?r=/),
        v.page.getByRole("button", { name: "Cancel the ballot" }).click(),
      ]);
      const answer = v.page.locator("[data-outcome]");
      expect(await answer.getAttribute("data-outcome")).toBe("accepted");
      expect(await answer.getByRole("heading").textContent()).toBe(`Ballot ${serial} cancelled`);
      await checkAndShoot(v, `cancel-done-${i}`);
    }
    expect((await station.status()).cancellations).toBe(2);
  });

  it("decides offline from the pollbook: the envelope code to write, then the ballot scanned with it", async () => {
    const target = new URL(system.baseUrl);
    offlineProxy = new Proxy({ host: target.hostname, port: Number(target.port) });
    await offlineProxy.restore();
    offlineStation = await openStation(
      OFFLINE_STATION,
      DEMO_ELECTION_ID,
      offlineDevice,
      `http://127.0.0.1:${offlineProxy.port}`,
    );
    offlineConsole = await startConsole(offlineStation, { port: 0 });
    const base = offlineConsole.url;

    // While online, the official downloads the pollbook from the overview.
    const home = await visit(false, "/", { base });
    expect(await home.page.locator(".warning-text").textContent()).toContain("No pollbook on this laptop yet");
    await Promise.all([
      home.page.waitForURL(/\/\?r=/),
      home.page.getByRole("button", { name: "Download the pollbook again" }).click(),
    ]);
    expect(await home.page.getByRole("status").first().textContent()).toMatch(/Pollbook downloaded: \d+ voters\./);
    expect(await home.page.locator("main").textContent()).toMatch(/\d+ voters, issued /);
    await checkAndShoot(home, "overview-pollbook");

    await offlineProxy.cut();
    const voter = voters[5] ?? "";
    const checkIn = await visit(false, "/check-in", { base });
    await typeAndEnter(checkIn.page, "National ID number", voter);
    const answer = checkIn.page.locator("[data-outcome]");
    expect(await answer.getAttribute("data-outcome")).toBe("issue-ballot");
    expect(await answer.getByRole("heading").textContent()).toBe("Issue ballot style bs-north");
    const envelope = (await answer.locator("[data-envelope]").textContent()) ?? "";
    expect(envelope).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(await answer.textContent()).toContain("Write this code on the ballot's sleeve:");
    expect(await checkIn.page.locator("[data-connection]").getAttribute("data-connection")).toBe("offline");
    await checkAndShoot(checkIn, "check-in-offline");

    // The same voter again, still offline: the station knows it checked them in.
    const again = await visit(false, "/check-in", { base });
    await typeAndEnter(again.page, "National ID number", voter);
    expect(await again.page.locator("[data-outcome]").getAttribute("data-error-code")).toBe("may_not_issue_ballot");
    await again.page.context().close();

    // The ballot, scanned with its envelope chosen from the open ones.
    const qr = await ballotImage("bs-north", 620_001, offlineBmd);
    const scan = await visit(true, "/scan", { base });
    await scan.page.getByLabel("Envelope code").selectOption(envelope);
    await checkAndShoot(scan, "scan-envelope", { close: false });
    await typeAndEnter(scan.page, "Ballot QR code", qr);
    expect(await scan.page.locator("[data-outcome]").getAttribute("data-outcome")).toBe("queued");
    expect((await offlineStation.status()).openEnvelopes).toEqual([]);
    await scan.page.context().close();
  });

  it("refuses other origins: a foreign Host, a foreign Origin, a form without the token", async () => {
    const own = new URL(consoleApp.url).host;
    const page = await raw("GET", "/", { host: own });
    expect(page.status).toBe(200);
    // DNS rebinding: a page at another name that resolves to 127.0.0.1.
    expect((await raw("GET", "/", { host: `attacker.example:${new URL(consoleApp.url).port}` })).status).toBe(421);
    expect((await raw("GET", "/live", { host: "attacker.example" })).status).toBe(421);
    const token = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? "";
    expect(token).not.toBe("");
    const form = { host: own, "content-type": "application/x-www-form-urlencoded" };
    const body = `csrf=${token}&nationalId=${voters[3] ?? ""}&identity=id-card`;
    const before = (await station.status()).checkIns;
    expect((await raw("POST", "/check-in", { ...form, origin: "http://attacker.example" }, body)).status).toBe(403);
    expect((await raw("POST", "/check-in", { ...form, "sec-fetch-site": "cross-site" }, body)).status).toBe(403);
    expect((await raw("POST", "/check-in", form, `nationalId=${voters[3] ?? ""}&identity=id-card`)).status).toBe(403);
    expect((await raw("POST", "/check-in", form, `csrf=x${token.slice(1)}&nationalId=${voters[3] ?? ""}`)).status).toBe(
      403,
    );
    expect((await station.status()).checkIns).toBe(before);
    // The page's own headers: the portal's.
    const res = await fetch(`${consoleApp.url}/`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("after the close, shows the result sheet whose QR, read off the screen, verifies and is accepted", async () => {
    // An election whose polls close shortly; its station checks a voter in and scans one ballot.
    closesAt = Date.now() + 25_000;
    await loadOpenDemo(system.admin, CLOSING_ELECTION, closesAt);
    closingStation = await openStation(CLOSING_STATION, CLOSING_ELECTION, closingDevice, system.baseUrl);
    closingConsole = await startConsole(closingStation, { port: 0 });
    const checked = await closingStation.checkIn({ nationalId: voters[4] ?? "", identity: { method: "id-card" } });
    if (checked.outcome !== "issue-ballot") throw new Error(`check-in refused: ${checked.message}`);
    const qr = await ballotImage(checked.ballotStyleId, 610_001, closingBmd, CLOSING_ELECTION);
    expect(await closingStation.scan({ qr })).toMatchObject({ outcome: "accepted" });

    // Before the close the sheet is refused, in words.
    const early = await visit(false, "/result-sheet", { base: closingConsole.url });
    await Promise.all([
      early.page.waitForURL(/\/result-sheet/),
      early.page.getByRole("button", { name: "Make the result sheet" }).click(),
    ]);
    await early.page.waitForLoadState("load");
    expect(await early.page.locator("[data-outcome]").getAttribute("data-outcome")).toBe("refused");
    expect(await early.page.locator("[data-outcome]").getAttribute("data-error-code")).toBe("polls_not_closed");
    await checkAndShoot(early, "result-sheet-early");

    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 1000)));
    const v = await visit(false, "/result-sheet", { base: closingConsole.url });
    await Promise.all([
      v.page.waitForURL(/\/result-sheet$/),
      v.page.getByRole("button", { name: "Make the result sheet" }).click(),
    ]);
    await v.page.waitForLoadState("load");
    expect(await v.page.getByRole("heading", { level: 1 }).textContent()).toBe("Result sheet");
    const president = v.page.getByRole("table", { name: "President of the Republic" });
    expect(await president.getByRole("row", { name: /Liis Kask/ }).textContent()).toContain("1");

    // The QR as the official's printer or a camera sees it: read off the screen.
    const img = v.page.getByRole("img", { name: /Signed QR code of result sheet 1/ });
    await img.scrollIntoViewIfNeeded();
    const png = PNG.sync.read(await img.screenshot());
    const read = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    expect(read).not.toBeNull();
    const keyId = await qrKeyId(closingDevice.publicJwk);
    if (!keyId.ok) throw new Error(keyId.error.message);
    const x = base64urlDecode(String((closingDevice.publicJwk as { x: string }).x));
    const verified = await verifyResultSheetText(read?.data ?? "", (id) => (id === keyId.value ? x : undefined));
    expect(verified.ok && verified.value).toMatchObject({
      electionId: CLOSING_ELECTION,
      stationId: CLOSING_STATION,
      sequence: 1,
      votersCheckedIn: 1,
      ballotsCast: 1,
    });
    await checkAndShoot(v, "result-sheet", { close: false });
    // Printed: the sheet alone, without the console's navigation and banner.
    await v.page.emulateMedia({ media: "print" });
    expect(await v.page.locator(".station-nav").isVisible()).toBe(false);
    expect(await v.page.locator("#connection").isVisible()).toBe(false);
    expect(await img.isVisible()).toBe(true);
    expect(await v.page.locator("main .facts").textContent()).toContain(CLOSING_STATION);
    await v.page.screenshot({ path: join(SCREENSHOTS, "result-sheet-print.png"), fullPage: true });
    await v.page.emulateMedia({ media: "screen" });

    // The outbox sends it; the server's decoder accepted it.
    await closingStation.syncNow();
    await v.page.reload();
    expect(await v.page.locator("[data-sheet-state]").getAttribute("data-sheet-state")).toBe("done");
    await checkAndShoot(v, "result-sheet-sent");
  });
});
