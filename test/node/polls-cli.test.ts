/**
 * `admin election polls|close|reopen`: the CLI sends the reason to the polls routes and says in
 * plain words from which instant voting ends, that the scheduled close stays the close for
 * results, and that voting may be reopened until then; a bad reason is refused before anything is
 * sent, and the API's refusals reach the administrator with their code. The API side is tested in
 * test/workers/polls-control.test.ts; here it is a small HTTP server that records what the CLI
 * sends over real HTTP and answers as the routes do.
 */
import { describe, expect, it, vi } from "vitest";
import { describePolls } from "../../cli/commands/election.ts";
import { ApiCallError } from "../../cli/lib/api.ts";
import { withRecordingApi } from "./helpers/recording-api.ts";

const OPENS = "2026-11-30T08:00:00.000Z";
const CLOSES = "2026-11-30T20:00:00.000Z";
const EFFECTIVE = "2026-11-30T16:30:11.000Z";
const REASON = "Flooding at the counting centre";

let closedEarly = false;

function view(): unknown {
  return {
    electionId: "demo-2026",
    state: "open",
    opensAt: OPENS,
    closesAt: CLOSES,
    votingEndsAt: closedEarly ? EFFECTIVE : CLOSES,
    ...(closedEarly ? { closedEarly: { effectiveAt: EFFECTIVE, reason: REASON } } : {}),
    changePending: false,
  };
}

const { requests, election, posts } = withRecordingApi("polls-cli", (request, res) => {
  const polls = "/v1/admin/elections/demo-2026/polls";
  if (request.method === "GET" && request.url === polls) {
    res.end(JSON.stringify(view()));
  } else if (request.method === "POST" && request.url === `${polls}/close` && !closedEarly) {
    closedEarly = true;
    res.end(JSON.stringify(view()));
  } else if (request.method === "POST" && request.url === `${polls}/close`) {
    res.statusCode = 409;
    res.end(JSON.stringify({ error: { code: "polls_already_closed_early", message: "Already." } }));
  } else if (request.method === "POST" && request.url === `${polls}/reopen`) {
    closedEarly = false;
    res.end(JSON.stringify(view()));
  } else {
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: "not_found", message: "no" } }));
  }
});

describe("admin election polls / close / reopen", () => {
  it("close sends the reason and says from when voting is closed, and that it may be reopened", async () => {
    const said = await election("close", "demo-2026", "--reason", `  ${REASON}  `);
    expect(posts()).toEqual([
      { method: "POST", url: "/v1/admin/elections/demo-2026/polls/close", body: JSON.stringify({ reason: REASON }) },
    ]);
    expect(said).toMatch(/^Voting in demo-2026 closes early 2026-11-30 16:30:11 UTC \(/);
    expect(said).toContain("from then no ballot, check-in or scan is accepted");
    expect(said).toContain(`Reason: ${REASON}`);
    expect(said).toContain("The scheduled close is 2026-11-30 20:00:00 UTC");
    expect(said).toContain("Voting may be reopened until the scheduled close.");
  });

  it("polls shows the same; --json gives the API's answer", async () => {
    expect(await election("polls", "demo-2026")).toContain("closes early 2026-11-30 16:30:11 UTC");
    expect(JSON.parse(await election("polls", "demo-2026", "--json"))).toEqual(view());
  });

  it("a second close reaches the administrator as the API's refusal", async () => {
    const refused = election("close", "demo-2026", "--reason", "Again");
    await expect(refused).rejects.toBeInstanceOf(ApiCallError);
    await expect(refused).rejects.toMatchObject({ code: "polls_already_closed_early" });
  });

  it("reopen says voting is open until the scheduled close", async () => {
    const said = await election("reopen", "demo-2026", "--reason", "The water is gone");
    expect(posts()).toEqual([
      {
        method: "POST",
        url: "/v1/admin/elections/demo-2026/polls/reopen",
        body: JSON.stringify({ reason: "The water is gone" }),
      },
    ]);
    expect(said).toMatch(/^Voting in demo-2026 is open until 2026-11-30 20:00:00 UTC/);
  });

  it("refuses a missing, empty or over-long reason before sending anything", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await expect(election("close", "demo-2026")).rejects.toThrow(/--reason/);
      await expect(election("close", "demo-2026", "--reason", "   ")).rejects.toThrow(/1 to 500 characters/);
      await expect(election("reopen", "demo-2026", "--reason", "x".repeat(501))).rejects.toThrow(/1 to 500/);
    } finally {
      stderr.mockRestore();
    }
    expect(requests).toEqual([]);
  });
});

describe("the polls in plain words", () => {
  const base = { electionId: "e1", opensAt: OPENS, closesAt: CLOSES, changePending: false } as const;
  const now = Date.parse("2026-11-30T16:30:00.000Z");

  it("says each state, with how far each instant is from now", () => {
    expect(describePolls({ ...base, state: "open", votingEndsAt: CLOSES }, now)).toBe(
      "Voting in e1 is open until 2026-11-30 20:00:00 UTC (in 4 hours).",
    );
    expect(
      describePolls(
        {
          ...base,
          state: "closed-early",
          votingEndsAt: EFFECTIVE,
          closedEarly: { effectiveAt: EFFECTIVE, reason: "Flood" },
        },
        now + 60_000,
      ),
    ).toContain("Voting in e1 was closed early 2026-11-30 16:30:11 UTC (49 seconds ago)");
    expect(
      describePolls({ ...base, state: "not-open", votingEndsAt: CLOSES }, Date.parse(OPENS) - 7_200_000),
    ).toContain("has not opened: it opens 2026-11-30 08:00:00 UTC (in 2 hours)");
    expect(describePolls({ ...base, state: "open", votingEndsAt: CLOSES }, Date.parse(CLOSES) - 7 * 86_400_000)).toBe(
      "Voting in e1 is open until 2026-11-30 20:00:00 UTC (in 7 days).",
    );
    expect(describePolls({ ...base, state: "closed", votingEndsAt: CLOSES }, Date.parse(CLOSES) + 600_000)).toBe(
      "Voting in e1 closed as scheduled, 2026-11-30 20:00:00 UTC (10 minutes ago).",
    );
    expect(
      describePolls({ ...base, state: "open", votingEndsAt: CLOSES, changePending: true }, now).split("\n")[1],
    ).toMatch(/still being recorded/);
  });
});
