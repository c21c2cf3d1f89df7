/**
 * `admin election alerts|alert|acknowledge|close-alert|monitor`: the CLI lists and shows the
 * security monitor's alerts in plain words, sends an official's note to acknowledge or close one,
 * refuses a missing or empty note before sending anything, and passes the API's refusals on with
 * their code. The routes are tested in test/workers/alerts-routes.test.ts; here a small HTTP
 * server records what the CLI sends over real HTTP and answers as the routes do.
 */
import { describe, expect, it, vi } from "vitest";
import { ApiCallError } from "../../cli/lib/api.ts";
import { withRecordingApi } from "./helpers/recording-api.ts";

const ID = "al_0123456789abcdefghijklmn";
const BASE_PATH = "/v1/admin/elections/demo-2026/alerts";

let state: "open" | "acknowledged" | "closed" = "open";

function alert(): unknown {
  return {
    id: ID,
    electionId: "demo-2026",
    rule: "station-rate",
    severity: "high",
    scope: "station:tallinn-001",
    summary: "Station tallinn-001 checked in or scanned 61 voters in 5 minutes; the threshold is 60.",
    evidence: { stationId: "tallinn-001", count: 61, threshold: 60 },
    firstSeen: "2026-11-30T10:14:03.000Z",
    lastSeen: "2026-11-30T10:16:09.000Z",
    count: 3,
    state,
    acknowledged:
      state === "open" ? null : { officialId: "sec-1", at: "2026-11-30T10:20:00.000Z", note: "Calling the station." },
    closed:
      state === "closed" ? { officialId: "sec-1", at: "2026-11-30T10:40:00.000Z", note: "A queue at opening." } : null,
  };
}

const status = {
  electionId: "demo-2026",
  evaluatedAt: "2026-11-30T10:41:00.000Z",
  log: { size: 120, publishedSize: 100, backlog: 20, checkpointAgeSeconds: 4.2, halted: null },
  deadLetters: 0,
  aggregator: { behind: 0, laggingSeconds: 0 },
  openAlerts: 1,
};

const { requests, election, posts } = withRecordingApi("alerts-cli", (request, res) => {
  if (request.method === "GET" && request.url.startsWith(`${BASE_PATH}?`)) {
    res.end(JSON.stringify({ alerts: [alert()] }));
  } else if (request.method === "GET" && request.url === BASE_PATH) {
    res.end(JSON.stringify({ alerts: state === "closed" ? [] : [alert()] }));
  } else if (request.method === "GET" && request.url === `${BASE_PATH}/${ID}`) {
    res.end(JSON.stringify(alert()));
  } else if (request.method === "POST" && request.url.startsWith(`${BASE_PATH}/${ID}/`)) {
    if (state === "closed") {
      res.statusCode = 409;
      res.end(JSON.stringify({ error: { code: "alert_closed", message: "Closed." } }));
      return;
    }
    state = request.url.endsWith("/close") ? "closed" : "acknowledged";
    res.end(JSON.stringify(alert()));
  } else if (request.method === "GET" && request.url === "/v1/admin/elections/demo-2026/monitor") {
    res.end(JSON.stringify(status));
  } else {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: "alert_not_found", message: "No such alert." } }));
  }
});

describe("admin election alerts / alert / acknowledge / close-alert / monitor", () => {
  it("alerts lists the open alerts in plain words, and --state asks the API for that state", async () => {
    const said = await election("alerts", "demo-2026");
    expect(said).toContain("1 alert not closed in demo-2026, 1 open:");
    expect(said).toContain(`HIGH station-rate (station:tallinn-001), open: ${ID}`);
    expect(said).toContain("Station tallinn-001 checked in or scanned 61 voters in 5 minutes; the threshold is 60.");
    expect(said).toContain("First seen 2026-11-30 10:14:03 UTC, last seen 2026-11-30 10:16:09 UTC, 3 times.");
    await election("alerts", "demo-2026", "--state", "all");
    expect(requests.filter((r) => r.method === "GET").map((r) => r.url)).toEqual([BASE_PATH, `${BASE_PATH}?state=all`]);
  });

  it("refuses an unknown state, a missing or empty note, before sending anything", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await expect(election("alerts", "demo-2026", "--state", "burning")).rejects.toThrow(/Allowed choices/);
      await expect(election("acknowledge", "demo-2026", ID)).rejects.toThrow(/--note/);
      await expect(election("close-alert", "demo-2026", ID, "--note", "   ")).rejects.toThrow(/1 to 500/);
    } finally {
      stderr.mockRestore();
    }
    expect(requests).toEqual([]);
  });

  it("acknowledge and close-alert send the note and say who is on it", async () => {
    const acknowledged = await election("acknowledge", "demo-2026", ID, "--note", " Calling the station. ");
    expect(acknowledged).toContain("Acknowledged by sec-1 at 2026-11-30 10:20:00 UTC: Calling the station.");
    const closed = await election("close-alert", "demo-2026", ID, "--note", "A queue at opening.");
    expect(closed).toContain("Closed by sec-1 at 2026-11-30 10:40:00 UTC: A queue at opening.");
    expect(closed).toContain('    stationId: "tallinn-001"');
    expect(posts()).toEqual([
      { method: "POST", url: `${BASE_PATH}/${ID}/acknowledge`, body: JSON.stringify({ note: "Calling the station." }) },
      { method: "POST", url: `${BASE_PATH}/${ID}/close`, body: JSON.stringify({ note: "A queue at opening." }) },
    ]);
    expect(await election("alerts", "demo-2026")).toBe("No alerts not closed in demo-2026.");
  });

  it("a closed alert's acknowledgement reaches the official as the API's refusal", async () => {
    const refused = election("acknowledge", "demo-2026", ID, "--note", "late");
    await expect(refused).rejects.toBeInstanceOf(ApiCallError);
    await expect(refused).rejects.toMatchObject({ code: "alert_closed" });
  });

  it("alert shows one alert with its evidence; monitor says the machinery's state", async () => {
    const one = await election("alert", "demo-2026", ID);
    expect(one).toContain("  Evidence:");
    expect(one).toContain("    count: 61");
    const monitor = await election("monitor", "demo-2026");
    expect(monitor).toContain("Security monitor of demo-2026: 1 alert not closed.");
    expect(monitor).toContain(
      "Audit log: 120 entries, 100 in a published checkpoint, backlog 20; the published size last grew 4 seconds ago.",
    );
    expect(monitor).toContain("Dead letters: 0.");
    expect(monitor).toContain("Results aggregator: level with the ballots heard.");
  });
});
