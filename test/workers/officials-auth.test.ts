import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { importJWK, SignJWT, type JWK } from "jose";
import { signOfficialAssertion } from "../../lib/identity/assertion.ts";
import { adminToken, BASE, newOfficialKey, officialToken, tokenFor } from "./helpers/auth.ts";

async function exchange(assertion: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `10.1.${Math.floor(Math.random() * 250)}.1` },
    body: JSON.stringify({ assertion }),
  });
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

function adminJwk(): JWK {
  return JSON.parse(env.TEST_ADMIN_PRIVATE_JWK) as JWK;
}

async function assertion(
  key: JWK,
  claims: { iss?: string; sub?: string; aud?: string; exp?: number; iat?: number; alg?: string },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: claims.alg ?? "EdDSA", kid: String(key.kid) })
    .setIssuer(claims.iss ?? "bootstrap-admin")
    .setSubject(claims.sub ?? "bootstrap-admin")
    .setAudience(claims.aud ?? BASE)
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 60)
    .setJti(crypto.randomUUID())
    .sign(await importJWK(key, "EdDSA"));
}

async function listOfficials(token: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/officials`, { headers: { authorization: `Bearer ${token}` } });
}

async function register(body: unknown, token?: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/officials`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token ?? (await adminToken())}` },
    body: JSON.stringify(body),
  });
}

describe("official access tokens", () => {
  it("the bootstrap administrator exchanges a signed assertion for a working access token", async () => {
    const res = await exchange(await signOfficialAssertion(adminJwk(), "bootstrap-admin", BASE));
    expect(res.status).toBe(200);
    const body: { accessToken: string; role: string; officialId: string } = await res.json();
    expect(body).toMatchObject({ role: "administrator", officialId: "bootstrap-admin" });
    expect((await listOfficials(body.accessToken)).status).toBe(200);
  });

  it("refuses a replayed assertion", async () => {
    const signed = await signOfficialAssertion(adminJwk(), "bootstrap-admin", BASE);
    expect((await exchange(signed)).status).toBe(200);
    const again = await exchange(signed);
    expect(again.status).toBe(401);
    expect(await codeOf(again)).toBe("token_replayed");
  });

  it.each([
    [
      "signed by another key under the admin's kid",
      async () => {
        const { privateJwk } = await newOfficialKey(String(adminJwk().kid));
        return assertion(privateJwk, {});
      },
      "invalid_token",
    ],
    [
      "naming an unknown kid",
      async () => assertion((await newOfficialKey("no-such-kid")).privateJwk, {}),
      "invalid_token",
    ],
    ["for another audience", async () => assertion(adminJwk(), { aud: "someone-else" }), "invalid_token"],
    // The same key registered in two deployments: one made for the other is refused (review L2).
    [
      "made for another deployment",
      async () => assertion(adminJwk(), { aud: "https://staging.vote.example" }),
      "invalid_token",
    ],
    [
      "with the fixed audience of before",
      async () => assertion(adminJwk(), { aud: "mixed-election/officials" }),
      "invalid_token",
    ],
    [
      "claiming to be another official",
      async () => assertion(adminJwk(), { iss: "mallory", sub: "mallory" }),
      "invalid_token",
    ],
    [
      "expired",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return assertion(adminJwk(), { iat: now - 600, exp: now - 300 });
      },
      "token_expired",
    ],
    [
      "living too long",
      async () => {
        const now = Math.floor(Date.now() / 1000);
        return assertion(adminJwk(), { iat: now, exp: now + 3600 });
      },
      "invalid_token",
    ],
    [
      "with alg none",
      async () => {
        const header = btoa(JSON.stringify({ alg: "none", kid: adminJwk().kid }))
          .replace(/=+$/, "")
          .replace(/\+/g, "-")
          .replace(/\//g, "_");
        const now = Math.floor(Date.now() / 1000);
        const payload = btoa(
          JSON.stringify({
            iss: "bootstrap-admin",
            sub: "bootstrap-admin",
            aud: BASE,
            iat: now,
            exp: now + 60,
            jti: crypto.randomUUID(),
          }),
        )
          .replace(/=+$/, "")
          .replace(/\+/g, "-")
          .replace(/\//g, "_");
        return `${header}.${payload}.`;
      },
      "invalid_token",
    ],
  ])("refuses an assertion %s", async (_name, make, code) => {
    const res = await exchange(await make());
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe(code);
  });

  it("refuses malformed token requests with 400", async () => {
    const bad = await SELF.fetch(`${BASE}/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(await codeOf(bad)).toBe("invalid_json");
    const shape = await SELF.fetch(`${BASE}/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assertion: 42 }),
    });
    expect(shape.status).toBe(400);
    expect(await codeOf(shape)).toBe("invalid_request");
  });
});

describe("roles", () => {
  it("admin routes need a token, and the administrator role", async () => {
    const none = await SELF.fetch(`${BASE}/v1/admin/officials`);
    expect(none.status).toBe(401);
    expect(await codeOf(none)).toBe("unauthenticated");
    const garbage = await listOfficials("not.a.token");
    expect(garbage.status).toBe(401);
    expect(await codeOf(garbage)).toBe("invalid_token");
    for (const role of ["station-official", "auditor"] as const) {
      const token = await officialToken(role);
      const res = await listOfficials(token);
      expect(res.status).toBe(403);
      expect(await codeOf(res)).toBe("forbidden");
      const { publicJwk } = await newOfficialKey(`k-${crypto.randomUUID().slice(0, 8)}`);
      const create = await register(
        { id: `x-${crypto.randomUUID().slice(0, 8)}`, role: "administrator", displayName: "Escalation", publicJwk },
        token,
      );
      expect(create.status).toBe(403);
    }
  });

  it("refuses private keys, duplicate ids and duplicate kids, and changes nothing", async () => {
    const id = `official-${crypto.randomUUID().slice(0, 8)}`;
    const { privateJwk, publicJwk } = await newOfficialKey(`${id}-k1`);
    const withPrivate = await register({ id, role: "auditor", displayName: "A", publicJwk: privateJwk });
    expect(withPrivate.status).toBe(400);
    expect(await codeOf(withPrivate)).toBe("invalid_request");
    expect((await register({ id, role: "auditor", displayName: "A", publicJwk })).status).toBe(201);
    const duplicate = await register({
      id,
      role: "administrator",
      displayName: "B",
      publicJwk: (await newOfficialKey(`${id}-k2`)).publicJwk,
    });
    expect(duplicate.status).toBe(409);
    expect(await codeOf(duplicate)).toBe("official_exists");
    const sameKid = await register({ id: `${id}-b`, role: "auditor", displayName: "C", publicJwk });
    expect(sameKid.status).toBe(409);
    expect(await codeOf(sameKid)).toBe("key_exists");
    const rows = await env.DB.prepare("SELECT role FROM officials WHERE id = ?").bind(id).all<{ role: string }>();
    expect(rows.results).toEqual([{ role: "auditor" }]);
    expect(
      (await env.DB.prepare("SELECT COUNT(*) AS n FROM officials WHERE id = ?").bind(`${id}-b`).first<{ n: number }>())
        ?.n,
    ).toBe(0);
  });

  it("rotates and revokes keys, then revokes the official", async () => {
    const id = `rotating-${crypto.randomUUID().slice(0, 8)}`;
    const first = await newOfficialKey(`${id}-k1`);
    const second = await newOfficialKey(`${id}-k2`);
    const admin = await adminToken();
    expect(
      (await register({ id, role: "auditor", displayName: "Rotating", publicJwk: first.publicJwk }, admin)).status,
    ).toBe(201);
    expect(await tokenFor(first.privateJwk, id)).toBeTruthy();
    const add = await SELF.fetch(`${BASE}/v1/admin/officials/${id}/keys`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
      body: JSON.stringify({ publicJwk: second.publicJwk }),
    });
    expect(add.status).toBe(201);
    const revoke = await SELF.fetch(`${BASE}/v1/admin/officials/${id}/keys/${id}-k1`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(revoke.status).toBe(200);
    const old = await exchange(await signOfficialAssertion(first.privateJwk, id, BASE));
    expect(old.status).toBe(401);
    expect(await tokenFor(second.privateJwk, id)).toBeTruthy();
    const again = await SELF.fetch(`${BASE}/v1/admin/officials/${id}/keys/${id}-k1`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(again.status).toBe(404);
    expect(
      (
        await SELF.fetch(`${BASE}/v1/admin/officials/${id}`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${admin}` },
        })
      ).status,
    ).toBe(200);
    expect((await exchange(await signOfficialAssertion(second.privateJwk, id, BASE))).status).toBe(401);
  });
});
