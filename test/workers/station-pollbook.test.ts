/**
 * The offline pollbook (GET /v1/stations/{id}/pollbook, lib/station/pollbook.ts) inside workerd:
 * the roll import computes each voter's pollbook id, the route pages the station's districts'
 * voters by keyset, each page is a JWS the published receipt keys verify, and nothing in a page is
 * a national id or opens at another station.
 */
import { env, SELF } from "cloudflare:test";
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { NationalId } from "../../lib/identity/national-id.ts";
import { RollChunkReport } from "../../lib/roll/format.ts";
import { POLLBOOK_JWS_TYPE, POLLBOOK_PAGE_SIZE, PollbookPage, pollbookEntryId } from "../../lib/station/pollbook.ts";
import { districtPollbookKey, openVoterRef } from "../../workers/voting/pollbook-keys.ts";
import { adminToken, BASE } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { voterKeyFor } from "./helpers/roll.ts";
import { refusal, registerStation, type TestStation } from "./helpers/station.ts";

/** The roll can be imported only before the polls open; a station may download its pollbook then. */
const BEFORE_POLLS = { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" };
const ELECTION = "pollbook-pages";

/** More north voters than a page holds, so north takes two pages and the keyset is exercised. */
const NORTH = POLLBOOK_PAGE_SIZE + 3;
const SOUTH = 7;
const EAST = 5;

function voters(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(5, "0")}`);
}
const north = voters("PBN", NORTH);
const south = voters("PBS", SOUTH);
const east = voters("PBE", EAST);

function csv(rows: readonly (readonly [string, string])[]): string {
  return `national_id,district\n${rows.map(([id, d]) => `${id},${d}`).join("\n")}\n`;
}

async function importRoll(electionId: string, body: string): Promise<RollChunkReport> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/roll`, {
    method: "POST",
    headers: { authorization: `Bearer ${await adminToken()}`, "content-type": "text/csv" },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return RollChunkReport.parse(await res.json());
}

async function expectedIds(electionId: string, districtId: string, ids: readonly string[]): Promise<string[]> {
  const key = await districtPollbookKey(env, electionId, districtId);
  return Promise.all(ids.map((id) => pollbookEntryId(key, NationalId.parse(id))));
}

function base64url(text: string): string {
  return btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

let jwks: JSONWebKeySet;

/** Verifies a page against the published keys and checks its header; answers its payload. */
async function verified(jws: string): Promise<PollbookPage> {
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ["EdDSA"] });
  expect(protectedHeader.typ).toBe(POLLBOOK_JWS_TYPE);
  expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
  return PollbookPage.parse(JSON.parse(new TextDecoder().decode(payload)));
}

/** Every page of a station's pollbook, verified, as the station downloads it. */
async function download(station: TestStation, electionId: string): Promise<{ pages: PollbookPage[]; raw: string[] }> {
  const pages: PollbookPage[] = [];
  const raw: string[] = [];
  let after: string | undefined;
  for (;;) {
    const jws = await station.client.pollbookPage(electionId, after);
    raw.push(jws);
    const page = await verified(jws);
    pages.push(page);
    if (page.next === null) break;
    after = page.next;
    expect(pages.length).toBeLessThan(20);
  }
  return { pages, raw };
}

let station: TestStation;
let other: TestStation;

beforeAll(async () => {
  jwks = await (await SELF.fetch(`${BASE}/v1/receipt-keys`)).json();
  await loadDemoElection({ electionId: ELECTION, polls: BEFORE_POLLS });
  const rows: [string, string][] = [
    ...north.map((id) => [id, "district-north"] as [string, string]),
    ...south.map((id) => [id.toLowerCase(), "district-south"] as [string, string]),
    ...east.map((id) => [id, "district-east"] as [string, string]),
  ];
  const report = await importRoll(ELECTION, csv(rows));
  expect(report).toMatchObject({ accepted: rows.length, written: rows.length });
  station = await registerStation(["district-south", "district-north"]);
  other = await registerStation(["district-north"]);
});

describe("the pollbook pages", () => {
  it("cover every voter of the station's districts exactly once, signed with the receipt key", async () => {
    const { pages, raw } = await download(station, ELECTION);
    // A full page is about 1.3 MB as a JWS (lib/station/pollbook.ts POLLBOOK_PAGE_SIZE).
    expect(raw[0]?.length).toBeLessThan(1_500_000);
    // North (5,003) is two pages, south one: three pages, numbered, one issuedAt, the same keys.
    expect(pages.map((p) => [p.page, p.entries.length])).toEqual([
      [0, POLLBOOK_PAGE_SIZE],
      [1, 3],
      [2, SOUTH],
    ]);
    expect(new Set(pages.map((p) => p.issuedAt)).size).toBe(1);
    const keys = {
      "district-north": await districtPollbookKey(env, ELECTION, "district-north"),
      "district-south": await districtPollbookKey(env, ELECTION, "district-south"),
    };
    for (const page of pages) {
      expect(page).toMatchObject({
        electionId: ELECTION,
        stationId: station.stationId,
        districtIds: ["district-north", "district-south"],
        keys,
      });
    }

    const entries = pages.flatMap((p) => p.entries);
    const ids = entries.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The ids are the roll's national ids under their district's key, normalised (south was
    // imported in lower case).
    expect(new Set(ids)).toEqual(
      new Set([
        ...(await expectedIds(ELECTION, "district-north", north)),
        ...(await expectedIds(ELECTION, "district-south", south)),
      ]),
    );
    const eastIds = new Set(await expectedIds(ELECTION, "district-east", east));
    expect(ids.filter((id) => eastIds.has(id))).toEqual([]);
    expect(new Set(entries.map((e) => `${e.districtId}:${e.ballotStyleId}`))).toEqual(
      new Set(["district-north:bs-north", "district-south:bs-south"]),
    );
  });

  it("hold no national id and no voter key, and a ref opens only for its own station", async () => {
    const { pages, raw } = await download(station, ELECTION);
    const text = raw.join("\n") + JSON.stringify(pages);
    expect(text).not.toMatch(/PB[NSE]-\d{5}/i);
    expect(text).not.toContain(await voterKeyFor(north[0] ?? ""));

    const [page] = pages;
    const entry = page?.entries[0];
    if (!entry) throw new Error("no entry");
    const northKey = await districtPollbookKey(env, ELECTION, "district-north");
    const nationalId = await (async () => {
      for (const id of north) if ((await pollbookEntryId(northKey, id)) === entry.id) return id;
      throw new Error("the entry's id matches no north voter");
    })();
    expect(await openVoterRef(env, ELECTION, station.stationId, entry.ref)).toBe(await voterKeyFor(nationalId));
    expect(await openVoterRef(env, ELECTION, other.stationId, entry.ref)).toBeUndefined();
    expect(await openVoterRef(env, "another-election", station.stationId, entry.ref)).toBeUndefined();

    // The other station's own pollbook names the same voter by the same id, under another ref.
    const theirs = (await download(other, ELECTION)).pages.flatMap((p) => p.entries);
    const same = theirs.find((e) => e.id === entry.id);
    expect(same?.ref).toBeDefined();
    expect(same?.ref).not.toBe(entry.ref);
    expect(await openVoterRef(env, ELECTION, other.stationId, same?.ref ?? "")).toBe(await voterKeyFor(nationalId));
  });

  it("refuses an unknown election, a station of none of its districts and a bad cursor", async () => {
    expect(await refusal(station.client.pollbookPage("no-such-election"))).toEqual({
      status: 404,
      code: "election_not_found",
    });
    const elsewhere = await registerStation(["district-nowhere"]);
    expect(await refusal(elsewhere.client.pollbookPage(ELECTION))).toEqual({
      status: 403,
      code: "station_wrong_district",
    });
    for (const after of [
      "not-a-cursor",
      base64url(JSON.stringify({ v: 1, t: new Date().toISOString(), d: 5, a: "", n: 1 })),
    ])
      expect(await refusal(station.client.pollbookPage(ELECTION, after))).toEqual({
        status: 400,
        code: "invalid_request",
      });
    // An extra query parameter, or a missing election, is refused too.
    expect(await refusal(station.client.call("GET", `/v1/stations/${station.stationId}/pollbook`))).toMatchObject({
      status: 400,
    });
    expect(
      await refusal(
        station.client.call("GET", `/v1/stations/${station.stationId}/pollbook?electionId=${ELECTION}&limit=9`),
      ),
    ).toEqual({ status: 400, code: "invalid_request" });
  });
});

it("is described in the OpenAPI document with the cancellation route", async () => {
  const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining(["/v1/stations/{stationId}/pollbook", "/v1/stations/{stationId}/cancellations"]),
  );
});

describe("a roll imported before pollbook ids", () => {
  it("leaves its voters out until the roll is imported again, which fills their ids", async () => {
    const electionId = "pollbook-reimport";
    await loadDemoElection({ electionId, polls: BEFORE_POLLS });
    const ids = voters("PBR", 12);
    const roll = csv(ids.map((id) => [id, "district-north"] as const));
    await importRoll(electionId, roll);
    const northOnly = await registerStation(["district-north"]);
    expect((await download(northOnly, electionId)).pages.flatMap((p) => p.entries)).toHaveLength(12);

    // As rows stored by the import before this change: no pollbook id.
    const stale = ids.slice(0, 5);
    const staleKeys = await Promise.all(stale.map((id) => voterKeyFor(id)));
    for (const key of staleKeys)
      await env.DB.prepare("UPDATE voters SET pollbook_id = NULL WHERE election_id = ? AND voter_key = ?")
        .bind(electionId, key)
        .run();
    const before = (await download(northOnly, electionId)).pages.flatMap((p) => p.entries.map((e) => e.id));
    expect(before).toHaveLength(7);
    expect(before).not.toContain((await expectedIds(electionId, "district-north", stale))[0]);

    expect(await importRoll(electionId, roll)).toMatchObject({ accepted: 12, written: 5, unchanged: 7 });
    const after = (await download(northOnly, electionId)).pages.flatMap((p) => p.entries.map((e) => e.id));
    expect(new Set(after)).toEqual(new Set(await expectedIds(electionId, "district-north", ids)));
    // And again: nothing left to change.
    expect(await importRoll(electionId, roll)).toMatchObject({ written: 0, unchanged: 12 });
  });

  it("gives a voter moved to another district the id under the new district's key", async () => {
    const electionId = "pollbook-moved";
    await loadDemoElection({ electionId, polls: BEFORE_POLLS });
    await importRoll(electionId, csv([["PBM-00001", "district-north"]]));
    await importRoll(electionId, csv([["PBM-00001", "district-south"]]));
    const row = await env.DB.prepare("SELECT district_id, pollbook_id FROM voters WHERE election_id = ?")
      .bind(electionId)
      .first<{ district_id: string; pollbook_id: string }>();
    expect(row).toEqual({
      district_id: "district-south",
      pollbook_id: (await expectedIds(electionId, "district-south", ["PBM-00001"]))[0],
    });
  });
});
