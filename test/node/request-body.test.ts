/**
 * The gateway reads request bodies once, bounded (workers/gateway/body.ts): a body whose transfer
 * breaks is invalid_body (a 400), one past the limit payload_too_large (a 413), never an
 * exception that would answer 500.
 */
import { describe, expect, it } from "vitest";
import { readBodyWithin } from "../../workers/gateway/body.ts";

function request(body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Request {
  return new Request("https://vote.example/v1/auth/voter-session", {
    method: "POST",
    headers,
    body,
    duplex: "half",
  } as RequestInit);
}

function stream(chunks: readonly string[], thenFail: boolean): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk !== undefined) controller.enqueue(new TextEncoder().encode(chunk));
      else if (thenFail) controller.error(new TypeError("Network connection lost."));
      else controller.close();
    },
  });
}

describe("reading a request body", () => {
  it("answers the whole body when it is within the limit", async () => {
    const body = await readBodyWithin(request(stream(['{"a":', "1}"], false)), 100);
    expect(body.ok && new TextDecoder().decode(body.value)).toBe('{"a":1}');
  });

  it("answers invalid_body when the transfer breaks", async () => {
    expect(await readBodyWithin(request(stream(['{"contests": ['], true)), 100)).toEqual({
      ok: false,
      error: "invalid_body",
    });
  });

  it("answers payload_too_large as soon as the body passes the limit, or by its declared length", async () => {
    expect(await readBodyWithin(request(stream(["x".repeat(60), "x".repeat(60)], true)), 100)).toEqual({
      ok: false,
      error: "payload_too_large",
    });
    expect(await readBodyWithin(request(stream([], false), { "content-length": "101" }), 100)).toEqual({
      ok: false,
      error: "payload_too_large",
    });
  });
});
