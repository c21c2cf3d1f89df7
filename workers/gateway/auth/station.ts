/**
 * The guard on every station route: the request must carry a Station-Signature (format in
 * lib/station/signed-request.ts) that verifies, in this order, each failure a 401 with its code
 * (429 for the limits):
 *
 *   1. the header is there                                   station_signature_missing
 *   2. the client address is within its budget of station calls   rate_limited
 *   3. its protected header is EdDSA, typ station-request+jws, with a kid   station_signature_invalid
 *   4. its claims (read before the signature is checked) parse   station_signature_invalid
 *   5. station, origin, method, path and body hash are this request's   station_request_mismatch
 *   6. iat within ±STATION_REQUEST_SKEW_SECONDS of our clock   station_request_expired
 *   7. the station in the path is registered                  station_unknown
 *      and not revoked                                        station_revoked
 *      the kid is a key of that station                       station_key_unknown
 *      and not revoked                                        station_key_revoked
 *   8. the signature verifies over those very claims          station_signature_invalid
 *   9. the station is within its own budget                   rate_limited
 *  10. the nonce was never used by this station                station_request_replayed
 *
 * Steps 1-6 need nothing stored (security review M9): a request that is malformed, stale, for
 * another origin or path, or from an address over its budget, is refused before any database
 * read. The key lookup (7) must come before the signature check (8), because the key is what the
 * signature is checked with; it is one D1 read. Claims read in 4-6 are only trusted once 8 has
 * verified the same bytes.
 *
 * Nothing is written before step 10, and step 10 (the ReplayGuard claim) is the only write, so a
 * refused request changes nothing; an accepted nonce stays claimed until well after its request
 * could pass step 6 anyway.
 *
 * A refusal at 3, 7, 8 or 10 (a bad, unknown, revoked or replayed signature) is also a
 * `station-signature-invalid` security event (workers/monitor/security-events.ts) with the claimed
 * station, the client's network and the code as reason; the election is the one the request's
 * body names, when that election exists. The refusal answers the same with or without it.
 */
import type { Context, MiddlewareHandler } from "hono";
import { compactVerify, decodeProtectedHeader, importJWK } from "jose";
import { z } from "zod";
import { stationCredential } from "../../../db/stores/stations.ts";
import {
  bodyHash,
  STATION_REQUEST_SKEW_SECONDS,
  STATION_REQUEST_TYP,
  STATION_SIGNATURE_HEADER,
  StationRequestClaims,
} from "../../../lib/station/signed-request.ts";
import { respondError, type AppEnv } from "../http.ts";
import { claimOnce } from "./replay.ts";
import { clientAddress, recordRateLimited } from "../edge.ts";
import { base64urlDecode } from "../../../lib/bytes.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import { recordSecurityEvent } from "../../monitor/security-events.ts";

export interface StationPrincipal {
  readonly stationId: string;
  readonly kid: string;
  /** The districts this station serves. */
  readonly districtIds: readonly string[];
}

export type StationAppEnv = {
  Bindings: Env;
  Variables: AppEnv["Variables"] & { station: StationPrincipal };
};

/** A registered station key: Ed25519 public parts only (the admin route stored nothing else). */
export const StationPublicJwk = z
  .object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string().min(40).max(50) })
  .loose();

const importedKeys = new Map<string, Promise<CryptoKey | Uint8Array>>();
function importedKey(publicJwk: string): Promise<CryptoKey | Uint8Array> | undefined {
  let key = importedKeys.get(publicJwk);
  if (!key) {
    const parsed = StationPublicJwk.safeParse(JSON.parse(publicJwk));
    if (!parsed.success) return undefined;
    key = importJWK({ kty: parsed.data.kty, crv: parsed.data.crv, x: parsed.data.x }, "EdDSA");
    // Bounded: keys are few (one or two per station), but a registry of thousands must not grow
    // the isolate without limit.
    if (importedKeys.size > 10_000) importedKeys.clear();
    importedKeys.set(publicJwk, key);
  }
  return key;
}

const decoder = new TextDecoder();

/** The claims of a compact JWS, read without checking its signature; undefined if malformed. */
function unverifiedClaims(signature: string): StationRequestClaims | undefined {
  const parts = signature.split(".");
  if (parts.length !== 3) return undefined;
  const payload = base64urlDecode(parts[1] ?? "");
  if (!payload) return undefined;
  try {
    const parsed = StationRequestClaims.safeParse(JSON.parse(decoder.decode(payload)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The election a station request's body names, if it parses and that election exists. */
async function claimedElection(c: Context<StationAppEnv>): Promise<string | null> {
  try {
    const body: unknown = JSON.parse(decoder.decode(await c.req.arrayBuffer()));
    const named = z.object({ electionId: ElectionId }).safeParse(body);
    if (!named.success) return null;
    return (await getElection(c.env.DB, named.data.electionId)) ? named.data.electionId : null;
  } catch {
    return null;
  }
}

/** Refuses a request whose signature is bad, unknown, revoked or replayed, recording it first. */
async function refuseSignature(c: Context<StationAppEnv>, code: ErrorCode): Promise<Response> {
  await recordSecurityEvent(c.env, await claimedElection(c), "station-signature-invalid", {
    stationId: c.req.param("stationId") || undefined,
    address: clientAddress(c),
    reason: code,
  });
  return respondError(c, code);
}

export function requireStation(): MiddlewareHandler<StationAppEnv> {
  return async (c, next) => {
    const signature = c.req.header(STATION_SIGNATURE_HEADER);
    if (!signature) return respondError(c, "station_signature_missing");

    // Per client address, before anything is read: who is asking is not known yet.
    const byAddress = await c.env.STATION_IP_LIMITER.limit({ key: `station:${clientAddress(c)}` });
    if (!byAddress.success) {
      await recordRateLimited(c, "station-address", { electionId: await claimedElection(c) });
      return respondError(c, "rate_limited");
    }

    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(signature);
      if (header.alg !== "EdDSA" || header.typ !== STATION_REQUEST_TYP)
        return refuseSignature(c, "station_signature_invalid");
      kid = header.kid;
    } catch {
      return refuseSignature(c, "station_signature_invalid");
    }
    if (typeof kid !== "string" || kid === "") return refuseSignature(c, "station_signature_invalid");

    const claims = unverifiedClaims(signature);
    if (!claims) return refuseSignature(c, "station_signature_invalid");
    const stationId = c.req.param("stationId") ?? "";
    const url = new URL(c.req.url);
    if (claims.sid !== stationId)
      return respondError(c, "station_request_mismatch", "The signature names another station.");
    if (claims.o !== url.origin)
      return respondError(c, "station_request_mismatch", "The signature is for another deployment.");
    if (claims.m !== c.req.method.toUpperCase())
      return respondError(c, "station_request_mismatch", "The signature is for another method.");
    if (claims.p !== `${url.pathname}${url.search}`)
      return respondError(c, "station_request_mismatch", "The signature is for another path.");

    const nowSeconds = Math.floor(Date.now() / 1000);
    if (Math.abs(nowSeconds - claims.iat) > STATION_REQUEST_SKEW_SECONDS)
      return respondError(c, "station_request_expired");

    // Hono keeps the bytes read here for the route's own body validation; the app bounded them.
    const body = new Uint8Array(await c.req.arrayBuffer());
    if ((await bodyHash(body)) !== claims.bh)
      return respondError(c, "station_request_mismatch", "The body is not the one that was signed.");

    const credential = await stationCredential(c.env.DB, stationId, kid);
    if (!credential.ok) return refuseSignature(c, credential.error);

    try {
      const publicKey = importedKey(credential.value.publicJwk);
      if (!publicKey) return refuseSignature(c, "station_key_unknown");
      const { payload } = await compactVerify(signature, await publicKey, { algorithms: ["EdDSA"] });
      // The verified payload is the segment read above; parse it again rather than assume so.
      const verified = StationRequestClaims.safeParse(JSON.parse(decoder.decode(payload)));
      if (!verified.success || JSON.stringify(verified.data) !== JSON.stringify(claims))
        return refuseSignature(c, "station_signature_invalid");
    } catch {
      return refuseSignature(c, "station_signature_invalid");
    }

    // Per station, once the signature proved who is asking: a station's own budget, which nobody
    // else can spend. 1,200 a minute lets an offline station sync a day's ballots in minutes.
    const { success } = await c.env.STATION_LIMITER.limit({ key: stationId });
    if (!success) {
      await recordRateLimited(c, "station", { electionId: await claimedElection(c) });
      return respondError(c, "rate_limited");
    }

    // Held until the request could no longer pass the clock check, plus a minute.
    const holdUntilMs = (claims.iat + STATION_REQUEST_SKEW_SECONDS + 60) * 1000;
    if (!(await claimOnce(c.env, "station-request", `${stationId}:${claims.n}`, holdUntilMs))) {
      return refuseSignature(c, "station_request_replayed");
    }

    c.set("station", { stationId, kid, districtIds: credential.value.districtIds });
    await next();
    return undefined;
  };
}
