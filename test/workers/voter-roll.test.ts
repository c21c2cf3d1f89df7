/**
 * The voter roll import inside workerd, through the real routes and D1: counts, keyed hashes,
 * idempotence, per-row rejections with the file's line numbers, whole-chunk refusals that write
 * nothing, and who may do what.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_CHUNK_BYTES, MAX_CHUNK_ROWS, RollChunkReport, RollSummary } from "../../lib/roll/format.ts";
import { checkSyntheticRoll, syntheticRollText } from "../../lib/roll/generate.ts";
import { adminToken, BASE, officialToken } from "./helpers/auth.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { voterKeyFor } from "./helpers/roll.ts";

/** The roll is fixed once the polls open (authority-log.test.ts): these elections have not opened. */
const BEFORE_POLLS = { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" };

const DEMO_DISTRICTS = ["district-north", "district-south", "district-east"];

/** elections/demo/voters.csv, which test/node/voter-roll-file.test.ts checks against the generator. */
function demoRoll(count = 1000, prefix = "DEMO"): string {
  const options = checkSyntheticRoll({ count, districts: DEMO_DISTRICTS, prefix });
  if (!options.ok) throw new Error(options.error);
  return [...syntheticRollText(options.value)].join("");
}

let admin: string;
let auditor: string;

beforeAll(async () => {
  admin = await adminToken();
  auditor = await officialToken("auditor");
});

function rollUrl(electionId: string, firstLine?: number): string {
  return `${BASE}/v1/admin/elections/${electionId}/roll${firstLine === undefined ? "" : `?firstLine=${firstLine}`}`;
}

async function postRoll(
  electionId: string,
  body: string | Uint8Array,
  options: { firstLine?: number; token?: string | null; contentType?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? admin : options.token;
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  const contentType = options.contentType === undefined ? "text/csv" : options.contentType;
  if (contentType !== null) headers["content-type"] = contentType;
  return SELF.fetch(rollUrl(electionId, options.firstLine), { method: "POST", headers, body });
}

async function imported(electionId: string, body: string, firstLine?: number): Promise<RollChunkReport> {
  const res = await postRoll(electionId, body, firstLine === undefined ? {} : { firstLine });
  expect(res.status, await res.clone().text()).toBe(200);
  return RollChunkReport.parse(await res.json());
}

async function summary(electionId: string, token = admin): Promise<RollSummary> {
  const res = await SELF.fetch(rollUrl(electionId), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return RollSummary.parse(await res.json());
}

async function errorOf(
  res: Response,
): Promise<{ status: number; code: string; problems?: { path: string; message: string }[] }> {
  const body: { error: { code: string; problems?: { path: string; message: string }[] } } = await res.json();
  return {
    status: res.status,
    code: body.error.code,
    ...(body.error.problems ? { problems: body.error.problems } : {}),
  };
}

describe("importing the roll", () => {
  it("imports the demo roll and counts it per district", async () => {
    await loadDemoElection({ electionId: "roll-happy", polls: BEFORE_POLLS });
    const report = await imported("roll-happy", demoRoll(), 2);
    expect(report).toEqual({
      electionId: "roll-happy",
      firstLine: 2,
      rows: 1000,
      accepted: 1000,
      written: 1000,
      unchanged: 0,
      rejected: [],
      rejectedTotal: 0,
    });
    expect(await summary("roll-happy")).toEqual({
      electionId: "roll-happy",
      total: 1000,
      byDistrict: { "district-east": 333, "district-north": 334, "district-south": 333 },
    });
  });

  it("stores only keyed hashes: no national id anywhere in D1", async () => {
    await loadDemoElection({ electionId: "roll-hashed", polls: BEFORE_POLLS });
    await imported("roll-hashed", demoRoll());
    const rows = await env.DB.prepare(
      "SELECT voter_key, district_id FROM voters WHERE election_id = ? ORDER BY voter_key",
    )
      .bind("roll-hashed")
      .all<{ voter_key: string; district_id: string }>();
    expect(rows.results).toHaveLength(1000);
    for (const row of rows.results) expect(row.voter_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rows.results).toContainEqual({ voter_key: await voterKeyFor("DEMO-0001"), district_id: "district-north" });
    expect(rows.results).toContainEqual({ voter_key: await voterKeyFor("demo-0002"), district_id: "district-south" });

    // Every table, every column: nothing that looks like a demo national id, hashed or not.
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    ).all<{ name: string }>();
    expect(tables.results.map((t) => t.name)).toContain("voters");
    for (const { name } of tables.results) {
      const all = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      expect(JSON.stringify(all.results), name).not.toMatch(/DEMO-\d{4}/i);
    }
  });

  it("is idempotent: a re-import writes nothing, a moved voter is one write", async () => {
    await loadDemoElection({ electionId: "roll-again", polls: BEFORE_POLLS });
    const roll = demoRoll();
    await imported("roll-again", roll);
    expect(await imported("roll-again", roll)).toMatchObject({
      rows: 1000,
      accepted: 1000,
      written: 0,
      unchanged: 1000,
      rejectedTotal: 0,
    });

    const moved = roll
      .replace("DEMO-0001,district-north", "DEMO-0001,district-east")
      .replace("DEMO-0002,district-south", "DEMO-0002,district-east");
    expect(await imported("roll-again", moved)).toMatchObject({ accepted: 1000, written: 2, unchanged: 998 });
    expect((await summary("roll-again")).byDistrict).toEqual({
      "district-east": 335,
      "district-north": 333,
      "district-south": 332,
    });
    expect(await imported("roll-again", moved)).toMatchObject({ written: 0, unchanged: 1000 });
  });

  it("rejects bad rows with the file's line numbers and writes the good ones", async () => {
    await loadDemoElection({ electionId: "roll-rejects", polls: BEFORE_POLLS });
    const chunk = [
      "district,national_id", // either order
      "district-north,GOOD-0001", // line 101
      "district-north,?!", // 102: bad national id
      "district-atlantis,GOOD-0002", // 103: no such district
      "", // 104: blank, not a row
      "district-south,good-0001", // 105: same id as line 101 once normalised
      "district-south", // 106: one field
      "district-south,GOOD-0003,extra", // 107: three fields
      '"district-east"," GOOD-0004 "', // 108: quoted, trimmed: good
      "",
    ].join("\r\n");
    const report = await imported("roll-rejects", chunk, 101);
    expect(report).toMatchObject({ firstLine: 101, rows: 7, accepted: 2, written: 2, unchanged: 0, rejectedTotal: 5 });
    expect(report.rejected.map((r) => r.line)).toEqual([102, 103, 105, 106, 107]);
    expect(report.rejected[0]?.reason).toMatch(/^national_id: /);
    expect(report.rejected[1]?.reason).toMatch(/"district-atlantis" has no ballot style/);
    expect(report.rejected[2]?.reason).toMatch(/already on line 101/);
    expect(report.rejected[3]?.reason).toMatch(/found 1/);
    expect(report.rejected[4]?.reason).toMatch(/found 3/);
    expect(JSON.stringify(report)).not.toMatch(/GOOD-/i);
    expect(await summary("roll-rejects")).toMatchObject({
      total: 2,
      byDistrict: { "district-north": 1, "district-east": 1 },
    });
  });

  it("lists at most 1,000 rejected rows per chunk and counts them all", async () => {
    await loadDemoElection({ electionId: "roll-many-rejects", polls: BEFORE_POLLS });
    const rows = Array.from({ length: 1500 }, (_, i) => `BAD-${i},district-nowhere`);
    const report = await imported("roll-many-rejects", `national_id,district\n${rows.join("\n")}\n`);
    expect(report).toMatchObject({ rows: 1500, accepted: 0, written: 0, rejectedTotal: 1500 });
    expect(report.rejected).toHaveLength(1000);
    expect(report.rejected[999]?.line).toBe(1001);
  });
});

describe("refusing a chunk as a whole, writing nothing", () => {
  const ELECTION = "roll-refusals";
  beforeAll(async () => {
    await loadDemoElection({ electionId: ELECTION, polls: BEFORE_POLLS });
  });

  async function refused(
    res: Promise<Response>,
    status: number,
    code: string,
  ): Promise<{ problems?: { path: string; message: string }[] }> {
    const error = await errorOf(await res);
    expect(error).toMatchObject({ status, code });
    expect((await summary(ELECTION)).total).toBe(0);
    return error;
  }

  it("a bad header", async () => {
    await refused(postRoll(ELECTION, "national_id,district,name\nAB-0001,district-north,Ann\n"), 422, "invalid_roll");
    await refused(postRoll(ELECTION, "id,district\nAB-0001,district-north\n"), 422, "invalid_roll");
    await refused(postRoll(ELECTION, ""), 422, "invalid_roll");
  });

  it("a body that is not CSV", async () => {
    const error = await refused(
      postRoll(ELECTION, 'national_id,district\nAB-0001,district-north\n"AB-0002,district-north\n', { firstLine: 40 }),
      422,
      "invalid_roll",
    );
    expect(error.problems).toEqual([{ path: "line 41", message: expect.stringContaining("Quote Not Closed") }]);
    await refused(postRoll(ELECTION, new Uint8Array([0x6e, 0x61, 0xff, 0xfe, 0x00, 0x0a])), 422, "invalid_roll");
  });

  it("more rows than a chunk may hold", async () => {
    const rows = Array.from({ length: MAX_CHUNK_ROWS + 1 }, (_, i) => `AB-${i},district-north`);
    await refused(postRoll(ELECTION, `national_id,district\n${rows.join("\n")}\n`), 413, "payload_too_large");
  });

  it("more bytes than a chunk may hold", async () => {
    const line = `AB-0001,district-north${" ".repeat(1000)}\n`;
    const body = `national_id,district\n${line.repeat(Math.ceil(MAX_CHUNK_BYTES / line.length))}`;
    await refused(postRoll(ELECTION, body), 413, "payload_too_large");
    // Without a Content-Length the Worker counts as it reads.
    const stream = new Blob([body]).stream();
    await refused(
      SELF.fetch(rollUrl(ELECTION), {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" },
        body: stream,
      }),
      413,
      "payload_too_large",
    );
  });

  it("the wrong content type", async () => {
    const csv = "national_id,district\nAB-0001,district-north\n";
    await refused(postRoll(ELECTION, csv, { contentType: "application/json" }), 415, "unsupported_media_type");
    await refused(postRoll(ELECTION, csv, { contentType: "text/plain" }), 415, "unsupported_media_type");
    await refused(postRoll(ELECTION, csv, { contentType: "text/csv; charset=latin1" }), 415, "unsupported_media_type");
    await refused(postRoll(ELECTION, csv, { contentType: null }), 415, "unsupported_media_type");
    // and the right one, with its parameter, is taken
    expect((await postRoll(ELECTION, csv, { contentType: "text/csv; charset=UTF-8" })).status).toBe(200);
  });

  it("a firstLine that is not a line", async () => {
    for (const firstLine of ["0", "1", "x", "-5", "2.5"]) {
      const res = await SELF.fetch(`${rollUrl(ELECTION)}?firstLine=${firstLine}`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" },
        body: "national_id,district\n",
      });
      expect(await errorOf(res)).toMatchObject({ status: 400, code: "invalid_request" });
    }
  });
});

describe("who may touch the roll", () => {
  const ELECTION = "roll-roles";
  const csv = "national_id,district\nAB-0001,district-north\n";
  beforeAll(async () => {
    await loadDemoElection({ electionId: ELECTION, polls: BEFORE_POLLS });
  });

  it("needs a token", async () => {
    expect(await errorOf(await postRoll(ELECTION, csv, { token: null }))).toMatchObject({
      status: 401,
      code: "unauthenticated",
    });
    expect(await errorOf(await SELF.fetch(rollUrl(ELECTION)))).toMatchObject({ status: 401, code: "unauthenticated" });
  });

  it("lets an auditor count but not import; a station official neither", async () => {
    expect(await errorOf(await postRoll(ELECTION, csv, { token: auditor }))).toMatchObject({
      status: 403,
      code: "forbidden",
    });
    expect(await summary(ELECTION, auditor)).toEqual({ electionId: ELECTION, total: 0, byDistrict: {} });
    const station = await officialToken("station-official");
    expect(await errorOf(await postRoll(ELECTION, csv, { token: station }))).toMatchObject({
      status: 403,
      code: "forbidden",
    });
    expect(
      await errorOf(await SELF.fetch(rollUrl(ELECTION), { headers: { authorization: `Bearer ${station}` } })),
    ).toMatchObject({ status: 403, code: "forbidden" });
  });

  it("answers 404 for an election that does not exist", async () => {
    expect(await errorOf(await postRoll("no-such-election", csv))).toMatchObject({
      status: 404,
      code: "election_not_found",
    });
    expect(
      await errorOf(await SELF.fetch(rollUrl("no-such-election"), { headers: { authorization: `Bearer ${admin}` } })),
    ).toMatchObject({ status: 404, code: "election_not_found" });
  });
});

it("describes both routes in the OpenAPI document, the import as text/csv", async () => {
  const doc: { paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>> } = await (
    await SELF.fetch(`${BASE}/openapi.json`)
  ).json();
  const path = doc.paths["/v1/admin/elections/{electionId}/roll"];
  expect(Object.keys(path ?? {}).sort()).toEqual(["get", "post"]);
  expect(Object.keys(path?.["post"]?.requestBody?.content ?? {})).toEqual(["text/csv"]);
});
