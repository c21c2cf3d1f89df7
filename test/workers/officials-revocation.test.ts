/**
 * An official's power ends when they are revoked (security review M1, L1): tokens already issued
 * stop at once, creating an administrator takes two administrators and so does revoking another
 * administrator or another administrator's key, administrators add keys to themselves only, the
 * configured first administrator can be revoked once another exists and its every use is
 * recorded, and keys without `alg` work.
 */
import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { adminToken, BASE, newOfficialKey, tokenFor } from "./helpers/auth.ts";

async function call(token: string, method: string, path: string, json?: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

interface Official {
  readonly id: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

async function newOfficial(prefix: string): Promise<Official> {
  const id = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  return { id, ...(await newOfficialKey(`${id}-k1`)) };
}

function proposal(official: Official, role: string) {
  return { id: official.id, role, displayName: `Test ${official.id}`, publicJwk: official.publicJwk };
}

async function activeAdministrators(token: string): Promise<string[]> {
  const body: { officials: { id: string; role: string; revokedAt: string | null }[] } = await (
    await call(token, "GET", "/v1/admin/officials")
  ).json();
  return body.officials.filter((o) => o.role === "administrator" && o.revokedAt === null).map((o) => o.id);
}

// This file revokes the configured first administrator; the other test files need it.
afterAll(async () => {
  await env.DB.prepare("DELETE FROM officials WHERE id = 'bootstrap-admin'").run();
});

describe("official keys without alg", () => {
  it("log in: the algorithm follows from the key type (Ed25519: EdDSA, P-256: ES256)", async () => {
    for (const algorithm of ["EdDSA", "ES256"] as const) {
      const id = `no-alg-${algorithm.toLowerCase()}-${crypto.randomUUID().slice(0, 6)}`;
      const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid: `${id}-k1` };
      expect(publicJwk).not.toHaveProperty("alg");
      const registered = await call(await adminToken(), "POST", "/v1/admin/officials", {
        id,
        role: "auditor",
        displayName: id,
        publicJwk,
      });
      expect(registered.status).toBe(201);
      const privateJwk = { ...(await exportJWK(privateKey)), kid: publicJwk.kid, alg: algorithm };
      const token = await tokenFor(privateJwk, id);
      expect(token.split(".")).toHaveLength(3);
    }
  });
});

interface PendingList {
  officials: { id: string; revokedAt: string | null }[];
  pendingRevocations: { officialId: string; kid: string | null; requestedBy: string; requestedAt: string }[];
}

async function pending(token: string): Promise<PendingList["pendingRevocations"]> {
  const res = await call(token, "GET", "/v1/admin/officials");
  expect(res.status).toBe(200);
  const body: PendingList = await res.json();
  return body.pendingRevocations;
}

/** Whether a token is still accepted on an administrator's route. */
async function works(token: string): Promise<boolean> {
  const res = await call(token, "GET", "/v1/admin/officials");
  if (res.status === 200) return true;
  expect(res.status).toBe(401);
  expect(await codeOf(res)).toBe("credential_revoked");
  return false;
}

async function revokedAt(id: string): Promise<string | null | undefined> {
  const row = await env.DB.prepare("SELECT revoked_at FROM officials WHERE id = ?")
    .bind(id)
    .first<{ revoked_at: string | null }>();
  return row?.revoked_at;
}

/**
 * With the first administrator alone: A (made alone) and B (proposed by the first administrator,
 * approved by A), with their tokens. Each test leaves the first administrator alone again.
 */
async function twoMoreAdministrators(bootstrap: string) {
  const a = await newOfficial("admin-a");
  expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(a, "administrator"))).status).toBe(201);
  const aToken = await tokenFor(a.privateJwk, a.id);
  const b = await newOfficial("admin-b");
  expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(b, "administrator"))).status).toBe(202);
  expect((await call(aToken, "POST", `/v1/admin/officials/${b.id}/approval`)).status).toBe(201);
  return { a, aToken, b, bToken: await tokenFor(b.privateJwk, b.id) };
}

describe("revoking an administrator takes two", () => {
  it("one administrator alone only asks; repeating changes nothing; a second's same call revokes at once", async () => {
    const bootstrap = await adminToken();
    const { a, aToken, b, bToken } = await twoMoreAdministrators(bootstrap);

    const first = await call(aToken, "DELETE", `/v1/admin/officials/${b.id}`);
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ id: b.id, status: "awaiting-approval", requestedBy: a.id });
    expect(await works(bToken)).toBe(true);
    expect(await pending(bootstrap)).toEqual([
      { officialId: b.id, kid: null, requestedBy: a.id, requestedAt: expect.any(String) },
    ]);

    const again = await call(aToken, "DELETE", `/v1/admin/officials/${b.id}`);
    expect(again.status).toBe(202);
    expect(await works(bToken)).toBe(true);
    expect(await revokedAt(b.id)).toBeNull();

    const second = await call(bootstrap, "DELETE", `/v1/admin/officials/${b.id}`);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ id: b.id });
    expect(await works(bToken)).toBe(false);
    await expect(tokenFor(b.privateJwk, b.id)).rejects.toThrow(/401/);
    expect(await pending(bootstrap)).toEqual([]);

    // Revoking oneself takes one, at once.
    expect((await call(aToken, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    expect(await works(aToken)).toBe(false);
    expect(await activeAdministrators(bootstrap)).toEqual([]);
  });

  it("another administrator's key takes two; one's own key and a non-administrator take one", async () => {
    const bootstrap = await adminToken();
    const { a, aToken, b, bToken } = await twoMoreAdministrators(bootstrap);
    const a2 = await newOfficialKey(`${a.id}-k2`);
    expect((await call(aToken, "POST", `/v1/admin/officials/${a.id}/keys`, { publicJwk: a2.publicJwk })).status).toBe(
      201,
    );
    const a2Token = await tokenFor(a2.privateJwk, a.id);
    const kid = String(a.publicJwk.kid);

    const first = await call(bToken, "DELETE", `/v1/admin/officials/${a.id}/keys/${kid}`);
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ id: a.id, kid, status: "awaiting-approval", requestedBy: b.id });
    expect((await call(bToken, "DELETE", `/v1/admin/officials/${a.id}/keys/${kid}`)).status).toBe(202);
    expect(await works(aToken)).toBe(true);
    expect(await pending(bootstrap)).toEqual([
      { officialId: a.id, kid, requestedBy: b.id, requestedAt: expect.any(String) },
    ]);

    expect((await call(bootstrap, "DELETE", `/v1/admin/officials/${a.id}/keys/${kid}`)).status).toBe(200);
    expect(await works(aToken)).toBe(false);
    expect(await works(a2Token)).toBe(true);
    expect(await pending(bootstrap)).toEqual([]);

    // One's own key: at once.
    const b2 = await newOfficialKey(`${b.id}-k2`);
    expect((await call(bToken, "POST", `/v1/admin/officials/${b.id}/keys`, { publicJwk: b2.publicJwk })).status).toBe(
      201,
    );
    expect((await call(bToken, "DELETE", `/v1/admin/officials/${b.id}/keys/${String(b.publicJwk.kid)}`)).status).toBe(
      200,
    );
    expect(await works(bToken)).toBe(false);
    const b2Token = await tokenFor(b2.privateJwk, b.id);

    // A non-administrator's key, and the non-administrator: at once.
    const auditor = await newOfficial("auditor");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(auditor, "auditor"))).status).toBe(201);
    const auditorToken = await tokenFor(auditor.privateJwk, auditor.id);
    const auditorKid = String(auditor.publicJwk.kid);
    expect((await call(a2Token, "DELETE", `/v1/admin/officials/${auditor.id}/keys/${auditorKid}`)).status).toBe(200);
    expect((await call(a2Token, "DELETE", `/v1/admin/officials/${auditor.id}`)).status).toBe(200);
    expect(await revokedAt(auditor.id)).not.toBeNull();
    expect((await call(auditorToken, "GET", "/v1/admin/elections/no-such-election/results")).status).toBe(401);

    expect((await call(a2Token, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    expect((await call(b2Token, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(200);
    expect(await activeAdministrators(bootstrap)).toEqual([]);
  });

  it("an administrator's keys are added by that administrator only", async () => {
    const bootstrap = await adminToken();
    const { a, aToken, b, bToken } = await twoMoreAdministrators(bootstrap);
    // A adding its own key to B's account could then log in as B and approve its own requests.
    const planted = await newOfficialKey(`${b.id}-planted`);
    for (const token of [aToken, bootstrap]) {
      const res = await call(token, "POST", `/v1/admin/officials/${b.id}/keys`, { publicJwk: planted.publicJwk });
      expect(res.status).toBe(403);
      expect(await codeOf(res)).toBe("forbidden");
    }
    await expect(tokenFor(planted.privateJwk, b.id)).rejects.toThrow(/401/);
    expect(
      (await call(bToken, "POST", `/v1/admin/officials/${b.id}/keys`, { publicJwk: planted.publicJwk })).status,
    ).toBe(201);
    expect(await works(await tokenFor(planted.privateJwk, b.id))).toBe(true);

    expect((await call(aToken, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    expect((await call(bToken, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(200);
    expect(await activeAdministrators(bootstrap)).toEqual([]);
  });

  it("a revoked administrator's proposal of an administrator can no longer be approved", async () => {
    const bootstrap = await adminToken();
    const { a, aToken, b, bToken } = await twoMoreAdministrators(bootstrap);
    const accomplice = await newOfficial("accomplice");
    expect((await call(aToken, "POST", "/v1/admin/officials", proposal(accomplice, "administrator"))).status).toBe(202);
    expect((await call(aToken, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    const approval = await call(bToken, "POST", `/v1/admin/officials/${accomplice.id}/approval`);
    expect(approval.status).toBe(404);
    expect(await codeOf(approval)).toBe("proposal_not_found");
    await expect(tokenFor(accomplice.privateJwk, accomplice.id)).rejects.toThrow(/401/);

    expect((await call(bToken, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(200);
    expect(await activeAdministrators(bootstrap)).toEqual([]);
  });

  it("a request whose requester has since been revoked no longer counts", async () => {
    const bootstrap = await adminToken();
    const { a, aToken, b, bToken } = await twoMoreAdministrators(bootstrap);
    expect((await call(aToken, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(202);
    expect((await call(aToken, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    expect(await pending(bootstrap)).toEqual([]);
    const late = await call(bootstrap, "DELETE", `/v1/admin/officials/${b.id}`);
    expect(late.status).toBe(202);
    expect(await late.json()).toMatchObject({ requestedBy: "bootstrap-admin" });
    expect(await works(bToken)).toBe(true);
    expect((await call(bToken, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(200);
    expect(await activeAdministrators(bootstrap)).toEqual([]);
  });

  it("two administrators revoking each other both wait, and two leaving at once cannot leave none", async () => {
    const bootstrap = await adminToken();
    const a = await newOfficial("admin-a");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(a, "administrator"))).status).toBe(201);
    const aToken = await tokenFor(a.privateJwk, a.id);
    const [ab, ba] = await Promise.all([
      call(aToken, "DELETE", "/v1/admin/officials/bootstrap-admin"),
      call(bootstrap, "DELETE", `/v1/admin/officials/${a.id}`),
    ]);
    expect([ab.status, ba.status]).toEqual([202, 202]);
    expect(await works(aToken)).toBe(true);
    expect(await works(bootstrap)).toBe(true);

    const left = await Promise.all([
      call(aToken, "DELETE", `/v1/admin/officials/${a.id}`),
      call(bootstrap, "DELETE", "/v1/admin/officials/bootstrap-admin"),
    ]);
    expect(left.map((r) => r.status).sort()).toEqual([200, 409]);
    const refused = left.find((r) => r.status === 409);
    expect(refused && (await codeOf(refused))).toBe("last_administrator");

    // Back to the first administrator alone, for the tests below.
    if ((await revokedAt("bootstrap-admin")) != null) {
      await env.DB.prepare("DELETE FROM officials WHERE id = 'bootstrap-admin'").run();
      await env.DB.prepare("UPDATE officials SET revoked_at = ? WHERE id = ?")
        .bind(new Date().toISOString(), a.id)
        .run();
    }
    await env.DB.prepare("DELETE FROM official_revocation_requests").run();
    expect(await activeAdministrators(await adminToken())).toEqual([]);
  });
});

describe("officials' power ends when revoked", () => {
  it("a revoked administrator's token stops at once, and one administrator alone cannot make another", async () => {
    const bootstrap = await adminToken();
    // Setting up, the first administrator makes a second alone (nobody else could approve).
    // (The auditors registered above are not administrators.)
    expect(await activeAdministrators(bootstrap)).toEqual([]);
    const a = await newOfficial("admin-a");
    const created = await call(bootstrap, "POST", "/v1/admin/officials", proposal(a, "administrator"));
    expect(created.status).toBe(201);
    const aToken = await tokenFor(a.privateJwk, a.id);

    // From now on an administrator is only proposed, and the proposer cannot approve it.
    const accomplice = await newOfficial("accomplice");
    const proposed = await call(aToken, "POST", "/v1/admin/officials", proposal(accomplice, "administrator"));
    expect(proposed.status).toBe(202);
    expect(await proposed.json()).toMatchObject({ id: accomplice.id, status: "awaiting-approval" });
    await expect(tokenFor(accomplice.privateJwk, accomplice.id)).rejects.toThrow(/401/);
    const selfApproval = await call(aToken, "POST", `/v1/admin/officials/${accomplice.id}/approval`);
    expect(selfApproval.status).toBe(403);
    expect(await codeOf(selfApproval)).toBe("second_administrator_required");
    const again = await call(aToken, "POST", "/v1/admin/officials", proposal(accomplice, "administrator"));
    expect(again.status).toBe(409);

    // The first administrator and H (proposed by the first, approved by A) revoke A: it takes two.
    // A's token, still within its 10 minutes, stops at once.
    const h = await newOfficial("admin-h");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(h, "administrator"))).status).toBe(202);
    expect((await call(aToken, "POST", `/v1/admin/officials/${h.id}/approval`)).status).toBe(201);
    const hToken = await tokenFor(h.privateJwk, h.id);
    expect((await call(bootstrap, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(202);
    expect((await call(hToken, "DELETE", `/v1/admin/officials/${a.id}`)).status).toBe(200);
    const late = await newOfficial("late");
    for (const attempt of [
      call(aToken, "POST", "/v1/admin/officials", proposal(late, "auditor")),
      call(aToken, "GET", "/v1/admin/officials"),
      call(aToken, "POST", `/v1/admin/officials/${accomplice.id}/approval`),
    ]) {
      const res = await attempt;
      expect(res.status).toBe(401);
      expect(await codeOf(res)).toBe("credential_revoked");
    }
    const rows = await env.DB.prepare("SELECT id FROM officials WHERE id IN (?, ?)").bind(late.id, accomplice.id).all();
    expect(rows.results).toEqual([]);
    // H leaves alone (revoking oneself takes one): the first administrator is alone again.
    expect((await call(hToken, "DELETE", `/v1/admin/officials/${h.id}`)).status).toBe(200);
  });

  it("a revoked key's token stops at once, while the official's other key keeps working", async () => {
    const bootstrap = await adminToken();
    const auditor = await newOfficial("auditor");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(auditor, "auditor"))).status).toBe(201);
    const second = await newOfficialKey(`${auditor.id}-k2`);
    expect(
      (await call(bootstrap, "POST", `/v1/admin/officials/${auditor.id}/keys`, { publicJwk: second.publicJwk })).status,
    ).toBe(201);
    const firstToken = await tokenFor(auditor.privateJwk, auditor.id);
    const secondToken = await tokenFor(second.privateJwk, auditor.id);
    const results = "/v1/admin/elections/no-such-election/results";
    expect((await call(firstToken, "GET", results)).status).toBe(404);

    const kid = String(auditor.publicJwk.kid);
    expect((await call(bootstrap, "DELETE", `/v1/admin/officials/${auditor.id}/keys/${kid}`)).status).toBe(200);
    const revoked = await call(firstToken, "GET", results);
    expect(revoked.status).toBe(401);
    expect(await codeOf(revoked)).toBe("credential_revoked");
    expect((await call(secondToken, "GET", results)).status).toBe(404);
  });

  it("a second administrator approves a proposed one, and the approver need not be the first", async () => {
    const bootstrap = await adminToken();
    const b = await newOfficial("admin-b");
    // A was revoked above: the first administrator is alone again, and makes B alone.
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(b, "administrator"))).status).toBe(201);
    const c = await newOfficial("admin-c");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(c, "administrator"))).status).toBe(202);
    const bToken = await tokenFor(b.privateJwk, b.id);
    const approved = await call(bToken, "POST", `/v1/admin/officials/${c.id}/approval`);
    expect(approved.status).toBe(201);
    expect(await approved.json()).toEqual({ id: c.id, role: "administrator", kid: c.publicJwk.kid });
    const cToken = await tokenFor(c.privateJwk, c.id);
    expect((await call(cToken, "GET", "/v1/admin/officials")).status).toBe(200);
    const twice = await call(bToken, "POST", `/v1/admin/officials/${c.id}/approval`);
    expect(twice.status).toBe(404);
    expect(await codeOf(twice)).toBe("proposal_not_found");
    // B and C leave, each alone: the first administrator is alone again.
    expect((await call(bToken, "DELETE", `/v1/admin/officials/${b.id}`)).status).toBe(200);
    expect((await call(cToken, "DELETE", `/v1/admin/officials/${c.id}`)).status).toBe(200);
  });

  it("the first administrator can be revoked once another exists, never the last, and its use is recorded", async () => {
    const bootstrap = await adminToken();
    const uses = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'bootstrap-admin-used'",
    ).first<{ n: number }>();
    expect(uses?.n).toBeGreaterThan(0);

    expect(await activeAdministrators(bootstrap)).toEqual([]);
    const last = await call(bootstrap, "DELETE", "/v1/admin/officials/bootstrap-admin");
    expect(last.status).toBe(409);
    expect(await codeOf(last)).toBe("last_administrator");

    const d = await newOfficial("admin-d");
    expect((await call(bootstrap, "POST", "/v1/admin/officials", proposal(d, "administrator"))).status).toBe(201);
    const dToken = await tokenFor(d.privateJwk, d.id);
    const dLast = await call(dToken, "DELETE", `/v1/admin/officials/${d.id}`);
    expect(dLast.status).toBe(200); // the first administrator is still there
    expect(
      (await call(bootstrap, "POST", "/v1/admin/officials", proposal(await newOfficial("admin-e"), "administrator")))
        .status,
    ).toBe(201);
    const e = await activeAdministrators(bootstrap);
    const eId = e.find((id) => id.startsWith("admin-e-"));
    expect(eId).toBeDefined();

    expect((await call(bootstrap, "DELETE", "/v1/admin/officials/bootstrap-admin")).status).toBe(200);
    const after = await call(bootstrap, "GET", "/v1/admin/officials");
    expect(after.status).toBe(401);
    expect(await codeOf(after)).toBe("credential_revoked");
    await expect(adminToken()).rejects.toThrow(/401/);
  });
});
