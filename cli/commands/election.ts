/**
 * `admin election ...`: load an election definition, show what is stored; see the polls, close
 * voting early (an emergency, with a reason) and reopen it before the scheduled close; after the
 * close, the results exports' status and their certification.
 */
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { PollsView } from "../../lib/election/polls.ts";
import { OfficialClient } from "../lib/api.ts";
import { print } from "../lib/io.ts";

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
    .description("Load or replace (before its polls open) an election definition; every problem is listed on refusal.")
    .argument("<file>", "definition JSON: { settings, electionReport }")
    .action(async (file: string) => {
      const text = await readFile(file, "utf8");
      print(
        await OfficialClient.fromEnv().call("POST", "/v1/admin/elections", { text, contentType: "application/json" }),
      );
    });

  election
    .command("show")
    .description("Show a stored definition and its version.")
    .argument("<electionId>")
    .action(async (electionId: string) => {
      print(await OfficialClient.fromEnv().call("GET", `/v1/admin/elections/${encodeURIComponent(electionId)}`));
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

  return election;
}
