/**
 * Authentication routes: officials exchange a signed assertion for an access token; voters log in
 * with a national-eID ID token, either directly (apps, scripts) or through the browser redirect
 * flow, and receive a voting session token (the browser flow's ends in an HttpOnly cookie, never
 * in a page: pages/session.ts).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { getCookie, deleteCookie, setCookie } from "hono/cookie";
import type { Context, MiddlewareHandler } from "hono";
import { decodeJwt } from "jose";
import { configOf } from "../../../durable-objects/config.ts";
import { clientAddress, rateLimited, recordRateLimited } from "../edge.ts";
import { errorResponses, fail, respondError, validationHook, type AppEnv } from "../http.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { verifyOfficialAssertion } from "../auth/officials.ts";
import { LOGIN_COOKIE, LOGIN_STATE_SECONDS, newLoginState, readLoginState } from "../auth/login-state.ts";
import { OFFICIAL_ACCESS_SECONDS, issueOfficialAccess } from "../auth/tokens.ts";
import { OfficialRole } from "../../../lib/vocabulary.ts";
import { loginVoter } from "../auth/voter-login.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { LanguageTag } from "../pages/messages.ts";
import { htmlRefusals, signedIn } from "../pages/vote-routes.tsx";

const JWT = z
  .string()
  .min(16)
  .max(8192)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/, "a compact JWS");

/** Per client address, checked before a body is validated; officials and voters count apart. */
const officialLoginLimit = rateLimited(
  (env) => env.LOGIN_IP_LIMITER,
  (c) => `official:${clientAddress(c)}`,
  "official-login",
);

/**
 * The election a voter login is for, read before validation from where each login route carries
 * it (query, JSON body, the login-state cookie's claims, unverified: only a rate-limit key), or
 * "-" when it cannot be read.
 */
async function electionHint(c: Context<AppEnv>): Promise<string> {
  let candidate: unknown;
  if (c.req.path === "/v1/auth/login") candidate = c.req.query("electionId");
  else if (c.req.path === "/v1/auth/callback") {
    const cookie = getCookie(c, LOGIN_COOKIE) ?? "";
    try {
      candidate = (decodeJwt(cookie) as { eid?: unknown }).eid;
    } catch {
      candidate = undefined;
    }
  } else {
    try {
      // The app has bounded the body (body.ts); Hono keeps the parse for the route's validator.
      candidate = ((await c.req.json()) as { electionId?: unknown } | null)?.electionId;
    } catch {
      candidate = undefined;
    }
  }
  const parsed = ElectionId.safeParse(candidate);
  return parsed.success ? parsed.data : "-";
}

/** The election a login names, when it exists: the rate-limited event's election. */
async function knownElection(c: Context<AppEnv>): Promise<string | null> {
  const hint = await electionHint(c);
  return hint !== "-" && (await getElection(c.env.DB, hint)) ? hint : null;
}

/**
 * Voter logins, before validation (security review M9): per client address and election, with a
 * ceiling a carrier-grade NAT's voters will not reach (one attacker's junk for one election does
 * not lock that address out of another), under a still higher ceiling per address across all
 * elections (so made-up election ids buy no extra attempts). Per voter, once the ID token
 * verified: auth/voter-login.ts.
 */
const voterLoginLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const address = clientAddress(c);
  const overall = await c.env.VOTER_LOGIN_IP_LIMITER.limit({ key: `voter:${address}` });
  if (!overall.success) {
    await recordRateLimited(c, "voter-login-address", { electionId: await knownElection(c) });
    return respondError(c, "rate_limited");
  }
  const election = await electionHint(c);
  const perElection = await c.env.VOTER_LOGIN_LIMITER.limit({ key: `voter:${address}:${election}` });
  if (!perElection.success) {
    await recordRateLimited(c, "voter-login-election", { electionId: await knownElection(c) });
    return respondError(c, "rate_limited");
  }
  await next();
  return undefined;
};

const tokenRoute = createRoute({
  method: "post",
  path: "/v1/auth/token",
  middleware: [officialLoginLimit] as const,
  tags: ["auth"],
  summary: "Exchange an official's signed assertion for an access token",
  request: {
    body: { required: true, content: { "application/json": { schema: z.object({ assertion: JWT }).strict() } } },
  },
  responses: {
    200: {
      description: "An access token carrying the official's role",
      content: {
        "application/json": {
          schema: z.object({
            accessToken: z.string(),
            tokenType: z.literal("Bearer"),
            expiresIn: z.number(),
            officialId: z.string(),
            role: OfficialRole,
          }),
        },
      },
    },
    ...errorResponses(400, 401, 429),
  },
});

const VoterSessionResponse = z
  .object({
    sessionToken: z.string(),
    expiresAt: z.number().openapi({ description: "Seconds since the epoch" }),
    electionId: z.string(),
    ballotStyleId: z.string(),
    districtId: z.string(),
  })
  .openapi("VoterSession");

const voterSessionRoute = createRoute({
  method: "post",
  path: "/v1/auth/voter-session",
  middleware: [voterLoginLimit] as const,
  tags: ["auth"],
  summary: "Log a voter in with a national-eID ID token",
  request: {
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ electionId: ElectionId, idToken: JWT }).strict() } },
    },
  },
  responses: {
    200: {
      description: "A voting session for the voter's ballot style",
      content: { "application/json": { schema: VoterSessionResponse } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 429, 503),
  },
});

const loginRoute = createRoute({
  method: "get",
  path: "/v1/auth/login",
  middleware: [voterLoginLimit] as const,
  tags: ["auth"],
  summary: "Start a browser login at the national-eID issuer",
  request: {
    query: z.object({
      electionId: ElectionId,
      lang: LanguageTag.optional().openapi({
        description: "The language the voter reads the portal in; the pages after the login keep it.",
      }),
    }),
  },
  responses: { 302: { description: "Redirect to the issuer's login page" }, ...errorResponses(400, 404, 429) },
});

const callbackRoute = createRoute({
  method: "post",
  path: "/v1/auth/callback",
  middleware: [voterLoginLimit] as const,
  tags: ["auth"],
  summary: "The issuer's form_post answer to a browser login",
  request: {
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: z.object({ id_token: JWT, state: z.string().min(1).max(128) }) },
      },
    },
  },
  responses: {
    200: {
      description:
        "A page that sets the voter session cookie and moves on to the ballot page; refusals are pages too (the code in data-error-code)",
    },
    ...errorResponses(400, 401, 403, 404, 409, 429, 503),
  },
});

export function authRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // The callback is a browser's page, not an API call: its refusals (rate limit, a bad form, a
  // failed login) are pages with the same status, the code in data-error-code.
  app.use("/v1/auth/callback", htmlRefusals);

  app.openapi(tokenRoute, async (c) => {
    const config = configOf(c.env);
    const verified = await verifyOfficialAssertion(c.env, config, c.req.valid("json").assertion, c.req.url);
    if (!verified.ok) fail(verified.error);
    const { token } = await issueOfficialAccess(
      config,
      verified.value.officialId,
      verified.value.kid,
      verified.value.role,
    );
    return c.json(
      {
        accessToken: token,
        tokenType: "Bearer" as const,
        expiresIn: OFFICIAL_ACCESS_SECONDS,
        officialId: verified.value.officialId,
        role: verified.value.role,
      },
      200,
    );
  });

  app.openapi(voterSessionRoute, async (c) => {
    const { electionId, idToken } = c.req.valid("json");
    const login = await loginVoter(c, electionId, idToken);
    if (!login.ok) fail(login.error);
    const { token, session } = login.value;
    return c.json(
      {
        sessionToken: token,
        expiresAt: session.expiresAt,
        electionId: session.electionId,
        ballotStyleId: session.ballotStyleId,
        districtId: session.districtId,
      },
      200,
    );
  });

  app.openapi(loginRoute, async (c) => {
    const { electionId, lang } = c.req.valid("query");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const config = configOf(c.env);
    const { cookie, state } = await newLoginState(config, electionId, lang);
    const secure = new URL(c.req.url).protocol === "https:";
    // The issuer answers with a cross-site form POST: in production the cookie must be
    // SameSite=None (and so Secure); over plain http on one host, Lax is what browsers allow.
    setCookie(c, LOGIN_COOKIE, cookie, {
      httpOnly: true,
      secure,
      sameSite: secure ? "None" : "Lax",
      path: "/v1/auth",
      maxAge: LOGIN_STATE_SECONDS,
    });
    const authorize = new URL(config.EID_AUTHORIZE_URL);
    authorize.searchParams.set("client_id", config.EID_CLIENT_ID);
    authorize.searchParams.set("response_type", "id_token");
    authorize.searchParams.set("response_mode", "form_post");
    authorize.searchParams.set("scope", "openid");
    authorize.searchParams.set("redirect_uri", new URL("/v1/auth/callback", c.req.url).toString());
    authorize.searchParams.set("state", state.state);
    authorize.searchParams.set("nonce", state.nonce);
    return c.redirect(authorize.toString(), 302);
  });

  app.openapi(callbackRoute, async (c) => {
    const form = c.req.valid("form");
    const started = await readLoginState(configOf(c.env), getCookie(c, LOGIN_COOKIE));
    if (!started || started.state !== form.state) fail("login_state_mismatch");
    deleteCookie(c, LOGIN_COOKIE, { path: "/v1/auth" });
    const login = await loginVoter(c, started.electionId, form.id_token, started.nonce);
    if (!login.ok) fail(login.error);
    return signedIn(c, started.electionId, login.value.token, login.value.session.expiresAt, started.language);
  });

  return app;
}
