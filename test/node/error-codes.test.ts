/**
 * The error registry's promises under load: every "not now" (429, 503) says when to try again, and
 * only errors the runtime marks as worth retrying become a 503 rather than a 500.
 */
import { describe, expect, it } from "vitest";
import { ERROR_CODES, retryAfterOf, type ErrorCode } from "../../lib/errors.ts";
import { isTransient } from "../../workers/gateway/http.ts";

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe("Retry-After", () => {
  it("is set for every 429 and 503 code, a whole number of seconds, and for no other", () => {
    for (const code of codes) {
      const { status } = ERROR_CODES[code];
      const retryAfter = retryAfterOf(code);
      if (status === 429 || status === 503) {
        expect(retryAfter, code).toBeGreaterThanOrEqual(1);
        expect(Number.isInteger(retryAfter), code).toBe(true);
      } else {
        expect(retryAfter, code).toBeUndefined();
      }
    }
    expect(retryAfterOf("service_overloaded")).toBe(2);
  });
});

describe("transient errors", () => {
  it("are the runtime's overloaded or retryable ones, never our own code's", () => {
    const flagged = (flags: Record<string, boolean>): Error => Object.assign(new Error("x"), flags);
    expect(isTransient(flagged({ overloaded: true }))).toBe(true);
    expect(isTransient(flagged({ retryable: true }))).toBe(true);
    expect(isTransient(flagged({ remote: true }))).toBe(false);
    expect(isTransient(flagged({ retryable: false }))).toBe(false);
    expect(isTransient(new Error("boom"))).toBe(false);
    expect(isTransient("retryable")).toBe(false);
    expect(isTransient(null)).toBe(false);
  });

  it("include D1's retry-worthy refusals, as D1 states them, also when a query builder wraps them", () => {
    const overloaded = new Error("D1_ERROR: D1 DB is overloaded. Too many requests queued.");
    expect(isTransient(overloaded)).toBe(true);
    expect(isTransient(new Error("D1_ERROR: Network connection lost."))).toBe(true);
    expect(isTransient(new Error("Failed query: select 1", { cause: overloaded }))).toBe(true);
    // A D1 error that retrying cannot mend, and the same words outside D1, are not transient.
    expect(isTransient(new Error("D1_ERROR: UNIQUE constraint failed: stations.id"))).toBe(false);
    expect(isTransient(new Error("the queue is overloaded"))).toBe(false);
  });
});
