/**
 * The signing authorities in the audit log (security review M7): polling stations, their device
 * keys and serial ranges, and each election's sheet keys are what may sign paper ballots and result
 * sheets, so every change to them is an entry of each election it concerns, and none of them may
 * change once such an election's polls have opened.
 *
 * - An election is concerned by a station when one of its districts is a district the station
 *   serves (a station is a place and keeps its id across elections), and by a sheet key when the
 *   key is that election's, until it is settled: SETTLEMENT_MS after its close plus its paper
 *   sync grace. After that its stations' keys may change for the next election with the same
 *   districts, unlogged in its log; a sheet signed by such a key is one the auditor of the old
 *   election finds no published key for.
 * - Adding (a station, a device key, a serial range, a sheet key) is refused with
 *   `authority_locked` once any concerned election's polls have opened, before anything is
 *   written. Revoking stays allowed at any time, since a compromised key must be stoppable, and is
 *   logged like every other change.
 * - A key's entry carries its raw public key and its RFC 7638 thumbprint: the auditor verifies a
 *   station's signed result sheet with the key the log published, trusting no registry.
 * - An election loaded after its stations and keys were registered gets them in its log too
 *   (logAuthoritiesOf, right after its definition-loaded entry), so its log names every key
 *   that can sign for it, whatever the order of set-up.
 * Entries are keyed (the change and its object), so repeating a call logs nothing twice.
 */
import { electionIds, getElection } from "../../db/stores/elections.ts";
import { authoritySnapshot } from "../../db/stores/stations.ts";
import type { LogEntry, LogEntryOf } from "../../lib/audit/entries.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import type { StationKeyRole } from "../../lib/vocabulary.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import type { LogRefusal } from "../../durable-objects/log-sequencer.ts";
import { appendToLog, jwkThumbprintHex, logTime } from "./log.ts";

/**
 * How long after an election's close (and paper sync grace) its stations' keys stay locked and
 * their changes logged in it: result sheets, recounts and disputes come in the weeks after the
 * close, and a key added then could sign for it.
 */
export const SETTLEMENT_MS = 30 * 24 * 3600_000;

/** Whether the election still concerns its stations' keys at `now` (ms). */
function unsettled(election: CompiledElection, now: number): boolean {
  return now < election.polls.closesAtMs + election.settings.paperSyncGraceMinutes * 60_000 + SETTLEMENT_MS;
}

/** A keyed entry, as the sequencer's append takes it. */
export interface KeyedEntry {
  readonly key: string;
  readonly entry: LogEntry;
}

/** The unsettled elections with a district among `districtIds`: those a station serving them concerns. */
export async function electionsServing(
  env: Env,
  districtIds: readonly string[],
  now: number = Date.now(),
): Promise<CompiledElection[]> {
  const wanted = new Set(districtIds);
  const out: CompiledElection[] = [];
  for (const id of await electionIds(env.DB)) {
    const election = await getElection(env.DB, id);
    if (election && unsettled(election, now) && [...election.districts.keys()].some((d) => wanted.has(d)))
      out.push(election);
  }
  return out;
}

/** Refuses an addition when any of these elections' polls have opened (`now` in ms). */
export function refuseOnceOpen(
  elections: readonly CompiledElection[],
  now: number = Date.now(),
): Result<undefined, "authority_locked"> {
  return elections.some((e) => e.polls.opensAtMs <= now) ? err("authority_locked") : ok(undefined);
}

/** Logs the same keyed entries to each election's log; the first refusal stops (the caller repeats). */
export async function logToElections(
  env: Env,
  elections: readonly { readonly id: string }[],
  items: readonly KeyedEntry[],
): Promise<Result<undefined, LogRefusal>> {
  if (items.length === 0) return ok(undefined);
  for (const election of elections) {
    const result = await appendToLog(env, election.id, items);
    if (!result.ok) return result;
  }
  return ok(undefined);
}

/** An Ed25519 public JWK as the registry holds it (the schema refused anything else). */
interface PublicJwk {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly kid: string;
}

function thumbprintOf(jwk: PublicJwk): Promise<string> {
  const { kty, crv, x } = jwk;
  return jwkThumbprintHex({ kty, crv, x });
}

export function stationRegistered(stationId: string, districtIds: readonly string[], at = logTime()): KeyedEntry {
  return {
    key: `station-registered/${stationId}`,
    entry: { type: "station-registered", at, stationId, districtIds: [...new Set(districtIds)] },
  };
}

export async function stationKeyAdded(
  stationId: string,
  jwk: PublicJwk,
  role: StationKeyRole,
  at = logTime(),
): Promise<KeyedEntry> {
  const entry: LogEntryOf<"station-key-added"> = {
    type: "station-key-added",
    at,
    stationId,
    kid: jwk.kid,
    role,
    thumbprint: await thumbprintOf(jwk),
    publicKey: jwk.x,
  };
  return { key: `station-key-added/${jwk.kid}`, entry };
}

export function serialRangeIssued(
  stationId: string,
  range: { readonly first: number; readonly last: number },
  at = logTime(),
): KeyedEntry {
  return {
    key: `serial-range-issued/${stationId}/${range.first}`,
    entry: { type: "serial-range-issued", at, stationId, first: range.first, count: range.last - range.first + 1 },
  };
}

export async function sheetKeyAdded(jwk: PublicJwk, at = logTime()): Promise<KeyedEntry> {
  const entry: LogEntryOf<"sheet-key-added"> = {
    type: "sheet-key-added",
    at,
    kid: jwk.kid,
    thumbprint: await thumbprintOf(jwk),
    publicKey: jwk.x,
  };
  return { key: `sheet-key-added/${jwk.kid}`, entry };
}

/**
 * For a definition load: logs the stations serving the election's districts, their unrevoked
 * device keys and serial ranges, and the election's unrevoked sheet keys, each once (the keys
 * make a reload log nothing new).
 */
export async function logAuthoritiesOf(env: Env, election: CompiledElection): Promise<Result<undefined, LogRefusal>> {
  const snapshot = await authoritySnapshot(env.DB, election.id, [...election.districts.keys()]);
  const items: KeyedEntry[] = [];
  for (const station of snapshot.stations) {
    items.push(stationRegistered(station.id, station.districtIds));
    for (const key of station.keys) items.push(await stationKeyAdded(station.id, storedJwk(key.publicJwk), key.role));
    for (const range of station.serialRanges) items.push(serialRangeIssued(station.id, range));
  }
  for (const key of snapshot.sheetKeys) items.push(await sheetKeyAdded(storedJwk(key.publicJwk)));
  // The sequencer takes at most 1,000 entries per call.
  for (let i = 0; i < items.length; i += 500) {
    const result = await appendToLog(env, election.id, items.slice(i, i + 500));
    if (!result.ok) return result;
  }
  return ok(undefined);
}

/** A public JWK as the stations routes stored it (they accepted only Ed25519 keys with a kid). */
function storedJwk(json: string): PublicJwk {
  const value = JSON.parse(json) as Partial<PublicJwk>;
  if (
    typeof value.kty !== "string" ||
    typeof value.crv !== "string" ||
    typeof value.x !== "string" ||
    typeof value.kid !== "string"
  )
    throw new Error("a stored public key is not a JWK with a kid");
  return { kty: value.kty, crv: value.crv, x: value.x, kid: value.kid };
}
