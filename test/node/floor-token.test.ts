/**
 * The floor baseline's token (bench/floor-token.ts): the bench's load carries one token the
 * baseline Worker must accept, and the route is only a fair floor if the check it pays for is a
 * real one, refusing any token another key signed or any changed byte.
 */
import { describe, expect, it } from "vitest";
import { base64urlEncode } from "../../lib/bytes.ts";
import { importFloorKey, newFloorKey, signFloorToken, verifyFloorToken } from "../../bench/floor-token.ts";

describe("floor token", () => {
  it("verifies a token its key signed", async () => {
    const key = await importFloorKey(newFloorKey());
    expect(await verifyFloorToken(key, await signFloorToken(key, "bench-floor-1"))).toBe(true);
  });

  it("refuses a token another key signed", async () => {
    const key = await importFloorKey(newFloorKey());
    const other = await importFloorKey(newFloorKey());
    expect(await verifyFloorToken(key, await signFloorToken(other, "bench-floor-1"))).toBe(false);
  });

  it("refuses a token with any character changed", async () => {
    const key = await importFloorKey(newFloorKey());
    const token = await signFloorToken(key, "bench-floor-1");
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      const changed = `${token.slice(0, i)}${token[i] === "A" ? "B" : "A"}${token.slice(i + 1)}`;
      expect(await verifyFloorToken(key, changed), `position ${i}`).toBe(false);
    }
  });

  it("refuses malformed tokens", async () => {
    const key = await importFloorKey(newFloorKey());
    const token = await signFloorToken(key, "bench-floor-1");
    for (const bad of ["", ".", token.replace(".", ""), `${token}.x`, `.${token.split(".")[1]}`, `${token}=`])
      expect(await verifyFloorToken(key, bad), bad).toBe(false);
  });

  it("refuses a key shorter than 32 bytes", () => {
    expect(() => importFloorKey(base64urlEncode(new Uint8Array(16)))).toThrow(/32 bytes/);
  });
});
