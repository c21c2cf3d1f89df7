/**
 * The results exports and their certification inside workerd: nothing is exported or certifiable
 * before the last cast vote records are in the log; then the sequencer puts the signed NIST
 * results report and CVR export beside the log (their digests in a results-published entry), the
 * public routes serve them immutable, their JWS verify with the log's key, they say what the log's
 * records say, a rebuild gives the same bytes (crash repair), and certification is refused with
 * registered codes until published, for non-administrators, for bad bodies and the second time.
 * When the tally and the log's records disagree nothing is exported and the status says why,
 * until they agree.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeEntry, type LogEntryOf } from "../../lib/audit/entries.ts";
import { LogAuditor } from "../../lib/audit/recount.ts";
import { sha256Hex } from "../../lib/digest.ts";
import { hexEncode } from "../../lib/bytes.ts";
import { totalsDifferences } from "../../lib/nist/compare.ts";
import { readCvrReport } from "../../lib/nist/cvr-report.ts";
import { verifyDetached } from "../../lib/nist/jws.ts";
import { readResultsReport } from "../../lib/nist/results-report.ts";
import { parseVerifierKey } from "../../lib/tlog/note.ts";
import { logVerifierKey } from "../../durable-objects/log-key.ts";
import { prepareExports } from "../../durable-objects/log-exports.ts";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { cast, EAST_BALLOT, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const ELECTION = "exports-close-soon";
/** An election whose sequencer crashes between the exports' R2 puts and their entry. */
const CRASHED = "exports-crashed";
/** The CRASHED sequencer's instance before the crash (the alarm may crash it during other tests). */
let crashedInstance = "";
/** An election whose tally is made to disagree with its log's records. */
const SKEWED = "exports-skewed";
const CLOSES_IN_MS = 8_000;
let closesAt = 0;

async function call(method: string, path: string, token?: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

async function codeOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

interface ExportsStatus {
  published: boolean;
  state: string;
  reason: string | null;
  resultsSha256: string | null;
  cvrSha256: string | null;
  paths: { results: string; resultsSignature: string; cvr: string; cvrSignature: string };
  certified: { at: string; officialId: string } | null;
}

const certifyPath = `/v1/admin/elections/${ELECTION}/results/certify`;
const exportsPath = `/v1/admin/elections/${ELECTION}/results/exports`;

beforeAll(async () => {
  closesAt = await loadClosingSoonDemo(ELECTION, CLOSES_IN_MS);
  const voters: [string, string, typeof NORTH_BALLOT][] = [
    ["EE-EXPORT-0001", "district-north", NORTH_BALLOT],
    ["EE-EXPORT-0002", "district-north", NORTH_BALLOT],
    ["EE-EXPORT-0003", "district-east", EAST_BALLOT],
  ];
  for (const [nationalId, district, ballot] of voters) {
    await enrol(ELECTION, nationalId, district);
    const res = await cast(ELECTION, await voterSession(ELECTION, nationalId), ballot);
    expect(res.status).toBe(201);
  }
  await loadClosingSoonDemo(CRASHED, CLOSES_IN_MS);
  await enrol(CRASHED, "EE-CRASHED-0001", "district-east");
  expect((await cast(CRASHED, await voterSession(CRASHED, "EE-CRASHED-0001"), EAST_BALLOT)).status).toBe(201);
  await sequencer(CRASHED).injectFault("exports", "crash");
  crashedInstance = (await sequencer(CRASHED).faultState()).instance;
  await loadClosingSoonDemo(SKEWED, CLOSES_IN_MS);
  await enrol(SKEWED, "EE-SKEWED-0001", "district-north");
  expect((await cast(SKEWED, await voterSession(SKEWED, "EE-SKEWED-0001"), NORTH_BALLOT)).status).toBe(201);
  // A tally shard of the east, where nobody voted, reports a ballot the log will never have.
  await env.RESULTS.get(env.RESULTS.idFromName(SKEWED)).report(`${SKEWED}/district-east/0`, 1, {
    districtId: "district-east",
    ballots: 1,
    contests: [
      {
        contestId: "contest-president",
        options: [{ optionId: "sel-president-liis-kask", votes: 1 }],
        writeIns: 0,
        blanks: 0,
      },
    ],
  });
}, 30_000);

describe("before the exports", () => {
  it("certification is refused with registered codes, and nothing is served", async () => {
    const admin = await adminToken();
    expect(await codeOf(await call("POST", certifyPath))).toBe("unauthenticated");
    expect(await codeOf(await call("POST", certifyPath, await officialToken("auditor")))).toBe("forbidden");
    const early = await call("POST", certifyPath, admin);
    expect(early.status).toBe(409);
    expect(await codeOf(early)).toBe("results_not_published");
    const status = (await (await call("GET", exportsPath, admin)).json()) as ExportsStatus;
    expect(status).toMatchObject({ published: false, state: "not-due", resultsSha256: null, certified: null });
    const missing = await call("GET", `/v1/logs/${ELECTION}/exports/results.json`);
    expect(missing.status).toBe(404);
    expect(await codeOf(missing)).toBe("exports_not_published");
    expect((await call("GET", `/v1/logs/${ELECTION}/exports/other.json`)).status).toBe(400);
    const unknown = await call("POST", `/v1/admin/elections/no-such-election/results/certify`, admin);
    expect(await codeOf(unknown)).toBe("election_not_found");
  });
});

it("the OpenAPI document describes the exports and certification routes", async () => {
  const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining([
      "/v1/logs/{electionId}/exports/{file}",
      "/v1/admin/elections/{electionId}/results/exports",
      "/v1/admin/elections/{electionId}/results/certify",
    ]),
  );
});

describe("after the last cast vote records", () => {
  let status: ExportsStatus;

  it("the sequencer exports once the records are in the log, and logs their digests", async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 200)));
    const admin = await adminToken();
    status = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const s = (await (await call("GET", exportsPath, admin)).json()) as ExportsStatus;
      return s.published ? s : undefined;
    }, 30_000);
    expect(status.state).toBe("published");
    expect(status.resultsSha256).toMatch(/^[0-9a-f]{64}$/);
    const log = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const l = await readPublishedLog(ELECTION);
      return l.decoded.some((e) => e.type === "results-published") ? l : undefined;
    });
    const auditor = new LogAuditor();
    for (const [i, e] of log.decoded.entries()) await auditor.add(i, e);
    const findings = auditor.finish();
    expect(findings.problems).toEqual([]);
    expect(findings.resultsPublished?.entry).toMatchObject({
      resultsSha256: status.resultsSha256,
      cvrSha256: status.cvrSha256,
      records: findings.records.length,
    });
    expect(findings.records.length).toBe(10); // 2 ballots x 3 north contests + 1 x 4 east contests (one left blank)
  }, 60_000);

  it("serves both exports immutable, signed by the log's key, saying what the log's records say", async () => {
    const vkey = parseVerifierKey(await logVerifierKey(env, ELECTION));
    if (!vkey.ok) throw new Error(vkey.error);
    const log = await readPublishedLog(ELECTION);
    const auditor = new LogAuditor();
    for (const [i, e] of log.decoded.entries()) await auditor.add(i, e);
    const findings = auditor.finish();
    for (const [file, digest] of [
      ["results.json", status.resultsSha256],
      ["cvr.json", status.cvrSha256],
    ] as const) {
      const res = await call("GET", `/v1/logs/${ELECTION}/exports/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect(res.headers.get("content-type")).toBe("application/json");
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(sha256Hex(bytes)).toBe(digest);
      const jws = await call("GET", `/v1/logs/${ELECTION}/exports/${file}.jws`);
      expect(jws.status).toBe(200);
      const signature = new TextDecoder().decode(await jws.arrayBuffer());
      expect(await verifyDetached(signature, bytes, vkey.value.publicKey)).toMatchObject({ ok: true });
      const changed = bytes.slice();
      changed[bytes.length - 3] = (changed[bytes.length - 3] ?? 0) ^ 1;
      expect((await verifyDetached(signature, changed, vkey.value.publicKey)).ok).toBe(false);
      const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (file === "results.json") {
        const read = readResultsReport(json);
        expect(read.ok && totalsDifferences(findings.recount, read.value, "log", "report")).toEqual([]);
      } else {
        const read = readCvrReport(json);
        expect(read.ok && read.value.map((r) => hexEncode(encodeEntry(r)))).toEqual(
          findings.records.map((r) => hexEncode(encodeEntry(r))),
        );
      }
    }
  });

  it("a rebuild from stored state gives the same bytes (a crash after the puts is repaired by the same objects)", async () => {
    const entry = (await readPublishedLog(ELECTION)).decoded.find(
      (e): e is LogEntryOf<"results-published"> => e.type === "results-published",
    );
    if (!entry) throw new Error("no results-published entry");
    const rebuilt = await prepareExports(env, ELECTION, entry.logSize, "per-contest", entry.at);
    expect(rebuilt.ok && [rebuilt.value.resultsSha256, rebuilt.value.cvrSha256]).toEqual([
      entry.resultsSha256,
      entry.cvrSha256,
    ]);
  });

  it("certification: bad bodies refused without effect, then once, then already certified", async () => {
    const admin = await adminToken();
    const bad = await call("POST", certifyPath, admin, { statement: 5 });
    expect(bad.status).toBe(400);
    expect((await call("POST", certifyPath, admin, "{not json")).status).toBe(400);
    expect((await call("POST", certifyPath, admin, { statement: "x", extra: 1 })).status).toBe(400);
    expect(((await (await call("GET", exportsPath, admin)).json()) as ExportsStatus).certified).toBeNull();

    const ok = await call("POST", certifyPath, admin, { statement: "Certified after the canvass." });
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as { resultsSha256: string; officialId: string };
    expect(body.resultsSha256).toBe(status.resultsSha256);
    const again = await call("POST", certifyPath, admin);
    expect(again.status).toBe(409);
    expect(await codeOf(again)).toBe("results_already_certified");
    const after = (await (await call("GET", exportsPath, admin)).json()) as ExportsStatus;
    expect(after.certified?.officialId).toBe(body.officialId);

    const certified = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const found = (await readPublishedLog(ELECTION)).decoded.filter((e) => e.type === "results-certified");
      return found.length > 0 ? found : undefined;
    });
    expect(certified).toEqual([
      expect.objectContaining({
        resultsSha256: status.resultsSha256,
        officialId: body.officialId,
        statement: "Certified after the canvass.",
      }),
    ]);
  }, 30_000);
});

describe("when the tally and the log's records disagree", () => {
  it("nothing is exported and the status says why, until they agree", async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 200)));
    const waiting = await waitFor(async () => {
      await sequencer(SKEWED).sequenceNow();
      const { exports } = await sequencer(SKEWED).status();
      return exports.state === "waiting" && exports.reason?.includes("disagree") ? exports : undefined;
    }, 30_000);
    expect(waiting.reason).toContain("district district-east, ballots: the tally 1, the log's records 0");
    expect(waiting.resultsSha256).toBeNull();
    expect(await env.AUDIT_LOG.get(`logs/${SKEWED}/exports/results.json`)).toBeNull();
    const admin = await adminToken();
    const refused = await call("POST", `/v1/admin/elections/${SKEWED}/results/certify`, admin);
    expect(await codeOf(refused)).toBe("results_not_published");
    const shown = (await (
      await call("GET", `/v1/admin/elections/${SKEWED}/results/exports`, admin)
    ).json()) as ExportsStatus;
    expect(shown).toMatchObject({ published: false, state: "waiting" });
    expect(shown.reason).toContain("disagree");

    // The shard's next report takes the ballot back: the channels agree, and the export follows.
    await env.RESULTS.get(env.RESULTS.idFromName(SKEWED)).report(`${SKEWED}/district-east/0`, 2, {
      districtId: "district-east",
      ballots: 0,
      contests: [],
    });
    const published = await waitFor(async () => {
      await sequencer(SKEWED).sequenceNow();
      const { exports } = await sequencer(SKEWED).status();
      return exports.state === "published" ? exports : undefined;
    }, 30_000);
    expect(published.reason).toBeNull();
    expect(await env.AUDIT_LOG.get(`logs/${SKEWED}/exports/results.json`)).not.toBeNull();
  }, 60_000);
});

describe("a crash between the exports' R2 puts and their entry", () => {
  it("is repaired by the next try: the same objects, and results-published logged once", async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 200)));
    await waitFor(async () => {
      try {
        await sequencer(CRASHED).sequenceNow();
        const { exports } = await sequencer(CRASHED).status();
        return exports.state === "published" ? exports : undefined;
      } catch {
        return undefined; // the crash breaks the call that was running
      }
    }, 30_000);
    const after = await sequencer(CRASHED).faultState();
    expect(after.pending).toEqual([]);
    expect(after.instance).not.toBe(crashedInstance);
    const log = await waitFor(async () => {
      await sequencer(CRASHED).sequenceNow();
      const l = await readPublishedLog(CRASHED);
      return l.decoded.some((e) => e.type === "results-published") ? l : undefined;
    });
    const published = log.decoded.filter((e) => e.type === "results-published");
    expect(published).toHaveLength(1);
    const object = await env.AUDIT_LOG.get(`logs/${CRASHED}/exports/results.json`);
    expect(object && sha256Hex(new Uint8Array(await object.arrayBuffer()))).toBe(published[0]?.resultsSha256);
  }, 60_000);
});
