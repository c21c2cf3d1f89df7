/**
 * End to end over real HTTP against the system as `npm start` runs it (wrangler dev, the dev
 * eID issuer, local D1 and Durable Objects): the administrator loads the demo election and roll,
 * a voter logs in through the dev issuer (by API, and in a real browser) and fetches their ballot.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { OfficialClient } from "../../cli/lib/api.ts";
import { DEMO_ELECTION_ID, demoVoters, loadDemo } from "../../scripts/demo.ts";
import { ROOT, startSystem, type RunningSystem } from "../../scripts/system.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { devIdToken } from "./helpers/voter.ts";

const run = promisify(execFile);
let system: RunningSystem;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "election-e2e-"));
  const voters = await demoVoters(5);
  system = await startSystem({
    stateDir,
    demoVoters: voters.map((v) => ({ nationalId: v.nationalId, label: v.nationalId })),
  });
  const client = new OfficialClient({
    baseUrl: system.baseUrl,
    officialId: "bootstrap-admin",
    keyFile: system.adminKeyFile,
  });
  const loaded = await loadDemo(client);
  expect(loaded.election).toBe("loaded");
});

afterAll(async () => {
  await system?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const Session = z.object({ sessionToken: z.string(), districtId: z.string(), ballotStyleId: z.string() });
const Ballot = z.object({
  ballotStyleId: z.string(),
  contests: z.array(z.object({ id: z.string(), options: z.array(z.object({ id: z.string() })) })),
});

describe("the foundation, end to end", () => {
  it("a demo voter logs in by API through the dev eID issuer and fetches their ballot", async () => {
    const [voter] = await demoVoters(1);
    const idToken = await devIdToken(system, voter?.nationalId ?? "");
    const login = await fetch(`${system.baseUrl}/v1/auth/voter-session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ electionId: DEMO_ELECTION_ID, idToken }),
    });
    expect(login.status).toBe(200);
    const session = Session.parse(await login.json());
    expect(session.districtId).toBe(voter?.districtId);
    const res = await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballot`, {
      headers: { authorization: `Bearer ${session.sessionToken}` },
    });
    expect(res.status).toBe(200);
    const ballot = Ballot.parse(await res.json());
    expect(ballot.ballotStyleId).toBe(session.ballotStyleId);
    expect(ballot.contests.length).toBeGreaterThan(0);
  });

  it("a demo voter logs in in a real browser and sees their ballot", async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${system.baseUrl}/v1/auth/login?electionId=${DEMO_ELECTION_ID}`);
      expect(page.url()).toContain(`${system.issuer.url}/authorize`);
      const [, second] = await demoVoters(2);
      await page.fill("input[name=national_id]", second?.nationalId ?? "");
      await Promise.all([page.waitForURL(`${system.baseUrl}/v1/auth/callback`), page.click("button[type=submit]")]);
      await page.waitForSelector("#session-token");
      const text = await page.textContent("body");
      expect(text).toContain(second?.districtId);
      expect(await page.locator("#contests > li").count()).toBeGreaterThan(0);
    } finally {
      await browser.dispose();
    }
  });

  it("the admin CLI authenticates with the administrator's key", async () => {
    const { stdout } = await run(
      join(ROOT, "node_modules", ".bin", "node"),
      [join(ROOT, "cli", "admin.ts"), "roll", "summary", DEMO_ELECTION_ID],
      {
        env: { ...process.env, ELECTION_API: system.baseUrl, ELECTION_OFFICIAL_KEY: system.adminKeyFile },
      },
    );
    expect(stdout).toContain("1000");
  });

  it("the Worker builds for deployment (wrangler deploy --dry-run)", async () => {
    const outdir = join(stateDir, "dist");
    await run(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_LOG_PATH: join(stateDir, "logs"), WRANGLER_SEND_METRICS: "false" },
    });
  }, 120_000);
});
