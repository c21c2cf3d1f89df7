/** Elections the end-to-end tests load into the running system. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { OfficialClient } from "../../../cli/lib/api.ts";
import { ROOT } from "../../../scripts/system.ts";

/**
 * The demo election under another id, with `settings` over the demo's, its roll (the demo's
 * voters) imported, and its polls open from a minute ago until `closesAtMs`. The roll is fixed
 * once the polls open, so it is loaded first with polls an hour away, then loaded again open.
 */
export async function loadOpenDemo(
  admin: OfficialClient,
  electionId: string,
  closesAtMs: number,
  settings: Record<string, unknown> = {},
): Promise<void> {
  const definition = z
    .looseObject({ settings: z.looseObject({}) })
    .parse(JSON.parse(await readFile(join(ROOT, "elections", "demo", "election.json"), "utf8")));
  definition.settings = {
    ...definition.settings,
    ...settings,
    electionId,
    polls: {
      opensAt: new Date(Date.now() + 3600_000).toISOString(),
      closesAt: new Date(Date.now() + 7200_000).toISOString(),
    },
  };
  await admin.call("POST", "/v1/admin/elections", { json: definition });
  const csv = await readFile(join(ROOT, "elections", "demo", "voters.csv"), "utf8");
  await admin.call("POST", `/v1/admin/elections/${electionId}/roll?firstLine=2`, {
    text: csv,
    contentType: "text/csv",
  });
  definition.settings = {
    ...definition.settings,
    polls: { opensAt: new Date(Date.now() - 60_000).toISOString(), closesAt: new Date(closesAtMs).toISOString() },
  };
  await admin.call("POST", "/v1/admin/elections", { json: definition });
}
