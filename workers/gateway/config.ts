/**
 * The Worker's configuration, parsed once per isolate from its bindings. A missing or malformed
 * secret is an operator error: it fails loudly at the first request rather than half-working.
 */
import { z } from "zod";

const Jwk = z.looseObject({ kty: z.string(), kid: z.string().min(1) });

const ConfigSchema = z.object({
  ENVIRONMENT: z.enum(["development", "production"]),
  EID_ISSUER: z.url(),
  EID_JWKS_URL: z.url(),
  EID_AUTHORIZE_URL: z.url(),
  EID_CLIENT_ID: z.string().min(1),
  EID_ALGORITHMS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((a) => a.trim())
        .filter((a) => a !== ""),
    )
    .pipe(z.array(z.enum(["ES256", "ES384", "RS256", "PS256", "EdDSA"])).min(1)),
  EID_NATIONAL_ID_CLAIM: z.string().min(1),
  ROLL_HASH_KEY: z.string().min(32, "ROLL_HASH_KEY must be at least 32 characters"),
  SESSION_SIGNING_KEY: z.string().min(32, "SESSION_SIGNING_KEY must be at least 32 characters"),
  BOOTSTRAP_ADMIN_JWK: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "BOOTSTRAP_ADMIN_JWK is not JSON" });
        return z.NEVER;
      }
    })
    .pipe(Jwk),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

export function configOf(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    const parsed = ConfigSchema.safeParse(env);
    if (!parsed.success) {
      throw new Error(`Worker misconfigured: ${z.prettifyError(parsed.error)}`);
    }
    config = parsed.data;
    cache.set(env, config);
  }
  return config;
}
