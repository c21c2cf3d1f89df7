/**
 * The portal's voter session in the browser, and what guards its forms.
 *
 * - The session cookie holds the voter session token (the JWT `issueVoterSession` makes, whose
 *   subject is sealed): HttpOnly so no script reads it, SameSite=Strict so no other site's page
 *   sends it, Path=/, and over https `Secure` with the `__Host-` prefix (no subdomain can set or
 *   shadow it). Only the pages under /elections/{id}/ read it; the JSON API reads the
 *   Authorization header alone, so a cookie never authorises an API call (which would make the
 *   API forgeable from another site).
 * - Every state-changing form carries a CSRF token, an HMAC of the session's id under its own
 *   purpose key: a token from another session (or another voter) does not pass. And a POST whose
 *   `Sec-Fetch-Site` or `Origin` says it came from elsewhere is refused before anything else.
 * - The draft cookie keeps the voter's choices between the ballot, the review and a fresh login,
 *   in their own browser only: AES-GCM under the "ballot-draft" purpose key, bound to the election,
 *   the ballot style and the voter (their voter key, as associated data: not in the cookie), so on
 *   a shared computer the next person to sign in never sees it; Path=/elections/{id}, an hour at
 *   most. Never in a URL, never stored here. So that a form sent after the session expired can
 *   still say whose it was, the session cookie outlives its token by that hour: the expired token
 *   in it authorises nothing (every page checks expiry), it only names the draft's owner.
 * - The receipt cookie carries the signed receipt from the cast (a POST) to the receipt page (a
 *   GET): the JWS has the tracking code and commitment, never a choice.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { configOf } from "../../../durable-objects/config.ts";
import { ContestMarks } from "../../../lib/ballot/messages.ts";
import { base64urlDecode, base64urlEncode, utf8 } from "../../../lib/bytes.ts";
import { openBytes, purposeKey, purposeSealingKey, sealBytes } from "../../../lib/keys.ts";
import { err, ok, type Result } from "../../../lib/result.ts";
import { verifyVoterSession, type VoterSession } from "../auth/tokens.ts";
import type { AppEnv } from "../http.ts";

type Ctx = Context<AppEnv>;

/** The draft lasts an hour: long enough to log in again, short on a shared computer. */
export const DRAFT_SECONDS = 60 * 60;
/** The receipt cookie only has to outlive the redirect and a reload or two of the receipt page. */
export const RECEIPT_SECONDS = 30 * 60;

/** Over https (everywhere but plain-http localhost dev) cookies are Secure and prefixed. */
export function isHttps(c: Ctx): boolean {
  return new URL(c.req.url).protocol === "https:";
}

export function sessionCookieName(c: Ctx): string {
  return isHttps(c) ? "__Host-voter_session" : "voter_session";
}
function draftCookieName(c: Ctx): string {
  return isHttps(c) ? "__Secure-ballot_draft" : "ballot_draft";
}
function receiptCookieName(c: Ctx): string {
  return isHttps(c) ? "__Secure-ballot_receipt" : "ballot_receipt";
}

export function electionPath(electionId: string): string {
  return `/elections/${electionId}`;
}

/** Where a voter without a live session goes: the eID login for this election. */
export function loginStartUrl(electionId: string): string {
  return `/v1/auth/login?electionId=${encodeURIComponent(electionId)}`;
}

/** Sets the session cookie for a token that lives `tokenSeconds` more (plus the draft's hour). */
export function setSessionCookie(c: Ctx, token: string, tokenSeconds: number): void {
  setCookie(c, sessionCookieName(c), token, {
    httpOnly: true,
    secure: isHttps(c),
    sameSite: "Strict",
    path: "/",
    maxAge: Math.max(0, Math.floor(tokenSeconds)) + DRAFT_SECONDS,
  });
}

/** Signs the voter out of this browser: the session, the draft and the receipt go. */
export function clearVoterCookies(c: Ctx, electionId: string): void {
  const secure = isHttps(c);
  deleteCookie(c, sessionCookieName(c), { path: "/", secure });
  deleteCookie(c, draftCookieName(c), { path: electionPath(electionId), secure });
  deleteCookie(c, receiptCookieName(c), { path: electionPath(electionId), secure });
}

export type PageSessionProblem = "missing" | "expired" | "invalid" | "other_election";

/** The voter session of a page request, from the cookie only. */
export async function pageSession(c: Ctx, electionId: string): Promise<Result<VoterSession, PageSessionProblem>> {
  const token = getCookie(c, sessionCookieName(c));
  if (!token) return err("missing");
  const verified = await verifyVoterSession(configOf(c.env), token);
  if (!verified.ok) return err(verified.error === "token_expired" ? "expired" : "invalid");
  if (verified.value.electionId !== electionId) return err("other_election");
  return ok(verified.value);
}

/**
 * The session of a form sent after it expired (at most the draft's hour ago), to keep the form's
 * choices for the same voter after they log in again. Never a session to act in.
 */
export async function lapsedPageSession(c: Ctx, electionId: string): Promise<VoterSession | undefined> {
  const token = getCookie(c, sessionCookieName(c));
  if (!token) return undefined;
  const verified = await verifyVoterSession(configOf(c.env), token, DRAFT_SECONDS);
  return verified.ok && verified.value.electionId === electionId ? verified.value : undefined;
}

// ---- CSRF ----------------------------------------------------------------------------------

async function csrfKey(c: Ctx): Promise<CryptoKey> {
  return purposeKey(configOf(c.env).SESSION_SIGNING_KEY, "csrf");
}

export async function csrfTokenOf(c: Ctx, session: VoterSession): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await csrfKey(c), utf8(`csrf/v1\n${session.sessionId}`));
  return base64urlEncode(new Uint8Array(mac));
}

/** Whether `token` is this session's CSRF token (compared by HMAC verification: constant time). */
export async function csrfTokenValid(c: Ctx, session: VoterSession, token: string | undefined): Promise<boolean> {
  if (!token) return false;
  const mac = base64urlDecode(token);
  if (!mac || mac.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await csrfKey(c), mac, utf8(`csrf/v1\n${session.sessionId}`));
}

/**
 * A POST that says it came from another site or origin. Browsers send `Sec-Fetch-Site` on every
 * request and `Origin` on every POST; either, when present, must name this origin. Our pages are
 * served with `Referrer-Policy: no-referrer`, under which browsers send `Origin: null` for their
 * own forms: that says nothing, and `Sec-Fetch-Site` (and, on the cast and sign-out forms, the
 * session's CSRF token) still decides. A client that sends neither header still needs the token.
 */
export function fromElsewhere(c: Ctx): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return true;
  const origin = c.req.header("origin");
  return origin !== undefined && origin !== "null" && origin !== new URL(c.req.url).origin;
}

// ---- The draft ballot ----------------------------------------------------------------------

const Draft = z.object({ contests: z.array(ContestMarks).max(64) }).strict();
export type Draft = z.infer<typeof Draft>;

/** AES-256-GCM under the "ballot-draft" purpose: no other purpose's key. */
function draftKey(c: Ctx): Promise<CryptoKey> {
  return purposeSealingKey(configOf(c.env).SESSION_SIGNING_KEY, "ballot-draft");
}

/** Whose draft: the voter and the ballot style of the session it was made in. */
export type DraftOwner = Pick<VoterSession, "voterKey" | "ballotStyleId">;

function draftAad(electionId: string, owner: DraftOwner): Uint8Array<ArrayBuffer> {
  return utf8(`ballot-draft/v2\n${electionId}\n${owner.ballotStyleId}\n${owner.voterKey}`);
}

/** Browsers keep about 4 KB per cookie; a draft that would not fit is not kept. */
const MAX_DRAFT_COOKIE = 3800;

export async function saveDraft(c: Ctx, electionId: string, owner: DraftOwner, draft: Draft): Promise<void> {
  const value = await sealBytes(await draftKey(c), draftAad(electionId, owner), utf8(JSON.stringify(draft)));
  if (value.length > MAX_DRAFT_COOKIE) return;
  setCookie(c, draftCookieName(c), value, {
    httpOnly: true,
    secure: isHttps(c),
    sameSite: "Strict",
    path: electionPath(electionId),
    maxAge: DRAFT_SECONDS,
  });
}

/** The draft of this voter and ballot style, or undefined (none, expired, another voter or style). */
export async function readDraft(c: Ctx, electionId: string, owner: DraftOwner): Promise<Draft | undefined> {
  const value = getCookie(c, draftCookieName(c));
  if (!value || value.length > MAX_DRAFT_COOKIE) return undefined;
  const plain = await openBytes(await draftKey(c), draftAad(electionId, owner), value);
  if (!plain) return undefined;
  try {
    const parsed = Draft.safeParse(JSON.parse(new TextDecoder().decode(plain)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function clearDraft(c: Ctx, electionId: string): void {
  deleteCookie(c, draftCookieName(c), { path: electionPath(electionId), secure: isHttps(c) });
}

// ---- The receipt between the cast and its page ---------------------------------------------

export function setReceiptCookie(c: Ctx, electionId: string, receiptJws: string): void {
  setCookie(c, receiptCookieName(c), receiptJws, {
    httpOnly: true,
    secure: isHttps(c),
    sameSite: "Strict",
    path: electionPath(electionId),
    maxAge: RECEIPT_SECONDS,
  });
}

export function receiptCookie(c: Ctx): string | undefined {
  const value = getCookie(c, receiptCookieName(c));
  return value && value.length <= 4096 ? value : undefined;
}

// ---- The cast's idempotency key ------------------------------------------------------------

/**
 * The key a cast form is sent under: HMAC of the session id and the canonical choices. The same
 * session sending the same choices again (a double click, a reload, the back button) gets the
 * same key, so the ledger answers with the first cast's receipt; other choices are another cast.
 */
export async function castIdempotencyKey(c: Ctx, session: VoterSession, canonicalChoices: string): Promise<string> {
  const key = await purposeKey(configOf(c.env).SESSION_SIGNING_KEY, "cast-idempotency");
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${session.sessionId}\n${canonicalChoices}`));
  return base64urlEncode(new Uint8Array(mac));
}
