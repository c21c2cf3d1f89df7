/**
 * Validates one chunk of a voter roll: the chunk as a whole (CSV at all, the header, the row
 * limit), then each row on its own. A chunk-level problem refuses the chunk and nothing of it is
 * written; a row-level problem rejects that row only, and the chunk's good rows still land.
 *
 * Runtime-free (csv-parse's sync API is plain JavaScript): the Worker runs it on every chunk, the
 * Node tests run it directly.
 */
import { CsvError, parse } from "csv-parse/sync";
import { NationalId } from "../identity/national-id.ts";
import { err, ok, type Result } from "../result.ts";
import { checkRollHeader, MAX_CHUNK_ROWS, MAX_RECORD_BYTES, ROLL_COLUMNS, RollDistrictId } from "./format.ts";

/** A row that passed validation: the normalised national id (never stored) and its district. */
export interface RollEntry {
  readonly line: number;
  readonly nationalId: string;
  readonly districtId: string;
}

export interface RejectedRow {
  readonly line: number;
  readonly reason: string;
}

export interface ValidatedChunk {
  /** The original file's line of the chunk's first data row. */
  readonly firstLine: number;
  readonly rows: number;
  readonly entries: readonly RollEntry[];
  /** Every rejected row, in file order. */
  readonly rejected: readonly RejectedRow[];
}

/** Why a whole chunk is refused; `code` is the API error it becomes. */
export interface ChunkRefusal {
  readonly code: "invalid_roll" | "payload_too_large";
  readonly message: string;
  /** The original file's line, when the problem is at one. */
  readonly line?: number;
}

export interface ValidateOptions {
  /** The original file's line of the chunk's first data row; absent when the chunk is the whole file. */
  readonly firstLine?: number;
  /** Whether a district has a ballot style in the election. */
  readonly hasDistrict: (districtId: string) => boolean;
}

interface ParsedRecord {
  readonly fields: readonly string[];
  /** Line (of the chunk) where the record starts. */
  readonly startLine: number;
}

export function validateRollChunk(text: string, options: ValidateOptions): Result<ValidatedChunk, ChunkRefusal> {
  const firstDataLine = firstDataLineOf(text);
  // Chunk line -> original line. Without firstLine the chunk is the file and lines are its own.
  const shift = options.firstLine === undefined ? 0 : options.firstLine - firstDataLine;
  const lineOf = (chunkLine: number): number => chunkLine + shift;

  const parsed = parseRecords(text);
  if (!parsed.ok) {
    const line = parsed.error.line === undefined ? undefined : lineOf(parsed.error.line);
    return err({
      code: "invalid_roll",
      message: `not a readable CSV file: ${parsed.error.message}`,
      ...(line === undefined ? {} : { line }),
    });
  }
  const [header, ...rows] = parsed.value;
  if (!header) {
    return err({
      code: "invalid_roll",
      message: `the file is empty; its first line must be the header ${ROLL_COLUMNS.join(",")}`,
    });
  }
  const columns = checkRollHeader(header.fields);
  if (!columns.ok) return err({ code: "invalid_roll", message: `bad header: ${columns.error}` });
  if (rows.length > MAX_CHUNK_ROWS) {
    return err({
      code: "payload_too_large",
      message: `a chunk has at most ${MAX_CHUNK_ROWS} rows; this one has ${rows.length}`,
    });
  }

  const entries: RollEntry[] = [];
  const rejected: RejectedRow[] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const line = lineOf(row.startLine);
    const verdict = checkRow(row.fields, columns.value, options.hasDistrict, seen, line);
    if (verdict.ok) entries.push({ line, ...verdict.value });
    else rejected.push({ line, reason: verdict.error });
  }
  return ok({
    firstLine: rows[0] ? lineOf(rows[0].startLine) : (options.firstLine ?? firstDataLine),
    rows: rows.length,
    entries,
    rejected,
  });
}

/**
 * Reasons never repeat the national id: they end up in terminals and logs, and the roll keeps
 * national ids out of everything but the official's own file.
 */
function checkRow(
  fields: readonly string[],
  columns: { readonly national_id: number; readonly district: number },
  hasDistrict: (districtId: string) => boolean,
  seen: Map<string, number>,
  line: number,
): Result<{ nationalId: string; districtId: string }, string> {
  if (fields.length !== ROLL_COLUMNS.length) {
    return err(`expected ${ROLL_COLUMNS.length} fields (${ROLL_COLUMNS.join(",")}), found ${fields.length}`);
  }
  const nationalId = NationalId.safeParse(fields[columns.national_id]);
  if (!nationalId.success) return err(`national_id: ${nationalId.error.issues[0]?.message ?? "invalid"}`);
  // Any earlier row with this id, accepted or not, makes this one the duplicate.
  const earlier = seen.get(nationalId.data);
  if (earlier !== undefined) return err(`national_id: the same national id is already on line ${earlier}`);
  seen.set(nationalId.data, line);
  const district = RollDistrictId.safeParse(fields[columns.district]);
  if (!district.success) return err(`district: ${district.error.issues[0]?.message ?? "invalid"}`);
  if (!hasDistrict(district.data)) {
    return err(`district: ${JSON.stringify(district.data.slice(0, 64))} has no ballot style in this election`);
  }
  return ok({ nationalId: nationalId.data, districtId: district.data });
}

function parseRecords(text: string): Result<ParsedRecord[], { message: string; line?: number }> {
  const records: ParsedRecord[] = [];
  let previousEnd = 0;
  let previousEmpty = 0;
  try {
    parse(text, {
      bom: true,
      // Rows with the wrong number of fields and stray quotes inside a field are row problems,
      // reported with their line, not reasons to refuse the chunk.
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_BYTES,
      // `lines` is where a record ends; it starts after the previous record and the blank lines
      // skipped since, which is how a row spanning lines (a quoted newline) keeps its first line.
      on_record: (record, context) => {
        records.push({ fields: record, startLine: previousEnd + 1 + (context.empty_lines - previousEmpty) });
        previousEnd = context.lines;
        previousEmpty = context.empty_lines;
        return null;
      },
    });
  } catch (error) {
    if (error instanceof CsvError) {
      const line = typeof error["lines"] === "number" ? error["lines"] : undefined;
      return err({ message: error.message.replace(/\s+at line \d+.*$/, ""), ...(line === undefined ? {} : { line }) });
    }
    throw error;
  }
  return ok(records);
}

/**
 * The chunk line of the first data row: the first non-blank line after the first non-blank line
 * (the header). A valid header is a single line, since no column name holds a line break.
 */
function firstDataLineOf(text: string): number {
  let line = 1;
  let sawHeader = false;
  let start = 0;
  while (start <= text.length) {
    const end = text.indexOf("\n", start);
    const content = text.slice(start, end < 0 ? text.length : end).replace(/^\uFEFF/, "");
    if (content !== "" && content !== "\r") {
      if (sawHeader) return line;
      sawHeader = true;
    }
    if (end < 0) break;
    start = end + 1;
    line += 1;
  }
  return sawHeader ? line + 1 : 2;
}
