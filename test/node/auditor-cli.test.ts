/**
 * The auditor CLI (cli/auditor.ts) against local copies of a log: it passes on an honest copy,
 * and on a tampered one it exits non-zero with a message naming what is wrong: a flipped byte in
 * any tile, entry bundle or the checkpoint; a dropped or reordered entry; an older checkpoint; a
 * wrong key; results that differ from the records; entries that break the log's rules.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogEntry } from "../../lib/audit/entries.ts";
import { encodeEntryBundle, decodeEntryBundle } from "../../lib/tlog/tiles.ts";
import {
  newLogKey,
  sampleElection,
  sampleSummary,
  writeLogCopy,
  type LogKey,
  type SampleElection,
} from "./helpers/audit-log-copy.ts";
import { runAuditor, type Run } from "./helpers/run.ts";

let work: string;
let pristine: string;
let key: LogKey;
let sample: SampleElection;
let firstCheckpoint: string;
let resultsFile: string;
let copies = 0;

async function copy(): Promise<string> {
  copies += 1;
  const dir = join(work, `copy-${copies}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}

async function files(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, withFileTypes: true });
  return all.filter((d) => d.isFile()).map((d) => relative(dir, join(d.parentPath, d.name)).split("\\").join("/"));
}

async function flipByte(file: string, at: (length: number) => number): Promise<void> {
  const bytes = await readFile(file);
  const i = at(bytes.length);
  bytes[i] = (bytes[i] ?? 0) ^ 0x20;
  await writeFile(file, bytes);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "auditor-cli-"));
  pristine = join(work, "pristine");
  key = await newLogKey();
  sample = await sampleElection(290);
  const total = sample.entries.length;
  const built = await writeLogCopy(pristine, sample.entries, [200, total - 40, total], key);
  firstCheckpoint = join(work, "checkpoint-200");
  await writeFile(firstCheckpoint, built.checkpoints[0]?.note ?? "");
  resultsFile = join(work, "results.json");
  await writeFile(resultsFile, JSON.stringify(sample.results));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("on an honest copy", () => {
  it("verify passes and pins the key and checkpoint in the state file", async () => {
    const state = join(work, "state.json");
    const run = await runAuditor("verify", "--log", pristine, "--key", key.verifierKey, "--state", state);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`size     ${sample.entries.length}`);
    expect(run.stdout).toContain("OK       the log verifies");
    const again = await runAuditor("verify", "--log", pristine, "--state", state);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("(from state file)");
  });

  it("verify fails with the key fetched from the log, unless told to trust it, and then warns", async () => {
    const refused = await runAuditor("verify", "--log", pristine);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the log's key came from the log itself");
    expect(refused.stdout).not.toContain("OK");
    const run = await runAuditor("verify", "--log", pristine, "--trust-log-key");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("warning  the key came from the log it checks");
  });

  it("recount matches the published results", async () => {
    const run = await runAuditor("recount", "--log", pristine, "--key", key.verifierKey, "--results", resultsFile);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(`recount  ${sample.counted.length} cast vote records in 2 district(s)`);
    expect(run.code).toBe(0);
  });

  it("prove finds every kind of receipt and checks its inclusion", async () => {
    const code = sample.counted[10] ?? "";
    const run = await runAuditor("prove", code, "--log", pristine, "--key", key.verifierKey);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(new RegExp(`OK +${code} is entry \\d+ of the log`));
    const unknown = await runAuditor("prove", "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "--log", pristine, "--key", key.verifierKey);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no ballot entry in the log");
  });

  it("consistency proves the final checkpoint extends an older one, and refuses the reverse", async () => {
    const ok = await runAuditor("consistency", firstCheckpoint, join(pristine, "checkpoint"), "--key", key.verifierKey);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain(`OK       size ${sample.entries.length} extends size 200`);
    const reversed = await runAuditor(
      "consistency",
      join(pristine, "checkpoint"),
      firstCheckpoint,
      "--log",
      pristine,
      "--key",
      key.verifierKey,
    );
    expect(reversed.code).toBe(1);
    expect(reversed.stderr).toMatch(/is older than OLD .*: the log went back/);
  });
});

describe("on a tampered copy it fails, naming what is wrong", () => {
  it("a flipped byte in any tile or entry bundle names that object", async () => {
    const tileFiles = (await files(pristine)).filter((f) => f.startsWith("tile/"));
    expect(tileFiles.length).toBeGreaterThanOrEqual(8);
    for (const path of tileFiles) {
      const dir = await copy();
      await flipByte(join(dir, path), (n) => Math.floor(n / 2) + 1);
      const run = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
      expect(run.code, path).toBe(1);
      expect(run.stderr, path).toContain(`auditor: FAILED: ${path}`);
    }
  });

  it("a flipped byte in the checkpoint breaks its signature", async () => {
    for (const at of [(_n: number) => 5, (n: number) => n - 30]) {
      const dir = await copy();
      await flipByte(join(dir, "checkpoint"), at);
      const run = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/FAILED: the checkpoint at .* does not verify/);
    }
  });

  it("a dropped entry", async () => {
    const dir = await copy();
    const path = join(dir, "tile/entries/000");
    const entries = decodeEntryBundle(new Uint8Array(await readFile(path)));
    if (!entries.ok) throw new Error(entries.error);
    await writeFile(path, encodeEntryBundle(entries.value.filter((_, i) => i !== 17)));
    const run = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "FAILED: tile/entries/000: entry bundle has 255 entries, expected 256 (entries dropped or added)",
    );
  });

  it("reordered entries", async () => {
    const dir = await copy();
    const path = join(dir, "tile/entries/001");
    const entries = decodeEntryBundle(new Uint8Array(await readFile(path)));
    if (!entries.ok) throw new Error(entries.error);
    const swapped = [...entries.value];
    [swapped[3], swapped[4]] = [swapped[4] ?? new Uint8Array(), swapped[3] ?? new Uint8Array()];
    await writeFile(path, encodeEntryBundle(swapped));
    const run = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "FAILED: tile/entries/001 was altered: its entry 3 (log index 259) is not the one the signed tree holds",
    );
  });

  it("an older checkpoint served with newer tiles", async () => {
    const dir = await copy();
    await cp(firstCheckpoint, join(dir, "checkpoint"));
    const run = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /FAILED: the copy holds tile\/.*, which only a tree of at least \d+ entries has, but the checkpoint says 200: the checkpoint is older than the log/,
    );
  });

  it("an older checkpoint than the one the state file remembers", async () => {
    const state = join(work, "state-rollback.json");
    expect((await runAuditor("verify", "--log", pristine, "--key", key.verifierKey, "--state", state)).code).toBe(0);
    // A copy of the log as it was at size 200, complete and self-consistent.
    const old = join(work, "old-copy");
    await writeLogCopy(old, sample.entries.slice(0, 200), [200], key);
    await cp(firstCheckpoint, join(old, "checkpoint"));
    const run = await runAuditor("verify", "--log", old, "--state", state);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /the log's checkpoint \(size 200\) is older than the checkpoint this auditor verified before \(size \d+\): the log went back/,
    );
  });

  it("another key", async () => {
    const other = await newLogKey();
    const run = await runAuditor("verify", "--log", pristine, "--key", other.verifierKey);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("does not verify: note has no signature from a known key");
  });

  it("published results that differ from the records by one vote", async () => {
    const changed = structuredClone(sample.results) as {
      contests: { id: string; options: { id: string; votes: number }[] }[];
    };
    const contest = changed.contests[0];
    const option = contest?.options[0];
    if (!contest || !option) throw new Error("no option");
    option.votes += 1;
    const file = join(work, "results-changed.json");
    await writeFile(file, JSON.stringify(changed));
    const run = await runAuditor("recount", "--log", pristine, "--key", key.verifierKey, "--results", file);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `contest ${contest.id}, option ${option.id}: the log's records count ${option.votes - 1}, the published results ${option.votes}`,
    );
  });
});

describe("against the election's public summary", () => {
  it("verify checks the records against the summary kept in the copy: honest, then a contest that allows no mark", async () => {
    const dir = await copy();
    const summary = sampleSummary();
    await writeFile(join(dir, "election.json"), JSON.stringify(summary));
    const ok = await runAuditor("verify", "--log", dir, "--key", key.verifierKey);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain("election sample-2026, definition version 1");
    expect(ok.code).toBe(0);
    const strict = {
      ...summary,
      contests: summary.contests.map((c) => (c.id === "contest-north" ? { ...c, votesAllowed: 0 } : c)),
    };
    const file = join(work, "strict-election.json");
    await writeFile(file, JSON.stringify(strict));
    const refused = await runAuditor("verify", "--log", dir, "--key", key.verifierKey, "--election", file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/contest contest-north has 1 marks, 0 allowed/);
  });
});

describe("entries that break the log's rules", () => {
  async function verifyEntries(entries: LogEntry[]): Promise<Run> {
    const dir = join(work, `rules-${crypto.randomUUID()}`);
    await writeLogCopy(dir, entries, [entries.length], key);
    return runAuditor("verify", "--log", dir, "--key", key.verifierKey);
  }

  it("a cast vote record before the polls closed (the secrecy rule)", async () => {
    const closed = sample.entries.findIndex((e) => e.type === "polls-closed");
    const record = sample.entries.findIndex((e) => e.type === "cast-vote-record");
    const entries = [...sample.entries];
    const [moved] = entries.splice(record, 1);
    if (!moved) throw new Error("no record");
    entries.splice(closed, 0, moved);
    const run = await verifyEntries(entries);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`entry ${closed}: a cast vote record is published before the polls closed`);
  });

  it("a retracted ballot still has a record, and a retraction that names no ballot", async () => {
    const entries: LogEntry[] = sample.entries.filter((e) => e.type !== "retraction");
    entries.splice(5, 0, {
      type: "retraction",
      reason: "cancelled-by-paper",
      districtId: "north",
      blindedCode: "ab".repeat(32),
    });
    const run = await verifyEntries(entries);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("entry 5: retraction abababababababab... names no earlier ballot entry");
    expect(run.stderr).toMatch(
      /district (north|east): cast vote records of \d+ ballots, but \d+ ballots - \d+ retractions - 0 withheld = \d+/,
    );
  });

  it("a round whose closing entry miscounts a district", async () => {
    const entries = sample.entries.map((e) =>
      e.type === "cast-vote-records-published"
        ? { ...e, districts: e.districts.map((d, i) => (i === 0 ? { ...d, records: d.records + 1 } : d)) }
        : e,
    );
    const run = await verifyEntries(entries);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/round 1 states \d+ records for district \w+, the log has \d+ since the previous round/);
  });
});
