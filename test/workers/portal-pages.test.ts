/**
 * The portal's pages on the Worker: `/` lists the elections open or coming, `/check` looks a
 * tracking code up through the receipt store, both answer HTML with the security headers, a CSP
 * that lets them load only this origin's stylesheet, script and images, and caching that fits
 * what they show. (Their look and accessibility are checked in a browser: test/node/portal-pages.)
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";

const CODE = "4F7H-Q2TX-9D4M-K8JA";

function expectPageHeaders(res: Response): void {
  expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  const csp = (res.headers.get("content-security-policy") ?? "").split(";").map((d) => d.trim());
  expect(csp).toEqual(
    expect.arrayContaining([
      "default-src 'none'",
      "style-src 'self'",
      "script-src 'self'",
      "img-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ]),
  );
  // Nothing else may load: no font-src, frame-src or inline sources; scripts fetch only from
  // this origin (the receipt check's proof).
  expect(
    csp.filter(
      (d) => d !== "" && !/^(default|style|script|img|connect)-src|^base-uri|^form-action|^frame-ancestors/.test(d),
    ),
  ).toEqual([]);
}

async function get(path: string): Promise<{ res: Response; html: string }> {
  const res = await SELF.fetch(`${BASE}${path}`, { headers: { "cf-connecting-ip": "10.70.0.1" } });
  return { res, html: await res.text() };
}

describe("the portal's pages", () => {
  it("/ says so when no election is open or coming, then lists one with its ways in", async () => {
    const empty = await get("/");
    expect(empty.res.status).toBe(200);
    expectPageHeaders(empty.res);
    expect(empty.res.headers.get("cache-control")).toBe("public, max-age=30");
    expect(empty.html).toMatch(/^<!doctype html><html lang="en"/);
    expect(empty.html).toContain("There are no elections open or coming up at the moment.");
    expect(empty.html).toContain('<link rel="stylesheet" href="/assets/portal.css"/>');
    expect(empty.html).not.toMatch(/<style|style=|<script>/);

    await loadDemoElection();
    // A closed election is not listed.
    await loadDemoElection({
      electionId: "closed-2026",
      polls: { opensAt: "2026-01-01T00:00:00Z", closesAt: "2026-01-02T00:00:00Z" },
    });
    const listed = await get("/");
    expect(listed.html).not.toContain("There are no elections");
    expect(listed.html).toContain("Polls open");
    expect(listed.html).toContain('href="/v1/auth/login?electionId=demo-2026"');
    expect(listed.html).toContain('href="/elections/demo-2026/results"');
    expect(listed.html).toContain('href="/check"');
    expect(listed.html).toContain(`href="${BASE}/v1/logs/demo-2026/"`);
    expect(listed.html).toContain(`href="${BASE}/v1/logs/demo-2026/verifier-key"`);
    // The key is a placeholder: an auditor takes it from the authority, never from this server.
    expect(listed.html).toContain(
      `npm run auditor -- verify --log ${BASE}/v1/logs/demo-2026/ --key &#39;&lt;the verifier key the election authority published&gt;&#39;`,
    );
    expect(listed.html).not.toContain("curl");
    expect(listed.html).not.toContain("closed-2026");
  });

  it("/check without a code is the form, cacheable for minutes", async () => {
    const { res, html } = await get("/check");
    expect(res.status).toBe(200);
    expectPageHeaders(res);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(html).toContain('<form method="get" action="/check"');
    expect(html).toContain('name="code"');
    expect(html).not.toContain("aria-invalid");
  });

  it("/check names a malformed code's error, linked to the field, and caches nothing", async () => {
    for (const code of ["not-a-code", "", "7K3M-Q9TX-2D4F-H8J", "IIII-OOOO-LLLL-UUUU"]) {
      const { res, html } = await get(`/check?code=${encodeURIComponent(code)}`);
      expect(res.status).toBe(200);
      expectPageHeaders(res);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(html).toContain("<title>Error: Check a receipt");
      expect(html).toContain('role="alert"');
      expect(html).toContain('<a href="#code">');
      expect(html).toContain('aria-invalid="true"');
      expect(html).toContain('aria-describedby="code-hint code-error"');
    }
  });

  it("/check finds a recorded ballot however the code is typed, and links its proof once logged", async () => {
    const missing = await get(`/check?code=${CODE}`);
    expect(missing.html).toContain("No ballot with this tracking code");
    expect(missing.res.headers.get("cache-control")).toBe("no-store");

    await env.DB.prepare(
      `INSERT INTO receipts (tracking_code, election_id, commitment, status, recorded_at) VALUES (?, ?, ?, ?, ?)`,
    )
      .bind(CODE, "demo-2026", "commitment-one", "superseded", "2026-05-01T10:00:00.000Z")
      .run();
    const typed = encodeURIComponent(" 4f7h q2tx 9d4m k8ja ");
    const waiting = await get(`/check?code=${typed}`);
    expect(waiting.html).toContain("Your ballot was recorded");
    expect(waiting.html).toContain(CODE);
    expect(waiting.html).toContain("not yet in a published checkpoint");
    // Never the stored status: that a later ballot replaced this one is the voter's alone to know.
    expect(waiting.html).not.toMatch(/superseded/i);
    expect(waiting.res.headers.get("cache-control")).toBe("no-store");

    await env.DB.prepare(`INSERT INTO log_receipts (tracking_code, election_id, leaf_index) VALUES (?, ?, ?)`)
      .bind(CODE, "demo-2026", 41)
      .run();
    const logged = await get(`/check?code=${CODE}`);
    expectPageHeaders(logged.res);
    expect(logged.res.headers.get("cache-control")).toBe("public, max-age=5");
    expect(logged.html).toContain("position 41");
    expect(logged.html).toContain(`href="${BASE}/v1/receipts/${CODE}/proof"`);
    expect(logged.html).toContain(`href="${BASE}/v1/logs/demo-2026/checkpoint"`);
  });

  it("/check does not call a retraction that arrived before its ballot a recorded ballot", async () => {
    const code = "9ZZZ-Q2TX-9D4M-K8JA";
    await env.DB.prepare(
      `INSERT INTO receipts (tracking_code, election_id, commitment, status, recorded_at) VALUES (?, ?, ?, ?, ?)`,
    )
      .bind(code, "demo-2026", "", "cancelled", "2026-05-01T10:00:00.000Z")
      .run();
    expect((await get(`/check?code=${code}`)).html).toContain("No ballot with this tracking code");
  });

  // The test runner's SELF reaches the Worker only; static assets answer through their binding here
  // and in front of the Worker under wrangler dev (test/node/portal-pages.test.ts).
  it("/ and /check speak every language the page catalogues have, each offered in its own name", async () => {
    const english = await get("/check");
    expect(english.html).toContain('<nav class="languages" aria-label="Language">');
    expect(english.html).toContain('<a href="/check?lang=et" lang="et" hreflang="et">Eesti</a>');
    expect(english.html).not.toContain('name="lang"');

    const home = await get("/?lang=et");
    expect(home.html).toMatch(/^<!doctype html><html lang="et"/);
    expect(home.html).toContain("<h1>Valimised</h1>");
    expect(home.html).toContain('aria-current="true">Eesti</a>');
    expect(home.html).not.toContain("There are no elections");
    // Voting starts in the language chosen here.
    expect(home.html).toContain('href="/v1/auth/login?electionId=demo-2026&amp;lang=et"');

    // The form keeps the language: a code typed on the Estonian page is answered in Estonian.
    const form = await get("/check?lang=et");
    expect(form.html).toContain('<input type="hidden" name="lang" value="et"/>');
    const invalid = await get("/check?lang=et&code=hello");
    expect(invalid.res.status).toBe(200);
    expect(invalid.html).toContain("Sisestage jälgimiskood kujul 7K3M-Q9TX-2D4F-H8JA");

    // A language without a catalogue is English, not an error.
    const unknown = await get("/check?lang=xx");
    expect(unknown.html).toMatch(/^<!doctype html><html lang="en"/);
  });

  it("has the built stylesheet and script in its static assets", async () => {
    for (const [path, type] of [
      ["/assets/portal.css", "text/css"],
      ["/assets/enhance.js", "text/javascript"],
    ] as const) {
      const res = await env.ASSETS.fetch(`${BASE}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      expect((await res.text()).length).toBeGreaterThan(50);
    }
  });
});

describe("the receipt check's rate limit", () => {
  it("shares the public reads' budget per client address and answers a page when over it", async () => {
    const ip = "10.70.9.1";
    for (let i = 0; i < 601; i += 1) await env.PUBLIC_READ_LIMITER.limit({ key: `public-read:${ip}` });
    const headers = { "cf-connecting-ip": ip };
    const refused = await SELF.fetch(`${BASE}/check?code=${CODE}`, { headers });
    expect(refused.status).toBe(429);
    expectPageHeaders(refused);
    expect(refused.headers.get("cache-control")).toBe("no-store");
    expect(await refused.text()).toContain("Too many checks from your network");
    // The empty form reads nothing and stays available; another address is not affected.
    expect((await SELF.fetch(`${BASE}/check`, { headers })).status).toBe(200);
    expect(
      (await SELF.fetch(`${BASE}/check?code=${CODE}`, { headers: { "cf-connecting-ip": "10.70.9.2" } })).status,
    ).toBe(200);
  });
});

describe("unknown paths", () => {
  const html = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };

  it("answer a browser with an HTML page that says the page is not there and where to go", async () => {
    const res = await SELF.fetch(`${BASE}/no-such-page?lang=en`, { headers: html });
    expect(res.status).toBe(404);
    expectPageHeaders(res);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.text();
    expect(body).toMatch(/^<!doctype html><html lang="en"/);
    expect(body).toContain("<h1>Page not found</h1>");
    expect(body).toContain('data-error-code="not_found"');
    expect(body).toContain('href="/"');
    expect(body).toContain('href="/check"');
  });

  it("keep the API's JSON not_found for API paths and for clients that do not ask for HTML", async () => {
    for (const [path, headers] of [
      ["/v1/no-such-route", html],
      ["/v1/elections/demo-2026/no-such-thing", html],
      ["/no-such-page", { accept: "application/json" }],
      ["/no-such-page", {}],
    ] as const) {
      const res = await SELF.fetch(`${BASE}${path}`, { headers });
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body: { error: { code: string } } = await res.json();
      expect(body.error.code).toBe("not_found");
    }
  });
});
