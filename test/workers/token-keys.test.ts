/**
 * Each token kind is signed with its own key derived from SESSION_SIGNING_KEY (lib/keys.ts), and
 * the voter session's subject is not the voter key in clear (security review L7).
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, SignJWT } from "jose";
import { configOf } from "../../durable-objects/config.ts";
import { purposeKey, type KeyPurpose } from "../../lib/keys.ts";
import { issueOfficialAccess, issueVoterSession, verifyVoterSession } from "../../workers/gateway/auth/tokens.ts";
import { readLoginState } from "../../workers/gateway/auth/login-state.ts";
import { BASE } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";

const ELECTION = "token-keys";
const VOTER_KEY = "voter-key-of-someone-0123456789abcdef";

type SigningKey = Uint8Array | CryptoKey;

function raw(): Uint8Array {
  return new TextEncoder().encode(env.SESSION_SIGNING_KEY);
}
function derived(purpose: KeyPurpose): Promise<CryptoKey> {
  return purposeKey(env.SESSION_SIGNING_KEY, purpose);
}

async function voterToken(key: SigningKey, sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ eid: ELECTION, bs: "bs-north", dst: "district-north" })
    .setProtectedHeader({ alg: "HS256", typ: "voter-session+jwt" })
    .setIssuer("mixed-election")
    .setAudience("voter-session")
    .setSubject(sub)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(key);
}

async function officialToken(key: SigningKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: "administrator", kid: JSON.parse(env.BOOTSTRAP_ADMIN_JWK).kid })
    .setProtectedHeader({ alg: "HS256", typ: "official-access+jwt" })
    .setIssuer("mixed-election")
    .setAudience("officials")
    .setSubject("bootstrap-admin")
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(key);
}

async function loginCookie(key: SigningKey): Promise<string> {
  return new SignJWT({ state: "s".repeat(20), nonce: "n".repeat(20), eid: ELECTION })
    .setProtectedHeader({ alg: "HS256", typ: "login-state+jwt" })
    .setIssuer("mixed-election")
    .setAudience("login-state")
    .setIssuedAt()
    .setExpirationTime("600s")
    .sign(key);
}

async function ballotWith(token: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/elections/${ELECTION}/ballot`, { headers: { authorization: `Bearer ${token}` } });
}

async function officialsWith(token: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/elections/${ELECTION}/results`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
});

describe("separate token keys", () => {
  it("accepts a voter session the gateway issued, and refuses one signed with the raw key or another purpose's key", async () => {
    const { token } = await issueVoterSession(configOf(env), {
      voterKey: VOTER_KEY,
      electionId: ELECTION,
      ballotStyleId: "bs-north",
      districtId: "district-north",
    });
    expect((await ballotWith(token)).status).toBe(200);
    // Even with a well-formed subject, the signature must be the voter-session key's.
    const sub = decodeJwt(token).sub ?? "";
    for (const key of [raw(), await derived("official-token"), await derived("login-state")]) {
      const forged = await ballotWith(await voterToken(key, sub));
      expect(forged.status).toBe(401);
    }
    expect((await ballotWith(await voterToken(await derived("voter-session"), sub))).status).toBe(200);
  });

  it("accepts an official's token the gateway issued, and refuses one signed with the raw key or another purpose's key", async () => {
    const kid = String(JSON.parse(env.BOOTSTRAP_ADMIN_JWK).kid);
    const { token } = await issueOfficialAccess(configOf(env), "bootstrap-admin", kid, "administrator");
    expect((await officialsWith(token)).status).toBe(200);
    for (const key of [raw(), await derived("voter-session"), await derived("login-state")]) {
      expect((await officialsWith(await officialToken(key))).status).toBe(401);
    }
    expect((await officialsWith(await officialToken(await derived("official-token")))).status).toBe(200);
  });

  it("reads a login-state cookie only under the login-state key", async () => {
    const config = configOf(env);
    expect(await readLoginState(config, await loginCookie(await derived("login-state")))).toBeDefined();
    for (const key of [raw(), await derived("voter-session"), await derived("official-token")]) {
      expect(await readLoginState(config, await loginCookie(key))).toBeUndefined();
    }
    // Through the route: a cookie under the raw key is a state mismatch, not a login.
    const res = await SELF.fetch(`${BASE}/v1/auth/callback`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: `login_state=${await loginCookie(raw())}`,
        "cf-connecting-ip": "10.77.0.1",
      },
      body: new URLSearchParams({ id_token: "a".repeat(20) + ".b.c", state: "s".repeat(20) }).toString(),
    });
    expect(res.status).toBe(401);
    // The callback is a browser's page: the refusal is a page with its code in data-error-code.
    expect(/data-error-code="([a-z_]+)"/.exec(await res.text())?.[1]).toBe("login_state_mismatch");
  });
});

describe("the voter session's subject (L7)", () => {
  it("does not carry the voter key, differs at every login, and still gives the gateway the voter key", async () => {
    const config = configOf(env);
    const session = {
      voterKey: VOTER_KEY,
      electionId: ELECTION,
      ballotStyleId: "bs-north",
      districtId: "district-north",
    };
    const a = await issueVoterSession(config, session);
    const b = await issueVoterSession(config, session);
    const subA = decodeJwt(a.token).sub ?? "";
    const subB = decodeJwt(b.token).sub ?? "";
    expect(subA).not.toBe(VOTER_KEY);
    expect(subA).not.toBe(subB);
    expect(a.token).not.toContain(VOTER_KEY);
    expect(atob(a.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).not.toContain(VOTER_KEY);
    const verified = await verifyVoterSession(config, a.token);
    expect(verified.ok && verified.value.voterKey).toBe(VOTER_KEY);
  });

  it("refuses a correctly signed session whose subject is the voter key in clear", async () => {
    const token = await voterToken(await derived("voter-session"), VOTER_KEY);
    expect((await ballotWith(token)).status).toBe(401);
  });
});
