/**
 * The Worker's configuration is parsed once and fails loudly (durable-objects/config.ts): a typo
 * in a var never quietly means something else, and production refuses loopback or placeholder
 * issuers and log origins (security review L4).
 */
import { describe, expect, it } from "vitest";
import { configOf } from "../../durable-objects/config.ts";

const PRIVATE_JWK = JSON.stringify({
  kty: "OKP",
  crv: "Ed25519",
  d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
  x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
  kid: "k1",
});

const DEAD_LETTER_JWK = {
  kty: "EC",
  crv: "P-256",
  x: "XWuGdzy_c0up873ESi1pjdPFBJDONVDr1dpZQZPs75Y",
  y: "jXNCrQujSHprLI_ja2RaKOz4Yb7bypU7QosXwe1AcP0",
  kid: "dead-letter-1",
};

function production(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ENVIRONMENT: "production",
    EID_ISSUER: "https://eid.authority.ee",
    EID_JWKS_URL: "https://eid.authority.ee/.well-known/jwks.json",
    EID_AUTHORIZE_URL: "https://eid.authority.ee/authorize",
    EID_CLIENT_ID: "mixed-election",
    EID_ALGORITHMS: "ES256,EdDSA",
    EID_NATIONAL_ID_CLAIM: "sub",
    EID_ACCEPTED_ACR: "eidas-high",
    EID_MAX_TOKEN_AGE_SECONDS: "300",
    LEDGER_BUCKETS: "0",
    LOG_ORIGIN: "valimised.ee/audit-log",
    RESULTS_RELAYS: "64",
    RESULTS_RELAY_FANOUT: "8",
    RESULTS_RELAY_SOCKETS: "1000",
    ROLL_HASH_KEY: "r".repeat(32),
    SESSION_SIGNING_KEY: "s".repeat(32),
    BALLOT_LINK_KEY: "b".repeat(32),
    BOOTSTRAP_ADMIN_JWK: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: "x", kid: "admin" }),
    RECEIPT_SIGNING_JWK: PRIVATE_JWK,
    LOG_SIGNING_JWK: PRIVATE_JWK,
    DEAD_LETTER_PUBLIC_JWK: JSON.stringify(DEAD_LETTER_JWK),
    ...overrides,
  };
}

// configOf caches per env object, so every case passes a fresh one.
function parse(vars: Record<string, string>) {
  return () => configOf({ ...vars } as unknown as Env);
}

describe("the Worker's configuration", () => {
  it("parses a real production configuration", () => {
    const config = parse(production())();
    expect(config.LEDGER_BUCKETS).toBe(0);
    expect(config.EID_ALGORITHMS).toEqual(["ES256", "EdDSA"]);
    expect(config.LOG_SIGNING_JWK.kid).toBe("k1");
    expect(config.DEAD_LETTER_PUBLIC_JWK?.kid).toBe("dead-letter-1");
    expect([config.RESULTS_RELAYS, config.RESULTS_RELAY_FANOUT, config.RESULTS_RELAY_SOCKETS]).toEqual([64, 8, 1000]);
    expect(config.ADMISSION_MAX_IN_FLIGHT).toBe(128);
    expect(parse(production({ ADMISSION_MAX_IN_FLIGHT: "32" }))().ADMISSION_MAX_IN_FLIGHT).toBe(32);
  });

  it.each([
    ["a typo in LEDGER_BUCKETS", { LEDGER_BUCKETS: "16x" }, "LEDGER_BUCKETS"],
    ["no accepted level of assurance", { EID_ACCEPTED_ACR: " , " }, "EID_ACCEPTED_ACR"],
    ["a token age that is not a number", { EID_MAX_TOKEN_AGE_SECONDS: "5m" }, "EID_MAX_TOKEN_AGE_SECONDS"],
    ["a negative LEDGER_BUCKETS", { LEDGER_BUCKETS: "-1" }, "LEDGER_BUCKETS"],
    ["a LOG_ORIGIN with a space", { LOG_ORIGIN: "vote ee/log" }, "LOG_ORIGIN"],
    ["no results relays", { RESULTS_RELAYS: "0" }, "RESULTS_RELAYS"],
    ["a relay tree that is a list", { RESULTS_RELAY_FANOUT: "1" }, "RESULTS_RELAY_FANOUT"],
    ["more sockets than a relay may hold", { RESULTS_RELAY_SOCKETS: "40000" }, "RESULTS_RELAY_SOCKETS"],
    ["no admission at all", { ADMISSION_MAX_IN_FLIGHT: "0" }, "ADMISSION_MAX_IN_FLIGHT"],
    ["an admission cap that is not a number", { ADMISSION_MAX_IN_FLIGHT: "lots" }, "ADMISSION_MAX_IN_FLIGHT"],
    ["a log key that is not JSON", { LOG_SIGNING_JWK: "{" }, "LOG_SIGNING_JWK is not JSON"],
    ["a receipt key without its private part", { RECEIPT_SIGNING_JWK: PRIVATE_JWK.replace(/"d":"[^"]*",/, "") }, "d"],
    [
      "a dead-letter key with its private part",
      {
        DEAD_LETTER_PUBLIC_JWK: JSON.stringify({
          ...DEAD_LETTER_JWK,
          d: "JQW5wC4PcqGU1SwOyu7VCa8e8HFjZLbUqqqfThvPLaU",
        }),
      },
      "public key only",
    ],
    ["a dead-letter key that is not P-256", { DEAD_LETTER_PUBLIC_JWK: PRIVATE_JWK }, "DEAD_LETTER_PUBLIC_JWK"],
  ])("refuses %s", (_, overrides, message) => {
    expect(parse(production(overrides))).toThrow(message);
  });

  it.each([
    ["a loopback issuer", { EID_ISSUER: "http://127.0.0.1:8788" }, "EID_ISSUER"],
    ["an http issuer", { EID_JWKS_URL: "http://eid.authority.ee/jwks.json" }, "EID_JWKS_URL"],
    ["a localhost authorize URL", { EID_AUTHORIZE_URL: "https://localhost/authorize" }, "EID_AUTHORIZE_URL"],
    ["wrangler.toml's placeholder issuer", { EID_ISSUER: "https://eid.example.gov" }, "EID_ISSUER"],
    ["wrangler.toml's placeholder log origin", { LOG_ORIGIN: "vote.example.gov/audit-log" }, "LOG_ORIGIN"],
    ["a loopback log origin", { LOG_ORIGIN: "127.0.0.1:8787/audit-log" }, "LOG_ORIGIN"],
    [
      "no dead-letter key (wrangler.toml's empty placeholder)",
      { DEAD_LETTER_PUBLIC_JWK: "" },
      "DEAD_LETTER_PUBLIC_JWK",
    ],
  ])("in production refuses %s", (_, overrides, name) => {
    expect(parse(production(overrides))).toThrow(name);
    expect(parse(production({ ...overrides, ENVIRONMENT: "development" }))).not.toThrow();
  });
});
