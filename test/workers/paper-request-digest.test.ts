/**
 * The paper box recognises a repeated scan by a keyed digest of the request, not by the marks
 * themselves (security review H4): the stored `request_hash` holds no marks, is not a plain
 * SHA-256 anyone could test a guess of the marks against, and still tells a repeat from a reused
 * scan id. Rows stored before the digest (version 1 held the marks in clear) are blanked.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { paperBoxFor } from "../../durable-objects/addresses.ts";
import { sha256Hex } from "../../lib/digest.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { NORTH_BALLOT } from "./helpers/cast.ts";
import { demoWithNorthStation, markedBallotQr, refusal, type TestStation } from "./helpers/station.ts";

const ELECTION = "paper-digest";
let election: CompiledElection;
let station: TestStation;

beforeAll(async () => {
  ({ election, station } = await demoWithNorthStation(ELECTION, { first: 70_000, last: 70_099 }, 2));
});

async function storedHash(serial: number): Promise<string> {
  return runInDurableObject(paperBoxFor(env, ELECTION, serial), (_instance, state) =>
    String(
      state.storage.sql
        .exec<{ request_hash: string }>(
          `SELECT request_hash FROM serials WHERE election_id = ? AND serial = ?`,
          ELECTION,
          serial,
        )
        .one().request_hash,
    ),
  );
}

describe("the paper box's request digest", () => {
  it("stores a keyed digest with no marks in it, and still refuses a reused scan id with other marks", async () => {
    const serial = 70_001;
    const qr = await markedBallotQr(station.bmd, election, "bs-north", serial, NORTH_BALLOT);
    const scanId = crypto.randomUUID();
    await station.client.scan({ electionId: ELECTION, qr, scanId });

    const hash = await storedHash(serial);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    for (const contest of NORTH_BALLOT) {
      expect(hash).not.toContain(contest.contestId);
      for (const option of contest.optionIds) expect(hash).not.toContain(option);
    }
    // Not a plain digest of what the box was asked, nor of the marks alone: those anyone can compute.
    const marks = NORTH_BALLOT.map((c) => ({ contestId: c.contestId, optionIds: c.optionIds }));
    for (const guess of [
      JSON.stringify(["marked-ballot", "bs-north", "district-north", marks]),
      JSON.stringify(marks),
      qr,
    ]) {
      expect(hash).not.toBe(sha256Hex(guess));
    }

    // The same scan again is a repeat; the same scan id with another ballot is refused.
    expect((await station.client.scan({ electionId: ELECTION, qr, scanId })).replayed).toBe(true);
    const other = await markedBallotQr(station.bmd, election, "bs-north", serial, [
      { contestId: "contest-president", optionIds: ["sel-president-juhan-mets"] },
      { contestId: "contest-parliament-north", optionIds: [] },
      { contestId: "contest-referendum-voting-age", optionIds: [] },
    ]);
    expect(await refusal(station.client.scan({ electionId: ELECTION, qr: other, scanId }))).toEqual({
      status: 409,
      code: "idempotency_conflict",
    });
  });

  it("blanks the marks that version 1 stored in request_hash when the box is upgraded, and counts its ballots as counted", async () => {
    const box = paperBoxFor(env, ELECTION, 123_456);
    await runInDurableObject(box, (instance, state) => {
      const sql = state.storage.sql;
      // Back to version 1's tables: version 3 added the held ballots' disposition and table.
      sql.exec(`ALTER TABLE serials DROP COLUMN disposition`);
      sql.exec(`DROP TABLE held`);
      sql.exec(`UPDATE meta SET value = 1 WHERE key = 'schema'`);
      sql.exec(
        `INSERT INTO serials (election_id, serial, station_id, scan_id, source, tracking_code, commitment, request_hash, accepted_at)
         VALUES ('old', 1, 'st', 'scan-0001', 'marked-ballot', 'tc', 'cm', ?, '2026-05-01T10:00Z')`,
        JSON.stringify(["marked-ballot", "bs-north", "district-north", NORTH_BALLOT]),
      );
      const migrate: unknown = Reflect.get(instance, "migrate");
      if (typeof migrate !== "function") throw new Error("the box has no migrate step");
      migrate.call(instance);
      expect(sql.exec(`SELECT value FROM meta WHERE key = 'schema'`).one()).toEqual({ value: 3 });
      expect(sql.exec(`SELECT request_hash, disposition FROM serials WHERE election_id = 'old'`).one()).toEqual({
        request_hash: "",
        disposition: "counted",
      });
      expect(sql.exec(`SELECT COUNT(*) AS n FROM held`).one()).toEqual({ n: 0 });
    });
  });
});
