/**
 * Edge basics shared by the voter routes: the client's address, rate limits through the Rate
 * Limiting binding, and the election's geofence on `request.cf.country`.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { CompiledElection } from "../../lib/election/model.ts";
import { respondError, type AppEnv } from "./http.ts";

export function clientAddress(c: Context<AppEnv>): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}

/**
 * Refuses with 429 rate_limited when `limiterOf(env)` says the key is over its limit. Route
 * middleware, so it runs before the route's validators: a client over its limit is refused
 * before its body is parsed (security review M9).
 */
export function rateLimited(
  limiterOf: (env: Env) => RateLimit,
  keyOf: (c: Context<AppEnv>) => string,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { success } = await limiterOf(c.env).limit({ key: keyOf(c) });
    if (!success) return respondError(c, "rate_limited");
    await next();
    return undefined;
  };
}

export type GeofenceOutcome =
  | { readonly kind: "inside" }
  | { readonly kind: "flagged"; readonly country: string }
  | { readonly kind: "refused"; readonly country: string };

/** Where the request comes from, as Cloudflare says; "XX" when it cannot tell. */
export function countryOf(c: Context<AppEnv>): string {
  const cf: unknown = c.req.raw.cf;
  const country = typeof cf === "object" && cf !== null && "country" in cf ? cf.country : undefined;
  return typeof country === "string" && country !== "" ? country : "XX";
}

export function geofence(election: CompiledElection, country: string): GeofenceOutcome {
  const { allowedCountries, outside } = election.settings.geofence;
  if (allowedCountries.length === 0 || allowedCountries.includes(country)) return { kind: "inside" };
  return outside === "refuse" ? { kind: "refused", country } : { kind: "flagged", country };
}
