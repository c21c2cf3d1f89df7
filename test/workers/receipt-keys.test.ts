/**
 * Receipt key rotation (security review L11): /v1/receipt-keys publishes the current key and the
 * retired ones (RECEIPT_RETIRED_KEYS), so a receipt signed before a rotation still verifies.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JSONWebKeySet, type JWK } from "jose";
import { BASE } from "./helpers/auth.ts";

describe("the receipt keys", () => {
  it("publish the current key first and every retired one after it, public parts only", async () => {
    const jwks: JSONWebKeySet = await (await SELF.fetch(`${BASE}/v1/receipt-keys`)).json();
    const current = JSON.parse(env.RECEIPT_SIGNING_JWK) as JWK;
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, "receipt-test-retired-1"]);
    expect(jwks.keys.every((k) => k.d === undefined && k.alg === "EdDSA")).toBe(true);
  });

  it("verify a receipt signed with a key retired since", async () => {
    const retired = JSON.parse(env.TEST_RETIRED_RECEIPT_PRIVATE_JWK) as JWK;
    const old = await new SignJWT({ trackingCode: "7K3M-Q9TX-2D4F-H8JA", commitment: "c", channel: "online" })
      .setProtectedHeader({ alg: "EdDSA", kid: String(retired.kid), typ: "ballot-receipt+jwt" })
      .setIssuer("mixed-election")
      .setSubject("7K3M-Q9TX-2D4F-H8JA")
      .sign(await importJWK(retired, "EdDSA"));
    const jwks: JSONWebKeySet = await (await SELF.fetch(`${BASE}/v1/receipt-keys`)).json();
    const { payload } = await jwtVerify(old, createLocalJWKSet(jwks), { algorithms: ["EdDSA"] });
    expect(payload.sub).toBe("7K3M-Q9TX-2D4F-H8JA");
  });
});
