/**
 * The voter roll file: a CSV with exactly the columns `national_id` and `district` (either order,
 * nothing else), one eligible voter per row. Runtime-free: the Worker validates chunks with it and
 * the CLI cuts files by its limits.
 *
 * A roll reaches the Worker in chunks (see chunker.ts). Each chunk repeats the header and names, in
 * `firstLine`, the line of the original file where its first data row sits, so every rejected row
 * is reported with the line the official sees in their editor.
 */
import * as z from "zod";
import { err, ok, type Result } from "../result.ts";

/** The header's columns, in the order the generator writes them. */
export const ROLL_COLUMNS = ["national_id", "district"] as const;
export type RollColumn = (typeof ROLL_COLUMNS)[number];

/**
 * At most this many data rows per chunk. Derived from D1's limits: a chunk is written in one
 * `batch` (one transaction), 33 rows per statement (see db/stores/roll.ts), so
 * 10,000 rows are 304 statements, well inside the 1,000 queries a Worker invocation may make.
 */
export const MAX_CHUNK_ROWS = 10_000;

/**
 * At most this many bytes per chunk body. A roll row is at most ~100 bytes (a 32-character id, a
 * district id, quotes), so 10,000 rows fit in 1 MB; 5 MiB leaves room for odd quoting while
 * keeping one request's parse well under a Worker's CPU and memory budget.
 */
export const MAX_CHUNK_BYTES = 5 * 1024 * 1024;

/**
 * A single record longer than this is not a roll row: almost always a quote that never closes and
 * swallows the rest of the file. The chunker stops there rather than sending megabytes as one row.
 */
export const MAX_RECORD_BYTES = 4096;

/** Rejected rows listed per chunk; the rest are only counted (`rejectedTotal`). */
export const MAX_REJECTED_LISTED = 1000;

/** A district id as it appears in the roll; whether it is one of the election's is checked apart. */
export const RollDistrictId = z
  .string()
  .trim()
  .min(1, "the district is empty")
  .max(128, "a district id is at most 128 characters");

/** Where each column sits in the chunk's records. */
export type RollColumnIndex = Readonly<Record<RollColumn, number>>;

/** The header must name exactly the roll's columns, once each, in any order. */
export function checkRollHeader(fields: readonly string[]): Result<RollColumnIndex, string> {
  const names = fields.map((f) => f.trim());
  const unknown = names.filter((n) => !(ROLL_COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    const listed = unknown.map((n) => JSON.stringify(n.slice(0, 40))).join(", ");
    return err(
      `unexpected column${unknown.length > 1 ? "s" : ""} ${listed}; the header must be exactly ${ROLL_COLUMNS.join(",")}`,
    );
  }
  const nationalId = names.indexOf("national_id");
  const district = names.indexOf("district");
  if (nationalId < 0 || district < 0 || names.length !== ROLL_COLUMNS.length) {
    return err(`the header must name each of ${ROLL_COLUMNS.join(",")} exactly once`);
  }
  return ok({ national_id: nationalId, district });
}

/** What the Worker answers for one chunk; the CLI parses it back with the same schema. */
export const RollChunkReport = z.object({
  electionId: z.string(),
  /** The original file's line of the chunk's first data row. */
  firstLine: z.number().int(),
  /** Data rows in the chunk (blank lines are not rows). */
  rows: z.number().int(),
  /** Rows that passed validation: written + unchanged. */
  accepted: z.number().int(),
  /** Roll entries inserted, moved to another district, or given their pollbook id (a re-import). */
  written: z.number().int(),
  /** Accepted rows already on the roll with the same district and pollbook id (a re-import). */
  unchanged: z.number().int(),
  /** The first MAX_REJECTED_LISTED rejected rows, by line of the original file. */
  rejected: z.array(z.object({ line: z.number().int(), reason: z.string() })),
  rejectedTotal: z.number().int(),
});
export type RollChunkReport = z.infer<typeof RollChunkReport>;

export const RollSummary = z.object({
  electionId: z.string(),
  total: z.number().int(),
  byDistrict: z.record(z.string(), z.number().int()),
});
export type RollSummary = z.infer<typeof RollSummary>;
