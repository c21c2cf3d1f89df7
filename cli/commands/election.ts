/**
 * `admin election ...`: load an election definition, show what is stored; after the close, the
 * results exports' status and their certification.
 */
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { OfficialClient } from "../lib/api.ts";
import { print } from "../lib/io.ts";

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
