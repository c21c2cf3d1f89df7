/**
 * Request bodies are bounded and read before anything parses them (security review M9): a huge
 * body is refused after at most its route's limit is read. A body whose transfer breaks cannot be
 * made through a service binding (it ends such a body early instead of failing it), so
 * test/node/request-body.test.ts gives readBodyWithin a failing stream directly. A body of a type
 * its route does not declare is a 415 with its registered code.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE } from "./helpers/auth.ts";

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

/** A body of `total` bytes made as it is read; `pulled` says how much the server read. */
function lazyBody(total: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => sent };
}

function post(path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": "10.88.0.1", ...headers },
    body,
    // @ts-expect-error: workerd's RequestInit types lack duplex, which a streamed body needs elsewhere
    duplex: "half",
  });
}

describe("request bodies", () => {
  it.each(["/v1/auth/voter-session", "/v1/auth/token", "/v1/elections/demo/ballots"])(
    "a 100 MB body to %s is refused after at most the limit is read",
    async (path) => {
      const body = lazyBody(100 * 1024 * 1024);
      const res = await post(path, body.stream, { authorization: "Bearer x" });
      expect(res.status).toBe(413);
      expect(await codeOf(res)).toBe("payload_too_large");
      expect(body.pulled()).toBeLessThan(1024 * 1024);
    },
  );
});

describe("content types", () => {
  it.each([
    ["none", null],
    ["text/plain", "text/plain"],
    ["a form", "application/x-www-form-urlencoded"],
  ])("a JSON route's body sent as %s is refused with 415 unsupported_media_type", async (_, contentType) => {
    const res = await SELF.fetch(`${BASE}/v1/auth/token`, {
      method: "POST",
      headers: { "cf-connecting-ip": "10.88.0.2", ...(contentType === null ? {} : { "content-type": contentType }) },
      body: JSON.stringify({ assertion: "a.b.c" }),
    });
    expect(res.status).toBe(415);
    expect(await codeOf(res)).toBe("unsupported_media_type");
  });
});

describe("rate limits", () => {
  it("refuse a client over its login limit before its body is parsed", async () => {
    const statuses: number[] = [];
    // Voter logins: 300 a minute per address and election ("-" when none can be read), under
    // 1,200 per address; a window boundary in between can at most double what passes.
    for (let i = 0; i < 610 && statuses.at(-1) !== 429; i += 1) {
      const res = await SELF.fetch(`${BASE}/v1/auth/voter-session`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": "10.89.0.1" },
        body: "{not json",
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    // Malformed bodies count against the limit: the client is turned away without parsing.
    expect(statuses.slice(0, 10).every((s) => s === 400)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});
