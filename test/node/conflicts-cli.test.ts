/**
 * `admin election conflicts|adjudicate`: the CLI lists the conflicts of offline check-ins in plain
 * words and sends an administrator's decision with its reason to the adjudication route; a
 * missing or doubled decision flag and a bad reason are refused before anything is sent, and the
 * API's refusals reach the administrator with their code. The API side is tested in
 * test/workers/offline-check-ins.test.ts; here, as in polls-cli.test.ts, a small HTTP server
 * records what the CLI sends over real HTTP and answers as the routes do.
 */
import { describe, expect, it, vi } from "vitest";
import { ApiCallError } from "../../cli/lib/api.ts";
import { withRecordingApi } from "./helpers/recording-api.ts";

const ID = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
const BASE_PATH = "/v1/admin/elections/demo-2026/conflicts";

let decided: { decision: string; reason: string } | undefined;

function conflict(): unknown {
  return {
    conflictId: ID,
    electionId: "demo-2026",
    stationId: "tallinn-001",
    districtId: "district-north",
    kind: "voted-online",
    checkInMinute: "2026-11-30T10:14:00.000Z",
    syncedMinute: "2026-11-30T12:02:00.000Z",
    other: { channel: "online", minute: "2026-11-30T09:41:00.000Z" },
    state: decided ? decided.decision : "held",
    decision: decided ? { officialId: "admin", minute: "2026-11-30T12:30:00.000Z", reason: decided.reason } : null,
  };
}

const { requests, election, posts } = withRecordingApi("conflicts-cli", (request, res) => {
  if (request.method === "GET" && request.url === BASE_PATH) {
    res.end(JSON.stringify({ electionId: "demo-2026", conflicts: [conflict()] }));
  } else if (request.method === "POST" && request.url === `${BASE_PATH}/${ID}/decision`) {
    const asked = JSON.parse(request.body) as { decision: string; reason: string };
    if (decided && decided.decision !== asked.decision) {
      res.statusCode = 409;
      res.end(JSON.stringify({ error: { code: "conflict_already_decided", message: "Decided." } }));
      return;
    }
    decided ??= asked;
    res.end(JSON.stringify(conflict()));
  } else {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: "conflict_not_found", message: "No such conflict." } }));
  }
});

describe("admin election conflicts / adjudicate", () => {
  it("conflicts lists each conflict in plain words: where, when, why, and that it waits", async () => {
    const said = await election("conflicts", "demo-2026");
    expect(said).toContain("1 conflict of offline check-ins in demo-2026, 1 waiting for a decision:");
    expect(said).toContain(`Conflict ${ID}`);
    expect(said).toContain(
      "Station tallinn-001, district district-north, checked in offline 2026-11-30 10:14 UTC, synced 2026-11-30 12:02 UTC.",
    );
    expect(said).toContain("Why: the voter had voted online (2026-11-30 09:41 UTC).");
    expect(said).toContain("Held: waiting for a decision.");
    expect(JSON.parse(await election("conflicts", "demo-2026", "--json"))).toEqual({
      electionId: "demo-2026",
      conflicts: [conflict()],
    });
  });

  it("refuses no decision, both decisions, or no reason before sending anything", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await expect(election("adjudicate", "demo-2026", ID, "--reason", "Checked")).rejects.toThrow(/exactly one/);
      await expect(
        election("adjudicate", "demo-2026", ID, "--count", "--do-not-count", "--reason", "Checked"),
      ).rejects.toThrow(/exactly one/);
      await expect(election("adjudicate", "demo-2026", ID, "--count")).rejects.toThrow(/--reason/);
      await expect(election("adjudicate", "demo-2026", ID, "--count", "--reason", "  ")).rejects.toThrow(/1 to 500/);
    } finally {
      stderr.mockRestore();
    }
    expect(requests).toEqual([]);
  });

  it("adjudicate --count sends the decision and reason and says what was decided", async () => {
    const said = await election(
      "adjudicate",
      "demo-2026",
      ID,
      "--count",
      "--reason",
      " Voter's online ballot was a test ",
    );
    expect(posts()).toEqual([
      {
        method: "POST",
        url: `${BASE_PATH}/${ID}/decision`,
        body: JSON.stringify({ decision: "count", reason: "Voter's online ballot was a test" }),
      },
    ]);
    expect(said).toContain("Decided to count by admin at 2026-11-30 12:30 UTC: Voter's online ballot was a test");
  });

  it("the other decision afterwards reaches the administrator as the API's refusal", async () => {
    const refused = election("adjudicate", "demo-2026", ID, "--do-not-count", "--reason", "Changed my mind");
    await expect(refused).rejects.toBeInstanceOf(ApiCallError);
    await expect(refused).rejects.toMatchObject({ code: "conflict_already_decided" });
  });
});
