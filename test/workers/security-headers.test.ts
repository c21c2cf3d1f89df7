/**
 * Every response carries the security headers (security review L3): no framing, no MIME sniffing,
 * no referrer, a CSP that loads nothing unnamed, and no caching unless the route chose it.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminToken, BASE } from "./helpers/auth.ts";

function expectSecureHeaders(res: Response): void {
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("base-uri 'none'");
}

describe("security headers", () => {
  it.each([
    ["a health check", "GET", "/healthz", 200],
    ["the OpenAPI document", "GET", "/openapi.json", 200],
    ["an unknown route", "GET", "/no-such-route", 404],
    ["a refused login (bad JSON)", "POST", "/v1/auth/voter-session", 400],
    ["a refused admin call (no token)", "GET", "/v1/admin/officials", 401],
    ["the receipt keys", "GET", "/v1/receipt-keys", 200],
  ])("are on %s, which is not cached", async (_, method, path, status) => {
    const res = await SELF.fetch(`${BASE}${path}`, {
      method,
      headers: method === "POST" ? { "content-type": "application/json" } : {},
      ...(method === "POST" ? { body: "{not json" } : {}),
    });
    expect(res.status).toBe(status);
    expectSecureHeaders(res);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("keep a token exchange out of every cache", async () => {
    const token = await adminToken();
    const res = await SELF.fetch(`${BASE}/v1/admin/officials`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expectSecureHeaders(res);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("leave a route's own caching alone", async () => {
    // A receipt's QR image depends only on its tracking code: the route marks it immutable.
    const res = await SELF.fetch(`${BASE}/v1/receipts/7K3M-Q9TX-2D4F-H8JA/qr.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=86400, immutable");
    expectSecureHeaders(res);
  });
});
