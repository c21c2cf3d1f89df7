/**
 * The guard on every station route: the request must carry a Station-Signature (format in
 * lib/station/signed-request.ts) that verifies, in this order, each failure a 401 with its code:
 *
 *   1. the header is there                                   station_signature_missing
 *   2. its protected header is EdDSA, typ station-request+jws, with a kid   station_signature_invalid
 *   3. the station in the path is registered                  station_unknown
 *      and not revoked                                        station_revoked
 *   4. the kid is a key of that station                       station_key_unknown
 *      and not revoked                                        station_key_revoked
 *   5. the signature verifies and the claims parse            station_signature_invalid
 *   6. station, method, path and body hash are this request's  station_request_mismatch
 *   7. iat within ±STATION_REQUEST_SKEW_SECONDS of our clock   station_request_expired
 *   8. the nonce was never used by this station                station_request_replayed
 *
 * Nothing is written before step 8, and step 8 (the ReplayGuard claim) is the only write, so a
 * refused request changes nothing; an accepted nonce stays claimed until well after its request
 * could pass step 7 anyway.
 */
import type { MiddlewareHandler } from "hono";
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

export function requireStation(): MiddlewareHandler<StationAppEnv> {
  return async (c, next) => {
    const signature = c.req.header(STATION_SIGNATURE_HEADER);
    if (!signature) return respondError(c, "station_signature_missing");

    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(signature);
      if (header.alg !== "EdDSA" || header.typ !== STATION_REQUEST_TYP)
        return respondError(c, "station_signature_invalid");
      kid = header.kid;
    } catch {
      return respondError(c, "station_signature_invalid");
    }
    if (typeof kid !== "string" || kid === "") return respondError(c, "station_signature_invalid");

    const stationId = c.req.param("stationId") ?? "";
    const credential = await stationCredential(c.env.DB, stationId, kid);
    if (!credential.ok) return respondError(c, credential.error);

    let claims: StationRequestClaims;
    try {
      const publicKey = importedKey(credential.value.publicJwk);
      if (!publicKey) return respondError(c, "station_key_unknown");
      const { payload } = await compactVerify(signature, await publicKey, { algorithms: ["EdDSA"] });
      const parsed = StationRequestClaims.safeParse(JSON.parse(decoder.decode(payload)));
      if (!parsed.success) return respondError(c, "station_signature_invalid");
      claims = parsed.data;
    } catch {
      return respondError(c, "station_signature_invalid");
    }

    const url = new URL(c.req.url);
    if (claims.sid !== stationId)
      return respondError(c, "station_request_mismatch", "The signature names another station.");
    if (claims.m !== c.req.method.toUpperCase())
      return respondError(c, "station_request_mismatch", "The signature is for another method.");
    if (claims.p !== `${url.pathname}${url.search}`)
      return respondError(c, "station_request_mismatch", "The signature is for another path.");

    const nowSeconds = Math.floor(Date.now() / 1000);
    if (Math.abs(nowSeconds - claims.iat) > STATION_REQUEST_SKEW_SECONDS)
      return respondError(c, "station_request_expired");

    // Hono keeps the bytes read here for the route's own body validation.
    const body = new Uint8Array(await c.req.arrayBuffer());
    if ((await bodyHash(body)) !== claims.bh)
      return respondError(c, "station_request_mismatch", "The body is not the one that was signed.");

    // Per station, once the signature proved who is asking: a station's own budget, which nobody
    // else can spend. 1,200 a minute lets an offline station sync a day's ballots in minutes.
    const { success } = await c.env.STATION_LIMITER.limit({ key: stationId });
    if (!success) return respondError(c, "rate_limited");

    // Held until the request could no longer pass the clock check, plus a minute.
    const holdUntilMs = (claims.iat + STATION_REQUEST_SKEW_SECONDS + 60) * 1000;
    if (!(await claimOnce(c.env, "station-request", `${stationId}:${claims.n}`, holdUntilMs))) {
      return respondError(c, "station_request_replayed");
    }

    c.set("station", { stationId, kid, districtIds: credential.value.districtIds });
    await next();
    return undefined;
  };
}
