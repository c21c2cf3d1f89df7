/**
 * What an insider, a leaked secret or a coercer can learn from a cast (security review H4, M2, L9,
 * H1): the ledger holds no id that the marks are kept under anywhere else; its outbox never keeps
 * the voter key beside the marks; commitments are made under random nonces, not under a server
 * secret; a repeat of a replaced ballot's request is told the truth; the public receipt check never
 * says that a ballot was replaced, while the voter's own session does.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalBallot, commitBallot } from "../../lib/ballot/commitment.ts";
import { base64url } from "../../lib/identity/national-id.ts";
import { TALLY_SHARDS } from "../../lib/tally/shards.ts";
import { ledgerFor } from "../../durable-objects/addresses.ts";
import type { VoterLedger } from "../../durable-objects/voter-ledger.ts";
import { sequencer } from "./helpers/audit-log.ts";
import { BASE, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor, type CastContest } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol, voterKeyFor } from "./helpers/roll.ts";

const FIRST_WINS = "secrecy-first-wins";
const SUPERSEDES = "secrecy-supersedes";

const OTHER_NORTH_BALLOT: CastContest[] = [
  { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
  ...NORTH_BALLOT.slice(1),
];

interface ReceiptBody {
  trackingCode: string;
  commitment: string;
  receiptJws: string;
  checkUrl: string;
  replayed: boolean;
}

let counter = 0;
async function newVoter(
  electionId: string,
  district = "district-north",
): Promise<{ session: string; voterKey: string; nationalId: string }> {
  counter += 1;
  const nationalId = `EE-SECRECY-${String(counter).padStart(4, "0")}`;
  const voterKey = await enrol(electionId, nationalId, district);
  return { session: await voterSession(electionId, nationalId), voterKey, nationalId };
}

async function castOk(
  electionId: string,
  session: string,
  contests: CastContest[],
  key?: string,
): Promise<ReceiptBody> {
  const res = await cast(electionId, session, contests, key);
  expect(res.status).toBe(201);
  return res.json();
}

async function errorCodeOf(res: Response): Promise<string> {
  const body: { error: { code: string } } = await res.json();
  return body.error.code;
}

/** Every value in every table of the voter's ledger object, as strings. */
async function ledgerValues(ledger: DurableObjectStub<VoterLedger>): Promise<Set<string>> {
  return runInDurableObject(ledger, (_instance, state) => {
    const values = new Set<string>();
    const tables = state.storage.sql
      .exec<{ name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`,
      )
      .toArray();
    for (const { name } of tables) {
      for (const row of state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray()) {
        for (const value of Object.values(row)) if (value !== null) values.add(String(value));
      }
    }
    return values;
  });
}

async function myBallot(
  electionId: string,
  session: string,
): Promise<{
  state: string;
  countedTrackingCode: string | null;
  checkedInOnPaper: boolean;
  ballots: { trackingCode: string; status: string }[];
}> {
  const res = await SELF.fetch(`${BASE}/v1/elections/${electionId}/my-ballot`, {
    headers: { authorization: `Bearer ${session}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

/** The nonce the superseded design derived: HMAC(SESSION_SIGNING_KEY, election, voter key, idempotency key). */
async function oldDerivedNonce(electionId: string, voterKey: string, idempotencyKey: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(env.SESSION_SIGNING_KEY),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`mixed-election/ballot-nonce/v1\n${electionId}\n${voterKey}\n${idempotencyKey}`),
  );
  return base64url(new Uint8Array(mac));
}

beforeAll(async () => {
  await loadDemoElection({ electionId: FIRST_WINS, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: SUPERSEDES, crossChannelPolicy: "paper-supersedes" });
});

describe("the insider's join (H4)", () => {
  it("finds no value in the voter's ledger that names the ballot's record in D1, a tally shard or the log pool", async () => {
    const voter = await newVoter(SUPERSEDES);
    const first = await castOk(SUPERSEDES, voter.session, NORTH_BALLOT);
    const second = await castOk(SUPERSEDES, voter.session, OTHER_NORTH_BALLOT);

    // Wait until the consumer recorded both and retracted the first (D1 is written per batch).
    const records = await waitFor(async () => {
      const rows = (
        await env.DB.prepare(`SELECT cvr_id, retracted FROM cast_vote_records WHERE election_id = ?`)
          .bind(SUPERSEDES)
          .all<{ cvr_id: string; retracted: number }>()
      ).results;
      return rows.length >= 2 && rows.some((r) => r.retracted === 1) ? rows : undefined;
    });
    const recordIds = records.map((r) => r.cvr_id);

    const shardKeys: string[] = [];
    for (let k = 0; k < TALLY_SHARDS; k += 1) {
      const shard = env.TALLY_SHARD.get(env.TALLY_SHARD.idFromName(`${SUPERSEDES}/district-north/${k}`));
      shardKeys.push(
        ...(await runInDurableObject(shard, (_i, state) =>
          state.storage.sql
            .exec<{ ballot_id: string }>(`SELECT ballot_id FROM applied`)
            .toArray()
            .map((r) => r.ballot_id),
        ).catch(() => [] as string[])),
      );
    }
    const poolKeys = await waitFor(async () => {
      const keys = await runInDurableObject(sequencer(SUPERSEDES), (_i, state) =>
        state.storage.sql
          .exec<{ ballot_id: string }>(`SELECT ballot_id FROM cvr_pool`)
          .toArray()
          .map((r) => r.ballot_id),
      ).catch(() => [] as string[]);
      return keys.length >= 2 ? keys : undefined;
    });
    // The downstream stores agree with one another on the ids...
    expect(shardKeys.length).toBeGreaterThanOrEqual(2);
    for (const id of [...shardKeys, ...poolKeys]) expect(recordIds).toContain(id);

    // ...and the ledger holds the receipts' tracking codes but none of those ids.
    const held = await ledgerValues(ledgerFor(env, SUPERSEDES, voter.voterKey));
    expect(held).toContain(first.trackingCode);
    expect(held).toContain(second.trackingCode);
    for (const id of [...recordIds, ...shardKeys, ...poolKeys]) expect(held.has(id)).toBe(false);

    // D1 still retracted exactly the superseded ballot.
    expect(records.filter((r) => r.retracted === 1)).toHaveLength(1);

    // Nor can a time join them: the ledger knows the minute of each cast, the records only the day.
    const days = (
      await env.DB.prepare(`SELECT DISTINCT recorded_at FROM cast_vote_records WHERE election_id = ?`)
        .bind(SUPERSEDES)
        .all<{ recorded_at: string }>()
    ).results.map((r) => r.recorded_at);
    expect(days.length).toBeGreaterThan(0);
    for (const day of days) expect(day).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
  }, 30_000);

  it("keeps no voter key in an outbox row while the queue is down, only the ballot's own key", async () => {
    const voter = await newVoter(FIRST_WINS);
    const ledger = ledgerFor(env, FIRST_WINS, voter.voterKey);
    const failing = {
      send: () => Promise.reject(new Error("queue unavailable")),
      sendBatch: () => Promise.reject(new Error("queue unavailable")),
    };
    const rows = await runInDurableObject(ledger, async (instance, state) => {
      // The ledger's outbox sends through this env: make every ballot queue refuse.
      const outbox = (instance as unknown as { outbox: { env: Env } }).outbox;
      const realEnv = outbox.env;
      outbox.env = {
        ...realEnv,
        BALLOTS_0: failing,
        BALLOTS_1: failing,
        BALLOTS_2: failing,
        BALLOTS_3: failing,
      } as unknown as Env;
      try {
        const outcome = await instance.castOnline({
          electionId: FIRST_WINS,
          voterKey: voter.voterKey,
          ballotStyleId: "bs-north",
          districtId: "district-north",
          policy: "first-wins",
          opensAtMs: 0,
          closesAtMs: Date.now() + 3_600_000,
          forgetLinksAtMs: Date.now() + 7_200_000,
          idempotencyKey: `outbox-${crypto.randomUUID()}`,
          contests: NORTH_BALLOT,
          nonce: base64url(crypto.getRandomValues(new Uint8Array(32))),
          commitment: "c-outbox",
          trackingCode: "OUTB-OXTE-STKE-Y000",
        });
        expect(outcome.ok).toBe(true);
        await new Promise((r) => setTimeout(r, 50));
        return state.storage.sql
          .exec<{ queue_key: string; message_json: string }>(`SELECT queue_key, message_json FROM outbox`)
          .toArray();
      } finally {
        outbox.env = realEnv;
      }
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.queue_key).toBe("OUTB-OXTE-STKE-Y000");
    expect(rows[0]?.message_json).not.toContain(voter.voterKey);
    expect(JSON.parse(rows[0]?.message_json ?? "{}")).not.toHaveProperty("ballotId");
    // The queue is back: the row goes out and nothing is lost.
    await runInDurableObject(ledger, (instance) => instance.alarm());
    expect(await ledger.pendingOutbox()).toBe(0);
  });

  it("upgrades a version-3 ledger: ballot ids gone, voters point at tracking codes, outbox rows keyed by message", async () => {
    const ledger = env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(`upgrade/${crypto.randomUUID()}`));
    const after = await runInDurableObject(ledger, (instance, state) => {
      const sql = state.storage.sql;
      // The schema and rows as version 3 wrote them.
      sql.exec(`DROP TABLE ballots`);
      sql.exec(`CREATE TABLE ballots (
          ballot_id TEXT PRIMARY KEY, election_id TEXT NOT NULL, voter_key TEXT NOT NULL,
          ballot_style_id TEXT NOT NULL, district_id TEXT NOT NULL, channel TEXT NOT NULL,
          commitment TEXT NOT NULL, tracking_code TEXT NOT NULL, idempotency_key TEXT NOT NULL,
          accepted_at TEXT NOT NULL, status TEXT NOT NULL,
          UNIQUE (election_id, voter_key, idempotency_key))`);
      sql.exec(`UPDATE meta SET value = 3 WHERE key = 'schema'`);
      sql.exec(
        `INSERT INTO ballots VALUES ('b-uuid-1', 'e', 'voter-k', 'bs', 'd', 'online', 'c1', 'TC-1', 'idem-1', 't', 'superseded'),
                                    ('b-uuid-2', 'e', 'voter-k', 'bs', 'd', 'online', 'c2', 'TC-2', 'idem-2', 't', 'counted')`,
      );
      sql.exec(
        `INSERT INTO voters (election_id, voter_key, state, online_ballot_id, revotes, updated_at) VALUES ('e', 'voter-k', 'online', 'b-uuid-2', 1, 't')`,
      );
      sql.exec(
        `INSERT INTO outbox (queue_key, message_json) VALUES ('voter-k', ?)`,
        JSON.stringify({ kind: "ballot", ballotId: "b-uuid-2", trackingCode: "TC-2" }),
      );
      (instance as unknown as { migrate(): void }).migrate();
      return {
        columns: sql
          .exec<{ name: string }>(`PRAGMA table_info(ballots)`)
          .toArray()
          .map((c) => c.name),
        ballots: sql.exec(`SELECT tracking_code, status, nonce FROM ballots ORDER BY tracking_code`).toArray(),
        voter: sql.exec(`SELECT online_ballot_id FROM voters`).toArray(),
        outbox: sql.exec(`SELECT queue_key FROM outbox`).toArray(),
        schema: sql.exec(`SELECT value FROM meta WHERE key = 'schema'`).toArray(),
      };
    });
    expect(after.columns).not.toContain("ballot_id");
    expect(after.columns).toContain("nonce");
    expect(after.ballots).toEqual([
      { tracking_code: "TC-1", status: "superseded", nonce: null },
      { tracking_code: "TC-2", status: "counted", nonce: null },
    ]);
    expect(after.voter).toEqual([{ online_ballot_id: "TC-2" }]);
    expect(after.outbox).toEqual([{ queue_key: "TC-2" }]);
    expect(after.schema).toEqual([{ value: 4 }]);
  });
});

describe("commitments under random nonces (M2)", () => {
  it("cannot be opened with the session key, are unrelated for equal ballots, and open with the nonce kept in the ledger", async () => {
    const key = `same-pattern-${crypto.randomUUID()}`;
    const a = await newVoter(FIRST_WINS);
    const b = await newVoter(FIRST_WINS);
    const ra = await castOk(FIRST_WINS, a.session, NORTH_BALLOT, key);
    const rb = await castOk(FIRST_WINS, b.session, NORTH_BALLOT, key);
    expect(ra.commitment).not.toBe(rb.commitment);

    const canonical = canonicalBallot(FIRST_WINS, "bs-north", NORTH_BALLOT);
    for (const [r, v] of [
      [ra, a],
      [rb, b],
    ] as const) {
      // The old design's derivation, with every Worker secret known, no longer opens it.
      expect(await commitBallot(canonical, await oldDerivedNonce(FIRST_WINS, v.voterKey, key))).not.toBe(r.commitment);
      // The ledger's own nonce does (and it is 32 random bytes).
      const nonce = await runInDurableObject(ledgerFor(env, FIRST_WINS, v.voterKey), (_i, state) =>
        state.storage.sql
          .exec<{ nonce: string }>(`SELECT nonce FROM ballots WHERE tracking_code = ?`, r.trackingCode)
          .one(),
      );
      expect(nonce.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await commitBallot(canonical, nonce.nonce)).toBe(r.commitment);
    }
  });

  it("answers a retry with the same receipt, and the same key with other marks with 409", async () => {
    const v = await newVoter(FIRST_WINS);
    const key = `retry-${crypto.randomUUID()}`;
    const first = await castOk(FIRST_WINS, v.session, NORTH_BALLOT, key);
    const again = await cast(FIRST_WINS, v.session, NORTH_BALLOT, key);
    expect(again.status).toBe(200);
    const repeat: ReceiptBody = await again.json();
    expect(repeat).toMatchObject({
      trackingCode: first.trackingCode,
      commitment: first.commitment,
      receiptJws: first.receiptJws,
      replayed: true,
    });
    const other = await cast(FIRST_WINS, v.session, OTHER_NORTH_BALLOT, key);
    expect(other.status).toBe(409);
    expect(await errorCodeOf(other)).toBe("idempotency_conflict");
  });
});

describe("a repeat of a replaced ballot's request (L9)", () => {
  it("is told that ballot no longer counts, in the voter's own session; the counted one still answers its receipt", async () => {
    const v = await newVoter(SUPERSEDES);
    const k1 = `first-${crypto.randomUUID()}`;
    const k2 = `second-${crypto.randomUUID()}`;
    await castOk(SUPERSEDES, v.session, NORTH_BALLOT, k1);
    const second = await castOk(SUPERSEDES, v.session, OTHER_NORTH_BALLOT, k2);

    const replayOld = await cast(SUPERSEDES, v.session, NORTH_BALLOT, k1);
    expect(replayOld.status).toBe(409);
    expect(await errorCodeOf(replayOld)).toBe("ballot_superseded");
    const otherMarks = await cast(SUPERSEDES, v.session, OTHER_NORTH_BALLOT, k1);
    expect(await errorCodeOf(otherMarks)).toBe("idempotency_conflict");
    const replayNew = await cast(SUPERSEDES, v.session, OTHER_NORTH_BALLOT, k2);
    expect(replayNew.status).toBe(200);
    expect(((await replayNew.json()) as ReceiptBody).trackingCode).toBe(second.trackingCode);

    // A paper check-in cancels the counted one: its repeat is told the voter voted on paper.
    const voterKey = await voterKeyFor(v.nationalId);
    const checkedIn = await ledgerFor(env, SUPERSEDES, voterKey).checkIn({
      electionId: SUPERSEDES,
      voterKey,
      ballotStyleId: "bs-north",
      districtId: "district-north",
      policy: "paper-supersedes",
      opensAtMs: 0,
      closesAtMs: Date.now() + 3_600_000,
      stationId: "station-secrecy",
      checkInId: `check-in-${crypto.randomUUID()}`,
      identity: "id-card",
    });
    expect(checkedIn.ok).toBe(true);
    const replayCancelled = await cast(SUPERSEDES, v.session, OTHER_NORTH_BALLOT, k2);
    expect(replayCancelled.status).toBe(409);
    expect(await errorCodeOf(replayCancelled)).toBe("already_voted_on_paper");
  });
});

describe("the coercer's view (H1, the receipt side)", () => {
  it("after a re-vote the public check of the first receipt still says recorded, with its log proof; the voter's own view says superseded", async () => {
    const v = await newVoter(SUPERSEDES);
    const t1 = await castOk(SUPERSEDES, v.session, NORTH_BALLOT);
    const t2 = await castOk(SUPERSEDES, v.session, OTHER_NORTH_BALLOT);

    // Once D1 has the retraction (the stored status the public must not see)...
    await waitFor(async () => {
      const row = await env.DB.prepare(`SELECT status FROM receipts WHERE tracking_code = ?`)
        .bind(t1.trackingCode)
        .first<{ status: string }>();
      return row?.status === "superseded" ? true : undefined;
    });
    // ...and the log placed T1, the public check answers only recorded and where to find the proof.
    const publicView = await waitFor(async () => {
      const res = await SELF.fetch(`${BASE}/v1/receipts/${t1.trackingCode}`);
      const body: { status: string; log?: { leafIndex: number; proofUrl: string } } = await res.json();
      return body.log ? body : undefined;
    }, 20_000);
    expect(publicView.status).toBe("recorded");
    expect(JSON.stringify(publicView)).not.toMatch(/superseded|cancelled/);
    expect((await SELF.fetch(publicView.log!.proofUrl)).status).toBe(200);

    const mine = await myBallot(SUPERSEDES, v.session);
    expect(mine).toMatchObject({ state: "online", countedTrackingCode: t2.trackingCode, checkedInOnPaper: false });
    expect(mine.ballots.map((b) => [b.trackingCode, b.status])).toEqual([
      [t1.trackingCode, "superseded"],
      [t2.trackingCode, "counted"],
    ]);
  }, 30_000);

  it("answers my-ballot only with a voter session of that election", async () => {
    const v = await newVoter(FIRST_WINS);
    expect((await SELF.fetch(`${BASE}/v1/elections/${FIRST_WINS}/my-ballot`)).status).toBe(401);
    const other = await SELF.fetch(`${BASE}/v1/elections/${SUPERSEDES}/my-ballot`, {
      headers: { authorization: `Bearer ${v.session}` },
    });
    expect(other.status).toBe(403);
    expect(await myBallot(FIRST_WINS, v.session)).toMatchObject({
      state: "none",
      ballots: [],
      countedTrackingCode: null,
    });
  });
});
