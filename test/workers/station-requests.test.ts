/**
 * The station registry and signed station requests: every way a request can be forged, tampered
 * with, replayed or made with a revoked key is refused with its own 401 code and changes nothing.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { JWK } from "jose";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { signStationRequest } from "../../lib/station/signed-request.ts";
import { ledgerFor } from "../../durable-objects/addresses.ts";
import { BASE, officialToken } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol, voterKeyFor } from "./helpers/roll.ts";
import { adminCall, errorCode, registerStation, type TestStation } from "./helpers/station.ts";

const ELECTION = "stations-auth";

// The registry's routes refuse additions once an election a station serves has opened its polls
// (authority-log.test.ts), so the election opens only before the signed requests below.
beforeAll(async () => {
  await loadDemoElection({
    electionId: ELECTION,
    polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
  });
});

const StationSummary = z.object({
  id: z.string(),
  districtIds: z.array(z.string()),
  serialRanges: z.array(z.object({ first: z.number(), last: z.number() })),
  revokedAt: z.string().nullable(),
  keys: z.array(z.object({ kid: z.string(), qrKeyId: z.string(), revokedAt: z.string().nullable() })),
});

describe("the station registry", () => {
  it("registers a station with districts, a device key and serial ranges; lists it for auditors", async () => {
    const { publicJwk } = await generateSigningKey("reg-1-k1");
    const res = await adminCall("POST", "/v1/admin/stations", {
      id: "reg-1",
      name: "Registry test station",
      districtIds: ["district-north", "district-south"],
      publicJwk,
      serialRanges: [{ first: 1_000, last: 1_999 }],
    });
    expect(res.status).toBe(201);
    const created = StationSummary.parse(await res.json());
    expect(created).toMatchObject({
      id: "reg-1",
      districtIds: ["district-north", "district-south"],
      serialRanges: [{ first: 1_000, last: 1_999 }],
      revokedAt: null,
    });
    expect(created.keys).toEqual([expect.objectContaining({ kid: "reg-1-k1", revokedAt: null })]);
    expect(created.keys[0]?.qrKeyId).toMatch(/^[0-9a-f]{16}$/);

    const auditor = await officialToken("auditor");
    const list = z
      .object({ stations: z.array(StationSummary) })
      .parse(await (await adminCall("GET", "/v1/admin/stations", undefined, auditor)).json());
    expect(list.stations.map((s) => s.id)).toContain("reg-1");
    // Auditors read, only administrators write.
    const refused = await adminCall(
      "POST",
      "/v1/admin/stations",
      { id: "reg-x", name: "x", districtIds: ["district-north"], publicJwk },
      auditor,
    );
    expect(refused.status).toBe(403);
  });

  it("is described in the OpenAPI document, with the station signature scheme", async () => {
    const doc = z
      .object({
        paths: z.record(z.string(), z.unknown()),
        components: z.object({ securitySchemes: z.record(z.string(), z.unknown()) }),
      })
      .parse(await (await SELF.fetch(`${BASE}/openapi.json`)).json());
    for (const path of [
      "/v1/admin/stations",
      "/v1/admin/stations/{stationId}/keys",
      "/v1/admin/elections/{electionId}/sheet-keys",
      "/v1/stations/{stationId}/check-ins",
      "/v1/stations/{stationId}/ballots",
      "/v1/stations/{stationId}/result-sheet",
      "/v1/admin/elections/{electionId}/reconciliation",
      "/v1/admin/elections/{electionId}/reconciliation/{stationId}",
      "/v1/admin/elections/{electionId}/conflicts",
      "/v1/admin/elections/{electionId}/conflicts/{conflictId}/decision",
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(Object.keys(doc.components.securitySchemes)).toContain("stationSignature");
  });

  it("refuses a taken id, a taken key, a private key, an overlapping serial range, and changes nothing", async () => {
    const { publicJwk, privateJwk } = await generateSigningKey("reg-2-k1");
    expect(
      (
        await adminCall("POST", "/v1/admin/stations", {
          id: "reg-2",
          name: "Two",
          districtIds: ["district-east"],
          publicJwk,
          serialRanges: [{ first: 5_000, last: 5_999 }],
        })
      ).status,
    ).toBe(201);
    const other = await generateSigningKey("reg-3-k1");

    const sameId = await adminCall("POST", "/v1/admin/stations", {
      id: "reg-2",
      name: "Again",
      districtIds: ["district-east"],
      publicJwk: other.publicJwk,
    });
    expect([sameId.status, await errorCode(sameId)]).toEqual([409, "station_exists"]);
    const sameKey = await adminCall("POST", "/v1/admin/stations", {
      id: "reg-3",
      name: "Three",
      districtIds: ["district-east"],
      publicJwk,
    });
    expect([sameKey.status, await errorCode(sameKey)]).toEqual([409, "key_exists"]);
    const privatePart = await adminCall("POST", "/v1/admin/stations", {
      id: "reg-3",
      name: "Three",
      districtIds: ["district-east"],
      publicJwk: privateJwk,
    });
    expect([privatePart.status, await errorCode(privatePart)]).toEqual([400, "invalid_request"]);
    const overlap = await adminCall("POST", "/v1/admin/stations", {
      id: "reg-3",
      name: "Three",
      districtIds: ["district-east"],
      publicJwk: other.publicJwk,
      serialRanges: [{ first: 5_900, last: 6_100 }],
    });
    expect([overlap.status, await errorCode(overlap)]).toEqual([400, "invalid_request"]);

    expect((await adminCall("GET", "/v1/admin/stations/reg-3")).status).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------
// Signed requests, through the check-in route.

interface Forgery {
  /** What is signed. */
  readonly sign?: {
    method?: string;
    path?: string;
    body?: string;
    iat?: number;
    nonce?: string;
    stationId?: string;
    origin?: string;
  };
  /** What is sent, when it differs from what is signed. */
  readonly send?: { method?: string; path?: string; body?: string };
  readonly key?: JWK;
  readonly header?: string | null;
}

let voterCounter = 0;

async function checkInBody(nationalId: string): Promise<string> {
  return JSON.stringify({
    electionId: ELECTION,
    nationalId,
    identity: { method: "id-card" },
    checkInId: crypto.randomUUID(),
  });
}

async function send(station: TestStation, body: string, forgery: Forgery = {}): Promise<Response> {
  const path = `/v1/stations/${station.stationId}/check-ins`;
  const signature =
    forgery.header === null
      ? undefined
      : (forgery.header ??
        (await signStationRequest(forgery.key ?? station.privateJwk, {
          stationId: forgery.sign?.stationId ?? station.stationId,
          origin: forgery.sign?.origin ?? BASE,
          method: forgery.sign?.method ?? "POST",
          path: forgery.sign?.path ?? path,
          body: forgery.sign?.body ?? body,
          ...(forgery.sign?.iat !== undefined ? { issuedAtSeconds: forgery.sign.iat } : {}),
          ...(forgery.sign?.nonce !== undefined ? { nonce: forgery.sign.nonce } : {}),
        })));
  return SELF.fetch(`${BASE}${forgery.send?.path ?? path}`, {
    method: forgery.send?.method ?? "POST",
    headers: { "content-type": "application/json", ...(signature ? { "station-signature": signature } : {}) },
    body: forgery.send?.body ?? body,
  });
}

async function newVoter(): Promise<{ nationalId: string; voterKey: string }> {
  voterCounter += 1;
  const nationalId = `EE-SIG-${String(voterCounter).padStart(4, "0")}`;
  return { nationalId, voterKey: await enrol(ELECTION, nationalId, "district-north") };
}

async function expectNotCheckedIn(voterKey: string): Promise<void> {
  expect(await ledgerFor(env, ELECTION, voterKey).status(ELECTION, voterKey)).toMatchObject({ state: "none" });
}

describe("signed station requests", () => {
  let station: TestStation;
  // A station that rotates its key: the new key is added before the polls open (after, it is refused).
  let rotating: TestStation;
  let next: Awaited<ReturnType<typeof generateSigningKey>>;
  beforeAll(async () => {
    rotating = await registerStation(["district-north"]);
    next = await generateSigningKey(`${rotating.stationId}-k2`);
    expect(
      (await adminCall("POST", `/v1/admin/stations/${rotating.stationId}/keys`, { publicJwk: next.publicJwk })).status,
    ).toBe(201);
    await loadDemoElection({ electionId: ELECTION });
    station = await registerStation(["district-north"]);
  });

  it("accepts a correctly signed request", async () => {
    const voter = await newVoter();
    const res = await send(station, await checkInBody(voter.nationalId));
    expect(res.status).toBe(201);
  });

  const now = (): number => Math.floor(Date.now() / 1000);
  const cases: [string, (body: string, station: TestStation) => Promise<Forgery>, string][] = [
    ["no signature", async () => ({ header: null }), "station_signature_missing"],
    ["a header that is not a JWS", async () => ({ header: "not-a-jws" }), "station_signature_invalid"],
    [
      "a signature by another key under the station's kid",
      async (_b, s) => ({ key: { ...(await generateSigningKey(String(s.privateJwk.kid))).privateJwk } }),
      "station_signature_invalid",
    ],
    [
      "a tampered body",
      async (body) => ({
        send: { body: body.replace('"id-card"', '"id-card+biometric","biometric":{"matched":true}') },
      }),
      "station_request_mismatch",
    ],
    ["another method", async () => ({ sign: { method: "PUT" } }), "station_request_mismatch"],
    [
      "another path",
      async (_b, s) => ({ sign: { path: `/v1/stations/${s.stationId}/ballots` } }),
      "station_request_mismatch",
    ],
    [
      "another station's id in the claims",
      async () => ({ sign: { stationId: "some-other-station" } }),
      "station_request_mismatch",
    ],
    // A key registered in two deployments: a request signed for the other one (security review L2).
    [
      "a signature made for another deployment's origin",
      async () => ({ sign: { origin: "https://staging.vote.example" } }),
      "station_request_mismatch",
    ],
    ["a timestamp three minutes old", async () => ({ sign: { iat: now() - 180 } }), "station_request_expired"],
    ["a timestamp three minutes ahead", async () => ({ sign: { iat: now() + 180 } }), "station_request_expired"],
  ];

  for (const [what, forge, code] of cases) {
    it(`refuses ${what} with 401 ${code} and changes nothing`, async () => {
      const voter = await newVoter();
      const body = await checkInBody(voter.nationalId);
      const res = await send(station, body, await forge(body, station));
      expect([res.status, await errorCode(res)]).toEqual([401, code]);
      await expectNotCheckedIn(voter.voterKey);
      // The same voter can still be checked in with a good request.
      expect((await send(station, await checkInBody(voter.nationalId))).status).toBe(201);
    });
  }

  it("refuses a replayed request (same nonce) with 401 station_request_replayed", async () => {
    const voter = await newVoter();
    const body = await checkInBody(voter.nationalId);
    const nonce = "replayed-nonce-0123456789";
    expect((await send(station, body, { sign: { nonce } })).status).toBe(201);
    const replay = await send(station, body, { sign: { nonce } });
    expect([replay.status, await errorCode(replay)]).toEqual([401, "station_request_replayed"]);
    // The nonce is the station's: the same nonce is refused even on another body.
    const other = await newVoter();
    const again = await send(station, await checkInBody(other.nationalId), { sign: { nonce } });
    expect([again.status, await errorCode(again)]).toEqual([401, "station_request_replayed"]);
    await expectNotCheckedIn(other.voterKey);
  });

  it("refuses a station over its own rate limit with 429, and only that station", async () => {
    const busy = await registerStation(["district-north"]);
    const calm = await registerStation(["district-north"]);
    // Spend the busy station's budget directly (1,200 a minute), then ask. The limiter counts in
    // fixed windows: should one end in between, spend a fresh window's budget and ask again.
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2 && res?.status !== 429; attempt += 1) {
      for (let i = 0; i < 1_201; i += 1) await env.STATION_LIMITER.limit({ key: busy.stationId });
      const voter = await newVoter();
      res = await send(busy, await checkInBody(voter.nationalId));
      if (res.status === 429) await expectNotCheckedIn(voter.voterKey);
    }
    expect([res?.status, res ? await errorCode(res) : ""]).toEqual([429, "rate_limited"]);
    const voter = await newVoter();
    expect((await send(calm, await checkInBody(voter.nationalId))).status).toBe(201);
  });

  it("refuses what can be refused without the database before reading it: a stale or mismatched request to an unknown station", async () => {
    const voter = await newVoter();
    const body = await checkInBody(voter.nationalId);
    const ghost = { ...station, stationId: "no-such-station" };
    // The station lookup would say station_unknown: these answers show the cheap checks came first.
    const stale = await send(ghost, body, { sign: { iat: now() - 600 } });
    expect([stale.status, await errorCode(stale)]).toEqual([401, "station_request_expired"]);
    const elsewhere = await send(ghost, body, { sign: { origin: "https://staging.vote.example" } });
    expect([elsewhere.status, await errorCode(elsewhere)]).toEqual([401, "station_request_mismatch"]);
    const garbled = await send(ghost, body, { header: "eyJhbGciOiJFZERTQSJ9.bm90LWpzb24.c2ln" });
    expect([garbled.status, await errorCode(garbled)]).toEqual([401, "station_signature_invalid"]);
  });

  it("turns away an address over its budget of station calls before reading anything, and only that address", async () => {
    const ip = "10.63.0.1";
    const signed = async (): Promise<Response> => {
      const voter = await newVoter();
      const body = await checkInBody(voter.nationalId);
      const path = `/v1/stations/${station.stationId}/check-ins`;
      const signature = await signStationRequest(station.privateJwk, {
        stationId: station.stationId,
        origin: BASE,
        method: "POST",
        path,
        body,
      });
      return SELF.fetch(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "station-signature": signature, "cf-connecting-ip": ip },
        body,
      });
    };
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2 && res?.status !== 429; attempt += 1) {
      for (let i = 0; i < 3_001; i += 1) await env.STATION_IP_LIMITER.limit({ key: `station:${ip}` });
      res = await signed();
    }
    expect([res?.status, res ? await errorCode(res) : ""]).toEqual([429, "rate_limited"]);
    // Another address (here: none given) is not affected.
    const voter = await newVoter();
    expect((await send(station, await checkInBody(voter.nationalId))).status).toBe(201);
  });

  it("refuses an unknown station, another station's key, a revoked key and a revoked station", async () => {
    const voter = await newVoter();
    const body = await checkInBody(voter.nationalId);

    const ghost = { ...station, stationId: "no-such-station" };
    const unknown = await send(ghost, body);
    expect([unknown.status, await errorCode(unknown)]).toEqual([401, "station_unknown"]);

    const other = await registerStation(["district-north"]);
    const foreignKey = await send(station, body, { key: other.privateJwk });
    expect([foreignKey.status, await errorCode(foreignKey)]).toEqual([401, "station_key_unknown"]);

    expect(
      (await adminCall("DELETE", `/v1/admin/stations/${rotating.stationId}/keys/${String(rotating.privateJwk.kid)}`))
        .status,
    ).toBe(200);
    const revokedKey = await send(rotating, body);
    expect([revokedKey.status, await errorCode(revokedKey)]).toEqual([401, "station_key_revoked"]);

    expect((await adminCall("DELETE", `/v1/admin/stations/${other.stationId}`)).status).toBe(200);
    const revokedStation = await send(other, body);
    expect([revokedStation.status, await errorCode(revokedStation)]).toEqual([401, "station_revoked"]);

    await expectNotCheckedIn(voter.voterKey);
    // The rotated-in key works.
    expect((await send(rotating, body, { key: next.privateJwk })).status).toBe(201);
    expect(await ledgerFor(env, ELECTION, voter.voterKey).status(ELECTION, voter.voterKey)).toMatchObject({
      state: "paper",
    });
  });

  it("keeps the voter key out of the signed claims and the answers: the national id stays in the body only", async () => {
    const voter = await newVoter();
    const res = await send(station, await checkInBody(voter.nationalId));
    const text = await res.text();
    expect(text).not.toContain(voter.nationalId);
    expect(text).not.toContain(await voterKeyFor(voter.nationalId));
  });
});
