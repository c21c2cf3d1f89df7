/**
 * The national-eID token must carry a level of assurance that may vote, be fresh, and name us as
 * its authorized party when it has several audiences (security review M10). Before, a
 * lower-assurance login of the same eID (password, SMS) could vote.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, signIdToken, type IdTokenOptions } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const ELECTION = "eid-assurance";
const VOTER = "EE-ASSURANCE-0001";
let ip = 0;

async function login(options: IdTokenOptions): Promise<Response> {
  ip += 1;
  return SELF.fetch(`${BASE}/v1/auth/voter-session`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `10.77.0.${ip}` },
    body: JSON.stringify({ electionId: ELECTION, idToken: await signIdToken(VOTER, options) }),
    cf: { country: "EE" },
  });
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  await enrol(ELECTION, VOTER, "district-north");
});

describe("national-eID assurance", () => {
  it.each([
    ["a lower level of assurance", { acr: "eidas-low" }, "insufficient_assurance"],
    ["no level of assurance", { acr: null }, "insufficient_assurance"],
    ["a token issued ten minutes ago", { age: 600, expiresIn: 300 }, "token_expired"],
    ["several audiences and no authorized party", { audience: [env.EID_CLIENT_ID, "another-app"] }, "invalid_token"],
    ["another authorized party", { azp: "another-app" }, "invalid_token"],
    // A nonce means the token was issued to a browser login: only that login's callback takes it.
    ["a browser login's nonce, at the API", { nonce: "a-browser-login-nonce" }, "invalid_token"],
  ] satisfies [string, IdTokenOptions, string][])("refuses a token with %s", async (_, options, code) => {
    const res = await login(options);
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe(code);
  });

  it.each([
    ["a high level of assurance", {}],
    [
      "several audiences, us as the authorized party",
      { audience: [env.EID_CLIENT_ID, "another-app"], azp: env.EID_CLIENT_ID },
    ],
  ] satisfies [string, IdTokenOptions][])("accepts a token with %s", async (_, options) => {
    const res = await login(options);
    expect(res.status).toBe(200);
  });
});
