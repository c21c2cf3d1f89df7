/**
 * The results exports end to end over real HTTP against the running system: voters cast, the
 * polls close, the cast vote records are published, the log sequencer exports the signed NIST
 * results report and CVR export by itself; both are valid under the shared NIST schemas and their
 * detached JWS verify with the log's key; the administrator certifies through the admin CLI; the
 * auditor's `recount` checks the exports against the log and passes; and a mirrored report with
 * one count changed makes `recount` fail (exit 1) naming that count.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Validator, type Schema } from "@cfworker/json-schema";
import { beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { sha256Hex } from "../../lib/digest.ts";
import { verifyDetached } from "../../lib/nist/jws.ts";
import { parseVerifierKey } from "../../lib/tlog/note.ts";
import { ROOT } from "../../scripts/system.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castChoice, voterAuth } from "./helpers/voter.ts";
import { loadOpenDemo } from "./helpers/election.ts";
import { eventually, runAuditor } from "./helpers/run.ts";
import { sharedPath } from "./helpers/shared.ts";

const run = promisify(execFile);
const ELECTION = "exports-e2e-2026";
const VOTERS = 4;
/** Long enough to start, load and cast everything with room to spare on a slow machine. */
const POLLS_OPEN_MS = 45_000;
const NIST = sharedPath("standards/nist");

const system = withRunningSystem({ name: "e2e-exports", demo: true });
let closesAt: number;

beforeAll(async () => {
  closesAt = Date.now() + POLLS_OPEN_MS;
  await loadOpenDemo(system.admin, ELECTION, closesAt, { resultsVisibility: "after-close" });
});

const ExportsStatus = z.object({
  published: z.boolean(),
  state: z.string(),
  reason: z.string().nullable(),
  resultsSha256: z.string().nullable(),
  cvrSha256: z.string().nullable(),
  paths: z.object({ results: z.string(), resultsSignature: z.string(), cvr: z.string(), cvrSignature: z.string() }),
  certified: z.object({ at: z.string(), officialId: z.string() }).nullable(),
});

async function castFor(nationalId: string, choice: number): Promise<void> {
  await castChoice(system, ELECTION, await voterAuth(system, ELECTION, nationalId), choice);
}

async function adminCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      join(ROOT, "node_modules", ".bin", "node"),
      [join(ROOT, "cli", "admin.ts"), ...args],
      {
        env: system.cliEnv,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function schemaValidator(name: string): Validator {
  return new Validator(JSON.parse(readFileSync(join(NIST, name), "utf8")) as Schema, "4", false);
}

it("after the close the signed exports appear, validate, verify, are certified, and the auditor checks them", async () => {
  const results = schemaValidator("election_results_reporting_v2.schema.json");
  const cvrs = schemaValidator("cast_vote_records.schema.json");
  const logUrl = `${system.baseUrl}/v1/logs/${ELECTION}/`;
  const vkey = (await (await fetch(`${logUrl}verifier-key`)).text()).trim();

  for (let i = 1; i <= VOTERS; i++) await castFor(`DEMO-${String(i).padStart(4, "0")}`, i);
  expect(Date.now()).toBeLessThan(closesAt);

  // Before the close nothing is exported, and certification is refused through the CLI.
  const early = await adminCli("election", "certify", ELECTION);
  expect(early.code).not.toBe(0);
  expect(early.stderr).toContain("results_not_published");

  await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 500)));
  await eventually(
    async () => {
      try {
        return await system.admin.call("POST", `/v1/admin/elections/${ELECTION}/log/cast-vote-records`);
      } catch {
        return undefined; // records_not_drained until every ballot reached the log
      }
    },
    30_000,
    500,
  );
  const status = await eventually(
    async () => {
      const listed = await adminCli("election", "exports", ELECTION);
      const s = ExportsStatus.parse(JSON.parse(listed.stdout));
      return s.published ? s : undefined;
    },
    60_000,
    1_000,
  );

  const key = parseVerifierKey(vkey);
  if (!key.ok) throw new Error(key.error);
  for (const [url, signatureUrl, digest, validator] of [
    [status.paths.results, status.paths.resultsSignature, status.resultsSha256, results],
    [status.paths.cvr, status.paths.cvrSignature, status.cvrSha256, cvrs],
  ] as const) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("immutable");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(sha256Hex(bytes)).toBe(digest);
    const validation = validator.validate(JSON.parse(new TextDecoder().decode(bytes)));
    expect(validation.errors.slice(0, 3)).toEqual([]);
    const signature = await (await fetch(signatureUrl)).text();
    expect(await verifyDetached(signature, bytes, key.value.publicKey)).toMatchObject({ ok: true });
  }

  // Certify through the admin CLI, once.
  const certified = await adminCli("election", "certify", ELECTION, "--statement", "Certified after the canvass.");
  expect(certified.stderr).toBe("");
  expect(JSON.parse(certified.stdout)).toMatchObject({ resultsSha256: status.resultsSha256 });
  const twice = await adminCli("election", "certify", ELECTION);
  expect(twice.stderr).toContain("results_already_certified");
  // The certification reaches a published checkpoint before the auditor looks.
  await eventually(
    async () => {
      const s = z
        .object({ pooled: z.number(), size: z.number(), publishedSize: z.number() })
        .parse(await system.admin.call("GET", `/v1/admin/elections/${ELECTION}/log`));
      return s.pooled === 0 && s.publishedSize === s.size ? s : undefined;
    },
    30_000,
    250,
  );

  const recount = await runAuditor("recount", "--log", logUrl, "--key", vkey, "--no-progress");
  expect(recount.stderr).toBe("");
  expect(recount.code).toBe(0);
  expect(recount.stdout).toContain("exports  exports/results.json states the recount of the log's records to the vote");
  expect(recount.stdout).toMatch(/exports {2}exports\/cvr\.json holds exactly the log's \d+ records, in log order/);
  expect(recount.stdout).toContain("exports  certified by bootstrap-admin");
  expect(recount.stdout).toContain("OK       the recount matches the published results to the vote");

  // A mirror copies the exports; one count changed in the mirrored report is named.
  const dir = await mkdtemp(join(tmpdir(), "exports-mirror-"));
  const mirrored = await runAuditor("mirror", logUrl, dir);
  expect(mirrored.stdout).toContain("copied   4 export files");
  const offline = await runAuditor(
    "recount",
    "--log",
    dir,
    "--key",
    vkey,
    "--results",
    `${system.baseUrl}/v1/elections/${ELECTION}/results`,
    "--no-progress",
  );
  expect(offline.stderr).toBe("");
  expect(offline.code).toBe(0);
  const reportFile = join(dir, "exports", "results.json");
  const report = JSON.parse(await readFile(reportFile, "utf8")) as {
    Election: {
      Contest: {
        "@id": string;
        ContestSelection: { "@id": string; VoteCounts?: { GpUnitId: string; Count: number }[] }[];
      }[];
    }[];
  };
  const contest = report.Election[0]?.Contest.find((c) => c["@id"] === "contest-president");
  // A district's count (the contest's whole-country total is a sum the auditor does not read).
  const inDistrict = (v: { GpUnitId: string; Count: number }): boolean =>
    v.Count > 0 && v.GpUnitId.startsWith("district-");
  const selection = contest?.ContestSelection.find((s) => (s.VoteCounts ?? []).some(inDistrict));
  const count = selection?.VoteCounts?.find(inDistrict);
  if (!selection || !count) throw new Error("no count to change");
  count.Count += 1;
  await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  const tampered = await runAuditor(
    "recount",
    "--log",
    dir,
    "--key",
    vkey,
    "--results",
    `${system.baseUrl}/v1/elections/${ELECTION}/results`,
    "--no-progress",
  );
  expect(tampered.code).toBe(1);
  expect(tampered.stderr).toContain("exports/results.json: its SHA-256 is");
  expect(tampered.stderr).toContain("exports/results.json.jws: the signature does not verify");
  expect(tampered.stderr).toContain(
    `exports/results.json: district ${count.GpUnitId}, contest contest-president, selection ${selection["@id"]}: the log's records ${count.Count - 1}, the results report ${count.Count}`,
  );
}, 240_000);
