/**
 * The polling station's command line: `npm run station -- --setup FILE --data DIR <command>`.
 *
 *   status                                          the station, its outbox and its counts
 *   check-in NATIONAL_ID [--biometric-score N]      check a voter in (online, else from the pollbook)
 *   scan (--qr TEXT | --image FILE) [--envelope CODE] [--district D] [--marks JSON]
 *   cancel (--serial N | --qr TEXT) --reason spoiled|void [--district D]
 *   outbox [--limit N]                              newest first
 *   sync                                            send what is pending now, in order
 *   pollbook                                        download the pollbook again
 *   result-sheet [--svg FILE]                       once the polls have closed
 *   serve [--port N]                                the console on 127.0.0.1, syncing in the background
 *
 * Plain sentences by default, JSON with --json. The exit code is 0 when the task was done or
 * queued, 1 when it was refused (the code says why), 2 on a usage or setup problem.
 */
import { readFile, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import * as z from "zod";
import { ContestMarks } from "../lib/ballot/messages.ts";
import type { Identity, OutboxItem, Refusal, StationStatus } from "./operations.ts";
import { startConsole } from "./console/server.ts";
import { qrTextFromImage } from "./qr-image.ts";
import { readSetupFile } from "./setup.ts";
import { Station } from "./station.ts";

interface Globals {
  setup: string;
  data: string;
  json?: boolean;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

function score(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError("expected a score from 0 to 1");
  return n;
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === "object" && value !== null && (value as { outcome?: unknown }).outcome === "refused";
}

const program = new Command("station")
  .description("The polling station's client: check-ins, scans and the result sheet, offline first.")
  .requiredOption("--setup <file>", "the station's setup file (admin station setup-file)")
  .requiredOption("--data <dir>", "the station's data directory (its local database)")
  .option("--json", "answer in JSON")
  .showHelpAfterError();

async function withStation<T>(fn: (station: Station) => Promise<T>): Promise<T> {
  const globals = program.opts<Globals>();
  const setup = await readSetupFile(globals.setup);
  if (!setup.ok) {
    console.error(setup.error);
    process.exit(2);
  }
  const station = await Station.open(setup.value, globals.data);
  try {
    return await fn(station);
  } finally {
    await station.close();
  }
}

/** Prints the answer (JSON, or `sentence` of it) and sets the exit code for a refusal. */
function answer<T>(value: T, sentence: (value: T) => string): void {
  const json = program.opts<Globals>().json === true;
  if (isRefusal(value)) {
    process.exitCode = 1;
    if (json) console.log(JSON.stringify(value, null, 2));
    else console.error(`Refused (${value.code}): ${value.message}`);
    return;
  }
  console.log(json ? JSON.stringify(value, null, 2) : sentence(value));
}

function statusSentence(s: StationStatus): string {
  return [
    `Station ${s.stationId}, election ${s.electionId}, districts ${s.districtIds.join(", ")}.`,
    `${s.online ? "Online" : "Offline"}; last sync ${s.lastSyncAt ?? "never"}.`,
    s.lastError ? `Last problem: ${s.lastError.code}: ${s.lastError.message}` : "",
    `Outbox: ${s.pending} pending, ${s.failed} failed.`,
    s.pollbook ? `Pollbook: ${s.pollbook.entries} voters, issued ${s.pollbook.issuedAt}.` : "No pollbook.",
    `Checked in ${s.checkIns}, ballots scanned ${s.scans}, cancelled ${s.cancellations}.`,
    s.openEnvelopes.length > 0 ? `Envelopes not yet scanned: ${s.openEnvelopes.join(", ")}.` : "",
    s.resultSheet ? `Result sheet ${s.resultSheet.sequence}: ${s.resultSheet.state}.` : "",
  ]
    .filter((line) => line !== "")
    .join("\n");
}

function outboxLine(item: OutboxItem): string {
  const error = item.error ? ` — ${item.error.code}: ${item.error.message}` : "";
  return `#${item.seq} ${item.createdAt} ${item.kind} ${item.state} (${item.attempts} attempts): ${item.summary}${error}`;
}

program
  .command("status")
  .description("The station, its connection, its outbox and its counts.")
  .action(() => withStation(async (station) => answer(await station.status(), statusSentence)));

program
  .command("check-in")
  .description("Check a voter in by their national id.")
  .argument("<nationalId>")
  .option("--biometric-score <n>", "the face match's score, 0 to 1 (a match is recorded)", score)
  .action((nationalId: string, opts: { biometricScore?: number }) =>
    withStation(async (station) => {
      const identity: Identity =
        opts.biometricScore === undefined
          ? { method: "id-card" }
          : { method: "id-card+biometric", biometric: { matched: true, score: opts.biometricScore } };
      answer(await station.checkIn({ nationalId, identity }), (r) =>
        r.outcome === "issue-ballot"
          ? r.decidedOffline
            ? `Issue ballot style ${r.ballotStyleId} (decided offline). Write the envelope code ${r.envelope ?? ""} on its sleeve.`
            : `Issue ballot style ${r.ballotStyleId}.`
          : "",
      );
    }),
  );

program
  .command("scan")
  .description("Scan a marked ballot: its QR text, or a photo of it.")
  .addOption(new Option("--qr <text>", "the QR text as the scanner typed it").conflicts("image"))
  .addOption(new Option("--image <file>", "a PNG or JPEG picture of the code"))
  .option("--envelope <code>", "the envelope code of a ballot issued offline")
  .option("--district <id>", "the district the ballot counts in, when its style serves several")
  .option("--marks <json>", "a pre-printed sheet's marks as the scanner read them (JSON list of contests)")
  .action((opts: { qr?: string; image?: string; envelope?: string; district?: string; marks?: string }) =>
    withStation(async (station) => {
      let qr = opts.qr;
      if (opts.image !== undefined) {
        const read = qrTextFromImage(new Uint8Array(await readFile(opts.image)));
        if (!read.ok) return answer({ outcome: "refused", ...read.error } satisfies Refusal, () => "");
        qr = read.value;
      }
      if (qr === undefined) throw new InvalidArgumentError("give --qr TEXT or --image FILE");
      let contests: ContestMarks[] | undefined;
      if (opts.marks !== undefined) {
        const parsed = z.array(ContestMarks).safeParse(JSON.parse(opts.marks));
        if (!parsed.success) throw new InvalidArgumentError(`--marks: ${z.prettifyError(parsed.error)}`);
        contests = parsed.data;
      }
      answer(
        await station.scan({
          qr,
          ...(contests ? { contests } : {}),
          ...(opts.envelope !== undefined ? { envelope: opts.envelope } : {}),
          ...(opts.district !== undefined ? { districtId: opts.district } : {}),
        }),
        (r) =>
          r.outcome === "refused"
            ? ""
            : r.outcome === "accepted"
              ? `Ballot ${r.serial} accepted${r.held ? ", held until its check-in is adjudicated" : ""}.`
              : `Ballot ${r.serial} recorded; it will be sent when the station is online.`,
      );
    }),
  );

program
  .command("cancel")
  .description("Cancel a spoiled or void ballot before it is scanned.")
  .addOption(new Option("--serial <n>", "the ballot's serial number").argParser(wholeNumber).conflicts("qr"))
  .addOption(new Option("--qr <text>", "the ballot's QR text"))
  .addOption(new Option("--reason <reason>").choices(["spoiled", "void"]).makeOptionMandatory())
  .option("--district <id>", "the ballot's district, when its style serves several")
  .action((opts: { serial?: number; qr?: string; reason: "spoiled" | "void"; district?: string }) =>
    withStation(async (station) => {
      answer(
        await station.cancel({
          reason: opts.reason,
          ...(opts.serial !== undefined ? { serial: opts.serial } : {}),
          ...(opts.qr !== undefined ? { qr: opts.qr } : {}),
          ...(opts.district !== undefined ? { districtId: opts.district } : {}),
        }),
        (r) =>
          r.outcome === "refused"
            ? ""
            : `Ballot ${r.serial} cancelled as ${r.reason}${r.outcome === "queued" ? " (to be sent when online)" : ""}.`,
      );
    }),
  );

program
  .command("outbox")
  .description("The outbox, newest first.")
  .option("--limit <n>", "how many", wholeNumber, 50)
  .action((opts: { limit: number }) =>
    withStation(async (station) => {
      const items = await station.outbox(opts.limit);
      answer(items, (list) => (list.length === 0 ? "The outbox is empty." : list.map(outboxLine).join("\n")));
    }),
  );

program
  .command("sync")
  .description("Send what is pending now, in order.")
  .action(() =>
    withStation(async (station) => {
      await station.syncNow();
      const status = await station.status();
      answer(status, (s) =>
        s.pending === 0
          ? `Everything is sent (${s.failed} failed).`
          : `${s.pending} still pending (${s.online ? "the server answered with an error" : "offline"}).`,
      );
      if (status.pending > 0) process.exitCode = 1;
    }),
  );

program
  .command("pollbook")
  .description("Download the station's pollbook again (online only).")
  .action(() =>
    withStation(async (station) => {
      answer(await station.refreshPollbook(), (r) =>
        "entries" in r ? `Pollbook: ${r.entries} voters, issued ${r.issuedAt}.` : "",
      );
    }),
  );

program
  .command("result-sheet")
  .description("The station's signed result sheet (once the polls have closed).")
  .option("--svg <file>", "write its QR code as an SVG image")
  .action((opts: { svg?: string }) =>
    withStation(async (station) => {
      const sheet = await station.resultSheet();
      if (!isRefusal(sheet) && opts.svg !== undefined) await writeFile(opts.svg, sheet.svg);
      answer(sheet, (s) =>
        "qr" in s
          ? `Result sheet ${s.sequence}: ${s.votersCheckedIn} checked in, ${s.ballotsCast} ballots.${opts.svg ? ` QR written to ${opts.svg}.` : ""}`
          : "",
      );
    }),
  );

program
  .command("serve")
  .description("Serve the station console on this laptop (127.0.0.1) and sync in the background until stopped.")
  .option("--port <n>", "the console's port (0: any free one)", wholeNumber, 8080)
  .action((opts: { port: number }) =>
    withStation(async (station) => {
      station.startSync();
      const running = await startConsole(station, { port: opts.port });
      console.log(`Station console: ${running.url}`);
      // Until Ctrl-C or the process manager stops it; then the pass under way ends before the store closes.
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await running.close();
    }),
  );

try {
  await program.parseAsync();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
