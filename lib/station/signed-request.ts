/**
 * Signed station requests: every call a polling station makes carries, in the `Station-Signature`
 * header, a compact JWS (EdDSA, embedded payload) made with the station device's Ed25519 key over
 *
 *   protected header  { "alg": "EdDSA", "kid": <the device key's kid>, "typ": "station-request+jws" }
 *   payload           { "sid": station id, "o": the deployment's origin ("https://vote.example.gov"),
 *                       "m": method (upper case), "p": path with query,
 *                       "iat": unix seconds, "n": nonce (16-128 base64url characters),
 *                       "bh": base64url(SHA-256(request body bytes)) }
 *
 * The body itself travels as usual; its hash binds it to the signature, so neither the body, the
 * method, the path, the station nor the time can change without the signature failing. The
 * origin binds it to one deployment: a key registered in two (staging and production) cannot
 * have its requests replayed from one to the other (security review L2). The
 * gateway (workers/gateway/auth/station.ts) accepts a request once (nonce), within
 * STATION_REQUEST_SKEW_SECONDS of its clock.
 *
 * Runtime-free (jose and WebCrypto only): the station client, the tests and the Worker share it.
 */
import { CompactSign, importJWK, type JWK } from "jose";
import * as z from "zod";
import { base64url } from "../identity/national-id.ts";

export const STATION_SIGNATURE_HEADER = "station-signature";
export const STATION_REQUEST_TYP = "station-request+jws";
/** A station's clock may be this far from ours either way (DESIGN.md: ±2 minutes). */
export const STATION_REQUEST_SKEW_SECONDS = 120;

export const StationRequestClaims = z
  .object({
    sid: z.string().min(1).max(64),
    o: z
      .string()
      .regex(/^https?:\/\/[^/?#\s]+$/)
      .max(256),
    m: z.string().regex(/^[A-Z]{3,7}$/),
    p: z.string().startsWith("/").max(2048),
    iat: z.number().int().nonnegative(),
    n: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
    bh: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  })
  .strict();
export type StationRequestClaims = z.infer<typeof StationRequestClaims>;

const encoder = new TextEncoder();

export async function bodyHash(body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", copy)));
}

export interface StationRequestToSign {
  readonly stationId: string;
  /** The gateway's origin, scheme and host: "https://vote.example.gov" (a path is ignored). */
  readonly origin: string;
  readonly method: string;
  /** The path with its query string, as the server will see it: "/v1/stations/s-1/check-ins". */
  readonly path: string;
  /** The exact bytes sent as the body; "" for none. */
  readonly body: Uint8Array | string;
  /** Defaults: now and a fresh random nonce. Tests set them to make stale or replayed requests. */
  readonly issuedAtSeconds?: number;
  readonly nonce?: string;
}

export function newRequestNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(18)));
}

/** The value of the Station-Signature header for one request. */
export async function signStationRequest(privateJwk: JWK, request: StationRequestToSign): Promise<string> {
  if (typeof privateJwk.kid !== "string" || privateJwk.kid === "") throw new Error("the station key has no kid");
  if (privateJwk.kty !== "OKP" || privateJwk.crv !== "Ed25519") throw new Error("a station key is an Ed25519 key");
  const claims: StationRequestClaims = {
    sid: request.stationId,
    o: new URL(request.origin).origin,
    m: request.method.toUpperCase(),
    p: request.path,
    iat: request.issuedAtSeconds ?? Math.floor(Date.now() / 1000),
    n: request.nonce ?? newRequestNonce(),
    bh: await bodyHash(request.body),
  };
  const key = await importJWK(privateJwk, "EdDSA");
  return new CompactSign(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: "EdDSA", kid: privateJwk.kid, typ: STATION_REQUEST_TYP })
    .sign(key);
}
