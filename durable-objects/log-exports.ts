/**
 * The results exports' I/O, for the log sequencer (durable-objects/log-sequencer.ts), which
 * decides when they are due: once every cast vote record of the election is in a published
 * checkpoint (docs/AUDIT-LOG.md "Exports"). Here: gather what they are made of, check the two
 * channels agree, build them (lib/nist/, pure and deterministic), sign them with the log key and
 * put them beside the log in R2 (lib/audit/layout.ts). It lives among the objects, not in
 * workers/audit/, because the sequencer's alarm runs it and objects import only lib/ and their own.
 *
 * What the exports are made of:
 * - the loaded definition, read from D1 (`elections.definition_json`, as db/stores/elections.ts
 *   stores it: the import rule keeps drizzle out of the objects, so this is one plain statement);
 * - the tally's exact totals (the election's ResultsAggregator `exact()`);
 * - the log's record entries (0x03 / 0x19), read back from the published entry bundles in R2,
 *   in log order.
 * The tally and the recount of the records must agree per district, contest and selection
 * (totalsDifferences); while they do not, nothing is exported and the sequencer's status says why.
 */
import { decodeEntry, encodeEntry, type LogEntryOf } from "../lib/audit/entries.ts";
import {
  CVR_EXPORT_PATH,
  EXPORT_CONTENT_TYPE,
  EXPORT_SIGNATURE_CONTENT_TYPE,
  IMMUTABLE_CACHE_CONTROL,
  RESULTS_EXPORT_PATH,
  logObjectKey,
  signaturePath,
} from "../lib/audit/layout.ts";
import { RecordTally, type RecordEntry } from "../lib/audit/recount.ts";
import { sha256Hex } from "../lib/digest.ts";
import { parseDefinition, type ElectionDefinition } from "../lib/election/definition.ts";
import type { CompiledElection } from "../lib/election/model.ts";
import { totalsDifferences } from "../lib/nist/compare.ts";
import { exportedDefinition } from "../lib/election/export.ts";
import { buildCvrReport } from "../lib/nist/cvr-report.ts";
import { signDetached } from "../lib/nist/jws.ts";
import { buildResultsReport, serializeReport } from "../lib/nist/results-report.ts";
import { err, ok, type Result } from "../lib/result.ts";
import { decodeEntryBundle, entriesPath, TILE_WIDTH } from "../lib/tlog/tiles.ts";
import type { CastVoteRecordsMode } from "../lib/vocabulary.ts";
import { resultsAggregatorFor } from "./addresses.ts";
import { logSigner } from "./log-key.ts";

/** The loaded definition and its compiled election, straight from D1. */
export async function loadDefinition(
  env: Env,
  electionId: string,
): Promise<Result<{ definition: ElectionDefinition; election: CompiledElection }, string>> {
  const row = await env.DB.prepare(`SELECT definition_json FROM elections WHERE id = ?`)
    .bind(electionId)
    .first<{ definition_json: string }>();
  if (!row) return err(`no definition of election ${electionId} is stored`);
  const parsed = parseDefinition(JSON.parse(row.definition_json));
  if (!parsed.ok) return err(`the stored definition of election ${electionId} no longer parses`);
  // The exports build on the report with what the loader derived written out (export.ts).
  return ok({ definition: exportedDefinition(parsed.value), election: parsed.value.election });
}

/** The record entries among the log's first `size` entries, in log order, from the public bundles. */
export async function readLogRecords(
  env: Env,
  electionId: string,
  size: number,
): Promise<Result<RecordEntry[], string>> {
  const records: RecordEntry[] = [];
  const full = Math.floor(size / TILE_WIDTH);
  const partial = size % TILE_WIDTH;
  const bundles = Array.from({ length: full }, (_, n) => ({ n, width: TILE_WIDTH }));
  if (partial > 0) bundles.push({ n: full, width: partial });
  for (const { n, width } of bundles) {
    const path = entriesPath(n, width === TILE_WIDTH ? undefined : width);
    const object = await env.AUDIT_LOG.get(logObjectKey(electionId, path));
    if (!object) return err(`entry bundle ${path} is not in R2`);
    const entries = decodeEntryBundle(new Uint8Array(await object.arrayBuffer()), width);
    if (!entries.ok) return err(`entry bundle ${path}: ${entries.error}`);
    for (const bytes of entries.value) {
      const entry = decodeEntry(bytes);
      if (!entry.ok) return err(`an entry of bundle ${path} does not decode: ${entry.error}`);
      if (entry.value.type === "cast-vote-record" || entry.value.type === "contest-vote-record")
        records.push(entry.value);
    }
  }
  return ok(records);
}

export interface BuiltExports {
  readonly results: Uint8Array;
  readonly cvr: Uint8Array;
  readonly resultsSha256: string;
  readonly cvrSha256: string;
  readonly records: number;
}

/**
 * Gathers, checks and builds the exports as of a log of `logSize` published entries. An error is
 * a sentence for the sequencer's status: the channels disagree, or something could not be read.
 */
export async function prepareExports(
  env: Env,
  electionId: string,
  logSize: number,
  mode: CastVoteRecordsMode,
  generatedAt: string,
): Promise<Result<BuiltExports, string>> {
  const loaded = await loadDefinition(env, electionId);
  if (!loaded.ok) return loaded;
  // Results are final only once every held ballot is decided (an offline check-in's conflict,
  // db/stores/conflicts.ts): until then a ballot may still join the tally.
  const open = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM offline_conflicts WHERE election_id = ? AND state NOT IN ('count', 'do-not-count')`,
  )
    .bind(electionId)
    .first<{ n: number }>();
  if ((open?.n ?? 0) > 0) return err(`${open?.n ?? 0} offline conflict(s) await an administrator's decision`);
  const records = await readLogRecords(env, electionId, logSize);
  if (!records.ok) return records;
  const recount = new RecordTally();
  for (const record of records.value) recount.add(record);
  const counted = recount.finish();
  if (counted.problems.length > 0) return err(`the log's records do not add up: ${counted.problems[0] ?? ""}`);
  const { totals } = await resultsAggregatorFor(env, electionId).exact();
  const differences = totalsDifferences(totals, counted.totals, "the tally", "the log's records");
  if (differences.length > 0)
    return err(
      `the tally and the log's records disagree (${differences.length} difference(s)), first: ${differences[0] ?? ""}`,
    );
  const { definition, election } = loaded.value;
  // The log's own recount is what is exported: it equals the tally (checked just above), and it is
  // in the canonical order whatever order the tally's shards reported in.
  const results = serializeReport(buildResultsReport({ definition, election, totals: counted.totals, generatedAt }));
  const cvr = serializeReport(buildCvrReport({ definition, election, mode, records: records.value, generatedAt }));
  return ok({
    results,
    cvr,
    resultsSha256: sha256Hex(results),
    cvrSha256: sha256Hex(cvr),
    records: records.value.length,
  });
}

/** Puts both exports and their detached signatures (same bytes on every retry: immutable paths). */
export async function writeExports(env: Env, electionId: string, built: BuiltExports): Promise<void> {
  const signer = await logSigner(env, electionId);
  const key = signer.privateKey;
  if (key instanceof Uint8Array) throw new Error("the log signer holds a raw seed, not a CryptoKey");
  const put = (path: string, body: Uint8Array | string, contentType: string): Promise<R2Object> =>
    env.AUDIT_LOG.put(logObjectKey(electionId, path), body, {
      httpMetadata: { contentType, cacheControl: IMMUTABLE_CACHE_CONTROL },
    });
  for (const [path, bytes] of [
    [RESULTS_EXPORT_PATH, built.results],
    [CVR_EXPORT_PATH, built.cvr],
  ] as const) {
    await put(path, bytes, EXPORT_CONTENT_TYPE);
    await put(signaturePath(path), await signDetached(bytes, key, signer.name), EXPORT_SIGNATURE_CONTENT_TYPE);
  }
}

/** The log entry that publishes the exports (its time and size come from stored state). */
export function resultsPublishedEntry(
  at: string,
  logSize: number,
  built: BuiltExports,
): LogEntryOf<"results-published"> {
  const entry: LogEntryOf<"results-published"> = {
    type: "results-published",
    at,
    logSize,
    records: built.records,
    resultsSha256: built.resultsSha256,
    cvrSha256: built.cvrSha256,
  };
  encodeEntry(entry);
  return entry;
}
