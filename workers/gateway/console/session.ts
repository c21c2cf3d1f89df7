/**
 * The officials' console's session in the browser.
 *
 * - The cookie holds the official's access token, the same JWT POST /v1/auth/token answers to the
 *   CLI: HttpOnly, SameSite=Strict, Path=/, and over https `Secure` with the `__Host-` prefix; it
 *   lives as long as the token. Only the console's routes read it, and they hand it on to the API
 *   as `Authorization: Bearer`, so the API's role checks decide everything (the JSON API itself
 *   never reads a cookie, which would make it forgeable from another site).
 * - Every form carries a CSRF token: an HMAC of the access token's id (jti) under the
 *   `console-csrf` purpose key, so a token from another session does not pass. A POST that says it
 *   came from another site is refused before anything else (the portal's `fromElsewhere`).
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { decodeJwt } from "jose";
import { configOf } from "../../../durable-objects/config.ts";
import { base64urlDecode, base64urlEncode, utf8 } from "../../../lib/bytes.ts";
import { purposeKey } from "../../../lib/keys.ts";
import { verifyOfficialAccess, type OfficialPrincipal } from "../auth/tokens.ts";
import type { AppEnv } from "../http.ts";
import { isHttps } from "../pages/session.ts";

type Ctx = Context<AppEnv>;

export function consoleCookieName(c: Ctx): string {
  return isHttps(c) ? "__Host-console_session" : "console_session";
}

/** The console's session: the verified principal and the token it was read from. */
export interface ConsoleSession {
  readonly principal: OfficialPrincipal;
  readonly token: string;
  readonly tokenId: string;
}

/** Keeps `token` (an access token from the exchange) until it expires at `expiresAt` (epoch s). */
export function setConsoleCookie(c: Ctx, token: string, expiresAt: number): void {
  setCookie(c, consoleCookieName(c), token, {
    httpOnly: true,
    secure: isHttps(c),
    sameSite: "Strict",
    path: "/",
    maxAge: Math.max(0, expiresAt - Math.floor(Date.now() / 1000)),
  });
}

export function clearConsoleCookie(c: Ctx): void {
  deleteCookie(c, consoleCookieName(c), { path: "/", secure: isHttps(c) });
}

/** The session of a console request, from its cookie: undefined when none, expired or invalid. */
export async function consoleSession(c: Ctx): Promise<ConsoleSession | undefined> {
  const token = getCookie(c, consoleCookieName(c));
  if (!token || token.length > 4096) return undefined;
  const verified = await verifyOfficialAccess(configOf(c.env), token);
  if (!verified.ok) return undefined;
  const tokenId = tokenIdOf(token);
  return tokenId === "" ? undefined : { principal: verified.value, token, tokenId };
}

/** A verified access token's id (jti), which its CSRF token is bound to; "" if it has none. */
export function tokenIdOf(token: string): string {
  const { jti } = decodeJwt(token);
  return typeof jti === "string" ? jti : "";
}

function csrfKey(c: Ctx): Promise<CryptoKey> {
  return purposeKey(configOf(c.env).SESSION_SIGNING_KEY, "console-csrf");
}

export async function consoleCsrfToken(c: Ctx, session: ConsoleSession): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await csrfKey(c), utf8(`console-csrf/v1\n${session.tokenId}`));
  return base64urlEncode(new Uint8Array(mac));
}

/** Whether `token` is this session's CSRF token (HMAC verification: constant time). */
export async function consoleCsrfValid(c: Ctx, session: ConsoleSession, token: string | undefined): Promise<boolean> {
  if (!token) return false;
  const mac = base64urlDecode(token);
  if (!mac || mac.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await csrfKey(c), mac, utf8(`console-csrf/v1\n${session.tokenId}`));
}
