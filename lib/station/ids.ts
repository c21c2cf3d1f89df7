/**
 * The ids of the paper channel, shared by the gateway, the station client and the CLI. A station
 * id also appears in result-sheet QR payloads (at most 64 bytes there) and prefixes the ledger's
 * check-in ids, hence its shorter limit.
 */
import * as z from "zod";

export const StationId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{1,46}[a-z0-9]$/,
    "a station id is 3-48 lowercase letters, digits, dots, dashes, underscores",
  );

/** A district is a NIST GpUnit @id. */
export const DistrictId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
    "a district id is 1-128 letters, digits, dots, colons, dashes, underscores",
  );

/** Chosen by the station for each check-in and scan (its outbox key): a UUID does. */
export const StationRequestId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, "8-64 letters, digits, dashes or underscores");

export const KeyKid = z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, "3-64 letters, digits, dots, dashes, underscores");

/** Ed25519 public keys only: station devices and the authority's sheet printers sign with them. */
export const Ed25519PublicJwk = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "32 bytes in base64url"),
    kid: KeyKid,
    alg: z.literal("EdDSA").optional(),
    use: z.literal("sig").optional(),
  })
  .strict();
export type Ed25519PublicJwk = z.infer<typeof Ed25519PublicJwk>;

/** An inclusive range of ballot serials. */
export const SerialRange = z
  .object({
    first: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    last: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict()
  .refine((r) => r.first <= r.last, { message: "first must not be after last", path: ["last"] });
export type SerialRange = z.infer<typeof SerialRange>;
