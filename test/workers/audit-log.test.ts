/**
 * The audit log end to end inside workerd: election events from the admin routes, ballots from
 * the queue consumer, receipts that resolve to inclusion proofs, the public read-only routes,
 * and, after the polls close, cast vote records that recount to the published results (with a
 * re-vote under paper-supersedes, so one ballot is retracted and never published).
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeEntry } from "../../lib/audit/entries.ts";
import { compareWithResults, LogAuditor, PublishedResults } from "../../lib/audit/recount.ts";
import { verifyInclusionBundle, parseInclusionProof } from "../../lib/tlog/proof.ts";
import { entriesPath } from "../../lib/tlog/tiles.ts";
import { adminToken, BASE, newOfficialKey, voterSession } from "./helpers/auth.ts";
import { readPublishedLog, sequencer } from "./helpers/audit-log.ts";
import { cast, EAST_BALLOT, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo, loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { logPaperCancellation, logStationResults } from "../../workers/audit/log.ts";

const ELECTION = "audit-close-soon";
const OPEN = "audit-open";
const ROLLED = "audit-rolled";
const CLOSES_IN_MS = 12_000;
let closesAt = 0;

interface Receipt {
  trackingCode: string;
  commitment: string;
}

let voters = 0;
async function newVoter(electionId: string, district: string): Promise<string> {
  voters += 1;
  const nationalId = `EE-AUDIT-${String(voters).padStart(4, "0")}`;
  await enrol(electionId, nationalId, district);
  return voterSession(electionId, nationalId);
}

async function castOk(electionId: string, session: string, ballot: typeof NORTH_BALLOT): Promise<Receipt> {
  const res = await cast(electionId, session, ballot);
  expect(res.status).toBe(201);
  return res.json();
}

async function admin(method: string, path: string): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${await adminToken()}` } });
}

const receipts: Receipt[] = [];
let superseded: Receipt;

beforeAll(async () => {
  closesAt = await loadClosingSoonDemo(ELECTION, CLOSES_IN_MS, {
    crossChannelPolicy: "paper-supersedes",
    resultsVisibility: "after-close",
  });
  await loadDemoElection({ electionId: OPEN, crossChannelPolicy: "first-wins" });
  const north = await newVoter(ELECTION, "district-north");
  superseded = await castOk(ELECTION, north, NORTH_BALLOT);
  // The same voter votes again: the first ballot is retracted and must never be published.
  receipts.push(
    await castOk(ELECTION, north, [
      { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
      ...NORTH_BALLOT.slice(1),
    ]),
  );
  receipts.push(await castOk(ELECTION, await newVoter(ELECTION, "district-north"), NORTH_BALLOT));
  receipts.push(await castOk(ELECTION, await newVoter(ELECTION, "district-east"), EAST_BALLOT));
}, 30_000);

describe("receipts", () => {
  it("resolve to their leaf index and to an inclusion proof that verifies against the log's key", async () => {
    const vkey = (await (await SELF.fetch(`${BASE}/v1/logs/${ELECTION}/verifier-key`)).text()).trim();
    const info: { origin: string; verifierKey: string } = await (
      await SELF.fetch(`${BASE}/v1/logs/${ELECTION}`)
    ).json();
    expect(info.verifierKey).toBe(vkey);
    for (const receipt of [superseded, ...receipts]) {
      const status = await waitFor(async () => {
        const res = await SELF.fetch(`${BASE}/v1/receipts/${receipt.trackingCode}`);
        const body: { log?: { leafIndex: number; proofUrl: string } } = await res.json();
        return body.log;
      });
      const proofRes = await SELF.fetch(status.proofUrl);
      expect(proofRes.status).toBe(200);
      // Public and the same for everyone: the edge keeps it a few seconds (security review M9).
      expect(proofRes.headers.get("cache-control")).toBe("public, max-age=5");
      const text = await proofRes.text();
      const bundle = parseInclusionProof(text);
      if (!bundle.ok || !bundle.value.extraData) throw new Error("no proof bundle");
      const verified = await verifyInclusionBundle(text, bundle.value.extraData, [vkey], info.origin);
      expect(verified.ok).toBe(true);
      expect(bundle.value.index).toBe(status.leafIndex);
      const entry = decodeEntry(bundle.value.extraData);
      expect(entry.ok && entry.value.type === "ballot" && entry.value.commitment).toBe(receipt.commitment);
    }
  });

  it("say receipt_not_found for an unknown tracking code", async () => {
    const res = await SELF.fetch(`${BASE}/v1/receipts/ZZZZ-ZZZZ-ZZZZ-ZZZZ/proof`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("receipt_not_found");
  });
});

describe("the public log routes", () => {
  it("serve the checkpoint uncached and tiles as immutable, and refuse paths that are not tiles", async () => {
    await waitFor(async () => ((await sequencer(ELECTION).status()).publishedSize > 0 ? true : undefined));
    const checkpoint = await SELF.fetch(`${BASE}/v1/logs/${ELECTION}/checkpoint`);
    expect(checkpoint.status).toBe(200);
    expect(checkpoint.headers.get("cache-control")).toBe("no-store");
    expect(checkpoint.headers.get("content-type")).toMatch(/^text\/plain/);
    const size = Number((await checkpoint.text()).split("\n")[1]);
    const tile = await SELF.fetch(`${BASE}/v1/logs/${ELECTION}/${entriesPath(0, Math.min(size, 256))}`);
    expect(tile.status).toBe(200);
    expect(tile.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    for (const bad of [
      "tile/entries/0",
      "tile/0/x000/001",
      "tile/0/000.p/256",
      "tile/64/000",
      "tile/entries/000.p/0",
      "tile/0/abc",
    ]) {
      const res = await SELF.fetch(`${BASE}/v1/logs/${ELECTION}/${bad}`);
      expect(res.status, bad).toBeGreaterThanOrEqual(400);
      expect(res.status, bad).toBeLessThan(500);
    }
    expect((await SELF.fetch(`${BASE}/v1/logs/${ELECTION}/tile/0/999`)).status).toBe(404);
    expect((await SELF.fetch(`${BASE}/v1/logs/no-such-election/checkpoint`)).status).toBe(404);
  });
});

describe("election events", () => {
  it("log the definition, the polls opening, roll imports and officials' keys", async () => {
    // The roll is fixed once the polls open: it is imported into an election that has not opened.
    await loadDemoElection({
      electionId: ROLLED,
      polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
    });
    const roll = await SELF.fetch(`${BASE}/v1/admin/elections/${ROLLED}/roll`, {
      method: "POST",
      headers: { "content-type": "text/csv", authorization: `Bearer ${await adminToken()}` },
      body: "national_id,district\nEE-AUDIT-ROLL-1,district-north\n",
    });
    expect(roll.status).toBe(200);
    const { publicJwk } = await newOfficialKey("audit-log-auditor-k1");
    const registered = await SELF.fetch(`${BASE}/v1/admin/officials`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
      body: JSON.stringify({ id: "audit-log-auditor", role: "auditor", displayName: "Auditor", publicJwk }),
    });
    expect(registered.status).toBe(201);
    expect((await admin("DELETE", "/v1/admin/officials/audit-log-auditor/keys/audit-log-auditor-k1")).status).toBe(200);
    // The paper channel's append functions.
    const sheet = {
      stationId: "station-audit-1",
      sequence: 1,
      closedAt: "2026-06-01T20:00:00Z",
      votersCheckedIn: 2,
      ballotsCast: 2,
      contests: [
        {
          contestId: "contest-president",
          options: [{ optionId: "sel-president-aino-tamm", votes: 2 }],
          writeIns: 0,
          blanks: 0,
        },
      ],
      payloadText: "QR-TEXT-AS-SCANNED",
    };
    expect((await logStationResults(env, OPEN, sheet)).ok).toBe(true);
    expect(await logStationResults(env, OPEN, sheet)).toEqual({ ok: true, value: { pooled: 0, duplicates: 1 } });
    expect(
      (
        await logPaperCancellation(env, OPEN, {
          stationId: "station-audit-1",
          districtId: "district-north",
          at: "2026-06-01T12:00:00.000Z",
          serial: "S-1",
          reason: "spoiled",
        })
      ).ok,
    ).toBe(true);
    const types = await waitFor(async () => {
      await sequencer(OPEN).sequenceNow();
      const log = await readPublishedLog(OPEN).catch(() => undefined);
      const t = log?.decoded.map((e) => e.type) ?? [];
      return t.includes("official-key-revoked") && t.includes("paper-cancellation") ? t : undefined;
    });
    expect(types.slice(0, 2)).toEqual(["definition-loaded", "polls-opened"]);
    expect(types).toContain("station-results");
    expect(types).toContain("paper-cancellation");
    expect(types.indexOf("official-key-added")).toBeLessThan(types.indexOf("official-key-revoked"));
    const rollLog = await waitFor(async () => {
      await sequencer(ROLLED).sequenceNow();
      const rolled = await readPublishedLog(ROLLED).catch(() => undefined);
      return rolled?.decoded.some((e) => e.type === "roll-imported") ? rolled : undefined;
    });
    const rollEntry = rollLog.decoded.find((e) => e.type === "roll-imported");
    expect(rollEntry).toEqual(expect.objectContaining({ rows: 1, accepted: 1, rejected: 0 }));
    expect(JSON.stringify(rollLog.decoded)).not.toContain("EE-AUDIT-ROLL-1");
  });
});

describe("after the polls close", () => {
  it("publishes the cast vote records only once the channels drained, and they recount to the published results", async () => {
    // Before the close: refused.
    const early = await admin("POST", `/v1/admin/elections/${ELECTION}/log/cast-vote-records`);
    if (Date.now() < closesAt) {
      expect(early.status).toBe(409);
      expect(((await early.json()) as { error: { code: string } }).error.code).toBe("polls_not_closed");
    }
    await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 200)));
    // The re-vote's retraction has reached the log, so the superseded ballot stays unpublished.
    await waitFor(async () =>
      (await sequencer(ELECTION).status()).castVoteRecords.retracted === 1 ? true : undefined,
    );
    // One ledger per voter (the test configuration): nothing can count what is still on its way,
    // so right after the close the request is refused (M4), and the log publishes by itself after
    // the grace (LOG_CVR_GRACE_MS in vitest.config.ts).
    const refused = await admin("POST", `/v1/admin/elections/${ELECTION}/log/cast-vote-records`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("records_not_drained");

    const log = await waitFor(async () => {
      await sequencer(ELECTION).sequenceNow();
      const l = await readPublishedLog(ELECTION);
      return l.decoded.some((e) => e.type === "cast-vote-records-published") ? l : undefined;
    }, 20_000);
    const auditor = new LogAuditor();
    for (const [i, e] of log.decoded.entries()) await auditor.add(i, e);
    const findings = auditor.finish();
    expect(findings.problems).toEqual([]);
    expect(findings.counts).toEqual(
      expect.objectContaining({
        ballot: 4,
        retraction: 1,
        "retraction-key": 1,
        // Per-contest records (the demo's setting): one per contest of each counted ballot's style.
        "contest-vote-record": 10,
        "cast-vote-record": 0,
        "polls-closed": 1,
      }),
    );
    // The records carry no commitment, tracking code or ballot id.
    const recordText = JSON.stringify(
      log.decoded.filter((e) => e.type === "cast-vote-record" || e.type === "contest-vote-record"),
    );
    for (const r of [superseded, ...receipts]) {
      expect(recordText).not.toContain(r.trackingCode);
      expect(recordText).not.toContain(r.commitment);
    }

    const results = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}/results`);
    expect(results.status).toBe(200);
    const parsed = PublishedResults.parse(await results.json());
    expect(compareWithResults(findings.recount, parsed)).toEqual([]);
    expect(findings.recount.ballots).toBe(3);

    const status = await sequencer(ELECTION).status();
    expect(status.castVoteRecords).toEqual({
      pending: 0,
      publishing: 0,
      published: 3,
      retracted: 1,
      awaitingBallot: 0,
      rounds: 1,
    });
    // A second request starts no empty round.
    expect(await (await admin("POST", `/v1/admin/elections/${ELECTION}/log/cast-vote-records`)).json()).toEqual({
      round: 1,
      records: 0,
    });
  }, 60_000);

  it("shows the sequencer's status to officials only", async () => {
    expect((await SELF.fetch(`${BASE}/v1/admin/elections/${ELECTION}/log`)).status).toBe(401);
    const res = await admin("GET", `/v1/admin/elections/${ELECTION}/log`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(
      expect.objectContaining({ electionId: ELECTION, halted: null, pollsOpened: true, pollsClosed: true }),
    );
  });
});

it("the public bucket holds only logs/, and staging bundles are in their own bucket (L5)", async () => {
  const listed = await env.AUDIT_LOG.list({ prefix: "" });
  expect(listed.objects.length).toBeGreaterThan(0);
  for (const o of listed.objects) expect(o.key).toMatch(/^logs\//);
  const staged = await env.AUDIT_STAGING.list({ prefix: "" });
  for (const o of staged.objects) expect(o.key).toMatch(/^staging\//);
});
