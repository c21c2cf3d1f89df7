/**
 * Closing voting early, end to end against the running system (wrangler dev, real clock): the
 * administrator closes the demo election with the admin CLI, which names the instant; from that
 * instant the home page says voting has ended and offers no way to vote, in Chromium with and
 * without JavaScript (axe-core, CSP, screenshots in test-results/portal/), and the API refuses a
 * cast; the CLI then reopens it and the API takes a cast again.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/browser.ts";
import { checkAndShoot, watchCsp } from "./helpers/portal.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castLoggedBallot } from "./helpers/voter.ts";

const run = promisify(execFile);
const system = withRunningSystem({ name: "polls-portal", demo: true });

const PollsAnswer = z.object({ state: z.string(), votingEndsAt: z.string(), closesAt: z.string() });

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function admin(...args: string[]): Promise<string> {
  const { stdout } = await run(join(ROOT, "node_modules", ".bin", "node"), [join(ROOT, "cli", "admin.ts"), ...args], {
    env: system.cliEnv,
  });
  return stdout;
}

async function until(instantMs: number): Promise<void> {
  const wait = instantMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

describe("an early close of the demo election", { timeout: 120_000 }, () => {
  let effectiveAtMs = 0;

  it("the CLI closes voting and says from which instant, in plain words", async () => {
    const said = await admin("election", "close", DEMO_ELECTION_ID, "--reason", "Flooding at the counting centre");
    expect(said).toMatch(
      new RegExp(
        `^Voting in ${DEMO_ELECTION_ID} closes early \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(in 1\\d seconds\\)`,
      ),
    );
    expect(said).toContain("Voting may be reopened until the scheduled close.");
    const polls = PollsAnswer.parse(JSON.parse(await admin("election", "polls", DEMO_ELECTION_ID, "--json")));
    effectiveAtMs = Date.parse(polls.votingEndsAt);
    expect(polls.votingEndsAt).not.toBe(polls.closesAt);
  });

  it("from that instant the home page says voting has ended and offers no way to vote", async () => {
    await until(effectiveAtMs + 1000);
    for (const javaScript of [true, false]) {
      const context = await browser.newContext({
        javaScriptEnabled: javaScript,
        viewport: { width: 1024, height: 800 },
      });
      const page = await context.newPage();
      const cspErrors = watchCsp(page);
      const res = await page.goto(`${system.baseUrl}/`);
      expect(res?.status()).toBe(200);
      const card = page.locator("section.card", { has: page.getByText("Voting has ended", { exact: true }) });
      await expect.poll(() => card.count()).toBe(1);
      expect(await card.textContent()).toContain("Voting was closed early on");
      expect(await page.getByRole("link", { name: "Vote online", exact: true }).count()).toBe(0);
      await checkAndShoot(browser, { page, cspErrors }, "home-closed-early", javaScript);
    }
  });

  it("the API refuses a cast, and takes one again once the CLI reopened voting", async () => {
    await expect(castLoggedBallot(system, DEMO_ELECTION_ID, "DEMO-0021")).rejects.toThrow(/polls_closed/);
    const said = await admin("election", "reopen", DEMO_ELECTION_ID, "--reason", "The water is gone");
    expect(said).toMatch(
      new RegExp(`^Voting in ${DEMO_ELECTION_ID} is open until \\d{4}-\\d\\d-\\d\\d .* \\(in 7 days\\)`),
    );
    // Every server sees the reopening within the election cache's ten seconds.
    await until(Date.now() + 11_000);
    const { trackingCode } = await castLoggedBallot(system, DEMO_ELECTION_ID, "DEMO-0022");
    expect(trackingCode).toMatch(/^[0-9A-Z-]+$/);
  });
});
