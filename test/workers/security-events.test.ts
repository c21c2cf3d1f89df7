/**
 * Security events as the gateway records them (workers/monitor/security-events.ts): each refusal
 * answers exactly as before, its security_events row names stations, districts, countries,
 * networks and reasons but never the client address, the voter or the monitor's tag of the voter.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MonitoringSettings } from "../../lib/monitor/rules.ts";
import { monitorVoterTag } from "../../workers/monitor/signal.ts";
import { BASE, signIdToken, voterSession } from "./helpers/auth.ts";
import { NORTH_BALLOT, type CastContest } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol, voterKeyFor } from "./helpers/roll.ts";
import { compiledElection, errorCode, markedBallotQr, registerStation, type TestStation } from "./helpers/station.ts";
import { newEnvelopeCode } from "../../lib/station/pollbook.ts";
import { sealVoterRef } from "../../workers/voting/pollbook-keys.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { signStationRequest } from "../../lib/station/signed-request.ts";
import { securityMonitorFor } from "../../durable-objects/addresses.ts";
import type { Alert } from "../../lib/monitor/alerts.ts";

const PLAIN = "sec-events";
const REFUSE = "sec-events-refuse";
const FLAG = "sec-events-flag";
const WATCHED = "sec-events-watched";

interface Row {
  kind: string;
  detail: Record<string, unknown>;
  raw: string;
}

async function rows(electionId: string, kind: string): Promise<Row[]> {
  const found = await env.DB.prepare(
    "SELECT kind, detail_json FROM security_events WHERE election_id = ? AND kind = ? ORDER BY id",
  )
    .bind(electionId, kind)
    .all<{ kind: string; detail_json: string }>();
  return found.results.map((r) => ({
    kind: r.kind,
    detail: JSON.parse(r.detail_json) as Record<string, unknown>,
    raw: r.detail_json,
  }));
}

/** The row says nothing that names the client's address or the voter, in any form. */
async function expectNoVoterOrAddress(row: Row, electionId: string, nationalId: string, address: string) {
  const voterKey = await voterKeyFor(nationalId);
  for (const secret of [address, nationalId, voterKey, await monitorVoterTag(env, electionId, voterKey)])
    expect(row.raw).not.toContain(secret);
  expect(row.detail).not.toHaveProperty("address");
  expect(row.detail).not.toHaveProperty("voterTag");
}

async function codeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

let counter = 0;
function nextVoter(): string {
  counter += 1;
  return `EE-SECEV-${String(counter).padStart(4, "0")}`;
}

async function castFrom(
  electionId: string,
  session: string,
  contests: CastContest[],
  from: { ip: string; country: string },
): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/elections/${electionId}/ballots`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${session}`, "cf-connecting-ip": from.ip },
    body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests }),
    cf: { country: from.country },
  });
}

async function loginFrom(electionId: string, idToken: string, from: { ip: string; country: string }) {
  return SELF.fetch(`${BASE}/v1/auth/voter-session`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": from.ip },
    body: JSON.stringify({ electionId, idToken }),
    cf: { country: from.country },
  });
}

beforeAll(async () => {
  await loadDemoElection({ electionId: PLAIN, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: REFUSE, geofence: { allowedCountries: ["EE"], outside: "refuse" } });
  await loadDemoElection({ electionId: FLAG, geofence: { allowedCountries: ["EE"], outside: "flag" } });
  await loadDemoElection({
    electionId: WATCHED,
    geofence: { allowedCountries: [], outside: "flag" },
    monitoring: MonitoringSettings.parse({ flaggedCountries: ["RU"] }),
  });
});

describe("cast-refused", () => {
  it("records the ledger's refusal with its code and district, and answers the refusal as before", async () => {
    const voter = nextVoter();
    await enrol(PLAIN, voter, "district-north");
    const session = await voterSession(PLAIN, voter);
    const from = { ip: "10.61.7.21", country: "EE" };
    expect((await castFrom(PLAIN, session, NORTH_BALLOT, from)).status).toBe(201);
    expect(await rows(PLAIN, "cast-refused")).toHaveLength(0);
    const second = await castFrom(PLAIN, session, NORTH_BALLOT, from);
    expect([second.status, await codeOf(second)]).toEqual([409, "already_voted"]);
    const [row] = await rows(PLAIN, "cast-refused");
    expect(row?.detail).toMatchObject({
      districtId: "district-north",
      country: "EE",
      network: "10.61.7.0/24",
      reason: "already_voted",
    });
    await expectNoVoterOrAddress(row!, PLAIN, voter, from.ip);
  });

  it("does not record an invalid ballot, which the ledger never saw", async () => {
    const voter = nextVoter();
    await enrol(PLAIN, voter, "district-north");
    const session = await voterSession(PLAIN, voter);
    const before = (await rows(PLAIN, "cast-refused")).length;
    const bad = await castFrom(
      PLAIN,
      session,
      [{ contestId: "contest-president", optionIds: ["sel-no-such-option"] }],
      {
        ip: "10.61.7.22",
        country: "EE",
      },
    );
    expect([bad.status, await codeOf(bad)]).toEqual([422, "invalid_ballot"]);
    expect(await rows(PLAIN, "cast-refused")).toHaveLength(before);
  });
});

describe("voter-login-failed", () => {
  it("records a replayed ID token with the code as reason and the voter's district, never the voter", async () => {
    const voter = nextVoter();
    await enrol(PLAIN, voter, "district-south");
    const idToken = await signIdToken(voter);
    const from = { ip: "10.62.1.9", country: "EE" };
    expect((await loginFrom(PLAIN, idToken, from)).status).toBe(200);
    const replayed = await loginFrom(PLAIN, idToken, from);
    expect([replayed.status, await codeOf(replayed)]).toEqual([401, "token_replayed"]);
    const found = (await rows(PLAIN, "voter-login-failed")).filter((r) => r.detail.reason === "token_replayed");
    expect(found).toHaveLength(1);
    expect(found[0]?.detail).toMatchObject({ network: "10.62.1.0/24", districtId: "district-south" });
    await expectNoVoterOrAddress(found[0]!, PLAIN, voter, from.ip);
  });

  it("records a person not on the roll and a token that does not verify", async () => {
    const stranger = nextVoter();
    const from = { ip: "10.62.2.9", country: "EE" };
    const notOnRoll = await loginFrom(PLAIN, await signIdToken(stranger), from);
    expect([notOnRoll.status, await codeOf(notOnRoll)]).toEqual([403, "not_on_roll"]);
    const expired = await loginFrom(PLAIN, await signIdToken(stranger, { expiresIn: -60, age: 400 }), from);
    expect(expired.status).toBe(401);
    const expiredCode = await codeOf(expired);
    const reasons = (await rows(PLAIN, "voter-login-failed")).map((r) => r.detail.reason);
    expect(reasons).toContain("not_on_roll");
    expect(reasons).toContain(expiredCode);
    for (const row of await rows(PLAIN, "voter-login-failed"))
      await expectNoVoterOrAddress(row, PLAIN, stranger, from.ip);
  });

  it("records nothing for an election that does not exist", async () => {
    const res = await loginFrom("sec-events-none", await signIdToken(nextVoter()), { ip: "10.62.3.9", country: "EE" });
    expect([res.status, await codeOf(res)]).toEqual([404, "election_not_found"]);
    const found = await env.DB.prepare("SELECT COUNT(*) AS n FROM security_events WHERE election_id = ?")
      .bind("sec-events-none")
      .first<{ n: number }>();
    expect(found?.n).toBe(0);
  });
});

describe("geofence", () => {
  it("records geofence-refused for a login and a cast refused by the geofence", async () => {
    const voter = nextVoter();
    await enrol(REFUSE, voter, "district-north");
    const login = await loginFrom(REFUSE, await signIdToken(voter), { ip: "10.63.1.5", country: "US" });
    expect([login.status, await codeOf(login)]).toEqual([403, "geofence_refused"]);
    const session = await voterSession(REFUSE, voter, { country: "EE" });
    const cast = await castFrom(REFUSE, session, NORTH_BALLOT, { ip: "10.63.1.6", country: "US" });
    expect([cast.status, await codeOf(cast)]).toEqual([403, "geofence_refused"]);
    const found = await rows(REFUSE, "geofence-refused");
    expect(found.map((r) => [r.detail.country, r.detail.network])).toEqual([
      ["US", "10.63.1.0/24"],
      ["US", "10.63.1.0/24"],
    ]);
    expect(found[1]?.detail).toMatchObject({ districtId: "district-north", reason: "cast" });
    for (const row of found) await expectNoVoterOrAddress(row, REFUSE, voter, "10.63.1.6");
  });

  it("records flagged-country-ballot for a ballot accepted from outside a flag geofence, once", async () => {
    const voter = nextVoter();
    await enrol(FLAG, voter, "district-north");
    const session = await voterSession(FLAG, voter, { country: "EE" });
    const from = { ip: "10.63.2.5", country: "US" };
    expect((await castFrom(FLAG, session, NORTH_BALLOT, from)).status).toBe(201);
    const [row, ...rest] = await rows(FLAG, "flagged-country-ballot");
    expect(rest).toHaveLength(0);
    expect(row?.detail).toMatchObject({ country: "US", districtId: "district-north", reason: "geofence" });
    await expectNoVoterOrAddress(row!, FLAG, voter, from.ip);
  });

  it("records flagged-country-ballot for a country in the monitoring's flagged countries, not for others", async () => {
    const first = nextVoter();
    const second = nextVoter();
    await enrol(WATCHED, first, "district-north");
    await enrol(WATCHED, second, "district-north");
    const fromEe = await castFrom(WATCHED, await voterSession(WATCHED, first), NORTH_BALLOT, {
      ip: "10.63.3.5",
      country: "EE",
    });
    expect(fromEe.status).toBe(201);
    expect(await rows(WATCHED, "flagged-country-ballot")).toHaveLength(0);
    const fromRu = await castFrom(WATCHED, await voterSession(WATCHED, second), NORTH_BALLOT, {
      ip: "10.63.3.6",
      country: "RU",
    });
    expect(fromRu.status).toBe(201);
    const found = await rows(WATCHED, "flagged-country-ballot");
    expect(found.map((r) => [r.detail.country, r.detail.reason])).toEqual([["RU", "flagged-country"]]);
  });
});

describe("the monitor hears them", () => {
  it("counts five refused casts of one voter as repeated attempts, scoped to a numbered voter", async () => {
    const electionId = "sec-events-monitor";
    await loadDemoElection({ electionId, crossChannelPolicy: "first-wins" });
    const voter = nextVoter();
    await enrol(electionId, voter, "district-north");
    const session = await voterSession(electionId, voter);
    const from = { ip: "10.64.9.9", country: "EE" };
    expect((await castFrom(electionId, session, NORTH_BALLOT, from)).status).toBe(201);
    const open = () => securityMonitorFor(env, electionId).openAlerts() as unknown as Promise<Alert[]>;
    for (let i = 0; i < 4; i += 1) expect((await castFrom(electionId, session, NORTH_BALLOT, from)).status).toBe(409);
    expect((await open()).filter((a) => a.rule === "repeated-attempts")).toEqual([]);
    expect((await castFrom(electionId, session, NORTH_BALLOT, from)).status).toBe(409);
    const [alert, ...more] = (await open()).filter((a) => a.rule === "repeated-attempts");
    expect(more).toEqual([]);
    expect(alert?.scope).toMatch(/^voter:\d+$/);
    expect(JSON.stringify(alert)).not.toContain(from.ip);
    expect(JSON.stringify(alert)).not.toContain(await monitorVoterTag(env, electionId, await voterKeyFor(voter)));
  });
});

describe("station-signature-invalid", () => {
  let station: TestStation;
  beforeAll(async () => {
    station = await registerStation(["district-north"]);
  });

  async function send(
    stationId: string,
    body: string,
    options: { key?: Parameters<typeof signStationRequest>[0]; nonce?: string } = {},
  ): Promise<Response> {
    const path = `/v1/stations/${stationId}/check-ins`;
    const signature = await signStationRequest(options.key ?? station.privateJwk, {
      stationId,
      origin: BASE,
      method: "POST",
      path,
      body,
      ...(options.nonce ? { nonce: options.nonce } : {}),
    });
    return SELF.fetch(`${BASE}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "station-signature": signature, "cf-connecting-ip": "10.65.3.4" },
      body,
    });
  }

  function checkIn(electionId: string): string {
    return JSON.stringify({
      electionId,
      nationalId: nextVoter(),
      identity: { method: "id-card" },
      checkInId: crypto.randomUUID(),
    });
  }

  it("records a forged signature, an unknown station and a replayed nonce, each refused as before", async () => {
    const forger = await generateSigningKey(`${station.stationId}-k1`);
    const forged = await send(station.stationId, checkIn(PLAIN), { key: forger.privateJwk });
    expect([forged.status, await errorCode(forged)]).toEqual([401, "station_signature_invalid"]);
    const unknown = await send("st-no-such-station", checkIn(PLAIN));
    expect([unknown.status, await errorCode(unknown)]).toEqual([401, "station_unknown"]);
    const nonce = `nonce-${crypto.randomUUID()}`;
    const voter = nextVoter();
    await enrol(PLAIN, voter, "district-north");
    const first = JSON.stringify({
      electionId: PLAIN,
      nationalId: voter,
      identity: { method: "id-card" },
      checkInId: crypto.randomUUID(),
    });
    expect((await send(station.stationId, first, { nonce })).status).toBe(201);
    const replayed = await send(station.stationId, checkIn(PLAIN), { nonce });
    expect([replayed.status, await errorCode(replayed)]).toEqual([401, "station_request_replayed"]);

    const found = await rows(PLAIN, "station-signature-invalid");
    expect(found.map((r) => [r.detail.stationId, r.detail.reason, r.detail.network])).toEqual([
      [station.stationId, "station_signature_invalid", "10.65.3.0/24"],
      ["st-no-such-station", "station_unknown", "10.65.3.0/24"],
      [station.stationId, "station_request_replayed", "10.65.3.0/24"],
    ]);
    for (const row of found) expect(row.raw).not.toContain("10.65.3.4");
  });

  it("records a refusal whose body names no known election with a null election", async () => {
    const before = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM security_events WHERE election_id IS NULL AND kind = 'station-signature-invalid'",
    ).first<{ n: number }>();
    const res = await send("st-no-such-station", checkIn("sec-events-no-such-election"));
    expect([res.status, await errorCode(res)]).toEqual([401, "station_unknown"]);
    const after = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM security_events WHERE election_id IS NULL AND kind = 'station-signature-invalid'",
    ).first<{ n: number }>();
    expect((after?.n ?? 0) - (before?.n ?? 0)).toBe(1);
  });
});

describe("paper ballots that never reach the queues", () => {
  it("tells the monitor of a held scan, which check-ins-without-ballots counts as explained", async () => {
    const electionId = "sec-events-held";
    await loadDemoElection({
      electionId,
      crossChannelPolicy: "first-wins",
      monitoring: MonitoringSettings.parse({
        rules: { "check-ins-without-ballots": { graceBuckets: 1, minGap: 1, maxShare: 0 } },
      }),
    });
    const election = await compiledElection(electionId);
    const station = await registerStation(["district-north"], { serialRanges: [{ first: 62_000, last: 62_099 }] });
    // A voter who voted online, then checked in offline: the station's ballot for them is held.
    const voter = nextVoter();
    const voterKey = await enrol(electionId, voter, "district-north");
    const from = { ip: "10.67.1.1", country: "EE" };
    expect((await castFrom(electionId, await voterSession(electionId, voter), NORTH_BALLOT, from)).status).toBe(201);
    const envelope = newEnvelopeCode();
    const checkIn = await station.client.checkIn({
      electionId,
      voterRef: await sealVoterRef(env, electionId, station.stationId, voterKey),
      offline: { decidedAt: new Date(Date.now() - 60_000), envelope },
      identity: { method: "id-card" },
    });
    expect(checkIn.outcome).toBe("held");
    const qr = await markedBallotQr(station.bmd, election, "bs-north", 62_001, [
      { contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] },
      { contestId: "contest-parliament-north", optionIds: [] },
      { contestId: "contest-referendum-voting-age", optionIds: [] },
    ]);
    const scanned = await station.client.scan({ electionId, qr, scannedAt: new Date(), envelope });
    expect(scanned).toMatchObject({ held: true, replayed: false });
    // Six check-ins ten minutes ago, as the queue consumer reports them.
    const monitor = securityMonitorFor(env, electionId);
    await monitor.observe(electionId, [
      {
        kind: "check-in",
        at: Date.now() - 600_000,
        districtId: "district-north",
        stationId: station.stationId,
        count: 6,
      },
    ]);
    await monitor.evaluateNow(electionId);
    const open = await (monitor.openAlerts() as unknown as Promise<Alert[]>);
    const alert = open.find((a) => a.rule === "check-ins-without-ballots");
    expect(alert?.evidence).toMatchObject({ stationId: station.stationId, held: 1, spoiled: 0 });
  });

  it("tells the monitor of spoiled ballots, which check-ins-without-ballots counts as explained", async () => {
    const electionId = "sec-events-spoiled";
    await loadDemoElection({
      electionId,
      monitoring: MonitoringSettings.parse({
        rules: { "check-ins-without-ballots": { graceBuckets: 1, minGap: 1, maxShare: 0 } },
      }),
    });
    const station = await registerStation(["district-north"], { serialRanges: [{ first: 61_000, last: 61_099 }] });
    // Six check-ins ten minutes ago, as the queue consumer reports them.
    await securityMonitorFor(env, electionId).observe(electionId, [
      {
        kind: "check-in",
        at: Date.now() - 600_000,
        districtId: "district-north",
        stationId: station.stationId,
        count: 6,
      },
    ]);
    for (const serial of [61_001, 61_002]) {
      const answer = await station.client.cancelBallot({ electionId, serial, reason: "spoiled" });
      expect(answer).toMatchObject({ serial, replayed: false });
    }
    // A void ballot is no voter's: it explains no check-in.
    await station.client.cancelBallot({ electionId, serial: 61_003, reason: "void" });
    await securityMonitorFor(env, electionId).evaluateNow(electionId);
    const open = await (securityMonitorFor(env, electionId).openAlerts() as unknown as Promise<Alert[]>);
    const alert = open.find((a) => a.rule === "check-ins-without-ballots");
    expect(alert?.evidence).toMatchObject({ stationId: station.stationId, spoiled: 2, held: 0, gap: 4 });
  });
});

describe("rate-limited", () => {
  /** Spends `key`'s budget on `limiter` (the binding counts in fixed windows), then runs `ask`. */
  async function overLimit(limiter: RateLimit, key: string, budget: number, ask: () => Promise<Response>) {
    let res: Response | undefined;
    for (let attempt = 0; attempt < 2 && res?.status !== 429; attempt += 1) {
      for (let i = 0; i <= budget; i += 1) await limiter.limit({ key });
      res = await ask();
    }
    return res!;
  }

  it("records a cast over the address limit once a minute per address, under the path's election", async () => {
    const voter = nextVoter();
    await enrol(PLAIN, voter, "district-north");
    const session = await voterSession(PLAIN, voter);
    const from = { ip: "10.66.5.7", country: "EE" };
    const first = await overLimit(env.CAST_IP_LIMITER, from.ip, 600, () =>
      castFrom(PLAIN, session, NORTH_BALLOT, from),
    );
    expect([first.status, await codeOf(first)]).toEqual([429, "rate_limited"]);
    // A "not now" says when: clients under load back off instead of hammering.
    expect(first.headers.get("retry-after")).toBe("1");
    const second = await castFrom(PLAIN, session, NORTH_BALLOT, from);
    expect([second.status, await codeOf(second)]).toEqual([429, "rate_limited"]);
    const found = (await rows(PLAIN, "rate-limited")).filter((r) => r.detail.network === "10.66.5.0/24");
    expect(found.map((r) => r.detail.reason)).toEqual(["cast-address"]);
    for (const row of found) await expectNoVoterOrAddress(row, PLAIN, voter, from.ip);
  });

  it("records a public read over its limit with no election when the path names none", async () => {
    const ip = "10.66.6.8";
    const count = async () =>
      (
        await env.DB.prepare(
          "SELECT COUNT(*) AS n FROM security_events WHERE election_id IS NULL AND kind = 'rate-limited' AND detail_json LIKE ?",
        )
          .bind('%"10.66.6.0/24"%')
          .first<{ n: number }>()
      )?.n ?? 0;
    const res = await overLimit(env.PUBLIC_READ_LIMITER, `public-read:${ip}`, 600, () =>
      SELF.fetch(`${BASE}/v1/receipts/${"A".repeat(26)}`, { headers: { "cf-connecting-ip": ip } }),
    );
    expect([res.status, await codeOf(res)]).toEqual([429, "rate_limited"]);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await count()).toBe(1);
  });
});
