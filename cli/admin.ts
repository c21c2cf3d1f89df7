#!/usr/bin/env node
/**
 * The election administrator's CLI. Credentials come from the environment:
 *   ELECTION_API          the gateway's base URL (default http://127.0.0.1:8787)
 *   ELECTION_OFFICIAL_ID  the official's id (default bootstrap-admin)
 *   ELECTION_OFFICIAL_KEY path to the official's private JWK (default .dev/bootstrap-admin.jwk.json)
 */
import { Command } from "commander";
import { ApiCallError } from "./lib/api.ts";
import { electionCommands } from "./commands/election.ts";
import { officialCommands } from "./commands/official.ts";
import { rollCommands } from "./commands/roll.ts";
import { sheetsCommands } from "./commands/sheets.ts";
import { stationCommands } from "./commands/station.ts";
import { deadLetterCommands } from "./commands/dead-letters.ts";

const program = new Command()
  .name("admin")
  .description(
    "Administer elections: definitions and their polls (early close, reopening), voter rolls, officials, polling stations, printed ballot sheets, dead letters.",
  )
  .showHelpAfterError();

program.addCommand(electionCommands());
program.addCommand(rollCommands());
program.addCommand(officialCommands());
program.addCommand(sheetsCommands());
program.addCommand(stationCommands());
program.addCommand(deadLetterCommands());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ApiCallError) {
    console.error(`error: ${error.code}: ${error.message}`);
    for (const p of error.problems) console.error(`  ${p.path}: ${p.message}`);
    process.exit(1);
  }
  throw error;
}
