import { env, SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("serves health", async () => {
  const res = await SELF.fetch("https://vote.example/healthz");
  expect(res.status).toBe(200);
});

it("reaches the dev issuer over real HTTP", async () => {
  const res = await fetch(env.EID_JWKS_URL);
  expect(res.status).toBe(200);
  const body: { keys: unknown[] } = await res.json();
  expect(body.keys.length).toBe(1);
});
