/**
 * The auditor's rules for the log's privacy measures (lib/audit/recount.ts): blinded retractions
 * are matched to their ballots once the retraction key is published (H1), per-contest records
 * recount like whole ballots and are checked per district and style (M5), and a round's withheld
 * records are accounted for (M4).
 */
import { describe, expect, it } from "vitest";
import { retractionBlind, retractionBlindingKey, type LogEntry, type LogEntryOf } from "../../lib/audit/entries.ts";
import { LogAuditor, type AuditFindings } from "../../lib/audit/recount.ts";
import { SAMPLE_RETRACTION_KEY, sampleElection } from "./helpers/audit-log-copy.ts";

async function audit(entries: readonly LogEntry[]): Promise<AuditFindings> {
  const auditor = new LogAuditor();
  for (const [i, entry] of entries.entries()) await auditor.add(i, entry);
  return auditor.finish();
}

const at = <T extends LogEntry["type"]>(entries: LogEntry[], type: T): number =>
  entries.findIndex((e) => e.type === type);

describe("blinded retractions (H1)", () => {
  it("match their ballots once the key is out, and the honest sample has no problem", async () => {
    const sample = await sampleElection(60);
    const findings = await audit(sample.entries);
    expect(findings.problems).toEqual([]);
    expect(findings.counts.retraction).toBe(2);
    expect(findings.counts["retraction-key"]).toBe(1);
  });

  it("a retraction cannot be matched to a tracking code without the key", async () => {
    const sample = await sampleElection(60);
    const retractions = sample.entries.filter((e): e is LogEntryOf<"retraction"> => e.type === "retraction");
    const text = JSON.stringify(retractions);
    for (const ballot of sample.ballots) {
      expect(text).not.toContain(ballot.trackingCode);
      expect(text).not.toContain(ballot.commitment);
    }
    // With another key (a guess), no retraction matches any ballot.
    const guess = await retractionBlindingKey("00".repeat(32));
    const guessed = new Set(await Promise.all(sample.ballots.map((b) => retractionBlind(guess, b.trackingCode))));
    expect(retractions.some((r) => guessed.has(r.blindedCode))).toBe(false);
  });

  it("finds a retraction that names no earlier ballot, a ballot retracted twice, and a wrong key", async () => {
    const sample = await sampleElection(60);
    const key = await retractionBlindingKey(SAMPLE_RETRACTION_KEY);
    // The sample retracts its second and third ballots (helpers/audit-log-copy.ts).
    const first = sample.ballots[1];
    const last = sample.ballots[sample.ballots.length - 1];
    if (!first || !last) throw new Error("no ballots");
    const entries = [...sample.entries];
    const opened = at(entries, "polls-opened");
    // Before its ballot (the last ballot is logged later), and the first ballot again.
    entries.splice(opened + 1, 0, {
      type: "retraction",
      reason: "superseded-by-online",
      districtId: last.districtId,
      blindedCode: await retractionBlind(key, last.trackingCode),
    });
    const closed = at(entries, "polls-closed");
    entries.splice(closed, 0, {
      type: "retraction",
      reason: "superseded-by-online",
      districtId: first.districtId,
      blindedCode: await retractionBlind(key, first.trackingCode),
    });
    const problems = (await audit(entries)).problems.join("\n");
    expect(problems).toContain(`entry ${opened + 1}: retraction`);
    expect(problems).toContain("names no earlier ballot entry");
    expect(problems).toContain(`ballot ${first.trackingCode} is retracted twice`);

    const wrongKey = sample.entries.map((e) => (e.type === "retraction-key" ? { ...e, key: "43".repeat(32) } : e));
    const wrong = (await audit(wrongKey)).problems;
    expect(wrong.filter((p) => p.includes("names no earlier ballot entry"))).toHaveLength(2);
  });

  it("finds a second key entry, and retractions left unchecked after the close", async () => {
    const sample = await sampleElection(30);
    const keyAt = at(sample.entries, "retraction-key");
    const twice = [...sample.entries];
    twice.splice(keyAt + 1, 0, { type: "retraction-key", at: "2026-03-01T20:00:00.000Z", key: "43".repeat(32) });
    expect((await audit(twice)).problems).toContain(
      `entry ${keyAt + 1}: a second retraction-key entry (the key is published once)`,
    );
    const none = sample.entries.filter((e) => e.type !== "retraction-key");
    expect((await audit(none)).problems).toContain(
      "2 retraction(s) cannot be checked: the polls closed and no retraction-key entry is logged",
    );
    // During voting (no polls-closed yet) unmatched retractions are by design.
    const voting = sample.entries.slice(0, at(sample.entries, "polls-closed"));
    expect((await audit(voting)).problems).toEqual([]);
  });
});

describe("per-contest records (M5)", () => {
  it("recount exactly as whole-ballot records do, and hold one contest each", async () => {
    const whole = await audit((await sampleElection(90, "whole-ballot")).entries);
    const sample = await sampleElection(90, "per-contest");
    const perContest = await audit(sample.entries);
    expect(perContest.problems).toEqual([]);
    expect(perContest.recount).toEqual(whole.recount);
    expect(perContest.counts["cast-vote-record"]).toBe(0);
    expect(perContest.counts["contest-vote-record"]).toBeGreaterThan(whole.counts["cast-vote-record"]);
  });

  it("find a style whose contests have different record counts, and records of the wrong kind", async () => {
    const sample = await sampleElection(90, "per-contest");
    const dropped = at(sample.entries, "contest-vote-record");
    const victim = sample.entries[dropped];
    if (victim?.type !== "contest-vote-record") throw new Error("no record");
    const entries = sample.entries.filter((_, i) => i !== dropped);
    const round = entries.findIndex((e) => e.type === "cast-vote-records-published");
    const manifest = entries[round];
    if (manifest?.type !== "cast-vote-records-published") throw new Error("no round");
    entries[round] = {
      ...manifest,
      districts: manifest.districts.map((d) =>
        d.districtId === victim.districtId ? { ...d, records: d.records - 1 } : d,
      ),
    };
    const problems = (await audit(entries)).problems.join("\n");
    expect(problems).toContain(
      `district ${victim.districtId}, ballot style ${victim.ballotStyleId}: its contests have different numbers of records`,
    );
    const wholeUnderPerContest = (await sampleElection(30, "whole-ballot")).entries.map((e) =>
      e.type === "definition-loaded" ? { ...e, castVoteRecords: "per-contest" as const } : e,
    );
    expect((await audit(wholeUnderPerContest)).problems.join("\n")).toContain(
      "a cast-vote-record entry, but the definition says per-contest records",
    );
  });
});

describe("withheld records (M4)", () => {
  it("a round's withheld records are counted, and only as many as it says", async () => {
    const sample = await sampleElection(60, "whole-ballot");
    const record = at(sample.entries, "cast-vote-record");
    const held = sample.entries[record];
    if (held?.type !== "cast-vote-record") throw new Error("no record");
    const withhold = (withheld: number): LogEntry[] =>
      sample.entries
        .filter((_, i) => i !== record)
        .map((e) =>
          e.type === "cast-vote-records-published"
            ? {
                ...e,
                districts: e.districts.map((d) =>
                  d.districtId === held.districtId ? { ...d, records: d.records - 1, withheld } : d,
                ),
              }
            : e,
        );
    expect((await audit(withhold(1))).problems).toEqual([]);
    expect((await audit(withhold(0))).problems.join("\n")).toMatch(
      new RegExp(`district ${held.districtId}: cast vote records of \\d+ ballots, but .* - 0 withheld`),
    );
  });
});
