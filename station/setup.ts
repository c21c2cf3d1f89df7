/**
 * The station's setup file: what a laptop needs to act as one polling station of one election.
 * The admin CLI writes it (`admin station setup-file`, cli/commands/station.ts) before the polls
 * open, with a fresh device key registered as the station's `client` key; the official copies it
 * onto the laptop and starts the client with `--setup FILE`. It holds a private key: mode 0600,
 * and it never leaves the laptop it was made for.
 */
import { readFile } from "node:fs/promises";
import * as z from "zod";
import { DistrictId, KeyKid, StationId } from "../lib/station/ids.ts";
import { err, ok, type Result } from "../lib/result.ts";

/** A private Ed25519 JWK with the kid it was registered under. */
export const DevicePrivateJwk = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    d: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: KeyKid,
    alg: z.literal("EdDSA").optional(),
    use: z.literal("sig").optional(),
  })
  .strict();
export type DevicePrivateJwk = z.infer<typeof DevicePrivateJwk>;

export const StationSetup = z
  .object({
    v: z.literal(1),
    stationId: StationId,
    name: z.string().min(1).max(200).optional(),
    /** The deployment's origin, e.g. "https://vote.example.gov" (no path). */
    apiOrigin: z
      .string()
      .regex(/^https?:\/\/[^/?#\s]+$/, "an origin: scheme and host, no path")
      .max(256),
    electionId: z.string().min(1).max(128),
    districtIds: z.array(DistrictId).min(1),
    deviceKey: DevicePrivateJwk,
  })
  .strict();
export type StationSetup = z.infer<typeof StationSetup>;

/** Reads and checks a setup file; every problem is a sentence the official can act on. */
export async function readSetupFile(path: string): Promise<Result<StationSetup, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    return err(`${path} cannot be read as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = StationSetup.safeParse(json);
  if (!parsed.success) return err(`${path} is not a station setup file: ${z.prettifyError(parsed.error)}`);
  return ok(parsed.data);
}
