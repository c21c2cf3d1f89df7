/**
 * `admin election load|show|export|check`: what the loader decided on its own reaches the
 * administrator as one stderr line per warning beside the JSON answer; `export` writes the API's
 * export (the NIST report, or the loadable definition) where asked; `check` reads a file offline
 * as a load would and says whether it would load (exit 0, a summary and the warnings) or not
 * (exit 1, every problem), sending nothing. The routes themselves are tested in
 * test/workers/election-definition.test.ts; here a small HTTP server answers as they do.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDefinition, type ParsedDefinition } from "../../lib/election/definition.ts";
import { exportElectionReport } from "../../lib/election/export.ts";
import { nistSchemaProblems } from "../../lib/election/nist-schema.ts";
import { withRecordingApi } from "./helpers/recording-api.ts";

const OTHER_STYLE = "testdata/nist/demo-other-style.json";
const otherStyleText = readFileSync(OTHER_STYLE, "utf8");

function parsed(input: unknown): ParsedDefinition {
  const result = parseDefinition(input);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value;
}

const loaded = parsed(JSON.parse(otherStyleText));
const WARNING_LINES = [
  'warning: /electionReport/Election/0/BallotStyle/0: has no ExternalIdentifier with OtherType "ballot-style-id"; named "bs-district-north" after its GpUnitIds [ballot_style_id_derived]',
  'warning: /electionReport/Election/0/BallotStyle/1: has no ExternalIdentifier with OtherType "ballot-style-id"; named "bs-district-south" after its GpUnitIds [ballot_style_id_derived]',
  'warning: /electionReport/Election/0/BallotStyle/2: has no ExternalIdentifier with OtherType "ballot-style-id"; named "bs-district-east" after its GpUnitIds [ballot_style_id_derived]',
  expect.stringMatching(
    /^warning: \/electionReport\/GpUnit\/0: lists no ComposingGpUnitIds; taken to contain "district-north", "district-south", "district-east", .* \[composition_derived\]$/,
  ) as unknown as string,
];

const base = "/v1/admin/elections/demo-2026";
const { requests, election } = withRecordingApi("election-definition-cli", (request, res) => {
  const report = exportElectionReport(loaded);
  if (request.method === "POST" && request.url === "/v1/admin/elections") {
    res.statusCode = 201;
    res.end(JSON.stringify({ electionId: "demo-2026", version: 1, warnings: loaded.warnings }));
  } else if (request.method === "GET" && request.url === base) {
    res.end(
      JSON.stringify({ electionId: "demo-2026", version: 1, definition: loaded.definition, warnings: loaded.warnings }),
    );
  } else if (request.method === "GET" && request.url === `${base}/export`) {
    res.end(JSON.stringify(report));
  } else if (request.method === "GET" && request.url === `${base}/export?document=definition`) {
    res.end(JSON.stringify({ settings: loaded.definition.settings, electionReport: report }));
  } else {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: "not_found", message: "no" } }));
  }
});

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "election-definition-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `admin election <args>`: what it printed on stdout and on stderr, and the error it ended with. */
async function run(...args: string[]): Promise<{ out: string; err: string[]; error?: unknown }> {
  const err: string[] = [];
  const spy = vi.spyOn(console, "error").mockImplementation((text: string) => err.push(text));
  // Commander's own refusal goes to process.stderr; keep it out of the test's output.
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return { out: await election(...args), err };
  } catch (error) {
    return { out: "", err, error };
  } finally {
    spy.mockRestore();
    stderr.mockRestore();
  }
}

describe("admin election load / show", () => {
  it("load prints the answer and one readable line per warning on stderr", async () => {
    const { out, err } = await run("load", OTHER_STYLE);
    expect(requests.find((r) => r.method === "POST" && r.url === "/v1/admin/elections")?.body).toBe(otherStyleText);
    expect(JSON.parse(out)).toMatchObject({ electionId: "demo-2026", version: 1 });
    expect(err).toEqual(WARNING_LINES);
  });

  it("show prints the stored definition and today's warnings the same way", async () => {
    const { out, err } = await run("show", "demo-2026");
    expect(JSON.parse(out)).toMatchObject({ electionId: "demo-2026", version: 1 });
    expect(err).toEqual(WARNING_LINES);
  });
});

describe("admin election export", () => {
  it("prints the NIST report, or writes it to --out; it passes the NIST schema", async () => {
    const printed = await run("export", "demo-2026");
    const report: unknown = JSON.parse(printed.out);
    expect(nistSchemaProblems(report, "")).toEqual([]);

    const file = join(dir, "report.json");
    const written = await run("export", "demo-2026", "--out", file);
    expect(written.out).toBe(`wrote the NIST election report of demo-2026 to ${file}`);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual(report);
  });

  it("with --definition writes a document that check accepts with nothing derived again", async () => {
    const file = join(dir, "definition.json");
    await run("export", "demo-2026", "--definition", "--out", file);
    expect(requests.map((r) => r.url)).toContain(`${base}/export?document=definition`);
    const checked = await run("check", file);
    expect(checked.error).toBeUndefined();
    expect(checked.out).toBe(
      `${file} loads: election demo-2026, 3 ballot styles, 6 contests, 4 districts, languages en, et; 0 warnings.`,
    );
    expect(checked.err).toEqual([]);
  });
});

describe("admin election check", () => {
  it("says a definition loads, with its warnings, sending nothing", async () => {
    const { out, err, error } = await run("check", OTHER_STYLE);
    expect(error).toBeUndefined();
    expect(out).toBe(
      `${OTHER_STYLE} loads: election demo-2026, 3 ballot styles, 6 contests, 4 districts, languages en, et; 4 warnings.`,
    );
    expect(err).toEqual(WARNING_LINES);
    expect(requests).toEqual([]);
  });

  it("lists every problem of a definition that would be refused, and exits 1", async () => {
    const document = JSON.parse(otherStyleText) as { settings: Record<string, unknown>; electionReport: unknown };
    document.settings["polls"] = { opensAt: "2027-01-02T00:00:00Z", closesAt: "2027-01-01T00:00:00Z" };
    const report = document.electionReport as { Election: { Contest: Record<string, unknown>[] }[] };
    report.Election[0]!.Contest[0]!["ElectionDistrictId"] = "atlantis";
    const file = join(dir, "refused.json");
    await writeFile(file, JSON.stringify(document));

    const { out, err, error } = await run("check", file);
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).exitCode).toBe(1);
    expect((error as CommanderError).message).toBe(`error: ${file} would be refused: 2 problems`);
    expect(out).toBe("");
    expect(err).toEqual([
      "problem: /settings/polls/closesAt: polls must open before they close",
      'problem: /electionReport/Election/0/Contest/0/ElectionDistrictId: names no ReportingUnit ("atlantis")',
    ]);
    expect(requests).toEqual([]);
  });

  it("refuses a file that is not JSON, and exits 1", async () => {
    const file = join(dir, "not.json");
    await writeFile(file, "settings: yes");
    const { err, error } = await run("check", file);
    expect((error as CommanderError).exitCode).toBe(1);
    expect(err).toEqual([expect.stringMatching(new RegExp(`^problem: /: ${file} is not a readable JSON file: `))]);
  });
});
