import { describe, expect, it } from "vitest";
import { utf8 } from "../../lib/bytes.ts";
import { keyedDigestHex, openBytes, purposeKey, purposeSealingKey, sealBytes } from "../../lib/keys.ts";

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

describe("sealing keys", () => {
  it("open what they sealed, only under the same purpose, context and associated data", async () => {
    const key = await purposeSealingKey(SECRET, "ballot-draft");
    const aad = utf8("draft/e1/bs-north/voter");
    const sealed = await sealBytes(key, aad, utf8("choices"));
    expect(new TextDecoder().decode(await openBytes(key, aad, sealed))).toBe("choices");
    // A fresh IV each time: the same text never seals the same way twice.
    expect(await sealBytes(key, aad, utf8("choices"))).not.toBe(sealed);
    expect(await openBytes(key, utf8("draft/e1/bs-north/another voter"), sealed)).toBeUndefined();
    expect(await openBytes(await purposeSealingKey(SECRET, "voter-session", "subject"), aad, sealed)).toBeUndefined();
    expect(await openBytes(await purposeSealingKey(SECRET, "ballot-draft", "e2"), aad, sealed)).toBeUndefined();
    const flipped = sealed.slice(0, -2) + (sealed.endsWith("A") ? "B" : "A") + sealed.slice(-1);
    expect(await openBytes(key, aad, flipped)).toBeUndefined();
    expect(await openBytes(key, aad, "short")).toBeUndefined();
    expect(await openBytes(key, aad, "not base64url!")).toBeUndefined();
  });

  it("are the HMAC of 'aes-256-gcm' under the purpose key (what sessions sealed before keep opening)", async () => {
    const raw = await crypto.subtle.sign(
      "HMAC",
      await purposeKey(SECRET, "voter-session", "subject"),
      utf8("aes-256-gcm"),
    );
    const manual = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
    const iv = new Uint8Array(12);
    const aad = utf8("voter-session/sub/v1");
    const body = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, manual, utf8("vk")),
    );
    const sealed = Buffer.from([...iv, ...body]).toString("base64url");
    const key = await purposeSealingKey(SECRET, "voter-session", "subject");
    expect(new TextDecoder().decode(await openBytes(key, aad, sealed))).toBe("vk");
  });
});
