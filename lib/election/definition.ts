/**
 * The election definition document an administrator loads:
 *
 *   { "settings": <ElectionSettings>, "electionReport": <NIST SP 1500-100 rev.2 ElectionReport> }
 *
 * parseDefinition checks it in three passes and lists every problem it finds, not just the first,
 * so an administrator fixes a definition in one round:
 *   1. the wrapper and the settings, with zod;
 *   2. the report against the NIST JSON schema (nist-schema.ts);
 *   3. the report's meaning (compile.ts), whenever its structure is sound enough to read, which
 *      it often is even with NIST schema problems (an unknown property, a missing Format).
 * The election id is settings.electionId; the report does not repeat it.
 */
import type { ZodError } from "zod";
import type { Problem } from "../errors.ts";
import { err, ok, type Result } from "../result.ts";
import { compileElection } from "./compile.ts";
import type { DefinitionWarning, Derivations } from "./derivations.ts";
import type { CompiledElection } from "./model.ts";
import { ElectionReport } from "./nist.ts";
import { nistSchemaProblems } from "./nist-schema.ts";
import { pointer } from "./pointer.ts";
import { ElectionSettings } from "./settings.ts";

export interface ElectionDefinition {
  readonly settings: ElectionSettings;
  readonly electionReport: ElectionReport;
}

/** Enough for any real report; a longer list only buries the first problems. */
export const MAX_PROBLEMS = 200;

/**
 * NIST reports nest about a dozen levels (report, election, contest, selection, counts...);
 * ballot headers can nest a few more. Deeper input is refused before any recursive validator
 * sees it, so it cannot exhaust the stack.
 */
export const MAX_DEPTH = 64;

const SETTINGS_PATH = "/settings";
const REPORT_PATH = "/electionReport";

const PARTS = ["settings", "electionReport"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function zodProblems(error: ZodError, base: string): Problem[] {
  return error.issues.flatMap((issue) => {
    // An unknown key is a problem at that key, not at the object holding it.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: pointer(base, ...issue.path.map(String), key),
        message: "is not a known property",
      }));
    }
    return [{ path: pointer(base, ...issue.path.map(String)) || "/", message: issue.message }];
  });
}

/** The first place `value` nests deeper than `limit`, or undefined. Iterative: no recursion. */
function tooDeepAt(value: unknown, limit: number): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: "" }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value !== "object" || item.value === null) continue;
    if (item.depth >= limit) return item.path || "/";
    for (const [key, child] of Object.entries(item.value)) {
      stack.push({ value: child, depth: item.depth + 1, path: pointer(item.path, key) });
    }
  }
  return undefined;
}

function capped(problems: Problem[]): Problem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [
    ...problems.slice(0, MAX_PROBLEMS - 1),
    {
      path: "/",
      message: `${problems.length - (MAX_PROBLEMS - 1)} more problems not listed; fix these and load again`,
    },
  ];
}

/** A definition the loader accepted: as sent, compiled, and what the loader decided on its own. */
export interface ParsedDefinition {
  readonly definition: ElectionDefinition;
  readonly election: CompiledElection;
  /** What the loader derived where the file was silent (derivations.ts): reported, never silent. */
  readonly warnings: readonly DefinitionWarning[];
  readonly derivations: Derivations;
}

export function parseDefinition(input: unknown): Result<ParsedDefinition, Problem[]> {
  if (!isRecord(input)) return err([{ path: "/", message: `must be an object with ${PARTS.join(" and ")}` }]);
  const deep = tooDeepAt(input, MAX_DEPTH);
  if (deep !== undefined) return err([{ path: deep, message: `nests deeper than ${MAX_DEPTH} levels` }]);

  const problems: Problem[] = [];
  for (const key of Object.keys(input)) {
    if (!(PARTS as readonly string[]).includes(key))
      problems.push({ path: pointer("", key), message: "is not a known property" });
  }
  for (const key of PARTS) {
    if (input[key] === undefined) problems.push({ path: pointer("", key), message: "is required" });
  }

  const settings = input["settings"] === undefined ? undefined : ElectionSettings.safeParse(input["settings"]);
  if (settings && !settings.success) problems.push(...zodProblems(settings.error, SETTINGS_PATH));

  const rawReport = input["electionReport"];
  if (rawReport === undefined) return err(capped(problems));
  problems.push(...nistSchemaProblems(rawReport, REPORT_PATH));
  const report = ElectionReport.safeParse(rawReport);
  if (!report.success) {
    // nist.ts asks less than the NIST schema, so the schema has already said what is wrong;
    // if it has not, say it here rather than accept silently.
    if (problems.every((p) => !p.path.startsWith(REPORT_PATH)))
      problems.push(...zodProblems(report.error, REPORT_PATH));
    return err(capped(problems));
  }

  const compiled = compileElection(settings?.success ? settings.data : placeholderSettings, report.data, REPORT_PATH);
  if (!compiled.ok) problems.push(...compiled.error);
  if (problems.length > 0 || !settings?.success || !compiled.ok) return err(capped(dedupe(problems)));

  return ok({
    definition: { settings: settings.data, electionReport: report.data },
    election: compiled.value.election,
    warnings: compiled.value.warnings,
    derivations: compiled.value.derivations,
  });
}

/** Lets the report's meaning be checked when the settings are broken; never compiled into use. */
const placeholderSettings: ElectionSettings = {
  electionId: "invalid",
  crossChannelPolicy: "first-wins",
  resultsVisibility: "after-close",
  polls: { opensAt: "1970-01-01T00:00:00Z", closesAt: "1970-01-01T00:00:01Z" },
  geofence: { allowedCountries: [], outside: "refuse" },
  minBallotsPerRelease: 25,
  castVoteRecords: "per-contest",
  paperSyncGraceMinutes: 720,
};

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
