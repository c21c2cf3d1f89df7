/**
 * A national-size roll through the real path: the admin CLI (`roll generate`, then `roll import`,
 * as an operator runs them) against the Worker under `wrangler dev` with local D1, over HTTP.
 * 1,000,000 rows are 100 chunks of 10,000; the test prints how long the import took. A small
 * file with bad rows checks what the operator sees then: the lines, the reasons, exit status 1.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { RollSummary } from "../../lib/roll/format.ts";
import { ROOT } from "../../scripts/system.ts";
import { withRunningSystem } from "./helpers/system.ts";

const run = promisify(execFile);
const NODE = join(ROOT, "node_modules", ".bin", "node");
const ADMIN = join(ROOT, "cli", "admin.ts");
const ROWS = 1_000_000;

const system = withRunningSystem({ name: "roll-million" });
/** The roll is fixed once the polls open: the bulk goes into a copy of the demo that has not opened. */
const ELECTION = "roll-million";

beforeAll(async () => {
  const definition = z
    .looseObject({ settings: z.looseObject({}) })
    .parse(JSON.parse(await readFile(join(ROOT, "elections", "demo", "election.json"), "utf8")));
  definition.settings = {
    ...definition.settings,
    electionId: ELECTION,
    polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
  };
  await system.admin.call("POST", "/v1/admin/elections", { json: definition });
});

it(`imports ${ROWS} voters with the CLI, in chunks, with counts that add up`, async () => {
  const file = join(system.stateDir, "roll-million.csv");
  const env = system.cliEnv;
  await run(
    NODE,
    [
      ADMIN,
      "roll",
      "generate",
      file,
      "--count",
      String(ROWS),
      "--districts",
      "district-north,district-south,district-east",
      "--prefix",
      "BULK",
    ],
    { env },
  );

  const started = performance.now();
  const { stdout, stderr } = await run(NODE, [ADMIN, "roll", "import", ELECTION, file], {
    env,
    maxBuffer: 16 << 20,
  });
  if (stderr.trim() !== "") console.log(stderr);
  const seconds = (performance.now() - started) / 1000;
  console.log(`roll import of ${ROWS} rows: ${seconds.toFixed(1)} s (${Math.round(ROWS / seconds)} rows/s)`);

  expect(stdout).toContain(`${ROWS} rows in 100 chunks`);
  expect(stdout).toContain("rejected   0");
  const [accepted, written, unchanged] = (/accepted {3}(\d+) \(written (\d+), unchanged (\d+)\)/.exec(stdout) ?? [])
    .slice(1)
    .map(Number);
  expect(accepted).toBe(ROWS);
  expect((written ?? 0) + (unchanged ?? 0)).toBe(ROWS);
  // Unless a chunk was sent again after a lost answer (the CLI says so), every row was new.
  if (!/sent again/.test(stdout)) expect(written).toBe(ROWS);

  // The bulk ids are new and spread over the districts in turn.
  const summary = RollSummary.parse(await system.admin.call("GET", `/v1/admin/elections/${ELECTION}/roll`));
  expect(summary.total).toBe(ROWS);
  expect(summary.byDistrict).toEqual({
    "district-east": 333_333,
    "district-north": 333_334,
    "district-south": 333_333,
  });
}, 900_000);

it("shows the operator each rejected row's line and reason, and exits 1", async () => {
  const file = join(system.stateDir, "roll-bad.csv");
  const rows = [
    "district,national_id",
    "district-north,CLI-0001",
    "district-nowhere,CLI-0002",
    "",
    "district-south,??",
    "district-east,CLI-0003",
  ];
  for (let i = 0; i < 30; i++) rows.push(`district-mars,CLI-1${String(i).padStart(3, "0")}`);
  await writeFile(file, `${rows.join("\n")}\n`);
  const env = system.cliEnv;
  const failed = await run(NODE, [ADMIN, "roll", "import", ELECTION, file, "--chunk-rows", "2"], { env }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const { code, stdout } = z.object({ code: z.number(), stdout: z.string() }).parse(failed);
  expect(code).toBe(1);
  expect(stdout).toContain("34 rows in 17 chunks");
  expect(stdout).toContain("accepted   2 (written 2, unchanged 0)");
  expect(stdout).toContain("rejected   32");
  expect(stdout).toContain('line 3: district: "district-nowhere" has no ballot style in this election');
  expect(stdout).toMatch(/line 5: national_id: /);
  expect(stdout).toContain("line 7: district:");
  expect(stdout).toContain("... and 12 more");

  const { stdout: summary } = await run(NODE, [ADMIN, "roll", "summary", ELECTION], { env });
  expect(summary).toMatch(new RegExp(`^Roll of ${ELECTION}: \\d+ voters$`, "m"));
  expect(summary).toMatch(/^ {2}district-east +\d+$/m);
}, 120_000);
