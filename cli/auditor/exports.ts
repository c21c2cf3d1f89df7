/**
 * The auditor's check of the results exports (docs/AUDIT-LOG.md "Exports"), run by `recount` once
 * the log holds a results-published entry: both files (and their detached JWS) are read from the
 * same source as the log (the API's /v1/logs/<id>/exports/..., a public bucket, or a mirror), and
 * - their SHA-256 must be the entry's;
 * - each JWS must verify with the log's key (the one the checkpoints verified with);
 * - the results report's counts must equal the recount of the log's records, per district,
 *   contest and selection (write-ins and blank contests too);
 * - the CVR export must hold exactly the log's record entries before the entry, in log order;
 * and a results-certified entry must name the published report (LogAuditor checks it). Every
 * difference is collected, so one tampered count is named even though its digest fails too.
 */
import { EXPORT_PATHS, RESULTS_EXPORT_PATH, signaturePath, type ExportPath } from "../../lib/audit/layout.ts";
import { encodeEntry } from "../../lib/audit/entries.ts";
import type { AuditFindings } from "../../lib/audit/recount.ts";
import { hexEncode } from "../../lib/bytes.ts";
import { sha256Hex } from "../../lib/digest.ts";
import { totalsDifferences } from "../../lib/nist/compare.ts";
import { readCvrReport } from "../../lib/nist/cvr-report.ts";
import { verifyDetached } from "../../lib/nist/jws.ts";
import { readResultsReport } from "../../lib/nist/results-report.ts";
import { parseVerifierKey } from "../../lib/tlog/note.ts";
import type { LogSource } from "./source.ts";

export interface ExportsCheck {
  /** What holds, one line each, for the auditor's report. */
  readonly notes: readonly string[];
  /** What does not: each a sentence naming the file and the difference. */
  readonly problems: readonly string[];
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return undefined;
  }
}

export async function checkExports(
  findings: AuditFindings,
  source: LogSource,
  verifierKey: string,
): Promise<ExportsCheck> {
  const published = findings.resultsPublished;
  if (!published) return { notes: ["no results-published entry in the log yet: no exports to check"], problems: [] };
  const notes: string[] = [];
  const problems: string[] = [];
  const key = parseVerifierKey(verifierKey);
  if (!key.ok) return { notes, problems: [`the log's verifier key does not parse: ${key.error}`] };
  const digests: Record<ExportPath, string> = {
    [RESULTS_EXPORT_PATH]: published.entry.resultsSha256,
    "exports/cvr.json": published.entry.cvrSha256,
  };
  const files = new Map<ExportPath, Uint8Array>();
  for (const path of EXPORT_PATHS) {
    const bytes = await source.read(path);
    if (!bytes) {
      problems.push(`${path} is missing from ${source.where}`);
      continue;
    }
    files.set(path, bytes);
    const digest = sha256Hex(bytes);
    if (digest !== digests[path])
      problems.push(
        `${path}: its SHA-256 is ${digest}, the results-published entry (${published.index}) says ${digests[path]}`,
      );
    const jws = await source.read(signaturePath(path));
    if (!jws) problems.push(`${signaturePath(path)} is missing from ${source.where}`);
    else {
      const verified = await verifyDetached(new TextDecoder().decode(jws), bytes, key.value.publicKey);
      if (!verified.ok) problems.push(`${signaturePath(path)}: ${verified.error}`);
    }
  }

  const resultsBytes = files.get(RESULTS_EXPORT_PATH);
  if (resultsBytes) {
    const report = readResultsReport(parseJson(resultsBytes));
    if (!report.ok) problems.push(`${RESULTS_EXPORT_PATH}: ${report.error}`);
    else {
      const differences = totalsDifferences(findings.recount, report.value, "the log's records", "the results report");
      problems.push(...differences.map((d) => `${RESULTS_EXPORT_PATH}: ${d}`));
      if (differences.length === 0)
        notes.push(`${RESULTS_EXPORT_PATH} states the recount of the log's records to the vote`);
    }
  }
  const cvrBytes = files.get("exports/cvr.json");
  if (cvrBytes) {
    const cvr = readCvrReport(parseJson(cvrBytes));
    if (!cvr.ok) problems.push(`exports/cvr.json: ${cvr.error}`);
    else {
      const logged = findings.records.slice(0, published.recordsBefore).map((r) => hexEncode(encodeEntry(r)));
      const exported = cvr.value.map((r) => hexEncode(encodeEntry(r)));
      const first = logged.findIndex((r, i) => exported[i] !== r);
      if (exported.length !== logged.length)
        problems.push(
          `exports/cvr.json holds ${exported.length} CVRs, the log ${logged.length} records before entry ${published.index}`,
        );
      if (first >= 0) problems.push(`exports/cvr.json: CVR ${first + 1} is not the log's record ${first + 1}`);
      if (exported.length === logged.length && first < 0)
        notes.push(`exports/cvr.json holds exactly the log's ${logged.length} records, in log order`);
    }
  }
  if (problems.length === 0) notes.push("both exports match the results-published entry and verify with the log's key");
  for (const { entry } of findings.resultsCertified)
    notes.push(`certified by ${entry.officialId} at ${entry.at} (report ${entry.resultsSha256.slice(0, 16)}...)`);
  return { notes, problems };
}
