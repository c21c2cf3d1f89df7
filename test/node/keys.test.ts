import { describe, expect, it } from "vitest";
import { keyedDigestHex, purposeKey } from "../../lib/keys.ts";

const SECRET = "k".repeat(32);

describe("purpose keys", () => {
  it("give the same digest for the same secret, purpose and context", async () => {
    const a = await keyedDigestHex(await purposeKey(SECRET, "record-id", "e1"), "7K3M-Q9TX-2D4F-H8JA");
    const b = await keyedDigestHex(await purposeKey(SECRET, "record-id", "e1"), "7K3M-Q9TX-2D4F-H8JA");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
  });

  it("give unrelated digests across purposes, contexts and secrets", async () => {
    const message = "7K3M-Q9TX-2D4F-H8JA";
    const digests = await Promise.all([
      purposeKey(SECRET, "record-id", "e1"),
      purposeKey(SECRET, "request-digest", "e1"),
      purposeKey(SECRET, "record-id", "e2"),
      purposeKey("j".repeat(32), "record-id", "e1"),
    ]).then((keys) => Promise.all(keys.map((key) => keyedDigestHex(key, message))));
    expect(new Set(digests).size).toBe(digests.length);
  });
});
