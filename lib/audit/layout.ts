/**
 * Where an election's audit log lives, in R2 and over HTTP, and what it is called. Runtime-free:
 * the sequencer, the gateway and the auditor CLI agree on these names through this file.
 *
 * R2, bucket AUDIT_LOG (may be public: it holds nothing else):
 *   logs/<electionId>/checkpoint                  the latest signed checkpoint (not cached)
 *   logs/<electionId>/tile/<L>/<N>[.p/<W>]        hash tiles (immutable)
 *   logs/<electionId>/tile/entries/<N>[.p/<W>]    entry bundles (immutable)
 *   logs/<electionId>/exports/results.json[.jws]  the NIST results report and its detached JWS
 *   logs/<electionId>/exports/cvr.json[.jws]      the NIST cast vote record export and its JWS
 *                                                 (written once, after the last records; immutable)
 * R2, bucket AUDIT_STAGING (never public):
 *   staging/<electionId>/<size>-<root hex>        the sequencer's staging bundles
 * R2 makes a whole bucket public or none of it, so staging has a bucket of its own (security
 * review L5): a public AUDIT_LOG bucket exposes only `logs/`.
 *
 * HTTP (the gateway, read-only): /v1/logs/<electionId>/ + the same relative paths, and
 * /v1/logs/<electionId>/verifier-key. An auditor's local copy is a directory with the same
 * relative layout (checkpoint, tile/..., verifier-key).
 *
 * The checkpoint origin, which is also the signing key's name, is `<LOG_ORIGIN>/<electionId>`,
 * e.g. "vote.example.gov/audit/demo-2026": one log per election, each its own origin.
 */
import * as z from "zod";

export const CHECKPOINT_PATH = "checkpoint";
/** The results exports (docs/AUDIT-LOG.md "Exports"), relative to the log like the tiles. */
export const RESULTS_EXPORT_PATH = "exports/results.json";
export const CVR_EXPORT_PATH = "exports/cvr.json";
export const EXPORT_PATHS = [RESULTS_EXPORT_PATH, CVR_EXPORT_PATH] as const;
export type ExportPath = (typeof EXPORT_PATHS)[number];
export const EXPORT_CONTENT_TYPE = "application/json";
export const EXPORT_SIGNATURE_CONTENT_TYPE = "application/jose";

/** An export's detached signature (RFC 7515 compact JWS with the payload left out). */
export function signaturePath(path: ExportPath): string {
  return `${path}.jws`;
}
export const VERIFIER_KEY_PATH = "verifier-key";

/** tlog-tiles: tiles and bundles never change once written, so caches may keep them for good. */
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";
/** The checkpoint moves on every sequencing: nobody may cache it. */
export const CHECKPOINT_CACHE_CONTROL = "no-store";

/** A deployment's origin prefix: host-like, no spaces or "+" (signed-note key names forbid them). */
export const LogOriginPrefix = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.:_/-]{0,200}[A-Za-z0-9]$/, "a host-like name such as vote.example.gov/audit");

export function logOrigin(prefix: string, electionId: string): string {
  return `${LogOriginPrefix.parse(prefix)}/${electionId}`;
}

export function logPrefix(electionId: string): string {
  return `logs/${electionId}/`;
}

/** The R2 key of a path relative to the log (checkpoint, tile/...). */
export function logObjectKey(electionId: string, relativePath: string): string {
  return `${logPrefix(electionId)}${relativePath}`;
}

export function stagingKey(electionId: string, size: number, rootHex: string): string {
  return `staging/${electionId}/${size}-${rootHex}`;
}
