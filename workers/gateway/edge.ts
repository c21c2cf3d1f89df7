/**
 * Edge basics shared by the voter routes: the client's address, rate limits through the Rate
 * Limiting binding, the edge cache for public reads, and the election's geofence on
 * `request.cf.country`.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { CompiledElection } from "../../lib/election/model.ts";
import { respondError, type AppEnv } from "./http.ts";
import { configOf } from "../../durable-objects/config.ts";
import { getElection } from "../../db/stores/elections.ts";
import { ElectionId } from "../../lib/election/settings.ts";
import type { CastingClient } from "../voting/cast.ts";
import { recordSecurityEvent } from "../monitor/security-events.ts";
import { monitorVoterTag } from "../monitor/signal.ts";

export function clientAddress(c: Context): string {
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
  name = "limit",
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { success } = await limiterOf(c.env).limit({ key: keyOf(c) });
    if (!success) {
      await recordRateLimited(c, name);
      return respondError(c, "rate_limited");
    }
    await next();
    return undefined;
  };
}

/** When each (limiter, address) was last recorded as rate-limited by this isolate, in ms. */
const rateLimitedSeen = new Map<string, number>();
/** Bounded: a flood from many addresses forgets the oldest instead of growing the isolate. */
const RATE_LIMITED_SEEN_MAX = 10_000;
const RATE_LIMITED_EVERY_MS = 60_000;

/** The election a request's path names (`/elections/{id}`), when it is one that exists. */
async function electionOfPath(c: Context, db: D1Database): Promise<string | null> {
  const named = /\/elections\/([^/]+)/.exec(new URL(c.req.url).pathname)?.[1];
  const id = ElectionId.safeParse(named === undefined ? undefined : decodeURIComponent(named));
  if (!id.success) return null;
  return (await getElection(db, id.data)) ? id.data : null;
}

/**
 * Records a `rate-limited` security event for `limiter` and the client's address, at most once a
 * minute per (limiter, address) in this isolate: a client over its limit keeps asking, and one
 * row a minute says as much as thousands. The election is the path's, or the caller's when the
 * election came from elsewhere (a login's body); without one, the row has a null election and the
 * monitor hears nothing. Never fails the refusal it accompanies (recordSecurityEvent).
 */
export async function recordRateLimited(
  c: Context,
  limiter: string,
  facts: { electionId?: string | null; voterTag?: string | undefined; districtId?: string | undefined } = {},
): Promise<void> {
  const env = c.env as Env;
  const address = clientAddress(c);
  const key = `${limiter}|${address}`;
  const now = Date.now();
  const last = rateLimitedSeen.get(key);
  if (last !== undefined && now - last < RATE_LIMITED_EVERY_MS) return;
  if (rateLimitedSeen.size >= RATE_LIMITED_SEEN_MAX) {
    const oldest = rateLimitedSeen.keys().next().value;
    if (oldest !== undefined) rateLimitedSeen.delete(oldest);
  }
  rateLimitedSeen.delete(key);
  rateLimitedSeen.set(key, now);
  let electionId: string | null;
  try {
    electionId = facts.electionId !== undefined ? facts.electionId : await electionOfPath(c, env.DB);
  } catch {
    electionId = null;
  }
  await recordSecurityEvent(env, electionId, "rate-limited", {
    address,
    reason: limiter,
    voterTag: facts.voterTag,
    districtId: facts.districtId,
  });
}

/** Addresses a local run's own clients (tests over HTTP, the benchmark's probes) come from. */
const LOCAL_ADDRESSES = new Set(["127.0.0.1", "::1", "unknown"]);

/**
 * Public reads per client address (results, receipts, proofs, QR images): one budget for all.
 * A development deployment does not count its own machine's clients: a local run is one client
 * polling many receipts (the benchmark's proof-latency probe), and behind Cloudflare every request
 * carries a real client address, so nothing else is ever exempt.
 */
export const publicReadLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const address = clientAddress(c);
  if (!(configOf(c.env).ENVIRONMENT === "development" && LOCAL_ADDRESSES.has(address))) {
    const { success } = await c.env.PUBLIC_READ_LIMITER.limit({ key: `public-read:${address}` });
    if (!success) {
      await recordRateLimited(c, "public-read");
      return respondError(c, "rate_limited");
    }
  }
  await next();
  return undefined;
};

/**
 * Answers a GET from the edge cache (the Workers Cache API) when it holds this path, and stores
 * a 200 answer whose Cache-Control says `public` (for as long as its max-age says). The query
 * string is not part of the key, so it cannot be used to get past the cache to D1, R2 or a
 * Durable Object; routes behind this take no query parameters.
 */
export async function edgeCached(c: Context<AppEnv>, next: Next): Promise<Response | undefined> {
  const url = new URL(c.req.url);
  const key = new Request(`${url.origin}${url.pathname}`);
  const cache = caches.default;
  const hit = await cache.match(key);
  if (hit) {
    // A copy: a cached response's headers are immutable, and the app's middleware adds its own.
    // Set on the context too, for callers that wrap this middleware rather than compose it.
    c.res = new Response(hit.body, hit);
    return c.res;
  }
  await next();
  if (c.res.status === 200 && /^public\b/.test(c.res.headers.get("cache-control") ?? "")) {
    await cache.put(key, c.res.clone());
  }
  return undefined;
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

/**
 * Where a voter's cast comes from (workers/voting/cast.ts), or undefined when the election's
 * geofence refuses its country: then a `geofence-refused` security event is recorded and the
 * caller answers geofence_refused as it always has.
 */
export async function castingClient(
  c: Context<AppEnv>,
  election: CompiledElection,
  voter: { readonly voterKey: string; readonly districtId: string },
): Promise<CastingClient | undefined> {
  const country = countryOf(c);
  const address = clientAddress(c);
  const fence = geofence(election, country);
  if (fence.kind === "refused") {
    await recordSecurityEvent(c.env, election.id, "geofence-refused", {
      districtId: voter.districtId,
      country,
      address,
      voterTag: await monitorVoterTag(c.env, election.id, voter.voterKey),
      reason: "cast",
    });
    return undefined;
  }
  return { address, country, geofenceFlagged: fence.kind === "flagged" };
}
