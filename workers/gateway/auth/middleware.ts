/**
 * Route guards: every official route names the roles that may call it; every voter route needs a
 * live session token for the election in its path.
 */
import type { MiddlewareHandler } from "hono";
import { configOf } from "../../../durable-objects/config.ts";
import { credentialActive } from "../../../db/stores/officials.ts";
import { respondError, type AppEnv } from "../http.ts";
import { verifyOfficialAccess, verifyVoterSession } from "./tokens.ts";
import type { OfficialRole } from "../../../lib/vocabulary.ts";

function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header ?? "");
  return match?.[1];
}

export function requireOfficial(...roles: readonly OfficialRole[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerOf(c.req.header("authorization"));
    if (!token) return respondError(c, "unauthenticated", "An official's access token is required.");
    const config = configOf(c.env);
    const verified = await verifyOfficialAccess(config, token);
    if (!verified.ok) return respondError(c, verified.error);
    // Revocation takes effect at once: every privileged call checks the official and the key.
    const { officialId, kid } = verified.value;
    if (!(await credentialActive(c.env.DB, officialId, kid, config.BOOTSTRAP_ADMIN_JWK.kid))) {
      return respondError(c, "credential_revoked");
    }
    if (!roles.includes(verified.value.role)) {
      return respondError(c, "forbidden", `This needs the role ${roles.join(" or ")}.`);
    }
    c.set("official", verified.value);
    await next();
    return undefined;
  };
}

/** Needs a voter session token for the election named by the route's `electionId`. */
export function requireVoter(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerOf(c.req.header("authorization"));
    if (!token) return respondError(c, "unauthenticated", "A voter session token is required.");
    const verified = await verifyVoterSession(configOf(c.env), token);
    if (!verified.ok) return respondError(c, verified.error);
    if (verified.value.electionId !== c.req.param("electionId")) {
      return respondError(c, "forbidden", "This session is for another election.");
    }
    c.set("voter", verified.value);
    await next();
    return undefined;
  };
}
