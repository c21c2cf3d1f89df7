/**
 * The roll file outside the Worker: cutting it into chunks, validating chunks, the synthetic
 * generator, and the CLI's import loop against a fake API. The invariant that ties them together:
 * a file cut into chunks is judged exactly as the whole file is, row by row and line by line.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importRollFile, type RollApi } from "../../cli/commands/roll.ts";
import { ApiCallError } from "../../cli/lib/api.ts";
import { chunkRoll, utf8Length, type RollChunk } from "../../lib/roll/chunker.ts";
import { checkRollHeader, MAX_CHUNK_ROWS, MAX_RECORD_BYTES } from "../../lib/roll/format.ts";
import { checkSyntheticRoll, syntheticRollText } from "../../lib/roll/generate.ts";
import { validateRollChunk, type ValidatedChunk } from "../../lib/roll/validate.ts";

const DISTRICTS = new Set(["north", "south", "east"]);
const hasDistrict = (d: string): boolean => DISTRICTS.has(d);

async function chunksOf(
  text: string | string[],
  options: { maxRows?: number; maxBytes?: number } = {},
): Promise<{ chunks: RollChunk[]; problem?: { line: number; message: string } }> {
  const chunks: RollChunk[] = [];
  for await (const next of chunkRoll(typeof text === "string" ? [text] : text, options)) {
    if (!next.ok) return { chunks, problem: next.error };
    chunks.push(next.value);
  }
  return { chunks };
}

function validated(text: string, firstLine?: number): ValidatedChunk {
  const result = validateRollChunk(text, { hasDistrict, ...(firstLine === undefined ? {} : { firstLine }) });
  if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  return result.value;
}

describe("the header", () => {
  it("takes the two columns in either order", () => {
    expect(checkRollHeader(["national_id", "district"])).toEqual({ ok: true, value: { national_id: 0, district: 1 } });
    expect(checkRollHeader(["district", " national_id "])).toEqual({
      ok: true,
      value: { national_id: 1, district: 0 },
    });
  });
  it("refuses extra, missing, repeated and misspelt columns", () => {
    for (const header of [
      ["national_id", "district", "name"],
      ["national_id"],
      ["national_id", "national_id"],
      ["National_ID", "district"],
      [],
    ]) {
      expect(checkRollHeader(header).ok).toBe(false);
    }
  });
});

describe("validating a chunk", () => {
  it("accepts good rows, rejects bad ones with their lines, and keeps national ids out of reasons", () => {
    const text = [
      "district,national_id",
      "north,ab-1234", // normalised to AB-1234
      "nowhere,AB-2000",
      "south,x",
      "east,AB-1234",
      "east",
      "",
      "east,AB-3000,extra",
      'east,"AB-4000"',
      "   ,AB-5000",
    ].join("\n");
    const chunk = validated(text);
    expect(chunk.rows).toBe(8);
    expect(chunk.firstLine).toBe(2);
    expect(chunk.entries).toEqual([
      { line: 2, nationalId: "AB-1234", districtId: "north" },
      { line: 9, nationalId: "AB-4000", districtId: "east" },
    ]);
    expect(chunk.rejected.map((r) => r.line)).toEqual([3, 4, 5, 6, 8, 10]);
    expect(chunk.rejected[0]?.reason).toMatch(/"nowhere" has no ballot style/);
    expect(chunk.rejected[2]?.reason).toMatch(/already on line 2/);
    expect(chunk.rejected[3]?.reason).toMatch(/expected 2 fields.*found 1/);
    for (const r of chunk.rejected) expect(r.reason).not.toMatch(/AB-\d/);
  });

  it("maps chunk lines to file lines with firstLine", () => {
    const chunk = validated("national_id,district\nAB-0001,north\n\nAB-0002,nowhere\n", 501);
    expect(chunk.firstLine).toBe(501);
    expect(chunk.rejected).toEqual([{ line: 503, reason: expect.stringContaining("nowhere") }]);
  });

  it("refuses a chunk as a whole when it is not a roll", () => {
    const refusal = (text: string) => {
      const r = validateRollChunk(text, { hasDistrict, firstLine: 100 });
      return r.ok ? undefined : r.error;
    };
    expect(refusal("")).toMatchObject({ code: "invalid_roll", message: expect.stringContaining("empty") });
    expect(refusal("id,district\nAB-0001,north\n")).toMatchObject({
      code: "invalid_roll",
      message: expect.stringContaining("header"),
    });
    expect(refusal('national_id,district\nAB-0001,north\n"AB-0002,north\n')).toMatchObject({
      code: "invalid_roll",
      line: 101,
    });
    // A stray quote after a closing one is not a refusal: the field is taken literally and fails as a row.
    expect(validated('national_id,district\n"AB-0001"x,north\n').rejected).toEqual([
      { line: 2, reason: expect.stringContaining("national_id") },
    ]);
    const tooMany = `national_id,district\n${"AB-0001,north\n".repeat(MAX_CHUNK_ROWS + 1)}`;
    expect(refusal(tooMany)).toMatchObject({ code: "payload_too_large" });
  });
});

describe("cutting a file into chunks", () => {
  it("repeats the header, cuts at maxRows and names each chunk's first line", async () => {
    const { chunks, problem } = await chunksOf(
      "\uFEFFnational_id,district\r\nA-001,north\r\nA-002,south\r\n\r\nA-003,east\r\n",
      { maxRows: 2 },
    );
    expect(problem).toBeUndefined();
    expect(chunks).toEqual([
      { text: "national_id,district\r\nA-001,north\r\nA-002,south\r\n", firstLine: 2, rows: 2, bytes: 48 },
      // The blank line 4 falls between chunks and is dropped: a chunk starts at a data row.
      { text: "national_id,district\r\nA-003,east\r\n", firstLine: 5, rows: 1, bytes: 34 },
    ]);
  });

  it("keeps a quoted line break inside its record, however the pieces fall", async () => {
    const text = 'national_id,district\n"A-\n001",north\nA-002,"so\nuth"\nA-003,east';
    for (let split = 0; split <= text.length; split++) {
      const { chunks } = await chunksOf([text.slice(0, split), text.slice(split)], { maxRows: 1 });
      expect(chunks.map((c) => [c.firstLine, c.rows])).toEqual([
        [2, 1],
        [4, 1],
        [6, 1],
      ]);
      expect(chunks[2]?.text).toBe("national_id,district\nA-003,east");
    }
  });

  it("cuts by bytes as well as rows", async () => {
    const rows = Array.from({ length: 100 }, (_, i) => `A-${String(i).padStart(4, "0")},north\n`);
    const { chunks } = await chunksOf(`national_id,district\n${rows.join("")}`, { maxBytes: 200 });
    // 21 header bytes + 13 rows of 13 bytes = 190: 13 rows a chunk.
    expect(chunks.map((c) => c.rows)).toEqual([13, 13, 13, 13, 13, 13, 13, 9]);
    for (const c of chunks) {
      expect(c.bytes).toBeLessThanOrEqual(200);
      expect(utf8Length(c.text)).toBe(c.bytes);
    }
    expect(chunks.reduce((s, c) => s + c.rows, 0)).toBe(100);
  });

  it("stops at a quote that never closes, after sending every row before it", async () => {
    const { chunks, problem } = await chunksOf(
      'national_id,district\nA-001,north\nA-002,north\n"A-003,north\nA-004,north\n',
      { maxRows: 10 },
    );
    expect(chunks.map((c) => c.rows)).toEqual([2]);
    expect(problem).toEqual({ line: 4, message: expect.stringContaining("never closes") });
  });

  it("stops at a record too long to be a roll row without holding the rest of the file", async () => {
    const endless = (function* () {
      yield 'national_id,district\nA-001,north\n"';
      for (let i = 0; i < 1000; i++) yield "x".repeat(1000) + "\n";
    })();
    const { chunks, problem } = await chunksOf([...endless]);
    expect(chunks.map((c) => c.rows)).toEqual([1]);
    expect(problem?.line).toBe(3);
    const long = await chunksOf(`national_id,district\nA-001,${"n".repeat(MAX_RECORD_BYTES)}\n`);
    expect(long.problem?.line).toBe(2);
  });

  it("says so when the file is empty, and sends nothing for a header alone", async () => {
    expect((await chunksOf("\n\n")).problem?.message).toMatch(/empty/);
    expect(await chunksOf("national_id,district\n")).toEqual({ chunks: [] });
  });

  it("judges a file cut into chunks exactly as the whole file", async () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 30; round++) {
      const eol = random(2) === 0 ? "\n" : "\r\n";
      const lines = ["national_id,district"];
      for (let i = 0; i < 60; i++) {
        const id = `ID-${round}-${i}`;
        const shapes = [
          `${id},north`,
          `${id},nowhere`,
          `"${id}","south"`,
          `"${id}","ea""st"`,
          `"X${eol}Y",east`,
          "",
          `${id}`,
          `${id},east,more`,
          `x,south`,
        ];
        lines.push(shapes[random(shapes.length)] ?? "");
      }
      const text = lines.join(eol) + (random(2) === 0 ? eol : "");
      const whole = validated(text);
      for (const maxRows of [1, 2, 7, 50]) {
        const { chunks, problem } = await chunksOf(text.match(/[\s\S]{1,13}/g) ?? [], { maxRows });
        expect(problem).toBeUndefined();
        const parts = chunks.map((c) => validated(c.text, c.firstLine));
        expect(parts.reduce((s, p) => s + p.rows, 0)).toBe(whole.rows);
        expect(parts.flatMap((p) => p.entries)).toEqual(whole.entries);
        expect(parts.flatMap((p) => p.rejected)).toEqual(whole.rejected);
      }
    }
  });
});

describe("the synthetic roll", () => {
  it("is deterministic and is what elections/demo/voters.csv holds", async () => {
    const options = checkSyntheticRoll({
      count: 1000,
      districts: ["district-north", "district-south", "district-east"],
      prefix: "DEMO",
    });
    if (!options.ok) throw new Error(options.error);
    const text = [...syntheticRollText(options.value)].join("");
    expect(text).toBe([...syntheticRollText(options.value)].join(""));
    expect(
      text.startsWith(
        "national_id,district\nDEMO-0001,district-north\nDEMO-0002,district-south\nDEMO-0003,district-east\n",
      ),
    ).toBe(true);
    expect(text.endsWith("DEMO-1000,district-north\n")).toBe(true);
    expect(await readFile(new URL("../../elections/demo/voters.csv", import.meta.url), "utf8")).toBe(text);
  });

  it("widens the number for large counts and refuses options that would make invalid rows", () => {
    const big = checkSyntheticRoll({ count: 1_000_000, districts: ["a"] });
    expect(big.ok && syntheticRollText(big.value).next().value?.split("\n")[1]).toBe("VOTER-0000001,a");
    expect(checkSyntheticRoll({ count: 10, districts: ["a"], prefix: "lower" }).ok).toBe(false);
    expect(checkSyntheticRoll({ count: 10, districts: ["a,b"] }).ok).toBe(false);
    expect(checkSyntheticRoll({ count: 10, districts: [] }).ok).toBe(false);
  });
});

describe("the CLI import loop", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "roll-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fake API that validates like the Worker and answers like it. */
  function fakeApi(
    fail: (call: number) => Error | undefined = () => undefined,
  ): RollApi & { calls: { path: string; text: string }[] } {
    const calls: { path: string; text: string }[] = [];
    return {
      calls,
      async call(_method: string, path: string, body?: { json: unknown } | { text: string; contentType: string }) {
        if (!body || !("text" in body)) throw new Error("expected a CSV body");
        calls.push({ path, text: body.text });
        const failure = fail(calls.length);
        if (failure) throw failure;
        const firstLine = Number(new URL(path, "http://x").searchParams.get("firstLine"));
        const chunk = validated(body.text, firstLine);
        return {
          electionId: "e",
          firstLine: chunk.firstLine,
          rows: chunk.rows,
          accepted: chunk.entries.length,
          written: chunk.entries.length,
          unchanged: 0,
          rejected: chunk.rejected,
          rejectedTotal: chunk.rejected.length,
        };
      },
    };
  }

  it("sends every chunk, adds up the answers and keeps the first rejected rows", async () => {
    const file = join(dir, "roll.csv");
    const rows = Array.from(
      { length: 25 },
      (_, i) => `ID-${String(i + 1).padStart(3, "0")},${i % 5 === 4 ? "nowhere" : "north"}`,
    );
    await writeFile(file, `national_id,district\n${rows.join("\n")}\n`);
    const api = fakeApi();
    const summary = await importRollFile(api, "e", file, { chunkRows: 10, keepRejected: 3 });
    expect(api.calls.map((c) => c.path)).toEqual([
      "/v1/admin/elections/e/roll?firstLine=2",
      "/v1/admin/elections/e/roll?firstLine=12",
      "/v1/admin/elections/e/roll?firstLine=22",
    ]);
    expect(api.calls.every((c) => c.text.startsWith("national_id,district\n"))).toBe(true);
    expect(summary).toMatchObject({ chunks: 3, rows: 25, accepted: 20, written: 20, rejectedTotal: 5 });
    expect(summary.rejected.map((r) => r.line)).toEqual([6, 11, 16]);
  });

  it("sends a chunk again when the server fails, and stops where the server refuses a chunk", async () => {
    const file = join(dir, "roll2.csv");
    await writeFile(file, "national_id,district\nID-001,north\nID-002,north\nID-003,north\n");
    const retried = fakeApi((n) => (n === 2 ? new ApiCallError(503, "internal_error", "try again") : undefined));
    expect(await importRollFile(retried, "e", file, { chunkRows: 1 })).toMatchObject({ chunks: 3, accepted: 3 });
    expect(retried.calls.map((c) => c.path.split("=")[1])).toEqual(["2", "3", "3", "4"]);

    const refused = fakeApi((n) =>
      n === 2 ? new ApiCallError(422, "invalid_roll", "bad", [{ path: "line 3", message: "bad" }]) : undefined,
    );
    const summary = await importRollFile(refused, "e", file, { chunkRows: 1 });
    expect(summary).toMatchObject({
      chunks: 1,
      accepted: 1,
      stoppedAt: { line: 3, message: "invalid_roll: bad (line 3)" },
    });

    const denied = fakeApi(() => new ApiCallError(403, "forbidden", "no"));
    await expect(importRollFile(denied, "e", file)).rejects.toThrow(ApiCallError);
  });
});
