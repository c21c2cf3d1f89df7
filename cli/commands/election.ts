/** `admin election ...`: load an election definition, show what is stored. */
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

  return election;
}
