/**
 * The Worker's configuration: every var and secret, parsed once per isolate from the bindings,
 * by the Worker and by the Durable Objects alike. A missing or malformed value is an operator
 * error: it fails loudly at the first use rather than half-working (a typo in LEDGER_BUCKETS must
 * not quietly mean "one object per voter"). Key imports from these values are lazy and cached by
 * their users (durable-objects/log-key.ts, workers/voting/receipts.ts).
 */
import { z } from "zod";
import { LogOriginPrefix } from "../lib/audit/layout.ts";
import { DeadLetterPublicJwk } from "../lib/ballot/dead-letter-seal.ts";

const PublicJwk = z.looseObject({ kty: z.string(), kid: z.string().min(1) });

/** A private Ed25519 key as a JWK: 32-byte `d` and `x`, base64url without padding (43 characters). */
const Ed25519PrivateJwk = z.looseObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  d: z.string().length(43),
  x: z.string().length(43),
  kid: z.string().min(1),
});
export type Ed25519PrivateJwk = z.infer<typeof Ed25519PrivateJwk>;

/** A secret that holds JSON: parsed here, so its schema sees an object and its errors name it. */
function jsonSecret<T extends z.ZodType>(name: string, schema: T) {
  return z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${name} is not JSON` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/**
 * Hosts that cannot be a real deployment's: loopback and the names reserved for examples and
 * tests (RFC 2606, RFC 6761), which wrangler.toml's placeholders use.
 */
function placeholderOrLocalHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return (
    h === "localhost" ||
    h.endsWith(".localhost") ||
    /^127\./.test(h) ||
    h === "::1" ||
    h === "0.0.0.0" ||
    /(^|\.)(example|test|invalid)$/.test(h) ||
    /(^|\.)example\.(com|net|org|gov)$/.test(h)
  );
}

/** A comma-separated var ("ES256, EdDSA") as its non-empty items, each checked by `item`. */
function commaList<T extends z.ZodType<string, string>>(item: T, message: string) {
  return z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((a) => a.trim())
        .filter((a) => a !== ""),
    )
    .pipe(z.array(item).min(1, message));
}

const ConfigSchema = z.object({
  ENVIRONMENT: z.enum(["development", "production"]),
  EID_ISSUER: z.url(),
  EID_JWKS_URL: z.url(),
  EID_AUTHORIZE_URL: z.url(),
  EID_CLIENT_ID: z.string().min(1),
  EID_ALGORITHMS: commaList(
    z.enum(["ES256", "ES384", "RS256", "PS256", "EdDSA"]),
    "EID_ALGORITHMS must name at least one algorithm",
  ),
  EID_NATIONAL_ID_CLAIM: z.string().min(1),
  /** The levels of assurance (`acr`) that may log in to vote. */
  EID_ACCEPTED_ACR: commaList(z.string().min(1), "EID_ACCEPTED_ACR must name at least one level of assurance"),
  EID_MAX_TOKEN_AGE_SECONDS: z
    .string()
    .regex(/^[1-9][0-9]{0,4}$/, "EID_MAX_TOKEN_AGE_SECONDS must be a number of seconds")
    .transform(Number),
  /** Voter ledger mapping (durable-objects/addresses.ts): 0 = one object per voter, N = N buckets. */
  LEDGER_BUCKETS: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,5})$/, "LEDGER_BUCKETS must be 0 (one ledger per voter) or a number of buckets")
    .transform(Number),
  LOG_ORIGIN: LogOriginPrefix,
  /**
   * Live results fan-out (durable-objects/results-relay.ts): relays per channel of an election,
   * how many children each relay forwards to (the relays form a tree under relay 0, the only one
   * the aggregator calls), and how many display sockets one relay holds before it refuses more.
   */
  RESULTS_RELAYS: z
    .string()
    .regex(/^[1-9][0-9]{0,4}$/, "RESULTS_RELAYS must be a number of relays (1 to 99,999)")
    .transform(Number),
  RESULTS_RELAY_FANOUT: z
    .string()
    .regex(/^([2-9]|[1-9][0-9]{1,2})$/, "RESULTS_RELAY_FANOUT must be 2 to 999")
    .transform(Number),
  RESULTS_RELAY_SOCKETS: z
    .string()
    .regex(/^[1-9][0-9]{0,4}$/, "RESULTS_RELAY_SOCKETS must be a number of sockets (1 to 32,767)")
    .transform(Number)
    .pipe(z.number().max(32_767)),
  ROLL_HASH_KEY: z.string().min(32, "ROLL_HASH_KEY must be at least 32 characters"),
  SESSION_SIGNING_KEY: z.string().min(32, "SESSION_SIGNING_KEY must be at least 32 characters"),
  /**
   * The secret behind the keyed ids and digests that keep ballots apart from voters inside the
   * system (record ids, request digests): never the key of anything that can be presented, so a
   * leaked token key opens none of them (lib/keys.ts derives one key per purpose).
   */
  BALLOT_LINK_KEY: z.string().min(32, "BALLOT_LINK_KEY must be at least 32 characters"),
  BOOTSTRAP_ADMIN_JWK: jsonSecret("BOOTSTRAP_ADMIN_JWK", PublicJwk),
  RECEIPT_SIGNING_JWK: jsonSecret("RECEIPT_SIGNING_JWK", Ed25519PrivateJwk),
  LOG_SIGNING_JWK: jsonSecret("LOG_SIGNING_JWK", Ed25519PrivateJwk),
  /**
   * The offline public key (P-256 JWK) that dead letters are encrypted to
   * (lib/ballot/dead-letter-seal.ts). Required in production; empty or absent elsewhere means
   * dead letters keep no body at all, only what an operator triages by.
   */
  DEAD_LETTER_PUBLIC_JWK: z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === "" ? undefined : s))
    .pipe(jsonSecret("DEAD_LETTER_PUBLIC_JWK", DeadLetterPublicJwk).optional()),
  /**
   * "enabled" lets an administrator inject the faults of the attack drills (a stalled log, a dead
   * letter, a paused results aggregator: workers/gateway/routes/drills.ts, `npm run drill`) so an
   * operator sees the monitor's alerts arrive. Local and staging runs only: production refuses it.
   */
  DRILLS: z.enum(["enabled", "disabled"]).default("disabled"),
  /**
   * Admission control (workers/gateway/admission.ts): how many requests one isolate keeps in
   * flight on the peak write paths (casts by API and by form, check-ins, scans, voter logins)
   * before it answers the next one 503 service_overloaded at once. The default and why it is that
   * number: wrangler.toml.
   */
  ADMISSION_MAX_IN_FLIGHT: z
    .string()
    .regex(/^[1-9][0-9]{0,4}$/, "ADMISSION_MAX_IN_FLIGHT must be a number of requests (1 to 99,999)")
    .default("128")
    .transform(Number),
});

/**
 * In production the national eID must be a real https issuer and the log a real origin: a
 * loopback or placeholder value would let the development issuer (which mints a token for any
 * id) or an example name into an election (security review L4).
 */
const ProductionConfig = ConfigSchema.superRefine((config, ctx) => {
  if (config.ENVIRONMENT !== "production") return;
  for (const name of ["EID_ISSUER", "EID_JWKS_URL", "EID_AUTHORIZE_URL"] as const) {
    const url = new URL(config[name]);
    if (url.protocol !== "https:" || placeholderOrLocalHost(url.hostname)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `${name} must be an https URL of the real eID issuer in production, not ${url.origin}`,
      });
    }
  }
  if (!config.DEAD_LETTER_PUBLIC_JWK) {
    ctx.addIssue({
      code: "custom",
      path: ["DEAD_LETTER_PUBLIC_JWK"],
      message: "DEAD_LETTER_PUBLIC_JWK must hold the offline public key dead letters are encrypted to in production",
    });
  }
  if (config.DRILLS === "enabled") {
    ctx.addIssue({
      code: "custom",
      path: ["DRILLS"],
      message: "DRILLS injects faults into the log and the results for attack drills: never in production",
    });
  }
  const logHost = config.LOG_ORIGIN.split("/")[0] ?? "";
  if (placeholderOrLocalHost(logHost.replace(/:\d+$/, ""))) {
    ctx.addIssue({
      code: "custom",
      path: ["LOG_ORIGIN"],
      message: `LOG_ORIGIN must name the authority's own host in production, not ${logHost}`,
    });
  }
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

export function configOf(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    const parsed = ProductionConfig.safeParse(env);
    if (!parsed.success) {
      throw new Error(`Worker misconfigured: ${z.prettifyError(parsed.error)}`);
    }
    config = parsed.data;
    cache.set(env, config);
  }
  return config;
}
