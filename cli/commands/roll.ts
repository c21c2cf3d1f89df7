/**
 * `admin roll ...`: import a voter roll file, count the roll, write a synthetic roll.
 *
 * An import streams the file, cuts it into chunks at record boundaries (lib/roll/chunker.ts) and
 * sends them one after the other. Each chunk is idempotent on the server (an upsert, in one D1
 * transaction), so a chunk whose answer was lost is simply sent again, and a whole import that
 * stopped half way is finished by running it again.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError } from "commander";
import { SingleBar } from "cli-progress";
import { ElectionId } from "../../lib/election/settings.ts";
import { chunkRoll } from "../../lib/roll/chunker.ts";
import { MAX_CHUNK_ROWS, RollChunkReport, RollSummary } from "../../lib/roll/format.ts";
import { checkSyntheticRoll, syntheticRollText } from "../../lib/roll/generate.ts";
import { ApiCallError, OfficialClient } from "../lib/api.ts";

/** What the import needs of the API client; tests pass a fake. */
export type RollApi = Pick<OfficialClient, "call">;

export interface ImportOptions {
  readonly chunkRows?: number;
  /** Rejected rows kept for the summary (all are counted). */
  readonly keepRejected?: number;
  /** Attempts per chunk when the server or the network fails (5xx, 429, no answer). */
  readonly attempts?: number;
  /** Called after every chunk and as the file is read. */
  readonly onProgress?: (progress: ImportProgress) => void;
  /** Called before a chunk is sent again. */
  readonly onRetry?: (firstLine: number, attempt: number, error: unknown) => void;
}

export interface ImportProgress {
  readonly bytesRead: number;
  readonly rowsSent: number;
  readonly rejected: number;
}

export interface ImportSummary {
  readonly chunks: number;
  readonly rows: number;
  readonly accepted: number;
  readonly written: number;
  readonly unchanged: number;
  readonly rejectedTotal: number;
  /** The first `keepRejected` rejected rows, in file order. */
  readonly rejected: readonly { readonly line: number; readonly reason: string }[];
  /**
   * Chunks sent more than once after a failure. A chunk whose first answer was lost may have been
   * written then, so its rows can count as unchanged on the retry: `written` is then a lower bound.
   */
  readonly retried: number;
  /**
   * Set when the import stopped before the end of the file: the file could not be cut past some
   * line, or the server refused a chunk's content as a whole. Every row before `line` was sent.
   */
  readonly stoppedAt?: { readonly line: number; readonly message: string };
}

/** Refusals about a chunk's content (the import stops there); anything else is thrown. */
const CONTENT_REFUSALS: ReadonlySet<number> = new Set([413, 422]);

const RETRY_BASE_MS = 500;

/**
 * Streams `file` to the roll of `electionId`, one chunk at a time. A chunk the server refuses for
 * its content (413, 422) ends the import with `stoppedAt`; any other refusal (401, 403, 404, 415)
 * is about the call, not the file, and is thrown as ApiCallError.
 */
export async function importRollFile(
  api: RollApi,
  electionId: string,
  file: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const keep = options.keepRejected ?? 20;
  const path = `/v1/admin/elections/${encodeURIComponent(electionId)}/roll`;
  const totals = { chunks: 0, rows: 0, accepted: 0, written: 0, unchanged: 0, rejectedTotal: 0, retried: 0 };
  const rejected: { line: number; reason: string }[] = [];
  let stoppedAt: { line: number; message: string } | undefined;

  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 20 });
  const report = (): void =>
    options.onProgress?.({ bytesRead: stream.bytesRead, rowsSent: totals.rows, rejected: totals.rejectedTotal });
  async function* pieces(): AsyncGenerator<string> {
    for await (const piece of stream) {
      if (typeof piece !== "string") throw new Error("the file stream must yield text");
      yield piece;
      report();
    }
  }

  try {
    for await (const next of chunkRoll(pieces(), { maxRows: options.chunkRows ?? MAX_CHUNK_ROWS })) {
      if (!next.ok) {
        stoppedAt = next.error;
        break;
      }
      const chunk = next.value;
      let answer: unknown;
      try {
        let retried = false;
        answer = await withRetries(
          options.attempts ?? 4,
          () =>
            api.call("POST", `${path}?firstLine=${chunk.firstLine}`, {
              text: chunk.text,
              contentType: "text/csv; charset=utf-8",
            }),
          (attempt, error) => {
            retried = true;
            options.onRetry?.(chunk.firstLine, attempt, error);
          },
        );
        if (retried) totals.retried += 1;
      } catch (error) {
        if (!(error instanceof ApiCallError && CONTENT_REFUSALS.has(error.status))) throw error;
        // Nothing of a refused chunk is written, so the import stands at the chunk's first row.
        const where = error.problems.find((p) => /^line \d+$/.test(p.path))?.path;
        stoppedAt = { line: chunk.firstLine, message: `${error.code}: ${error.message}${where ? ` (${where})` : ""}` };
        break;
      }
      const result = RollChunkReport.parse(answer);
      totals.chunks += 1;
      totals.rows += result.rows;
      totals.accepted += result.accepted;
      totals.written += result.written;
      totals.unchanged += result.unchanged;
      totals.rejectedTotal += result.rejectedTotal;
      for (const r of result.rejected) if (rejected.length < keep) rejected.push(r);
      report();
    }
  } finally {
    stream.destroy();
  }
  return { ...totals, rejected, ...(stoppedAt ? { stoppedAt } : {}) };
}

/** Retries what may be transient: no answer at all, 5xx, 429. A 4xx refusal is final. */
async function withRetries<T>(
  attempts: number,
  send: () => Promise<T>,
  onRetry: (attempt: number, error: unknown) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const transient =
        error instanceof ApiCallError ? error.status >= 500 || error.status === 429 : error instanceof TypeError;
      if (!transient || attempt >= attempts) throw error;
      onRetry(attempt + 1, error);
      await sleep(RETRY_BASE_MS * 2 ** (attempt - 1));
    }
  }
}

function positiveInteger(max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`a whole number from 1 to ${max}`);
    }
    return n;
  };
}

function electionIdArgument(value: string): string {
  const parsed = ElectionId.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? "not an election id");
  return parsed.data;
}

/** Plain digits: the output is read by people and by scripts that grep it. */
const n = (value: number): string => String(value);

export function printImportSummary(
  electionId: string,
  file: string,
  summary: ImportSummary,
  seconds: number,
  out: (line: string) => void = console.log,
): void {
  out(
    `Roll of ${electionId} from ${file}: ${n(summary.rows)} rows in ${n(summary.chunks)} chunks, ${seconds.toFixed(1)} s`,
  );
  out(`  accepted   ${n(summary.accepted)} (written ${n(summary.written)}, unchanged ${n(summary.unchanged)})`);
  out(`  rejected   ${n(summary.rejectedTotal)}`);
  for (const r of summary.rejected) out(`    line ${r.line}: ${r.reason}`);
  if (summary.rejectedTotal > summary.rejected.length)
    out(`    ... and ${n(summary.rejectedTotal - summary.rejected.length)} more`);
  if (summary.retried > 0) {
    out(
      `  ${n(summary.retried)} chunks were sent again after a failure; rows a lost answer had already written count as unchanged`,
    );
  }
  if (summary.stoppedAt) {
    out(`  stopped at line ${summary.stoppedAt.line}: ${summary.stoppedAt.message}`);
    out(
      "  the rows before that line were sent; fix the file and import it again (rows already on the roll stay as they are)",
    );
  }
}

export function rollCommands(): Command {
  const roll = new Command("roll").description("The voter roll: import a CSV file, count it, write a synthetic one.");

  roll
    .command("import")
    .description(
      "Import a CSV with the columns national_id,district into an election's roll (idempotent). Exits 1 if any row is rejected.",
    )
    .argument("<electionId>", "the election", electionIdArgument)
    .argument("<file>", "the roll file (CSV, UTF-8)")
    .option(
      "--chunk-rows <n>",
      `rows per request (at most ${n(MAX_CHUNK_ROWS)})`,
      positiveInteger(MAX_CHUNK_ROWS),
      MAX_CHUNK_ROWS,
    )
    .action(async (electionId: string, file: string, opts: { chunkRows: number }) => {
      const { size } = await stat(file);
      const bar = new SingleBar({
        format: "roll import |{bar}| {percentage}% | {rows} rows sent | {rejected} rejected | ETA {eta_formatted}",
        stream: process.stderr,
        hideCursor: true,
      });
      bar.start(Math.max(size, 1), 0, { rows: 0, rejected: 0 });
      const started = performance.now();
      let summary: ImportSummary;
      try {
        summary = await importRollFile(OfficialClient.fromEnv(), electionId, file, {
          chunkRows: opts.chunkRows,
          onProgress: (p) => bar.update(p.bytesRead, { rows: n(p.rowsSent), rejected: n(p.rejected) }),
          onRetry: (line, attempt, error) => {
            const reason =
              error instanceof ApiCallError ? `${error.status} ${error.code}: ${error.message}` : String(error);
            console.error(`\nchunk from line ${line}: sending again (attempt ${attempt}) after ${reason}`);
          },
        });
      } finally {
        bar.stop();
      }
      printImportSummary(electionId, file, summary, (performance.now() - started) / 1000);
      if (summary.rejectedTotal > 0 || summary.stoppedAt) process.exitCode = 1;
    });

  roll
    .command("summary")
    .description("Count the voters on an election's roll, in total and per district.")
    .argument("<electionId>", "the election", electionIdArgument)
    .action(async (electionId: string) => {
      const summary = RollSummary.parse(
        await OfficialClient.fromEnv().call("GET", `/v1/admin/elections/${encodeURIComponent(electionId)}/roll`),
      );
      console.log(`Roll of ${summary.electionId}: ${n(summary.total)} voters`);
      const width = Math.max(0, ...Object.keys(summary.byDistrict).map((d) => d.length));
      for (const [district, count] of Object.entries(summary.byDistrict))
        console.log(`  ${district.padEnd(width)}  ${n(count).padStart(12)}`);
    });

  roll
    .command("generate")
    .description(
      "Write a synthetic roll: PREFIX-0001, PREFIX-0002, ... spread over the districts in turn. The same options give the same file.",
    )
    .argument("<file>", "where to write it")
    .requiredOption("--count <n>", "how many voters", positiveInteger(100_000_000))
    .requiredOption("--districts <ids>", "comma-separated district ids, e.g. district-north,district-south")
    .option("--prefix <prefix>", "national id prefix (capital letters, digits, dashes)", "VOTER")
    .action(async (file: string, opts: { count: number; districts: string; prefix: string }, command: Command) => {
      const checked = checkSyntheticRoll({
        count: opts.count,
        districts: opts.districts.split(",").map((d) => d.trim()),
        prefix: opts.prefix,
      });
      if (!checked.ok) command.error(`error: ${checked.error}`);
      await pipeline(Readable.from(syntheticRollText(checked.value)), createWriteStream(file));
      console.log(`wrote ${file}: ${n(checked.value.count)} voters over ${checked.value.districts.length} districts`);
    });

  return roll;
}
