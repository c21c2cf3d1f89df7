/**
 * Cuts a roll file, as it streams in, into chunks the Worker accepts: at most `maxRows` data rows
 * and `maxBytes` bytes each, cut only between records, each chunk the file's header followed by a
 * contiguous run of the file's own lines. Because a chunk's lines are the file's lines, verbatim
 * and in order (blank lines included), the Worker maps a row's line in the chunk back to the file
 * from one number: `firstLine`, the file line of the chunk's first data row.
 *
 * Record boundaries follow RFC 4180 as csv-parse reads it with `relax_quotes` (see validate.ts): a
 * line break ends a record unless it is inside a field that opened with a quote. Nothing else is
 * interpreted here; rows are judged by the Worker.
 *
 * Runtime-free: pieces of text in, chunks out; the CLI feeds it from a file stream.
 */
import { err, ok, type Result } from "../result.ts";
import { MAX_CHUNK_BYTES, MAX_CHUNK_ROWS, MAX_RECORD_BYTES } from "./format.ts";

export interface RollChunk {
  /** The header line, then the chunk's lines as they are in the file. */
  readonly text: string;
  /** File line of the first data row. */
  readonly firstLine: number;
  /** Data rows (blank lines are not rows). */
  readonly rows: number;
  /** UTF-8 length of `text`. */
  readonly bytes: number;
}

/** A file the chunker cannot cut safely; nothing after `line` was cut. */
export interface ChunkerProblem {
  readonly line: number;
  readonly message: string;
}

export interface ChunkerOptions {
  readonly maxRows?: number;
  readonly maxBytes?: number;
}

/** Where the scanner is inside a record. */
const Scan = {
  FieldStart: 0,
  Unquoted: 1,
  Quoted: 2,
  /** A quote inside a quoted field: the first of an escaped pair, or the closing quote. */
  QuoteInQuoted: 3,
} as const;
type Scan = (typeof Scan)[keyof typeof Scan];

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

export async function* chunkRoll(
  pieces: AsyncIterable<string> | Iterable<string>,
  options: ChunkerOptions = {},
): AsyncGenerator<Result<RollChunk, ChunkerProblem>> {
  const maxRows = options.maxRows ?? MAX_CHUNK_ROWS;
  const maxBytes = options.maxBytes ?? MAX_CHUNK_BYTES;
  if (!(Number.isInteger(maxRows) && maxRows >= 1 && maxRows <= MAX_CHUNK_ROWS)) {
    throw new RangeError(`maxRows must be an integer from 1 to ${MAX_CHUNK_ROWS}`);
  }

  let state: Scan = Scan.FieldStart;
  let line = 1;
  let recordLine = 1;
  /** Text of the record being scanned that came in earlier pieces. */
  let carried = "";
  let first = true;

  let header: { text: string; bytes: number } | undefined;
  let parts: string[] = [];
  let chunkRows = 0;
  let chunkBytes = 0;
  let chunkFirstLine = 0;
  const ready: RollChunk[] = [];

  const cut = (): void => {
    if (!header || chunkRows === 0) return;
    ready.push({
      text: header.text + parts.join(""),
      firstLine: chunkFirstLine,
      rows: chunkRows,
      bytes: header.bytes + chunkBytes,
    });
    parts = [];
    chunkRows = 0;
    chunkBytes = 0;
  };

  /**
   * Every row before a problem goes out, the half-filled chunk too, and nothing from the problem
   * on: "all rows before line N were sent" holds whatever the chunk size.
   */
  function* stopAt(problem: ChunkerProblem): Generator<Result<RollChunk, ChunkerProblem>> {
    cut();
    for (const chunk of ready.splice(0)) yield ok(chunk);
    yield err(problem);
  }

  /** Places one whole record (with its line break, if it had one); a string is a problem. */
  const place = (record: string, startLine: number): ChunkerProblem | undefined => {
    const blank = record === "" || record === "\n" || record === "\r\n" || record === "\r";
    if (!header) {
      if (blank) return undefined;
      const text = record.endsWith("\n") ? record : `${record}\n`;
      header = { text, bytes: utf8Length(text) };
      return undefined;
    }
    const bytes = utf8Length(record);
    if (blank) {
      // Blank lines between rows stay, so the chunk's lines stay the file's; at a chunk's start
      // they are dropped, so the chunk's first line after the header is its first data row.
      if (chunkRows > 0) {
        parts.push(record);
        chunkBytes += bytes;
      }
      return undefined;
    }
    if (bytes > MAX_RECORD_BYTES) return tooLong(startLine);
    if (chunkRows > 0 && header.bytes + chunkBytes + bytes > maxBytes) cut();
    if (chunkRows === 0) chunkFirstLine = startLine;
    parts.push(record);
    chunkRows += 1;
    chunkBytes += bytes;
    if (chunkRows >= maxRows) cut();
    return undefined;
  };

  for await (let piece of pieces) {
    if (first) {
      if (piece === "") continue;
      if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1);
      first = false;
    }
    let segmentStart = 0;
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      if (c === NEWLINE) {
        if (state === Scan.Quoted) {
          line += 1;
          continue;
        }
        const problem = place(carried + piece.slice(segmentStart, i + 1), recordLine);
        if (problem) {
          yield* stopAt(problem);
          return;
        }
        carried = "";
        segmentStart = i + 1;
        line += 1;
        recordLine = line;
        state = Scan.FieldStart;
        continue;
      }
      switch (state) {
        case Scan.FieldStart:
          state = c === QUOTE ? Scan.Quoted : c === COMMA ? Scan.FieldStart : Scan.Unquoted;
          break;
        case Scan.Unquoted:
          if (c === COMMA) state = Scan.FieldStart;
          break;
        case Scan.Quoted:
          if (c === QUOTE) state = Scan.QuoteInQuoted;
          break;
        case Scan.QuoteInQuoted:
          state = c === QUOTE ? Scan.Quoted : c === COMMA ? Scan.FieldStart : Scan.Unquoted;
          break;
      }
    }
    carried += piece.slice(segmentStart);
    // A record this long is an unclosed quote eating the file: stop before it eats the memory.
    if (carried.length > MAX_RECORD_BYTES) {
      yield* stopAt(state === Scan.Quoted ? unclosed(recordLine) : tooLong(recordLine));
      return;
    }
    for (const chunk of ready.splice(0)) yield ok(chunk);
  }

  if (state === Scan.Quoted) {
    yield* stopAt(unclosed(recordLine));
    return;
  }
  if (carried !== "") {
    const problem = place(carried, recordLine);
    if (problem) {
      yield* stopAt(problem);
      return;
    }
  }
  cut();
  for (const chunk of ready.splice(0)) yield ok(chunk);
  if (!header)
    yield err({ line: 1, message: "the file is empty; its first line must be the header national_id,district" });
}

function tooLong(line: number): ChunkerProblem {
  return { line, message: `the row starting on line ${line} is longer than ${MAX_RECORD_BYTES} bytes` };
}

function unclosed(line: number): ChunkerProblem {
  return { line, message: `a quoted field on line ${line} never closes` };
}

/** UTF-8 length without encoding: roll files are ASCII in practice, so this is a tight loop. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i += 1;
    } else bytes += 2;
  }
  return bytes;
}
