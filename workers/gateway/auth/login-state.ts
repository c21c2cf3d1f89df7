/**
 * The browser login's state: a short signed cookie that binds the eID response to the login we
 * started (OIDC `state` against CSRF, `nonce` against ID-token replay) and remembers the election.
 */
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { Config } from "../../../durable-objects/config.ts";
import { TOKEN_ISSUER } from "./tokens.ts";
import { purposeKey } from "../../../lib/keys.ts";

export const LOGIN_COOKIE = "login_state";
export const LOGIN_STATE_SECONDS = 10 * 60;
const AUDIENCE = "login-state";

const LoginState = z.object({
  state: z.string().min(16),
  nonce: z.string().min(16),
  eid: z.string().min(1),
  lng: z.string().max(35).optional(),
});
/** `language`: the one the voter was reading in when they started, for the pages after the login. */
export type LoginState = { state: string; nonce: string; electionId: string; language?: string };

/** Its own key (lib/keys.ts), so a login-state cookie can never be presented as a token. */
function keyOf(config: Config): Promise<CryptoKey> {
  return purposeKey(config.SESSION_SIGNING_KEY, "login-state");
}

export async function newLoginState(
  config: Config,
  electionId: string,
  language?: string,
): Promise<{ cookie: string; state: LoginState }> {
  const state: LoginState = {
    state: crypto.randomUUID(),
    nonce: crypto.randomUUID(),
    electionId,
    ...(language !== undefined ? { language } : {}),
  };
  const cookie = await new SignJWT({
    state: state.state,
    nonce: state.nonce,
    eid: electionId,
    ...(language !== undefined ? { lng: language } : {}),
  })
    .setProtectedHeader({ alg: "HS256", typ: "login-state+jwt" })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${LOGIN_STATE_SECONDS}s`)
    .sign(await keyOf(config));
  return { cookie, state };
}

export async function readLoginState(config: Config, cookie: string | undefined): Promise<LoginState | undefined> {
  if (!cookie) return undefined;
  try {
    const { payload } = await jwtVerify(cookie, await keyOf(config), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: AUDIENCE,
      typ: "login-state+jwt",
    });
    const parsed = LoginState.safeParse(payload);
    return parsed.success
      ? {
          state: parsed.data.state,
          nonce: parsed.data.nonce,
          electionId: parsed.data.eid,
          ...(parsed.data.lng !== undefined ? { language: parsed.data.lng } : {}),
        }
      : undefined;
  } catch {
    return undefined;
  }
}
