/**
 * Polling stations for tests inside workerd: registered in the real registry (D1), calling
 * through the real station client (lib/station-client) over SELF, and signing QR payloads with
 * the real codec (lib/qr). A test station has a client key (requests, result sheets) and a
 * ballot-marking device's key (marked ballots).
 */
import { env, SELF } from "cloudflare:test";
import { vi } from "vitest";
import type { JWK } from "jose";
import { z } from "zod";
import { generateSigningKey } from "../../../lib/identity/keys.ts";
import type { ContestMarks } from "../../../lib/ballot/messages.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { qrKeyId, qrSignerFromJwk, type QrSigner } from "../../../lib/qr/keys.ts";
import { addSheetKey, addStationKey, registerStation as storeStation } from "../../../db/stores/stations.ts";
import {
  encodeBallotSheet,
  encodeMarkedBallot,
  encodeResultSheet,
  type ResultSheetFields,
} from "../../../lib/qr/payload.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { StationCallError, StationClient } from "../../../lib/station-client/client.ts";
import { adminToken, BASE } from "./auth.ts";
import { loadDemoElection } from "./election.ts";
import { enrol } from "./roll.ts";

export interface TestStation {
  readonly stationId: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly client: StationClient;
  /** Signs result sheets as this station's client key (the key that signs its requests). */
  readonly signer: QrSigner;
  /** Signs marked ballots as this station's ballot-marking device (its own key, role marking-device). */
  readonly bmd: QrSigner;
  readonly bmdPrivateJwk: JWK;
}

let counter = 0;

export async function signerOf(privateJwk: JWK): Promise<QrSigner> {
  const signer = await qrSignerFromJwk(privateJwk);
  if (!signer.ok) throw new Error(`not a signing key: ${signer.error.message}`);
  return signer.value;
}

export function clientFor(stationId: string, privateJwk: JWK): StationClient {
  return new StationClient({ baseUrl: BASE, stationId, privateJwk, fetch: (request) => SELF.fetch(request) });
}

export async function adminCall(method: string, path: string, json?: unknown, token?: string): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token ?? (await adminToken())}`,
      ...(json === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
}

/**
 * Registers a station serving `districtIds` with one device key, straight into the registry (the
 * store the admin route calls), like `enrol` for the roll: for tests about other things. The admin
 * route refuses additions once an election the station serves has opened its polls, and the demo
 * elections of most tests are open; the route itself, its log entries and that lock are tested in
 * station-requests.test.ts and authority-log.test.ts.
 */
export async function registerStation(
  districtIds: readonly string[],
  options: { id?: string; serialRanges?: { first: number; last: number }[] } = {},
): Promise<TestStation> {
  counter += 1;
  const stationId = options.id ?? `st-${counter}-${crypto.randomUUID().slice(0, 8)}`;
  const keys = await newStationKeys(stationId);
  const registered = await storeStation(env.DB, {
    id: stationId,
    name: `Test station ${counter}`,
    districtIds,
    publicJwk: { ...keys.client.publicJwk, kid: `${stationId}-k1` },
    qrKeyId: await keyIdOf(keys.client.publicJwk),
    serialRanges: options.serialRanges ?? [],
  });
  if (!registered.ok) throw new Error(`station registration failed: ${JSON.stringify(registered.error)}`);
  const added = await addStationKey(
    env.DB,
    stationId,
    { ...keys.bmd.publicJwk, kid: `${stationId}-bmd1` },
    await keyIdOf(keys.bmd.publicJwk),
    "marking-device",
  );
  if (!added.ok) throw new Error(`BMD key registration failed: ${JSON.stringify(added.error)}`);
  return testStation(stationId, keys);
}

interface KeyPair {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** A new station's two keys: its client key `<id>-k1` and its ballot-marking device's `<id>-bmd1`. */
export async function newStationKeys(stationId: string): Promise<{ client: KeyPair; bmd: KeyPair }> {
  return {
    client: await generateSigningKey(`${stationId}-k1`),
    bmd: await generateSigningKey(`${stationId}-bmd1`),
  };
}

/** The test's handle on a station registered (by whichever way) with `keys`. */
export async function testStation(stationId: string, keys: { client: KeyPair; bmd: KeyPair }): Promise<TestStation> {
  const { privateJwk, publicJwk } = keys.client;
  return {
    stationId,
    privateJwk,
    publicJwk,
    client: clientFor(stationId, privateJwk),
    signer: await signerOf(privateJwk),
    bmd: await signerOf(keys.bmd.privateJwk),
    bmdPrivateJwk: keys.bmd.privateJwk,
  };
}

/**
 * Runs `fn` with the isolate's clock at `at`: the routes, the Durable Objects (same isolate) and
 * the station client's signatures all read it, so a test can be after the close without waiting.
 * Only Date is faked; timers run as usual.
 */
export async function atTime<T>(at: Date | number, fn: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(at);
  try {
    return await fn();
  } finally {
    vi.useRealTimers();
  }
}

/** Registers an election authority key for pre-printed sheets (straight into the registry, as above). */
export async function registerSheetKey(
  electionId: string,
): Promise<{ kid: string; signer: QrSigner; privateJwk: JWK }> {
  const kid = `sheets-${electionId}-${crypto.randomUUID().slice(0, 8)}`;
  const { privateJwk, publicJwk } = await generateSigningKey(kid);
  const added = await addSheetKey(env.DB, electionId, { ...publicJwk, kid }, await keyIdOf(publicJwk));
  if (!added.ok) throw new Error(`sheet key registration failed: ${added.error}`);
  return { kid, signer: await signerOf(privateJwk), privateJwk };
}

async function keyIdOf(publicJwk: JWK): Promise<string> {
  const id = await qrKeyId(publicJwk);
  if (!id.ok) throw new Error(`not an Ed25519 key: ${id.error.message}`);
  return id.value;
}

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  }),
});

export async function errorCode(res: Response): Promise<string> {
  return ErrorBody.parse(await res.json()).error.code;
}

/** Expects `promise` to fail with a StationCallError of this code; returns the error's status. */
export async function refusal(promise: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StationCallError) return { status: error.status, code: error.code };
    throw error;
  }
  throw new Error("expected a refusal, the call succeeded");
}

export async function compiledElection(electionId: string): Promise<CompiledElection> {
  const election = await getElection(env.DB, electionId);
  if (!election) throw new Error(`no election ${electionId}`);
  return election;
}

/** The QR text a station's ballot-marking device prints. */
export async function markedBallotQr(
  signer: QrSigner,
  election: CompiledElection,
  ballotStyleId: string,
  serial: number,
  contests: readonly ContestMarks[],
): Promise<string> {
  const encoded = await encodeMarkedBallot(
    { electionId: election.id, ballotStyleId, serial, contests },
    election,
    signer,
  );
  if (!encoded.ok) throw new Error(`cannot encode the marked ballot: ${encoded.error.message}`);
  return encoded.value.text;
}

/** The QR text the election authority pre-prints on a blank sheet. */
export async function ballotSheetQr(
  signer: QrSigner,
  electionId: string,
  ballotStyleId: string,
  serial: number,
): Promise<string> {
  const encoded = await encodeBallotSheet({ electionId, ballotStyleId, serial }, signer);
  if (!encoded.ok) throw new Error(`cannot encode the sheet: ${encoded.error.message}`);
  return encoded.value.text;
}

/** The QR text of a station's result sheet. */
export async function resultSheetQr(
  signer: QrSigner,
  election: CompiledElection,
  sheet: Omit<ResultSheetFields, "electionId">,
): Promise<string> {
  const encoded = await encodeResultSheet({ ...sheet, electionId: election.id }, election, signer);
  if (!encoded.ok) throw new Error(`cannot encode the result sheet: ${encoded.error.message}`);
  return encoded.value.text;
}

let checkedIn = 0;

/**
 * Enrols `count` fresh voters of `districtId` and checks them in at the station: each check-in is
 * a place for one paper ballot of the station (durable-objects/station-ballot-count.ts).
 */
export async function checkInVoters(
  station: TestStation,
  electionId: string,
  count: number,
  districtId = "district-north",
): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    checkedIn += 1;
    const nationalId = `EE-CHECKIN-${crypto.randomUUID().slice(0, 8)}-${checkedIn}`;
    await enrol(electionId, nationalId, districtId);
    await station.client.checkIn({ electionId, nationalId, identity: { method: "id-card" } });
  }
}

/**
 * The demo election loaded as `electionId`, with one station of district-north issued `serials`
 * and `checkIns` voters checked in there (each a place for one paper ballot): the set-up of the
 * tests about one station's scans.
 */
export async function demoWithNorthStation(
  electionId: string,
  serials: { first: number; last: number },
  checkIns: number,
): Promise<{ election: CompiledElection; station: TestStation }> {
  await loadDemoElection({ electionId });
  const election = await compiledElection(electionId);
  const station = await registerStation(["district-north"], { serialRanges: [serials] });
  await checkInVoters(station, electionId, checkIns);
  return { election, station };
}
