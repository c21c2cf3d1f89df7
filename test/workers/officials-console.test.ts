/**
 * The officials' console's routes on the Worker, without a browser: no cookie is the sign-in
 * page; an assertion (the CLI's) signs in through the API's own exchange and leaves an HttpOnly
 * cookie; pages and actions go through the API with the official's token, so a role the API
 * refuses sees the API's 403 as a page and nothing changes; a form without this session's CSRF
 * token, or from another site, is refused with a 403 page and changes nothing. (Signing in with
 * the key file, live alerts and the look are checked in a browser: test/node/officials-console.)
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { JWK } from "jose";
import { signOfficialAssertion } from "../../lib/identity/assertion.ts";
import type { OfficialRole } from "../../lib/vocabulary.ts";
import { BASE, newOfficialKey, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { adminCall } from "./helpers/station.ts";
import otherStyle from "../../testdata/nist/demo-other-style.json";

const ELECTION = "console-2026";
const COOKIE = "__Host-console_session";

async function consoleFetch(path: string, init: RequestInit & { cookie?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("accept", "text/html");
  headers.set("cf-connecting-ip", `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`);
  if (init.cookie) headers.set("cookie", `${COOKIE}=${init.cookie}`);
  return SELF.fetch(`${BASE}${path}`, { ...init, headers, redirect: "manual" });
}

function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
  };
}

/** Signs in at /console/session with `assertion`; the session cookie's value, or the refusal. */
async function signIn(assertion: string): Promise<{ res: Response; cookie?: string }> {
  const res = await consoleFetch("/console/session", { method: "POST", ...form({ assertion }) });
  const set = res.headers.get("set-cookie") ?? "";
  const cookie = new RegExp(`${COOKIE}=([^;]+)`).exec(set)?.[1];
  return cookie ? { res, cookie } : { res };
}

/** Registers an official with `role` (as the bootstrap administrator) and signs them in. */
async function officialSession(role: OfficialRole): Promise<string> {
  const id = `${role}-${crypto.randomUUID().slice(0, 8)}`;
  const { privateJwk, publicJwk } = await newOfficialKey(`${id}-k1`);
  const res = await adminCall("POST", "/v1/admin/officials", { id, role, displayName: `Test ${role}`, publicJwk });
  expect(res.status).toBe(201);
  const { cookie } = await signIn(await signOfficialAssertion(privateJwk, id, BASE));
  if (!cookie) throw new Error("sign-in failed");
  return cookie;
}

function csrfOf(html: string): string {
  const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error("no CSRF token on the page");
  return token;
}

async function pollsState(): Promise<{ state: string; closedEarly?: unknown }> {
  const res = await adminCall("GET", `/v1/admin/elections/${ELECTION}/polls`);
  return res.json();
}

let admin: string;

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  const signed = await signIn(
    await signOfficialAssertion(JSON.parse(env.TEST_ADMIN_PRIVATE_JWK) as JWK, "bootstrap-admin", BASE),
  );
  if (!signed.cookie) throw new Error("the administrator could not sign in");
  admin = signed.cookie;
});

describe("signing in", () => {
  it("without a session, /console is the sign-in page with the key form and the paste-an-assertion form", async () => {
    const res = await consoleFetch("/console");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html><html lang="en"/);
    expect(html).toContain("<h1>Sign in</h1>");
    expect(html).toContain('<script type="module" src="/assets/console.js"></script>');
    expect(html).toContain('action="/console/session"');
    expect(html).toContain('name="assertion"');
    expect(html).not.toMatch(/<style|style=|<script>/);
    // An election's page without a session is the sign-in page too.
    const deep = await consoleFetch(`/console/elections/${ELECTION}`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain("<h1>Sign in</h1>");
  });

  it("exchanges an assertion at the API and keeps the access token in an HttpOnly, Strict, __Host- cookie", async () => {
    const assertion = await signOfficialAssertion(
      JSON.parse(env.TEST_ADMIN_PRIVATE_JWK) as JWK,
      "bootstrap-admin",
      BASE,
    );
    const { res, cookie } = await signIn(assertion);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console");
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    expect(set).toMatch(/Secure/i);
    expect(set).toMatch(/Path=\/(;|$)/);
    expect(set).toMatch(/Max-Age=(\d+)/);
    expect(Number(/Max-Age=(\d+)/.exec(set)?.[1])).toBeLessThanOrEqual(600);
    // The same assertion again is a replay: the API refuses it, and the page says so.
    const again = await signIn(assertion);
    expect(again.res.status).toBe(401);
    expect(again.cookie).toBeUndefined();
    const html = await again.res.text();
    expect(html).toContain('data-error-code="token_replayed"');
    expect(html).toContain("The sign-in was refused");

    const list = await consoleFetch("/console", { cookie: cookie! });
    expect(list.status).toBe(200);
    const listed = await list.text();
    expect(listed).toContain(`href="/console/elections/${ELECTION}"`);
    expect(listed).toContain("bootstrap-admin (administrator)");
    expect(listed).not.toContain(cookie!);
  });

  it("refuses an assertion that is not one, and an empty form, without a cookie", async () => {
    const bad = await signIn("not-a.jwt.at-all");
    expect(bad.res.status).toBe(401);
    expect(bad.cookie).toBeUndefined();
    const empty = await signIn("");
    expect(empty.res.status).toBe(400);
    expect(await empty.res.text()).toContain("Paste the assertion");
  });

  it("an expired or forged cookie is the sign-in page (401) and the cookie is cleared", async () => {
    const res = await consoleFetch("/console", { cookie: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl" });
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie") ?? "").toMatch(/__Host-console_session=;/);
    expect(await res.text()).toContain("Your session ended");
  });

  it("signing out needs the CSRF token, then clears the cookie", async () => {
    const cookie = await officialSession("auditor");
    const refused = await consoleFetch("/console/sign-out", { method: "POST", cookie, ...form({ csrf: "x" }) });
    expect(refused.status).toBe(403);
    const html = await (await consoleFetch("/console", { cookie })).text();
    const out = await consoleFetch("/console/sign-out", { method: "POST", cookie, ...form({ csrf: csrfOf(html) }) });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie") ?? "").toMatch(/__Host-console_session=;/);
  });
});

describe("actions go through the API", () => {
  it("a form without this session's CSRF token, or from another site, is a 403 page and changes nothing", async () => {
    const page = await (await consoleFetch(`/console/elections/${ELECTION}`, { cookie: admin })).text();
    const csrf = csrfOf(page);
    const close = `/console/elections/${ELECTION}/polls/close`;

    const missing = await consoleFetch(close, { method: "POST", cookie: admin, ...form({ reason: "Flood" }) });
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('data-error-code="csrf_failed"');

    // Another session's token does not pass.
    const other = await officialSession("auditor");
    const otherCsrf = csrfOf(await (await consoleFetch("/console", { cookie: other })).text());
    expect(otherCsrf).not.toBe(csrf);
    const crossed = await consoleFetch(close, {
      method: "POST",
      cookie: admin,
      ...form({ csrf: otherCsrf, reason: "Flood" }),
    });
    expect(crossed.status).toBe(403);

    const crossSite = await consoleFetch(close, {
      method: "POST",
      cookie: admin,
      body: new URLSearchParams({ csrf, reason: "Flood" }).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    expect(await crossSite.text()).toContain('data-error-code="csrf_failed"');

    expect((await pollsState()).closedEarly).toBeUndefined();
  });

  it("a role the API refuses sees the API's 403 as a page, and the polls stay open", async () => {
    const auditor = await officialSession("auditor");
    const overview = await consoleFetch(`/console/elections/${ELECTION}`, { cookie: auditor });
    expect(overview.status).toBe(200);
    const html = await overview.text();
    // No poll controls for an auditor; the log's health is there (the API admits auditors).
    expect(html).not.toContain("/polls/close");
    expect(html).toContain("Audit log health");
    const res = await consoleFetch(`/console/elections/${ELECTION}/polls/close`, {
      method: "POST",
      cookie: auditor,
      ...form({ csrf: csrfOf(html), reason: "Trying anyway" }),
    });
    expect(res.status).toBe(403);
    const refused = await res.text();
    expect(refused).toContain('data-error-code="forbidden"');
    expect(refused).toContain("The action was refused");
    expect((await pollsState()).closedEarly).toBeUndefined();

    // A page whose API route the role may not read: the API's 403, as a page.
    const letters = await consoleFetch("/console/dead-letters", { cookie: auditor });
    expect(letters.status).toBe(403);
    expect(await letters.text()).toContain('data-error-code="forbidden"');
  });

  it("a reason the API refuses is shown with the form (400) and nothing changes; a valid one closes the polls", async () => {
    const html = await (await consoleFetch(`/console/elections/${ELECTION}`, { cookie: admin })).text();
    expect(html).toContain("Close the polls now");
    const csrf = csrfOf(html);
    const close = `/console/elections/${ELECTION}/polls/close`;
    const empty = await consoleFetch(close, { method: "POST", cookie: admin, ...form({ csrf, reason: "" }) });
    expect(empty.status).toBe(400);
    const shown = await empty.text();
    expect(shown).toContain('class="error-summary"');
    expect(shown).toContain('href="#close-reason"');
    expect((await pollsState()).closedEarly).toBeUndefined();

    const done = await consoleFetch(close, {
      method: "POST",
      cookie: admin,
      ...form({ csrf, reason: "Flooded polling places" }),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(`/console/elections/${ELECTION}?done=polls-closed`);
    expect((await pollsState()).closedEarly).toMatchObject({ reason: "Flooded polling places" });
    const after = await (
      await consoleFetch(`/console/elections/${ELECTION}?done=polls-closed`, { cookie: admin })
    ).text();
    expect(after).toContain("The polls are closing early.");
    expect(after).toContain("Reopen the polls");
    expect(after).toContain("Flooded polling places");

    // Closing again: the API's 409, shown with the page.
    const twice = await consoleFetch(close, { method: "POST", cookie: admin, ...form({ csrf, reason: "Again" }) });
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain('data-error-code="polls_already_closed_early"');

    const reopened = await consoleFetch(`/console/elections/${ELECTION}/polls/reopen`, {
      method: "POST",
      cookie: admin,
      ...form({ csrf, reason: "Water receded" }),
    });
    expect(reopened.status).toBe(303);
    expect((await pollsState()).closedEarly).toBeUndefined();
  });

  it("reads the conflicts, reconciliation, results and dead letters through the API", async () => {
    for (const [path, text] of [
      [`/console/elections/${ELECTION}/conflicts`, "No offline conflicts."],
      [`/console/elections/${ELECTION}/reconciliation`, "Reconciliation by station"],
      [`/console/elections/${ELECTION}/results`, "Turnout and results (exact)"],
      ["/console/dead-letters", "Dead letters"],
    ] as const) {
      const res = await consoleFetch(path, { cookie: admin });
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain(text);
    }
    const missing = await consoleFetch("/console/elections/no-such-election/results", { cookie: admin });
    expect(missing.status).toBe(404);
  });

  it("the overview shows the definition's version and what the loader decided, and offers its export", async () => {
    const demoPage = await (await consoleFetch(`/console/elections/${ELECTION}`, { cookie: admin })).text();
    expect(demoPage).toContain("The loader read everything as the file says it.");

    const sectioned = "console-other-style";
    const loaded = await adminCall("POST", "/v1/admin/elections", {
      ...otherStyle,
      settings: { ...otherStyle.settings, electionId: sectioned },
    });
    expect(loaded.status).toBe(201);
    const res = await consoleFetch(`/console/elections/${sectioned}`, { cookie: admin });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("The loader decided 4 things the file left open");
    expect([...html.matchAll(/data-warning="([a-z_]+)"/g)].map((m) => m[1])).toEqual([
      "ballot_style_id_derived",
      "ballot_style_id_derived",
      "ballot_style_id_derived",
      "composition_derived",
    ]);

    const download = await consoleFetch(`/console/elections/${sectioned}/definition.json`, { cookie: admin });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toMatch(/^attachment; filename="console-other-style-v1/);
    const report: { Election: { BallotStyle: { ExternalIdentifier?: { OtherType?: string; Value: string }[] }[] }[] } =
      await download.json();
    expect(
      report.Election[0]!.BallotStyle.map(
        (s) => s.ExternalIdentifier?.find((i) => i.OtherType === "ballot-style-id")?.Value,
      ),
    ).toEqual(["bs-district-north", "bs-district-south", "bs-district-east"]);
    // Without a session, the download is the sign-in page, not the file.
    const anonymous = await consoleFetch(`/console/elections/${sectioned}/definition.json`);
    expect(anonymous.headers.get("content-disposition")).toBeNull();
    expect(await anonymous.text()).toContain("Sign in");
  });

  it("a live channel needs this origin and the cookie", async () => {
    const path = `/console/elections/${ELECTION}/results/live`;
    const foreign = await consoleFetch(path, {
      cookie: admin,
      headers: { upgrade: "websocket", origin: "https://elsewhere.example" },
    });
    expect(foreign.status).toBe(403);
    const none = await consoleFetch(path, { headers: { upgrade: "websocket", origin: BASE } });
    expect(none.status).toBe(401);
    const res = await consoleFetch(path, { cookie: admin, headers: { upgrade: "websocket", origin: BASE } });
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close();
  });
});

describe("alerts in the console", () => {
  const ALERTS = "console-alerts";
  let alertId: string;

  async function alertState(id: string): Promise<string | undefined> {
    const row = await env.DB.prepare("SELECT state FROM alerts WHERE id = ?").bind(id).first<{ state: string }>();
    return row?.state;
  }

  beforeAll(async () => {
    // One voter's ballot, then five refused casts of the same voter: the monitor raises an alert.
    await loadDemoElection({ electionId: ALERTS, crossChannelPolicy: "first-wins" });
    await enrol(ALERTS, "EE-CONSOLE-0001", "district-north");
    const session = await voterSession(ALERTS, "EE-CONSOLE-0001");
    for (let i = 0; i < 6; i += 1) await cast(ALERTS, session, NORTH_BALLOT, crypto.randomUUID(), "10.72.4.20");
    alertId = await waitFor(async () => {
      const row = await env.DB.prepare("SELECT id FROM alerts WHERE election_id = ? AND state = 'open'")
        .bind(ALERTS)
        .first<{ id: string }>();
      return row?.id;
    });
  });

  it("a security officer sees the alert with its forms, acknowledges it with a note, then closes it", async () => {
    const officer = await officialSession("security-officer");
    const page = await consoleFetch(`/console/elections/${ALERTS}/alerts`, { cookie: officer });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-alert-id="${alertId}"`);
    expect(html).toMatch(/Severity: (Low|Medium|High)/);
    expect(html).toContain(`action="/console/elections/${ALERTS}/alerts/${alertId}/close"`);
    // No voter is named on the page: a voter-scoped alert says only "voter:<n>".
    expect(html).not.toContain("EE-CONSOLE-0001");
    const csrf = csrfOf(html);

    // A note of blanks only: the API's 400, shown with the list, and nothing changes.
    const blank = await consoleFetch(`/console/elections/${ALERTS}/alerts/${alertId}/acknowledge`, {
      method: "POST",
      cookie: officer,
      ...form({ csrf, note: "   " }),
    });
    expect(blank.status).toBe(400);
    expect(await blank.text()).toContain("Enter a note");
    expect(await alertState(alertId)).toBe("open");

    const acknowledged = await consoleFetch(`/console/elections/${ALERTS}/alerts/${alertId}/acknowledge`, {
      method: "POST",
      cookie: officer,
      ...form({ csrf, note: "Looking into it." }),
    });
    expect(acknowledged.status).toBe(303);
    expect(await alertState(alertId)).toBe("acknowledged");
    const closed = await consoleFetch(`/console/elections/${ALERTS}/alerts/${alertId}/close`, {
      method: "POST",
      cookie: officer,
      ...form({ csrf, note: "One voter retrying; nothing more." }),
    });
    expect(closed.status).toBe(303);
    expect(await alertState(alertId)).toBe("closed");
    // Closing again: the API's 409 alert_closed, as a page.
    const again = await consoleFetch(`/console/elections/${ALERTS}/alerts/${alertId}/close`, {
      method: "POST",
      cookie: officer,
      ...form({ csrf, note: "Again." }),
    });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('data-error-code="alert_closed"');
  });

  it("an auditor's acknowledge is the API's 403 as a page, and the alert stays as it was", async () => {
    const auditor = await officialSession("auditor");
    const csrf = csrfOf(await (await consoleFetch("/console", { cookie: auditor })).text());
    const before = await alertState(alertId);
    const res = await consoleFetch(`/console/elections/${ALERTS}/alerts/${alertId}/acknowledge`, {
      method: "POST",
      cookie: auditor,
      ...form({ csrf, note: "Not mine to do." }),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('data-error-code="forbidden"');
    expect(await alertState(alertId)).toBe(before);
  });
});

describe("signing in again before the token expires", () => {
  it("a same-origin refresh answers the new session's CSRF token, which the old one's forms then need", async () => {
    const jwk = JSON.parse(env.TEST_ADMIN_PRIVATE_JWK) as JWK;
    const first = await signIn(await signOfficialAssertion(jwk, "bootstrap-admin", BASE));
    const oldCsrf = csrfOf(await (await consoleFetch("/console", { cookie: first.cookie! })).text());
    const res = await consoleFetch("/console/session", {
      method: "POST",
      cookie: first.cookie!,
      body: new URLSearchParams({ assertion: await signOfficialAssertion(jwk, "bootstrap-admin", BASE) }).toString(),
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "same-origin",
        "x-console-refresh": "1",
      },
    });
    expect(res.status).toBe(200);
    const body: { csrf: string; expiresAt: number } = await res.json();
    expect(body.expiresAt).toBeGreaterThan(Date.now() / 1000);
    const cookie = new RegExp(`${COOKIE}=([^;]+)`).exec(res.headers.get("set-cookie") ?? "")?.[1];
    expect(cookie).toBeDefined();
    expect(body.csrf).not.toBe(oldCsrf);
    // The new cookie with the old page's token is refused; with the new token it passes.
    const stale = await consoleFetch("/console/sign-out", {
      method: "POST",
      cookie: cookie!,
      ...form({ csrf: oldCsrf }),
    });
    expect(stale.status).toBe(403);
    const fresh = await consoleFetch("/console/sign-out", {
      method: "POST",
      cookie: cookie!,
      ...form({ csrf: body.csrf }),
    });
    expect(fresh.status).toBe(303);
  });
});
