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
});
