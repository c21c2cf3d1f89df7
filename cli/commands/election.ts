/**
 * `admin election ...`: load an election definition, show what is stored with what the loader
 * decided on its own (warnings, on stderr), export it as a NIST election definition, check a
 * definition file offline before loading it; see the polls, close
 * voting early (an emergency, with a reason) and reopen it before the scheduled close; after the
 * close, the results exports' status and their certification; list the conflicts of offline
 * check-ins and decide them; list the security monitor's alerts, acknowledge and close them with
 * a note, and read the monitor's status.
 */
import { readFile, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { parseDefinition } from "../../lib/election/definition.ts";
import { PollsView } from "../../lib/election/polls.ts";
import { Alert, MonitorStatus } from "../../lib/monitor/alerts.ts";
import { AlertState } from "../../lib/vocabulary.ts";
import { OfficialClient } from "../lib/api.ts";
import { print } from "../lib/io.ts";

const DefinitionWarning = z.object({ path: z.string(), code: z.string(), message: z.string() });
type DefinitionWarning = z.infer<typeof DefinitionWarning>;

/** The warnings and problems of a load or stored-definition answer; an answer without them has none. */
const Readings = z.object({
  warnings: z.array(DefinitionWarning).optional(),
  problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** One line per warning, as an administrator reads it beside the JSON answer. */
export function warningLines(warnings: readonly DefinitionWarning[]): string[] {
  return warnings.map((w) => `warning: ${w.path}: ${w.message} [${w.code}]`);
}

/** Says on stderr what the loader decided on its own, and what it refuses today, for an answer. */
function sayReadings(answer: unknown): void {
  const readings = Readings.safeParse(answer);
  if (!readings.success) return;
  for (const line of warningLines(readings.data.warnings ?? [])) console.error(line);
  for (const p of readings.data.problems ?? []) console.error(`refused today: ${p.path}: ${p.message}`);
}

/**
 * `admin election check`: the definition in `file` read as the loader reads it, offline. Returns
 * what to print (the summary on stdout; the problems, one a line, or the warnings on stderr) and
 * whether it would load.
 */
export async function checkDefinitionFile(
  file: string,
): Promise<{ readonly ok: boolean; readonly out: string[]; readonly err: string[] }> {
  let document: unknown;
  try {
    document = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return { ok: false, out: [], err: [`problem: /: ${file} is not a readable JSON file: ${why}`] };
  }
  const parsed = parseDefinition(document);
  if (!parsed.ok) {
    return { ok: false, out: [], err: parsed.error.map((p) => `problem: ${p.path}: ${p.message}`) };
  }
  const { election, warnings } = parsed.value;
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  return {
    ok: true,
    out: [
      `${file} loads: election ${election.id}, ${count(election.ballotStyles.size, "ballot style")}, ${count(election.contests.size, "contest")}, ${count(election.districts.size, "district")}, languages ${election.languages.join(", ")}; ${count(warnings.length, "warning")}.`,
    ],
    err: warningLines(warnings),
  };
}

/** GET/POST /v1/admin/elections/{id}/polls[/close|/reopen] (workers/gateway/routes/polls.ts). */

/** An instant as an administrator reads it: UTC, said so, and how far from now. */
function when(iso: string, nowMs: number): string {
  const ms = Date.parse(iso);
  const text = `${new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "")} UTC`;
  const seconds = Math.round((ms - nowMs) / 1000);
  const span = (s: number): string =>
    s < 120
      ? `${s} seconds`
      : s < 7200
        ? `${Math.round(s / 60)} minutes`
        : s < 172_800
          ? `${Math.round(s / 3600)} hours`
          : `${Math.round(s / 86_400)} days`;
  if (seconds > 0) return `${text} (in ${span(seconds)})`;
  if (seconds < 0) return `${text} (${span(-seconds)} ago)`;
  return `${text} (now)`;
}

/** The polls in plain words, one sentence per line. */
export function describePolls(view: PollsView, nowMs: number = Date.now()): string {
  const lines: string[] = [];
  const scheduled = `The scheduled close is ${when(view.closesAt, nowMs)}: results, records and exports wait for it.`;
  switch (view.state) {
    case "not-open":
      lines.push(`Voting in ${view.electionId} has not opened: it opens ${when(view.opensAt, nowMs)}.`, scheduled);
      break;
    case "open":
      if (view.closedEarly) {
        lines.push(
          `Voting in ${view.electionId} closes early ${when(view.closedEarly.effectiveAt, nowMs)}: from then no ballot, check-in or scan is accepted.`,
          `Reason: ${view.closedEarly.reason}`,
          scheduled,
          "Voting may be reopened until the scheduled close.",
        );
      } else {
        lines.push(`Voting in ${view.electionId} is open until ${when(view.votingEndsAt, nowMs)}.`);
      }
      break;
    case "closed-early":
      lines.push(
        `Voting in ${view.electionId} was closed early ${when(view.votingEndsAt, nowMs)}: no ballot, check-in or scan is accepted.`,
        `Reason: ${view.closedEarly?.reason ?? "(none recorded)"}`,
        scheduled,
        "Voting may be reopened until the scheduled close.",
      );
      break;
    case "closed":
      lines.push(
        view.closedEarly
          ? `Voting in ${view.electionId} was closed early ${when(view.closedEarly.effectiveAt, nowMs)}, and the scheduled close ${when(view.closesAt, nowMs)} has passed.`
          : `Voting in ${view.electionId} closed as scheduled, ${when(view.closesAt, nowMs)}.`,
      );
      break;
  }
  if (view.changePending)
    lines.push("A change is still being recorded in the audit log; repeat the last close or reopen to complete it.");
  return lines.join("\n");
}

function reasonOf(value: string): string {
  const reason = value.trim();
  if (reason.length < 1 || reason.length > 500) throw new InvalidArgumentError("a reason is 1 to 500 characters");
  return reason;
}

async function pollsCall(electionId: string, action: "" | "/close" | "/reopen", reason?: string): Promise<PollsView> {
  const path = `/v1/admin/elections/${encodeURIComponent(electionId)}/polls${action}`;
  const client = OfficialClient.fromEnv();
  const answer =
    reason === undefined ? await client.call("GET", path) : await client.call("POST", path, { json: { reason } });
  return PollsView.parse(answer);
}

function show(view: PollsView, json: boolean | undefined): void {
  if (json) print(view);
  else console.log(describePolls(view));
}

export function electionCommands(): Command {
  const election = new Command("election").description(
    "Election definitions (NIST SP 1500-100 ElectionReport plus settings).",
  );

  election
    .command("load")
    .description(
      "Load or replace (before its polls open) an election definition; every problem is listed on refusal, and what the loader decided on its own is listed as warnings (stderr).",
    )
    .argument("<file>", "definition JSON: { settings, electionReport }")
    .action(async (file: string) => {
      const text = await readFile(file, "utf8");
      const answer = await OfficialClient.fromEnv().call("POST", "/v1/admin/elections", {
        text,
        contentType: "application/json",
      });
      print(answer);
      sayReadings(answer);
    });

  election
    .command("show")
    .description(
      "Show a stored definition and its version, with what the loader derives from it today as warnings (stderr).",
    )
    .argument("<electionId>")
    .action(async (electionId: string) => {
      const answer = await OfficialClient.fromEnv().call(
        "GET",
        `/v1/admin/elections/${encodeURIComponent(electionId)}`,
      );
      print(answer);
      sayReadings(answer);
    });

  election
    .command("export")
    .description(
      "Export a stored election as a NIST SP 1500-100 v2 election definition, every derivation written out: it passes the NIST schema and loads again as the same election.",
    )
    .argument("<electionId>")
    .option("--out <file>", "write it to this file instead of stdout")
    .option("--definition", "the loadable { settings, electionReport } document, with the stored settings")
    .action(async (electionId: string, options: { out?: string; definition?: boolean }) => {
      const query = options.definition ? "?document=definition" : "";
      const answer = await OfficialClient.fromEnv().call(
        "GET",
        `/v1/admin/elections/${encodeURIComponent(electionId)}/export${query}`,
      );
      if (options.out === undefined) {
        print(answer);
        return;
      }
      await writeFile(options.out, `${JSON.stringify(answer, null, 2)}\n`);
      console.log(
        `wrote ${options.definition ? "the definition" : "the NIST election report"} of ${electionId} to ${options.out}`,
      );
    });

  election
    .command("check")
    .description(
      "Check a definition file offline, as a load would: its problems (exit 1), or its warnings and a summary (exit 0). Nothing is sent.",
    )
    .argument("<file>", "definition JSON: { settings, electionReport }")
    .action(async function (this: Command, file: string) {
      const { ok, out, err } = await checkDefinitionFile(file);
      for (const line of out) console.log(line);
      for (const line of err) console.error(line);
      if (!ok) {
        const n = err.length;
        this.error(`error: ${file} would be refused: ${n} problem${n === 1 ? "" : "s"}`, { exitCode: 1 });
      }
    });

  election
    .command("polls")
    .description("Show when voting opens, when it ends, and any early close in force.")
    .argument("<electionId>")
    .option("--json", "print the API's answer as JSON")
    .action(async (electionId: string, options: { json?: boolean }) => {
      show(await pollsCall(electionId, ""), options.json);
    });

  const changes = [
    {
      name: "close",
      description:
        "Close voting early (an emergency). It takes effect about 11 seconds later, on every server at the same instant; the scheduled close stays the close for results, and voting may be reopened until then.",
    },
    { name: "reopen", description: "Reopen voting closed early, before the scheduled close." },
  ] as const;
  for (const change of changes) {
    election
      .command(change.name)
      .description(change.description)
      .argument("<electionId>")
      .requiredOption(
        "--reason <text>",
        "why, in plain words (1-500 characters); it is published in the audit log",
        reasonOf,
      )
      .option("--json", "print the API's answer as JSON")
      .action(async (electionId: string, options: { reason: string; json?: boolean }) => {
        show(await pollsCall(electionId, `/${change.name}`, options.reason), options.json);
      });
  }

  // Results exports and certification (workers/gateway/routes/certification.ts).
  election
    .command("exports")
    .description(
      "Show the results exports: whether the signed NIST results report and CVR export are published, their SHA-256, where they are, why they wait, and the certification.",
    )
    .argument("<electionId>")
    .action(async (electionId: string) => {
      print(
        await OfficialClient.fromEnv().call(
          "GET",
          `/v1/admin/elections/${encodeURIComponent(electionId)}/results/exports`,
        ),
      );
    });

  election
    .command("certify")
    .description(
      "Certify the published results report (logged publicly as results-certified, with its SHA-256); refused before the exports are published, and once certified.",
    )
    .argument("<electionId>")
    .option("--statement <text>", "a statement logged with the certification (public: name no voter)")
    .action(async (electionId: string, options: { statement?: string }) => {
      print(
        await OfficialClient.fromEnv().call(
          "POST",
          `/v1/admin/elections/${encodeURIComponent(electionId)}/results/certify`,
          {
            json: options.statement === undefined ? {} : { statement: options.statement },
          },
        ),
      );
    });

  // Offline check-ins' conflicts (workers/gateway/routes/conflicts.ts).
  election
    .command("conflicts")
    .description(
      "List the conflicts of offline check-ins: the station checked a voter in without reaching the server, and the voter had voted online or checked in elsewhere. Each ballot is held until an administrator decides.",
    )
    .argument("<electionId>")
    .option("--json", "print the API's answer as JSON")
    .action(async (electionId: string, options: { json?: boolean }) => {
      const answer = await OfficialClient.fromEnv().call(
        "GET",
        `/v1/admin/elections/${encodeURIComponent(electionId)}/conflicts`,
      );
      if (options.json) print(answer);
      else console.log(describeConflicts(ConflictList.parse(answer)));
    });

  election
    .command("adjudicate")
    .description(
      "Decide one conflict: --count queues its held ballot to the tally (once), --do-not-count destroys its marks. Logged publicly as conflict-adjudicated; a conflict is decided once.",
    )
    .argument("<electionId>")
    .argument("<conflictId>")
    .option("--count", "count the held ballot")
    .option("--do-not-count", "do not count the held ballot")
    .requiredOption(
      "--reason <text>",
      "why, in plain words (1-500 characters); it is published in the audit log (name no voter)",
      reasonOf,
    )
    .option("--json", "print the API's answer as JSON")
    .action(
      async (
        electionId: string,
        conflictId: string,
        options: { count?: boolean; doNotCount?: boolean; reason: string; json?: boolean },
      ) => {
        if (options.count === options.doNotCount)
          throw new InvalidArgumentError("give exactly one of --count and --do-not-count");
        const answer = await OfficialClient.fromEnv().call(
          "POST",
          `/v1/admin/elections/${encodeURIComponent(electionId)}/conflicts/${encodeURIComponent(conflictId)}/decision`,
          { json: { decision: options.count ? "count" : "do-not-count", reason: options.reason } },
        );
        if (options.json) print(answer);
        else console.log(describeConflict(ConflictEntry.parse(answer)));
      },
    );

  // The security monitor's alerts (workers/gateway/routes/alerts.ts).
  const alertsPath = (electionId: string, alertId?: string): string =>
    `/v1/admin/elections/${encodeURIComponent(electionId)}/alerts${alertId === undefined ? "" : `/${encodeURIComponent(alertId)}`}`;

  election
    .command("alerts")
    .description(
      "List the security monitor's alerts, the most recently seen first: by default those not closed (open and acknowledged).",
    )
    .argument("<electionId>")
    .addOption(new Option("--state <state>", "which alerts").choices([...AlertState.options, "all"]))
    .option("--json", "print the API's answer as JSON")
    .action(async (electionId: string, options: { state?: string; json?: boolean }) => {
      const query = options.state ? `?state=${encodeURIComponent(options.state)}` : "";
      const answer = await OfficialClient.fromEnv().call("GET", `${alertsPath(electionId)}${query}`);
      if (options.json) print(answer);
      else console.log(describeAlerts(electionId, AlertList.parse(answer).alerts, options.state));
    });

  election
    .command("alert")
    .description("Show one alert: its rule, scope, evidence, and who acknowledged or closed it.")
    .argument("<electionId>")
    .argument("<alertId>")
    .option("--json", "print the API's answer as JSON")
    .action(async (electionId: string, alertId: string, options: { json?: boolean }) => {
      const answer = await OfficialClient.fromEnv().call("GET", alertsPath(electionId, alertId));
      if (options.json) print(answer);
      else console.log(describeAlert(Alert.parse(answer), true));
    });

  for (const [name, action, description] of [
    [
      "acknowledge",
      "acknowledge",
      "Acknowledge an alert: you are looking into it. It stays until it is closed and keeps counting its rule's firings.",
    ],
    [
      "close-alert",
      "close",
      "Close an alert with a note saying what was found or done. A closed alert takes nothing more; if its rule fires again, a new alert is raised.",
    ],
  ] as const) {
    election
      .command(name)
      .description(description)
      .argument("<electionId>")
      .argument("<alertId>")
      .requiredOption("--note <text>", "what you found or are doing, in plain words (1-500 characters)", noteOf)
      .option("--json", "print the API's answer as JSON")
      .action(async (electionId: string, alertId: string, options: { note: string; json?: boolean }) => {
        const answer = await OfficialClient.fromEnv().call("POST", `${alertsPath(electionId, alertId)}/${action}`, {
          json: { note: options.note },
        });
        if (options.json) print(answer);
        else console.log(describeAlert(Alert.parse(answer), true));
      });
  }

  election
    .command("monitor")
    .description(
      "The security monitor's view of the machinery: the audit log's backlog and checkpoint age, dead letters, the results aggregator's lag, and how many alerts are open.",
    )
    .argument("<electionId>")
    .option("--json", "print the API's answer as JSON")
    .action(async (electionId: string, options: { json?: boolean }) => {
      const answer = await OfficialClient.fromEnv().call(
        "GET",
        `/v1/admin/elections/${encodeURIComponent(electionId)}/monitor`,
      );
      if (options.json) print(answer);
      else console.log(describeMonitor(MonitorStatus.parse(answer)));
    });

  return election;
}

const ConflictEntry = z.object({
  conflictId: z.string(),
  stationId: z.string(),
  districtId: z.string(),
  kind: z.string(),
  checkInMinute: z.string(),
  syncedMinute: z.string(),
  other: z
    .object({ channel: z.enum(["online", "paper"]), stationId: z.string().optional(), minute: z.string().nullable() })
    .nullable(),
  state: z.enum(["held", "count", "do-not-count"]),
  decision: z.object({ officialId: z.string(), minute: z.string(), reason: z.string() }).nullable(),
});
type ConflictEntry = z.infer<typeof ConflictEntry>;

const ConflictList = z.object({ electionId: z.string(), conflicts: z.array(ConflictEntry) });

const minuteText = (iso: string): string => `${iso.slice(0, 16).replace("T", " ")} UTC`;

/** One conflict in plain words: where, when, with what, and what was decided. */
export function describeConflict(conflict: ConflictEntry): string {
  const why =
    conflict.kind === "voted-online"
      ? `the voter had voted online${conflict.other?.minute ? ` (${minuteText(conflict.other.minute)})` : ""}`
      : conflict.kind === "checked-in"
        ? `the voter had checked in${conflict.other?.stationId ? ` at ${conflict.other.stationId}` : ""}${conflict.other?.minute ? ` (${minuteText(conflict.other.minute)})` : ""}`
        : "the roll no longer puts the voter in this station's districts";
  const state =
    conflict.state === "held"
      ? "Held: waiting for a decision."
      : `Decided ${conflict.state === "count" ? "to count" : "not to count"} by ${conflict.decision?.officialId ?? "?"}${conflict.decision ? ` at ${minuteText(conflict.decision.minute)}: ${conflict.decision.reason}` : "."}`;
  return [
    `Conflict ${conflict.conflictId}`,
    `  Station ${conflict.stationId}, district ${conflict.districtId}, checked in offline ${minuteText(conflict.checkInMinute)}, synced ${minuteText(conflict.syncedMinute)}.`,
    `  Why: ${why}.`,
    `  ${state}`,
  ].join("\n");
}

function describeConflicts(list: z.infer<typeof ConflictList>): string {
  if (list.conflicts.length === 0) return `No conflicts of offline check-ins in ${list.electionId}.`;
  const held = list.conflicts.filter((c) => c.state === "held").length;
  return [
    `${list.conflicts.length} conflict${list.conflicts.length === 1 ? "" : "s"} of offline check-ins in ${list.electionId}, ${held} waiting for a decision:`,
    ...list.conflicts.map(describeConflict),
  ].join("\n\n");
}

function noteOf(value: string): string {
  const note = value.trim();
  if (note.length < 1 || note.length > 500) throw new InvalidArgumentError("a note is 1 to 500 characters");
  return note;
}

const AlertList = z.object({ alerts: z.array(Alert) });

const secondText = (iso: string): string => `${iso.slice(0, 19).replace("T", " ")} UTC`;

/** One alert in plain words: what, where, since when, and who is on it; with `full`, its evidence. */
function describeAlert(alert: Alert, full = false): string {
  const handled = [
    alert.acknowledged
      ? `  Acknowledged by ${alert.acknowledged.officialId} at ${secondText(alert.acknowledged.at)}: ${alert.acknowledged.note}`
      : undefined,
    alert.closed
      ? `  Closed by ${alert.closed.officialId} at ${secondText(alert.closed.at)}: ${alert.closed.note}`
      : undefined,
  ].filter((line): line is string => line !== undefined);
  const lines = [
    `${alert.severity.toUpperCase()} ${alert.rule} (${alert.scope}), ${alert.state}: ${alert.id}`,
    `  ${alert.summary}`,
    `  First seen ${secondText(alert.firstSeen)}, last seen ${secondText(alert.lastSeen)}, ${alert.count} time${alert.count === 1 ? "" : "s"}.`,
    ...handled,
  ];
  if (full)
    lines.push(
      "  Evidence:",
      ...Object.entries(alert.evidence).map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`),
    );
  return lines.join("\n");
}

function describeAlerts(electionId: string, alerts: readonly Alert[], state: string | undefined): string {
  const which = state === undefined ? "not closed" : state === "all" ? "in all" : state;
  if (alerts.length === 0) return `No alerts ${state === "all" ? "" : `${which} `}in ${electionId}.`;
  const open = alerts.filter((a) => a.state === "open").length;
  return [
    `${alerts.length} alert${alerts.length === 1 ? "" : "s"} ${state === "all" ? "" : `${which} `}in ${electionId}, ${open} open:`,
    ...alerts.map((a) => describeAlert(a)),
  ].join("\n\n");
}

/** The monitor's status in plain words, one sentence per line. */
function describeMonitor(status: MonitorStatus): string {
  const lines = [
    `Security monitor of ${status.electionId}: ${status.openAlerts} alert${status.openAlerts === 1 ? "" : "s"} not closed.`,
  ];
  lines.push(
    status.evaluatedAt === null
      ? "Its timer's rules have not run yet."
      : `Its timer's rules last ran at ${secondText(status.evaluatedAt)}.`,
  );
  if (status.log === null) lines.push("Audit log: not read yet.");
  else if (status.log.halted !== null) lines.push(`Audit log: HALTED (${status.log.halted}).`);
  else
    lines.push(
      `Audit log: ${status.log.size} entries, ${status.log.publishedSize} in a published checkpoint, backlog ${status.log.backlog}; ${
        status.log.checkpointAgeSeconds === null
          ? "no checkpoint yet."
          : `the published size last grew ${Math.round(status.log.checkpointAgeSeconds)} seconds ago.`
      }`,
    );
  lines.push(status.deadLetters === null ? "Dead letters: not read yet." : `Dead letters: ${status.deadLetters}.`);
  lines.push(
    status.aggregator === null
      ? "Results aggregator: not read yet."
      : status.aggregator.behind === 0
        ? "Results aggregator: level with the ballots heard."
        : `Results aggregator: ${status.aggregator.behind} ballots behind for ${Math.round(status.aggregator.laggingSeconds)} seconds.`,
  );
  return lines.join("\n");
}
