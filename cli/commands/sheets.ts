/**
 * `admin sheets ...`: blank paper ballot sheets with the election authority's signed QR code
 * (lib/qr/payload.ts, docs/QR-PAYLOADS.md), printed in bulk.
 *
 *   admin sheets print <electionId> --style <id> --from <serial> --count <n> --out <dir>
 *                      --key <authority private JWK> [--definition <file>] [--format png|svg]
 *   admin sheets key-id <public JWK file>
 *
 * The definition comes from --definition or, without it, from the API (GET
 * /v1/admin/elections/{id}, as this official); either way it is compiled here, so a sheet is
 * never printed for a style the definition does not have. The authority key is an Ed25519 JWK as
 * `admin official keygen` writes it; its public half must be registered as the election's sheet
 * key for scans to verify, and the serials must be issued to the station that gets the stack
 * (`admin station serials`), or its scans of them are refused.
 *
 * Each sheet is a page: its QR code, then the style's contests in the style's order, each with a
 * box per option in the order that style shows them (optionsOnStyle: candidates rotated by
 * precinct, a contest's SequenceOrder), in the definition's first language. The QR code carries
 * only the election, the style and the serial, and a scan names the options marked by id, so
 * the printed order changes nothing a scan records.
 *
 * The print page lays the sheets out in a shuffled order (CSPRNG), so a stack handed out from the
 * top does not give voters consecutive serials: with serials in arrival order, an insider who saw
 * when each voter came could pair voters with scanned ballots (security review M11).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { optionsOnStyle, sectionsBefore } from "../../lib/election/ballot-order.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import { localize } from "../../lib/election/localize.ts";
import type { BallotStyle, CompiledElection } from "../../lib/election/model.ts";
import { hexEncode } from "../../lib/bytes.ts";
import { qrKeyId, qrSignerFromJwk } from "../../lib/qr/keys.ts";
import { encodeBallotSheet } from "../../lib/qr/payload.ts";
import { qrPng, qrSvg, qrSymbolInfo } from "../../lib/qr/render.ts";
import { shuffled } from "../../lib/random.ts";
import { OfficialClient } from "../lib/api.ts";

/** One print run; a larger one is several runs, so a mistake costs at most this many sheets. */
export const MAX_SHEETS_PER_RUN = 100_000;

const StoredDefinition = z.object({ electionId: z.string(), version: z.number().int(), definition: z.unknown() });

export interface PrintOptions {
  readonly style: string;
  readonly from: number;
  readonly count: number;
  readonly out: string;
  readonly key: string;
  readonly definition?: string;
  readonly format: "png" | "svg";
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected ${min} to ${max}`);
    return n;
  };
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new SheetsError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SheetsError(`${path} is not JSON`);
  }
}

/** A refusal the official can fix; printed without a stack trace. */
export class SheetsError extends Error {}

async function loadElection(electionId: string, definitionFile: string | undefined): Promise<CompiledElection> {
  let document: unknown;
  if (definitionFile !== undefined) {
    document = await readJsonFile(definitionFile);
  } else {
    const stored = StoredDefinition.parse(
      await OfficialClient.fromEnv().call("GET", `/v1/admin/elections/${encodeURIComponent(electionId)}`),
    );
    document = stored.definition;
  }
  const parsed = parseDefinition(document);
  if (!parsed.ok) {
    const lines = parsed.error.slice(0, 10).map((p) => `  ${p.path}: ${p.message}`);
    throw new SheetsError(`the election definition is invalid:\n${lines.join("\n")}`);
  }
  if (parsed.value.election.id !== electionId) {
    throw new SheetsError(`the definition is for election ${parsed.value.election.id}, not ${electionId}`);
  }
  return parsed.value.election;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The ballot a sheet of `style` carries: its contests in the style's order, each option with a box
 * to mark, in the order the style shows them. The same for every sheet of a run.
 */
function ballotOf(election: CompiledElection, style: BallotStyle): string {
  const language = election.languages[0] ?? "en";
  return style.contestIds
    .flatMap((contestId) => {
      const contest = election.contests.get(contestId);
      if (!contest) return [];
      const title = localize(contest.title, language, contest.name);
      const subtitle = localize(contest.subtitle, language, "");
      const fullText = localize(contest.fullText, language, "");
      const options = optionsOnStyle(style, contest).map(({ option }) => {
        const label = escapeHtml(localize(option.labelText, language, option.label));
        const party = option.party ? localize(option.party.name, language, "") : "";
        return (
          `<li data-option="${escapeHtml(option.id)}"><span class="box"></span> ${label}` +
          (option.isWriteIn ? ` <span class="line"></span>` : "") +
          (party !== "" ? ` <span class="party">${escapeHtml(party)}</span>` : "") +
          `</li>`
        );
      });
      const sections = sectionsBefore(style, contest.id, 2);
      const headings = sections.headings.map(
        ({ heading, rank }) =>
          `<h${rank} class="ballot-section">${escapeHtml(localize(heading.title, language, ""))}</h${rank}>`,
      );
      return [
        headings.join("") +
          `<section class="contest" data-contest="${escapeHtml(contest.id)}"><h${sections.rank}>${escapeHtml(title)}</h${sections.rank}>` +
          (subtitle !== "" ? `<p class="subtitle">${escapeHtml(subtitle)}</p>` : "") +
          (fullText !== "" ? `<p>${escapeHtml(fullText)}</p>` : "") +
          `<ul>${options.join("")}</ul></section>`,
      ];
    })
    .join("\n");
}

/** A page that lays the sheets out for printing, one sheet per page: its code, then its ballot. */
function printPage(
  election: CompiledElection,
  style: BallotStyle,
  keyId: string,
  first: number,
  last: number,
  sheets: readonly { serial: number; file: string }[],
): string {
  const styleId = style.id;
  const title = `${election.name}: ballot sheets, style ${styleId}`;
  const ballot = ballotOf(election, style);
  const cells = sheets
    .map(
      ({ serial, file }) =>
        `<article class="sheet"><figure><img src="${escapeHtml(file)}" alt="QR code of sheet ${serial}"><figcaption>${escapeHtml(election.name)}<br>` +
        `style ${escapeHtml(styleId)} &middot; sheet <b>${serial}</b></figcaption></figure>\n${ballot}</article>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  @page { size: A4; margin: 12mm; }
  body { font: 10pt system-ui, sans-serif; margin: 0; }
  header { margin-bottom: 6mm; }
  header { break-after: page; }
  .sheet + .sheet { break-before: page; }
  figure { margin: 0 0 4mm auto; padding: 3mm; width: 51mm; border: 0.2mm dashed #999; text-align: center; }
  /* 45 mm keeps modules at or above 0.5 mm up to QR version 15 (77 modules plus the quiet zone). */
  img { width: 45mm; height: 45mm; image-rendering: pixelated; }
  figcaption { margin-top: 2mm; }
  .contest { border-top: 0.4mm solid #000; padding-top: 2mm; margin-bottom: 4mm; break-inside: avoid; }
  h2, h3, h4, h5, h6 { font-size: 11pt; margin: 0 0 1mm; }
  .ballot-section { font-size: 12pt; text-transform: uppercase; letter-spacing: 0.05em; margin: 4mm 0 2mm; }
  .subtitle { font-style: italic; margin: 0 0 2mm; }
  ul { list-style: none; margin: 0; padding: 0; }
  li { margin: 0 0 2.5mm; }
  .box { display: inline-block; width: 5mm; height: 5mm; border: 0.4mm solid #000; vertical-align: middle; margin-right: 2mm; }
  .line { display: inline-block; width: 60mm; border-bottom: 0.2mm solid #000; }
  .party { color: #333; }
</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1>
<p>Sheets ${first} to ${last} (${sheets.length}) in shuffled order, signed by authority key ${escapeHtml(keyId)}.</p></header>
<main>
${cells}
</main>
</body>
</html>
`;
}

/** Writes one image per sheet and index.html (in print order, shuffled); returns what it wrote. */
export async function printSheets(
  electionId: string,
  options: PrintOptions,
): Promise<{ files: string[]; keyId: string; version: number }> {
  if (options.from + options.count - 1 > Number.MAX_SAFE_INTEGER)
    throw new SheetsError("the serials run past 2^53 - 1");
  const election = await loadElection(electionId, options.definition);
  const style = election.ballotStyles.get(options.style);
  if (!style) {
    throw new SheetsError(
      `election ${electionId} has no ballot style ${options.style} (it has ${[...election.ballotStyles.keys()].join(", ")})`,
    );
  }
  const signer = await qrSignerFromJwk(await readJsonFile(options.key));
  if (!signer.ok) throw new SheetsError(`${options.key}: ${signer.error.message}`);
  const keyId = hexEncode(signer.value.keyId);

  await mkdir(options.out, { recursive: true });
  const last = options.from + options.count - 1;
  const width = String(last).length;
  const sheets: { serial: number; file: string }[] = [];
  let version = 0;
  for (let serial = options.from; serial <= last; serial++) {
    const encoded = await encodeBallotSheet({ electionId, ballotStyleId: options.style, serial }, signer.value);
    if (!encoded.ok) throw new SheetsError(encoded.error.message);
    version = Math.max(version, qrSymbolInfo(encoded.value.text).version);
    const file = `${electionId}_${options.style}_${String(serial).padStart(width, "0")}.${options.format}`;
    const image = options.format === "png" ? await qrPng(encoded.value.text) : await qrSvg(encoded.value.text);
    await writeFile(join(options.out, file), image);
    sheets.push({ serial, file });
  }
  const printOrder = shuffled(sheets);
  await writeFile(join(options.out, "index.html"), printPage(election, style, keyId, options.from, last, printOrder));
  return { files: [...printOrder.map((s) => s.file), "index.html"], keyId, version };
}

export function sheetsCommands(): Command {
  const sheets = new Command("sheets").description("Paper ballot sheets with the authority's signed QR code.");

  sheets
    .command("print")
    .description("Write one QR image per blank ballot sheet, and index.html laying them out for printing.")
    .argument("<electionId>")
    .requiredOption("--style <id>", "the ballot style printed on the sheets")
    .requiredOption("--from <serial>", "the first sheet serial", wholeNumber(0, Number.MAX_SAFE_INTEGER))
    .requiredOption("--count <n>", `how many sheets (1-${MAX_SHEETS_PER_RUN})`, wholeNumber(1, MAX_SHEETS_PER_RUN))
    .requiredOption("--out <dir>", "the directory to write to (created if missing)")
    .requiredOption("--key <file>", "the election authority's private Ed25519 JWK")
    .option("--definition <file>", "read the definition from this file instead of the API")
    .addOption(new Option("--format <format>", "image format").choices(["png", "svg"]).default("png"))
    .action(async (electionId: string, options: PrintOptions, command: Command) => {
      try {
        const { files, keyId, version } = await printSheets(electionId, options);
        console.log(
          `wrote ${files.length - 1} sheets (QR version ${version}, level M) and index.html to ${options.out}; authority key id ${keyId}`,
        );
      } catch (error) {
        if (error instanceof SheetsError) command.error(`error: ${error.message}`);
        throw error;
      }
    });

  sheets
    .command("key-id")
    .description("Show the QR key id of an Ed25519 public (or private) JWK: the id payloads name their signer by.")
    .argument("<file>", "a JWK file")
    .action(async (file: string, _options: unknown, command: Command) => {
      const id = await qrKeyId(await readJsonFile(file).catch(() => undefined));
      if (!id.ok) command.error(`error: ${file}: ${id.error.message}`);
      else console.log(id.value);
    });

  return sheets;
}
