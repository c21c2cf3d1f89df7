/**
 * The tokens this Worker issues and alone verifies: voter session tokens and officials' access
 * tokens. Both are HS256 JWTs under SESSION_SIGNING_KEY, told apart by audience and `typ`, so a
 * voter session can never pass as an official's token or the reverse.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { err, ok, type Result } from "../../../lib/result.ts";
import type { Config } from "../../../durable-objects/config.ts";
import { OfficialRole } from "../../../lib/vocabulary.ts";

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

const keyCache = new Map<string, Uint8Array>();
function keyOf(config: Config): Uint8Array {
  let key = keyCache.get(config.SESSION_SIGNING_KEY);
  if (!key) {
    key = new TextEncoder().encode(config.SESSION_SIGNING_KEY);
    keyCache.set(config.SESSION_SIGNING_KEY, key);
  }
  return key;
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
    .setSubject(session.voterKey)
    .setJti(sessionId)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(keyOf(config));
  return { token, session: { ...session, sessionId, expiresAt } };
}

export async function verifyVoterSession(config: Config, token: string): Promise<Result<VoterSession, TokenError>> {
  try {
    const { payload } = await jwtVerify(token, keyOf(config), {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: VOTER_AUDIENCE,
      typ: "voter-session+jwt",
    });
    const claims = VoterClaims.safeParse(payload);
    if (!claims.success) return err("invalid_token");
    const c = claims.data;
    return ok({
      voterKey: c.sub,
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
    .sign(keyOf(config));
  return { token, expiresAt };
}

export async function verifyOfficialAccess(
  config: Config,
  token: string,
): Promise<Result<OfficialPrincipal, TokenError>> {
  try {
    const { payload } = await jwtVerify(token, keyOf(config), {
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
