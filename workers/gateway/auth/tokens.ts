/**
 * The tokens this Worker issues and alone verifies: voter session tokens and officials' access
 * tokens. Both are HS256 JWTs, each kind under its own key derived from SESSION_SIGNING_KEY
 * (lib/keys.ts purposeKey "voter-session" / "official-token"), and told apart by audience and
 * `typ` too: a voter session can never pass as an official's token or the reverse, even if one
 * kind's derived key leaked.
 *
 * A voter session's `sub` is not the voter key: it is the voter key encrypted (AES-256-GCM, fresh
 * IV per session) under a key derived for that purpose, so the token a voter's browser holds (in
 * its session cookie) reads as a random string that differs at every login, not a stable
 * pseudonym across elections (security review L7). Only this Worker can open it.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { err, ok, type Result } from "../../../lib/result.ts";
import type { Config } from "../../../durable-objects/config.ts";
import { OfficialRole } from "../../../lib/vocabulary.ts";
import { openBytes, purposeKey, purposeSealingKey, sealBytes } from "../../../lib/keys.ts";
import { utf8 } from "../../../lib/bytes.ts";

export const TOKEN_ISSUER = "mixed-election";
const VOTER_AUDIENCE = "voter-session";
const OFFICIAL_AUDIENCE = "officials";

/** Short: a session is for one sitting at the ballot, and logging in again is cheap. */
export const VOTER_SESSION_SECONDS = 15 * 60;
export const OFFICIAL_ACCESS_SECONDS = 10 * 60;

export interface VoterSession {
  readonly voterKey: string;
  readonly electionId: string;
  readonly ballotStyleId: string;
  readonly districtId: string;
  readonly sessionId: string;
  readonly expiresAt: number;
}

export interface OfficialPrincipal {
  readonly officialId: string;
  /** The key the official proved possession of: revoking it ends this token too. */
  readonly kid: string;
  readonly role: OfficialRole;
  readonly expiresAt: number;
}

export type TokenError = "invalid_token" | "token_expired";

const VoterClaims = z.object({
  sub: z.string().min(1),
  eid: z.string().min(1),
  bs: z.string().min(1),
  dst: z.string().min(1),
  jti: z.string().min(1),
  exp: z.number(),
});

const OfficialClaims = z.object({
  sub: z.string().min(1),
  kid: z.string().min(1),
  role: OfficialRole,
  exp: z.number(),
});

function voterKeyOf(config: Config): Promise<CryptoKey> {
  return purposeKey(config.SESSION_SIGNING_KEY, "voter-session");
}

function officialKeyOf(config: Config): Promise<CryptoKey> {
  return purposeKey(config.SESSION_SIGNING_KEY, "official-token");
}

/**
 * The AES-256-GCM key that seals a session's subject: from the voter-session purpose key (context
 * "subject"), so it is neither the signing key nor any other purpose's key.
 */
function subjectKeyOf(config: Config): Promise<CryptoKey> {
  return purposeSealingKey(config.SESSION_SIGNING_KEY, "voter-session", "subject");
}

const SUBJECT_AAD = utf8("voter-session/sub/v1");

async function sealSubject(config: Config, voterKey: string): Promise<string> {
  return sealBytes(await subjectKeyOf(config), SUBJECT_AAD, utf8(voterKey));
}

async function openSubject(config: Config, sub: string): Promise<string | undefined> {
  const plain = await openBytes(await subjectKeyOf(config), SUBJECT_AAD, sub);
  if (!plain) return undefined;
  try {
    const voterKey = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plain);
    return voterKey === "" ? undefined : voterKey;
  } catch {
    return undefined;
  }
}

export async function issueVoterSession(
  config: Config,
  session: Omit<VoterSession, "sessionId" | "expiresAt">,
): Promise<{ token: string; session: VoterSession }> {
  const now = Math.floor(Date.now() / 1000);
  const sessionId = crypto.randomUUID();
  const expiresAt = now + VOTER_SESSION_SECONDS;
  const token = await new SignJWT({ eid: session.electionId, bs: session.ballotStyleId, dst: session.districtId })
    .setProtectedHeader({ alg: "HS256", typ: "voter-session+jwt" })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(VOTER_AUDIENCE)
    .setSubject(await sealSubject(config, session.voterKey))
    .setJti(sessionId)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(await voterKeyOf(config));
  return { token, session: { ...session, sessionId, expiresAt } };
}

/**
 * A live voter session, or why not. `lapsedForAtMostSeconds` accepts a token that expired at most
 * that long ago: only to tell whose unfinished ballot a form was (the portal's draft, which is
 * bound to its voter), never to authorise anything.
 */
export async function verifyVoterSession(
  config: Config,
  token: string,
  lapsedForAtMostSeconds = 0,
): Promise<Result<VoterSession, TokenError>> {
  try {
    const { payload } = await jwtVerify(token, await voterKeyOf(config), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: VOTER_AUDIENCE,
      typ: "voter-session+jwt",
      clockTolerance: lapsedForAtMostSeconds,
    });
    const claims = VoterClaims.safeParse(payload);
    if (!claims.success) return err("invalid_token");
    const c = claims.data;
    const voterKey = await openSubject(config, c.sub);
    if (voterKey === undefined) return err("invalid_token");
    return ok({
      voterKey,
      electionId: c.eid,
      ballotStyleId: c.bs,
      districtId: c.dst,
      sessionId: c.jti,
      expiresAt: c.exp,
    });
  } catch (e) {
    return err(e instanceof errors.JWTExpired ? "token_expired" : "invalid_token");
  }
}

export async function issueOfficialAccess(
  config: Config,
  officialId: string,
  kid: string,
  role: OfficialRole,
): Promise<{ token: string; expiresAt: number }> {
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = now + OFFICIAL_ACCESS_SECONDS;
  const token = await new SignJWT({ role, kid })
    .setProtectedHeader({ alg: "HS256", typ: "official-access+jwt" })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(OFFICIAL_AUDIENCE)
    .setSubject(officialId)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(await officialKeyOf(config));
  return { token, expiresAt };
}

export async function verifyOfficialAccess(
  config: Config,
  token: string,
): Promise<Result<OfficialPrincipal, TokenError>> {
  try {
    const { payload } = await jwtVerify(token, await officialKeyOf(config), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: OFFICIAL_AUDIENCE,
      typ: "official-access+jwt",
    });
    const claims = OfficialClaims.safeParse(payload);
    if (!claims.success) return err("invalid_token");
    return ok({
      officialId: claims.data.sub,
      kid: claims.data.kid,
      role: claims.data.role,
      expiresAt: claims.data.exp,
    });
  } catch (e) {
    return err(e instanceof errors.JWTExpired ? "token_expired" : "invalid_token");
  }
}
