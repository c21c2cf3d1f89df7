/**
 * Voting in the browser, on the Worker: the eID callback ends in a session cookie (never a token in
 * a page) and a page that moves on by itself; the ballot, review, cast and receipt pages; CSRF
 * that a forged form cannot get past; sign-out; an expired session that keeps the draft through a
 * new login; form errors linked to their fields with nothing cast; a cast form sent twice casting
 * once; every state that stops a voter as its own page with its status; and the ballot page's
 * weight. (How the pages look and behave in a browser: test/node/portal-vote.test.ts.)
 */
import { env, SELF } from "cloudflare:test";
import { decodeJwt, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { purposeKey } from "../../lib/keys.ts";
import { adminToken, BASE, signIdToken, voterSession } from "./helpers/auth.ts";
import { browser, type Browser } from "./helpers/browser.ts";
import { demoDefinition, loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const ELECTION = "vote-pages";
const REVOTE = "vote-pages-revote";
const SOON = "vote-pages-soon";
const CLOSED = "vote-pages-closed";
const FENCED = "vote-pages-fenced";

let voterCounter = 0;
/** A new voter on the roll of `electionId` (and of `also`), in `district`. */
async function newVoter(district: string, electionId = ELECTION, ...also: string[]): Promise<string> {
  voterCounter += 1;
  const id = `EE-PV-${String(voterCounter).padStart(4, "0")}`;
  for (const e of [electionId, ...also]) await enrol(e, id, district);
  return id;
}

/** The browser login: /v1/auth/login, the issuer (an ID token with its nonce), the callback. */
async function signIn(b: Browser, electionId: string, nationalId: string): Promise<{ res: Response; html: string }> {
  const started = await b.get(`/v1/auth/login?electionId=${electionId}`);
  expect(started.res.status).toBe(302);
  const location = new URL(started.res.headers.get("location") ?? "");
  const idToken = await signIdToken(nationalId, { nonce: location.searchParams.get("nonce") ?? "" });
  const callback = await b.post(
    "/v1/auth/callback",
    [
      ["id_token", idToken],
      ["state", location.searchParams.get("state") ?? ""],
    ],
    // The issuer's form_post is a cross-site POST.
    { "sec-fetch-site": "cross-site", origin: "http://127.0.0.1:8788" },
  );
  return callback;
}

function hiddenInputs(html: string, formAction: RegExp): [string, string][] {
  const form = new RegExp(`<form[^>]*action="${formAction.source}"[^>]*>([\\s\\S]*?)</form>`).exec(html)?.[1] ?? "";
  return [...form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)].map((m) => [
    decode(m[1] ?? ""),
    decode(m[2] ?? ""),
  ]);
}

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

const NORTH_FORM: [string, string][] = [
  ["ballotStyle", "bs-north"],
  ["m:contest-president", "sel-president-aino-tamm"],
  ["m:contest-parliament-north", "sel-parliament-north-mari-saar"],
  ["m:contest-referendum-voting-age", "sel-referendum-voting-age-yes"],
];

/** Ballot → review → the review page's cast form (its hidden fields). */
async function reviewed(b: Browser, electionId: string, form: [string, string][]): Promise<[string, string][]> {
  const review = await b.post(`/elections/${electionId}/review`, form);
  expect(review.res.status).toBe(303);
  expect(review.res.headers.get("location")).toBe(`/elections/${electionId}/review`);
  const page = await b.get(`/elections/${electionId}/review`);
  expect(page.res.status).toBe(200);
  return hiddenInputs(page.html, /\/elections\/[^/]+\/cast/);
}

async function myBallot(electionId: string, nationalId: string): Promise<{ state: string; ballots: unknown[] }> {
  const token = await voterSession(electionId, nationalId);
  const res = await SELF.fetch(`${BASE}/v1/elections/${electionId}/my-ballot`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.json();
}

function errorCodeOf(html: string): string | undefined {
  return /data-error-code="([a-z_]+)"/.exec(html)?.[1];
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  await loadDemoElection({ electionId: REVOTE, crossChannelPolicy: "paper-supersedes" });
  await loadDemoElection({
    electionId: SOON,
    polls: { opensAt: "2030-01-01T00:00:00Z", closesAt: "2030-12-31T00:00:00Z" },
  });
  await loadDemoElection({
    electionId: CLOSED,
    polls: { opensAt: "2026-01-01T00:00:00Z", closesAt: "2026-01-02T00:00:00Z" },
  });
  await loadDemoElection({ electionId: FENCED, geofence: { allowedCountries: ["FI"], outside: "refuse" } });
});

describe("signing in through the eID callback", () => {
  it("keeps the language the voter started in through the eID login", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    const started = await b.get(`/v1/auth/login?electionId=${ELECTION}&lang=et`);
    expect(started.res.status).toBe(302);
    const location = new URL(started.res.headers.get("location") ?? "");
    const idToken = await signIdToken(voter, { nonce: location.searchParams.get("nonce") ?? "" });
    const { res, html } = await b.post(
      "/v1/auth/callback",
      [
        ["id_token", idToken],
        ["state", location.searchParams.get("state") ?? ""],
      ],
      { "sec-fetch-site": "cross-site", origin: "http://127.0.0.1:8788" },
    );
    expect(res.status).toBe(200);
    expect(html).toMatch(/^<!doctype html><html lang="et"/);
    expect(html).toContain(`<meta http-equiv="refresh" content="0; url=/elections/${ELECTION}/ballot?lang=et"/>`);
    const ballot = await b.get(`/elections/${ELECTION}/ballot?lang=et`);
    expect(ballot.html).toContain("<h1>Teie hääletussedel</h1>");
    // A language that is not a tag's shape is refused before any login starts.
    const bad = await b.get(`/v1/auth/login?electionId=${ELECTION}&lang=${"x".repeat(40)}`);
    expect(bad.res.status).toBe(400);
  });

  it("sets an HttpOnly, SameSite=Strict, Secure __Host- session cookie over https and moves on without a redirect", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    const { res, html } = await signIn(b, ELECTION, voter);
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("__Host-voter_session="));
    expect(cookie).toBeDefined();
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\/(;|$)/);
    expect(cookie).not.toMatch(/Domain=/i);
    // Its Max-Age (the token's life plus the draft's hour): "keeps the session cookie an hour past its token".
    expect(html).toContain(`<meta http-equiv="refresh" content="0; url=/elections/${ELECTION}/ballot"/>`);
    expect(html).toContain(`href="/elections/${ELECTION}/ballot"`);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    // The token is in the cookie and nowhere in the page.
    const token = b.jar.cookies.get("__Host-voter_session") ?? "";
    expect(token.split(".")).toHaveLength(3);
    expect(html).not.toContain(token);
    expect(html).not.toContain(token.split(".")[1]);
  });

  it("over plain http (localhost dev) the cookie is neither Secure nor prefixed, still HttpOnly and Strict", async () => {
    const b = browser("http://127.0.0.1:8787");
    const { res } = await signIn(b, ELECTION, await newVoter("district-south"));
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((line) => line.startsWith("voter_session="));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).not.toMatch(/; Secure/);
    const ballot = await b.get(`/elections/${ELECTION}/ballot`);
    expect(ballot.res.status).toBe(200);
  });

  it("a session cookie never authorises an API call: the API reads only the Authorization header", async () => {
    const b = browser();
    await signIn(b, ELECTION, await newVoter("district-north"));
    const api = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}/my-ballot`, { headers: { cookie: b.jar.header() } });
    expect(api.status).toBe(401);
    const cast = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}/ballots`, {
      method: "POST",
      headers: { cookie: b.jar.header(), "content-type": "application/json" },
      body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests: [] }),
    });
    expect(cast.status).toBe(401);
  });

  it.each([
    ["not on the roll", "EE-PV-NOBODY", ELECTION, 403, "not_on_roll"],
    ["geofence refused", "fenced", FENCED, 403, "geofence_refused"],
    // On the roll in a unit that no ballot style covers (the whole country, not a district).
    ["no ballot for the district", "styleless", ELECTION, 409, "no_ballot_style"],
  ])("answers a refused login (%s) with its page and status", async (_, who, electionId, status, code) => {
    const voter =
      who === "fenced"
        ? await newVoter("district-north", FENCED)
        : who === "styleless"
          ? await newVoter("demo-republic")
          : who;
    const { res, html } = await signIn(browser(), electionId, voter);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(errorCodeOf(html)).toBe(code);
    expect(html).not.toMatch(/voter_session|"error":/);
  });

  it("answers a GET of the callback (only the issuer's POST is one) with the page-not-found page", async () => {
    const { res, html } = await browser().get("/v1/auth/callback");
    expect(res.status).toBe(404);
    expect(errorCodeOf(html)).toBe("not_found");
    expect(html).toContain("Page not found");
    expect(html).not.toContain("No such election");
  });

  it("answers a replayed ID token and a state that does not match with their pages", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    const started = await b.get(`/v1/auth/login?electionId=${ELECTION}`);
    const location = new URL(started.res.headers.get("location") ?? "");
    const idToken = await signIdToken(voter, { nonce: location.searchParams.get("nonce") ?? "" });
    const form: [string, string][] = [
      ["id_token", idToken],
      ["state", location.searchParams.get("state") ?? ""],
    ];
    const mismatch = await b.post("/v1/auth/callback", [form[0] ?? ["", ""], ["state", "not-the-state"]]);
    expect([mismatch.res.status, errorCodeOf(mismatch.html)]).toEqual([401, "login_state_mismatch"]);
    const first = await b.post("/v1/auth/callback", form);
    expect(first.res.status).toBe(200);
    // The same response again (a second login cookie, the same ID token): the token was used.
    const again = browser();
    const restarted = await again.get(`/v1/auth/login?electionId=${ELECTION}`);
    const relocation = new URL(restarted.res.headers.get("location") ?? "");
    const replay = await again.post("/v1/auth/callback", [
      ["id_token", await signIdToken(voter, { nonce: relocation.searchParams.get("nonce") ?? "", jti: "pv-replay" })],
      ["state", relocation.searchParams.get("state") ?? ""],
    ]);
    expect(replay.res.status).toBe(200);
    const third = browser();
    const third0 = await third.get(`/v1/auth/login?electionId=${ELECTION}`);
    const thirdLoc = new URL(third0.res.headers.get("location") ?? "");
    const replayed = await third.post("/v1/auth/callback", [
      ["id_token", await signIdToken(voter, { nonce: thirdLoc.searchParams.get("nonce") ?? "", jti: "pv-replay" })],
      ["state", thirdLoc.searchParams.get("state") ?? ""],
    ]);
    expect([replayed.res.status, errorCodeOf(replayed.html)]).toEqual([401, "token_replayed"]);
    expect(replayed.html).toContain("We could not sign you in");
  });
});

describe("the ballot, the review and the cast", () => {
  it("shows the voter's ballot style as a form: radios, checkboxes with the limit, a write-in field", async () => {
    const b = browser();
    await signIn(b, ELECTION, await newVoter("district-east"));
    const { res, html } = await b.get(`/elections/${ELECTION}/ballot`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(html).toContain(`<form method="post" action="/elections/${ELECTION}/review"`);
    expect(html).toMatch(/<fieldset id="contest-0"[^>]*><legend><h2>President of the Republic<\/h2><\/legend>/);
    expect(html).toContain('type="radio" id="c0-o0" name="m:contest-president" value="sel-president-aino-tamm"');
    expect(html).toContain('type="checkbox" id="c2-o0" name="m:contest-council-east"');
    expect(html).toContain("Vote for up to 3. You may vote for fewer.");
    expect(html).toContain('name="w:sel-president-write-in"');
    expect(html).toMatch(
      /name="w:sel-president-write-in"[^>]*maxlength="80"|maxlength="80"[^>]*name="w:sel-president-write-in"/,
    );
    expect(html).toContain("Leave this contest blank");
    expect(html).toContain("Sign out");
    // The app's security headers, and the CSP needs nothing inline.
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("content-security-policy")).toContain("form-action 'self'");
    expect(html).not.toMatch(/<style|style=|<script>/);
  });

  it("shows the election's texts in each language its definition carries, chosen with ?lang=", async () => {
    const b = browser();
    await signIn(b, ELECTION, await newVoter("district-east"));
    const english = await b.get(`/elections/${ELECTION}/ballot`);
    expect(english.html).toContain('<nav class="languages" aria-label="Language">');
    expect(english.html).toMatch(
      /<a href="\/elections\/vote-pages\/ballot\?lang=en" lang="en" hreflang="en" aria-current="true">English<\/a>/,
    );
    expect(english.html).toMatch(
      /<a href="\/elections\/vote-pages\/ballot\?lang=et" lang="et" hreflang="et">Eesti<\/a>/,
    );
    expect(english.html).toContain("Shall the Constitution be amended");
    const estonian = await b.get(`/elections/${ELECTION}/ballot?lang=et`);
    expect(estonian.res.status).toBe(200);
    // The page and the election's texts in Estonian: the page's language is theirs.
    expect(estonian.html).toMatch(/^<!doctype html><html lang="et"/);
    expect(estonian.html).toContain("<h2>Vabariigi President</h2>");
    expect(estonian.html).toContain('<p class="caption">2026. aasta üldvalimised</p>');
    expect(estonian.html).toContain("Kas muuta põhiseadust");
    expect(estonian.html).toMatch(/hreflang="et" aria-current="true"/);
    // The form keeps the language on its way to the review.
    expect(estonian.html).toContain(`action="/elections/${ELECTION}/review?lang=et"`);
    const review = await b.post(`/elections/${ELECTION}/review?lang=et`, [
      ["ballotStyle", "bs-east"],
      ["m:contest-president", "sel-president-aino-tamm"],
    ]);
    expect(review.res.headers.get("location")).toBe(`/elections/${ELECTION}/review?lang=et`);
    const page = await b.get(`/elections/${ELECTION}/review?lang=et`);
    expect(page.html).toContain("<dt>Vabariigi President</dt>");
  });

  it("marks each of the election's texts with its language where that is not the page's", async () => {
    // The demo with a Russian title for the president's contest: no page catalogue speaks Russian.
    const definition = demoDefinition() as {
      settings: Record<string, unknown>;
      electionReport: { Election: { Contest: { "@id": string; BallotTitle: { Text: unknown[] } }[] }[] };
    };
    definition.settings["electionId"] = "vote-pages-ru";
    const president = definition.electionReport.Election[0]?.Contest.find((c) => c["@id"] === "contest-president");
    president?.BallotTitle.Text.push({
      "@type": "ElectionResults.LanguageString",
      Content: "Президент Республики",
      Language: "ru",
    });
    // And the north seat's title in English only.
    const north = definition.electionReport.Election[0]?.Contest.find((c) => c["@id"] === "contest-parliament-north");
    if (north) north.BallotTitle.Text = north.BallotTitle.Text.slice(0, 1);
    const loaded = await SELF.fetch(`${BASE}/v1/admin/elections`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
      body: JSON.stringify(definition),
    });
    expect(loaded.status).toBe(201);
    const b = browser();
    await signIn(b, "vote-pages-ru", await newVoter("district-north", "vote-pages-ru"));
    const { html } = await b.get(`/elections/vote-pages-ru/ballot?lang=ru`);
    expect(html).toMatch(/^<!doctype html><html lang="en"/);
    expect(html).toContain('<h2 lang="ru">Президент Республики</h2>');
    expect(html).toMatch(/hreflang="ru" aria-current="true"/);
    // A text with no Russian falls back to the definition's first language, the page's: unmarked.
    expect(html).toContain("<h2>Member of Parliament, North District</h2>");
    // In Estonian, a text the definition has only in English is marked English.
    const et = await b.get(`/elections/vote-pages-ru/ballot?lang=et`);
    expect(et.html).toMatch(/^<!doctype html><html lang="et"/);
    expect(et.html).toContain("<h2>Vabariigi President</h2>");
    expect(et.html).toContain('<h2 lang="en">Member of Parliament, North District</h2>');
  });

  it("reviews the choices with a change link per contest, an undervote flagged, then casts once and shows the receipt", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    await signIn(b, ELECTION, voter);
    const review = await b.post(`/elections/${ELECTION}/review`, [
      ["ballotStyle", "bs-north"],
      ["m:contest-president", "sel-president-juhan-mets"],
      ["m:contest-parliament-north", ""],
    ]);
    expect(review.res.status).toBe(303);
    const page = await b.get(`/elections/${ELECTION}/review`);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain("Juhan Mets");
    expect(page.html.match(/You did not vote in this contest\./g)).toHaveLength(2);
    expect(page.html).toContain(
      `<a href="/elections/${ELECTION}/ballot#contest-0">Change<span class="visually-hidden"> President of the Republic</span></a>`,
    );
    // Back on the ballot, the draft is there.
    const ballot = await b.get(`/elections/${ELECTION}/ballot`);
    expect(ballot.html).toMatch(/value="sel-president-juhan-mets" checked=""/);

    const form = hiddenInputs(page.html, /\/elections\/[^/]+\/cast/);
    expect(form.map(([k]) => k)).toEqual(["csrf", "idempotencyKey", "ballotStyle", "m:contest-president"]);
    const cast = await b.post(`/elections/${ELECTION}/cast`, form);
    expect(cast.res.status).toBe(303);
    expect(cast.res.headers.get("location")).toBe(`/elections/${ELECTION}/receipt`);
    const receiptCookie = cast.res.headers.getSetCookie().find((l) => l.startsWith("__Secure-ballot_receipt="));
    expect(receiptCookie).toMatch(/HttpOnly/);
    expect(receiptCookie).toMatch(/SameSite=Strict/);
    expect(receiptCookie).toMatch(new RegExp(`Path=/elections/${ELECTION}`));
    // The draft is gone.
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(false);

    const receipt = await b.get(`/elections/${ELECTION}/receipt`);
    expect(receipt.res.status).toBe(200);
    const code = /id="tracking-code">([0-9A-Z-]{19})</.exec(receipt.html)?.[1] ?? "";
    expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(receipt.html).toContain(`<img src="/v1/receipts/${code}/qr.svg"`);
    expect(receipt.html).toContain(`${BASE}/check?code=${code}`);
    expect(receipt.html).toContain("It does not show your choices.");
    expect(receipt.html).not.toContain("Juhan Mets");
    const print = await b.get(`/elections/${ELECTION}/receipt?view=print`);
    expect(print.html).toContain('class="printable-receipt"');
    expect(print.html).toContain(code);
    const download = await b.get(`/elections/${ELECTION}/receipt.jws`);
    expect(download.res.headers.get("content-disposition")).toBe(`attachment; filename="ballot-receipt-${code}.jwt"`);
    expect(download.html.trim().split(".")).toHaveLength(3);

    // The session token is in no page the voter saw.
    const token = b.jar.cookies.get("__Host-voter_session") ?? "";
    for (const html of [page.html, ballot.html, receipt.html, print.html]) {
      expect(html).not.toContain(token);
      expect(html).not.toContain(token.split(".")[2]);
    }

    // The same form again (a double click, the back button): the same receipt, one ballot.
    const again = await b.post(`/elections/${ELECTION}/cast`, form);
    expect(again.res.status).toBe(303);
    const receiptAgain = await b.get(`/elections/${ELECTION}/receipt`);
    expect(receiptAgain.html).toContain(`id="tracking-code">${code}<`);
    const mine = await myBallot(ELECTION, voter);
    expect(mine.ballots).toHaveLength(1);

    // Now the ballot page says the voter has voted (first-wins), with their code.
    const after = await b.get(`/elections/${ELECTION}/ballot`);
    expect(after.res.status).toBe(409);
    expect(errorCodeOf(after.html)).toBe("already_voted");
    expect(after.html).toContain(code);
  });

  it("refuses a form over the limit, a write-in too long and an unknown option with errors linked to the fields, nothing cast", async () => {
    const b = browser();
    const voter = await newVoter("district-east");
    await signIn(b, ELECTION, voter);
    const cases: { form: [string, string][]; href: string; text: string }[] = [
      {
        form: [
          ["m:contest-council-east", "sel-council-east-anna-laur"],
          ["m:contest-council-east", "sel-council-east-mart-parn"],
          ["m:contest-council-east", "sel-council-east-eva-sild"],
          ["m:contest-council-east", "sel-council-east-karl-tuul"],
        ],
        href: "#c2-o0",
        text: "East District Council: choose at most 3.",
      },
      {
        form: [
          ["m:contest-president", "sel-president-write-in"],
          ["w:sel-president-write-in", "x".repeat(81)],
        ],
        href: "#c0-w3",
        text: "the write-in name must be 80 characters or fewer",
      },
      {
        form: [["m:contest-president", "sel-parliament-north-mari-saar"]],
        href: "#c0-o0",
        text: "One of your choices is not on your ballot.",
      },
    ];
    for (const { form, href, text } of cases) {
      for (const path of ["review", "cast"]) {
        const sent: [string, string][] =
          path === "cast"
            ? [
                [
                  "csrf",
                  hiddenInputs(
                    (await b.get(`/elections/${ELECTION}/ballot`)).html,
                    /\/elections\/[^/]+\/logout/,
                  )[0]?.[1] ?? "",
                ],
                ...form,
              ]
            : form;
        const res = await b.post(`/elections/${ELECTION}/${path}`, [["ballotStyle", "bs-east"], ...sent]);
        expect(res.res.status).toBe(400);
        expect(errorCodeOf(res.html)).toBe("invalid_ballot");
        expect(res.html).toMatch(new RegExp(`<div class="error-summary" role="alert"[^>]*>`));
        expect(res.html).toContain(`<a href="${href}">`);
        expect(res.html).toContain(text);
      }
    }
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(0);
  });
});

describe("CSRF", () => {
  it("refuses a cast without the token, with another session's token, from another origin or site; nothing is cast", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    await signIn(b, ELECTION, voter);
    const form = await reviewed(b, ELECTION, NORTH_FORM);
    const other = browser();
    await signIn(other, ELECTION, await newVoter("district-north"));
    const otherForm = await reviewed(other, ELECTION, NORTH_FORM);
    const otherToken = otherForm.find(([k]) => k === "csrf")?.[1] ?? "";
    const without = form.filter(([k]) => k !== "csrf");
    const withOthers = form.map(([k, v]): [string, string] => (k === "csrf" ? [k, otherToken] : [k, v]));
    const attempts = [
      await b.post(`/elections/${ELECTION}/cast`, without),
      await b.post(`/elections/${ELECTION}/cast`, withOthers),
      await b.post(`/elections/${ELECTION}/cast`, form, { origin: "https://evil.example" }),
      await b.post(`/elections/${ELECTION}/cast`, form, { "sec-fetch-site": "cross-site" }),
      await b.post(`/elections/${ELECTION}/cast`, form, { "sec-fetch-site": "same-site" }),
    ];
    for (const attempt of attempts) {
      expect(attempt.res.status).toBe(403);
      expect(errorCodeOf(attempt.html)).toBe("csrf_failed");
    }
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(0);
    // Nor does a client that sends no fetch metadata, with the other session's token.
    const bare = await SELF.fetch(`${BASE}/elections/${ELECTION}/cast`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: b.jar.header() },
      body: new URLSearchParams(withOthers).toString(),
    });
    expect(bare.status).toBe(403);
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(0);
    // The same form, sent properly (with our own origin named, this time), casts.
    expect((await b.post(`/elections/${ELECTION}/cast`, form, { origin: BASE })).res.status).toBe(303);
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(1);
  });

  it("signs out only with the session's token, then the ballot sends the voter to the login", async () => {
    const b = browser();
    await signIn(b, ELECTION, await newVoter("district-north"));
    const ballot = await b.get(`/elections/${ELECTION}/ballot`);
    const signOut = hiddenInputs(ballot.html, /\/elections\/[^/]+\/logout/);
    expect(signOut.map(([k]) => k)).toEqual(["csrf"]);
    const forged = await b.post(`/elections/${ELECTION}/logout`, [["csrf", "A".repeat(43)]]);
    expect([forged.res.status, errorCodeOf(forged.html)]).toEqual([403, "csrf_failed"]);
    const elsewhere = await b.post(`/elections/${ELECTION}/logout`, signOut, { origin: "https://evil.example" });
    expect(elsewhere.res.status).toBe(403);
    expect(b.jar.cookies.has("__Host-voter_session")).toBe(true);

    await b.post(`/elections/${ELECTION}/review`, NORTH_FORM);
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(true);
    const out = await b.post(`/elections/${ELECTION}/logout`, signOut);
    expect(out.res.status).toBe(200);
    expect(out.html).toContain("You are signed out");
    expect(b.jar.cookies.has("__Host-voter_session")).toBe(false);
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(false);
    const after = await b.get(`/elections/${ELECTION}/ballot`);
    expect(after.res.status).toBe(303);
    expect(after.res.headers.get("location")).toBe(`/v1/auth/login?electionId=${ELECTION}`);
  });
});

/** The same session token with its expiry moved `secondsAgo` into the past, signed again. */
async function lapsed(token: string, secondsAgo: number): Promise<string> {
  const claims = decodeJwt(token);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, iat: now - 15 * 60 - secondsAgo, exp: now - secondsAgo })
    .setProtectedHeader({ alg: "HS256", typ: "voter-session+jwt" })
    .sign(await purposeKey(env.SESSION_SIGNING_KEY, "voter-session"));
}

describe("an expired session", () => {
  it("sends the voter to the login, keeps the choices in the draft, and the ballot after login is pre-filled", async () => {
    const b = browser();
    const voter = await newVoter("district-east");
    await signIn(b, ELECTION, voter);
    // The voter's own session token, as if it had expired a minute ago: the same claims (its sealed
    // subject names the voter), signed again with the session key and a past expiry.
    const expired = await lapsed(b.jar.cookies.get("__Host-voter_session") ?? "", 60);
    b.jar.cookies.set("__Host-voter_session", expired);
    const form: [string, string][] = [
      ["ballotStyle", "bs-east"],
      ["m:contest-president", "sel-president-write-in"],
      ["w:sel-president-write-in", "Jaan Tatikas"],
      ["m:contest-council-east", "sel-council-east-eva-sild"],
      ["m:contest-council-east", "sel-council-east-jaan-koiv"],
    ];
    const review = await b.post(`/elections/${ELECTION}/review`, form);
    expect(review.res.status).toBe(303);
    expect(review.res.headers.get("location")).toBe(`/v1/auth/login?electionId=${ELECTION}`);
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(true);
    // No session cookie at all (the browser dropped it at its Max-Age): the cast form does the same.
    b.jar.cookies.delete("__Host-voter_session");
    const ballotNow = await b.get(`/elections/${ELECTION}/ballot`);
    expect(ballotNow.res.status).toBe(303);
    expect(ballotNow.res.headers.get("location")).toBe(`/v1/auth/login?electionId=${ELECTION}`);

    expect((await signIn(b, ELECTION, voter)).res.status).toBe(200);
    const ballot = await b.get(`/elections/${ELECTION}/ballot`);
    expect(ballot.res.status).toBe(200);
    expect(ballot.html).toMatch(/value="sel-president-write-in" checked=""/);
    expect(ballot.html).toContain('value="Jaan Tatikas"');
    expect(ballot.html).toMatch(/value="sel-council-east-eva-sild" checked=""/);
    expect(ballot.html).toMatch(/value="sel-council-east-jaan-koiv" checked=""/);
    expect(ballot.html).not.toMatch(/value="sel-council-east-anna-laur" checked=""/);
    // Nothing was cast meanwhile.
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(0);
  });

  it("a form without a session behind it keeps nothing, and a draft is shown to its own voter only", async () => {
    const b = browser();
    const form: [string, string][] = [
      ["ballotStyle", "bs-east"],
      ["m:contest-president", "sel-president-liis-kask"],
    ];
    // No session at all: the choices are not kept anywhere.
    const nobody = await b.post(`/elections/${ELECTION}/review`, form);
    expect(nobody.res.status).toBe(303);
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(false);

    // A voter's session lapses with choices made; they walk away from a shared computer.
    const first = await newVoter("district-east");
    await signIn(b, ELECTION, first);
    b.jar.cookies.set("__Host-voter_session", await lapsed(b.jar.cookies.get("__Host-voter_session") ?? "", 60));
    await b.post(`/elections/${ELECTION}/review`, form);
    expect(b.jar.cookies.has("__Secure-ballot_draft")).toBe(true);
    // The next person signs in there, with the same ballot style: they do not see those choices.
    const next = await newVoter("district-east");
    await signIn(b, ELECTION, next);
    const theirs = await b.get(`/elections/${ELECTION}/ballot`);
    expect(theirs.res.status).toBe(200);
    expect(theirs.html).not.toContain('checked=""');
    // A session that lapsed longer ago than the draft's hour names nobody either.
    const b2 = browser();
    await signIn(b2, ELECTION, first);
    b2.jar.cookies.set("__Host-voter_session", await lapsed(b2.jar.cookies.get("__Host-voter_session") ?? "", 61 * 60));
    await b2.post(`/elections/${ELECTION}/review`, form);
    expect(b2.jar.cookies.has("__Secure-ballot_draft")).toBe(false);
  });

  it("keeps the session cookie an hour past its token, which still authorises nothing", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    const signedIn = await signIn(b, ELECTION, voter);
    const cookie = signedIn.res.headers.getSetCookie().find((c) => c.startsWith("__Host-voter_session=")) ?? "";
    const maxAge = Number(/Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(15 * 60 + 60 * 60 - 5);
    expect(maxAge).toBeLessThanOrEqual(15 * 60 + 60 * 60);
    b.jar.cookies.set("__Host-voter_session", await lapsed(b.jar.cookies.get("__Host-voter_session") ?? "", 1));
    const ballot = await b.get(`/elections/${ELECTION}/ballot`);
    expect(ballot.res.status).toBe(303);
    expect(ballot.res.headers.get("location")).toBe(`/v1/auth/login?electionId=${ELECTION}`);
  });
});

describe("states that stop a voter", () => {
  it("polls not open yet, polls closed: before any ballot is shown", async () => {
    for (const [electionId, status, code] of [
      [SOON, 403, "polls_not_open"],
      [CLOSED, 403, "polls_closed"],
    ] as const) {
      const { res, html } = await browser().get(`/elections/${electionId}/ballot`);
      expect([res.status, errorCodeOf(html)]).toEqual([status, code]);
      expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    }
    const { res, html } = await browser().get(`/elections/no-such-election/ballot`);
    expect([res.status, errorCodeOf(html)]).toEqual([404, "election_not_found"]);
  });

  it("re-vote under paper-supersedes: a notice, then a second cast replaces the first", async () => {
    const b = browser();
    const voter = await newVoter("district-north", REVOTE);
    await signIn(b, REVOTE, voter);
    const first = await reviewed(b, REVOTE, NORTH_FORM);
    expect((await b.post(`/elections/${REVOTE}/cast`, first)).res.status).toBe(303);
    const ballot = await b.get(`/elections/${REVOTE}/ballot`);
    expect(ballot.res.status).toBe(200);
    expect(ballot.html).toContain("You have already voted online");
    expect(ballot.html).toContain("only your last online ballot counts");
    const second = await reviewed(b, REVOTE, [
      ["ballotStyle", "bs-north"],
      ["m:contest-president", "sel-president-liis-kask"],
    ]);
    expect((await b.post(`/elections/${REVOTE}/cast`, second)).res.status).toBe(303);
    const mine = await myBallot(REVOTE, voter);
    expect(mine.ballots).toHaveLength(2);
    // The first form again (the back button twice): that ballot no longer counts, and says so.
    const stale = await b.post(`/elections/${REVOTE}/cast`, first);
    expect([stale.res.status, errorCodeOf(stale.html)]).toEqual([409, "ballot_superseded"]);
    expect((await myBallot(REVOTE, voter)).ballots).toHaveLength(2);
  });

  it("a cast over the voter's rate limit is a page that says to wait, and nothing is cast", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    await signIn(b, ELECTION, voter);
    const form = await reviewed(b, ELECTION, NORTH_FORM);
    const { voterKeyFor } = await import("./helpers/roll.ts");
    const key = `${ELECTION}:${await voterKeyFor(voter)}`;
    let res: { res: Response; html: string } | undefined;
    for (let attempt = 0; attempt < 2 && res?.res.status !== 429; attempt += 1) {
      for (let i = 0; i < 30; i += 1) await env.CAST_VOTER_LIMITER.limit({ key });
      res = await b.post(`/elections/${ELECTION}/cast`, form);
    }
    expect([res?.res.status, errorCodeOf(res?.html ?? "")]).toEqual([429, "rate_limited"]);
    expect((await myBallot(ELECTION, voter)).ballots).toHaveLength(0);
  });

  it("the ballot page of a voter who voted on paper says so", async () => {
    const b = browser();
    const voter = await newVoter("district-north");
    await signIn(b, ELECTION, voter);
    const { ledgerFor } = await import("../../durable-objects/addresses.ts");
    const { voterKeyFor } = await import("./helpers/roll.ts");
    const { getElection } = await import("../../db/stores/elections.ts");
    const { ledgerDecision } = await import("../../durable-objects/voter-ledger.ts");
    const election = await getElection(env.DB, ELECTION);
    if (!election) throw new Error("no election");
    const voterKey = await voterKeyFor(voter);
    const checkIn = await ledgerFor(env, ELECTION, voterKey).checkIn({
      ...ledgerDecision(election, { voterKey, ballotStyleId: "bs-north", districtId: "district-north" }),
      stationId: "station-pv",
      checkInId: crypto.randomUUID(),
      identity: "id-card",
    });
    expect(checkIn.ok).toBe(true);
    const { res, html } = await b.get(`/elections/${ELECTION}/ballot`);
    expect([res.status, errorCodeOf(html)]).toEqual([409, "already_voted_on_paper"]);
  });
});

describe("weight", () => {
  it("the biggest ballot page (east) and the stylesheet together stay under 30 KB", async () => {
    const b = browser();
    await signIn(b, ELECTION, await newVoter("district-east"));
    const page = await b.get(`/elections/${ELECTION}/ballot`);
    expect(page.res.status).toBe(200);
    // The test runner's SELF reaches the Worker only: the stylesheet comes through its binding.
    const css = await env.ASSETS.fetch(`${BASE}/assets/portal.css`);
    expect(css.status).toBe(200);
    const bytes = new TextEncoder().encode(page.html).length + (await css.arrayBuffer()).byteLength;
    expect(bytes).toBeLessThan(30 * 1024);
  });
});
