/**
 * The signing authorities in the audit log (security review M7): a station, its device keys and
 * serial ranges, and an election's sheet keys are logged with their public keys in each election
 * they concern, whether they were registered before or after the election was loaded; nothing
 * but a revocation may change them once the polls opened (authority_locked, nothing written); the
 * roll is fixed at the same moment; a roll chunk's digest in the log is keyed.
 */
import { env, SELF } from "cloudflare:test";
import { calculateJwkThumbprint } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { LogEntry, LogEntryOf } from "../../lib/audit/entries.ts";
import { base64urlDecode, hexEncode } from "../../lib/bytes.ts";
import { sha256Hex } from "../../lib/digest.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { purposeKey } from "../../lib/keys.ts";
import { adminToken, BASE } from "./helpers/auth.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import {
  adminCall,
  ballotSheetQr,
  errorCode,
  newStationKeys,
  registerStation,
  signerOf,
  testStation,
  type TestStation,
} from "./helpers/station.ts";
import type { QrSigner } from "../../lib/qr/keys.ts";

const ELECTION = "authority-log";
const LATER = "authority-log-later";
const ROLL = "authority-log-roll";
const REPEAT = "authority-log-repeat";
const SETTLED = "authority-log-settled";

const FUTURE = { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" };

function openNow(): { opensAt: string; closesAt: string } {
  return {
    opensAt: new Date(Date.now() - 60_000).toISOString(),
    closesAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
  };
}

async function thumbprintHex(jwk: { kty: string; crv: string; x: string }): Promise<string> {
  return hexEncode(base64urlDecode(await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }))!);
}

/** The published log's entries of the types given, once it holds at least `atLeast` of them. */
async function loggedEntries(electionId: string, atLeast: number): Promise<LogEntry[]> {
  const wanted = (e: LogEntry): boolean =>
    e.type.startsWith("station-") || e.type.startsWith("sheet-key-") || e.type === "serial-range-issued";
  return waitFor(async () => {
    await sequencer(electionId).sequenceNow();
    const log = await readPublishedLog(electionId).catch(() => undefined);
    const found = log?.decoded.filter(wanted) ?? [];
    return found.length >= atLeast ? found : undefined;
  });
}

function ofType<T extends LogEntry["type"]>(
  entries: readonly LogEntry[],
  type: T,
  stationId?: string,
): LogEntryOf<T>[] {
  return entries.filter(
    (e): e is LogEntryOf<T> =>
      e.type === type && (stationId === undefined || !("stationId" in e) || e.stationId === stationId),
  );
}

/** A station registered through the admin route (the helpers write the registry directly). */
async function stationViaRoute(
  districtIds: string[],
  serialRanges: { first: number; last: number }[],
): Promise<TestStation> {
  const stationId = `auth-${crypto.randomUUID().slice(0, 8)}`;
  const keys = await newStationKeys(stationId);
  const res = await adminCall("POST", "/v1/admin/stations", {
    id: stationId,
    name: "Authority test",
    districtIds,
    publicJwk: keys.client.publicJwk,
    serialRanges,
  });
  expect(res.status).toBe(201);
  const added = await adminCall("POST", `/v1/admin/stations/${stationId}/keys`, {
    publicJwk: keys.bmd.publicJwk,
    role: "marking-device",
  });
  expect(added.status).toBe(201);
  return testStation(stationId, keys);
}

/** A sheet key registered through the admin route. */
async function sheetKeyViaRoute(electionId: string): Promise<{ kid: string; signer: QrSigner; x: string }> {
  const kid = `sheets-${crypto.randomUUID().slice(0, 8)}`;
  const { privateJwk, publicJwk } = await generateSigningKey(kid);
  const res = await adminCall("POST", `/v1/admin/elections/${electionId}/sheet-keys`, { publicJwk });
  expect(res.status).toBe(201);
  return { kid, signer: await signerOf(privateJwk), x: String(publicJwk.x) };
}

async function importRoll(electionId: string, csv: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/roll`, {
    method: "POST",
    headers: { authorization: `Bearer ${await adminToken()}`, "content-type": "text/csv" },
    body: csv,
  });
}

describe("a settled election", () => {
  it("no longer locks its districts' stations, nor gets their changes in its log, a month after its close", async () => {
    await loadDemoElection({
      electionId: SETTLED,
      polls: { opensAt: "2020-01-01T00:00:00Z", closesAt: "2020-01-02T00:00:00Z" },
    });
    const station = await stationViaRoute(["district-east"], [{ first: 9_000, last: 9_009 }]);
    const { publicJwk } = await generateSigningKey(`${station.stationId}-k2`);
    expect((await adminCall("POST", `/v1/admin/stations/${station.stationId}/keys`, { publicJwk })).status).toBe(201);
    const log = await waitFor(async () => {
      await sequencer(SETTLED).sequenceNow();
      const l = await readPublishedLog(SETTLED).catch(() => undefined);
      return l?.decoded.some((e) => e.type === "polls-closed") ? l : undefined;
    });
    expect(JSON.stringify(log.decoded)).not.toContain(station.stationId);
  });
});

describe("a repeated authority change", () => {
  it("answers as the first did, changes nothing more, and is logged once (so a repeat after a refused log entry fills it)", async () => {
    // Before any election of this file opens: a station serving its districts may still be added.
    await loadDemoElection({ electionId: REPEAT, polls: FUTURE });
    const station = await stationViaRoute(["district-south"], []);
    const k2 = await generateSigningKey(`${station.stationId}-k2`);
    const add = async (): Promise<Response> =>
      adminCall("POST", `/v1/admin/stations/${station.stationId}/keys`, { publicJwk: k2.publicJwk });
    expect((await add()).status).toBe(201);
    expect((await add()).status).toBe(201);
    const { publicJwk: sheetJwk } = await generateSigningKey("repeat-sheets");
    const addSheet = async (): Promise<unknown> =>
      (await adminCall("POST", `/v1/admin/elections/${REPEAT}/sheet-keys`, { publicJwk: sheetJwk })).json();
    const firstSheet = await addSheet();
    expect(await addSheet()).toEqual(firstSheet);

    const revoke = async (): Promise<unknown> =>
      (await adminCall("DELETE", `/v1/admin/stations/${station.stationId}/keys/${station.stationId}-k2`)).json();
    const first = await revoke();
    expect(await revoke()).toEqual(first);
    const revokeSheet = async (): Promise<Response> =>
      adminCall("DELETE", `/v1/admin/elections/${REPEAT}/sheet-keys/repeat-sheets`);
    const sheetRevoked = await (await revokeSheet()).json();
    expect(await (await revokeSheet()).json()).toEqual(sheetRevoked);
    // A revoked key is not re-added by a repeat: it is a refused addition.
    const again = await add();
    expect([again.status, await errorCode(again)]).toEqual([409, "key_exists"]);
    // Another station's key, or an unknown one, is still not found.
    const other = await adminCall("DELETE", `/v1/admin/stations/${station.stationId}/keys/no-such-kid`);
    expect(other.status).toBe(404);

    const revokeStation = async (): Promise<unknown> =>
      (await adminCall("DELETE", `/v1/admin/stations/${station.stationId}`)).json();
    const stationRevoked = await revokeStation();
    expect(await revokeStation()).toEqual(stationRevoked);
    expect((await adminCall("DELETE", "/v1/admin/stations/no-such-station")).status).toBe(404);

    const entries = await loggedEntries(REPEAT, 6);
    expect(ofType(entries, "station-revoked", station.stationId)).toHaveLength(1);
    expect(ofType(entries, "station-key-added", station.stationId).map((e) => e.kid)).toEqual([
      `${station.stationId}-k1`,
      `${station.stationId}-bmd1`,
      `${station.stationId}-k2`,
    ]);
    expect(ofType(entries, "station-key-revoked", station.stationId).map((e) => e.kid)).toEqual([
      `${station.stationId}-k2`,
    ]);
    expect(ofType(entries, "sheet-key-added").map((e) => e.kid)).toEqual(["repeat-sheets"]);
    expect(ofType(entries, "sheet-key-revoked").map((e) => e.kid)).toEqual(["repeat-sheets"]);
  });
});

describe("authority changes in the log", () => {
  let station: TestStation;
  let sheetKid: string;
  let sheetX: string;

  beforeAll(async () => {
    await loadDemoElection({ electionId: ELECTION, polls: FUTURE });
  });

  it("logs the stations and sheet keys registered before an election was loaded in that election's log (before any polls opened)", async () => {
    // Written to the registry directly (no election exists yet to log it in either way).
    const early = await registerStation(["district-east"], { serialRanges: [{ first: 1_000, last: 1_009 }] });
    await loadDemoElection({ electionId: LATER, polls: FUTURE });
    const entries = await loggedEntries(LATER, 3);
    expect(ofType(entries, "station-registered").map((e) => e.stationId)).toContain(early.stationId);
    expect(ofType(entries, "station-key-added").find((e) => e.stationId === early.stationId)?.publicKey).toBe(
      early.publicJwk.x,
    );
    expect(
      ofType(entries, "serial-range-issued").find((e) => e.stationId === early.stationId && e.first === 1_000)?.count,
    ).toBe(10);
  });

  it("logs a sheet key's addition and revocation with its public key, around a scan it signed; once the polls opened, additions are refused and change nothing", async () => {
    station = await stationViaRoute(["district-north"], [{ first: 1, last: 99 }]);
    const sheet = await sheetKeyViaRoute(ELECTION);
    sheetKid = sheet.kid;
    sheetX = sheet.x;
    expect(
      (await adminCall("POST", `/v1/admin/stations/${station.stationId}/serial-ranges`, { first: 100, last: 149 }))
        .status,
    ).toBe(201);

    // The polls open (a reload is allowed while they have not).
    await loadDemoElection({ electionId: ELECTION, polls: openNow() });

    const nationalId = "EE-AUTH-0001";
    await enrol(ELECTION, nationalId, "district-north");
    const checkIn = await station.client.checkIn({ electionId: ELECTION, nationalId, identity: { method: "id-card" } });
    expect(checkIn.outcome).toBe("issue-ballot");
    const qr = await ballotSheetQr(sheet.signer, ELECTION, "bs-north", 7);
    expect((await station.client.scan({ electionId: ELECTION, qr, contests: NORTH_BALLOT })).serial).toBe(7);
    expect((await adminCall("DELETE", `/v1/admin/elections/${ELECTION}/sheet-keys/${sheetKid}`)).status).toBe(200);

    // Additions are refused now, for the election and for the station that serves it.
    const { publicJwk: lateSheet } = await generateSigningKey("late-sheet-key");
    const refusedSheet = await adminCall("POST", `/v1/admin/elections/${ELECTION}/sheet-keys`, {
      publicJwk: lateSheet,
    });
    expect([refusedSheet.status, await errorCode(refusedSheet)]).toEqual([409, "authority_locked"]);
    const { publicJwk: lateDevice } = await generateSigningKey("late-device-key");
    const refusedKey = await adminCall("POST", `/v1/admin/stations/${station.stationId}/keys`, {
      publicJwk: lateDevice,
    });
    expect([refusedKey.status, await errorCode(refusedKey)]).toEqual([409, "authority_locked"]);
    const refusedRange = await adminCall("POST", `/v1/admin/stations/${station.stationId}/serial-ranges`, {
      first: 500,
      last: 599,
    });
    expect([refusedRange.status, await errorCode(refusedRange)]).toEqual([409, "authority_locked"]);
    const { publicJwk: newStationKey } = await generateSigningKey("late-station-k1");
    const refusedStation = await adminCall("POST", "/v1/admin/stations", {
      id: "late-station",
      name: "Late",
      districtIds: ["district-north"],
      publicJwk: newStationKey,
    });
    expect([refusedStation.status, await errorCode(refusedStation)]).toEqual([409, "authority_locked"]);

    // Nothing refused was written.
    const keys = (await (await adminCall("GET", `/v1/admin/elections/${ELECTION}/sheet-keys`)).json()) as {
      keys: { kid: string }[];
    };
    expect(keys.keys.map((k) => k.kid)).toEqual([sheetKid]);
    const summary = (await (await adminCall("GET", `/v1/admin/stations/${station.stationId}`)).json()) as {
      keys: { kid: string }[];
      serialRanges: { first: number; last: number }[];
    };
    expect(summary.keys.map((k) => k.kid).sort()).toEqual([`${station.stationId}-bmd1`, `${station.stationId}-k1`]);
    expect(summary.serialRanges).toEqual([
      { first: 1, last: 99 },
      { first: 100, last: 149 },
    ]);
    expect((await adminCall("GET", "/v1/admin/stations/late-station")).status).toBe(404);

    // Revoking stays possible, and is logged.
    expect(
      (await adminCall("DELETE", `/v1/admin/stations/${station.stationId}/keys/${station.stationId}-k1`)).status,
    ).toBe(200);

    const entries = await loggedEntries(ELECTION, 7);
    expect(ofType(entries, "station-registered", station.stationId)).toEqual([
      {
        type: "station-registered",
        at: expect.any(String),
        stationId: station.stationId,
        districtIds: ["district-north"],
      },
    ]);
    expect(ofType(entries, "station-key-added", station.stationId)).toEqual([
      {
        type: "station-key-added",
        at: expect.any(String),
        stationId: station.stationId,
        kid: `${station.stationId}-k1`,
        role: "client",
        thumbprint: await thumbprintHex(station.publicJwk as { kty: string; crv: string; x: string }),
        publicKey: station.publicJwk.x,
      },
      {
        type: "station-key-added",
        at: expect.any(String),
        stationId: station.stationId,
        kid: `${station.stationId}-bmd1`,
        role: "marking-device",
        thumbprint: expect.any(String),
        publicKey: expect.any(String),
      },
    ]);
    expect(
      ofType(entries, "serial-range-issued", station.stationId).map((e) => [e.stationId, e.first, e.count]),
    ).toEqual([
      [station.stationId, 1, 99],
      [station.stationId, 100, 50],
    ]);
    expect(ofType(entries, "sheet-key-added")).toEqual([
      {
        type: "sheet-key-added",
        at: expect.any(String),
        kid: sheetKid,
        thumbprint: await thumbprintHex({ kty: "OKP", crv: "Ed25519", x: sheetX }),
        publicKey: sheetX,
      },
    ]);
    expect(ofType(entries, "sheet-key-revoked")).toEqual([
      { type: "sheet-key-revoked", at: expect.any(String), kid: sheetKid },
    ]);
    expect(ofType(entries, "station-key-revoked", station.stationId)).toEqual([
      {
        type: "station-key-revoked",
        at: expect.any(String),
        stationId: station.stationId,
        kid: `${station.stationId}-k1`,
      },
    ]);
    // The refused keys are nowhere in the log.
    const all = JSON.stringify((await readPublishedLog(ELECTION)).decoded);
    for (const refused of [lateSheet.x, lateDevice.x, newStationKey.x]) expect(all).not.toContain(String(refused));
  });
});

describe("the roll in the log", () => {
  it("logs a one-row chunk under a keyed digest, not its plain SHA-256, and refuses imports once the polls opened", async () => {
    await loadDemoElection({ electionId: ROLL, polls: FUTURE });
    const csv = "national_id,district\nEE-ROLL-0001,district-north\n";
    expect((await importRoll(ROLL, csv)).status).toBe(200);
    const logged = await waitFor(async () => {
      await sequencer(ROLL).sequenceNow();
      const log = await readPublishedLog(ROLL).catch(() => undefined);
      return log?.decoded.find((e): e is LogEntryOf<"roll-imported"> => e.type === "roll-imported");
    });
    // Anyone can hash a guessed row; the log's digest is not that hash, but the operator's HMAC.
    expect(logged.chunkDigest).not.toBe(sha256Hex(csv));
    const key = await purposeKey(env.ROLL_HASH_KEY, "roll-chunk-digest", ROLL);
    const hmac = hexEncode(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(csv))));
    expect(logged.chunkDigest).toBe(hmac);

    await loadDemoElection({ electionId: ROLL, polls: openNow() });
    const refused = await importRoll(ROLL, "national_id,district\nEE-ROLL-0002,district-north\n");
    expect([refused.status, await errorCode(refused)]).toEqual([409, "authority_locked"]);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM voters WHERE election_id = ?").bind(ROLL).first<{
      n: number;
    }>();
    expect(count?.n).toBe(1);
  });
});

describe("the public election summary an auditor reads", () => {
  it("has the ballot styles and the version and digest of the last logged definition", async () => {
    const summary = (await (await SELF.fetch(`${BASE}/v1/elections/${ELECTION}`)).json()) as {
      ballotStyles: { id: string; districtIds: string[]; contestIds: string[] }[];
      definition: { version: number; sha256: string };
    };
    expect(summary.ballotStyles.find((s) => s.id === "bs-north")?.districtIds).toEqual(["district-north"]);
    expect(summary.ballotStyles.find((s) => s.id === "bs-north")?.contestIds.length).toBeGreaterThan(0);
    const loaded = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const log = await readPublishedLog(ELECTION).catch(() => undefined);
      const all = log?.decoded.filter((e): e is LogEntryOf<"definition-loaded"> => e.type === "definition-loaded");
      return all && all.length >= 2 ? all : undefined;
    });
    const last = loaded[loaded.length - 1];
    expect(summary.definition).toEqual({ version: last?.version, sha256: last?.definitionSha256 });
  });
});
