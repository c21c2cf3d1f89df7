import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { generateKeyPair, exportJWK, SignJWT } from "jose";
import { BASE, signIdToken } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol, voterKeyFor } from "./helpers/roll.ts";
import { voterDistrict } from "../../db/stores/roll.ts";

const ELECTION = "login-test";
const VOTER = "EE-LOGIN-0001";

let ipCounter = 0;
function freshIp(): string {
  ipCounter += 1;
  return `10.20.${Math.floor(ipCounter / 250)}.${ipCounter % 250}`;
}

async function login(body: unknown, options: { ip?: string; country?: string } = {}): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/auth/voter-session`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": options.ip ?? freshIp() },
    body: typeof body === "string" ? body : JSON.stringify(body),
    cf: { country: options.country ?? "EE" },
  });
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

/** The code of a refusal answered as a page (the browser routes). */
async function pageCodeOf(res: Response): Promise<string | undefined> {
  expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
  return /data-error-code="([a-z_]+)"/.exec(await res.text())?.[1];
}

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  await enrol(ELECTION, VOTER, "district-north");
  await loadDemoElection({ electionId: "login-refuse", geofence: { allowedCountries: ["EE"], outside: "refuse" } });
  await enrol("login-refuse", VOTER, "district-south");
  await loadDemoElection({ electionId: "login-flag", geofence: { allowedCountries: ["EE"], outside: "flag" } });
  await enrol("login-flag", VOTER, "district-east");
});

describe("voter login with a national-eID ID token", () => {
  it("issues a session bound to the election and the voter's ballot style", async () => {
    const res = await login({ electionId: ELECTION, idToken: await signIdToken(VOTER) });
    expect(res.status).toBe(200);
    const body: { sessionToken: string; districtId: string; ballotStyleId: string; electionId: string } =
      await res.json();
    expect(body.electionId).toBe(ELECTION);
    expect(body.districtId).toBe("district-north");
    const ballot = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}/ballot`, {
      headers: { authorization: `Bearer ${body.sessionToken}` },
    });
    expect(ballot.status).toBe(200);
    const ballotBody: { ballotStyleId: string } = await ballot.json();
    expect(ballotBody.ballotStyleId).toBe(body.ballotStyleId);
  });

  it("normalises the national id as the roll does (case and spaces)", async () => {
    const res = await login({ electionId: ELECTION, idToken: await signIdToken("  ee-login-0001 ") });
    expect(res.status).toBe(200);
  });

  it("looks the voter up on the roll through a D1 session a read replica may answer", async () => {
    const sessions = vi.spyOn(env.DB, "withSession");
    try {
      const res = await login({ electionId: ELECTION, idToken: await signIdToken(VOTER) });
      expect(res.status).toBe(200);
      expect(sessions).toHaveBeenCalledWith("first-unconstrained");
    } finally {
      sessions.mockRestore();
    }
    // The session answers as the database does: the district, or nothing off this election's roll.
    const voterKey = await voterKeyFor(VOTER);
    const session = env.DB.withSession("first-unconstrained");
    expect(await voterDistrict(session, ELECTION, voterKey)).toBe("district-north");
    expect(await voterDistrict(env.DB, ELECTION, voterKey)).toBe("district-north");
    expect(await voterDistrict(session, "no-such-election", voterKey)).toBeUndefined();
    expect(await voterDistrict(session, ELECTION, await voterKeyFor("EE-NOT-ENROLLED-1"))).toBeUndefined();
  });

  it("refuses a replayed ID token", async () => {
    const idToken = await signIdToken(VOTER);
    expect((await login({ electionId: ELECTION, idToken })).status).toBe(200);
    const again = await login({ electionId: ELECTION, idToken });
    expect(again.status).toBe(401);
    expect(await codeOf(again)).toBe("token_replayed");
  });

  const otherKey = async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    return exportJWK(privateKey);
  };

  it.each([
    [
      "forged: signed by another key under the issuer's kid",
      async () => signIdToken(VOTER, { key: { ...(await otherKey()), kid: JSON.parse(env.TEST_EID_PRIVATE_JWK).kid } }),
      "invalid_token",
    ],
    [
      "signed by a key the issuer never published",
      async () => signIdToken(VOTER, { key: { ...(await otherKey()), kid: "unknown-kid" } }),
      "invalid_token",
    ],
    ["expired", async () => signIdToken(VOTER, { expiresIn: -120 }), "token_expired"],
    ["not yet valid", async () => signIdToken(VOTER, { notBefore: 600 }), "invalid_token"],
    ["from another issuer", async () => signIdToken(VOTER, { issuer: "https://evil.example" }), "invalid_token"],
    ["for another audience", async () => signIdToken(VOTER, { audience: "another-client" }), "invalid_token"],
    [
      "with alg none",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ iss: env.EID_ISSUER, aud: env.EID_CLIENT_ID, sub: VOTER, iat: now, exp: now + 300, jti: crypto.randomUUID() })}.`;
      },
      "invalid_token",
    ],
    [
      "with HS256 keyed by the issuer's public key",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({})
          .setProtectedHeader({ alg: "HS256", kid: JSON.parse(env.TEST_EID_PRIVATE_JWK).kid })
          .setIssuer(env.EID_ISSUER)
          .setAudience(env.EID_CLIENT_ID)
          .setSubject(VOTER)
          .setIssuedAt(now)
          .setExpirationTime(now + 300)
          .setJti(crypto.randomUUID())
          .sign(new TextEncoder().encode(env.EID_JWKS_URL));
      },
      "invalid_token",
    ],
  ])("refuses an ID token %s", async (_name, make, code) => {
    const res = await login({ electionId: ELECTION, idToken: await make() });
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe(code);
  });

  it("leaves an ID token usable when the login was refused before it was claimed", async () => {
    const nationalId = "EE-LOGIN-LATE-0001";
    const idToken = await signIdToken(nationalId);
    const early = await login({ electionId: ELECTION, idToken });
    expect(early.status).toBe(403);
    expect(await codeOf(early)).toBe("not_on_roll");
    await enrol(ELECTION, nationalId, "district-north");
    expect((await login({ electionId: ELECTION, idToken })).status).toBe(200);
    const replay = await login({ electionId: ELECTION, idToken });
    expect(replay.status).toBe(401);
    expect(await codeOf(replay)).toBe("token_replayed");
  });

  it("refuses a person who is not on the roll", async () => {
    const res = await login({ electionId: ELECTION, idToken: await signIdToken("EE-NOT-ON-ROLL") });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe("not_on_roll");
  });

  it("refuses an unknown election", async () => {
    const res = await login({ electionId: "no-such-election", idToken: await signIdToken(VOTER) });
    expect(res.status).toBe(404);
    expect(await codeOf(res)).toBe("election_not_found");
  });

  it.each([
    ["malformed JSON", "{", "invalid_json"],
    ["a missing token", { electionId: ELECTION }, "invalid_request"],
    ["an extra field", { electionId: ELECTION, idToken: "a.b.c-long-enough-token", admin: true }, "invalid_request"],
    ["a bad election id", { electionId: "../etc", idToken: "aaaaaaaaaaaaaaaa.bbbb.cccc" }, "invalid_request"],
  ])("refuses %s with 400", async (_name, body, code) => {
    const res = await login(body);
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe(code);
  });
});

describe("edge rules", () => {
  it("refuses logins from outside the allowed countries when the election says refuse", async () => {
    const res = await login({ electionId: "login-refuse", idToken: await signIdToken(VOTER) }, { country: "US" });
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe("geofence_refused");
    expect(
      (await login({ electionId: "login-refuse", idToken: await signIdToken(VOTER) }, { country: "EE" })).status,
    ).toBe(200);
  });

  it("flags logins from outside the allowed countries when the election says flag", async () => {
    const res = await login({ electionId: "login-flag", idToken: await signIdToken(VOTER) }, { country: "US" });
    expect(res.status).toBe(200);
    const events = await env.DB.prepare("SELECT kind, detail_json FROM security_events WHERE election_id = ?")
      .bind("login-flag")
      .all<{ kind: string; detail_json: string }>();
    expect(events.results.map((e) => e.kind)).toContain("geofence-flagged-login");
    expect(events.results[0]?.detail_json).not.toContain(VOTER);
  });

  // Behind a carrier-grade NAT one address is many voters (security review M9): the limit is per
  // address and election, high, under a higher one per address. The limiter counts in fixed
  // windows of 60 s; should one end in between, spend a fresh window's budget and ask again.
  it("rate-limits logins per client address and election, and per address with a higher ceiling", async () => {
    const ip = "10.30.0.1";
    const junk = "aaaaaaaaaaaaaaaa.bbbb.cccc";
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2 && res?.status !== 429; attempt += 1) {
      for (let i = 0; i < 301; i += 1) await env.VOTER_LOGIN_LIMITER.limit({ key: `voter:${ip}:no-such-election` });
      res = await login({ electionId: "no-such-election", idToken: junk }, { ip });
    }
    expect([res?.status, res ? await codeOf(res) : ""]).toEqual([429, "rate_limited"]);
    // The same address, for another election: the flood for the first did not lock it out.
    expect((await login({ electionId: ELECTION, idToken: await signIdToken(VOTER) }, { ip })).status).toBe(200);
    // Another address is not affected.
    expect((await login({ electionId: "no-such-election", idToken: junk })).status).toBe(404);
    // Over the address's overall budget, every election is refused from it.
    res = undefined;
    for (let attempt = 0; attempt < 2 && res?.status !== 429; attempt += 1) {
      for (let i = 0; i < 1_201; i += 1) await env.VOTER_LOGIN_IP_LIMITER.limit({ key: `voter:${ip}` });
      res = await login({ electionId: "another-election", idToken: junk }, { ip });
    }
    expect([res?.status, res ? await codeOf(res) : ""]).toEqual([429, "rate_limited"]);
  });

  it("counts a browser login against its election: the query's, then the login-state cookie's", async () => {
    const ip = "10.30.0.2";
    for (let i = 0; i < 301; i += 1) await env.VOTER_LOGIN_LIMITER.limit({ key: `voter:${ip}:${ELECTION}` });
    const started = await SELF.fetch(`${BASE}/v1/auth/login?electionId=${ELECTION}`, {
      redirect: "manual",
      headers: { "cf-connecting-ip": ip },
    });
    expect(started.status).toBe(429);
    const cookie = `${b64url({ alg: "HS256" })}.${b64url({ eid: ELECTION })}.c2ln`;
    const callback = await SELF.fetch(`${BASE}/v1/auth/callback`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "cf-connecting-ip": ip,
        cookie: `login_state=${cookie}`,
      },
      body: new URLSearchParams({ id_token: "aaaaaaaaaaaaaaaa.bbbb.cccc", state: "x" }).toString(),
    });
    expect(callback.status).toBe(429);
    // Another election from the same address still starts.
    const other = await SELF.fetch(`${BASE}/v1/auth/login?electionId=login-flag`, {
      redirect: "manual",
      headers: { "cf-connecting-ip": ip },
    });
    expect(other.status).toBe(302);
  });

  it("rate-limits logins per voter, whatever the address", async () => {
    await enrol(ELECTION, "EE-BUSY-0001", "district-south");
    const statuses: number[] = [];
    for (let i = 0; i < 25; i += 1) {
      statuses.push((await login({ electionId: ELECTION, idToken: await signIdToken("EE-BUSY-0001") })).status);
    }
    // 10 a minute per voter: at most 20 pass across one window boundary, and some are refused.
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(20);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(statuses[0]).toBe(200);
  });
});

describe("browser login through the eID issuer", () => {
  async function start(): Promise<{ cookie: string; state: string; nonce: string; redirectUri: string }> {
    const res = await SELF.fetch(`${BASE}/v1/auth/login?electionId=${ELECTION}`, {
      redirect: "manual",
      headers: { "cf-connecting-ip": freshIp() },
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location") ?? "");
    expect(`${location.origin}${location.pathname}`).toBe(env.EID_AUTHORIZE_URL);
    expect(location.searchParams.get("client_id")).toBe(env.EID_CLIENT_ID);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    return {
      cookie,
      state: location.searchParams.get("state") ?? "",
      nonce: location.searchParams.get("nonce") ?? "",
      redirectUri: location.searchParams.get("redirect_uri") ?? "",
    };
  }

  async function callback(cookie: string, form: Record<string, string>): Promise<Response> {
    return SELF.fetch(`${BASE}/v1/auth/callback`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie, "cf-connecting-ip": freshIp() },
      body: new URLSearchParams(form).toString(),
      cf: { country: "EE" },
    });
  }

  it("logs in: the session goes into an HttpOnly cookie, and the page moves on to the ballot", async () => {
    const s = await start();
    expect(s.redirectUri).toBe(`${BASE}/v1/auth/callback`);
    const res = await callback(s.cookie, { id_token: await signIdToken(VOTER, { nonce: s.nonce }), state: s.state });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().some((c) => /^__Host-voter_session=.+; HttpOnly/.test(c))).toBe(true);
    const page = await res.text();
    expect(page).toContain(`url=/elections/${ELECTION}/ballot`);
    // The browser never sees the token in a page (it did before the portal's cookie session).
    expect(page).not.toContain("session-token");
  });

  it("refuses a mismatched state, a missing cookie and a wrong nonce", async () => {
    const s = await start();
    const wrongState = await callback(s.cookie, {
      id_token: await signIdToken(VOTER, { nonce: s.nonce }),
      state: "not-the-state",
    });
    // The callback is a browser's page: its refusals are pages, with the code in data-error-code.
    expect(wrongState.status).toBe(401);
    expect(await pageCodeOf(wrongState)).toBe("login_state_mismatch");
    const noCookie = await callback("", { id_token: await signIdToken(VOTER, { nonce: s.nonce }), state: s.state });
    expect(await pageCodeOf(noCookie)).toBe("login_state_mismatch");
    const wrongNonce = await callback(s.cookie, {
      id_token: await signIdToken(VOTER, { nonce: "another-nonce-value" }),
      state: s.state,
    });
    expect(wrongNonce.status).toBe(401);
    expect(await pageCodeOf(wrongNonce)).toBe("invalid_token");
  });

  it("answers a refusal whose status no other page has with that status and its code", async () => {
    // A form sent without its content type: 415 unsupported_media_type, not a 400 page.
    const res = await SELF.fetch(`${BASE}/v1/auth/callback`, {
      method: "POST",
      headers: { "cf-connecting-ip": freshIp() },
      body: new URLSearchParams({ id_token: "a.b.c", state: "x" }).toString(),
    });
    expect(res.status).toBe(415);
    expect(await pageCodeOf(res)).toBe("unsupported_media_type");
  });
});

describe("OpenAPI", () => {
  it("is generated from the routes' schemas at /openapi.json", async () => {
    const res = await SELF.fetch(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc: { openapi: string; paths: Record<string, unknown> } = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/auth/voter-session", "/v1/auth/token", "/v1/admin/officials"]),
    );
  });

  it("answers unknown paths with a JSON 404", async () => {
    const res = await SELF.fetch(`${BASE}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(await codeOf(res)).toBe("not_found");
  });
});
