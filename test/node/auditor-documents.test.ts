import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AuditFailure, parseDocument } from "../../cli/auditor/checks.ts";

const Doc = z.object({ electionId: z.string() });

/** The AuditFailure message `fn` throws. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof AuditFailure) return error.message;
    throw error;
  }
  throw new Error("expected an AuditFailure");
}

describe("a document the auditor reads (state file, election summary, published results)", () => {
  it("is its parsed value when it is JSON of its schema", () => {
    expect(parseDocument('{"electionId":"e"}', Doc, "the election summary at x", "one")).toEqual({ electionId: "e" });
  });

  it("is refused by name when it is not JSON, or not of its kind", () => {
    expect(failure(() => parseDocument("{", Doc, "state file s.json", "an auditor state"))).toBe(
      "state file s.json is not JSON",
    );
    expect(failure(() => parseDocument("{", Doc, "the published results at r", "a results document", "are"))).toBe(
      "the published results at r are not JSON",
    );
    expect(failure(() => parseDocument("{}", Doc, "the election summary at x", "one"))).toMatch(
      /^the election summary at x is not one: .*electionId/s,
    );
  });
});
