#!/usr/bin/env node
/**
 * The auditor's CLI: checks an election's public audit log without trusting the system that
 * serves it. Plain Node (no Worker runtime); reads a base URL or a local copy.
 *
 *   auditor verify      --log <url|dir> [--key <vkey>] [--state <file>] [--trust-log-key] [--election <url|file>]
 *   auditor consistency <old> <new> [--log <url|dir>] [--key <vkey>]
 *   auditor prove       <tracking code> --log <url|dir> [--proof <file>] [--commitment <c>]
 *   auditor recount     --log <url|dir> [--results <url|file>] (and verify's options); also checks
 *                       the signed NIST exports once the log holds results-published
 *   auditor mirror      <url> <dir>
 *
 * --log is the gateway's /v1/logs/<election>/ (or a public bucket's logs/<election>/), or a
 * directory with the same layout (see `mirror`). verify and recount need the log's key from
 * outside the log (--key, or --state pinned earlier) or an explicit --trust-log-key; they check the
 * records against the election's public summary (--election, by default from the API).
 * Exit status: 0 when every check holds, 1 when
 * one fails (the message says which and why), 2 when the log cannot be read at all.
 * Docs: docs/AUDIT-LOG.md.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Command } from "commander";
import type { LogEntryOf } from "../lib/audit/entries.ts";
import { CHECKPOINT_PATH, EXPORT_PATHS, signaturePath, VERIFIER_KEY_PATH } from "../lib/audit/layout.ts";
import { compareWithResults, PublishedResults } from "../lib/audit/recount.ts";
import { PublicElection } from "../lib/audit/observer.ts";
import { trackingCodeOf } from "../lib/ballot/commitment.ts";
import { parseCheckpoint } from "../lib/tlog/checkpoint.ts";
import { inclusionProof, leafHash, verifyInclusion } from "../lib/tlog/merkle.ts";
import { parseNote } from "../lib/tlog/note.ts";
import { verifyReceiptProof } from "../lib/audit/receipt-proof.ts";
import { entriesPath, readTileHashes, tileCoordinates, TILE_WIDTH } from "../lib/tlog/tiles.ts";
import {
  AuditFailure,
  latestCheckpoint,
  openSigned,
  parseDocument,
  progressBar,
  proveConsistent,
  readState,
  rootText,
  stateCheckpoint,
  trustedKey,
  verifyWholeLog,
  writeState,
  type SignedCheckpoint,
  type TrustedKey,
  type VerifiedLog,
} from "./auditor/checks.ts";
import { fetchBytes, isUrl, openSource, SourceError, type LogSource } from "./auditor/source.ts";
import { checkExports } from "./auditor/exports.ts";

interface Common {
  log?: string;
  key?: string;
  state?: string;
  progress: boolean;
  trustLogKey?: boolean;
  election?: string;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readLocation(location: string, what: string): Promise<Uint8Array | undefined> {
  if (isUrl(location)) return fetchBytes(location);
  try {
    return new Uint8Array(await readFile(location));
  } catch {
    throw new SourceError(`cannot read ${what} ${location}`);
  }
}

function requireLog(opts: Common): LogSource {
  if (!opts.log) throw new SourceError("say where the log is: --log <url|dir>");
  return openSource(opts.log);
}

function describeKey(key: TrustedKey): void {
  say(`log      ${key.origin}`);
  say(`key      ${key.verifierKey} (from ${key.from})`);
  if (key.from === "the log itself (not pinned)") {
    say(
      "warning  the key came from the log it checks: compare it with the authority's published key, or pin it with --state",
    );
  }
}

/**
 * The election's public summary (GET /v1/elections/<id>): from --election, else from the API the
 * log is served by; without either, records are not checked against the definition (said so).
 */
async function publicElection(opts: Common, source: LogSource): Promise<PublicElection | undefined> {
  const location =
    opts.election ?? (source.api ? `${source.api.origin}/v1/elections/${source.api.electionId}` : undefined);
  // A local copy made by `mirror` keeps the summary beside the log.
  const copied = location === undefined ? await source.read(ELECTION_SUMMARY_FILE) : undefined;
  if (!location && !copied) {
    say("warning  no election summary (--election): records are not checked against the definition");
    return undefined;
  }
  const where = location ?? `${source.where} ${ELECTION_SUMMARY_FILE}`;
  const bytes = copied ?? (location ? await readLocation(location, "election summary") : undefined);
  if (!bytes) throw new AuditFailure(`the election summary at ${where} is missing`);
  const election = parseDocument(
    new TextDecoder().decode(bytes),
    PublicElection,
    `the election summary at ${where}`,
    "one",
  );
  say(`election ${election.electionId}, definition version ${election.definition.version}`);
  return election;
}

/** Where `mirror` keeps the election's public summary in a local copy. */
const ELECTION_SUMMARY_FILE = "election.json";

/** verify's work, shared by recount: the latest checkpoint, the whole log, the state file. */
async function verifyCommand(
  opts: Common,
): Promise<{ log: VerifiedLog; key: TrustedKey; latest: SignedCheckpoint; source: LogSource }> {
  const source = requireLog(opts);
  const state = await readState(opts.state);
  const key = await trustedKey(source, opts.key, state);
  describeKey(key);
  // A log that vouches for its own key proves nothing to anyone (security review M6).
  if (key.from === "the log itself (not pinned)" && opts.trustLogKey !== true)
    throw new AuditFailure(
      "the log's key came from the log itself: give the authority's published key (--key) or a state file that pinned it (--state), or say --trust-log-key to check it anyway",
    );
  const election = await publicElection(opts, source);
  const latest = await latestCheckpoint(source, key);
  const previous = stateCheckpoint(state, key);
  if (previous && previous.size > latest.checkpoint.size) {
    await proveConsistent(source, previous, latest.checkpoint, {
      older: "the checkpoint this auditor verified before",
      newer: "the log's checkpoint",
    });
  }
  const log = await verifyWholeLog(
    source,
    latest.checkpoint,
    progressBar(opts.progress && process.stderr.isTTY),
    election,
  );
  if (previous)
    await proveConsistent(source, previous, latest.checkpoint, {
      older: "the checkpoint this auditor verified before",
      newer: "the log's checkpoint",
    });
  const { findings } = log;
  if (findings.problems.length > 0) {
    throw new AuditFailure(
      `the log's entries break ${findings.problems.length} rule(s):\n  ${findings.problems.slice(0, 50).join("\n  ")}`,
    );
  }
  await writeState(opts.state, key, latest.note, latest.checkpoint);
  say(`size     ${latest.checkpoint.size}`);
  say(`root     ${rootText(latest.checkpoint.root)}`);
  const counts = Object.entries(findings.counts)
    .filter(([, n]) => n > 0)
    .map(([type, n]) => `${type} ${n}`);
  say(`entries  ${counts.length > 0 ? counts.join(", ") : "none"}`);
  if (previous) say(`extends  the checkpoint of size ${previous.size} verified before`);
  return { log, key, latest, source };
}

const program = new Command()
  .name("auditor")
  .description("Check an election's public audit log: signatures, tiles, entries, receipts, consistency, recount.")
  .showHelpAfterError();

function common(command: Command): Command {
  return command
    .option("--log <url|dir>", "the log: https://host/v1/logs/<election>/ or a local copy")
    .option("--key <vkey>", "the log's verifier key (signed-note format), as the authority published it")
    .option(
      "--state <file>",
      "remember the key and the last verified checkpoint here; refuse a key change or a log that goes back",
    )
    .option("--no-progress", "no progress bars")
    .option("--trust-log-key", "verify/recount: accept the key the log publishes about itself (proves nothing alone)")
    .option("--election <url|file>", "verify/recount: the public election summary (GET /v1/elections/<id>)");
}

common(program.command("verify"))
  .description(
    "Check the checkpoint's signature, re-derive every tile and the root from the entry bundles, decode every entry",
  )
  .action(async (opts: Common) => {
    await verifyCommand(opts);
    say("OK       the log verifies");
  });

common(program.command("consistency"))
  .description("Prove that checkpoint NEW extends checkpoint OLD (files or URLs)")
  .argument("<old>", "the older checkpoint: a file or URL")
  .argument("<new>", "the newer checkpoint: a file or URL")
  .action(async (oldLocation: string, newLocation: string, opts: Common) => {
    // Tiles come from --log, else from beside NEW (a URL or file named .../checkpoint).
    const logLocation = opts.log ?? (isUrl(newLocation) ? new URL(".", newLocation).toString() : dirname(newLocation));
    const source = openSource(logLocation);
    const key = await trustedKey(source, opts.key, await readState(opts.state));
    describeKey(key);
    const older = await openSigned(await readLocation(oldLocation, "checkpoint"), key, `OLD (${oldLocation})`);
    const newer = await openSigned(await readLocation(newLocation, "checkpoint"), key, `NEW (${newLocation})`);
    await proveConsistent(source, older.checkpoint, newer.checkpoint, {
      older: `OLD (${oldLocation})`,
      newer: `NEW (${newLocation})`,
    });
    say(`OK       size ${newer.checkpoint.size} extends size ${older.checkpoint.size}`);
  });

common(program.command("prove"))
  .description("Check that a receipt's ballot is in the log: its inclusion proof against a signed checkpoint")
  .argument("<tracking-code>", "the receipt's tracking code")
  .option(
    "--proof <file>",
    "a saved tlog-proof bundle (else it is fetched from the API, or computed from a local copy)",
  )
  .option("--commitment <c>", "the receipt's commitment, to check the proven entry is exactly this ballot")
  .action(async (code: string, opts: Common & { proof?: string; commitment?: string }) => {
    const source = requireLog(opts);
    const state = await readState(opts.state);
    const key = await trustedKey(source, opts.key, state);
    describeKey(key);
    const latest = await latestCheckpoint(source, key);

    let bundleText: string | undefined;
    if (opts.proof) bundleText = new TextDecoder().decode(await readLocation(opts.proof, "proof"));
    else if (source.api) {
      const bytes = await fetchBytes(`${source.api.origin}/v1/receipts/${encodeURIComponent(code)}/proof`);
      if (!bytes)
        throw new AuditFailure(
          `the API has no inclusion proof for ${code} (not recorded, or not yet in a published checkpoint)`,
        );
      bundleText = new TextDecoder().decode(bytes);
    }

    let entry: LogEntryOf<"ballot">;
    let index: number;
    let proofCheckpointSize: number;
    if (bundleText !== undefined) {
      // The same check the portal's /check page runs in a voter's browser (lib/audit/receipt-proof.ts).
      const verified = await verifyReceiptProof(code, bundleText, key.verifierKey);
      if (!verified.ok) throw new AuditFailure(verified.error);
      entry = verified.value.entry;
      index = verified.value.index;
      proofCheckpointSize = verified.value.checkpoint.size;
      // The proof's checkpoint and the log's must be one history: no split view for this voter.
      const [first, second] =
        verified.value.checkpoint.size <= latest.checkpoint.size
          ? [
              { c: verified.value.checkpoint, n: "the proof's checkpoint" },
              { c: latest.checkpoint, n: "the log's checkpoint" },
            ]
          : [
              { c: latest.checkpoint, n: "the log's checkpoint" },
              { c: verified.value.checkpoint, n: "the proof's checkpoint" },
            ];
      await proveConsistent(source, first.c, second.c, { older: first.n, newer: second.n });
    } else {
      // A local copy: find the ballot entry, then prove it from the tiles like anyone could.
      const log = await verifyWholeLog(source, latest.checkpoint, progressBar(opts.progress && process.stderr.isTTY));
      let found = -1;
      for (const [i, e] of log.entries.entries()) {
        if (e.type === "ballot" && (await trackingCodeOf(e.commitment)) === code) {
          found = i;
          break;
        }
      }
      const e = log.entries[found];
      if (!e || e.type !== "ballot")
        throw new AuditFailure(`no ballot entry in the log (size ${latest.checkpoint.size}) has tracking code ${code}`);
      const { size, root } = latest.checkpoint;
      const proof = await readTileHashes(
        size,
        (p) => source.read(p),
        (hashAt) => inclusionProof(found, size, hashAt),
      );
      if (!proof.ok) throw new AuditFailure(`cannot build the inclusion proof: ${proof.error}`);
      const raw = log.rawEntries[found];
      const checked = raw
        ? verifyInclusion(found, size, leafHash(raw), proof.value, root)
        : { ok: false as const, error: "entry missing" };
      if (!checked.ok)
        throw new AuditFailure(`the inclusion proof of entry ${found} does not verify: ${checked.error}`);
      entry = e;
      index = found;
      proofCheckpointSize = size;
    }
    const entryCode = await trackingCodeOf(entry.commitment);
    if (entryCode !== code)
      throw new AuditFailure(`the proven entry is the ballot with tracking code ${entryCode}, not ${code}`);
    if (opts.commitment !== undefined && opts.commitment !== entry.commitment) {
      throw new AuditFailure(
        `the proven entry's commitment is ${entry.commitment}, not the receipt's ${opts.commitment}`,
      );
    }
    say(
      `OK       ${code} is entry ${index} of the log (checkpoint size ${proofCheckpointSize}): ${entry.channel} ballot, district ${entry.districtId}, ${entry.acceptedAt}, commitment ${entry.commitment}`,
    );
  });

common(program.command("recount"))
  .description("Verify the log, recount its cast vote records and compare them with the published results")
  .option(
    "--results <url|file>",
    "the published results (GET /v1/elections/<id>/results); by default from the API the log is served by",
  )
  .action(async (opts: Common & { results?: string }) => {
    const { log, source, key } = await verifyCommand(opts);
    const { findings } = log;
    if (!findings.recordsPublished) {
      throw new AuditFailure(
        findings.pollsClosed
          ? "the polls have closed but no round of cast vote records is complete in the log yet: try again shortly"
          : "no cast vote records are published yet: they are published after the polls close",
      );
    }
    const location =
      opts.results ?? (source.api ? `${source.api.origin}/v1/elections/${source.api.electionId}/results` : undefined);
    if (!location) throw new SourceError("say where the published results are: --results <url|file>");
    const bytes = await readLocation(location, "results");
    if (!bytes)
      throw new AuditFailure(
        `the published results at ${location} are missing (results after close: are the polls closed?)`,
      );
    const results = parseDocument(
      new TextDecoder().decode(bytes),
      PublishedResults,
      `the published results at ${location}`,
      "a results document",
      "are",
    );
    const differences = compareWithResults(findings.recount, results);
    // The signed NIST exports, once published: every difference is named, with the API's too.
    const exportsCheck = await checkExports(findings, source, key.verifierKey);
    for (const note of exportsCheck.notes) say(`exports  ${note}`);
    if (exportsCheck.problems.length > 0) {
      throw new AuditFailure(
        `the exports differ from the log in ${exportsCheck.problems.length} place(s):\n  ${[
          ...exportsCheck.problems,
          ...differences.map((d) => `published results: ${d}`),
        ]
          .slice(0, 50)
          .join("\n  ")}`,
      );
    }
    if (differences.length > 0) {
      throw new AuditFailure(
        `the recount differs from the published results in ${differences.length} place(s):\n  ${differences.slice(0, 50).join("\n  ")}`,
      );
    }
    say(
      `recount  ${findings.recount.ballots} cast vote records in ${findings.recount.districts.length} district(s), ${findings.recount.contests.length} contest(s)`,
    );
    if (!results.pollsClosed) say("warning  the results say the polls are still open: they may still change");
    say("OK       the recount matches the published results to the vote");
  });

program
  .command("mirror")
  .description("Copy a log (checkpoint, verifier key, every tile and entry bundle) into a directory, to audit offline")
  .argument("<url>", "the log's base URL")
  .argument("<dir>", "where to put the copy")
  .action(async (url: string, dir: string) => {
    const source = openSource(url);
    const checkpointBytes = await source.read(CHECKPOINT_PATH);
    if (!checkpointBytes) throw new SourceError(`${url} has no checkpoint`);
    const note = parseNote(new TextDecoder().decode(checkpointBytes));
    const checkpoint = note.ok ? parseCheckpoint(note.value.text) : note;
    if (!checkpoint.ok) throw new AuditFailure(`the checkpoint does not parse: ${checkpoint.error}`);
    const size = checkpoint.value.size;
    const paths = [...tileCoordinates(size).map((t) => t.path)];
    for (let n = 0; n * TILE_WIDTH < size; n++) paths.push(entriesPath(n, Math.min(TILE_WIDTH, size - n * TILE_WIDTH)));
    const save = async (path: string, bytes: Uint8Array): Promise<void> => {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), bytes);
    };
    await save(CHECKPOINT_PATH, checkpointBytes);
    const vkey = await source.read(VERIFIER_KEY_PATH);
    if (vkey) await save(VERIFIER_KEY_PATH, vkey);
    if (source.api) {
      const summary = await fetchBytes(`${source.api.origin}/v1/elections/${source.api.electionId}`);
      if (summary) await save(ELECTION_SUMMARY_FILE, summary);
    }
    for (const path of paths) {
      const bytes = await source.read(path);
      if (!bytes) throw new SourceError(`${path} is missing from ${url}`);
      await save(path, bytes);
    }
    // The results exports and their signatures, once published (absent before: not an error).
    let exported = 0;
    for (const path of EXPORT_PATHS.flatMap((p) => [p, signaturePath(p)])) {
      const bytes = await source.read(path);
      if (bytes) {
        await save(path, bytes);
        exported += 1;
      }
    }
    if (exported > 0) say(`copied   ${exported} export files (results and CVR reports, signatures)`);
    say(`copied   ${paths.length} tiles and bundles of the tree of size ${size} into ${dir}`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof AuditFailure) {
    process.stderr.write(`auditor: FAILED: ${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof SourceError) {
    process.stderr.write(`auditor: cannot read the log: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
