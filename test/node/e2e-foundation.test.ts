/**
 * End to end over real HTTP against the system as `npm start` runs it (wrangler dev, the dev
 * eID issuer, local D1 and Durable Objects): the administrator loads the demo election and roll,
 * a voter logs in through the dev issuer (by API, and in a real browser) and fetches their ballot.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { z } from "zod";
import { DEMO_ELECTION_ID, demoVoters } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { devIdToken } from "./helpers/voter.ts";

const run = promisify(execFile);
const system = withRunningSystem({ name: "e2e", demo: true, issuerVoters: 5 });

/** What the build test reads of wrangler.toml: the entry, and the Durable Object classes bound. */
const WorkerConfig = z.object({
  main: z.string().min(1),
  durable_objects: z.object({
    bindings: z.array(z.object({ class_name: z.string(), script_name: z.string().optional() })),
  }),
});

/** The names an ES module exports, read from its syntax tree rather than matched in its text. */
function moduleExports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const names: string[] = [];
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      names.push(...statement.exportClause.elements.map((e) => e.name.text));
    } else if (ts.isExportAssignment(statement)) {
      names.push("default");
    } else if (ts.canHaveModifiers(statement)) {
      const modifiers = ts.getModifiers(statement) ?? [];
      if (!modifiers.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
      if (modifiers.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)) names.push("default");
      else if ((ts.isClassDeclaration(statement) || ts.isFunctionDeclaration(statement)) && statement.name)
        names.push(statement.name.text);
      else if (ts.isVariableStatement(statement))
        for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    }
  }
  return names;
}

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
      // The callback signs the voter in with a cookie and moves on to the ballot page by itself.
      await Promise.all([
        page.waitForURL(`${system.baseUrl}/elections/${DEMO_ELECTION_ID}/ballot`),
        page.click("button[type=submit]"),
      ]);
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your ballot");
      expect(await page.locator("fieldset.contest").count()).toBeGreaterThan(0);
      expect(await page.content()).not.toContain("session-token");
    } finally {
      await browser.dispose();
    }
  });

  it("the admin CLI authenticates with the administrator's key", async () => {
    const { stdout } = await run(
      join(ROOT, "node_modules", ".bin", "node"),
      [join(ROOT, "cli", "admin.ts"), "roll", "summary", DEMO_ELECTION_ID],
      { env: system.cliEnv },
    );
    expect(stdout).toContain("1000");
  });

  it("the Worker builds for deployment (wrangler deploy --dry-run)", async () => {
    const outdir = join(system.stateDir, "dist");
    await run(join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_LOG_PATH: join(system.stateDir, "logs"), WRANGLER_SEND_METRICS: "false" },
    });
    // The bundle is named after the entry (main), and must export the Worker (its default) and
    // every Durable Object class this Worker binds; a class bound from another Worker is not ours.
    const config = WorkerConfig.parse(unstable_readConfig({ config: join(ROOT, "wrangler.toml") }));
    const bundle = join(outdir, `${basename(config.main, extname(config.main))}.js`);
    expect(existsSync(bundle), bundle).toBe(true);
    const classes = config.durable_objects.bindings.filter((b) => b.script_name === undefined).map((b) => b.class_name);
    expect(classes).toEqual(
      expect.arrayContaining([
        "ReplayGuard",
        "VoterLedger",
        "TallyShard",
        "ResultsAggregator",
        "LogSequencer",
        "PaperBallotBox",
      ]),
    );
    const exported = moduleExports(bundle, await readFile(bundle, "utf8"));
    expect(
      ["default", ...classes].filter((name) => !exported.includes(name)),
      "missing from the bundle's exports",
    ).toEqual([]);
  }, 120_000);
});
