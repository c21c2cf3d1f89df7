/**
 * Loads the demo election into a running system: the definition from elections/demo/ with its
 * polls moved to open now and close in a week, and the demo voter roll (imported, with whatever
 * `beforePollsOpen` registers, before the polls open: after, they can no longer change).
 * Idempotent: a second run finds the election locked (its polls are open) and the roll unchanged.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ApiCallError, type OfficialClient } from "../cli/lib/api.ts";
import { ROOT } from "./system.ts";

export const DEMO_ELECTION_ID = "demo-2026";
const DEMO_DIR = join(ROOT, "elections", "demo");

const Definition = z.looseObject({ settings: z.looseObject({ polls: z.looseObject({}) }) });

export async function demoVoters(limit = 30): Promise<{ nationalId: string; districtId: string }[]> {
  const lines = (await readFile(join(DEMO_DIR, "voters.csv"), "utf8")).split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",");
  const idColumn = header.indexOf("national_id");
  const districtColumn = header.indexOf("district");
  return lines.slice(1, limit + 1).map((line) => {
    const cells = line.split(",");
    return { nationalId: cells[idColumn] ?? "", districtId: cells[districtColumn] ?? "" };
  });
}

export async function loadDemo(
  client: OfficialClient,
  now = new Date(),
  beforePollsOpen?: (client: OfficialClient) => Promise<void>,
): Promise<{ election: "loaded" | "already-open"; roll: unknown }> {
  const definition = Definition.parse(JSON.parse(await readFile(join(DEMO_DIR, "election.json"), "utf8")));
  const polls = {
    opensAt: new Date(now.getTime() - 60_000).toISOString(),
    closesAt: new Date(now.getTime() + 7 * 24 * 3600_000).toISOString(),
  };
  // The roll, station keys and sheet keys are fixed once the polls open, so the election is first
  // loaded with its polls not yet open, set up, then loaded again with the polls open.
  definition.settings.polls = { opensAt: new Date(now.getTime() + 3600_000).toISOString(), closesAt: polls.closesAt };
  try {
    await client.call("POST", "/v1/admin/elections", { json: definition });
  } catch (error) {
    if (!(error instanceof ApiCallError && error.code === "election_locked")) throw error;
    return { election: "already-open", roll: "unchanged: the polls are open" };
  }
  const csv = await readFile(join(DEMO_DIR, "voters.csv"), "utf8");
  const roll = await client.call("POST", `/v1/admin/elections/${DEMO_ELECTION_ID}/roll?firstLine=2`, {
    text: csv,
    contentType: "text/csv",
  });
  await beforePollsOpen?.(client);
  definition.settings.polls = polls;
  await client.call("POST", "/v1/admin/elections", { json: definition });
  return { election: "loaded", roll };
}
